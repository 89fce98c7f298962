/* test_settle.c: settlement on a real database, through the binary: POLICY.md's worked
 * examples ("How much", "The fund runs out"), reversals, idempotence, the settlement lock, and
 * SIGKILL at every fault point of a settlement. Registry: fixtures/small (see its README). */
#include "harness.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <libpq-fe.h>
#include <string.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"

static const char *setup(void)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	return db;
}

/* The funded amounts of an order's postings, in batch order, as "a,b,c". */
static char *funded(const char *db, const char *order_no)
{
	g_autofree char *sql = g_strdup_printf("SELECT string_agg(funded_fen::text || ':' || status, ','"
					       " ORDER BY batch_id, seq) FROM postings WHERE order_no = '%s'",
					       order_no);
	return h_sql(db, sql);
}

static void assert_funded(const char *db, const char *order_no, const char *want)
{
	g_autofree char *got = funded(db, order_no);
	cr_assert_str_eq(got ? got : "(none)", want, "order %s: postings %s, wanted %s", order_no, got, want);
}

/* POLICY.md's table, one order per fee, standard (C1 → S1) and poverty (C2 → S2). */
Test(settle, worked_examples_standard_and_poverty_rates)
{
	static const struct {
		const char *fee;
		const char *standard;
		const char *poverty;
	} rows[] = {
		{ "6.00", "300", "480" },   { "12.35", "618", "988" },   { "19.97", "999", "1598" },
		{ "19.99", "1000", "1599" }, { "20.00", "1000", "1600" }, { "25.00", "1000", "2000" },
		{ "45.75", "1000", "3660" }, { "0.01", "1", "1" },         { "0.03", "2", "2" },
		{ "0.05", "3", "4" },
	};
	const char *db = setup();
	GString *csv = g_string_new(HEADER);
	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_string_append_printf(csv, "EMS,S%zu,STD%zu,2018-06-05 10:00:00,C1,,1,%s,,\n", i, i, rows[i].fee);
		g_string_append_printf(csv, "EMS,P%zu,POV%zu,2018-06-05 10:00:00,C2,,1,%s,,\n", i, i, rows[i].fee);
	}
	h_ingest_text(db, "night1.csv", csv->str, 0);
	g_string_free(csv, TRUE);
	g_autofree char *out = h_settle(db);
	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autofree char *s = g_strdup_printf("STD%zu", i), *p = g_strdup_printf("POV%zu", i);
		g_autofree char *ws = g_strdup_printf("%s:FUNDED", rows[i].standard);
		g_autofree char *wp = g_strdup_printf("%s:FUNDED", rows[i].poverty);
		assert_funded(db, s, ws);
		assert_funded(db, p, wp);
	}
}

Test(settle, the_cap_is_per_order_across_three_parcels)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv",
		      HEADER "EMS,A1,THREE1,2018-06-06 10:00:00,C1,,1,8.00,,\nEMS,A2,THREE1,2018-06-06 10:01:00,C1,,1,8.00,,\n"
			     "EMS,A3,THREE1,2018-06-06 10:02:00,C1,,1,8.00,,\nEMS,B1,THREE2,2018-06-06 10:00:00,C2,,1,8.00,,\n"
			     "EMS,B2,THREE2,2018-06-06 10:01:00,C2,,1,8.00,,\nEMS,B3,THREE2,2018-06-06 10:02:00,C2,,1,8.00,,\n",
		      0);
	g_autofree char *out = h_settle(db);
	assert_funded(db, "THREE1", "1000:FUNDED");
	assert_funded(db, "THREE2", "1920:FUNDED");
	cr_assert_eq(h_sql_int(db, "SELECT fee_fen FROM orders WHERE order_no = 'THREE1'"), 2400);
}

Test(settle, a_second_parcel_a_night_later_tops_the_order_up_as_a_difference)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,N1,TOP1,2018-06-07 10:00:00,C1,,1,12.00,,\n"
					   "EMS,N2,TOP2,2018-06-07 10:00:00,C2,,1,12.00,,\n", 0);
	g_autofree char *one = h_settle(db);
	h_ingest_text(db, "n2.csv", HEADER "EMS,N3,TOP1,2018-06-08 10:00:00,C1,,1,12.00,,\n"
					   "EMS,N4,TOP2,2018-06-08 10:00:00,C2,,1,12.00,,\n", 0);
	g_autofree char *two = h_settle(db);
	cr_assert_str_eq(two, "{\"batch\":2,\"orders\":2,\"postings\":2,\"posted_fen\":1360,\"unfunded_fen\":0}");
	assert_funded(db, "TOP1", "600:FUNDED,400:FUNDED");
	assert_funded(db, "TOP2", "960:FUNDED,960:FUNDED");
}

Test(settle, budget_example_funded_partial_exhausted_then_a_new_pool_pays_in_funding_order)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_load_text(db, "budgets",
		    "pool_id,name,amount,valid_from,valid_to,priority\n"
		    "big,大池,0.00,2016-01-01,2018-12-31,1\n"
		    "small,小池,15.00,2016-01-01,2018-12-31,2\n");
	h_ingest_text(db, "b.csv", HEADER "EMS,B1,OB1,2018-06-05 10:00:00,C1,,1,20.00,,\n"
					  "EMS,B2,OB2,2018-06-05 11:00:00,C1,,1,20.00,,\n"
					  "EMS,B3,OB3,2018-06-05 12:00:00,C1,,1,20.00,,\n", 0);
	g_autofree char *one = h_settle(db);
	cr_assert_str_eq(one, "{\"batch\":1,\"orders\":3,\"postings\":3,\"posted_fen\":1500,\"unfunded_fen\":1500}");
	assert_funded(db, "OB1", "1000:FUNDED");
	assert_funded(db, "OB2", "500:PARTIAL");
	assert_funded(db, "OB3", "0:BUDGET_EXHAUSTED");
	cr_assert_eq(h_sql_int(db, "SELECT amount_fen - drawn_fen FROM pool_balances WHERE pool_id = 'small'"), 0);

	h_load_text(db, "budgets",
		    "pool_id,name,amount,valid_from,valid_to,priority\n"
		    "big,大池,0.00,2016-01-01,2018-12-31,1\n"
		    "small,小池,15.00,2016-01-01,2018-12-31,2\n"
		    "more,追加,20.00,2016-01-01,2018-12-31,3\n");
	g_autofree char *two = h_settle(db);
	cr_assert_str_eq(two, "{\"batch\":2,\"orders\":2,\"postings\":2,\"posted_fen\":1500,\"unfunded_fen\":0}");
	assert_funded(db, "OB2", "500:PARTIAL,500:FUNDED");
	assert_funded(db, "OB3", "0:BUDGET_EXHAUSTED,1000:FUNDED");
	/* In funding order: the second order first. */
	cr_assert_eq(h_sql_int(db, "SELECT seq FROM postings WHERE batch_id = 2 AND order_no = 'OB2'"), 1);
	g_autofree char *three = h_settle(db);
	cr_assert_str_eq(three, "{\"batch\":null,\"orders\":0,\"postings\":0,\"posted_fen\":0,\"unfunded_fen\":0}");
}

Test(settle, an_earlier_parcel_that_lowers_the_entitlement_posts_a_reversal)
{
	/* S4's household is poor from 2018-06-12. An order picked up on the 13th is paid at the
	 * poverty rate; a parcel of the same order picked up on the 11th moves the order date before
	 * that, so the standard, capped rate applies and the difference is reversed. */
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,R1,REV1,2018-06-13 10:00:00,C4,,1,20.00,,\n", 0);
	g_autofree char *one = h_settle(db);
	assert_funded(db, "REV1", "1600:FUNDED");
	h_ingest_text(db, "n2.csv", HEADER "EMS,R2,REV1,2018-06-11 10:00:00,C4,,1,5.00,,\n", 0);
	g_autofree char *two = h_settle(db);
	cr_assert_str_eq(two, "{\"batch\":2,\"orders\":1,\"postings\":1,\"posted_fen\":-600,\"unfunded_fen\":0}");
	assert_funded(db, "REV1", "1600:FUNDED,-600:REVERSAL");
	/* The money went back to the pool, and the shop's payable fell: double entry. */
	cr_assert_eq(h_sql_int(db, "SELECT drawn_fen FROM pool_balances WHERE pool_id = 'big'"), 1000);
	cr_assert_eq(h_sql_int(db, "SELECT sum(amount_fen) FROM entries WHERE account = 'payable:S4'"), 1000);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM (SELECT txn FROM entries GROUP BY txn"
				   " HAVING sum(amount_fen) <> 0) t"), 0);
	cr_assert_eq(h_sql_int(db, "SELECT net_fen FROM batch_shops WHERE batch_id = 2 AND shop_id = 'S4'"), -600);
}

Test(settle, a_reversal_cancels_the_unfunded_amount_before_returning_money)
{
	const char *db = setup();
	h_load_text(db, "budgets",
		    "pool_id,name,amount,valid_from,valid_to,priority\n"
		    "big,大池,10.00,2016-01-01,2018-12-31,1\n");
	h_ingest_text(db, "n1.csv", HEADER "EMS,R1,REV1,2018-06-13 10:00:00,C4,,1,20.00,,\n", 0);
	g_autofree char *one = h_settle(db);
	assert_funded(db, "REV1", "1000:PARTIAL"); /* 16.00 owed, 10.00 funded, 6.00 unfunded */
	h_ingest_text(db, "n2.csv", HEADER "EMS,R2,REV1,2018-06-11 10:00:00,C4,,1,5.00,,\n", 0);
	g_autofree char *two = h_settle(db);
	/* Entitled now 10.00: the 6.00 unfunded is cancelled, no money moves back. */
	assert_funded(db, "REV1", "1000:PARTIAL,0:REVERSAL");
	cr_assert_eq(h_sql_int(db, "SELECT unfunded_fen FROM orders WHERE order_no = 'REV1'"), 0);
	cr_assert_eq(h_sql_int(db, "SELECT entitlement_fen FROM orders WHERE order_no = 'REV1'"), 1000);
}

Test(settle, a_reversal_returns_money_to_the_pool_drawn_last_first)
{
	/* Pool zz comes first by priority, aa by pool_id: one posting draws zz, then aa. The reversal
	 * returns money in the reverse order it was drawn, so aa gets it back first. */
	const char *db = setup();
	h_load_text(db, "budgets",
		    "pool_id,name,amount,valid_from,valid_to,priority\n"
		    "big,大池,0.00,2016-01-01,2018-12-31,1\n"
		    "zz,先用,8.00,2016-01-01,2018-12-31,2\n"
		    "aa,后用,100.00,2016-01-01,2018-12-31,3\n");
	h_ingest_text(db, "n1.csv", HEADER "EMS,R1,REV1,2018-06-13 10:00:00,C4,,1,20.00,,\n", 0);
	g_autofree char *one = h_settle(db);
	assert_funded(db, "REV1", "1600:FUNDED"); /* 8.00 from zz, then 8.00 from aa */
	cr_assert_eq(h_sql_int(db, "SELECT drawn_fen FROM pool_balances WHERE pool_id = 'zz'"), 800);
	cr_assert_eq(h_sql_int(db, "SELECT drawn_fen FROM pool_balances WHERE pool_id = 'aa'"), 800);
	h_ingest_text(db, "n2.csv", HEADER "EMS,R2,REV1,2018-06-11 10:00:00,C4,,1,5.00,,\n", 0);
	g_autofree char *two = h_settle(db);
	assert_funded(db, "REV1", "1600:FUNDED,-600:REVERSAL");
	cr_assert_eq(h_sql_int(db, "SELECT drawn_fen FROM pool_balances WHERE pool_id = 'aa'"), 200);
	cr_assert_eq(h_sql_int(db, "SELECT drawn_fen FROM pool_balances WHERE pool_id = 'zz'"), 800);
	/* More than aa lent: the rest goes back to zz. */
	h_ingest_text(db, "n3.csv", HEADER "EMS,R3,REV1,2018-06-10 10:00:00,C4,,1,0.00,,\n", 0);
	h_load_text(db, "policies",
		    "policy_id,valid_from,valid_to,standard_rate_bp,standard_cap,poverty_rate_bp,"
		    "poverty_cap,rounding,require_campaign,eligible_categories,fee_max\n"
		    "p1,2016-01-01,2018-12-31,5000,5.00,8000,,half_up,true,,2000.00\n");
	g_autofree char *three = h_settle(db);
	assert_funded(db, "REV1", "1600:FUNDED,-600:REVERSAL,-500:REVERSAL");
	cr_assert_eq(h_sql_int(db, "SELECT drawn_fen FROM pool_balances WHERE pool_id = 'aa'"), 0);
	cr_assert_eq(h_sql_int(db, "SELECT drawn_fen FROM pool_balances WHERE pool_id = 'zz'"), 500);
	h_result r = h_run(db, "verify", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	h_result_clear(&r);
}

Test(settle, settling_the_same_data_again_posts_nothing_and_makes_no_batch)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,X1,X1,2018-06-05 10:00:00,C1,,1,12.00,,\n", 0);
	g_autofree char *one = h_settle(db);
	g_autofree char *before = h_ledger_dump(db);
	g_autofree char *two = h_settle(db);
	cr_assert_str_eq(two, "{\"batch\":null,\"orders\":0,\"postings\":0,\"posted_fen\":0,\"unfunded_fen\":0}");
	g_autofree char *after = h_ledger_dump(db);
	cr_assert_str_eq(after, before);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batches"), 1);
}

Test(settle, a_held_settlement_lock_exits_75_and_changes_nothing)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,X1,X1,2018-06-05 10:00:00,C1,,1,12.00,,\n", 0);
	PGconn *holder = h_hold_settlement_lock(db);
	h_result r = h_run(db, "settle", "--json", NULL);
	cr_assert_eq(r.status, 75, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "lock"), "%s", r.err);
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM postings"), 0);
	PQfinish(holder);
	g_autofree char *out = h_settle(db);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM postings"), 1);
}

Test(settle, two_settlements_started_together_do_the_work_once)
{
	const char *db = setup();
	GString *csv = g_string_new(HEADER);
	for (int i = 0; i < 3000; i++)
		g_string_append_printf(csv, "EMS,W%05d,O%05d,2018-06-05 10:%02d:00,C1,,1,12.00,,\n", i, i, i % 60);
	h_ingest_text(db, "many.csv", csv->str, 0);
	g_string_free(csv, TRUE);
	int codes[2];
	h_run_together(db, codes, "settle", NULL);
	cr_assert((codes[0] == 0 && codes[1] == 75) || (codes[0] == 75 && codes[1] == 0) ||
		  (codes[0] == 0 && codes[1] == 0), "exits %d and %d", codes[0], codes[1]);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batches"), 1);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM postings"), 3000);
	cr_assert_eq(h_sql_int(db, "SELECT sum(funded_fen) FROM postings"), 3000 * 600);
}

/* The fault points of a settlement, each a test of its own, run in parallel. */
static const char *const settle_kill_points[] = { "settle:priced", "settle:funded", "settle:recorded",
						  "settle:before-commit", "settle:committed" };

ParameterizedTestParameters(settle, killed_at_any_point_the_rerun_gives_the_uninterrupted_ledger)
{
	H_INDEX_PARAMETERS(G_N_ELEMENTS(settle_kill_points));
}

/* A settlement killed at a fault point leaves no trace (or, killed after its commit, all of it);
 * the rerun leaves a ledger identical, entry for entry, to an uninterrupted run. */
ParameterizedTest(int *index, settle, killed_at_any_point_the_rerun_gives_the_uninterrupted_ledger)
{
	cr_assert(*index >= 0 && (size_t)*index < G_N_ELEMENTS(settle_kill_points));
	const char *point = settle_kill_points[*index];
	const char *night1 = HEADER "EMS,K1,K1,2018-06-05 10:00:00,C1,,1,12.00,,\nEMS,K2,K2,2018-06-05 10:01:00,C2,,1,30.00,,\n"
				    "EMS,K3,K1,2018-06-05 10:02:00,C1,,1,12.00,,\n";
	const char *night2 = HEADER "EMS,K4,K2,2018-06-06 10:00:00,C2,,1,1.00,,\nEMS,K5,K5,2018-06-06 10:01:00,C1,,1,3.00,,\n";
	const char *ref = setup();
	h_ingest_text(ref, "n1.csv", night1, 0);
	g_free(h_settle(ref));
	h_ingest_text(ref, "n2.csv", night2, 0);
	g_free(h_settle(ref));
	g_autofree char *want = h_ledger_dump(ref);

	const char *db = setup();
	h_ingest_text(db, "n1.csv", night1, 0);
	g_free(h_settle(db));
	h_ingest_text(db, "n2.csv", night2, 0);
	H_RUN_KILLED(db, point, "settle");
	int64_t batches = h_sql_int(db, "SELECT count(*) FROM batches");
	cr_assert(batches == (strcmp(point, "settle:committed") == 0 ? 2 : 1), "%s: %ld batches", point, (long)batches);
	g_free(h_settle(db));
	g_autofree char *got = h_ledger_dump(db);
	cr_assert_str_eq(got, want, "%s: the ledger after the rerun differs", point);
}

/* POLICY.md: reversals first, then new differences and retries together in funding-key order.
 * An order whose reversal only cancels part of what it is owed is still owed the rest, and waits
 * in funding-key order like any other: an older order is paid before a newer one. */
Test(settle, a_reversed_order_still_owed_money_is_retried_in_funding_key_order)
{
	const char *db = setup();
	h_load_text(db, "budgets",
		    "pool_id,name,amount,valid_from,valid_to,priority\n"
		    "big,大池,15.00,2016-01-01,2018-12-31,1\n");
	h_ingest_text(db, "n1.csv", HEADER "EMS,Q1,O1,2018-06-05 10:00:00,C1,,1,25.00,,\n"
					   "EMS,Q2,O2,2018-06-06 10:00:00,C1,,1,25.00,,\n"
					   "EMS,Q3,O3,2018-06-07 10:00:00,C1,,1,25.00,,\n", 0);
	g_free(h_settle(db));
	assert_funded(db, "O2", "500:PARTIAL");
	assert_funded(db, "O3", "0:BUDGET_EXHAUSTED");

	/* The cap falls to 8.00 and 5.00 more money arrives. Every order is priced again with the
	 * corrected policy (POLICY.md: the registry as known at each settlement), whether or not a
	 * parcel arrived: reversals first (O1 gives 2.00 back to its pool; O2 and O3 cancel 2.00 of
	 * what they are owed), then the retries in funding-key order: O2's 3.00 before O3, which gets
	 * the 4.00 left. */
	h_load_text(db, "policies",
		    "policy_id,valid_from,valid_to,standard_rate_bp,standard_cap,poverty_rate_bp,poverty_cap,rounding,"
		    "require_campaign,eligible_categories,fee_max\n"
		    "p1,2016-01-01,2018-12-31,5000,8.00,8000,,half_up,true,,2000.00\n");
	h_load_text(db, "budgets",
		    "pool_id,name,amount,valid_from,valid_to,priority\n"
		    "big,大池,15.00,2016-01-01,2018-12-31,1\n"
		    "more,追加,5.00,2016-01-01,2018-12-31,2\n");
	h_ingest_text(db, "n2.csv", HEADER "EMS,Q4,O2,2018-06-06 11:00:00,C1,,1,0.00,,\n", 0);
	g_autofree char *two = h_settle(db);
	cr_assert_str_eq(two, "{\"batch\":2,\"orders\":3,\"postings\":5,\"posted_fen\":500,\"unfunded_fen\":400}");
	assert_funded(db, "O1", "1000:FUNDED,-200:REVERSAL");
	assert_funded(db, "O2", "500:PARTIAL,0:REVERSAL,300:FUNDED");
	assert_funded(db, "O3", "0:BUDGET_EXHAUSTED,0:REVERSAL,400:PARTIAL");
	cr_assert_eq(h_sql_int(db, "SELECT funded_fen FROM orders WHERE order_no = 'O2'"), 800);
	cr_assert_eq(h_sql_int(db, "SELECT unfunded_fen FROM orders WHERE order_no = 'O2'"), 0);
	cr_assert_eq(h_sql_int(db, "SELECT unfunded_fen FROM orders WHERE order_no = 'O3'"), 400);
	h_result r = h_run(db, "verify", NULL);
	cr_assert_eq(r.status, 0, "verify: %s%s", r.out, r.err);
	h_result_clear(&r);
	r = h_run(db, "replay", "--from", "2018-06-01", "--to", "2018-06-30", NULL);
	cr_assert_eq(r.status, 0, "replay: %s%s", r.out, r.err);
	h_result_clear(&r);
}

/* After the fund ran out, a night whose orders cannot give money back does not price the waiting
 * orders again (settle.c, retries_may_fund; its diagnostics say so): it would fund nothing and
 * post nothing. A night that
 * can, does, and the money comes back to the waiting orders in funding-key order in the same
 * settlement: through a parcel earlier than its order's date (a lower rate), and through a registry
 * change of another shop, even when the changed order was touched by a parcel first. */
Test(settle, after_the_fund_ran_out_waiting_orders_get_money_given_back_the_same_night)
{
	const char *db = setup();
	h_load_text(db, "budgets",
		    "pool_id,name,amount,valid_from,valid_to,priority\n"
		    "big,大池,37.00,2016-01-01,2018-12-31,1\n");
	/* P1: S2, poor: 80% of 20.00. REV1: S4, poor from 06-12: 80% of 20.00. W1, W2: S1, capped. */
	h_ingest_text(db, "n1.csv", HEADER "EMS,F1,P1,2018-06-05 09:00:00,C2,,1,20.00,,\n"
					   "EMS,F2,REV1,2018-06-13 10:00:00,C4,,1,20.00,,\n"
					   "EMS,F3,W1,2018-06-14 10:00:00,C1,,1,25.00,,\n"
					   "EMS,F4,W2,2018-06-15 10:00:00,C1,,1,25.00,,\n", 0);
	g_free(h_settle(db));
	assert_funded(db, "P1", "1600:FUNDED");
	assert_funded(db, "REV1", "1600:FUNDED");
	assert_funded(db, "W1", "500:PARTIAL");
	assert_funded(db, "W2", "0:BUDGET_EXHAUSTED");

	/* Nothing can come back: a new order, and a later parcel of W1 (still capped). */
	h_ingest_text(db, "n2.csv", HEADER "EMS,F5,N1,2018-06-16 10:00:00,C1,,1,4.00,,\n"
					   "EMS,F6,W1,2018-06-17 10:00:00,C1,,1,1.00,,\n", 0);
	g_autofree char *said = NULL;
	g_autofree char *two = h_settle_said(db, &said);
	cr_assert(strstr(said, "waiting for money not retried"), "%s", said);
	cr_assert_str_eq(two, "{\"batch\":2,\"orders\":1,\"postings\":1,\"posted_fen\":0,\"unfunded_fen\":1700}");
	assert_funded(db, "N1", "0:BUDGET_EXHAUSTED");
	assert_funded(db, "W1", "500:PARTIAL");
	assert_funded(db, "W2", "0:BUDGET_EXHAUSTED");

	/* A parcel of REV1 on 06-11, before S4's household was poor: 50% of 25.00, capped at 10.00.
	 * The 6.00 it gives back goes to W1 (its 5.00), then W2 (1.00); N1 comes later. */
	h_ingest_text(db, "n3.csv", HEADER "EMS,F7,REV1,2018-06-11 10:00:00,C4,,1,5.00,,\n", 0);
	g_clear_pointer(&said, g_free);
	g_autofree char *three = h_settle_said(db, &said);
	cr_assert(strstr(said, "waiting for money retried: 3 not touched otherwise"), "W1, W2, N1: %s", said);
	cr_assert_str_eq(three,
			 "{\"batch\":3,\"orders\":3,\"postings\":3,\"posted_fen\":0,\"unfunded_fen\":1100}");
	assert_funded(db, "REV1", "1600:FUNDED,-600:REVERSAL");
	assert_funded(db, "W1", "500:PARTIAL,500:FUNDED");
	assert_funded(db, "W2", "0:BUDGET_EXHAUSTED,100:PARTIAL");
	assert_funded(db, "N1", "0:BUDGET_EXHAUSTED");

	/* S2's household is poor only from July now: P1 falls to 50% of 20.00 and gives 6.00 back, to
	 * W2. P1 also has a parcel tonight (a fee of 0), so the registry change touches no order of
	 * its own: it still counts as one that can give money back. */
	h_load_text(db, "households",
		    "household_id,head_name,village,poor_from,poor_to\n"
		    "H2,符春花,村二,2018-07-01,\n"
		    "H4,欧阳小锋,村四,2018-06-12,\n");
	h_ingest_text(db, "n4.csv", HEADER "EMS,F8,P1,2018-06-18 10:00:00,C2,,1,0.00,,\n", 0);
	g_clear_pointer(&said, g_free);
	g_autofree char *four = h_settle_said(db, &said);
	cr_assert(strstr(said, "waiting for money retried: 2 not touched otherwise"), "W2, N1: %s", said);
	cr_assert_str_eq(four, "{\"batch\":4,\"orders\":2,\"postings\":2,\"posted_fen\":0,\"unfunded_fen\":500}");
	assert_funded(db, "P1", "1600:FUNDED,-600:REVERSAL");
	assert_funded(db, "W2", "0:BUDGET_EXHAUSTED,100:PARTIAL,600:PARTIAL");
	assert_funded(db, "N1", "0:BUDGET_EXHAUSTED");
	cr_assert_eq(h_sql_int(db, "SELECT amount_fen - drawn_fen FROM pool_balances WHERE pool_id = 'big'"), 0);
	h_assert_replay_and_verify_clean(db, "as-recorded");

	/* A night with nothing in it: the pool is empty, so nothing at all is touched. */
	g_clear_pointer(&said, g_free);
	g_free(h_settle_said(db, &said));
	cr_assert(strstr(said, "waiting for money not retried"), "%s", said);
	cr_assert(strstr(said, "settle: no order touched"), "%s", said);
}

/* Funding reads the attempts 10,000 at a time and writes each round's postings and entries while
 * it funds the next (the last COPY of a round deferred; the last round's are not). 35,000 orders
 * of 6.00 each, picked up a second apart (the funding key), and a pool of 74,073.00: the first
 * 12,345 in funding order are FUNDED, the next PARTIAL with 3.00, every later one
 * BUDGET_EXHAUSTED. The budget runs out in the second round, so a deferred round with entries (the
 * first two) and one with postings only (the third) are both written. */
Test(settle, a_budget_that_runs_out_mid_round_funds_in_funding_order_across_rounds)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_load_text(db, "budgets",
		    "pool_id,name,amount,valid_from,valid_to,priority\n"
		    "big,大池,74073.00,2016-01-01,2018-12-31,1\n");
	enum { ORDERS = 35000, FUNDED = 12345 };
	GString *csv = g_string_new(HEADER);
	/* Listed in reverse: the file's order is not the funding order. */
	for (int i = ORDERS - 1; i >= 0; i--)
		g_string_append_printf(csv, "EMS,W%05d,O%05d,2018-06-05 %02d:%02d:%02d,C1,,1,12.00,,\n", i, i, i / 3600,
				       i / 60 % 60, i % 60);
	h_ingest_text(db, "many.csv", csv->str, 0);
	g_string_free(csv, TRUE);
	g_autofree char *out = h_settle(db);
	cr_assert_str_eq(out, "{\"batch\":1,\"orders\":35000,\"postings\":35000,\"posted_fen\":7407300,"
			      "\"unfunded_fen\":13592700}");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM postings WHERE status = 'FUNDED' AND funded_fen = 600"
				   " AND order_no < 'O12345'"), FUNDED);
	assert_funded(db, "O12345", "300:PARTIAL");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM postings WHERE status = 'BUDGET_EXHAUSTED'"
				   " AND funded_fen = 0 AND order_no > 'O12345'"), ORDERS - FUNDED - 1);
	/* In funding order: the posting's seq is the order's place. */
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM postings WHERE seq <> substr(order_no, 2)::int + 1"), 0);
	/* Two legs for every posting that moved money, and nothing else. */
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM entries WHERE batch_id = 1"), 2 * (FUNDED + 1));
	cr_assert_eq(h_sql_int(db, "SELECT count(DISTINCT posting_seq) FROM entries WHERE batch_id = 1"), FUNDED + 1);
	h_result r = h_run(db, "verify", NULL);
	cr_assert_eq(r.status, 0, "verify: exit %d\n%s%s", r.status, r.out, r.err);
	h_result_clear(&r);
}
