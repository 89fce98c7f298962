/* inbox.c: taking the inbox's files and moving them out without ever overwriting one; see
 * inbox.h. */
#include "inbox.h"

#include "fault.h"
#include "filehash.h"
#include "outfile.h"
#include "runlog.h"
#include "status.h"
#include "text.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

G_DEFINE_QUARK(subsidy-inbox-error-quark, inbox_error)

/* Bytes copied at a time when a file moves to another filesystem. */
#define INBOX_COPY_BYTES (256 * 1024)

gboolean inbox_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

typedef enum {
	MOVE_DONE,
	MOVE_TAKEN, /* the target name exists: try the next one */
	MOVE_FAILED,
} move_result;

/* Copies the regular file from to to (which must not exist), durably, then unlinks from: the
 * move across filesystems. Killed part way, from is still there and to is either absent or whole. */
static move_result copy_across(const char *from, const char *to, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(to);
	g_autofree char *tmp = NULL;
	g_autofree char *buf = g_malloc(INBOX_COPY_BYTES);
	int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int out = in >= 0 ? outfile_open_beside(to, O_WRONLY, &tmp) : -1;
	g_assert((out >= 0) == (tmp != NULL));
	gboolean ok = in >= 0 && out >= 0;
	ssize_t n = 0;
	while (ok && (n = read(in, buf, INBOX_COPY_BYTES)) > 0)
		for (ssize_t done = 0, w; ok && done < n; done += w)
			ok = (w = write(out, buf + done, (size_t)(n - done))) > 0;
	ok = ok && n == 0 && fsync(out) == 0;
	int e = errno;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (ok && outfile_commit_noreplace(tmp, to) != 0) {
		e = errno;
		ok = FALSE;
		g_clear_pointer(&tmp, g_free); /* removed and forgotten */
	}
	if (!ok) {
		if (tmp)
			outfile_discard(tmp);
		if (e == EEXIST)
			return MOVE_TAKEN;
		g_set_error(error, INBOX_ERROR, STATUS_SOFTWARE, "cannot copy '%s' to '%s': %s", from, to,
			    g_strerror(e));
		return MOVE_FAILED;
	}
	fsync_dir(dir);
	if (g_unlink(from) != 0) {
		e = errno;
		g_set_error(error, INBOX_ERROR, STATUS_SOFTWARE, "copied '%s' to '%s' but cannot remove it: %s",
			    from, to, g_strerror(e));
		return MOVE_FAILED;
	}
	return MOVE_DONE;
}

/* Moves the inbox entry from to to, which must not exist. A regular file is copied when to is on
 * another filesystem; anything else must be renamed. */
static move_result move_entry(const char *from, const char *to, gboolean regular, GError **error)
{
	if (outfile_rename_noreplace(from, to) == 0)
		return MOVE_DONE;
	int e = errno;
	if (e == EEXIST)
		return MOVE_TAKEN;
	if (e == EXDEV && regular)
		return copy_across(from, to, error);
	g_set_error(error, INBOX_ERROR, STATUS_SOFTWARE, "cannot move '%s' to '%s': %s", from, to, g_strerror(e));
	return MOVE_FAILED;
}

/* DIR/NAME, or DIR/NAME.k for k > 0; caller frees. */
static char *candidate(const char *dir, const char *name, int k)
{
	g_assert(k >= 0 && k <= INBOX_SUFFIX_MAX);
	g_autofree char *numbered = k ? g_strdup_printf("%s.%d", name, k) : NULL;
	return g_build_filename(dir, numbered ? numbered : name, NULL);
}

gboolean inbox_make_dir(const char *dir, GError **error)
{
	if (g_mkdir_with_parents(dir, INBOX_DIR_MODE) == 0)
		return TRUE;
	int e = errno;
	g_set_error(error, INBOX_ERROR, STATUS_SOFTWARE, "cannot make folder '%s': %s", dir, g_strerror(e));
	return FALSE;
}

static gboolean same_bytes(const char *path, const char *sha256)
{
	char hex[FILEHASH_HEX_MAX];
	return filehash_sha256(path, hex, NULL, NULL) && strcmp(hex, sha256) == 0;
}

char *inbox_archive(const char *from, const char *dir, const char *name, const char *sha256, GError **error)
{
	g_assert(sha256 != NULL);
	g_assert(strchr(name, '/') == NULL); /* a base name: the file stays in dir */
	if (!inbox_make_dir(dir, error))
		return NULL;
	for (int k = 0; k <= INBOX_SUFFIX_MAX; k++) {
		g_autofree char *to = candidate(dir, name, k);
		if (inbox_exists(to) && same_bytes(to, sha256)) {
			if (g_unlink(from) != 0) {
				int e = errno;
				g_set_error(error, INBOX_ERROR, STATUS_SOFTWARE, "cannot remove '%s': %s", from,
					    g_strerror(e));
				return NULL;
			}
			runlog(LOG_INFO, "removed '%s' from the inbox: the same bytes are archived as '%s'", from, to);
			return g_steal_pointer(&to);
		}
		switch (move_entry(from, to, TRUE, error)) {
		case MOVE_DONE:
			runlog(LOG_INFO, "archived '%s' as '%s'", from, to);
			return g_steal_pointer(&to);
		case MOVE_TAKEN: continue;
		case MOVE_FAILED: return NULL;
		}
	}
	g_set_error(error, INBOX_ERROR, STATUS_SOFTWARE, "cannot archive '%s': '%s' to '%s.%d' are all taken", from,
		    name, name, INBOX_SUFFIX_MAX);
	return NULL;
}

char *inbox_reject(const char *from, const char *dir, const char *name, gboolean regular, const char *reason,
		   GError **error)
{
	g_assert(reason != NULL);
	g_assert(strchr(name, '/') == NULL); /* a base name: the entry stays in dir */
	if (!inbox_make_dir(dir, error))
		return NULL;
	g_autofree char *text = g_strconcat(reason, "\n", NULL);
	for (int k = 0; k <= INBOX_SUFFIX_MAX; k++) {
		g_autofree char *to = candidate(dir, name, k);
		g_autofree char *why = g_strconcat(to, INBOX_REASON_SUFFIX, NULL);
		/* A reason's name taken by what is not a file (a link, a folder) is never replaced. */
		if (inbox_exists(to) || !outfile_check_target(why, NULL))
			continue;
		GError *e = NULL;
		if (!outfile_write(why, text, strlen(text), &e)) {
			g_set_error(error, INBOX_ERROR, STATUS_SOFTWARE, "%s", e->message); /* cannot write 'WHY': ... */
			g_error_free(e);
			return NULL;
		}
		fault_point("nightly:reason-written");
		switch (move_entry(from, to, regular, error)) {
		case MOVE_DONE: {
			g_autofree char *from_shown = text_shown(from), *to_shown = text_shown(to);
			runlog(LOG_INFO, "moved '%s' to '%s', the reason beside it", from_shown, to_shown);
			return g_steal_pointer(&to);
		}
		case MOVE_TAKEN: g_unlink(why); continue;
		case MOVE_FAILED: g_unlink(why); return NULL;
		}
	}
	g_set_error(error, INBOX_ERROR, STATUS_SOFTWARE, "cannot reject '%s': '%s' to '%s.%d' are all taken", from,
		    name, name, INBOX_SUFFIX_MAX);
	return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Which names to take                                                                         */

static gint by_bytes(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

GPtrArray *inbox_list(const char *inbox, GError **error)
{
	DIR *dir = opendir(inbox);
	if (!dir) {
		int e = errno;
		g_set_error(error, INBOX_ERROR, STATUS_NOINPUT, "cannot read inbox '%s': %s", inbox, g_strerror(e));
		return NULL;
	}
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	struct dirent *de;
	errno = 0;
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			g_ptr_array_add(names, g_strdup(de->d_name));
		errno = 0;
	}
	int e = errno;
	closedir(dir);
	if (e) {
		g_set_error(error, INBOX_ERROR, STATUS_NOINPUT, "cannot read inbox '%s': %s", inbox, g_strerror(e));
		g_ptr_array_free(names, TRUE);
		return NULL;
	}
	g_ptr_array_sort(names, by_bytes);
	return names;
}

gboolean inbox_in_progress(const char *name)
{
	static const char *const suffixes[] = INBOX_PARTIAL_SUFFIXES;
	g_assert(name[0] != '\0');
	if (name[0] == '.')
		return TRUE;
	g_autofree char *lower = g_ascii_strdown(name, -1);
	for (const char *const *s = suffixes; *s; s++)
		if (g_str_has_suffix(lower, *s))
			return TRUE;
	return FALSE;
}

char *inbox_refusal(const char *name, const char *shown, const struct stat *st)
{
	g_assert(!S_ISDIR(st->st_mode)); /* a folder is left alone or is a route, never refused */
	const char *kind = S_ISLNK(st->st_mode)    ? "a symbolic link"
			   : S_ISFIFO(st->st_mode) ? "a fifo"
			   : S_ISSOCK(st->st_mode) ? "a socket"
			   : S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) ? "a device"
			   : !S_ISREG(st->st_mode) ? "not a plain file"
						   : NULL;
	if (kind)
		return g_strdup_printf("'%s' is %s: refused, never opened or followed", shown, kind);
	if (!g_utf8_validate(name, -1, NULL))
		return g_strdup("the file name is not UTF-8: rename the file and put it in the inbox again");
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return g_strdup("the file name holds a control character: rename the file and put it in"
					" the inbox again");
	return NULL;
}

char *inbox_advice(const char *reason, const char *route_name, const char *route_profile)
{
	g_assert(reason != NULL && (route_name == NULL) == (route_profile == NULL));
	if (!strstr(reason, "--set") && !strstr(reason, "--profile"))
		return NULL;
	if (route_name)
		return g_strdup_printf("this folder is the route '%s' (profile %s): fix its [route %s] in the"
				       " config file (profile=NAME, set=FIELD=VALUE;FIELD=VALUE), then put the file back",
				       route_name, route_profile, route_name);
	return g_strdup("nightly takes a file directly in the inbox as 'nightly --profile NAME --set"
			" FIELD=VALUE' says; for one account's statements, make a folder ROUTE in the inbox and a"
			" [route ROUTE] group in the config file (profile=NAME, set=FIELD=VALUE;FIELD=VALUE), then put"
			" the file there");
}
