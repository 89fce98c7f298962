/* test_outfile.c: files written whole or not at all (outfile.h): outfile_write puts every byte at
 * its target with the engine's mode and leaves no temporary file; a target that is not a regular
 * file is refused and left as it is; outfile_write_temp leaves its bytes under a temporary name
 * until committed or discarded; outfile_begin refuses before creating anything; the no-replace
 * rename and commit (nightly's archive) never replace a name taken, a dangling link included. */
#include "outfile.h"
#include "status.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int compare_names(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names in dir, sorted, joined by ','. */
static char *names_in(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	cr_assert_not_null(d);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	for (const char *n; (n = g_dir_read_name(d));)
		g_ptr_array_add(names, g_strdup(n));
	g_ptr_array_sort(names, compare_names); /* pointers to the elements */
	g_ptr_array_add(names, NULL);
	return g_strjoinv(",", (char **)names->pdata);
}

static char *scratch(void)
{
	char *dir = g_dir_make_tmp("subsidy-outfile-XXXXXX", NULL);
	cr_assert_not_null(dir);
	return dir;
}

Test(outfile, write_puts_every_byte_at_the_target_and_leaves_no_temporary_file)
{
	g_autofree char *dir = scratch();
	g_autofree char *path = g_build_filename(dir, "report.html", NULL);
	/* More than one write's worth, and an old file replaced whole. */
	cr_assert(g_file_set_contents(path, "old", -1, NULL));
	gsize len = 3 * 1024 * 1024;
	g_autofree char *bytes = g_malloc(len);
	for (gsize i = 0; i < len; i++)
		bytes[i] = (char)('a' + i % 26);
	GError *e = NULL;
	cr_assert(outfile_write(path, bytes, len, &e), "%s", e ? e->message : "");
	g_autofree char *got = NULL;
	gsize got_len = 0;
	cr_assert(g_file_get_contents(path, &got, &got_len, NULL));
	cr_assert_eq(got_len, len);
	cr_assert(memcmp(got, bytes, len) == 0);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, OUTFILE_MODE);
	g_autofree char *names = names_in(dir);
	cr_assert_str_eq(names, "report.html");
	g_unlink(path);
	g_rmdir(dir);
}

Test(outfile, write_refuses_a_target_that_is_not_a_regular_file_and_leaves_it)
{
	g_autofree char *dir = scratch();
	g_autofree char *real = g_build_filename(dir, "real.html", NULL);
	g_autofree char *link = g_build_filename(dir, "link.html", NULL);
	g_autofree char *folder = g_build_filename(dir, "folder.html", NULL);
	cr_assert(g_file_set_contents(real, "kept", -1, NULL));
	cr_assert_eq(symlink("real.html", link), 0);
	cr_assert_eq(g_mkdir(folder, 0700), 0);
	const char *targets[] = { link, folder };
	for (size_t i = 0; i < G_N_ELEMENTS(targets); i++) {
		GError *e = NULL;
		cr_assert_not(outfile_write(targets[i], "new", 3, &e));
		cr_assert(g_error_matches(e, OUTFILE_ERROR, STATUS_USAGE), "%s", e ? e->message : "");
		cr_assert(strstr(e->message, "is not a regular file"), "%s", e->message);
		g_error_free(e);
	}
	g_autofree char *kept = NULL;
	cr_assert(g_file_get_contents(real, &kept, NULL, NULL));
	cr_assert_str_eq(kept, "kept");
	g_autofree char *names = names_in(dir);
	cr_assert_str_eq(names, "folder.html,link.html,real.html");
	g_rmdir(folder);
	g_unlink(link);
	g_unlink(real);
	g_rmdir(dir);
}

Test(outfile, write_temp_keeps_the_bytes_under_a_temporary_name_until_committed_or_discarded)
{
	g_autofree char *dir = scratch();
	g_autofree char *path = g_build_filename(dir, "b1.csv.sha256", NULL);
	GError *e = NULL;
	g_autofree char *tmp = NULL;
	cr_assert(outfile_write_temp(path, "abc\n", 4, &tmp, &e), "%s", e ? e->message : "");
	g_autofree char *base = g_path_get_basename(tmp);
	cr_assert(outfile_is_temp_of(base, "b1.csv.sha256"), "%s", base);
	cr_assert_not(g_file_test(path, G_FILE_TEST_EXISTS));
	g_autofree char *got = NULL;
	cr_assert(g_file_get_contents(tmp, &got, NULL, NULL));
	cr_assert_str_eq(got, "abc\n");
	outfile_discard(tmp);
	g_autofree char *none = names_in(dir);
	cr_assert_str_eq(none, "");

	g_autofree char *tmp2 = NULL;
	cr_assert(outfile_write_temp(path, "", 0, &tmp2, &e), "%s", e ? e->message : "");
	cr_assert(outfile_commit(tmp2, path, &e), "%s", e ? e->message : "");
	g_autofree char *names = names_in(dir);
	cr_assert_str_eq(names, "b1.csv.sha256");
	g_unlink(path);
	g_rmdir(dir);
}

Test(outfile, begin_refuses_before_creating_anything)
{
	g_autofree char *dir = scratch();
	g_autofree char *missing = g_build_filename(dir, "no-such-dir", "r.xlsx", NULL);
	g_autofree char *tmp = NULL;
	GError *e = NULL;
	cr_assert_lt(outfile_begin(missing, O_WRONLY, &tmp, &e), 0);
	cr_assert_null(tmp);
	cr_assert(g_error_matches(e, OUTFILE_ERROR, STATUS_SOFTWARE), "%s", e ? e->message : "");
	g_autofree char *want = g_strdup_printf("cannot write '%s': ", missing);
	cr_assert(g_str_has_prefix(e->message, want), "%s", e->message);
	g_clear_error(&e);

	cr_assert_lt(outfile_begin(dir, O_WRONLY, &tmp, &e), 0); /* a folder */
	cr_assert_null(tmp);
	cr_assert(g_error_matches(e, OUTFILE_ERROR, STATUS_USAGE), "%s", e ? e->message : "");
	g_clear_error(&e);

	g_autofree char *path = g_build_filename(dir, "r.xlsx", NULL);
	int fd = outfile_begin(path, O_WRONLY, &tmp, &e);
	cr_assert_geq(fd, 0, "%s", e ? e->message : "");
	cr_assert_not_null(tmp);
	close(fd);
	outfile_discard(tmp);
	g_autofree char *none = names_in(dir);
	cr_assert_str_eq(none, "");
	g_rmdir(dir);
}

/* A temporary file's bytes, written and closed. */
static char *temp_with(const char *path, const char *bytes)
{
	char *tmp = NULL;
	int fd = outfile_open_beside(path, O_WRONLY, &tmp);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
	cr_assert_eq(close(fd), 0);
	return tmp;
}

Test(outfile, commit_noreplace_never_replaces_what_is_there_and_leaves_no_temporary_file)
{
	g_autofree char *dir = scratch();
	g_autofree char *taken = g_build_filename(dir, "a.csv", NULL);
	g_autofree char *dangling = g_build_filename(dir, "b.csv", NULL);
	g_autofree char *free_name = g_build_filename(dir, "c.csv", NULL);
	cr_assert(g_file_set_contents(taken, "first", -1, NULL));
	cr_assert_eq(symlink("nowhere", dangling), 0);
	/* A regular file, and a link to nothing (not followed, not replaced): both taken. */
	const char *targets[] = { taken, dangling };
	for (size_t i = 0; i < G_N_ELEMENTS(targets); i++) {
		g_autofree char *tmp = temp_with(targets[i], "second");
		errno = 0;
		cr_assert_eq(outfile_commit_noreplace(tmp, targets[i]), -1);
		cr_assert_eq(errno, EEXIST, "%s", g_strerror(errno));
		cr_assert_not(g_file_test(tmp, G_FILE_TEST_EXISTS)); /* removed */
	}
	g_autofree char *kept = NULL;
	cr_assert(g_file_get_contents(taken, &kept, NULL, NULL));
	cr_assert_str_eq(kept, "first");
	struct stat st;
	cr_assert_eq(lstat(dangling, &st), 0);
	cr_assert(S_ISLNK(st.st_mode));
	g_autofree char *nowhere = g_build_filename(dir, "nowhere", NULL);
	cr_assert_not(g_file_test(nowhere, G_FILE_TEST_EXISTS));

	g_autofree char *tmp = temp_with(free_name, "third");
	cr_assert_eq(outfile_commit_noreplace(tmp, free_name), 0, "%s", g_strerror(errno));
	g_autofree char *got = NULL;
	cr_assert(g_file_get_contents(free_name, &got, NULL, NULL));
	cr_assert_str_eq(got, "third");
	g_autofree char *names = names_in(dir);
	cr_assert_str_eq(names, "a.csv,b.csv,c.csv");

	/* A failure that is not a taken name keeps its errno, the temporary file removed too. */
	g_autofree char *missing = g_build_filename(dir, "no-such-dir", "d.csv", NULL);
	g_autofree char *tmp2 = temp_with(free_name, "fourth");
	errno = 0;
	cr_assert_eq(outfile_commit_noreplace(tmp2, missing), -1);
	cr_assert_eq(errno, ENOENT, "%s", g_strerror(errno));
	g_autofree char *after = names_in(dir);
	cr_assert_str_eq(after, "a.csv,b.csv,c.csv");
	g_unlink(taken);
	g_unlink(dangling);
	g_unlink(free_name);
	g_rmdir(dir);
}

Test(outfile, rename_noreplace_moves_to_a_free_name_only)
{
	g_autofree char *dir = scratch();
	g_autofree char *from = g_build_filename(dir, "in.csv", NULL);
	g_autofree char *to = g_build_filename(dir, "out.csv", NULL);
	cr_assert(g_file_set_contents(from, "moved", -1, NULL));
	cr_assert(g_file_set_contents(to, "there", -1, NULL));
	errno = 0;
	cr_assert_eq(outfile_rename_noreplace(from, to), -1);
	cr_assert_eq(errno, EEXIST);
	g_autofree char *there = NULL;
	cr_assert(g_file_get_contents(to, &there, NULL, NULL));
	cr_assert_str_eq(there, "there");
	cr_assert_eq(g_unlink(to), 0);
	cr_assert_eq(outfile_rename_noreplace(from, to), 0, "%s", g_strerror(errno));
	g_autofree char *names = names_in(dir);
	cr_assert_str_eq(names, "out.csv");
	g_unlink(to);
	g_rmdir(dir);
}
