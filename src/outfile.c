/* outfile.c: temporary files beside their target; see outfile.h. */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>

int outfile_open_beside(const char *path, int flags, char **tmp_path)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *base = g_path_get_basename(path);
	g_autofree char *name = g_strdup_printf(".%s.XXXXXX", base);
	*tmp_path = g_build_filename(dir, name, NULL);
	int fd = g_mkstemp_full(*tmp_path, flags | O_CLOEXEC, OUTFILE_MODE);
	if (fd < 0) {
		int e = errno;
		g_clear_pointer(tmp_path, g_free);
		errno = e;
	}
	return fd;
}
