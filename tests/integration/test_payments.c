/* test_payments.c: the treasury's payment results (FORMATS.md "Treasury payment results", CLI.md
 * `payments load`), through the binary: a result applies once; a paid one settles the shop's
 * payable in the ledger, a failed one leaves it owed (for the next settlement to carry); amounts
 * that do not match the export, unknown shops and batches and contradicting repeats are findings,
 * never applied; a file that does not parse is refused whole. Loads are hash-chained.
 *
 * The ledger is seeded with SQL as a settlement would leave it: batch 1 exports S1 13.00,
 * S2 25.00, S3 6.18; S4's negative net is recorded and not exported. */
#include "harness.h"
#include "ledger.h"
#include "payments.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <string.h>

static const char seed_sql[] =
	"INSERT INTO runs (run_id, programme, kind, os_user) VALUES (9002, 'default', 'settle', 'test');"
	"INSERT INTO batches (programme, batch_id, run_id, created_at, files_upto, orders, postings, posted_fen,"
	" unfunded_fen, prev_digest, digest) VALUES"
	" ('default', 1, 9002, '2018-06-20 02:00:00+08', 0, 5, 5, 3918, 0, repeat('0', 64), repeat('1', 64));"
	"INSERT INTO batch_shops (programme, batch_id, shop_id, net_fen, carried_fen, amount_fen, orders, remark,"
	" shop_name, account_name, bank_name, bank_account) VALUES"
	" ('default', 1, 'S1', 1300, 0, 1300, 2, '', '标准店', '王小明', '农信', '6221000000000018'),"
	" ('default', 1, 'S2', 2500, 0, 2500, 1, '', '扶贫店', '符春花', '农信', '6221000000000026'),"
	" ('default', 1, 'S3', 618, 0, 618, 1, '', '山货店', '羊德', '农信', '6221000000000034'),"
	" ('default', 1, 'S4', -500, 0, -500, 1, '', '退款店', '赵五', '农信', '6221000000000042');"
	/* What batch 1 posted, as the settlement's entries would hold it: pool -> payable. */
	"INSERT INTO entries (programme, txn, entry_seq, account, amount_fen, batch_id, posting_seq, pool_id, shop_id)"
	" SELECT 'default', 'b1.s' || shop_id, k, CASE k WHEN 1 THEN 'pool:big' ELSE 'payable:' || shop_id END,"
	" CASE k WHEN 1 THEN -net_fen ELSE net_fen END, 1, NULL, NULL, shop_id"
	" FROM batch_shops, generate_series(1, 2) k WHERE batch_id = 1;";

#define HEADER "批次号,店铺编号,金额(元),状态,支付时间,流水号\r\n"
#define PAID_S1 "1,S1,13.00,成功,2018-06-22 10:00:00,T001\r\n"
#define PAID_S2 "1,S2,25.00,成功,2018-06-22 10:00:01,T002\r\n"
#define PAID_S3 "1,S3,6.18,成功,2018-06-22 10:00:02,T003\r\n"
#define FAILED_S3 "1,S3,6.18,失败,2018-06-22 10:00:02,T003\r\n"

static const char *seeded(void)
{
	const char *db = h_fresh_db();
	char *err = NULL;
	cr_assert(h_exec(db, seed_sql, &err), "seed: %s", err);
	h_approve_all(db);
	return db;
}

static h_result load(const char *db, const char *name, const char *text, gssize len)
{
	g_autofree char *path = h_write(h_tmpdir(), name, text, len);
	return h_run(db, "payments", "load", path, "--json", NULL);
}

static int64_t count(const char *db, const char *what)
{
	g_autofree char *sql = g_strdup_printf("SELECT count(*) FROM %s", what);
	return h_sql_int(db, sql);
}

/* The balance of an account over the whole ledger. */
static int64_t balance(const char *db, const char *account)
{
	g_autofree char *sql =
		g_strdup_printf("SELECT coalesce(sum(amount_fen), 0) FROM entries WHERE account = '%s'", account);
	return h_sql_int(db, sql);
}

static void assert_json_has(const h_result *r, const char *fragment)
{
	cr_assert(strstr(r->out, fragment), "'%s' not in %s", fragment, r->out);
}

/* Every transaction of the ledger sums to zero. */
static void assert_ledger_balances(const char *db)
{
	cr_assert_eq(count(db, "(SELECT txn FROM entries GROUP BY txn HAVING sum(amount_fen) <> 0) t"), 0);
}

Test(payments, all_paid_settles_every_payable_to_the_treasury)
{
	const char *db = seeded();
	h_result r = load(db, "paid.csv", "\xEF\xBB\xBF" HEADER PAID_S1 PAID_S2 PAID_S3, -1);
	cr_assert_eq(r.status, 0, "exit %d: %s%s", r.status, r.out, r.err);
	assert_json_has(&r, "\"applied\":3");
	assert_json_has(&r, "\"paid_fen\":4418");
	assert_json_has(&r, "\"failed_fen\":0");
	assert_json_has(&r, "\"already_applied\":0");
	assert_json_has(&r, "\"findings\":[]");
	cr_assert(strstr(r.out, "\"file\":") && strstr(r.out, "paid.csv"), "%s", r.out);
	h_result_clear(&r);
	cr_assert_eq(count(db, "payments WHERE status = 'PAID'"), 3);
	g_autofree char *row = h_sql(db, "SELECT concat_ws('|', amount_fen, paid_at, serial_no, line_no)"
					 " FROM payments WHERE batch_id = 1 AND shop_id = 'S2'");
	cr_assert_str_eq(row, "2500|2018-06-22 10:00:01|T002|3");
	cr_assert_eq(balance(db, "payable:S1"), 0);
	cr_assert_eq(balance(db, "payable:S2"), 0);
	cr_assert_eq(balance(db, "payable:S3"), 0);
	cr_assert_eq(balance(db, "treasury"), 4418);
	assert_ledger_balances(db);
	cr_assert_eq(count(db, "payment_loads"), 1);
	cr_assert_eq(count(db, "runs WHERE kind = 'payments'"), 1);
	cr_assert_eq(count(db, "payment_findings"), 0);
}

Test(payments, a_failed_payment_is_recorded_and_leaves_the_payable_owed)
{
	const char *db = seeded();
	h_result r = load(db, "one-failed.csv", HEADER PAID_S1 PAID_S2 FAILED_S3, -1);
	cr_assert_eq(r.status, 0, "exit %d: %s%s", r.status, r.out, r.err);
	assert_json_has(&r, "\"applied\":3");
	assert_json_has(&r, "\"paid_fen\":3800");
	assert_json_has(&r, "\"failed_fen\":618");
	h_result_clear(&r);
	/* What the next settlement needs: the FAILED row with its amount, and no ledger entry for it,
	 * so S3's payable still holds 6.18 to carry into the next batch. */
	g_autofree char *failed = h_sql(db, "SELECT concat_ws('|', batch_id, shop_id, amount_fen, status)"
					    " FROM payments WHERE status = 'FAILED'");
	cr_assert_str_eq(failed, "1|S3|618|FAILED");
	cr_assert_eq(count(db, "entries WHERE shop_id = 'S3' AND txn LIKE 'pay%'"), 0);
	cr_assert_eq(balance(db, "payable:S3"), 618);
	cr_assert_eq(balance(db, "payable:S1"), 0);
	cr_assert_eq(balance(db, "treasury"), 3800);
	assert_ledger_balances(db);
}

Test(payments, an_amount_that_does_not_match_the_export_is_a_finding_exit_1_never_applied)
{
	const char *db = seeded();
	h_result r = load(db, "mismatch.csv", HEADER PAID_S1 "1,S2,25.01,成功,2018-06-22 10:00:01,T002\r\n", -1);
	cr_assert_eq(r.status, 1, "exit %d: %s%s", r.status, r.out, r.err);
	assert_json_has(&r, "\"applied\":1");
	assert_json_has(&r, "\"line\":3,\"batch\":1,\"shop_id\":\"S2\",\"reason\":\"amount '25.01' does not match");
	h_result_clear(&r);
	cr_assert_eq(count(db, "payments WHERE shop_id = 'S2'"), 0);
	cr_assert_eq(balance(db, "payable:S2"), 2500);
	g_autofree char *finding = h_sql(db, "SELECT concat_ws('|', line_no, batch_id, shop_id, amount)"
					     " FROM payment_findings");
	cr_assert_str_eq(finding, "3|1|S2|25.01");
	cr_assert_eq(h_sql_int(db, "SELECT findings FROM payment_loads"), 1);
}

Test(payments, a_mismatch_is_reported_in_plain_text_too)
{
	const char *db = seeded();
	g_autofree char *path = h_write(h_tmpdir(), "mismatch.csv", HEADER "1,S2,2.50,成功,2018-06-22 10:00:01,T2\r\n", -1);
	h_result r = h_run(db, "payments", "load", path, NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.out, "mismatch.csv:2") && strstr(r.out, "S2") && strstr(r.out, "25.00"), "%s", r.out);
	h_result_clear(&r);
}

Test(payments, unknown_batches_and_shops_not_exported_are_findings)
{
	const char *db = seeded();
	h_result r = load(db, "unknown.csv",
			  HEADER "7,S1,13.00,成功,2018-06-22 10:00:00,T7\r\n"
				 "1,S9,13.00,成功,2018-06-22 10:00:00,T9\r\n"
				 "1,S4,5.00,成功,2018-06-22 10:00:00,T4\r\n",
			  -1);
	cr_assert_eq(r.status, 1, "exit %d: %s%s", r.status, r.out, r.err);
	assert_json_has(&r, "\"applied\":0");
	assert_json_has(&r, "\"line\":2,\"batch\":7,\"shop_id\":\"S1\",\"reason\":\"batch 7 does not exist\"");
	assert_json_has(&r, "\"line\":3,\"batch\":1,\"shop_id\":\"S9\"");
	/* S4's negative net is recorded in batch 1 but was never exported: nothing to pay. */
	assert_json_has(&r, "\"line\":4,\"batch\":1,\"shop_id\":\"S4\"");
	h_result_clear(&r);
	cr_assert_eq(count(db, "payments"), 0);
	cr_assert_eq(count(db, "payment_findings"), 3);
}

/* A results file saved with CR line ends (as some spreadsheets save CSV) is read line by line like
 * any other: each finding names its own line (the reader once counted every record on line 1, and
 * a finding on it aborted the load), and the good lines apply. */
Test(payments, a_file_with_cr_line_ends_names_each_finding_on_its_own_line)
{
	const char *db = seeded();
	h_result r = load(db, "cr.csv",
			  "批次号,店铺编号,金额(元),状态,支付时间,流水号\r"
			  "7,S1,13.00,成功,2018-06-22 10:00:00,T7\r"
			  "1,S9,13.00,成功,2018-06-22 10:00:00,T9\r"
			  "1,S2,25.00,成功,2018-06-22 10:00:01,T002\r",
			  -1);
	cr_assert_eq(r.status, 1, "exit %d: %s%s", r.status, r.out, r.err);
	assert_json_has(&r, "\"applied\":1");
	assert_json_has(&r, "\"line\":2,\"batch\":7,\"shop_id\":\"S1\",\"reason\":\"batch 7 does not exist\"");
	assert_json_has(&r, "\"line\":3,\"batch\":1,\"shop_id\":\"S9\"");
	h_result_clear(&r);
	cr_assert_eq(count(db, "payments"), 1);
	cr_assert_eq(count(db, "payment_findings"), 2);
	cr_assert_eq(h_sql_int(db, "SELECT line_no FROM payments"), 4);
}

Test(payments, the_same_file_twice_applies_nothing_the_second_time)
{
	const char *db = seeded();
	const char *text = HEADER PAID_S1 PAID_S2 FAILED_S3;
	h_result r = load(db, "results.csv", text, -1);
	cr_assert_eq(r.status, 0, "%s", r.err);
	h_result_clear(&r);
	g_autofree char *before = h_ledger_dump(db);
	r = load(db, "results.csv", text, -1);
	cr_assert_eq(r.status, 0, "exit %d: %s%s", r.status, r.out, r.err);
	assert_json_has(&r, "\"applied\":0");
	assert_json_has(&r, "\"paid_fen\":0");
	assert_json_has(&r, "\"already_applied\":3");
	assert_json_has(&r, "\"findings\":[]");
	h_result_clear(&r);
	g_autofree char *after = h_ledger_dump(db);
	cr_assert_str_eq(before, after, "the second load changed the ledger");
	cr_assert_eq(count(db, "payments"), 3);
	cr_assert_eq(count(db, "entries WHERE txn LIKE 'pay%'"), 4);
	cr_assert_eq(count(db, "payment_loads"), 2, "each load is recorded, even one that applies nothing");
	g_autofree char *chained = h_sql(db, "SELECT (SELECT prev_digest FROM payment_loads WHERE load_id = 2) ="
					     " (SELECT digest FROM payment_loads WHERE load_id = 1)");
	cr_assert_str_eq(chained, "t");
}

Test(payments, a_repeat_inside_one_file_applies_once)
{
	const char *db = seeded();
	h_result r = load(db, "twice.csv", HEADER PAID_S1 PAID_S1, -1);
	cr_assert_eq(r.status, 0, "exit %d: %s%s", r.status, r.out, r.err);
	assert_json_has(&r, "\"applied\":1");
	assert_json_has(&r, "\"already_applied\":1");
	h_result_clear(&r);
	cr_assert_eq(balance(db, "treasury"), 1300);
}

Test(payments, a_contradicting_repeat_is_a_finding_and_the_first_result_stands)
{
	const char *db = seeded();
	h_result r = load(db, "first.csv", HEADER FAILED_S3, -1);
	cr_assert_eq(r.status, 0, "%s", r.err);
	h_result_clear(&r);
	/* Paid after having failed: the money went out twice, or one result is wrong. */
	r = load(db, "second.csv", HEADER PAID_S1 PAID_S3, -1);
	cr_assert_eq(r.status, 1, "exit %d: %s%s", r.status, r.out, r.err);
	assert_json_has(&r, "\"applied\":1");
	assert_json_has(&r, "\"line\":3,\"batch\":1,\"shop_id\":\"S3\",\"reason\":\"contradicts");
	h_result_clear(&r);
	g_autofree char *s3 = h_sql(db, "SELECT status FROM payments WHERE shop_id = 'S3'");
	cr_assert_str_eq(s3, "FAILED");
	cr_assert_eq(balance(db, "payable:S3"), 618);
	/* A second paid result with another serial number is a contradiction too. */
	r = load(db, "third.csv", HEADER "1,S1,13.00,成功,2018-06-23 09:00:00,T999\r\n", -1);
	cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.out);
	h_result_clear(&r);
	cr_assert_eq(balance(db, "treasury"), 1300);
}

/* 支付时间 as a spreadsheet saves it (FORMATS.md): with or without seconds, with '/' and no zero
 * padding, or a date alone (the start of that day). A time that is none of them refuses the file. */
Test(payments, the_payment_time_may_come_in_every_form_formats_md_lists)
{
	const char *db = seeded();
	h_result r = load(db, "forms.csv",
			  HEADER "1,S1,13.00,成功,2018-06-20 10:00,T001\r\n"
				 "1,S2,25.00,成功,2018/6/20 10:00,T002\r\n"
				 "1,S3,6.18,成功,2018-06-20,T003\r\n",
			  -1);
	cr_assert_eq(r.status, 0, "exit %d: %s%s", r.status, r.out, r.err);
	assert_json_has(&r, "\"applied\":3");
	h_result_clear(&r);
	g_autofree char *times = h_sql(db, "SELECT string_agg(shop_id || '=' || paid_at, ',' ORDER BY shop_id) FROM payments");
	cr_assert_str_eq(times, "S1=2018-06-20 10:00:00,S2=2018-06-20 10:00:00,S3=2018-06-20 00:00:00");
	/* The same results with seconds repeat them exactly: nothing contradicts. */
	r = load(db, "again.csv", HEADER "1,S1,13.00,成功,2018-06-20 10:00:00,T001\r\n", -1);
	cr_assert_eq(r.status, 0, "exit %d: %s%s", r.status, r.out, r.err);
	assert_json_has(&r, "\"already_applied\":1");
	h_result_clear(&r);
	const char *const bad[] = { "2018-06-20T10:00:00", "20/6/2018 10:00", "2018-06-20 25:00", "2018-02-30" };
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *text = g_strdup_printf(HEADER "1,S1,13.00,成功,%s,T001\r\n", bad[i]);
		r = load(db, "bad-time.csv", text, -1);
		cr_assert_eq(r.status, 65, "'%s': exit %d: %s%s", bad[i], r.status, r.out, r.err);
		cr_assert(strstr(r.err, "支付时间") && strstr(r.err, bad[i]), "%s", r.err);
		h_result_clear(&r);
	}
}

Test(payments, a_gb18030_file_loads_like_its_utf8_twin)
{
	const char *db = seeded();
	const char *utf8 = HEADER PAID_S1 FAILED_S3;
	gsize len = 0;
	g_autofree char *gb = g_convert(utf8, -1, "GB18030", "UTF-8", NULL, &len, NULL);
	cr_assert(gb != NULL && !g_utf8_validate(gb, (gssize)len, NULL));
	h_result r = load(db, "gb.csv", gb, (gssize)len);
	cr_assert_eq(r.status, 0, "exit %d: %s%s", r.status, r.out, r.err);
	assert_json_has(&r, "\"applied\":2");
	assert_json_has(&r, "\"paid_fen\":1300");
	assert_json_has(&r, "\"failed_fen\":618");
	h_result_clear(&r);
}

Test(payments, a_file_that_does_not_parse_is_refused_whole_exit_65_naming_every_bad_line)
{
	const char *db = seeded();
	h_result r = load(db, "bad.csv",
			  HEADER PAID_S1 "1,S2,25.00,paid,2018-06-22 10:00:01,T002\r\n"
			  "1,S3,6.18.1,成功,2018-06-22 10:00:02,T003\r\n"
			  "1,S3\r\n"
			  "x,S3,6.18,成功,2018-06-22 10:00:02,T003\r\n"
			  "1,S3,6.18,成功,2018-06-31 10:00:02,T003\r\n"
			  "1,S3,6.18,成功,,T003\r\n",
			  -1);
	cr_assert_eq(r.status, 65, "exit %d: %s%s", r.status, r.out, r.err);
	for (int line = 3; line <= 8; line++) {
		g_autofree char *where = g_strdup_printf("bad.csv:%d:", line);
		cr_assert(strstr(r.err, where), "%s not named: %s", where, r.err);
	}
	cr_assert_null(strstr(r.err, "bad.csv:2:"), "line 2 is good: %s", r.err);
	h_result_clear(&r);
	cr_assert_eq(count(db, "payments"), 0);
	cr_assert_eq(count(db, "payment_loads"), 0);
	cr_assert_eq(count(db, "runs WHERE kind = 'payments'"), 0);
}

Test(payments, a_wrong_header_an_open_quote_or_an_empty_file_is_refused_exit_65)
{
	const char *db = seeded();
	static const char *const files[] = {
		"batch,shop,amount,status,time,serial\r\n" PAID_S1,
		HEADER "1,S1,13.00,成功,2018-06-22 10:00:00,\"T001\r\n",
		"",
		"\xFF\xFE\x00\x31",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree char *name = g_strdup_printf("bad-%zu.csv", i);
		h_result r = load(db, name, files[i], i == 3 ? 4 : -1);
		cr_assert_eq(r.status, 65, "file %zu: exit %d: %s%s", i, r.status, r.out, r.err);
		h_result_clear(&r);
	}
	cr_assert_eq(count(db, "payment_loads"), 0);
}

Test(payments, a_file_that_cannot_be_opened_exits_66)
{
	const char *db = seeded();
	g_autofree char *path = g_build_filename(h_tmpdir(), "missing.csv", NULL);
	h_result r = h_run(db, "payments", "load", path, NULL);
	cr_assert_eq(r.status, 66, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "missing.csv"), "%s", r.err);
	h_result_clear(&r);
}

Test(payments, bad_usage_exits_64)
{
	const char *db = seeded();
	h_result r = h_run(db, "payments", NULL);
	cr_assert_eq(r.status, 64);
	h_result_clear(&r);
	r = h_run(db, "payments", "unload", "x.csv", NULL);
	cr_assert_eq(r.status, 64);
	h_result_clear(&r);
	r = h_run(db, "payments", "load", NULL);
	cr_assert_eq(r.status, 64);
	h_result_clear(&r);
}

Test(payments, the_finance_role_loads_results)
{
	const char *db = seeded();
	g_autofree char *finance = h_as_role(db, "subsidy_finance");
	h_result r = load(finance, "paid.csv", HEADER PAID_S1 FAILED_S3, -1);
	cr_assert_eq(r.status, 0, "exit %d: %s%s", r.status, r.out, r.err);
	h_result_clear(&r);
	g_autofree char *who = h_sql(db, "SELECT db_role FROM runs WHERE kind = 'payments'");
	cr_assert_str_eq(who, "subsidy_finance");
}

Test(payments, a_load_waits_for_no_settlement_it_exits_75_while_one_holds_the_lock)
{
	const char *db = seeded();
	PGconn *holder = h_hold_settlement_lock(db);
	h_result r = load(db, "paid.csv", HEADER PAID_S1, -1);
	cr_assert_eq(r.status, 75, "exit %d: %s%s", r.status, r.out, r.err);
	h_result_clear(&r);
	PQfinish(holder);
	cr_assert_eq(count(db, "payments"), 0);
	r = load(db, "paid.csv", HEADER PAID_S1, -1);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	h_result_clear(&r);
}

/* verify (written later) recomputes each load's digest with ledger_payments_digest from the stored rows. */
Test(payments, every_load_digest_recomputes_from_the_stored_rows_and_chains_to_the_previous)
{
	const char *db = seeded();
	const char *files[] = { HEADER PAID_S1 FAILED_S3, HEADER PAID_S1, HEADER PAID_S2 "1,S3,1.00,成功,,\r\n" };
	for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
		h_result r = load(db, "chain.csv", files[i], -1);
		cr_assert(r.status == 0 || r.status == 65, "exit %d: %s", r.status, r.err);
		h_result_clear(&r);
	}
	PGconn *c = PQconnectdb(db);
	cr_assert_eq(PQstatus(c), CONNECTION_OK);
	PGresult *loads = PQexec(c, "SELECT load_id, prev_digest, digest FROM payment_loads ORDER BY load_id");
	cr_assert_eq(PQntuples(loads), 2, "the third file does not parse: no load");
	char prev[LEDGER_DIGEST_HEX] = LEDGER_GENESIS;
	for (int i = 0; i < PQntuples(loads); i++) {
		const char *load_id = PQgetvalue(loads, i, 0);
		cr_assert_str_eq(PQgetvalue(loads, i, 1), prev);
		const char *params[] = { load_id };
		PGresult *rows = PQexecParams(c,
					      "SELECT line_no, batch_id, shop_id, amount_fen, status,"
					      " to_char(paid_at, 'YYYY-MM-DD HH24:MI:SS'), serial_no"
					      " FROM payments WHERE load_id = $1::int ORDER BY line_no",
					      1, NULL, params, NULL, NULL, 0);
		cr_assert_eq(PQresultStatus(rows), PGRES_TUPLES_OK);
		int n = PQntuples(rows);
		ledger_payment_row *pr = g_new0(ledger_payment_row, n + 1);
		for (int k = 0; k < n; k++) {
			pr[k] = (ledger_payment_row){ atoi(PQgetvalue(rows, k, 0)), atoi(PQgetvalue(rows, k, 1)),
						PQgetvalue(rows, k, 2), g_ascii_strtoll(PQgetvalue(rows, k, 3), NULL, 10),
						PQgetvalue(rows, k, 4),
						PQgetisnull(rows, k, 5) ? NULL : PQgetvalue(rows, k, 5),
						PQgetisnull(rows, k, 6) ? NULL : PQgetvalue(rows, k, 6) };
		}
		char digest[LEDGER_DIGEST_HEX];
		ledger_payments_digest("default", atoi(load_id), prev, pr, (size_t)n, digest);
		cr_assert_str_eq(digest, PQgetvalue(loads, i, 2), "load %s", load_id);
		g_strlcpy(prev, digest, sizeof prev);
		g_free(pr);
		PQclear(rows);
	}
	PQclear(loads);
	PQfinish(c);
}

/* ------------------------------------------------------------------------------------------ */
/* With the real settlement: registry fixtures/small, manifests ingested, batches settled      */

#define MANIFEST_HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"

/* The payment results for batch's export, every row 成功 except the shops named in failed; the
 * amounts are read from the exported file itself, as the treasury would. */
static char *results_for(const char *db, int batch, const char *failed)
{
	g_autofree char *name = g_strdup_printf("batch-%d.csv", batch);
	g_autofree char *path = g_build_filename(h_tmpdir(), name, NULL);
	g_autofree char *b = g_strdup_printf("%d", batch);
	h_result r = h_run(db, "export", "--batch", b, "-o", path, NULL);
	cr_assert_eq(r.status, 0, "export: %s", r.err);
	h_result_clear(&r);
	gsize len = 0;
	g_autofree char *bytes = h_read(path, &len);
	g_auto(GStrv) lines = g_strsplit(bytes + 3, "\r\n", -1);
	GString *out = g_string_new(HEADER);
	for (int i = 1; lines[i] && lines[i + 1] && !g_str_has_prefix(lines[i], "合计"); i++) {
		g_auto(GStrv) f = g_strsplit(lines[i], ",", -1);
		gboolean fail = strstr(failed, f[2]) != NULL;
		g_string_append_printf(out, "%s,%s,%s,%s,2018-07-01 10:00:%02d,T%d-%d\r\n", f[0], f[2], f[8],
				       fail ? "失败" : "成功", i, batch, i);
	}
	return g_string_free(out, FALSE);
}

/* "shop:amount_fen:remark" for every row batch exports, in shop order. */
static char *exported(const char *db, int batch)
{
	g_autofree char *sql = g_strdup_printf("SELECT coalesce(string_agg(shop_id || ':' || amount_fen || ':' || remark,"
					       " ' ' ORDER BY shop_id COLLATE \"C\"), '') FROM batch_shops"
					       " WHERE batch_id = %d AND amount_fen > 0",
					       batch);
	return h_sql(db, sql);
}

Test(payments, a_failed_payment_is_carried_into_the_next_batch_once_and_never_listed_twice)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_ingest_text(db, "night1.csv",
		      MANIFEST_HEADER "EMS,W1,O1,2018-06-05 10:00:00,C1,,1,20.00,,\n"
				      "EMS,W2,O2,2018-06-05 11:00:00,C2,,1,10.00,,\n",
		      0);
	g_autofree char *s1 = h_settle(db);
	g_autofree char *batch1 = exported(db, 1);
	cr_assert_str_eq(batch1, "S1:1000: S2:800:");

	g_autofree char *results = results_for(db, 1, "S2");
	h_approve_all(db);
	h_result r = load(db, "results-1.csv", results, -1);
	cr_assert_eq(r.status, 0, "exit %d: %s%s", r.status, r.out, r.err);
	assert_json_has(&r, "\"paid_fen\":1000");
	assert_json_has(&r, "\"failed_fen\":800");
	h_result_clear(&r);

	/* Nothing new was ingested, yet a batch is made: S2's failed 8.00 is re-issued. */
	g_autofree char *s2 = h_settle(db);
	cr_assert(strstr(s2, "\"batch\":2"), "%s", s2);
	g_autofree char *batch2 = exported(db, 2);
	cr_assert_str_eq(batch2, "S2:800:补发:批次1");
	/* While batch 2 awaits its result, the amount is not listed again. */
	g_autofree char *s3 = h_settle(db);
	cr_assert(strstr(s3, "\"batch\":null"), "%s", s3);

	g_autofree char *results2 = results_for(db, 2, "");
	h_approve_all(db);
	r = load(db, "results-2.csv", results2, -1);
	cr_assert_eq(r.status, 0, "exit %d: %s%s", r.status, r.out, r.err);
	assert_json_has(&r, "\"paid_fen\":800");
	h_result_clear(&r);
	cr_assert_eq(balance(db, "payable:S1"), 0);
	cr_assert_eq(balance(db, "payable:S2"), 0);
	cr_assert_eq(balance(db, "treasury"), 1800);
	assert_ledger_balances(db);
}

/* A shop may be in a later batch (new orders) before the result of an earlier one arrives; a
 * failure reported then must still be re-issued. Disabled: the settlement does not yet carry it
 * (its "failed" set skips failures of shops already in a later batch); see the report of issue 8. */
Test(payments, a_failure_reported_after_the_shop_is_in_a_later_batch_is_still_carried)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_ingest_text(db, "night1.csv", MANIFEST_HEADER "EMS,W2,O2,2018-06-05 11:00:00,C2,,1,10.00,,\n", 0);
	g_autofree char *s1 = h_settle(db);
	h_ingest_text(db, "night2.csv", MANIFEST_HEADER "EMS,W3,O3,2018-06-06 11:00:00,C2,,1,5.00,,\n", 0);
	g_autofree char *s2 = h_settle(db);
	g_autofree char *batch2 = exported(db, 2);
	cr_assert_str_eq(batch2, "S2:400:");

	g_autofree char *results = results_for(db, 1, "S2");
	h_approve_all(db);
	h_result r = load(db, "results-1.csv", results, -1);
	cr_assert_eq(r.status, 0, "exit %d: %s%s", r.status, r.out, r.err);
	h_result_clear(&r);
	g_autofree char *s3 = h_settle(db);
	cr_assert(strstr(s3, "\"batch\":3"), "the failed 8.00 of batch 1 is re-issued: %s", s3);
	g_autofree char *batch3 = exported(db, 3);
	cr_assert_str_eq(batch3, "S2:800:补发:批次1");
}
