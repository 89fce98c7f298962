/* test_verify.c: `subsidy verify` (CLI.md): any change to a posting, a batch or a payment after
 * it was recorded is found, and the ledger's invariants are checked, each failure named.
 * Changes are made as a superuser with the append-only triggers bypassed
 * (session_replication_role = replica), as someone with the database's keys could. */
#include "harness.h"

#include <criterion/criterion.h>
#include <glib/gstdio.h>
#include <string.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"
#define REPLICA "SET session_replication_role = replica; "

/* Three nights, three batches, then the treasury's results for batch 1: S1 paid, S2 failed. */
static const char *ledger(void)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_ingest_text(db, "night1.csv",
		      HEADER "EMS,A1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\nEMS,A2,O2,2018-06-05 11:00:00,C2,,1,12.00,,\n"
			     "EMS,A3,,2018-06-06 09:00:00,C1,,1,8.00,,\nEMS,A1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n",
		      0);
	g_free(h_settle(db));
	h_ingest_text(db, "night2.csv",
		      HEADER "EMS,B1,O1,2018-06-08 10:00:00,C1,,1,12.00,,\nEMS,B2,O5,2018-06-11 10:00:00,C4,,1,10.00,,\n", 0);
	g_free(h_settle(db));
	h_ingest_text(db, "night3.csv", HEADER "EMS,C1,O7,2018-06-13 10:00:00,C4,,1,10.00,,\n", 0);
	g_free(h_settle(db));
	g_autofree char *rows = h_sql(db,
				      "SELECT string_agg(format('%s,%s,%s.%s,%s,2018-06-20 10:00:00,SN%s', batch_id, shop_id,"
				      " amount_fen / 100, lpad((amount_fen % 100)::text, 2, '0'),"
				      " CASE shop_id WHEN 'S1' THEN '成功' ELSE '失败' END, shop_id), E'\\n' ORDER BY shop_id)"
				      " FROM batch_shops WHERE batch_id = 1 AND amount_fen > 0");
	g_autofree char *text = g_strdup_printf("批次号,店铺编号,金额(元),状态,支付时间,流水号\n%s\n", rows);
	g_autofree char *path = h_write(h_tmpdir(), "payments-1.csv", text, -1);
	h_approve_all(db);
	h_result r = h_run(db, "payments", "load", path, NULL);
	cr_assert_eq(r.status, 0, "payments load: exit %d\n%s%s", r.status, r.out, r.err);
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM payments"), 2);
	return db;
}

static h_result verify(const char *db)
{
	return h_run(db, "verify", "--json", NULL);
}

static void tamper(const char *db, const char *sql)
{
	g_autofree char *all = g_strconcat(REPLICA, sql, NULL);
	char *err = NULL;
	cr_assert(h_exec(db, all, &err), "%s: %s", sql, err);
}

/* Asserts verify exits 1 with a finding of check whose detail holds what. */
static void assert_finding(const char *db, const char *check, const char *what)
{
	h_result r = verify(db);
	cr_assert_eq(r.status, 1, "verify: exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(g_str_has_prefix(r.out, "{\"ok\":false,"), "%s", r.out);
	g_autofree char *want = g_strdup_printf("{\"check\":\"%s\",\"detail\":\"", check);
	gboolean found = FALSE;
	for (const char *p = r.out; !found && (p = strstr(p, want)); p++) {
		const char *end = strstr(p, "\"}");
		g_autofree char *detail = g_strndup(p, end ? (gsize)(end - p) : strlen(p));
		found = strstr(detail, what) != NULL;
	}
	cr_assert(found, "no %s finding with '%s' in %s", check, what, r.out);
	h_result_clear(&r);
}

Test(verify, a_sound_ledger_verifies)
{
	const char *db = ledger();
	h_result r = verify(db);
	cr_assert_eq(r.status, 0, "verify: exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(g_str_has_prefix(r.out, "{\"ok\":true,\"batches\":3,\"payment_loads\":1,"), "%s", r.out);
	cr_assert(strstr(r.out, "\"findings\":[]"), "%s", r.out);
	h_result_clear(&r);
	r = h_run(db, "verify", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "3 batches"), "%s", r.out);
	h_result_clear(&r);
}

/* A correction, then a parcel that reverses part of an order paid already, and a settlement that
 * carries the failed payment of batch 1: reversal entries, a negative net and a carried amount. */
Test(verify, a_ledger_with_a_reversal_and_a_carried_failed_payment_verifies)
{
	const char *db = ledger();
	g_autofree char *path = h_write(h_tmpdir(), "households-corrected.csv",
					"household_id,head_name,village,poor_from,poor_to\nH2,符春花,村二,2018-07-01,\n"
					"H4,欧阳小锋,村四,2018-06-12,\n",
					-1);
	h_result r = h_run(db, "registry", "load", "households", path, NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	h_result_clear(&r);
	/* O2: 13.00 of fees at the standard rate, 6.50, down from 9.60 paid (failed) in batch 1. */
	h_ingest_text(db, "night4.csv", HEADER "EMS,D1,O2,2018-06-14 10:00:00,C2,,1,1.00,,\n", 0);
	g_free(h_settle(db));
	cr_assert_eq(h_sql_int(db, "SELECT funded_fen FROM postings WHERE status = 'REVERSAL'"), -310);
	cr_assert_eq(h_sql_int(db, "SELECT carried_fen FROM batch_shops WHERE batch_id = 4 AND shop_id = 'S2'"), 960);
	r = verify(db);
	cr_assert_eq(r.status, 0, "verify: exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(g_str_has_prefix(r.out, "{\"ok\":true,\"batches\":4,\"payment_loads\":1,"), "%s", r.out);
	h_result_clear(&r);
}

Test(verify, an_empty_ledger_verifies)
{
	const char *db = h_fresh_db();
	h_result r = verify(db);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(g_str_has_prefix(r.out, "{\"ok\":true,\"batches\":0,"), "%s", r.out);
	h_result_clear(&r);
}

Test(verify, a_changed_posting_names_its_batch_as_the_first_broken)
{
	const char *db = ledger();
	tamper(db, "UPDATE postings SET funded_fen = funded_fen + 100 WHERE batch_id = 2 AND order_no = 'O1'");
	assert_finding(db, "chain", "batch 2: its digest does not match");
	/* Batches 1 and 3 still hold; the money no longer adds up. */
	h_result r = verify(db);
	cr_assert(strstr(r.out, "\"first_broken_batch\":2,"), "%s", r.out);
	cr_assert_eq(strstr(r.out, "batch 1: its digest"), NULL, "%s", r.out);
	cr_assert_eq(strstr(r.out, "batch 3: its digest"), NULL, "%s", r.out);
	h_result_clear(&r);
	assert_finding(db, "entries", "batch 2 posting");
	assert_finding(db, "payables", "shop S1");
	assert_finding(db, "orders", "order o:O1 of shop S1");
	assert_finding(db, "batches", "batch 2: its header says");
	assert_finding(db, "batch_shops", "batch 2 shop S1");
	/* The human form names the batch too. */
	r = h_run(db, "verify", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.out, "the first broken batch is 2"), "%s", r.out);
	h_result_clear(&r);
}

Test(verify, a_changed_batch_header_is_found)
{
	const char *db = ledger();
	tamper(db, "UPDATE batches SET posted_fen = posted_fen - 1 WHERE batch_id = 1");
	assert_finding(db, "chain", "batch 1: its digest does not match");
	assert_finding(db, "batches", "batch 1: its header says");
	/* The money as it was, the count of its orders one more, then one fewer. */
	tamper(db, "UPDATE batches SET posted_fen = posted_fen + 1, orders = orders + 1 WHERE batch_id = 1");
	assert_finding(db, "batches", "batch 1: its header says");
	tamper(db, "UPDATE batches SET orders = orders - 2 WHERE batch_id = 1");
	assert_finding(db, "batches", "batch 1: its header says");
}

Test(verify, a_changed_payee_bank_account_is_found)
{
	const char *db = ledger();
	tamper(db, "UPDATE batch_shops SET bank_account = '6221000000000999' WHERE batch_id = 3");
	assert_finding(db, "chain", "batch 3: its digest does not match");
	h_result r = verify(db);
	cr_assert(strstr(r.out, "\"first_broken_batch\":3,"), "%s", r.out);
	h_result_clear(&r);
}

Test(verify, a_removed_batch_breaks_the_chain)
{
	const char *db = ledger();
	tamper(db, "DELETE FROM entries WHERE batch_id = 2; DELETE FROM postings WHERE batch_id = 2;"
		   " DELETE FROM batch_shops WHERE batch_id = 2; DELETE FROM batches WHERE batch_id = 2");
	assert_finding(db, "chain", "batch 3 follows batch 1");
	assert_finding(db, "chain", "batch 3: its prev_digest");
}

/* Someone with the database's keys drops the CHECKs and lengthens a batch's prev_digest by one
 * character, or gives its created_at text a timestamp cannot have: each is a chain finding, not a
 * crash, and not read as the digest it begins with. */
Test(verify, a_batch_header_no_batch_could_have_is_a_finding)
{
	const char *db = ledger();
	tamper(db, "ALTER TABLE batches DROP CONSTRAINT batches_prev_digest_check;"
		   " UPDATE batches SET prev_digest = prev_digest || '0' WHERE batch_id = 2");
	assert_finding(db, "chain", "batch 2: its prev_digest is not a digest (65 characters)");
	h_result r = verify(db);
	cr_assert(strstr(r.out, "\"first_broken_batch\":2,"), "%s", r.out);
	h_result_clear(&r);
}

Test(verify, a_changed_payment_breaks_the_payments_chain)
{
	const char *db = ledger();
	tamper(db, "UPDATE payments SET serial_no = 'SN-forged' WHERE shop_id = 'S1'");
	assert_finding(db, "payments_chain", "payment load 1: its digest does not match");
}

Test(verify, entries_that_do_not_balance_are_found)
{
	const char *db = ledger();
	tamper(db, "UPDATE entries SET amount_fen = amount_fen + 1 WHERE txn = 'b1.p1' AND entry_seq = 1");
	assert_finding(db, "entries", "transaction b1.p1: its entries sum to 1 fen");
}

Test(verify, a_pool_balance_that_is_not_its_entries_is_found)
{
	const char *db = ledger();
	tamper(db, "UPDATE pool_balances SET drawn_fen = drawn_fen + 1");
	assert_finding(db, "pools", "pool big: balance says");
	/* Its entries drew one fen more than the pool holds. */
	tamper(db, "UPDATE pool_balances SET amount_fen = drawn_fen - 2, drawn_fen = drawn_fen - 2");
	assert_finding(db, "pools", "pool big is below zero");
}

Test(verify, an_order_state_that_is_not_its_postings_is_found)
{
	const char *db = ledger();
	tamper(db, "UPDATE orders SET funded_fen = funded_fen - 1, unfunded_fen = unfunded_fen + 1 WHERE order_no = 'O2'");
	assert_finding(db, "orders", "order o:O2 of shop S2: orders holds entitlement 960, funded 959, unfunded 1");
}

Test(verify, file_counts_that_do_not_add_up_are_found)
{
	const char *db = ledger();
	tamper(db, "UPDATE files SET eligible = eligible - 1, duplicate = duplicate + 1 WHERE name LIKE '%night1.csv'");
	assert_finding(db, "files", "night1.csv): its counts say 4 lines = 2 eligible + 0 ineligible + 2 duplicate");
}

/* The samples of fixtures/manifests hold a line of every outcome of POLICY.md, INELIGIBLE_PRODUCT
 * under the policy version that lists categories: verify's lists of outcomes (every outcome, and
 * the ones a file counts as ineligible) are policy's, so a sound ledger of them verifies. A list
 * that missed one would find the line's outcome unknown, or its file's counts wrong. */
Test(verify, a_ledger_holding_a_line_of_every_outcome_verifies_and_a_miscounted_ineligible_line_is_found)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_load_registry(db, "fixtures/manifests/registry");
	g_autofree char *canonical = h_path("fixtures/manifests/canonical/canonical.csv");
	H_RUN(db, 0, NULL, "ingest", canonical);
	h_load_registry(db, "fixtures/manifests/categories");
	g_autofree char *categories = h_path("fixtures/manifests/categories/canonical.csv");
	H_RUN(db, 0, NULL, "ingest", categories);
	g_free(h_settle(db));
	cr_assert_eq(h_sql_int(db, "SELECT count(DISTINCT outcome) FROM lines"), 10, "a line of every outcome");
	h_result r = verify(db);
	cr_assert_eq(r.status, 0, "verify: exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "\"findings\":[]"), "%s", r.out);
	h_result_clear(&r);
	tamper(db, "UPDATE files SET ineligible = ineligible - 1, rejected = rejected + 1"
		   " WHERE name LIKE '%categories/canonical.csv'");
	assert_finding(db, "files", "canonical.csv): its counts say 6 lines = 4 eligible + 1 ineligible + 0 duplicate");
}

/* lines has no row-by-row foreign key to files (sql/001): a line whose file is not recorded is
 * verify's to find. */
Test(verify, lines_whose_file_is_not_recorded_are_found)
{
	const char *db = ledger();
	tamper(db, "INSERT INTO lines (file_id, line_no, programme, byte_offset, byte_len, courier, waybill_no, outcome,"
		   " reason) SELECT 4242, 2, programme, 0, 1, 'EMS', 'ORPHAN', 'REJECTED', 'forged' FROM files LIMIT 1");
	assert_finding(db, "files", "file 4242 is not recorded, but 1 of its lines are stored");
}

Test(verify, a_waybill_taken_twice_and_a_line_without_a_valid_outcome_are_found)
{
	const char *db = ledger();
	tamper(db, "UPDATE lines SET outcome = 'ELIGIBLE', reason = NULL, shop_id = 'S1', order_key = 'o:O1'"
		   " WHERE outcome = 'DUPLICATE'");
	assert_finding(db, "waybills", "waybill A1 of EMS passed check 2 on 2 lines");
	assert_finding(db, "files", "night1.csv)");
	tamper(db, "ALTER TABLE lines DROP CONSTRAINT lines_outcome_check;"
		   " UPDATE lines SET outcome = 'PAID TWICE', reason = 'forged' WHERE waybill_no = 'A3'");
	assert_finding(db, "lines", "night1.csv:4 (file 1): 'PAID TWICE' is not an outcome");
}

/* verify runs its heaviest invariants on a second session that shares its snapshot (verify.c,
 * checks_apart). A role that may open one session only still verifies, on one: the same findings,
 * of checks of either session, in the same order, word for word. */
Test(verify, one_session_or_two_find_the_same_in_the_same_order)
{
	const char *db = ledger();
	tamper(db, "UPDATE lines SET outcome = 'ELIGIBLE', reason = NULL, shop_id = 'S1', order_key = 'o:O1'"
		   " WHERE outcome = 'DUPLICATE'");
	tamper(db, "UPDATE orders SET funded_fen = funded_fen - 1, unfunded_fen = unfunded_fen + 1 WHERE order_no = 'O2'");
	tamper(db, "UPDATE pool_balances SET drawn_fen = drawn_fen + 1");
	g_autofree char *lone = h_lone_auditor(db);
	g_autofree char *as_auditor = h_as_role(db, "subsidy_auditor");
	g_autofree char *as_lone = h_as_role(db, lone);
	g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
	h_result two = h_run(as_auditor, "verify", "--json", NULL);
	h_result one = h_run(as_lone, "verify", "--json", NULL);
	g_unsetenv("G_MESSAGES_DEBUG");
	h_drop_role(db, lone);
	cr_assert_eq(two.status, 1, "verify: exit %d\n%s%s", two.status, two.out, two.err);
	cr_assert_null(strstr(two.err, "one reads alone"), "%s", two.err);
	cr_assert_eq(one.status, 1, "verify: exit %d\n%s%s", one.status, one.out, one.err);
	cr_assert(strstr(one.err, "one reads alone") && strstr(one.err, "too many connections"), "%s", one.err);
	/* Findings of checks run on each session (the second's: waybills, orders). */
	const char *const checks[] = { "\"check\":\"pools\"", "\"check\":\"orders\"", "\"check\":\"files\"",
				       "\"check\":\"waybills\"" };
	for (size_t i = 0; i < G_N_ELEMENTS(checks); i++)
		cr_assert(strstr(two.out, checks[i]), "no %s in %s", checks[i], two.out);
	cr_assert_str_eq(one.out, two.out);
	h_result_clear(&two);
	h_result_clear(&one);
}

/* A check that cannot run on the second session (its query fails: here a column renamed, as a
 * schema changed by hand would) stops verify with that check's error, as on one session. */
Test(verify, a_check_that_fails_on_the_second_session_is_reported)
{
	const char *db = ledger();
	tamper(db, "ALTER TABLE orders RENAME COLUMN last_batch TO last_batch_id");
	h_result r = verify(db);
	cr_assert_eq(r.status, 70, "verify: exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.err, "check orders: database error: column \"last_batch\" does not exist"), "%s", r.err);
	h_result_clear(&r);
}

Test(verify, each_check_names_at_most_twenty_findings)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	GString *csv = g_string_new(HEADER);
	for (int i = 0; i < 30; i++)
		g_string_append_printf(csv, "EMS,W%02d,N%02d,2018-06-05 10:%02d:00,C1,,1,12.00,,\n", i, i, i);
	h_ingest_text(db, "many.csv", csv->str, 0);
	g_string_free(csv, TRUE);
	g_free(h_settle(db));
	tamper(db, "UPDATE orders SET funded_fen = funded_fen - 1, unfunded_fen = unfunded_fen + 1");
	h_result r = verify(db);
	cr_assert_eq(r.status, 1);
	int n = 0;
	for (const char *p = r.out; (p = strstr(p, "{\"check\":\"orders\"")); p++)
		n++;
	cr_assert_eq(n, 21, "%d orders findings: %s", n, r.out);
	cr_assert(strstr(r.out, "more findings of this check were left out"), "%s", r.out);
	h_result_clear(&r);
}

Test(verify, verify_changes_nothing)
{
	const char *db = ledger();
	g_autofree char *before = h_ledger_dump(db);
	h_result r = verify(db);
	cr_assert_eq(r.status, 0);
	h_result_clear(&r);
	g_autofree char *after = h_ledger_dump(db);
	cr_assert_str_eq(after, before);
}

/* ------------------------------------------------------------------------------------------ */
/* Tamper evidence beyond the ledger's own rows (issue 13): where the chain is anchored, and what
 * the batch digests cover besides postings, entries and payees. */

/* The head of the batch chain as the finance bureau keeps it ("B3:<digest>"). */
static char *batch_head(const char *db)
{
	return h_sql(db, "SELECT 'B' || batch_id || ':' || digest FROM batches ORDER BY batch_id DESC LIMIT 1");
}

static char *payments_head(const char *db)
{
	return h_sql(db, "SELECT 'P' || load_id || ':' || digest FROM payment_loads ORDER BY load_id DESC LIMIT 1");
}

static void assert_sound(const char *db, const char *expect_head)
{
	h_result r = expect_head ? h_run(db, "verify", "--json", "--expect-head", expect_head, NULL) : verify(db);
	cr_assert_eq(r.status, 0, "verify: exit %d\n%s%s", r.status, r.out, r.err);
	h_result_clear(&r);
}

/* Asserts verify --expect-head head exits 1 with a finding of check whose detail holds what. */
static void assert_anchor_finding(const char *db, const char *head, const char *what)
{
	h_result r = h_run(db, "verify", "--json", "--expect-head", head, NULL);
	cr_assert_eq(r.status, 1, "verify --expect-head %s: exit %d\n%s%s", head, r.status, r.out, r.err);
	cr_assert(strstr(r.out, "{\"check\":\"anchor\",\"detail\":\""), "%s", r.out);
	cr_assert(strstr(r.out, what), "no '%s' in %s", what, r.out);
	h_result_clear(&r);
}

/* Removes the seals a batch made, where the schema has them: the attacker's step too. */
#define DROP_SEALS(batch)                                                                                         \
	"DO $$ BEGIN IF to_regclass('batch_seals') IS NOT NULL THEN"                                              \
	" EXECUTE 'DELETE FROM batch_seals WHERE batch_id = " #batch "'; END IF; END $$;"

/* The newest batch deleted whole, with everything derived from it rolled back: orders, pool
 * balances, its run, the payment load's mark of it. Nothing inside the database tells, so plain
 * verify is clean; the head kept outside (the export's) does tell. */
Test(verify, the_newest_batch_deleted_with_its_state_rolled_back_is_found_by_the_head_kept_elsewhere)
{
	const char *db = ledger();
	g_autofree char *head = batch_head(db);
	cr_assert(g_str_has_prefix(head, "B3:"), "%s", head);
	g_autofree char *head2 = h_sql(db, "SELECT 'B2:' || digest FROM batches WHERE batch_id = 2");
	assert_sound(db, head);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM orders WHERE last_batch = 3"), 1);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM postings WHERE batch_id = 3"), 1);
	tamper(db, "UPDATE pool_balances b SET drawn_fen = b.drawn_fen + d.s FROM (SELECT pool_id, sum(amount_fen) AS s"
		   " FROM entries WHERE batch_id = 3 AND pool_id IS NOT NULL GROUP BY pool_id) d WHERE b.pool_id = d.pool_id;"
		   " DELETE FROM orders WHERE last_batch = 3; DELETE FROM entries WHERE batch_id = 3;"
		   " DELETE FROM postings WHERE batch_id = 3; DELETE FROM batch_shops WHERE batch_id = 3;"
		   " UPDATE payment_loads SET batches_upto = 2;" DROP_SEALS(3)
		   " DELETE FROM runs WHERE run_id = (SELECT run_id FROM batches WHERE batch_id = 3);"
		   " DELETE FROM approvals WHERE batch_id = 3; DELETE FROM batches WHERE batch_id = 3");
	/* A chain with no anchor outside the database can be cut at its end: nothing to see. */
	assert_sound(db, NULL);
	assert_anchor_finding(db, head, "batch 3 is not in the chain");
	/* An older head still holds: the chain up to it is intact. */
	assert_sound(db, head2);
	/* The bare form N:DIGEST is the batch chain's. */
	assert_anchor_finding(db, head + 1, "batch 3 is not in the chain");
}

/* The newest payment load deleted whole with its payments, entries, findings and run: the head
 * `payments load` printed finds it; once a later batch has sealed the load, verify alone does. */
Test(verify, the_newest_payment_load_deleted_whole_is_found_by_its_head_or_by_the_next_batch)
{
	const char *db = ledger();
	g_autofree char *head = payments_head(db);
	cr_assert(g_str_has_prefix(head, "P1:"), "%s", head);
	assert_sound(db, head);
	static const char remove_load[] =
		"DELETE FROM entries WHERE txn LIKE 'pay1.%'; DELETE FROM payments WHERE load_id = 1;"
		" DELETE FROM payment_findings WHERE load_id = 1;"
		" DELETE FROM runs WHERE run_id = (SELECT run_id FROM payment_loads WHERE load_id = 1);"
		" DELETE FROM payment_loads WHERE load_id = 1";
	tamper(db, remove_load);
	assert_sound(db, NULL);
	assert_anchor_finding(db, head, "payment load 1 is not in the payments chain");

	/* The same after a fourth batch: the batch sealed the load. */
	const char *later = ledger();
	h_ingest_text(later, "night4.csv", HEADER "EMS,D1,O9,2018-06-14 10:00:00,C1,,1,6.00,,\n", 0);
	g_free(h_settle(later));
	assert_sound(later, NULL);
	tamper(later, remove_load);
	assert_finding(later, "seals", "payment_loads 1: sealed by batch 4");
}

Test(verify, a_changed_file_chunk_is_found_and_named)
{
	const char *db = ledger();
	tamper(db, "UPDATE file_chunks SET bytes = overlay(bytes placing '9'::bytea from 120 for 1)"
		   " WHERE file_id = (SELECT file_id FROM files WHERE name LIKE '%night2.csv') AND seq = 0");
	g_autofree char *key = h_sql(db, "SELECT 'file_chunks ' || file_id || '/0' FROM files WHERE name LIKE '%night2.csv'");
	assert_finding(db, "seals", key);
	assert_finding(db, "seals", "changed since batch 2 sealed it");
}

Test(verify, a_changed_current_shop_is_found_and_named_also_by_the_auditor)
{
	const char *db = ledger();
	g_autofree char *auditor = h_as_role(db, "subsidy_auditor");
	assert_sound(auditor, NULL);
	tamper(db, "UPDATE shops SET bank_account = '6221000000000999' WHERE shop_id = 'S1' AND superseded_at IS NULL");
	assert_finding(db, "seals", "shops 'S1' version 1");
	assert_finding(auditor, "seals", "shops 'S1' version 1");
}

Test(verify, a_pool_amount_raised_in_both_tables_is_found)
{
	const char *db = ledger();
	tamper(db, "UPDATE pools SET amount_fen = amount_fen + 1000000 WHERE pool_id = 'big';"
		   " UPDATE pool_balances SET amount_fen = amount_fen + 1000000 WHERE pool_id = 'big'");
	assert_finding(db, "seals", "pools 'big' version 1");
}

Test(verify, a_changed_run_is_found_and_named)
{
	const char *db = ledger();
	g_autofree char *key = h_sql(db, "SELECT 'runs ' || run_id FROM batches WHERE batch_id = 2");
	tamper(db, "UPDATE runs SET os_user = 'nobody', db_role = 'nobody' WHERE run_id = (SELECT run_id FROM batches"
		   " WHERE batch_id = 2)");
	assert_finding(db, "seals", key);
}

Test(verify, a_registry_version_retired_in_place_is_found)
{
	const char *db = ledger();
	tamper(db, "UPDATE shops SET superseded_at = now() WHERE shop_id = 'S3'");
	assert_finding(db, "registry", "shops 'S3' version 1: superseded at");
}

/* Batches made before sql/006 have digest version 2 (no seals). Here the ledger's batches are
 * made version 2 again, each digest recomputed by SQL from the version-2 text (src/ledger.c), as
 * the binary before 006 made them: they verify, and the next batch seals the whole history. */
/* A database from before 006 had no seals, and none of approvals (013), which came later: its
 * payments were applied before approvals existed. */
static const char to_version_2[] =
	"SET TimeZone = 'Asia/Shanghai'; SET DateStyle = 'ISO, YMD'; DELETE FROM batch_seals;"
	" DELETE FROM approvals; UPDATE schema_version SET applied_at = now() WHERE name ~ '_approvals[.]sql$';"
	" DO $$ DECLARE b record; prev text := repeat('0', 64); d text; BEGIN"
	" FOR b IN SELECT * FROM batches ORDER BY batch_id LOOP"
	"  SELECT encode(sha256(convert_to(format('subsidy-batch-v2|%s|%s|%s|%s|%s|%s|%s|%s|%s', b.programme,"
	"   b.batch_id, b.created_at, b.files_upto, b.orders, b.postings, b.posted_fen, b.unfunded_fen, prev) || E'\\n'"
	"   || coalesce((SELECT string_agg(format('posting|%s|%L|%L|%L|%L|%s|%s|%L|%s|%L|%s|%L|%s|%s|%s|%s|%s|%L|%L',"
	"    seq, shop_id, order_key, order_no, status, fee_fen, order_date, rule, rate_bp, policy_id, policy_version,"
	"    campaign_id, entitlement_fen, previous_fen, funded_fen, unfunded_fen, fund_pickup, fund_courier,"
	"    fund_waybill) || E'\\n', '' ORDER BY seq) FROM postings WHERE batch_id = b.batch_id), '')"
	"   || coalesce((SELECT string_agg(format('entry|%L|%s|%L|%s|%s|%L|%L', txn, entry_seq, account, amount_fen,"
	"    posting_seq, pool_id, shop_id) || E'\\n', '' ORDER BY txn COLLATE \"C\", entry_seq) FROM entries"
	"    WHERE batch_id = b.batch_id), '')"
	"   || coalesce((SELECT string_agg(format('shop|%L|%s|%s|%s|%s|%L|%L|%L|%L|%L', shop_id, net_fen, carried_fen,"
	"    amount_fen, orders, remark, shop_name, account_name, bank_name, bank_account_seal) || E'\\n', ''"
	"    ORDER BY shop_id COLLATE \"C\") FROM batch_shops_sealed WHERE batch_id = b.batch_id), ''),"
	"   'UTF8')), 'hex') INTO d;"
	"  UPDATE batches SET digest_version = 2, prev_digest = prev, digest = d WHERE batch_id = b.batch_id;"
	"  prev := d;"
	" END LOOP; END $$";

Test(verify, batches_made_before_seals_still_verify_and_the_next_batch_seals_their_history)
{
	const char *db = ledger();
	tamper(db, to_version_2);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batches WHERE digest_version = 2"), 3);
	h_result r = verify(db);
	cr_assert_eq(r.status, 0, "verify: exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "\"unsealed\":0,") == NULL, "%s", r.out); /* the history is not sealed yet */
	h_result_clear(&r);
	/* Unsealed history: an edit in place is not seen yet... */
	h_ingest_text(db, "night4.csv", HEADER "EMS,D1,O9,2018-06-14 10:00:00,C1,,1,6.00,,\n", 0);
	g_free(h_settle(db));
	cr_assert_eq(h_sql_int(db, "SELECT digest_version FROM batches WHERE batch_id = 4"), 3);
	/* ...but batch 4 sealed all of it, the old history included. */
	r = verify(db);
	cr_assert_eq(r.status, 0, "verify: exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "\"unsealed\":0,"), "%s", r.out);
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(db, "SELECT count(DISTINCT batch_id) FROM batch_seals"), 1);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batch_seals WHERE tbl = 'files'"), 4);
	tamper(db, "UPDATE shops SET shop_name = '改名店' WHERE shop_id = 'S2'");
	assert_finding(db, "seals", "shops 'S2' version 1: changed since batch 4 sealed it");
}

Test(verify, a_batch_of_digest_version_2_after_sealing_batches_is_a_finding)
{
	const char *db = ledger();
	tamper(db, "UPDATE batches SET digest_version = 2 WHERE batch_id = 3");
	assert_finding(db, "chain", "batch 3: digest version 2 after batch 1 sealed with version 3");
}

/* Where the heads come from: nightly and export print the batch chain's, payments load its own;
 * verify takes any of them back. */
Test(verify, nightly_export_and_payments_load_print_the_heads_that_verify_checks)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = g_build_filename(h_tmpdir(), "inbox", NULL);
	cr_assert_eq(g_mkdir(inbox, 0700), 0);
	g_free(h_write(inbox, "night1.csv", HEADER "EMS,A1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n", -1));
	h_result r = h_run(db, "nightly", "--inbox", inbox, "--json", NULL);
	cr_assert_eq(r.status, 0, "nightly: exit %d\n%s%s", r.status, r.out, r.err);
	g_autofree char *head = batch_head(db);
	g_autofree char *want = g_strdup_printf("\"head\":\"%s\",\"payments_head\":null}", head);
	cr_assert(strstr(r.out, want), "no %s in %s", want, r.out);
	h_result_clear(&r);
	r = h_run(db, "nightly", "--inbox", inbox, NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	g_autofree char *line = g_strdup_printf("chain head %s; payments head none", head);
	cr_assert(strstr(r.out, line), "no %s in %s", line, r.out);
	h_result_clear(&r);

	g_autofree char *out = g_build_filename(h_tmpdir(), "b1.csv", NULL);
	r = h_run(db, "export", "--batch", "1", "-o", out, "--json", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, want), "no %s in %s", want, r.out);
	h_result_clear(&r);

	g_autofree char *pay = h_write(h_tmpdir(), "payments.csv",
				       "批次号,店铺编号,金额(元),状态,支付时间,流水号\n1,S1,6.00,成功,2018-06-20 10:00:00,SN1\n", -1);
	h_approve_all(db);
	r = h_run(db, "payments", "load", pay, NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	g_autofree char *phead = payments_head(db);
	g_autofree char *pline = g_strdup_printf("payments head %s", phead);
	cr_assert(strstr(r.out, pline), "no %s in %s", pline, r.out);
	h_result_clear(&r);

	r = h_run(db, "verify", "--expect-head", head, "--expect-head", phead, NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, head) && strstr(r.out, phead), "%s", r.out);
	h_result_clear(&r);
	/* A head that is not the chain's: the chain was rewritten (or the head was copied wrong). */
	g_autofree char *other = g_strdup(head);
	other[strlen(other) - 1] = other[strlen(other) - 1] == '0' ? '1' : '0';
	assert_anchor_finding(db, other, "batch 1: its digest is");
	r = h_run(db, "verify", "--expect-head", "B1:abc", NULL);
	cr_assert_eq(r.status, 64, "%s%s", r.out, r.err);
	cr_assert(strstr(r.err, "is not a chain head"), "%s", r.err);
	h_result_clear(&r);
}
