/* outfile.h: files the engine writes for people (exports, reports, archived copies) appear whole
 * or not at all: they are written under a temporary name beside their target, then renamed.
 *
 * A target that exists and is not a regular file (a device such as /dev/null, a fifo, a socket, a
 * folder, or a symbolic link, even one to a regular file) is refused, never replaced: renaming
 * over /dev/null as root would put every payee's bank account where the device was, and over a
 * link would replace the link, not write where it points. Links are refused rather than followed
 * so that what is written is always the name given.
 *
 * Temporary files still open are removed when the process is ended by SIGTERM, SIGINT or SIGHUP
 * (the handler removes them, then lets the signal end the process as it would have). SIGKILL
 * cannot be caught: a temporary file of a killed run keeps its name, ".NAME.XXXXXX", by which
 * outfile_is_temp_of knows it and the next run removes it (nightly does, in its export dir). */
#ifndef SUBSIDY_OUTFILE_H
#define SUBSIDY_OUTFILE_H

#include <glib.h>

#define OUTFILE_ERROR outfile_error_quark()
GQuark outfile_error_quark(void);

/* What the engine's files hold (bank accounts, amounts): owner and group may read them. */
#define OUTFILE_MODE 0640
/* The name a command takes for standard output, where a file without companions makes sense. */
#define OUTFILE_STDOUT "-"
/* Temporary files open at once in one process (an export and its .sha256 are two). */
#define OUTFILE_TEMPS_MAX 4
/* The random part of a temporary name: mkstemp's XXXXXX. */
#define OUTFILE_TEMP_RANDOM_CHARS 6

/* TRUE when path does not exist or is a regular file (not a link to one); else FALSE with an
 * error of code STATUS_USAGE naming what it is. Other lstat failures are left to the writer. */
gboolean outfile_check_target(const char *path, GError **error);

/* Creates a new empty file beside path, named ".NAME.XXXXXX" so that nothing looking for NAME
 * (or listing the folder's visible files) takes it half-written, with mode OUTFILE_MODE and
 * flags (O_WRONLY or O_RDWR; O_CLOEXEC is added), and remembers it for the signal handler.
 * Returns its descriptor and sets *tmp_path (caller frees); -1 with errno set (and *tmp_path NULL)
 * on failure (EMFILE when OUTFILE_TEMPS_MAX are open). The caller ends it with outfile_commit,
 * outfile_discard, or its own rename followed by outfile_forget. */
int outfile_open_beside(const char *path, int flags, char **tmp_path);

/* Renames tmp_path to path after checking path again (outfile_check_target): TRUE, or FALSE with
 * an error (STATUS_USAGE for a target that is not a regular file, STATUS_SOFTWARE when the rename
 * fails), tmp_path then removed. Either way tmp_path is forgotten. */
gboolean outfile_commit(const char *tmp_path, const char *path, GError **error);

/* Renames from to to unless to exists, of any kind (a link, even one to nothing, is not followed
 * and not replaced): 0, or -1 with errno set (EEXIST when to is taken). renameat2's
 * RENAME_NOREPLACE; on a filesystem without it, looks then renames, so only another program taking
 * the name in between could be replaced (nightly works under the settlement lock). */
int outfile_rename_noreplace(const char *from, const char *to);

/* outfile_commit for a copy that must never overwrite (nightly's archive): renames tmp_path to
 * path with outfile_rename_noreplace: 0, or -1 with errno set (EEXIST when path is taken), tmp_path
 * then removed. The target is not checked: nothing there is ever replaced. Either way tmp_path is
 * forgotten. */
int outfile_commit_noreplace(const char *tmp_path, const char *path);

/* Removes tmp_path and forgets it. */
void outfile_discard(const char *tmp_path);

/* Forgets tmp_path (renamed or removed by the caller): the signal handler leaves it alone. */
void outfile_forget(const char *tmp_path);

/* Is name (a base name) a temporary file of target_base, ".TARGET_BASE.XXXXXX"? */
gboolean outfile_is_temp_of(const char *name, const char *target_base);

/* Checks path (outfile_check_target), then opens a temporary file beside it (outfile_open_beside
 * with flags): its descriptor and *tmp_path (caller frees; *tmp_path NULL on entry), or -1 with
 * an error (STATUS_USAGE for a target that is not a regular file, else STATUS_SOFTWARE "cannot
 * write 'PATH': REASON"), nothing created. End it with outfile_commit or outfile_discard. */
int outfile_begin(const char *path, int flags, char **tmp_path, GError **error);

/* Writes len bytes, every one, to a new temporary file beside path, synced and closed: TRUE with
 * *tmp_path (caller frees; NULL on entry), for outfile_commit or outfile_discard; else FALSE with
 * an error "cannot write 'PATH': REASON" (STATUS_SOFTWARE) and nothing left behind. The target is
 * not checked: outfile_commit checks it again anyway. */
gboolean outfile_write_temp(const char *path, const void *bytes, size_t len, char **tmp_path, GError **error);

/* Writes len bytes to path whole or not at all: outfile_check_target, outfile_write_temp, then
 * outfile_commit; FALSE with their error. */
gboolean outfile_write(const char *path, const void *bytes, size_t len, GError **error);

#endif
