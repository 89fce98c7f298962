/* test_routes.c: the inbox of `nightly` (CLI.md, "The inbox of `nightly`"; issue 16, point 2):
 * route folders configured in the config file ([route NAME], profile=, set=), nightly's own
 * --profile/--set for files directly in the inbox, folders no route names left alone and
 * reported, archive and rejected keeping the route folder, bad route sections refused before any
 * work. Registry: fixtures/small (S1 sends YTO as YT0001, S3 as CN0003). */
#include "harness.h"

#include <criterion/criterion.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

/* A per-account YTO statement: no sender column, dates only. Two profiles with this very header
 * (one per shop's account, as an office writes them): detection cannot choose between them. */
#define YTO_HEADER "运单号,揽收日期,运费\n"
#define YTO_PROFILE                                                                                                    \
	"[profile]\nname=%s\ndescription=YTO statement of one account\nencoding=UTF-8\n"                               \
	"header=运单号,揽收日期,运费\npickup_format=%%Y-%%m-%%d\n\n"                                                  \
	"[fields]\nwaybill_no=运单号\npickup_time=揽收日期\nfee=运费\n\n[fixed]\ncourier=YTO\n"

/* A profiles folder with yto-a and yto-b; returns its path (caller frees). */
static char *yto_profiles(void)
{
	char *dir = g_build_filename(h_tmpdir(), "profiles", NULL);
	cr_assert(g_mkdir_with_parents(dir, 0755) == 0);
	const char *names[] = { "yto-a", "yto-b" };
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *file = g_strdup_printf("%s.profile", names[i]);
		g_autofree char *text = g_strdup_printf(YTO_PROFILE, names[i]);
		g_free(h_write(dir, file, text, -1));
	}
	return dir;
}

/* A config file holding [subsidy] profiles=DIR and then extra; returns its path (caller frees). */
static char *config_with(const char *name, const char *extra)
{
	g_autofree char *profiles = yto_profiles();
	g_autofree char *text = g_strdup_printf("[subsidy]\nprofiles=%s\n\n%s", profiles, extra);
	return h_write(h_tmpdir(), name, text, -1);
}

static char *new_dir(const char *under, const char *name)
{
	char *dir = g_build_filename(under, name, NULL);
	cr_assert(g_mkdir_with_parents(dir, 0755) == 0, "cannot make %s", dir);
	return dir;
}

static char *new_inbox(const char *name)
{
	char *dir = g_build_filename(h_tmpdir(), name, NULL);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	cr_assert(system(cmd) == 0);
	cr_assert(g_mkdir_with_parents(dir, 0755) == 0);
	return dir;
}

static gboolean is_file(const char *dir, const char *rel)
{
	g_autofree char *p = g_build_filename(dir, rel, NULL);
	return g_file_test(p, G_FILE_TEST_IS_REGULAR);
}

/* The archive folder of today's run: the only folder in INBOX/archive. */
static char *archive_day(const char *inbox)
{
	g_autofree char *root = g_build_filename(inbox, "archive", NULL);
	GDir *d = g_dir_open(root, 0, NULL);
	cr_assert(d != NULL, "no archive in %s", inbox);
	const char *day = g_dir_read_name(d);
	cr_assert(day != NULL);
	char *path = g_build_filename(root, day, NULL);
	cr_assert_null(g_dir_read_name(d), "several archive folders");
	g_dir_close(d);
	return path;
}

#define ROUTES                                                                                                         \
	"[route acct1]\nprofile=yto-a\nset=sender_code=YT0001\n\n"                                                     \
	"[route acct3]\nprofile=yto-b\nset=sender_code=CN0003;sender_phone=13800000003\n"

/* Two accounts' statements, same header, same file name, each in its route folder: each is
 * ingested with its route's profile and fixed fields (no detection, which would refuse both), and
 * archived under its route folder. A folder no route names is left alone and reported. */
Test(routes, each_route_folder_is_ingested_with_its_profile_and_fixed_fields)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *config = config_with("routes.conf", ROUTES);
	g_autofree char *inbox = new_inbox("inbox");
	g_autofree char *a1 = new_dir(inbox, "acct1");
	g_autofree char *a3 = new_dir(inbox, "acct3");
	g_autofree char *other = new_dir(inbox, "acct9");
	g_free(h_write(a1, "statement.csv", YTO_HEADER "YT100,2018-06-05,12.00\nYT101,2018-06-06,8.00\n", -1));
	g_free(h_write(a3, "statement.csv", YTO_HEADER "YT300,2018-06-05,10.00\n", -1));
	g_free(h_write(other, "statement.csv", YTO_HEADER "YT900,2018-06-05,10.00\n", -1));

	h_result r = h_run(db, "nightly", "--inbox", inbox, "--config", config, "--json", NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "\"profile\":\"yto-a\"") && strstr(r.out, "\"profile\":\"yto-b\""), "%s", r.out);
	cr_assert(strstr(r.out, "\"unrouted\":[\"acct9\"]"), "the folder no route names: %s", r.out);
	cr_assert(strstr(r.err, "acct9"), "the log names the folder left alone: %s", r.err);
	h_result_clear(&r);

	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM files"), 2);
	g_autofree char *files = h_sql(db, "SELECT string_agg(regexp_replace(name, '^(.*/)?([^/]+/[^/]+)$', '\\2') || ':' || profile, ','"
					   " ORDER BY name) FROM files");
	cr_assert_str_eq(files, "acct1/statement.csv:yto-a,acct3/statement.csv:yto-b");
	g_autofree char *lines = h_sql(db, "SELECT string_agg(waybill_no || ':' || sender_code || ':' ||"
					   " coalesce(sender_phone, '-') || ':' || outcome || ':' || shop_id, ','"
					   " ORDER BY waybill_no) FROM lines");
	cr_assert_str_eq(lines, "YT100:YT0001:-:ELIGIBLE:S1,YT101:YT0001:-:ELIGIBLE:S1,"
				"YT300:CN0003:13800000003:ELIGIBLE:S3");
	/* Archive keeps the route folder; the unrouted folder's file was not touched. */
	g_autofree char *day = archive_day(inbox);
	cr_assert(is_file(day, "acct1/statement.csv") && is_file(day, "acct3/statement.csv"));
	cr_assert(!is_file(a1, "statement.csv") && !is_file(a3, "statement.csv"));
	cr_assert(is_file(other, "statement.csv"), "a folder no route names is left alone");

	/* In text too, the folder left alone is said. */
	r = h_run(db, "nightly", "--inbox", inbox, "--config", config, NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "acct9") && strstr(r.out, "no route"), "%s", r.out);
	h_result_clear(&r);
	cr_assert(is_file(other, "statement.csv"));
}

/* A file directly in the inbox whose header matches both profiles is refused; its .reason names
 * what nightly offers (its --profile/--set, or a route folder), not ingest's options alone. With
 * nightly's own --profile and --set the same bytes are then stored. */
Test(routes, files_directly_in_the_inbox_take_nightlys_own_profile_and_set)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *config = config_with("plain.conf", "");
	g_autofree char *inbox = new_inbox("inbox");
	const char *text = YTO_HEADER "YT100,2018-06-05,12.00\n";
	g_free(h_write(inbox, "yto.csv", text, -1));
	h_result r = h_run(db, "nightly", "--inbox", inbox, "--config", config, NULL);
	cr_assert_eq(r.status, 1, "exit %d\n%s%s", r.status, r.out, r.err);
	h_result_clear(&r);
	g_autofree char *reason_path = g_build_filename(inbox, "rejected", "yto.csv.reason", NULL);
	g_autofree char *reason = h_read(reason_path, NULL);
	cr_assert(strstr(reason, "nightly --profile") && strstr(reason, "[route "), "%s", reason);
	/* PostgreSQL's shape: ingest's advice and nightly's on one HINT line, after the primary one. */
	const char *hint = strstr(reason, "\nHINT: ");
	cr_assert(hint && !strstr(hint + 1, "\nHINT: ") && strstr(hint, "nightly --profile"), "%s", reason);

	/* With the sender set, both profiles match equally: ingest's hint (choose one with --profile)
	 * and nightly's advice share the one HINT line. */
	g_free(h_write(inbox, "yto.csv", text, -1));
	r = h_run(db, "nightly", "--inbox", inbox, "--config", config, "--set", "sender_code=YT0001", NULL);
	cr_assert_eq(r.status, 1, "exit %d\n%s%s", r.status, r.out, r.err);
	h_result_clear(&r);
	g_autofree char *reason_path2 = g_build_filename(inbox, "rejected", "yto.csv.1.reason", NULL);
	g_autofree char *reason2 = h_read(reason_path2, NULL);
	const char *hint2 = strstr(reason2, "\nHINT: ");
	cr_assert(hint2 && !strstr(hint2 + 1, "\nHINT: ") && strstr(hint2, "choose one with --profile; nightly takes"),
		  "%s", reason2);

	g_free(h_write(inbox, "yto.csv", text, -1));
	r = h_run(db, "nightly", "--inbox", inbox, "--config", config, "--profile", "yto-a", "--set",
		  "sender_code=YT0001", NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s%s", r.status, r.out, r.err);
	h_result_clear(&r);
	g_autofree char *got = h_sql(db, "SELECT regexp_replace(f.name, '^.*/', '') || ':' || f.profile || ':' || l.sender_code || ':' || l.outcome"
					 " FROM files f JOIN lines l USING (file_id)");
	cr_assert_str_eq(got, "yto.csv:yto-a:YT0001:ELIGIBLE");

	/* Bad usage of the new options, before any work. */
	g_free(h_write(inbox, "yto2.csv", YTO_HEADER "YT102,2018-06-05,12.00\n", -1));
	r = h_run(db, "nightly", "--inbox", inbox, "--config", config, "--profile", "nosuch", NULL);
	cr_assert_eq(r.status, 64, "exit %d\n%s%s", r.status, r.out, r.err);
	h_result_clear(&r);
	r = h_run(db, "nightly", "--inbox", inbox, "--config", config, "--set", "colour=red", NULL);
	cr_assert_eq(r.status, 64, "exit %d\n%s%s", r.status, r.out, r.err);
	h_result_clear(&r);
	cr_assert(is_file(inbox, "yto2.csv"));
}

/* A file a route folder holds that is refused as a whole goes to rejected/ROUTE/NAME, its reason
 * beside it. */
Test(routes, a_refused_file_of_a_route_keeps_its_folder_in_rejected)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *config = config_with("routes.conf", ROUTES);
	g_autofree char *inbox = new_inbox("inbox");
	g_autofree char *a1 = new_dir(inbox, "acct1");
	g_free(h_write(a1, "empty.csv", "", 0));
	h_result r = h_run(db, "nightly", "--inbox", inbox, "--config", config, NULL);
	cr_assert_eq(r.status, 1, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "rejected/acct1/empty.csv"), "%s", r.out);
	h_result_clear(&r);
	g_autofree char *rejected = g_build_filename(inbox, "rejected", NULL);
	cr_assert(is_file(rejected, "acct1/empty.csv") && is_file(rejected, "acct1/empty.csv.reason"));
	cr_assert(!is_file(a1, "empty.csv"));
}

/* A route section that cannot be right is refused (64) before any work: the inbox untouched,
 * no run recorded. */
Test(routes, a_bad_route_section_is_refused_before_any_work)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	const char *bad[][2] = {
		{ "[route acct1]\nprofile=yto-a\nsender=YT0001\n", "sender" },
		{ "[route acct1]\nprofile=yto-c\nset=sender_code=YT0001\n", "yto-c" },
		{ "[route acct1]\nprofile=yto-a\nset=sender_code\n", "sender_code" },
		{ "[route acct1]\nprofile=yto-a\nset=colour=red\n", "colour" },
		{ "[route acct1]\nset=sender_code=YT0001\n", "profile" },
		{ "[route acct1]\nprofile=yto-a   # the first account\n", "text after it" },
		{ "[route archive]\nprofile=yto-a\n", "archive" },
		{ "[route a/b]\nprofile=yto-a\n", "a/b" },
	};
	g_autofree char *inbox = new_inbox("inbox");
	g_autofree char *a1 = new_dir(inbox, "acct1");
	g_free(h_write(a1, "statement.csv", YTO_HEADER "YT100,2018-06-05,12.00\n", -1));
	int64_t runs = h_sql_int(db, "SELECT count(*) FROM runs");
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *config = config_with("bad.conf", bad[i][0]);
		h_result r = h_run(db, "nightly", "--inbox", inbox, "--config", config, NULL);
		cr_assert_eq(r.status, 64, "%s: exit %d\n%s%s", bad[i][0], r.status, r.out, r.err);
		cr_assert(strstr(r.err, "route") && strstr(r.err, bad[i][1]), "%s: %s", bad[i][0], r.err);
		h_result_clear(&r);
		cr_assert(is_file(a1, "statement.csv"));
	}
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM runs"), runs);
}
