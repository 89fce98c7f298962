/* outfile.c: temporary files beside their target; see outfile.h. */
#define _GNU_SOURCE /* renameat2 and RENAME_NOREPLACE */
#include "outfile.h"

#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK(subsidy-outfile-error-quark, outfile_error)

/* The temporary files open, for the signal handler: fixed storage, as a handler may not allocate.
 * A slot is in use when its first byte is not NUL; it is filled before its file is made and
 * emptied after its file is renamed or removed. */
#define OUTFILE_PATH_MAX 4096
static char temps[OUTFILE_TEMPS_MAX][OUTFILE_PATH_MAX];
static volatile sig_atomic_t handling;

static void remove_temps_and_die(int sig)
{
	if (!handling) {
		handling = 1;
		for (int i = 0; i < OUTFILE_TEMPS_MAX; i++)
			if (temps[i][0])
				unlink(temps[i]);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_handler(void)
{
	static gboolean installed;
	if (installed)
		return;
	installed = TRUE;
	const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	for (size_t i = 0; i < G_N_ELEMENTS(sigs); i++) {
		struct sigaction sa = { 0 }, old = { 0 };
		sigaction(sigs[i], NULL, &old);
		if (old.sa_handler == SIG_IGN)
			continue; /* nohup and friends: leave it ignored */
		sa.sa_handler = remove_temps_and_die;
		sigemptyset(&sa.sa_mask);
		sigaction(sigs[i], &sa, NULL);
	}
}

/* Blocks the handled signals while a slot changes, so the handler never sees half a path. */
static void block(sigset_t *old)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, old);
}

static int remember(const char *path)
{
	if (strlen(path) >= OUTFILE_PATH_MAX)
		return -1;
	sigset_t old;
	block(&old);
	int slot = -1;
	for (int i = 0; slot < 0 && i < OUTFILE_TEMPS_MAX; i++)
		if (!temps[i][0]) {
			slot = i;
			g_strlcpy(temps[i], path, OUTFILE_PATH_MAX);
		}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return slot;
}

void outfile_forget(const char *tmp_path)
{
	sigset_t old;
	block(&old);
	for (int i = 0; i < OUTFILE_TEMPS_MAX; i++)
		if (temps[i][0] && strcmp(temps[i], tmp_path) == 0)
			temps[i][0] = '\0';
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static const char *kind_of(mode_t mode)
{
	return S_ISLNK(mode)			  ? "a symbolic link"
	       : S_ISFIFO(mode)			  ? "a fifo"
	       : S_ISSOCK(mode)			  ? "a socket"
	       : S_ISCHR(mode) || S_ISBLK(mode) ? "a device"
	       : S_ISDIR(mode)			  ? "a folder"
						  : "not a plain file";
}

gboolean outfile_check_target(const char *path, GError **error)
{
	struct stat st;
	if (lstat(path, &st) != 0 || S_ISREG(st.st_mode))
		return TRUE;
	g_set_error(error, OUTFILE_ERROR, STATUS_USAGE,
		    "'%s' is not a regular file (it is %s): refused, it is left as it is%s", path, kind_of(st.st_mode),
		    S_ISLNK(st.st_mode) ? "; give the path it points to" : "");
	return FALSE;
}

int outfile_open_beside(const char *path, int flags, char **tmp_path)
{
	install_handler();
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *base = g_path_get_basename(path);
	g_autofree char *name = g_strdup_printf(".%s.XXXXXX", base);
	*tmp_path = g_build_filename(dir, name, NULL);
	/* The slot holds the template until mkstemp fills in its name: same length, so a signal in
	 * between removes at worst a name that does not exist. */
	int slot = remember(*tmp_path);
	if (slot < 0) {
		g_clear_pointer(tmp_path, g_free);
		errno = EMFILE;
		return -1;
	}
	int fd = g_mkstemp_full(*tmp_path, flags | O_CLOEXEC, OUTFILE_MODE);
	if (fd < 0) {
		int e = errno;
		temps[slot][0] = '\0';
		g_clear_pointer(tmp_path, g_free);
		errno = e;
		return fd;
	}
	sigset_t old;
	block(&old);
	g_strlcpy(temps[slot], *tmp_path, OUTFILE_PATH_MAX);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return fd;
}

gboolean outfile_commit(const char *tmp_path, const char *path, GError **error)
{
	gboolean ok = outfile_check_target(path, error);
	if (ok && g_rename(tmp_path, path) != 0) {
		int e = errno;
		g_set_error(error, OUTFILE_ERROR, STATUS_SOFTWARE, "cannot write '%s': %s", path, g_strerror(e));
		ok = FALSE;
	}
	if (!ok)
		g_unlink(tmp_path);
	outfile_forget(tmp_path);
	return ok;
}

int outfile_rename_noreplace(const char *from, const char *to)
{
	g_assert(from != NULL && to != NULL);
#ifdef RENAME_NOREPLACE
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
#endif
	/* A filesystem without RENAME_NOREPLACE: look, then rename. */
	struct stat st;
	if (lstat(to, &st) == 0) {
		errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}

int outfile_commit_noreplace(const char *tmp_path, const char *path)
{
	g_assert(tmp_path != NULL && path != NULL);
	int rc = outfile_rename_noreplace(tmp_path, path);
	int e = errno;
	if (rc != 0)
		g_unlink(tmp_path);
	outfile_forget(tmp_path);
	errno = e;
	g_assert(rc == 0 || rc == -1);
	return rc;
}

void outfile_discard(const char *tmp_path)
{
	g_unlink(tmp_path);
	outfile_forget(tmp_path);
}

gboolean outfile_is_temp_of(const char *name, const char *target_base)
{
	size_t n = strlen(target_base);
	if (name[0] != '.' || strncmp(name + 1, target_base, n) != 0 || name[n + 1] != '.')
		return FALSE;
	const char *random = name + n + 2;
	if (strlen(random) != OUTFILE_TEMP_RANDOM_CHARS)
		return FALSE;
	for (const char *p = random; *p; p++)
		if (!g_ascii_isalnum(*p))
			return FALSE;
	return TRUE;
}

/* ------------------------------------------------------------------------------------------ */
/* Whole files: check, write beside, rename (what the report writers and export's .sha256 share) */

int outfile_begin(const char *path, int flags, char **tmp_path, GError **error)
{
	g_assert(path && tmp_path && *tmp_path == NULL);
	if (!outfile_check_target(path, error))
		return -1;
	int fd = outfile_open_beside(path, flags, tmp_path);
	if (fd < 0) {
		int e = errno;
		g_set_error(error, OUTFILE_ERROR, STATUS_SOFTWARE, "cannot write '%s': %s", path, g_strerror(e));
	}
	/* A descriptor comes with its temporary file, a failure with none. */
	g_assert((fd >= 0) == (*tmp_path != NULL));
	return fd;
}

gboolean outfile_write_temp(const char *path, const void *bytes, size_t len, char **tmp_path, GError **error)
{
	g_assert(path && tmp_path && *tmp_path == NULL);
	g_assert(bytes != NULL || len == 0);
	int fd = outfile_open_beside(path, O_WRONLY, tmp_path);
	if (fd < 0) {
		int e = errno;
		g_set_error(error, OUTFILE_ERROR, STATUS_SOFTWARE, "cannot write '%s': %s", path, g_strerror(e));
		return FALSE;
	}
	size_t done = 0;
	int e = 0;
	while (done < len) {
		ssize_t n = write(fd, (const char *)bytes + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : EIO;
			break;
		}
		done += (size_t)n;
	}
	if (e == 0 && fsync(fd) != 0)
		e = errno;
	if (close(fd) != 0 && e == 0)
		e = errno;
	if (e != 0) {
		outfile_discard(*tmp_path);
		g_clear_pointer(tmp_path, g_free);
		g_set_error(error, OUTFILE_ERROR, STATUS_SOFTWARE, "cannot write '%s': %s", path, g_strerror(e));
		return FALSE;
	}
	/* Every byte written, none more: the cursor only moved forward, to the end. */
	g_assert(done == len);
	return TRUE;
}

gboolean outfile_write(const char *path, const void *bytes, size_t len, GError **error)
{
	g_assert(path != NULL);
	g_assert(bytes != NULL || len == 0);
	if (!outfile_check_target(path, error))
		return FALSE;
	g_autofree char *tmp = NULL;
	return outfile_write_temp(path, bytes, len, &tmp, error) && outfile_commit(tmp, path, error);
}
