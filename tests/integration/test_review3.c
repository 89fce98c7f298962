/* test_review3.c: adversarial review of the merged settle + acts path (withdraw, resolve,
 * reclassify after the merge): multi-file orders, shared waybills, chunk-crossing files.
 * Registry: fixtures/small (S1 standard via EMS C1, S2 poor via EMS C2; c618 2018-06-01..18). */
#include "harness.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"

static const char *setup(void)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	return db;
}

/* An order whose lines came in two files: withdrawing one re-prices it with the other's only. */
Test(review3, withdraw_one_file_of_a_two_file_order_reprices_with_the_rest)
{
	const char *db = setup();
	h_ingest_text(db, "a.csv", HEADER "EMS,M1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n", 0);
	g_free(h_settle(db));
	h_ingest_text(db, "b.csv", HEADER "EMS,M2,O1,2018-06-04 10:00:00,C1,,1,12.00,,\n", 0);
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,400:FUNDED:-");
	H_RUN(db, 0, "W1", "withdraw", "--file", "1", "--reason", "wrong profile");
	g_free(h_settle(db));
	/* M2 alone: 12.00 -> 6.00; the order had 10.00. */
	h_assert_postings(db, "O1", "600:FUNDED:-,400:FUNDED:-,-400:REVERSAL:W1");
	cr_assert_eq(h_sql_int(db, "SELECT fee_fen FROM orders WHERE order_no = 'O1'"), 1200);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM orders WHERE order_no = 'O1' AND fund_waybill = 'M2'"), 1);
	h_assert_replay_and_verify_clean(db, "as-recorded");
	h_ingest_text(db, "a.csv", HEADER "EMS,M1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n", 0);
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,400:FUNDED:-,-400:REVERSAL:W1,400:FUNDED:-");
	h_assert_replay_and_verify_clean(db, "as-recorded");
}

/* A waybill first claimed by file 1 and repeated (DUPLICATE) in file 2: withdrawing file 1 does not
 * make file 2's line count; withdrawing file 2 then leaves file 1's claim (taken again) alone. */
Test(review3, withdraw_with_duplicates_in_a_later_file_then_ingest_again)
{
	const char *db = setup();
	static const char a[] = HEADER "EMS,X1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n";
	static const char b[] = HEADER "EMS,X1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n"
				       "EMS,Y1,O2,2018-06-05 11:00:00,C2,,1,10.00,,\n";
	h_ingest_text(db, "a.csv", a, 0);
	h_ingest_text(db, "b.csv", b, 0);
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-");
	h_assert_postings(db, "O2", "800:FUNDED:-");
	H_RUN(db, 0, "W1", "withdraw", "--file", "1", "--reason", "sent by mistake");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,-600:REVERSAL:W1");
	h_assert_replay_and_verify_clean(db, "as-recorded");
	h_ingest_text(db, "a.csv", a, 0); /* file 3 */
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,-600:REVERSAL:W1,600:FUNDED:-");
	H_RUN(db, 0, "W2", "withdraw", "--file", "2", "--reason", "sent by mistake");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,-600:REVERSAL:W1,600:FUNDED:-");
	h_assert_postings(db, "O2", "800:FUNDED:-,-800:REVERSAL:W2");
	h_assert_replay_and_verify_clean(db, "as-recorded");
	h_ingest_text(db, "b.csv", b, 0); /* file 4: X1 held by file 3, Y1 taken again */
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE file_id = 4 AND outcome = 'DUPLICATE'"), 1);
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,-600:REVERSAL:W1,600:FUNDED:-");
	h_assert_postings(db, "O2", "800:FUNDED:-,-800:REVERSAL:W2,800:FUNDED:-");
	cr_assert_eq(h_sql_int(db, "SELECT sum(funded_fen) FROM postings"), 1400);
	h_assert_replay_and_verify_clean(db, "as-recorded");
}

/* A CONFLICT line taken by resolve, then its file withdrawn: the order has no line that counts
 * (the first line stopped counting with the resolution), so all it was funded is reversed; taking
 * the first line back pays it again. */
Test(review3, withdraw_the_file_of_a_taken_conflict_line)
{
	const char *db = setup();
	h_ingest_text(db, "a.csv", HEADER "EMS,R1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n", 0);
	h_ingest_text(db, "b.csv", HEADER "EMS,R1,O1,2018-06-05 10:00:00,C1,,1,30.00,,\n", 0);
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-");
	H_RUN(db, 0, "R1", "resolve", "--courier", "EMS", "--waybill", "R1", "--take", "2:2", "--reason",
	    "the second statement is right");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,400:FUNDED:R1");
	H_RUN(db, 0, "W1", "withdraw", "--file", "2", "--reason", "sent by mistake");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,400:FUNDED:R1,-1000:REVERSAL:W1");
	h_assert_replay_and_verify_clean(db, "as-recorded");
	H_RUN(db, 0, "R2", "resolve", "--courier", "EMS", "--waybill", "R1", "--take", "first", "--reason",
	    "the first stands after all");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,400:FUNDED:R1,-1000:REVERSAL:W1,600:FUNDED:R2");
	h_assert_replay_and_verify_clean(db, "as-recorded");
	H_RUN(db, 0, "W2", "withdraw", "--file", "1", "--reason", "this one too");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,400:FUNDED:R1,-1000:REVERSAL:W1,600:FUNDED:R2,-600:REVERSAL:W2");
	cr_assert_eq(h_sql_int(db, "SELECT sum(funded_fen) FROM postings"), 0);
	h_assert_replay_and_verify_clean(db, "as-recorded");
}

/* A file of more than one ingest chunk (10,000 lines), with an order whose lines sit in both chunks
 * and a waybill repeated across the chunk boundary, withdrawn and the same bytes ingested again:
 * the ledger ends as it was after the first ingest. And the last settlement, which seals 10,005
 * line states and 10,004 claim moves, takes at most a few times the first: it sealed them by
 * nested loop and took 18.8 s against the first's 0.63 s (30x; ledger_seal_new), now 0.94 s. A
 * ratio within the test, not a timeout: a loaded machine slows both alike. */
Test(review3, withdraw_a_chunk_crossing_file_and_ingest_it_again, .timeout = 300)
{
	const char *db = setup();
	g_autoptr(GString) f = g_string_new(HEADER);
	enum { N = 10005 };
	for (int i = 1; i <= N; i++) {
		/* Lines 1 and 10002 are one order (ORD-X); line 10003 repeats waybill W2. */
		const char *order = (i == 1 || i == 10002) ? "ORD-X" : NULL;
		if (i == 10003)
			g_string_append(f, "EMS,W000002,O000002,2018-06-05 10:00:00,C1,,1,1.00,,\n");
		else if (order)
			g_string_append_printf(f, "EMS,W%06d,%s,2018-06-05 10:00:00,C1,,1,12.00,,\n", i, order);
		else
			g_string_append_printf(f, "EMS,W%06d,O%06d,2018-06-05 10:00:00,C1,,1,1.00,,\n", i, i);
	}
	h_ingest_text(db, "big.csv", f->str, 0);
	gint64 t0 = g_get_monotonic_time();
	g_free(h_settle(db));
	gint64 first_us = g_get_monotonic_time() - t0;
	/* 10,002 orders of 1.00 -> 0.50 each, less line 10003 (DUPLICATE); ORD-X 24.00 -> 10.00. */
	int64_t first = h_sql_int(db, "SELECT sum(funded_fen) FROM postings");
	cr_assert_eq(first, (int64_t)(N - 3) * 50 + 1000, "funded %lld", (long long)first);
	h_assert_postings(db, "ORD-X", "1000:FUNDED:-");
	H_RUN(db, 0, "W1", "withdraw", "--file", "1", "--reason", "wrong profile");
	g_free(h_settle(db));
	cr_assert_eq(h_sql_int(db, "SELECT sum(funded_fen) FROM postings"), 0);
	h_ingest_text(db, "big.csv", f->str, 0);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE file_id = 2 AND outcome = 'ELIGIBLE'"), N - 1);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE file_id = 2 AND outcome = 'DUPLICATE'"), 1);
	t0 = g_get_monotonic_time();
	g_free(h_settle(db));
	gint64 last_us = g_get_monotonic_time() - t0;
	cr_assert(last_us < 8 * first_us, "the settlement after the acts took %.2f s, the first %.2f s",
		  last_us / 1e6, first_us / 1e6);
	cr_assert_eq(h_sql_int(db, "SELECT sum(funded_fen) FROM postings"), first);
	h_assert_postings(db, "ORD-X", "1000:FUNDED:-,-1000:REVERSAL:W1,1000:FUNDED:-");
	h_assert_replay_and_verify_clean(db, "as-recorded");
}

/* A withdrawal in a settlement with too little money: the withdrawn orders cancel what they were
 * owed and give back what they drew (reversals first), and the money given back pays the oldest
 * waiting order first in the same settlement. */
Test(review3, withdraw_under_a_short_budget_cancels_unfunded_and_pays_the_waiting_order)
{
	const char *db = setup();
	h_load_text(db, "budgets",
		    "pool_id,name,amount,valid_from,valid_to,priority\n"
		    "big,大池,15.00,2016-01-01,2018-12-31,1\n");
	h_ingest_text(db, "a.csv", HEADER "EMS,B1,OB1,2018-06-05 10:00:00,C1,,1,20.00,,\n", 0);
	h_ingest_text(db, "b.csv", HEADER "EMS,B2,OB2,2018-06-05 11:00:00,C1,,1,20.00,,\n"
					  "EMS,B3,OB3,2018-06-05 12:00:00,C1,,1,20.00,,\n"
					  "EMS,B4,OB4,2018-06-05 13:00:00,C1,,1,20.00,,\n", 0);
	g_free(h_settle(db));
	h_assert_postings(db, "OB1", "1000:FUNDED:-");
	h_assert_postings(db, "OB2", "500:PARTIAL:-");
	h_assert_postings(db, "OB3", "0:BUDGET_EXHAUSTED:-");
	H_RUN(db, 0, "W1", "withdraw", "--file", "1", "--reason", "sent by mistake");
	g_free(h_settle(db));
	h_assert_postings(db, "OB1", "1000:FUNDED:-,-1000:REVERSAL:W1");
	h_assert_postings(db, "OB2", "500:PARTIAL:-,500:FUNDED:-");
	h_assert_postings(db, "OB3", "0:BUDGET_EXHAUSTED:-,500:PARTIAL:-");
	h_assert_postings(db, "OB4", "0:BUDGET_EXHAUSTED:-");
	cr_assert_eq(h_sql_int(db, "SELECT drawn_fen FROM pool_balances WHERE pool_id = 'big'"), 1500);
	h_assert_replay_and_verify_clean(db, "as-recorded");
	/* Now the waiting orders' file: OB3 cancels 500 owed and gives back 500; OB2 gives back 1000.
	 * OB4 is withdrawn too: it cancels 1000 owed. Nothing is left to pay: the pool is whole. */
	H_RUN(db, 0, "W2", "withdraw", "--file", "2", "--reason", "sent by mistake too");
	g_free(h_settle(db));
	h_assert_postings(db, "OB2", "500:PARTIAL:-,500:FUNDED:-,-1000:REVERSAL:W2");
	h_assert_postings(db, "OB3", "0:BUDGET_EXHAUSTED:-,500:PARTIAL:-,-500:REVERSAL:W2");
	cr_assert_eq(h_sql_int(db, "SELECT drawn_fen FROM pool_balances WHERE pool_id = 'big'"), 0);
	cr_assert_eq(h_sql_int(db, "SELECT coalesce(sum(unfunded_fen), 0) FROM orders"), 0);
	cr_assert_eq(h_sql_int(db, "SELECT coalesce(sum(funded_fen), 0) FROM orders"), 0);
	h_assert_replay_and_verify_clean(db, "as-recorded");
	/* The same bytes of file 1 again: OB1 is paid first of everything by its funding key. */
	h_ingest_text(db, "a.csv", HEADER "EMS,B1,OB1,2018-06-05 10:00:00,C1,,1,20.00,,\n", 0);
	g_free(h_settle(db));
	h_assert_postings(db, "OB1", "1000:FUNDED:-,-1000:REVERSAL:W1,1000:FUNDED:-");
	h_assert_replay_and_verify_clean(db, "as-recorded");
}

/* Reclassify back and forth with the registry changed between the act and its settlement: the
 * settlement uses the registry as known then; a multi-line order follows its lines. */
Test(review3, reclassify_follows_the_registry_as_known_at_the_settlement)
{
	const char *db = setup();
	static const char wide[] = "campaign_id,name,starts_at,ends_at\n"
				   "c618,618,2018-06-01 00:00:00,2018-06-25 00:00:00\n"
				   "d11,双十一,2018-11-01 00:00:00,2018-11-12 00:00:00\n";
	static const char narrow[] = "campaign_id,name,starts_at,ends_at\n"
				     "c618,618,2018-06-01 00:00:00,2018-06-19 00:00:00\n"
				     "d11,双十一,2018-11-01 00:00:00,2018-11-12 00:00:00\n";
	h_ingest_text(db, "n1.csv", HEADER "EMS,K1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n"
					   "EMS,K2,O1,2018-06-20 10:00:00,C1,,1,12.00,,\n", 0);
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-");
	h_load_text(db, "campaigns", wide);
	H_RUN(db, 0, "C1", "reclassify", "--from", "2018-06-20", "--to", "2018-06-20", "--reason", "window corrected");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,400:FUNDED:C1");
	h_assert_replay_and_verify_clean(db, "as-recorded");
	h_load_text(db, "campaigns", narrow);
	H_RUN(db, 0, "C2", "reclassify", "--from", "2018-06-01", "--to", "2018-06-30", "--reason", "window was right");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,400:FUNDED:C1,-400:REVERSAL:C2");
	H_RUN(db, 0, NULL, "replay", "--from", "2018-06-01", "--to", "2018-06-30", "--registry", "current");
	h_assert_replay_and_verify_clean(db, "as-recorded");
	/* The act, then the registry changes again before the settlement. */
	H_RUN(db, 0, "C3", "reclassify", "--from", "2018-06-01", "--to", "2018-06-30", "--reason", "once more");
	h_load_text(db, "campaigns", wide);
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,400:FUNDED:C1,-400:REVERSAL:C2,400:FUNDED:C3");
	H_RUN(db, 0, NULL, "replay", "--from", "2018-06-01", "--to", "2018-06-30", "--registry", "current");
	h_assert_replay_and_verify_clean(db, "as-recorded");
	/* Withdraw the file after all that: nothing is left. */
	H_RUN(db, 0, "W1", "withdraw", "--file", "1", "--reason", "sent by mistake");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,400:FUNDED:C1,-400:REVERSAL:C2,400:FUNDED:C3,-1000:REVERSAL:W1");
	h_assert_replay_and_verify_clean(db, "as-recorded");
}

/* A sender code that belonged to another shop: reclassified, the lines move shop, the old order is
 * reversed in full, the new one paid, both with the reference. */
Test(review3, reclassify_moves_an_order_to_another_shop)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,K1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n"
					   "EMS,K2,O1,2018-06-06 10:00:00,C1,,1,12.00,,\n", 0);
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "1000:FUNDED:-");
	h_load_text(db, "senders",
		    "shop_id,courier,sender_code,valid_from,valid_to\n"
		    "S1,EMS,C1,2016-01-01,2018-06-05\n"
		    "S2,EMS,C1,2018-06-06,\n"
		    "S2,EMS,C2,2016-01-01,\n");
	H_RUN(db, 0, "C1", "reclassify", "--from", "2018-06-01", "--to", "2018-06-30", "--reason", "code was S2's");
	g_free(h_settle(db));
	/* K2 moves to S2 (poor: 12.00 -> 9.60); K1 stays with S1 (12.00 -> 6.00). */
	g_autofree char *s1 = h_sql(db, "SELECT string_agg(funded_fen || ':' || status || ':' || coalesce(correction, '-'),"
					" ',' ORDER BY batch_id, seq) FROM postings WHERE shop_id = 'S1'");
	g_autofree char *s2 = h_sql(db, "SELECT string_agg(funded_fen || ':' || status || ':' || coalesce(correction, '-'),"
					" ',' ORDER BY batch_id, seq) FROM postings WHERE shop_id = 'S2'");
	cr_assert_str_eq(s1, "1000:FUNDED:-,-400:REVERSAL:C1");
	cr_assert_str_eq(s2, "960:FUNDED:C1");
	H_RUN(db, 0, NULL, "replay", "--from", "2018-06-01", "--to", "2018-06-30", "--registry", "current");
	h_assert_replay_and_verify_clean(db, "as-recorded");
}

/* A settlement after one act of each kind, killed at each of its fault points: the rerun posts
 * what an uninterrupted one does. */
static char *money_dump(const char *db)
{
	return h_sql(db, "SELECT string_agg(batch_id || '/' || seq || ' ' || shop_id || ' ' || order_no || ' ' || funded_fen"
			 " || ' ' || unfunded_fen || ' ' || entitlement_fen || ' ' || status || ' ' || coalesce(correction, '-'),"
			 " E'\\n' ORDER BY batch_id, seq) FROM postings");
}

static void acts_story(const char *db, const char *fault)
{
	h_load_text(db, "budgets",
		    "pool_id,name,amount,valid_from,valid_to,priority\n"
		    "big,大池,20.00,2016-01-01,2018-12-31,1\n");
	h_ingest_text(db, "a.csv", HEADER "EMS,R1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n"
					  "EMS,M1,O2,2018-06-05 10:30:00,C2,,1,12.00,,\n"
					  "EMS,K2,O3,2018-06-20 10:00:00,C1,,1,12.00,,\n", 0);
	h_ingest_text(db, "b.csv", HEADER "EMS,R1,O1,2018-06-05 10:00:00,C1,,1,30.00,,\n"
					  "EMS,M2,O2,2018-06-05 11:00:00,C2,,1,12.00,,\n"
					  "EMS,M3,O4,2018-06-05 12:00:00,C1,,1,20.00,,\n", 0);
	g_free(h_settle(db));
	h_load_text(db, "campaigns",
		    "campaign_id,name,starts_at,ends_at\n"
		    "c618,618,2018-06-01 00:00:00,2018-06-25 00:00:00\n"
		    "d11,双十一,2018-11-01 00:00:00,2018-11-12 00:00:00\n");
	H_RUN(db, 0, "R1", "resolve", "--courier", "EMS", "--waybill", "R1", "--take", "2:2", "--reason", "second is right");
	H_RUN(db, 0, "W1", "withdraw", "--file", "2", "--reason", "sent by mistake");
	H_RUN(db, 0, "C1", "reclassify", "--from", "2018-06-20", "--to", "2018-06-20", "--reason", "window corrected");
	if (fault)
		H_RUN_KILLED(db, fault, "settle");
	g_free(h_settle(db));
	h_assert_replay_and_verify_clean(db, "as-recorded");
}

/* The fault points of a settlement, each a test of its own, run in parallel. */
static const char *const review3_kill_points[] = { "settle:priced", "settle:funded", "settle:recorded",
						   "settle:before-commit", "settle:committed" };

ParameterizedTestParameters(review3, a_settlement_after_acts_killed_anywhere_reruns_to_the_uninterrupted_ledger)
{
	H_INDEX_PARAMETERS(G_N_ELEMENTS(review3_kill_points));
}

ParameterizedTest(int *index, review3, a_settlement_after_acts_killed_anywhere_reruns_to_the_uninterrupted_ledger,
		  .timeout = 300)
{
	cr_assert(*index >= 0 && (size_t)*index < G_N_ELEMENTS(review3_kill_points));
	const char *point = review3_kill_points[*index];
	const char *ref = setup();
	acts_story(ref, NULL);
	g_autofree char *want = money_dump(ref);
	const char *db = setup();
	acts_story(db, point);
	g_autofree char *got = money_dump(db);
	cr_assert_str_eq(got, want, "%s: the postings after the rerun differ", point);
}

/* CONTROL.md: ID is the file id or its SHA-256. After a withdrawal and the same bytes ingested
 * again, the digest names two files, one live: withdrawing by digest withdraws the live one. */
Test(review3, withdraw_by_digest_after_the_bytes_came_again_withdraws_the_live_file)
{
	const char *db = setup();
	static const char a[] = HEADER "EMS,D1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n";
	h_ingest_text(db, "a.csv", a, 0);
	g_autofree char *sha = h_sql(db, "SELECT sha256 FROM files WHERE file_id = 1");
	H_RUN(db, 0, "W1", "withdraw", "--file", sha, "--reason", "wrong profile");
	h_ingest_text(db, "a.csv", a, 0);
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:W1");
	H_RUN(db, 0, "W2", "withdraw", "--file", sha, "--reason", "wrong again");
	cr_assert_eq(h_sql_int(db, "SELECT file_id FROM acts WHERE kind = 'W' AND act_no = 2"), 2);
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:W1,-600:REVERSAL:W2");
	H_RUN(db, 64, "already withdrawn", "withdraw", "--file", sha, "--reason", "a third time");
	h_assert_replay_and_verify_clean(db, "as-recorded");
}

/* A claim released by a withdrawal and taken again by the same bytes: a later CONFLICT line of the
 * waybill taken, then the claimed line taken back with --take first, must give the money back to
 * the line that held it (the re-ingested one), not be refused for the withdrawn first line. */
Test(review3, take_first_after_the_first_file_was_withdrawn_and_ingested_again)
{
	const char *db = setup();
	static const char a[] = HEADER "EMS,T1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n";
	h_ingest_text(db, "a.csv", a, 0);
	H_RUN(db, 0, "W1", "withdraw", "--file", "1", "--reason", "wrong profile");
	h_ingest_text(db, "a.csv", a, 0);                                                   /* file 2 */
	h_ingest_text(db, "b.csv", HEADER "EMS,T1,O1,2018-06-05 10:00:00,C1,,1,30.00,,\n", 0); /* file 3 */
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE file_id = 3 AND outcome = 'CONFLICT'"), 1);
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:W1");
	/* The claimed line (2:2) stands: the conflict is closed, no money moves. */
	H_RUN(db, 0, "R1", "resolve", "--courier", "EMS", "--waybill", "T1", "--take", "first", "--reason",
	    "the claimed line is right");
	H_RUN(db, 0, "\"open_conflicts\":0", "status", "--json");
	H_RUN(db, 0, "R2", "resolve", "--courier", "EMS", "--waybill", "T1", "--take", "3:2", "--reason",
	    "no, the second statement");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:W1,400:FUNDED:R2");
	H_RUN(db, 0, "R3", "resolve", "--courier", "EMS", "--waybill", "T1", "--take", "first", "--reason",
	    "the claimed line after all");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:W1,400:FUNDED:R2,-400:REVERSAL:R3");
	h_assert_replay_and_verify_clean(db, "as-recorded");
}

/* CONTROL.md: the settle after a reclassification classifies every line picked up in its range with
 * the registry as known at that settle. A resolution recorded after the reclassification (but
 * before that settle) classified its line with the registry of its own moment; the settle must
 * still reclassify it (here: the campaign window is widened between the resolution and the
 * settle, so the taken line becomes ELIGIBLE and its order is paid 10.00). */
Test(review3, a_resolution_after_a_pending_reclassification_is_still_reclassified)
{
	const char *db = setup();
	h_ingest_text(db, "a.csv", HEADER "EMS,V1,O1,2018-06-20 10:00:00,C1,,1,12.00,,\n", 0);
	h_ingest_text(db, "b.csv", HEADER "EMS,V1,O1,2018-06-20 10:00:00,C1,,1,30.00,,\n", 0);
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "(none)");
	H_RUN(db, 0, "C1", "reclassify", "--from", "2018-06-20", "--to", "2018-06-20", "--reason", "window corrected");
	H_RUN(db, 0, "NOT_IN_CAMPAIGN", "resolve", "--courier", "EMS", "--waybill", "V1", "--take", "2:2", "--reason",
	    "the second statement is right");
	h_load_text(db, "campaigns",
		    "campaign_id,name,starts_at,ends_at\n"
		    "c618,618,2018-06-01 00:00:00,2018-06-25 00:00:00\n"
		    "d11,双十一,2018-11-01 00:00:00,2018-11-12 00:00:00\n");
	g_free(h_settle(db));
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines_now() WHERE file_id = 2 AND outcome = 'ELIGIBLE'"), 1,
		     "the taken line is not reclassified by the settle of C1");
	g_autofree char *got = h_postings_of(db, "O1");
	cr_assert(got && (strcmp(got, "1000:FUNDED:C1") == 0 || strcmp(got, "1000:FUNDED:R1") == 0),
		  "order O1: postings %s, wanted 1000:FUNDED (C1 or R1)", got);
	H_RUN(db, 0, NULL, "replay", "--from", "2018-06-20", "--to", "2018-06-20", "--registry", "current");
	h_assert_replay_and_verify_clean(db, "as-recorded");
}
