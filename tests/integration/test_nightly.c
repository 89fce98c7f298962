/* test_nightly.c: `subsidy nightly`, the cron entry point (CLI.md), through the binary: three
 * nights computed by hand, SIGKILL at every step with the rerun giving the uninterrupted result,
 * the settlement lock (held: exit 75, nothing changed; two runs at once: the work done once), what
 * is not a plain file (never followed or opened), and the demo inbox of fixtures/inbox.
 * Registries: fixtures/small (see its README) and fixtures/registry for the demo. */
#include "harness.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <glib/gstdio.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"
#define ZTO_HEADER "运单编号,揽件时间,发件客户编号,发件人电话,结算重量,结算金额,订单号,物品类型,目的地\n"
/* Seconds a run that must not block is given. */
#define RUN_LIMIT_S "30"

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                     */

/* An empty inbox folder NAME in the test's temporary directory (emptied if it was there). */
static char *new_inbox(const char *name)
{
	char *dir = g_build_filename(h_tmpdir(), name, NULL);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	cr_assert(system(cmd) == 0);
	cr_assert(g_mkdir_with_parents(dir, 0755) == 0, "cannot make %s", dir);
	return dir;
}

static void put(const char *inbox, const char *name, const char *text)
{
	g_free(h_write(inbox, name, text, -1));
}

static h_result nightly(const char *db, const char *inbox, gboolean json)
{
	return json ? h_run(db, "nightly", "--inbox", inbox, "--json", NULL)
		    : h_run(db, "nightly", "--inbox", inbox, NULL);
}

/* Runs nightly (--json when json), asserts its exit; its output in *out (may be NULL). */
static void nightly_ok(const char *db, const char *inbox, gboolean json, int want, h_result *out)
{
	h_result r = nightly(db, inbox, json);
	cr_assert_eq(r.status, want, "nightly: exit %d, wanted %d\n%s%s", r.status, want, r.out, r.err);
	if (out)
		*out = r;
	else
		h_result_clear(&r);
}

/* Is name, or name.1, name.2... (the archive's answer to a taken name), a copy of base? */
static gboolean is_copy_of(const char *name, const char *base)
{
	size_t n = strlen(base);
	if (strncmp(name, base, n) != 0)
		return FALSE;
	if (name[n] == '\0')
		return TRUE;
	if (name[n] != '.' || !name[n + 1])
		return FALSE;
	for (const char *p = name + n + 1; *p; p++)
		if (!g_ascii_isdigit(*p))
			return FALSE;
	return TRUE;
}

static int count_copies(const char *dir, const char *base)
{
	int n = 0;
	GDir *d = g_dir_open(dir, 0, NULL);
	if (!d)
		return 0;
	for (const char *e; (e = g_dir_read_name(d));)
		n += is_copy_of(e, base);
	g_dir_close(d);
	return n;
}

/* Copies of base in every YYYY-MM-DD folder of INBOX/archive (a run near midnight may make two). */
static int archived(const char *inbox, const char *base)
{
	g_autofree char *root = g_build_filename(inbox, "archive", NULL);
	GDir *d = g_dir_open(root, 0, NULL);
	if (!d)
		return 0;
	int n = 0;
	for (const char *day; (day = g_dir_read_name(d));) {
		cr_assert(g_regex_match_simple("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", day, 0, 0), "archive folder '%s'",
			  day);
		g_autofree char *sub = g_build_filename(root, day, NULL);
		n += count_copies(sub, base);
	}
	g_dir_close(d);
	return n;
}

static int rejected(const char *inbox, const char *base)
{
	g_autofree char *dir = g_build_filename(inbox, "rejected", NULL);
	return count_copies(dir, base);
}

/* The entries of the inbox that are not folders: what a run left there. */
static char *left_in_inbox(const char *inbox)
{
	GString *s = g_string_new(NULL);
	GDir *d = g_dir_open(inbox, 0, NULL);
	cr_assert(d != NULL);
	for (const char *e; (e = g_dir_read_name(d));) {
		g_autofree char *p = g_build_filename(inbox, e, NULL);
		struct stat st;
		if (lstat(p, &st) == 0 && !S_ISDIR(st.st_mode))
			g_string_append_printf(s, "%s%s", s->len ? " " : "", e);
	}
	g_dir_close(d);
	return g_string_free(s, FALSE);
}

static void assert_inbox_empty(const char *inbox)
{
	g_autofree char *left = left_in_inbox(inbox);
	cr_assert_str_eq(left, "", "left in the inbox: %s", left);
}

/* The 合计 row of an export (UTF-8 with BOM, CRLF), without its line end. */
static char *totals_row(const char *path)
{
	gsize len = 0;
	g_autofree char *text = h_read(path, &len);
	g_auto(GStrv) rows = g_strsplit(text, "\r\n", -1);
	for (int i = g_strv_length(rows) - 1; i >= 0; i--)
		if (g_str_has_prefix(rows[i], "合计,"))
			return g_strdup(rows[i]);
	cr_assert_fail("no totals row in %s", path);
	return NULL;
}

static void assert_export(const char *inbox, int batch, const char *want_totals)
{
	g_autofree char *name = g_strdup_printf("batch-%d.csv", batch);
	g_autofree char *path = g_build_filename(inbox, "exports", name, NULL);
	g_autofree char *sha = g_strconcat(path, ".sha256", NULL);
	cr_assert(g_file_test(path, G_FILE_TEST_IS_REGULAR), "no export %s", path);
	cr_assert(g_file_test(sha, G_FILE_TEST_IS_REGULAR), "no checksum %s", sha);
	g_autofree char *row = totals_row(path);
	cr_assert_str_eq(row, want_totals, "%s: totals row", name);
	/* Beside it, the XLSX finance opens (issue 16 point 10), with its checksum. */
	g_autofree char *xname = g_strdup_printf("batch-%d.xlsx", batch);
	g_autofree char *xlsx = g_build_filename(inbox, "exports", xname, NULL);
	g_autofree char *xsha = g_strconcat(xlsx, ".sha256", NULL);
	gsize len = 0;
	g_autofree char *bytes = h_read(xlsx, &len);
	cr_assert(len > 4 && memcmp(bytes, "PK\x03\x04", 4) == 0, "%s is no XLSX", xlsx);
	g_autofree char *line = h_read(xsha, NULL);
	g_autofree char *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)bytes, len);
	g_autofree char *want_line = g_strdup_printf("%s  %s\n", hex, xname);
	cr_assert_str_eq(line, want_line, "%s", xsha);
}

static int64_t budget_left(const char *db)
{
	return h_sql_int(db, "SELECT sum(amount_fen - drawn_fen) FROM pool_balances");
}

static int64_t posted(const char *db)
{
	return h_sql_int(db, "SELECT coalesce(sum(funded_fen), 0) FROM postings");
}

static void load_budgets(const char *db, const char *csv)
{
	g_autofree char *path = h_write(h_tmpdir(), "budgets.csv", csv, -1);
	h_result r = h_run(db, "registry", "load", "budgets", path, NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	h_result_clear(&r);
}

/* ------------------------------------------------------------------------------------------ */
/* Three nights, by hand                                                                       */

/* Registry fixtures/small (p1: 50% capped at 10.00, poverty 80% uncapped; S1 standard by C1 and
 * ZT0001, S2 poverty by C2; campaign c618 from 06-01 to 06-19), with pool big cut to 50.00 so the
 * money runs out on night 2. Each night's files are dropped in the inbox, nightly runs, and the
 * ledger, the budget, the files' places and the export are what the arithmetic says. */
Test(nightly, three_nights_match_the_hand_computed_ledger_budget_files_and_exports)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	load_budgets(db, "pool_id,name,amount,valid_from,valid_to,priority\n"
			 "big,大池,50.00,2016-01-01,2018-12-31,1\n");
	g_autofree char *inbox = new_inbox("inbox");

	/* Night 1. n1-a: OA1 12.00 by S1 -> 50% = 6.00; OA2 20.00 by S2 (poverty) -> 80% = 16.00;
	 * C9 is no shop: UNREGISTERED_SHOP. n1-b: A1 again, the same in every field: DUPLICATE; OB1
	 * 30.00 by S1 -> 15.00, capped at 10.00. n1-c: a zto file whose 合计 says 7.51 for a line of
	 * 7.50: refused whole, to rejected/. Posted 6 + 16 + 10 = 32.00; left 50.00 - 32.00 = 18.00.
	 * Export: S1 2 orders 16.00, S2 1 order 16.00: 3 orders, 32.00. Exit 1: a file refused. */
	put(inbox, "n1-a.csv", HEADER "EMS,A1,OA1,2018-06-05 10:00:00,C1,,1,12.00,,\n"
				      "EMS,A2,OA2,2018-06-05 10:05:00,C2,,1,20.00,,\n"
				      "EMS,A3,OA3,2018-06-05 10:10:00,C9,,1,10.00,,\n");
	put(inbox, "n1-b.csv", HEADER "EMS,A1,OA1,2018-06-05 10:00:00,C1,,1,12.00,,\n"
				      "ZTO,B1,OB1,2018-06-06 09:00:00,ZT0001,,1,30.00,,\n");
	put(inbox, "n1-c.csv", ZTO_HEADER "=\"75300000000001\",2018-06-06 08:30,ZT0004,,1.1,￥7.50,TB1,水果,海南省\n"
					  "合计,,,,,￥7.51,,,\n");
	h_result r;
	nightly_ok(db, inbox, TRUE, 1, &r);
	cr_assert(strstr(r.out, "\"status\":\"refused\""), "%s", r.out);
	cr_assert(strstr(r.out, "\"settle\":{\"batch\":1,\"orders\":3,\"postings\":3,\"posted_fen\":3200,"
				"\"unfunded_fen\":0}"), "%s", r.out);
	cr_assert(strstr(r.out, "\"ELIGIBLE\":3,\"DUPLICATE\":1"), "%s", r.out);
	g_autofree char *export1 = g_build_filename(inbox, "exports", "batch-1.csv", NULL);
	g_autofree char *want_export1 = g_strdup_printf("\"export\":\"%s\"", export1);
	cr_assert(strstr(r.out, want_export1), "%s", r.out);
	h_result_clear(&r);
	cr_assert_eq(posted(db), 3200);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batches"), 1);
	cr_assert_eq(budget_left(db), 1800);
	cr_assert_eq(archived(inbox, "n1-a.csv"), 1);
	cr_assert_eq(archived(inbox, "n1-b.csv"), 1);
	cr_assert_eq(rejected(inbox, "n1-c.csv"), 1);
	g_autofree char *reason_path = g_build_filename(inbox, "rejected", "n1-c.csv.reason", NULL);
	g_autofree char *reason = h_read(reason_path, NULL);
	cr_assert(strstr(reason, "7.51") && strstr(reason, "7.50"), "reason: %s", reason);
	assert_inbox_empty(inbox);
	assert_export(inbox, 1, "合计,,,,,,,3,32.00,人民币叁拾贰元整");

	/* Night 2. n1-b comes again, the same bytes under the same name: skipped, and not archived
	 * twice. n2-a: A4, a second parcel of OA1: the order's fee 24.00 -> 12.00, capped at 10.00:
	 * +4.00 (funding key 06-05 10:00, first). A5: OA5 25.00 by S2 -> 20.00, but only 18.00 - 4.00
	 * = 14.00 is left: PARTIAL 14.00, 6.00 unfunded. Posted 18.00; left 0. Export: S1 1 order
	 * 4.00, S2 1 order 14.00: 2 orders, 18.00. */
	put(inbox, "n1-b.csv", HEADER "EMS,A1,OA1,2018-06-05 10:00:00,C1,,1,12.00,,\n"
				      "ZTO,B1,OB1,2018-06-06 09:00:00,ZT0001,,1,30.00,,\n");
	put(inbox, "n2-a.csv", HEADER "EMS,A4,OA1,2018-06-07 10:00:00,C1,,1,12.00,,\n"
				      "EMS,A5,OA5,2018-06-07 11:00:00,C2,,1,25.00,,\n");
	nightly_ok(db, inbox, TRUE, 0, &r);
	cr_assert(strstr(r.out, "\"status\":\"skipped\""), "%s", r.out);
	cr_assert(strstr(r.out, "\"settle\":{\"batch\":2,\"orders\":2,\"postings\":2,\"posted_fen\":1800,"
				"\"unfunded_fen\":600}"), "%s", r.out);
	h_result_clear(&r);
	cr_assert_eq(posted(db), 3200 + 1800);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batches"), 2);
	cr_assert_eq(budget_left(db), 0);
	cr_assert_eq(h_sql_int(db, "SELECT unfunded_fen FROM orders WHERE order_no = 'OA5'"), 600);
	cr_assert_eq(archived(inbox, "n1-b.csv"), 1);
	cr_assert_eq(archived(inbox, "n2-a.csv"), 1);
	assert_inbox_empty(inbox);
	assert_export(inbox, 2, "合计,,,,,,,2,18.00,人民币壹拾捌元整");

	/* Night 3, after a new pool "more" of 10.00 is loaded. A file named n2-a.csv again, other
	 * bytes: stored, archived as n2-a.csv.1 beside the first. OB2 4.00 by S1 -> 2.00. The
	 * settlement retries OA5's 6.00 (funding key 06-07 11:00) before OB2 (06-08): both funded
	 * from "more", 8.00; left 10.00 - 8.00 = 2.00. Export: S1 1 order 2.00, S2 1 order 6.00. */
	load_budgets(db, "pool_id,name,amount,valid_from,valid_to,priority\n"
			 "big,大池,50.00,2016-01-01,2018-12-31,1\n"
			 "more,追加,10.00,2016-01-01,2018-12-31,2\n");
	put(inbox, "n2-a.csv", HEADER "ZTO,B2,OB2,2018-06-08 10:00:00,ZT0001,,1,4.00,,\n");
	nightly_ok(db, inbox, FALSE, 0, &r);
	cr_assert(strstr(r.out, "batch 3: 2 postings for 2 orders, 8.00 yuan posted; 0.00 yuan owed and not funded"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "more 2.00 of 10.00"), "%s", r.out);
	cr_assert(strstr(r.out, "archived n2-a.csv as n2-a.csv.1"), "%s", r.out);
	h_result_clear(&r);
	cr_assert_eq(posted(db), 3200 + 1800 + 800);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batches"), 3);
	cr_assert_eq(budget_left(db), 200);
	cr_assert_eq(archived(inbox, "n2-a.csv"), 2);
	assert_inbox_empty(inbox);
	assert_export(inbox, 3, "合计,,,,,,,2,8.00,人民币捌元整");
	/* Every order has what it is entitled to: 10 + 16 + 10 + 20 + 2 = 58.00, nothing unfunded. */
	cr_assert_eq(h_sql_int(db, "SELECT sum(entitlement_fen) FROM orders"), 5800);
	cr_assert_eq(h_sql_int(db, "SELECT sum(unfunded_fen) FROM orders"), 0);

	/* The same night again, the inbox empty: nothing changes, and the summary says so. */
	g_autofree char *before = h_ledger_dump(db);
	nightly_ok(db, inbox, FALSE, 0, &r);
	cr_assert(strstr(r.out, "nothing to do"), "%s", r.out);
	h_result_clear(&r);
	nightly_ok(db, inbox, TRUE, 0, &r);
	cr_assert(strstr(r.out, "\"export\":null") && strstr(r.out, "\"files\":[]"), "%s", r.out);
	h_result_clear(&r);
	g_autofree char *after = h_ledger_dump(db);
	cr_assert_str_eq(after, before);
	g_autofree char *export4 = g_build_filename(inbox, "exports", "batch-4.csv", NULL);
	cr_assert(!g_file_test(export4, G_FILE_TEST_EXISTS));
}

/* ------------------------------------------------------------------------------------------ */
/* Killed at any point                                                                         */

/* Five files: a and b stored (b repeats a waybill of a: DUPLICATE), c refused (its 合计 is one
 * fen off), d the same bytes as a (skipped), e a zto file stored. */
static void fill_kill_inbox(const char *inbox)
{
	static const char a[] = HEADER "EMS,K1,K1,2018-06-05 10:00:00,C1,,1,12.00,,\n"
				       "EMS,K2,K2,2018-06-05 10:01:00,C2,,1,30.00,,\n"
				       "EMS,K3,K1,2018-06-05 10:02:00,C1,,1,12.00,,\n";
	put(inbox, "a.csv", a);
	put(inbox, "b.csv", HEADER "EMS,K2,K2,2018-06-05 10:01:00,C2,,1,30.00,,\n"
				   "EMS,K4,K4,2018-06-06 10:00:00,C4,,1,20.00,,\n");
	put(inbox, "c.csv", ZTO_HEADER "=\"75300000000009\",2018-06-06 08:30,ZT0004,,1.1,￥7.50,TB9,水果,海南省\n"
				       "合计,,,,,￥7.49,,,\n");
	put(inbox, "d.csv", a);
	put(inbox, "e.csv", ZTO_HEADER "=\"75300000000001\",2018-06-06 08:30,ZT0001,,1.1,￥7.50,TB1,水果,海南省\n"
				       "=\"75300000000002\",2018-06-06 08:31,ZT0004,,2.4,￥13.20,TB2,水果,广西\n"
				       "合计,,,,,￥20.70,,,\n");
}

static char *clone_name; /* the clone in use, dropped at exit should the test fail */

static void drop_clone_at_exit(void)
{
	if (!clone_name)
		return;
	g_autofree char *postgres = g_strdup_printf("%s dbname=postgres", g_getenv("SUBSIDY_TEST_ADMIN"));
	g_autofree char *drop = g_strdup_printf("DROP DATABASE IF EXISTS %s WITH (FORCE)", clone_name);
	PGconn *c = PQconnectdb(postgres);
	PQclear(PQexec(c, drop));
	PQfinish(c);
	g_clear_pointer(&clone_name, g_free);
}

/* A database with fixtures/small loaded, cloned from prepared (a database no one is connected to),
 * dropped with drop_db or at exit; named like the harness's, so scripts/check would sweep it up
 * too. */
static char *clone_db(const char *prepared_name, int i)
{
	const char *admin = g_getenv("SUBSIDY_TEST_ADMIN");
	g_autofree char *postgres = g_strdup_printf("%s dbname=postgres", admin);
	g_autofree char *name = g_strdup_printf("t_%d_k%d", (int)getpid(), i);
	g_autofree char *create = g_strdup_printf("CREATE DATABASE %s TEMPLATE %s", name, prepared_name);
	static gboolean registered;
	if (!registered)
		registered = atexit(drop_clone_at_exit) == 0;
	g_assert(clone_name == NULL);
	clone_name = g_strdup(name);
	for (int attempt = 0;; attempt++) {
		g_autofree char *msg = NULL;
		if (h_exec(postgres, create, &msg))
			break;
		cr_assert(attempt < 200 && strstr(msg, "being accessed by other users"), "%s: %s", create, msg);
		g_usleep(50 * 1000);
	}
	return g_strdup_printf("%s dbname=%s", admin, name);
}

static void drop_db(const char *conninfo)
{
	g_autofree char *name = h_sql(conninfo, "SELECT current_database()");
	cr_assert_str_eq(name, clone_name);
	h_disconnect(conninfo);
	drop_clone_at_exit();
}

/* Every input file is archived or rejected exactly once, and nothing is left in the inbox. */
static void assert_files_placed(const char *inbox, const char *where)
{
	static const char *const stored[] = { "a.csv", "b.csv", "d.csv", "e.csv" };
	for (size_t i = 0; i < G_N_ELEMENTS(stored); i++) {
		cr_assert_eq(archived(inbox, stored[i]), 1, "%s: %s archived %d times", where, stored[i],
			     archived(inbox, stored[i]));
		cr_assert_eq(rejected(inbox, stored[i]), 0, "%s: %s rejected", where, stored[i]);
	}
	cr_assert_eq(rejected(inbox, "c.csv"), 1, "%s: c.csv rejected %d times", where, rejected(inbox, "c.csv"));
	cr_assert_eq(archived(inbox, "c.csv"), 0, "%s: c.csv archived", where);
	g_autofree char *reason = g_build_filename(inbox, "rejected", "c.csv.reason", NULL);
	cr_assert(g_file_test(reason, G_FILE_TEST_IS_REGULAR), "%s: no %s", where, reason);
	g_autofree char *left = left_in_inbox(inbox);
	cr_assert_str_eq(left, "", "%s: left in the inbox: %s", where, left);
}

/* The fault points of nightly: after the lock, inside and after each file's ingest transaction,
 * before and after each file's move, between a refused file's reason and its move, at every point
 * of the settlement, after it, after the export. */
static const char *const kill_points[] = {
	"nightly:locked",
	"ingest:chunk@1", "ingest:chunk@2", "ingest:chunk@3",
	"ingest:before-commit@1", "ingest:before-commit@2", "ingest:before-commit@3",
	"ingest:committed@1", "ingest:committed@2", "ingest:committed@3",
	"nightly:ingested@1", "nightly:ingested@2", "nightly:ingested@3", "nightly:ingested@4",
	"nightly:ingested@5",
	"nightly:reason-written",
	"nightly:moved@1", "nightly:moved@2", "nightly:moved@3", "nightly:moved@4", "nightly:moved@5",
	"settle:priced", "settle:funded", "settle:recorded", "settle:before-commit", "settle:committed",
	"nightly:settled", "nightly:exported",
};
/* The points are dealt to this many tests, which the runner runs in parallel (point i to the test
 * i % KILL_GROUPS): each computes the uninterrupted run once for its share. */
#define KILL_GROUPS 4

ParameterizedTestParameters(nightly, killed_at_any_point_the_reruns_give_the_uninterrupted_result)
{
	H_INDEX_PARAMETERS(KILL_GROUPS);
}

/* nightly killed (SIGKILL) at each of its share of kill_points, then rerun without the fault until
 * it exits 0: the ledger is the uninterrupted run's, entry for entry; every line is stored once,
 * nothing is paid twice, every file is archived or rejected exactly once, the export is there. */
ParameterizedTest(int *group, nightly, killed_at_any_point_the_reruns_give_the_uninterrupted_result)
{
	cr_assert(*group >= 0 && *group < KILL_GROUPS);
	const char *prepared = h_fresh_db();
	h_load_registry(prepared, "fixtures/small");
	g_autofree char *prepared_name = h_sql(prepared, "SELECT current_database()");
	h_disconnect(prepared); /* a template has no sessions */

	/* The uninterrupted run, in the same inbox folder every time (files are named by path). */
	g_autofree char *inbox = new_inbox("kill-inbox");
	g_autofree char *ref = clone_db(prepared_name, 0);
	fill_kill_inbox(inbox);
	nightly_ok(ref, inbox, FALSE, 1, NULL);
	g_autofree char *want = h_ledger_dump(ref);
	int64_t want_lines = h_sql_int(ref, "SELECT count(*) FROM lines");
	int64_t want_posted = posted(ref);
	cr_assert_eq(want_lines, 3 + 2 + 2);
	/* K1: 12.00 + 12.00 by S1 -> 10.00 (capped); K2: 30.00 by S2 (poverty) -> 24.00; K4: S4 not yet
	 * registered on 06-06; e: 7.50 by S1 -> 3.75, 13.20 by S3 -> 6.60. */
	cr_assert_eq(want_posted, 1000 + 2400 + 375 + 660);
	assert_files_placed(inbox, "uninterrupted");
	g_autofree char *export_path = g_build_filename(inbox, "exports", "batch-1.csv", NULL);
	g_autofree char *want_totals = totals_row(export_path);
	drop_db(ref);

	int tried = 0;
	for (size_t i = (size_t)*group; i < G_N_ELEMENTS(kill_points); i += KILL_GROUPS, tried++) {
		const char *point = kill_points[i];
		g_free(new_inbox("kill-inbox"));
		g_autofree char *db = clone_db(prepared_name, (int)i + 1);
		fill_kill_inbox(inbox);
		H_RUN_KILLED(db, point, "nightly", "--inbox", inbox);
		/* Rerun until done: exit 1 while the refused file was still in the inbox, then 0. */
		h_result r;
		int attempts = 0;
		do {
			r = nightly(db, inbox, FALSE);
			cr_assert(r.status == 0 || r.status == 1, "%s: rerun exit %d\n%s", point, r.status, r.err);
			h_result_clear(&r);
		} while (r.status != 0 && ++attempts < 3);
		cr_assert_eq(r.status, 0, "%s: the reruns never exit 0", point);

		g_autofree char *got = h_ledger_dump(db);
		cr_assert_str_eq(got, want, "%s: the ledger after the reruns differs", point);
		cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines"), want_lines, "%s: lines", point);
		cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM (SELECT name FROM files GROUP BY name"
					   " HAVING count(*) > 1) t"), 0, "%s: a file stored twice", point);
		cr_assert_eq(posted(db), want_posted, "%s: paid", point);
		cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batches"), 1, "%s: batches", point);
		assert_files_placed(inbox, point);
		g_autofree char *totals = totals_row(export_path);
		cr_assert_str_eq(totals, want_totals, "%s: export", point);
		drop_db(db);
	}
	/* No test without a point: KILL_GROUPS is not more than the points. */
	cr_assert_gt(tried, 0, "group %d of %d has no kill point", *group, KILL_GROUPS);
}

/* ------------------------------------------------------------------------------------------ */
/* The settlement lock                                                                         */

Test(nightly, a_held_settlement_lock_exits_75_and_changes_nothing)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = new_inbox("inbox");
	put(inbox, "n1.csv", HEADER "EMS,X1,X1,2018-06-05 10:00:00,C1,,1,12.00,,\n");
	int64_t runs = h_sql_int(db, "SELECT count(*) FROM runs");

	PGconn *holder = h_hold_settlement_lock(db);
	h_result r = nightly(db, inbox, TRUE);
	cr_assert_eq(r.status, 75, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "lock"), "%s", r.err);
	/* --json: no report, one error object for the monitor. */
	cr_assert(g_str_has_prefix(r.out, "{\"error\":{\"status\":75,\"message\":\"another run holds the settlement"
					  " lock"), "%s", r.out);
	h_result_clear(&r);
	/* Nothing changed: no run recorded, no file taken, no folder made. */
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM runs"), runs);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM files"), 0);
	g_autofree char *left = left_in_inbox(inbox);
	cr_assert_str_eq(left, "n1.csv");
	g_autofree char *archive = g_build_filename(inbox, "archive", NULL);
	g_autofree char *exports = g_build_filename(inbox, "exports", NULL);
	cr_assert(!g_file_test(archive, G_FILE_TEST_EXISTS) && !g_file_test(exports, G_FILE_TEST_EXISTS));
	PQfinish(holder);

	nightly_ok(db, inbox, FALSE, 0, NULL);
	cr_assert_eq(posted(db), 600);
	assert_inbox_empty(inbox);
}

Test(nightly, two_runs_started_together_do_the_work_once)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = new_inbox("inbox");
	/* Two files of 1500 orders each, so the first run is still working when the second starts. */
	for (int f = 0; f < 2; f++) {
		GString *csv = g_string_new(HEADER);
		for (int i = 0; i < 1500; i++)
			g_string_append_printf(csv, "EMS,W%d%04d,O%d%04d,2018-06-05 10:%02d:00,C1,,1,12.00,,\n", f,
					       i, f, i, i % 60);
		g_autofree char *name = g_strdup_printf("many-%d.csv", f);
		put(inbox, name, csv->str);
		g_string_free(csv, TRUE);
	}
	int codes[2];
	h_run_together(db, codes, "nightly", "--inbox", inbox, NULL);
	cr_assert((codes[0] == 0 && codes[1] == 75) || (codes[0] == 75 && codes[1] == 0) ||
		  (codes[0] == 0 && codes[1] == 0), "exits %d and %d", codes[0], codes[1]);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM files"), 2);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batches"), 1);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM postings"), 3000);
	cr_assert_eq(posted(db), 3000 * 600);
	cr_assert_eq(archived(inbox, "many-0.csv"), 1);
	cr_assert_eq(archived(inbox, "many-1.csv"), 1);
	assert_inbox_empty(inbox);
	assert_export(inbox, 1, "合计,,,,,,,3000,18000.00,人民币壹万捌仟元整");
}

/* ------------------------------------------------------------------------------------------ */
/* What is not a plain file                                                                    */

/* A symbolic link (to a good manifest outside the inbox, or to a folder) and a fifo are refused
 * and moved to rejected/ as they are, never followed or opened (opening the fifo would block: the
 * run is given RUN_LIMIT_S, under timeout(1)); a folder is skipped, not entered, not moved; a
 * dotfile and a .part file are uploads in progress, left alone. With --syslog, whether a syslog
 * daemon listens or not. (Not Criterion's .timeout: its runner leaks a timer when a test with a
 * nearer deadline starts after one with a farther one.) */
Test(nightly, links_fifos_and_folders_are_never_followed_or_opened)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = new_inbox("inbox");
	g_autofree char *outside = new_inbox("outside");
	put(outside, "target.csv", HEADER "EMS,L1,L1,2018-06-05 10:00:00,C1,,1,12.00,,\n");
	g_autofree char *target = g_build_filename(outside, "target.csv", NULL);
	put(inbox, "good.csv", HEADER "EMS,G1,G1,2018-06-05 10:00:00,C1,,1,12.00,,\n");
	g_autofree char *link = g_build_filename(inbox, "link.csv", NULL);
	g_autofree char *dirlink = g_build_filename(inbox, "dirlink", NULL);
	g_autofree char *fifo = g_build_filename(inbox, "fifo.csv", NULL);
	g_autofree char *sub = g_build_filename(inbox, "sub", NULL);
	cr_assert(symlink(target, link) == 0 && symlink(outside, dirlink) == 0 && mkfifo(fifo, 0644) == 0);
	cr_assert(g_mkdir(sub, 0755) == 0);
	put(sub, "inner.csv", HEADER "EMS,S1,S1,2018-06-05 10:00:00,C1,,1,12.00,,\n");
	put(inbox, ".upload.csv", HEADER "EMS,U1,U1,2018-06-05 10:00:00,C1,,1,12.00,,\n");
	put(inbox, "later.csv.part", HEADER "EMS,U2,U2,2018-06-05 10:00:00,C1,,1,12.00,,\n");

	const char *const args[] = { "timeout", RUN_LIMIT_S, g_getenv("SUBSIDY_BIN"), "--db", db, "nightly",
				     "--inbox", inbox, "--syslog", NULL };
	h_result r = { 0 };
	int wait_status = 0;
	cr_assert(g_spawn_sync(NULL, (char **)args, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &r.out, &r.err,
			       &wait_status, NULL));
	cr_assert(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 1,
		  "nightly: wait status %d (exit 124: it hung)\n%s", wait_status, r.err);
	cr_assert(strstr(r.err, "skipped folder 'sub'"), "%s", r.err);
	h_result_clear(&r);
	/* Only good.csv was read. */
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM files"), 1);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE waybill_no <> 'G1'"), 0);
	cr_assert_eq(archived(inbox, "good.csv"), 1);
	/* The link moved as a link, pointing where it did; its target untouched. */
	g_autofree char *moved_link = g_build_filename(inbox, "rejected", "link.csv", NULL);
	struct stat st;
	cr_assert(lstat(moved_link, &st) == 0 && S_ISLNK(st.st_mode));
	g_autofree char *points_to = g_file_read_link(moved_link, NULL);
	cr_assert_str_eq(points_to, target);
	cr_assert(g_file_test(target, G_FILE_TEST_IS_REGULAR));
	g_autofree char *link_reason_path = g_build_filename(inbox, "rejected", "link.csv.reason", NULL);
	g_autofree char *link_reason = h_read(link_reason_path, NULL);
	cr_assert(strstr(link_reason, "symbolic link"), "%s", link_reason);
	g_autofree char *moved_dirlink = g_build_filename(inbox, "rejected", "dirlink", NULL);
	cr_assert(lstat(moved_dirlink, &st) == 0 && S_ISLNK(st.st_mode));
	g_autofree char *moved_fifo = g_build_filename(inbox, "rejected", "fifo.csv", NULL);
	cr_assert(lstat(moved_fifo, &st) == 0 && S_ISFIFO(st.st_mode));
	g_autofree char *fifo_reason_path = g_build_filename(inbox, "rejected", "fifo.csv.reason", NULL);
	g_autofree char *fifo_reason = h_read(fifo_reason_path, NULL);
	cr_assert(strstr(fifo_reason, "fifo"), "%s", fifo_reason);
	/* The folder stays with what is in it; uploads in progress stay. */
	g_autofree char *inner = g_build_filename(sub, "inner.csv", NULL);
	cr_assert(g_file_test(inner, G_FILE_TEST_IS_REGULAR));
	g_autofree char *left = left_in_inbox(inbox);
	cr_assert(strstr(left, ".upload.csv") && strstr(left, "later.csv.part") &&
		  strlen(left) == strlen(".upload.csv later.csv.part"), "left in the inbox: %s", left);
}

/* ------------------------------------------------------------------------------------------ */
/* Moving files                                                                                */

/* The archive cannot be made (its path is a file): the run still settles and exports, prints its
 * summary, and exits 70; the stored file stays in the inbox, and the next run (with an archive)
 * skips it by its SHA-256 and archives it. */
Test(nightly, a_file_that_cannot_be_archived_stays_and_the_next_run_archives_it)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = new_inbox("inbox");
	put(inbox, "n1.csv", HEADER "EMS,M1,M1,2018-06-05 10:00:00,C1,,1,12.00,,\n");
	g_autofree char *blocker = h_write(h_tmpdir(), "not-a-folder", "x", -1);
	h_result r = h_run(db, "nightly", "--inbox", inbox, "--archive", blocker, NULL);
	cr_assert_eq(r.status, 70, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "not moved: n1.csv stays in the inbox") && strstr(r.out, "batch 1"), "%s", r.out);
	cr_assert(strstr(r.err, "the next run moves them"), "%s", r.err);
	h_result_clear(&r);
	g_autofree char *left = left_in_inbox(inbox);
	cr_assert_str_eq(left, "n1.csv");
	assert_export(inbox, 1, "合计,,,,,,,1,6.00,人民币陆元整");

	nightly_ok(db, inbox, TRUE, 0, &r);
	cr_assert(strstr(r.out, "\"status\":\"skipped\"") && strstr(r.out, "\"export\":null"), "%s", r.out);
	h_result_clear(&r);
	cr_assert_eq(archived(inbox, "n1.csv"), 1);
	assert_inbox_empty(inbox);
	cr_assert_eq(posted(db), 600);
}

/* An archive on another filesystem (/dev/shm, when it is one): the file is copied, synced, then
 * removed from the inbox. */
Test(nightly, an_archive_on_another_filesystem_gets_a_copy_and_the_inbox_loses_the_file)
{
	struct stat tmp_st, shm_st;
	g_autofree char *archive = g_strdup_printf("/dev/shm/subsidy-test-%d", (int)getpid());
	if (stat("/dev/shm", &shm_st) != 0 || stat(h_tmpdir(), &tmp_st) != 0 || shm_st.st_dev == tmp_st.st_dev)
		cr_skip_test("/dev/shm is not another filesystem here");
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = new_inbox("inbox");
	const char *text = HEADER "EMS,X1,X1,2018-06-05 10:00:00,C1,,1,12.00,,\n";
	put(inbox, "n1.csv", text);
	h_result r = h_run(db, "nightly", "--inbox", inbox, "--archive", archive, NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s%s", r.status, r.out, r.err);
	h_result_clear(&r);
	assert_inbox_empty(inbox);
	GDir *d = g_dir_open(archive, 0, NULL);
	cr_assert(d != NULL);
	const char *day = g_dir_read_name(d);
	cr_assert(day != NULL);
	g_autofree char *copy = g_build_filename(archive, day, "n1.csv", NULL);
	g_dir_close(d);
	g_autofree char *bytes = h_read(copy, NULL);
	cr_assert_str_eq(bytes, text);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", archive);
	cr_assert(system(cmd) == 0);
}

/* A refused entry whose NAME.reason is taken in rejected/ by something that is not a file (here a
 * link to nothing, left by hand) never replaces it: the entry goes under the next free name,
 * NAME.1, with its reason as NAME.1.reason, and no temporary file is left beside them. */
Test(nightly, a_reason_name_taken_by_a_link_is_left_and_the_next_name_is_used)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = new_inbox("inbox");
	g_autofree char *rejected_dir = g_build_filename(inbox, "rejected", NULL);
	cr_assert(g_mkdir(rejected_dir, 0755) == 0);
	g_autofree char *stale = g_build_filename(rejected_dir, "link.csv.reason", NULL);
	g_autofree char *link = g_build_filename(inbox, "link.csv", NULL);
	cr_assert(symlink("nowhere", stale) == 0 && symlink("elsewhere", link) == 0);
	h_result r = h_run(db, "nightly", "--inbox", inbox, NULL);
	cr_assert_eq(r.status, 1, "exit %d\n%s%s", r.status, r.out, r.err);
	h_result_clear(&r);
	g_autofree char *kept = g_file_read_link(stale, NULL);
	cr_assert_str_eq(kept, "nowhere");
	g_autofree char *moved = g_build_filename(rejected_dir, "link.csv.1", NULL);
	g_autofree char *points_to = g_file_read_link(moved, NULL);
	cr_assert_str_eq(points_to, "elsewhere");
	g_autofree char *reason_path = g_build_filename(rejected_dir, "link.csv.1.reason", NULL);
	g_autofree char *reason = h_read(reason_path, NULL);
	cr_assert(strstr(reason, "symbolic link"), "%s", reason);
	GDir *d = g_dir_open(rejected_dir, 0, NULL);
	cr_assert(d != NULL);
	int n = 0;
	for (const char *e; (e = g_dir_read_name(d)); n++)
		cr_assert(e[0] != '.', "a temporary file left in rejected/: %s", e);
	g_dir_close(d);
	cr_assert_eq(n, 3);
	assert_inbox_empty(inbox);
}

/* ------------------------------------------------------------------------------------------ */
/* The demo inbox                                                                              */

/* fixtures/inbox (scripts/make-demo-inbox) on the county registry, as `make demo` runs it: night 1
 * refuses the zto file whose 合计 is a fen off; night 2 skips the cainiao file sent again, stores
 * the corrected zto file, finds one DUPLICATE and one CONFLICT among EMS's repeated waybills. */
Test(nightly, the_demo_inbox_runs_two_nights_as_its_readme_says)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/registry");
	g_autofree char *inbox = new_inbox("inbox");
	static const char *const nights[] = { "fixtures/inbox/night1", "fixtures/inbox/night2" };
	static const int exits[] = { 1, 0 };
	for (int n = 0; n < 2; n++) {
		GDir *d = g_dir_open(nights[n], 0, NULL);
		cr_assert(d != NULL, "no %s: run scripts/make-demo-inbox", nights[n]);
		for (const char *e; (e = g_dir_read_name(d));) {
			g_autofree char *from = g_build_filename(nights[n], e, NULL);
			gsize len = 0;
			g_autofree char *bytes = h_read(from, &len);
			g_free(h_write(inbox, e, bytes, (gssize)len));
		}
		g_dir_close(d);
		h_result r;
		nightly_ok(db, inbox, TRUE, exits[n], &r);
		if (n == 0) {
			cr_assert(strstr(r.out, "\"status\":\"refused\""), "%s", r.out);
			cr_assert_eq(rejected(inbox, "zto-20180617-2.csv"), 1);
			cr_assert(strstr(r.out, "\"profile\":\"ems\"") && strstr(r.out, "\"profile\":\"cainiao\"") &&
				  strstr(r.out, "\"profile\":\"zto\"") && strstr(r.out, "\"profile\":\"canonical\""),
				  "%s", r.out);
		} else {
			cr_assert(strstr(r.out, "\"DUPLICATE\":1,\"CONFLICT\":1"), "%s", r.out);
			cr_assert_eq(archived(inbox, "cainiao-20180617-resent.csv"), 1);
			cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM files WHERE name LIKE '%resent%'"), 0);
		}
		h_result_clear(&r);
		assert_inbox_empty(inbox);
		assert_export(inbox, n + 1, n == 0 ? "合计,,,,,,,36,357.55,人民币叁佰伍拾柒元伍角伍分" : "合计,,,,,,,24,203.23,人民币贰佰零叁元贰角叁分");
	}
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM files"), 4 + 4);
	cr_assert_eq(posted(db), 35755 + 20323);
}

/* A database without the schema is bad usage (64), as for every other command, not an internal
 * error: the message says to run init, and the inbox is left as it was. */
Test(nightly, a_database_without_the_schema_exits_64_and_leaves_the_inbox)
{
	const char *db = h_fresh_db();
	g_autofree char *name = h_sql(db, "SELECT current_database() || '_bare'");
	g_autofree char *create = g_strdup_printf("CREATE DATABASE %s TEMPLATE template0", name);
	cr_assert(h_exec(db, create, NULL));
	g_autofree char *bare = g_strdup_printf("%s dbname=%s", g_getenv("SUBSIDY_TEST_ADMIN"), name);
	g_autofree char *inbox = new_inbox("bare-inbox");
	put(inbox, "n1.csv", HEADER "EMS,M1,M1,2018-06-05 10:00:00,C1,,1,12.00,,\n");
	h_result r = nightly(bare, inbox, TRUE);
	g_autofree char *drop = g_strdup_printf("DROP DATABASE %s", name);
	cr_assert(h_exec(db, drop, NULL));
	cr_assert_eq(r.status, 64, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.err, "subsidy init"), "%s", r.err);
	h_result_clear(&r);
	g_autofree char *left = left_in_inbox(inbox);
	cr_assert_str_eq(left, "n1.csv");
}

/* The configuration's export_dir is where nightly exports when no --export-dir is given. */
Test(nightly, the_config_export_dir_is_the_default_export_folder)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = new_inbox("config-inbox");
	g_autofree char *exports = new_inbox("config-exports");
	put(inbox, "n1.csv", HEADER "EMS,M1,M1,2018-06-05 10:00:00,C1,,1,12.00,,\n");
	g_autofree char *text = g_strdup_printf("[subsidy]\nexport_dir=%s\n", exports);
	g_autofree char *config = h_write(h_tmpdir(), "nightly.conf", text, -1);
	h_result r = h_run(db, "nightly", "--inbox", inbox, "--json", "--config", config, NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s%s", r.status, r.out, r.err);
	g_autofree char *want = g_build_filename(exports, "batch-1.csv", NULL);
	g_autofree char *key = g_strdup_printf("\"export\":\"%s\"", want);
	cr_assert(strstr(r.out, key), "%s", r.out);
	h_result_clear(&r);
	cr_assert(g_file_test(want, G_FILE_TEST_IS_REGULAR));
}

/* CLI.md: the log level is a setting of the configuration file. At warning, the run's routine
 * lines go unwritten and what a person must see stays; an unknown level is bad usage. */
Test(nightly, the_config_log_level_quiets_routine_lines)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = new_inbox("quiet-inbox");
	put(inbox, "n1.csv", HEADER "EMS,L1,L1,2018-06-05 10:00:00,C1,,1,12.00,,\n");
	put(inbox, "bad.csv", "not,a,manifest\n1,2,3\n");
	g_autofree char *config = h_write(h_tmpdir(), "quiet.conf", "[subsidy]\nlog_level=warning\n", -1);
	h_result r = h_run(db, "nightly", "--inbox", inbox, "--config", config, NULL);
	cr_assert_eq(r.status, 1, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(!strstr(r.err, "nightly: started"), "%s", r.err);
	cr_assert(!strstr(r.err, "nightly: stored"), "%s", r.err);
	cr_assert(strstr(r.err, "nightly: refused 'bad.csv'"), "%s", r.err);
	h_result_clear(&r);

	g_autofree char *bogus = h_write(h_tmpdir(), "bogus.conf", "[subsidy]\nlog_level=chatty\n", -1);
	r = h_run(db, "nightly", "--inbox", inbox, "--config", bogus, NULL);
	cr_assert_eq(r.status, 64, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.err, "log_level 'chatty'"), "%s", r.err);
	h_result_clear(&r);
}
