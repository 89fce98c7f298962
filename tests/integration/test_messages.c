/* test_messages.c: what a county office reads (issue 16, point 11): `why` speaks one unit (yuan
 * with two decimals, rates as percentages), `settle` says when a batch re-issues failed payments,
 * `--help` names the man page of the checkout until it is installed. Registry: fixtures/small. */
#include "harness.h"

#include <criterion/criterion.h>
#include <string.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"
#define PAY_HEADER "批次号,店铺编号,金额(元),状态,支付时间,流水号\r\n"

Test(messages, why_speaks_yuan_with_two_decimals_and_rates_as_percentages)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	/* S1 standard: 50% of 12.35 = 6.18 (half up); S2 poverty: 80% of 12.35 = 9.88. */
	h_ingest_text(db, "night1.csv",
		      HEADER "EMS,W1,O1,2018-06-05 10:00:00,C1,,1,12.35,,\nEMS,W2,O2,2018-06-05 10:00:00,C2,,1,12.35,,\n", 0);
	g_free(h_settle(db));
	h_result r = h_run(db, "why", "W1", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "fee 12.35 yuan"), "the line's fee in yuan: %s", r.out);
	cr_assert(strstr(r.out, "6.18 yuan") && strstr(r.out, "rate 50%"), "%s", r.out);
	cr_assert(strstr(r.out, "entitled 6.18 yuan") && strstr(r.out, "unfunded 0.00 yuan"), "%s", r.out);
	cr_assert(!strstr(r.out, " bp") && !strstr(r.out, "fen") && !strstr(r.out, "1235"), "another unit: %s", r.out);
	h_result_clear(&r);
	r = h_run(db, "why", "W2", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "rate 80%") && strstr(r.out, "9.88 yuan"), "%s", r.out);
	h_result_clear(&r);
}

/* A settlement with nothing new but a failed payment to re-issue makes a batch of 0 postings:
 * its line says what the batch does pay. */
Test(messages, settle_says_when_a_batch_reissues_failed_payments)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_ingest_text(db, "night1.csv", HEADER "EMS,W1,O1,2018-06-05 10:00:00,C1,,1,15.84,,\n", 0);
	h_result r = h_run(db, "settle", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(!strstr(r.out, "re-issue"), "batch 1 re-issues nothing: %s", r.out);
	h_result_clear(&r);
	g_autofree char *pay = h_write(h_tmpdir(), "pay.csv", PAY_HEADER "1,S1,7.92,失败,2018-06-22 10:00:00,T1\r\n", -1);
	g_autofree char *finance = h_as_role(db, "subsidy_finance");
	h_approve_all(db); /* four eyes first (CONTROL.md) */
	r = h_run(finance, "payments", "load", pay, NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	h_result_clear(&r);
	r = h_run(db, "settle", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "batch 2") && strstr(r.out, "0 postings"), "%s", r.out);
	cr_assert(strstr(r.out, "re-issues 7.92 yuan of failed payments to 1 shop"), "%s", r.out);
	h_result_clear(&r);
}

Test(messages, help_names_the_man_page_of_the_checkout_until_installed)
{
	h_result r = h_run(NULL, "--help", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "man ./man/subsidy.1"), "%s", r.out);
	h_result_clear(&r);
}

/* An error from the server reaches the user in PostgreSQL's own shape (issue 15): the primary line,
 * then the server's DETAIL: and HINT: lines, each so labelled. */
Test(messages, a_server_error_keeps_its_detail_and_hint_each_on_a_labelled_line)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	cr_assert(h_exec(db,
			 "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
			 " RAISE EXCEPTION 'files are closed today' USING DETAIL = 'the test says so',"
			 " HINT = 'try again tomorrow'; END $$;"
			 " CREATE TRIGGER refuse BEFORE INSERT ON files FOR EACH ROW EXECUTE FUNCTION refuse()",
			 NULL));
	g_autofree char *path =
		h_write(h_tmpdir(), "night1.csv", HEADER "EMS,W1,O1,2018-06-05 10:00:00,C1,,1,12.35,,\n", -1);
	h_result r = h_run(db, "ingest", path, NULL);
	cr_assert_neq(r.status, 0, "%s", r.out);
	cr_assert(strstr(r.err, "files are closed today"), "%s", r.err);
	cr_assert(strstr(r.err, "\nDETAIL: the test says so\nHINT: try again tomorrow"), "%s", r.err);
	h_result_clear(&r);
}
