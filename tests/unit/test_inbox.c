/* test_inbox.c: the inbox's files, without a database (inbox.h): which names wait for a later run,
 * which entries are refused and why, the hint a refusal gets, and the archive's moves that never
 * overwrite (a taken name gives NAME.1; the very bytes already archived only leave the inbox). */
#include "inbox.h"
#include "runlog.h"

#include <criterion/criterion.h>
#include <glib/gstdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

/* The SHA-256 of "abc". */
#define ABC_SHA256 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static char *scratch(void)
{
	char *dir = g_dir_make_tmp("subsidy-inbox-XXXXXX", NULL);
	cr_assert_not_null(dir);
	return dir;
}

Test(inbox, uploads_in_progress_are_dotfiles_and_partial_endings_in_any_case)
{
	const char *const waiting[] = { ".upload.csv", "a.csv.part", "a.csv.PART", "b.filepart", "c.Tmp" };
	for (size_t i = 0; i < G_N_ELEMENTS(waiting); i++)
		cr_assert(inbox_in_progress(waiting[i]), "%s", waiting[i]);
	const char *const taken[] = { "a.csv", "part", "a.part.csv", "tmp.csv" };
	for (size_t i = 0; i < G_N_ELEMENTS(taken); i++)
		cr_assert_not(inbox_in_progress(taken[i]), "%s", taken[i]);
}

Test(inbox, a_plain_file_with_a_usable_name_is_taken_and_bad_names_and_links_are_refused)
{
	struct stat regular = { .st_mode = S_IFREG | 0644 }, link = { .st_mode = S_IFLNK | 0777 },
		    fifo = { .st_mode = S_IFIFO | 0644 };
	cr_assert_null(inbox_refusal("a.csv", "a.csv", &regular));
	g_autofree char *l = inbox_refusal("l.csv", "l.csv", &link);
	cr_assert_str_eq(l, "'l.csv' is a symbolic link: refused, never opened or followed");
	g_autofree char *f = inbox_refusal("f.csv", "f.csv", &fifo);
	cr_assert(strstr(f, "is a fifo"), "%s", f);
	g_autofree char *bad = inbox_refusal("a\xff.csv", "a\xef\xbf\xbd.csv", &regular);
	cr_assert(strstr(bad, "not UTF-8"), "%s", bad);
	g_autofree char *ctl = inbox_refusal("a\tb.csv", "a\xef\xbf\xbd" "b.csv", &regular);
	cr_assert(strstr(ctl, "control character"), "%s", ctl);
}

Test(inbox, advice_names_the_route_or_the_inbox_only_where_the_reason_advises_set_or_profile)
{
	cr_assert_null(inbox_advice("line 3: fee is not a number", NULL, NULL));
	g_autofree char *direct = inbox_advice("no shop column: give --set shop_id=...", NULL, NULL);
	cr_assert(g_str_has_prefix(direct, "nightly takes a file directly in the inbox"), "%s", direct);
	g_autofree char *route = inbox_advice("which profile? give --profile NAME", "yto-acct", "yto");
	cr_assert(strstr(route, "the route 'yto-acct' (profile yto): fix its [route yto-acct]"), "%s", route);
}

Test(inbox, archive_takes_the_next_free_name_and_only_removes_bytes_already_archived)
{
	runlog_open(FALSE, LOG_WARNING); /* the moves' lines are LOG_INFO: not in the test's output */
	g_autofree char *in = scratch(), *archive = scratch();
	g_autofree char *day = g_build_filename(archive, "2018-06-05", NULL);
	g_autofree char *from = g_build_filename(in, "a.csv", NULL);
	/* Other bytes under the name: the file goes to a.csv.1. */
	g_autofree char *first = g_build_filename(day, "a.csv", NULL);
	cr_assert(inbox_make_dir(day, NULL));
	cr_assert(g_file_set_contents(first, "other", -1, NULL));
	cr_assert(g_file_set_contents(from, "abc", -1, NULL));
	GError *e = NULL;
	g_autofree char *to = inbox_archive(from, day, "a.csv", ABC_SHA256, &e);
	cr_assert_not_null(to, "%s", e ? e->message : "");
	g_autofree char *want = g_build_filename(day, "a.csv.1", NULL);
	cr_assert_str_eq(to, want);
	cr_assert_not(inbox_exists(from));
	g_autofree char *kept = NULL;
	cr_assert(g_file_get_contents(first, &kept, NULL, NULL));
	cr_assert_str_eq(kept, "other");
	/* The same bytes again: already there as a.csv.1, so only removed from the inbox. */
	cr_assert(g_file_set_contents(from, "abc", -1, NULL));
	g_autofree char *again = inbox_archive(from, day, "a.csv", ABC_SHA256, &e);
	cr_assert_str_eq(again, want);
	cr_assert_not(inbox_exists(from));
	g_autofree char *none = g_build_filename(day, "a.csv.2", NULL);
	cr_assert_not(inbox_exists(none));
	g_unlink(first);
	g_unlink(want);
	g_rmdir(day);
	g_rmdir(archive);
	g_rmdir(in);
	runlog_close();
}
