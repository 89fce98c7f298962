/* test_report.c: the programme report (REPORT.md), through the binary.
 *
 * The figures: a story the test makes itself on fixtures/small (S1 standard in 村一, S2 of household
 * H2 in 村二, S3 in 村三, S4 of household H4 in 村四, poor from 2018-06-12), every expected number
 * worked out by hand below from POLICY.md's arithmetic, never read back from the engine:
 *
 *   pool p1 40.00 (recorded 2018-06-01); night 1, batch 1 (made 2018-06-20 10:00 China time):
 *     O1 S1 EMS W1 06-05 fee 12.00   standard  600  from p1        c618
 *     O2 S2 EMS W2 06-05 fee 20.00   poverty  1600  from p1        c618
 *     O3 S1 ZTO Z1 06-06 fee 30.00   standard 1000  from p1        c618
 *     O5 S4 EMS W3 06-15 fee 10.00   poverty   800  from p1 (p1 is now empty)
 *     O4 S3 ZTO Z2 11-05 fee  8.00   standard  400  BUDGET_EXHAUSTED, 400 unfunded   d11
 *     and lines that pay nothing: W9 (06-05, fee "abc": REJECTED), W8 (pickup unreadable: REJECTED),
 *     W7 (05-31: NOT_IN_CAMPAIGN). A REJECTED line is stored with no pickup time (W9's neither),
 *     so it counts only in a report without a range.
 *   the treasury pays S1's batch 1 (16.00, 成功) and fails S2's (16.00, 失败)
 *   pool p2 20.00 loaded (recorded 2018-06-20 12:00)
 *   night 2, batch 2 (made 2018-06-21 00:30 China time, still 06-20 in UTC):
 *     O1 second parcel EMS W4 06-07 fee 12.00: 24.00 capped at 10.00, +400 from p2
 *     O6 S1 YTO Y1 06-08 fee 6.00   standard  300 from p2
 *     O4 retried: 400 from p2 (p2 left 900)
 *   H2 corrected: poor only until 2018-06-01; batch 3 (made 2018-06-21 23:30):
 *     O2 is standard now: 20.00 -> 10.00, REVERSAL -600, back to p1 (p1 left 600)
 *
 * The page: rendered by a real browser (Debian's chromium-headless-shell) to PNG and PDF; the PNG
 * must not be blank, the PDF must be at most six A4 pages. A missing browser fails the test. */
#include "harness.h"

#include <criterion/criterion.h>
#include <gio/gio.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"
#define HOUSEHOLDS "household_id,head_name,village,poor_from,poor_to\n"
#define BUDGETS "pool_id,name,amount,valid_from,valid_to,priority\n"
#define PAYMENTS "批次号,店铺编号,金额(元),状态,支付时间,流水号\r\n"

#define OUTCOMES_ZERO_AFTER_ELIGIBLE ""

static void load_small_but_budgets(const char *db)
{
	static const char *const kinds[] = { "policies", "shops", "senders", "households", "campaigns" };
	for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
		g_autofree char *rel = g_strdup_printf("fixtures/small/%s.csv", kinds[i]);
		g_autofree char *path = h_path(rel);
		h_result r = h_run(db, "registry", "load", kinds[i], path, NULL);
		cr_assert(r.status == 0 || r.status == 1, "load %s: exit %d %s", kinds[i], r.status, r.err);
		h_result_clear(&r);
	}
}

static void exec_or_fail(const char *db, const char *sql)
{
	char *err = NULL;
	cr_assert(h_exec(db, sql, &err), "%s: %s", sql, err);
}

/* The story of the header comment; stop_after_batch 2 leaves it before H2's correction. */
static const char *story_upto(int stop_after_batch)
{
	const char *db = h_fresh_db();
	load_small_but_budgets(db);
	h_load_text(db, "budgets", BUDGETS "p1,一号池,40.00,2016-01-01,2018-12-31,1\n");
	h_ingest_text(db, "n1.csv",
		      HEADER "EMS,W1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n"
			     "EMS,W2,O2,2018-06-05 11:00:00,C2,,1,20.00,,\n"
			     "ZTO,Z1,O3,2018-06-06 09:00:00,ZT0001,,1,30.00,,\n"
			     "EMS,W3,O5,2018-06-15 10:00:00,C4,,1,10.00,,\n"
			     "ZTO,Z2,O4,2018-11-05 10:00:00,CN0003,,1,8.00,,\n"
			     "EMS,W9,O9,2018-06-05 12:00:00,C1,,1,abc,,\n"
			     "EMS,W8,O8,not a time,C1,,1,5.00,,\n"
			     "EMS,W7,O7,2018-05-31 10:00:00,C1,,1,5.00,,\n",
		      0);
	/* The premise the expected line counts rest on: a rejected line keeps its courier, no pickup. */
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE waybill_no IN ('W8', 'W9')"
				   " AND outcome = 'REJECTED' AND courier = 'EMS' AND pickup_time IS NULL"),
		     2);
	g_autofree char *b1 = h_settle(db);
	cr_assert_str_eq(b1, "{\"batch\":1,\"orders\":5,\"postings\":5,\"posted_fen\":4000,\"unfunded_fen\":400}");

	g_autofree char *pay = h_write(h_tmpdir(), "pay1.csv",
				       PAYMENTS "1,S1,16.00,成功,2018-06-22 10:00:00,T001\r\n"
						"1,S2,16.00,失败,2018-06-22 10:00:01,T002\r\n",
				       -1);
	h_approve_all(db); /* four eyes first (CONTROL.md) */
	h_result r = h_run(db, "payments", "load", pay, NULL);
	cr_assert_eq(r.status, 0, "payments load: exit %d\n%s%s", r.status, r.out, r.err);
	h_result_clear(&r);

	h_load_text(db, "budgets",
		    BUDGETS "p1,一号池,40.00,2016-01-01,2018-12-31,1\np2,二号池,20.00,2016-01-01,2018-12-31,2\n");
	h_ingest_text(db, "n2.csv",
		      HEADER "EMS,W4,O1,2018-06-07 10:00:00,C1,,1,12.00,,\n"
			     "YTO,Y1,O6,2018-06-08 10:00:00,YT0001,,1,6.00,,\n",
		      0);
	g_autofree char *b2 = h_settle(db);
	cr_assert_str_eq(b2, "{\"batch\":2,\"orders\":3,\"postings\":3,\"posted_fen\":1100,\"unfunded_fen\":0}");
	if (stop_after_batch > 2) {
		h_load_text(db, "households", HOUSEHOLDS "H2,符春花,村二,2015-01-01,2018-06-01\nH4,欧阳小锋,村四,2018-06-12,\n");
		g_autofree char *b3 = h_settle(db);
		cr_assert_str_eq(b3, "{\"batch\":3,\"orders\":1,\"postings\":1,\"posted_fen\":-600,\"unfunded_fen\":0}");
	}
	/* The story's clock: the batches on two China-time days, the pools loaded as told. Only a
	 * superuser with the triggers off can rewrite these (the report checks no digest). */
	exec_or_fail(db, "SET session_replication_role = replica;"
			 "UPDATE batches SET created_at = CASE batch_id WHEN 1 THEN '2018-06-20 10:00:00+08'"
			 " WHEN 2 THEN '2018-06-21 00:30:00+08' ELSE '2018-06-21 23:30:00+08' END::timestamptz;"
			 "UPDATE pools SET recorded_at = CASE pool_id WHEN 'p1' THEN '2018-06-01 00:00:00+08'"
			 " ELSE '2018-06-20 12:00:00+08' END::timestamptz");
	return db;
}

static char *report_json(const char *db, const char *from, const char *to)
{
	const char *args[8] = { "report", "--json" };
	int n = 2;
	if (from) {
		args[n++] = "--from";
		args[n++] = from;
	}
	if (to) {
		args[n++] = "--to";
		args[n++] = to;
	}
	h_result r = h_runv(db, args);
	cr_assert_eq(r.status, 0, "report: exit %d\n%s%s", r.status, r.out, r.err);
	char *out = g_strdup(g_strstrip(r.out));
	h_result_clear(&r);
	return out;
}

#define OUTCOMES(eligible, rejected, not_in_campaign)                                                             \
	"\"outcomes\":{\"ELIGIBLE\":" #eligible ",\"DUPLICATE\":0,\"CONFLICT\":0,\"REJECTED\":" #rejected          \
	",\"UNREGISTERED_SHOP\":0,\"AMBIGUOUS_SHOP\":0,\"NOT_REGISTERED_ON_DATE\":0,\"OUTSIDE_POLICY_PERIOD\":0,"  \
	"\"NOT_IN_CAMPAIGN\":" #not_in_campaign ",\"INELIGIBLE_PRODUCT\":0}}"

/* Whatever the range: 06-20 after batch 1, p1 only (p2 came at noon): 40.00 - 40.00; 06-21 after
 * batch 3, p1 and p2: 60.00 - (40.00 + 11.00 - 6.00). */
#define BURN_DOWN "\"burn_down\":[{\"date\":\"2018-06-20\",\"left_fen\":0},{\"date\":\"2018-06-21\",\"left_fen\":1500}],"

Test(report, the_whole_programme_by_village_campaign_courier_pool_and_day)
{
	const char *db = story_upto(3);
	g_autofree char *got = report_json(db, NULL, NULL);
	/* Villages bytewise: 村一 (E4 B8 80) < 村三 (E4 B8 89) < 村二 (E4 BA 8C) < 村四 (E5 9B 9B). */
	const char *want =
		"{\"from\":null,\"to\":null,\"orders\":6,\"shops_paid\":4,\"posted_fen\":4500,\"paid_fen\":1600,"
		"\"unfunded_fen\":0,"
		"\"poverty\":{\"villages_total\":2,\"villages_reached\":1,\"households_paid\":1,\"orders\":1,"
		"\"posted_fen\":800},"
		"\"by_village\":[{\"village\":\"村一\",\"orders\":3,\"posted_fen\":2300,\"poverty_posted_fen\":0},"
		"{\"village\":\"村三\",\"orders\":1,\"posted_fen\":400,\"poverty_posted_fen\":0},"
		"{\"village\":\"村二\",\"orders\":1,\"posted_fen\":1000,\"poverty_posted_fen\":0},"
		"{\"village\":\"村四\",\"orders\":1,\"posted_fen\":800,\"poverty_posted_fen\":800}],"
		"\"by_campaign\":[{\"campaign_id\":\"c618\",\"orders\":5,\"posted_fen\":4100},"
		"{\"campaign_id\":\"d11\",\"orders\":1,\"posted_fen\":400}],"
		"\"by_courier\":[{\"courier\":\"EMS\",\"lines\":7,\"eligible\":4,\"posted_fen\":2800},"
		"{\"courier\":\"YTO\",\"lines\":1,\"eligible\":1,\"posted_fen\":300},"
		"{\"courier\":\"ZTO\",\"lines\":2,\"eligible\":2,\"posted_fen\":1400}],"
		"\"pools\":[{\"pool_id\":\"p1\",\"amount_fen\":4000,\"drawn_fen\":3400,\"left_fen\":600},"
		"{\"pool_id\":\"p2\",\"amount_fen\":2000,\"drawn_fen\":1100,\"left_fen\":900}]," BURN_DOWN
		OUTCOMES(7, 2, 1);
	cr_assert_str_eq(got, want, "got\n%s\nwanted\n%s", got, want);
}

Test(report, a_range_with_a_reversal_inside_it)
{
	const char *db = story_upto(3);
	/* O1, O2 (reversed to 10.00) and O3; lines picked up on those days: W1, W2 (EMS), Z1 (ZTO);
	 * W8 and W9, with no pickup time read, only without a range. Drawn: O1 6.00 from p1 and 4.00
	 * from p2, O2 16.00 - 6.00 from p1, O3 10.00 from p1. Paid: S1's batch 1 (O1 6.00, O3 10.00). */
	g_autofree char *got = report_json(db, "2018-06-05", "2018-06-06");
	const char *want =
		"{\"from\":\"2018-06-05\",\"to\":\"2018-06-06\",\"orders\":3,\"shops_paid\":2,\"posted_fen\":3000,"
		"\"paid_fen\":1600,\"unfunded_fen\":0,"
		"\"poverty\":{\"villages_total\":2,\"villages_reached\":0,\"households_paid\":0,\"orders\":0,"
		"\"posted_fen\":0},"
		"\"by_village\":[{\"village\":\"村一\",\"orders\":2,\"posted_fen\":2000,\"poverty_posted_fen\":0},"
		"{\"village\":\"村二\",\"orders\":1,\"posted_fen\":1000,\"poverty_posted_fen\":0}],"
		"\"by_campaign\":[{\"campaign_id\":\"c618\",\"orders\":3,\"posted_fen\":3000}],"
		"\"by_courier\":[{\"courier\":\"EMS\",\"lines\":2,\"eligible\":2,\"posted_fen\":2000},"
		"{\"courier\":\"ZTO\",\"lines\":1,\"eligible\":1,\"posted_fen\":1000}],"
		"\"pools\":[{\"pool_id\":\"p1\",\"amount_fen\":4000,\"drawn_fen\":2600,\"left_fen\":600},"
		"{\"pool_id\":\"p2\",\"amount_fen\":2000,\"drawn_fen\":400,\"left_fen\":900}]," BURN_DOWN
		OUTCOMES(3, 0, 0);
	cr_assert_str_eq(got, want, "got\n%s\nwanted\n%s", got, want);
}

Test(report, an_open_ended_range_and_the_poverty_figures_before_a_correction)
{
	const char *db = story_upto(3);
	/* From 06-15: O5 (S4, poverty, 村四) and O4 (S3, d11); W3 and Z2 picked up since. */
	g_autofree char *got = report_json(db, "2018-06-15", NULL);
	const char *want =
		"{\"from\":\"2018-06-15\",\"to\":null,\"orders\":2,\"shops_paid\":2,\"posted_fen\":1200,\"paid_fen\":0,"
		"\"unfunded_fen\":0,"
		"\"poverty\":{\"villages_total\":2,\"villages_reached\":1,\"households_paid\":1,\"orders\":1,"
		"\"posted_fen\":800},"
		"\"by_village\":[{\"village\":\"村三\",\"orders\":1,\"posted_fen\":400,\"poverty_posted_fen\":0},"
		"{\"village\":\"村四\",\"orders\":1,\"posted_fen\":800,\"poverty_posted_fen\":800}],"
		"\"by_campaign\":[{\"campaign_id\":\"c618\",\"orders\":1,\"posted_fen\":800},"
		"{\"campaign_id\":\"d11\",\"orders\":1,\"posted_fen\":400}],"
		"\"by_courier\":[{\"courier\":\"EMS\",\"lines\":1,\"eligible\":1,\"posted_fen\":800},"
		"{\"courier\":\"ZTO\",\"lines\":1,\"eligible\":1,\"posted_fen\":400}],"
		"\"pools\":[{\"pool_id\":\"p1\",\"amount_fen\":4000,\"drawn_fen\":800,\"left_fen\":600},"
		"{\"pool_id\":\"p2\",\"amount_fen\":2000,\"drawn_fen\":400,\"left_fen\":900}]," BURN_DOWN
		OUTCOMES(2, 0, 0);
	cr_assert_str_eq(got, want, "got\n%s\nwanted\n%s", got, want);

	/* Before H2's correction O2 is a poverty order of 村二: two villages reached, two households,
	 * and 06-21's point is after batch 2: 60.00 - (40.00 + 11.00). */
	const char *before = story_upto(2);
	g_autofree char *all = report_json(before, NULL, NULL);
	cr_assert(strstr(all, "\"poverty\":{\"villages_total\":2,\"villages_reached\":2,\"households_paid\":2,"
			      "\"orders\":2,\"posted_fen\":2400}"),
		  "%s", all);
	cr_assert(strstr(all, "\"burn_down\":[{\"date\":\"2018-06-20\",\"left_fen\":0},{\"date\":\"2018-06-21\","
			      "\"left_fen\":900}]"),
		  "%s", all);
}

Test(report, no_batch_yet_is_a_report_of_nothing)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *got = report_json(db, NULL, NULL);
	const char *want = "{\"from\":null,\"to\":null,\"orders\":0,\"shops_paid\":0,\"posted_fen\":0,\"paid_fen\":0,"
			   "\"unfunded_fen\":0,\"poverty\":{\"villages_total\":2,\"villages_reached\":0,"
			   "\"households_paid\":0,\"orders\":0,\"posted_fen\":0},\"by_village\":[],\"by_campaign\":[],"
			   "\"by_courier\":[],\"pools\":[{\"pool_id\":\"big\",\"amount_fen\":10000000,\"drawn_fen\":0,"
			   "\"left_fen\":10000000}],\"burn_down\":[]," OUTCOMES(0, 0, 0);
	cr_assert_str_eq(got, want, "got\n%s\nwanted\n%s", got, want);
}

/* Every role that reads the ledger gets the same figures; a login role that is none of them exits
 * 77; the report changes nothing. */
Test(report, auditor_engine_and_finance_may_run_it_and_it_changes_nothing)
{
	const char *db = story_upto(3);
	g_autofree char *admin = report_json(db, NULL, NULL);
	g_autofree char *dump_before = h_ledger_dump(db);
	int64_t runs_before = h_sql_int(db, "SELECT count(*) FROM runs");
	static const char *const roles[] = { "subsidy_auditor", "subsidy_engine", "subsidy_finance" };
	for (size_t i = 0; i < G_N_ELEMENTS(roles); i++) {
		g_autofree char *conn = h_as_role(db, roles[i]);
		g_autofree char *got = report_json(conn, NULL, NULL);
		cr_assert_str_eq(got, admin, "as %s", roles[i]);
		g_autofree char *html = g_build_filename(h_tmpdir(), "as-role.html", NULL);
		h_result r = h_run(conn, "report", "-o", html, NULL);
		cr_assert_eq(r.status, 0, "report -o as %s: exit %d\n%s", roles[i], r.status, r.err);
		h_result_clear(&r);
	}
	exec_or_fail(db, "DO $$ BEGIN CREATE ROLE subsidy_report_nobody LOGIN;"
			 " EXCEPTION WHEN duplicate_object THEN NULL; END $$");
	g_autofree char *nobody = h_as_role(db, "subsidy_report_nobody");
	h_result r = h_run(nobody, "report", "--json", NULL);
	cr_assert_eq(r.status, 77, "a role that reads nothing: exit %d\n%s%s", r.status, r.out, r.err);
	h_result_clear(&r);
	g_autofree char *dump_after = h_ledger_dump(db);
	cr_assert_str_eq(dump_after, dump_before);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM runs"), runs_before);
}

Test(report, usage_errors_exit_64)
{
	const char *db = h_fresh_db();
	const char *const cases[][8] = {
		{ "report", NULL },
		{ "report", "--json", "-o", "x.html", NULL },
		{ "report", "-o", "x.pdf", NULL },
		{ "report", "--json", "--from", "2018-06-30", "--to", "2018-06-01", NULL },
		{ "report", "--json", "--from", "2018-02-30", NULL },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		h_result r = h_runv(db, cases[i]);
		cr_assert_eq(r.status, 64, "case %zu: exit %d\n%s", i, r.status, r.err);
		h_result_clear(&r);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* The XLSX: one sheet per table, numbers as numbers                                           */

static int spawn(const char *const *argv, char **out, char **err)
{
	int wait_status = 0;
	GError *error = NULL;
	cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out, err, &wait_status,
			       &error),
		  "cannot run %s: %s", argv[0], error ? error->message : "?");
	return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128;
}

static const char xlsx_dump[] = "import openpyxl, sys\n"
				"wb = openpyxl.load_workbook(sys.argv[1])\n"
				"for ws in wb.worksheets:\n"
				"    print('#' + ws.title)\n"
				"    for row in ws.iter_rows():\n"
				"        out = []\n"
				"        for c in row:\n"
				"            v = c.value\n"
				"            if v is None: out.append('')\n"
				"            elif isinstance(v, str): out.append('s:' + v)\n"
				"            else: out.append('n:%d:%s' % (round(v * 100), c.number_format))\n"
				"        print('\\t'.join(out))\n";

Test(report, the_workbook_has_a_sheet_per_table_with_numbers_as_numbers)
{
	const char *db = story_upto(3);
	g_autofree char *path = g_build_filename(h_tmpdir(), "report.xlsx", NULL);
	h_result r = h_run(db, "report", "-o", path, NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	h_result_clear(&r);
	const char *argv[] = { "/usr/bin/python3", "-c", xlsx_dump, path, NULL };
	g_autofree char *out = NULL, *err = NULL;
	cr_assert_eq(spawn(argv, &out, &err), 0, "openpyxl cannot read %s: %s", path, err);
	static const char *const want[] = {
		"#概要\n",
		"s:补贴金额（净额）\tn:4500:0.00\ts:元\ts:posted_fen\n",
		"s:国库支付成功\tn:1600:0.00\ts:元\ts:paid_fen\n",
		"s:订单\tn:600:General\ts:个\ts:orders\n",
		"#各村\ns:村\ts:订单\ts:补贴（元）\ts:扶贫补贴（元）\n"
		"s:村一\tn:300:General\tn:2300:0.00\tn:0:0.00\n"
		"s:村三\tn:100:General\tn:400:0.00\tn:0:0.00\n"
		"s:村二\tn:100:General\tn:1000:0.00\tn:0:0.00\n"
		"s:村四\tn:100:General\tn:800:0.00\tn:800:0.00\n#促销活动\n",
		"s:c618\ts:618\tn:500:General\tn:4100:0.00\n",
		"#快递公司\n",
		"s:EMS\tn:700:General\tn:400:General\tn:400:General\tn:0:General\tn:0:General\tn:200:General\t",
		"#资金池\n",
		"s:p1\ts:一号池\tn:4000:0.00\tn:3400:0.00\tn:600:0.00\n",
		"#余额走势\ns:日期\ts:余额（元）\ts:资金池总额（元）\ns:2018-06-20\tn:0:0.00\tn:4000:0.00\n"
		"s:2018-06-21\tn:1500:0.00\tn:6000:0.00\n#处理结果\n",
		"s:REJECTED\tn:200:General\n",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
		cr_assert(strstr(out, want[i]), "the workbook lacks\n%s\nin\n%s", want[i], out);
}

/* ------------------------------------------------------------------------------------------ */
/* The page, in a real browser                                                                 */

/* Debian's chromium-headless-shell (scripts/deps installs it), else a chromium; none fails. */
static char *browser(void)
{
	const char *given = g_getenv("SUBSIDY_CHROMIUM");
	if (given && *given)
		return g_strdup(given);
	static const char *const names[] = { "chromium-headless-shell", "chromium", "chromium-browser" };
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		char *path = g_find_program_in_path(names[i]);
		if (path)
			return path;
	}
	cr_assert_fail("no headless Chromium: install Debian's chromium-headless-shell (scripts/deps does)");
	return NULL;
}

/* Renders html with the browser to out (a .png screenshot or a .pdf print). */
static void render(const char *html, const char *out, gboolean pdf)
{
	g_autofree char *bin = browser();
	g_autofree char *profile = g_build_filename(h_tmpdir(), pdf ? "chromium-pdf" : "chromium-png", NULL);
	g_autofree char *profile_arg = g_strconcat("--user-data-dir=", profile, NULL);
	g_autofree char *uri = g_filename_to_uri(html, NULL, NULL);
	g_autofree char *out_arg = g_strconcat(pdf ? "--print-to-pdf=" : "--screenshot=", out, NULL);
	const char *argv[] = { bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
			       "--no-first-run", "--disable-dev-shm-usage", profile_arg,
			       pdf ? "--no-pdf-header-footer" : "--window-size=1000,1400", out_arg, uri, NULL };
	g_autofree char *o = NULL, *e = NULL;
	int status = spawn(argv, &o, &e);
	cr_assert_eq(status, 0, "%s exited %d:\n%s%s", bin, status, o, e);
	cr_assert(g_file_test(out, G_FILE_TEST_IS_REGULAR), "%s wrote no %s:\n%s%s", bin, out, o, e);
}

typedef struct {
	guint32 width, height;
	int channels;
	guint8 *pixels; /* rows of width * channels bytes, unfiltered */
} png_image;

static guint32 be32(const guint8 *p)
{
	return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
	int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
	return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* A small PNG reader: 8-bit RGB or RGBA, not interlaced (what Chromium writes). */
static png_image png_read(const char *path)
{
	gsize len = 0;
	g_autofree guint8 *bytes = (guint8 *)h_read(path, &len);
	cr_assert(len > 8 && memcmp(bytes, "\x89PNG\r\n\x1a\n", 8) == 0, "%s is not a PNG", path);
	png_image img = { 0 };
	g_autoptr(GByteArray) idat = g_byte_array_new();
	for (gsize at = 8; at + 12 <= len;) {
		guint32 n = be32(bytes + at);
		cr_assert(at + 12 + n <= len, "%s: a chunk runs past the end", path);
		const guint8 *type = bytes + at + 4, *data = bytes + at + 8;
		if (memcmp(type, "IHDR", 4) == 0) {
			img.width = be32(data);
			img.height = be32(data + 4);
			cr_assert_eq(data[8], 8, "bit depth %d", data[8]);
			cr_assert(data[9] == 2 || data[9] == 6, "colour type %d", data[9]);
			cr_assert_eq(data[12], 0, "interlaced");
			img.channels = data[9] == 6 ? 4 : 3;
		} else if (memcmp(type, "IDAT", 4) == 0)
			g_byte_array_append(idat, data, n);
		at += 12 + n;
	}
	cr_assert(img.width > 0 && img.height > 0 && idat->len > 0, "%s has no image", path);
	gsize stride = (gsize)img.width * (gsize)img.channels;
	gsize raw_len = (stride + 1) * img.height;
	g_autofree guint8 *raw = g_malloc(raw_len);
	g_autoptr(GZlibDecompressor) z = g_zlib_decompressor_new(G_ZLIB_COMPRESSOR_FORMAT_ZLIB);
	gsize in_at = 0, out_at = 0;
	for (;;) {
		gsize read = 0, written = 0;
		g_autoptr(GError) error = NULL;
		GConverterResult res = g_converter_convert(G_CONVERTER(z), idat->data + in_at, idat->len - in_at,
							   raw + out_at, raw_len - out_at, G_CONVERTER_INPUT_AT_END,
							   &read, &written, &error);
		cr_assert(res != G_CONVERTER_ERROR, "%s: %s", path, error->message);
		in_at += read;
		out_at += written;
		if (res == G_CONVERTER_FINISHED || out_at == raw_len)
			break;
	}
	cr_assert_eq(out_at, raw_len, "%s: %zu bytes of pixels, wanted %zu", path, out_at, raw_len);
	img.pixels = g_malloc(stride * img.height);
	int bpp = img.channels;
	for (guint32 y = 0; y < img.height; y++) {
		const guint8 *in = raw + y * (stride + 1);
		guint8 *row = img.pixels + y * stride, *up = y ? row - stride : NULL;
		for (gsize x = 0; x < stride; x++) {
			int a = x >= (gsize)bpp ? row[x - bpp] : 0, b = up ? up[x] : 0,
			    c = up && x >= (gsize)bpp ? up[x - bpp] : 0, v = in[1 + x];
			switch (in[0]) {
			case 0: break;
			case 1: v += a; break;
			case 2: v += b; break;
			case 3: v += (a + b) / 2; break;
			case 4: v += paeth(a, b, c); break;
			default: cr_assert_fail("%s: filter %d", path, in[0]);
			}
			row[x] = (guint8)v;
		}
	}
	return img;
}

/* needle in bytes [from, len) that may hold NULs; NULL when absent. */
static const char *find_bytes(const char *bytes, gsize len, const char *from, const char *needle)
{
	gsize n = strlen(needle);
	for (const char *p = from; p + n <= bytes + len; p++)
		if (memcmp(p, needle, n) == 0)
			return p;
	return NULL;
}

/* Pages of a PDF (its /Type /Page objects), each MediaBox checked to be A4 (595 x 842 points). */
static int pdf_a4_pages(const char *path)
{
	gsize len = 0;
	g_autofree char *pdf = h_read(path, &len);
	cr_assert(len > 5 && memcmp(pdf, "%PDF-", 5) == 0, "%s is not a PDF", path);
	int pages = 0, boxes = 0;
	for (const char *p = pdf; (p = find_bytes(pdf, len, p, "/Type"));) {
		p += 5;
		while (*p == ' ')
			p++;
		if (strncmp(p, "/Page", 5) == 0 && !g_ascii_isalpha(p[5]))
			pages++;
	}
	for (const char *p = pdf; (p = find_bytes(pdf, len, p, "/MediaBox"));) {
		p += 9;
		while (*p == ' ' || *p == '[')
			p++;
		double v[4];
		for (int i = 0; i < 4; i++) {
			char *end = NULL;
			v[i] = g_ascii_strtod(p, &end);
			cr_assert(end != p, "%s: a MediaBox that does not parse", path);
			p = end;
			while (*p == ' ')
				p++;
		}
		cr_assert(fabs(v[2] - v[0] - 595.0) < 2.0 && fabs(v[3] - v[1] - 842.0) < 2.0,
			  "%s: a page of %.1f x %.1f points, not A4", path, v[2] - v[0], v[3] - v[1]);
		boxes++;
	}
	cr_assert(boxes >= 1, "%s: no MediaBox", path);
	return pages;
}

/* Renders the page at html to PNG and PDF; asserts the PNG is no blank page (ink enough, and the
 * charts' colours: the poverty red, the chart blue) and the PDF is 1 to 6 A4 pages. */
static void assert_renders(const char *html)
{
	g_autofree char *png = g_strconcat(html, ".png", NULL), *pdf = g_strconcat(html, ".pdf", NULL);
	render(html, png, FALSE);
	png_image img = png_read(png);
	guint64 ink = 0, red = 0, blue = 0, total = (guint64)img.width * img.height;
	for (guint64 i = 0; i < total; i++) {
		const guint8 *px = img.pixels + i * (guint64)img.channels;
		if (px[0] < 200 || px[1] < 200 || px[2] < 200)
			ink++;
		if (px[0] > 160 && px[1] < 90 && px[2] < 90)
			red++;
		if (px[2] > 150 && px[0] < 60 && px[1] < 130)
			blue++;
	}
	g_free(img.pixels);
	cr_assert(ink * 100 >= total * 2, "%s: only %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " pixels are not white",
		  png, ink, total);
	cr_assert(red >= 200 && blue >= 200, "%s: %" G_GUINT64_FORMAT " red, %" G_GUINT64_FORMAT " blue pixels", png,
		  red, blue);
	render(html, pdf, TRUE);
	int pages = pdf_a4_pages(pdf);
	cr_assert(pages >= 1 && pages <= 6, "%s: %d pages, wanted 1 to 6 A4 pages", pdf, pages);
}

/* Nothing on the page comes from anywhere: no script, no link, no image, no font, no URL. */
static void assert_self_contained(const char *page)
{
	static const char *const banned[] = { "<script", "<link", "<img", "<iframe", "<object", "<embed",
					      "@import", "url(", "src=", "href=", "http:", "https:", "@font-face" };
	g_autofree char *lower = g_ascii_strdown(page, -1);
	for (size_t i = 0; i < G_N_ELEMENTS(banned); i++)
		cr_assert(!strstr(lower, banned[i]), "the page has '%s'", banned[i]);
}

Test(report, the_page_shows_the_figures_and_renders_on_a_few_a4_pages, .timeout = 120)
{
	const char *db = story_upto(3);
	g_autofree char *html = g_build_filename(h_tmpdir(), "report.html", NULL);
	h_result r = h_run(db, "report", "-o", html, NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	h_result_clear(&r);
	gsize len = 0;
	g_autofree char *page = h_read(html, &len);
	assert_self_contained(page);
	g_autofree char *digest = h_sql(db, "SELECT digest FROM batches WHERE batch_id = 3");
	static const char *const shown[] = { "@page { size: A4", "<svg", "截至结算批次 第 3 批", "45.00", "16.00",
					     "1 / 2", "村四", "2018-06-21", "一号池", "NOT_IN_CAMPAIGN" };
	for (size_t i = 0; i < G_N_ELEMENTS(shown); i++)
		cr_assert(strstr(page, shown[i]), "the page lacks '%s'", shown[i]);
	cr_assert(strstr(page, digest), "the page lacks the batch digest %s", digest);
	cr_assert(g_regex_match_simple("制表时间 20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}", page, 0, 0),
		  "the page does not say when it was made");
	assert_renders(html);
}

/* A county of many villages, one with a name meant to break the page: still six pages at most, and
 * the name is text. */
Test(report, many_villages_and_a_hostile_name_stay_text_on_six_pages, .timeout = 120)
{
	const char *db = h_fresh_db();
	load_small_but_budgets(db);
	h_load_text(db, "budgets", BUDGETS "big,大池,100000.00,2016-01-01,2018-12-31,1\n");
	enum { SHOPS = 140 };
	g_autoptr(GString) shops = g_string_new("shop_id,shop_name,platform,owner_name,owner_id_no,phone,household_id,"
						 "village,bank_name,bank_account,account_name,registered_from,"
						 "registered_to\n");
	g_autoptr(GString) senders = g_string_new("shop_id,courier,sender_code,valid_from,valid_to\n");
	g_autoptr(GString) lines = g_string_new(HEADER);
	for (int i = 0; i < SHOPS; i++) {
		g_autofree char *village = i == 0 ? g_strdup("\"<script>alert('村')</script>&amp;\"")
						  : g_strdup_printf("第%03d村", i);
		g_string_append_printf(shops, "M%03d,店%03d,淘宝,王小明,11010519491231002X,139%08d,%s,%s,农信,"
					      "6221000000000018,王小明,2016-01-01,\n",
				       i, i, i, i % 3 == 0 ? "H2" : "", village);
		g_string_append_printf(senders, "M%03d,EMS,M%03d,2016-01-01,\n", i, i);
		g_string_append_printf(lines, "EMS,MW%03d,MO%03d,2018-06-05 10:00:00,M%03d,,1,%d.00,,\n", i, i, i,
				       5 + i % 20);
	}
	h_load_text(db, "shops", shops->str);
	h_load_text(db, "senders", senders->str);
	h_ingest_text(db, "many.csv", lines->str, 0);
	g_free(h_settle(db));
	g_autofree char *json = report_json(db, NULL, NULL);
	cr_assert(strstr(json, "{\"village\":\"<script>alert('村')</script>&amp;\",\"orders\":1,"), "%s", json);
	g_autofree char *html = g_build_filename(h_tmpdir(), "many.html", NULL);
	h_result r = h_run(db, "report", "-o", html, NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	h_result_clear(&r);
	gsize len = 0;
	g_autofree char *page = h_read(html, &len);
	assert_self_contained(page);
	cr_assert(strstr(page, "&lt;script&gt;alert(&#39;村&#39;)&lt;/script&gt;&amp;amp;"), "the name is not escaped");
	assert_renders(html);
}

/* nightly writes report.html, the programme to date, beside its exports. */
Test(report, nightly_writes_the_page_beside_its_exports)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	const char *dir = h_tmpdir();
	g_autofree char *inbox = g_build_filename(dir, "inbox", NULL);
	g_autofree char *exports = g_build_filename(dir, "exports", NULL);
	cr_assert_eq(g_mkdir_with_parents(inbox, 0700), 0);
	g_autofree char *file = g_build_filename(inbox, "n1.csv", NULL);
	cr_assert(g_file_set_contents(file, HEADER "EMS,W1,O1,2018-06-05 10:00:00,C2,,1,20.00,,\n", -1, NULL));
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	h_result r = h_run(engine, "nightly", "--inbox", inbox, "--export-dir", exports, NULL);
	cr_assert_eq(r.status, 0, "nightly: exit %d\n%s%s", r.status, r.out, r.err);
	g_autofree char *html = g_build_filename(exports, "report.html", NULL);
	g_autofree char *said = g_strdup_printf("report: %s (the programme to date)\n", html);
	cr_assert(strstr(r.out, said), "nightly's summary does not name the page: %s", r.out);
	h_result_clear(&r);
	gsize len = 0;
	g_autofree char *page = h_read(html, &len);
	g_autofree char *digest = h_sql(db, "SELECT digest FROM batches WHERE batch_id = 1");
	cr_assert(strstr(page, digest), "report.html does not name batch 1's digest");
	cr_assert(strstr(page, "16.00"), "report.html lacks the 16.00 posted");
	cr_assert(strstr(page, "范围：全部订单"), "report.html is not the programme to date");
}
