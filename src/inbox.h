/* inbox.h: the files of nightly's inbox, one by one: which names to take (an upload in progress
 * is left, a name that is not UTF-8 or holds a control character is refused, what is not a plain
 * file is never opened nor followed), and moving each out, never overwriting anything: a stored or
 * skipped file to the run's archive folder, a refused one to rejected/ with its reason beside it.
 *
 * A name already taken gets a suffix, NAME.1, NAME.2... up to INBOX_SUFFIX_MAX; a file whose very
 * bytes are archived under its name is only removed from the inbox. A regular file moved to
 * another filesystem is copied to a temporary file beside its target (outfile.h), synced, renamed
 * without replacing (outfile_commit_noreplace), then removed from the inbox: killed part way, the
 * file is still in the inbox and its target is either absent or whole. Each move is logged
 * (runlog.h). Errors are INBOX_ERROR, code STATUS_NOINPUT for an inbox that cannot be read,
 * STATUS_SOFTWARE otherwise. */
#ifndef SUBSIDY_INBOX_H
#define SUBSIDY_INBOX_H

#include <glib.h>
#include <sys/stat.h>

#define INBOX_ERROR inbox_error_quark()
GQuark inbox_error_quark(void);

/* Beside a refused file, the reason it was refused. */
#define INBOX_REASON_SUFFIX ".reason"
/* Name endings of partial uploads (browsers, WinSCP, many SFTP clients), NULL-terminated; in any
 * case (".TMP", ".Part"). */
#define INBOX_PARTIAL_SUFFIXES { ".part", ".filepart", ".tmp", NULL }
/* Suffixes tried for a name already taken in the archive or rejected/ (NAME.1 ... NAME.N). A file
 * re-sent under one name this many times a day is a fault upstream, not a manifest. */
#define INBOX_SUFFIX_MAX 999
/* Folders the run makes: the exports hold bank accounts, the archive owners' phones. */
#define INBOX_DIR_MODE 0750

/* The names in the folder dir, bytewise sorted ("." and ".." left out); NULL with an error
 * (STATUS_NOINPUT "cannot read inbox 'DIR': REASON") when it cannot be read. Caller frees. */
GPtrArray *inbox_list(const char *dir, GError **error);

/* Is name (a base name) an upload in progress: a dotfile (rsync, many SFTP servers, the export's
 * own temporary files) or a partial-download ending (INBOX_PARTIAL_SUFFIXES)? */
gboolean inbox_in_progress(const char *name);

/* Why the entry name, st its lstat, that is not a directory cannot be ingested; NULL when it is a
 * plain file with a usable name. shown is name as text_shown gives it. Caller frees. */
char *inbox_refusal(const char *name, const char *shown, const struct stat *st);

/* What nightly offers where a refusal's reason advises ingest's --set or --profile (profile.c
 * speaks for ingest), for the reason's HINT: for the route route_name (profile route_profile), or
 * for a file directly in the inbox when route_name is NULL; NULL when the reason advises neither.
 * Caller frees. */
char *inbox_advice(const char *reason, const char *route_name, const char *route_profile);

/* Makes the folder dir and its parents (INBOX_DIR_MODE) unless they exist; FALSE with an error
 * "cannot make folder 'DIR': REASON". */
gboolean inbox_make_dir(const char *dir, GError **error);

/* Is the name path taken, by anything (a link to nothing too)? */
gboolean inbox_exists(const char *path);

/* Moves a stored or skipped file from into dir (the run's archive folder, made when missing) under
 * name, or the first of NAME.1, NAME.2... that is free. A file whose identical copy (name, and
 * sha256 the SHA-256 of its bytes) is there already is only removed from the inbox: a copy to
 * another filesystem killed before it removed its source leaves exactly that. Returns the path in
 * the archive (caller frees), or NULL with an error, from left where it was. */
char *inbox_archive(const char *from, const char *dir, const char *name, const char *sha256, GError **error);

/* Moves a refused entry from (regular: a regular file, which may be copied to another filesystem;
 * anything else is only renamed) into dir (INBOX/rejected, made when missing) under the first of
 * NAME, NAME.1... that is free, its reason and a line break written first to NAME.reason whole
 * (outfile_write; a reason whose file is gone is stale and replaced, a NAME.reason that is not a
 * regular file is left and the next name taken): killed in between, the entry is still in the
 * inbox, and the next run refuses it again and rewrites the same reason. Returns the new path (caller
 * frees), or NULL with an error, from left where it was. Kill point "nightly:reason-written". */
char *inbox_reject(const char *from, const char *dir, const char *name, gboolean regular, const char *reason,
		   GError **error);

#endif
