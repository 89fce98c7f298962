/* test_reprice.c: POLICY.md, "How much", last point: the entitlement is computed with the registry
 * as known at each settlement. A corrected poverty span or policy version changes, at the next
 * settlement, the entitlement of every order whose order date it covers, whether or not a parcel
 * of that order arrived since; a retry of an unfunded amount funds the entitlement as it stands
 * then. After each settlement `replay --registry as-recorded` agrees with the ledger.
 * Registry: fixtures/small (S1 standard; S2 of household H2, poor since 2015; p1 5000/8000 bp). */
#include "harness.h"

#include <criterion/criterion.h>
#include <string.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"
#define HOUSEHOLDS "household_id,head_name,village,poor_from,poor_to\n"
#define POLICIES                                                                                                  \
	"policy_id,valid_from,valid_to,standard_rate_bp,standard_cap,poverty_rate_bp,poverty_cap,rounding,"       \
	"require_campaign,eligible_categories,fee_max\n"
#define BUDGETS "pool_id,name,amount,valid_from,valid_to,priority\n"

/* "funded:STATUS" of each posting of the order, in batch order. */
static char *postings_of(const char *db, const char *order_no)
{
	g_autofree char *sql = g_strdup_printf("SELECT string_agg(funded_fen::text || ':' || status, ','"
					       " ORDER BY batch_id, seq) FROM postings WHERE order_no = '%s'",
					       order_no);
	char *got = h_sql(db, sql);
	return got ? got : g_strdup("(none)");
}

static void assert_postings(const char *db, const char *order_no, const char *want)
{
	g_autofree char *got = postings_of(db, order_no);
	cr_assert_str_eq(got, want, "order %s: postings %s, wanted %s", order_no, got, want);
}

static void assert_as_recorded_agrees(const char *db)
{
	h_result r = h_run(db, "replay", "--from", "2016-01-01", "--to", "2018-12-31", "--json", NULL);
	cr_assert_eq(r.status, 0, "replay as-recorded: exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(g_str_has_prefix(r.out, "{\"differences\":[],\"pending\":0,"), "%s", r.out);
	h_result_clear(&r);
}

static const char *setup(void)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	return db;
}

Test(reprice, a_poverty_span_ended_earlier_reverses_without_a_new_parcel)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,W1,O1,2018-06-05 10:00:00,C2,,1,20.00,,\n", 0);
	g_free(h_settle(db));
	assert_postings(db, "O1", "1600:FUNDED");
	/* The office corrects H2: poor only until 2018-06-01. O1 is now a standard order: 10.00. */
	h_load_text(db, "households", HOUSEHOLDS "H2,符春花,村二,2015-01-01,2018-06-01\nH4,欧阳小锋,村四,2018-06-12,\n");
	g_autofree char *out = h_settle(db);
	cr_assert_str_eq(out, "{\"batch\":2,\"orders\":1,\"postings\":1,\"posted_fen\":-600,\"unfunded_fen\":0}");
	assert_postings(db, "O1", "1600:FUNDED,-600:REVERSAL");
	g_autofree char *rule = h_sql(db, "SELECT rule || ' ' || entitlement_fen FROM orders WHERE order_no = 'O1'");
	cr_assert_str_eq(rule, "standard 1000");
	assert_as_recorded_agrees(db);
	/* Nothing changed since: the next settlement records nothing. */
	g_autofree char *again = h_settle(db);
	cr_assert_str_eq(again, "{\"batch\":null,\"orders\":0,\"postings\":0,\"posted_fen\":0,\"unfunded_fen\":0}");
}

Test(reprice, a_lower_standard_rate_reverses_the_difference)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,W1,O1,2018-11-05 10:00:00,C1,,1,12.00,,\n"
					   "EMS,W2,O2,2018-06-05 10:00:00,C1,,1,12.00,,\n", 0);
	g_free(h_settle(db));
	assert_postings(db, "O1", "600:FUNDED");
	/* p1 ends with October; p2 pays 40% from November: O1 (双十一) falls to 4.80; O2 (618), whose
	 * version was superseded too, is priced again and keeps 6.00: no posting. */
	h_load_text(db, "policies",
		    POLICIES "p1,2016-01-01,2018-10-31,5000,10.00,8000,,half_up,true,,2000.00\n"
			     "p2,2018-11-01,2018-12-31,4000,10.00,8000,,half_up,true,,2000.00\n");
	g_autofree char *out = h_settle(db);
	cr_assert_str_eq(out, "{\"batch\":2,\"orders\":1,\"postings\":1,\"posted_fen\":-120,\"unfunded_fen\":0}");
	assert_postings(db, "O1", "600:FUNDED,-120:REVERSAL");
	assert_postings(db, "O2", "600:FUNDED");
	g_autofree char *pv = h_sql(db, "SELECT policy_id || ' ' || rate_bp FROM orders WHERE order_no = 'O1'");
	cr_assert_str_eq(pv, "p2 4000");
	assert_as_recorded_agrees(db);
}

Test(reprice, a_household_loaded_after_its_shop_tops_the_orders_up)
{
	const char *db = h_fresh_db();
	static const char *const kinds[] = { "policies", "shops", "senders", "campaigns", "budgets" };
	for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
		g_autofree char *rel = g_strdup_printf("fixtures/small/%s.csv", kinds[i]);
		g_autofree char *path = h_path(rel);
		h_result r = h_run(db, "registry", "load", kinds[i], path, NULL);
		cr_assert(r.status == 0 || r.status == 1, "load %s: exit %d %s", kinds[i], r.status, r.err);
		h_result_clear(&r);
	}
	h_ingest_text(db, "n1.csv", HEADER "EMS,W1,O1,2018-06-05 10:00:00,C2,,1,20.00,,\n", 0);
	g_free(h_settle(db));
	assert_postings(db, "O1", "1000:FUNDED");
	h_load_text(db, "households", HOUSEHOLDS "H2,符春花,村二,2015-01-01,\n");
	g_autofree char *out = h_settle(db);
	cr_assert_str_eq(out, "{\"batch\":2,\"orders\":1,\"postings\":1,\"posted_fen\":600,\"unfunded_fen\":0}");
	assert_postings(db, "O1", "1000:FUNDED,600:FUNDED");
	assert_as_recorded_agrees(db);
}

Test(reprice, an_unfunded_order_is_retried_at_the_entitlement_it_has_now)
{
	const char *db = setup();
	h_load_text(db, "budgets", BUDGETS "big,大池,0.00,2016-01-01,2018-12-31,1\n");
	h_ingest_text(db, "n1.csv", HEADER "EMS,W1,O1,2018-06-05 10:00:00,C2,,1,20.00,,\n", 0);
	g_autofree char *one = h_settle(db);
	cr_assert_str_eq(one, "{\"batch\":1,\"orders\":1,\"postings\":1,\"posted_fen\":0,\"unfunded_fen\":1600}");
	/* H2 leaves poverty before the order; then a pool arrives. O1 is owed 10.00, not 16.00. */
	h_load_text(db, "households", HOUSEHOLDS "H2,符春花,村二,2015-01-01,2018-06-01\n");
	h_load_text(db, "budgets", BUDGETS "big,大池,0.00,2016-01-01,2018-12-31,1\nmore,追加,100.00,2016-01-01,2018-12-31,2\n");
	g_autofree char *two = h_settle(db);
	cr_assert_str_eq(two, "{\"batch\":2,\"orders\":1,\"postings\":2,\"posted_fen\":1000,\"unfunded_fen\":0}");
	assert_postings(db, "O1", "0:BUDGET_EXHAUSTED,0:REVERSAL,1000:FUNDED");
	cr_assert_eq(h_sql_int(db, "SELECT drawn_fen FROM pool_balances WHERE pool_id = 'more'"), 1000);
	assert_as_recorded_agrees(db);
}

/* Without any registry change, an unfunded order retried by a new pool keeps its entitlement. */
Test(reprice, a_retry_without_a_registry_change_funds_the_same_entitlement)
{
	const char *db = setup();
	h_load_text(db, "budgets", BUDGETS "big,大池,5.00,2016-01-01,2018-12-31,1\n");
	h_ingest_text(db, "n1.csv", HEADER "EMS,W1,O1,2018-06-05 10:00:00,C2,,1,20.00,,\n", 0);
	g_free(h_settle(db));
	h_load_text(db, "budgets", BUDGETS "big,大池,5.00,2016-01-01,2018-12-31,1\nmore,追加,100.00,2016-01-01,2018-12-31,2\n");
	g_autofree char *two = h_settle(db);
	cr_assert_str_eq(two, "{\"batch\":2,\"orders\":1,\"postings\":1,\"posted_fen\":1100,\"unfunded_fen\":0}");
	assert_postings(db, "O1", "500:PARTIAL,1100:FUNDED");
	assert_as_recorded_agrees(db);
}

/* Orders outside a corrected span are not touched: a household change re-prices its shops'
 * orders only, a policy change the orders dated in its versions' ranges only. */
Test(reprice, only_the_orders_a_correction_covers_are_posted)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,W1,O1,2018-06-12 10:00:00,C2,,1,20.00,,\n"
					   "EMS,W2,O2,2018-06-05 10:00:00,C2,,1,20.00,,\n"
					   "EMS,W3,O3,2018-06-12 10:00:00,C1,,1,20.00,,\n", 0);
	g_free(h_settle(db));
	/* H2 poor until 2018-06-10: O1 (06-12) falls to 10.00, O2 (06-05) stays poor. */
	h_load_text(db, "households", HOUSEHOLDS "H2,符春花,村二,2015-01-01,2018-06-10\nH4,欧阳小锋,村四,2018-06-12,\n");
	g_autofree char *out = h_settle(db);
	cr_assert_str_eq(out, "{\"batch\":2,\"orders\":1,\"postings\":1,\"posted_fen\":-600,\"unfunded_fen\":0}");
	assert_postings(db, "O2", "1600:FUNDED");
	assert_postings(db, "O3", "1000:FUNDED");
	assert_as_recorded_agrees(db);
}

/* A registry reload that changes nothing (same rows) re-prices nothing and makes no batch. */
Test(reprice, an_identical_reload_records_nothing)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,W1,O1,2018-06-05 10:00:00,C2,,1,20.00,,\n", 0);
	g_free(h_settle(db));
	h_load_registry(db, "fixtures/small");
	g_autofree char *out = h_settle(db);
	cr_assert_str_eq(out, "{\"batch\":null,\"orders\":0,\"postings\":0,\"posted_fen\":0,\"unfunded_fen\":0}");
}

/* An order whose arithmetic cannot be done (a stored fee far beyond any fee_max, as a database
 * restored from elsewhere might hold) is held with a finding; every other order settles. */
Test(reprice, an_order_that_overflows_is_held_and_the_rest_settle)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,W1,O1,2018-06-05 10:00:00,C1,,1,20.00,,\n"
					   "EMS,W2,BIG,2018-06-05 11:00:00,C2,,1,20.00,,\n", 0);
	/* As a superuser would restore it: the stored fee of BIG's line made enormous. */
	char *err = NULL;
	cr_assert(h_exec(db,
			 "ALTER TABLE lines DISABLE TRIGGER USER;"
			 "UPDATE lines SET fee_fen = 4000000000000000000 WHERE order_no = 'BIG';"
			 "ALTER TABLE lines ENABLE TRIGGER USER",
			 &err),
		  "%s", err);
	h_result r = h_run(db, "settle", "--json", NULL);
	cr_assert_eq(r.status, 1, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(g_str_has_prefix(r.out, "{\"batch\":1,\"orders\":1,\"postings\":1,\"posted_fen\":1000,"), "%s", r.out);
	cr_assert(strstr(r.out, "\"held\":[{\"shop_id\":\"S2\",\"order_no\":\"BIG\","), "%s", r.out);
	cr_assert(strstr(r.err, "BIG") && strstr(r.err, "held"), "%s", r.err);
	h_result_clear(&r);
	assert_postings(db, "O1", "1000:FUNDED");
	assert_postings(db, "BIG", "(none)");
	/* The next settlement, with nothing new, still reports it: it is kept until it can be priced. */
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM settle_held WHERE order_key = 'o:BIG'"), 1);
	r = h_run(db, "settle", "--json", NULL);
	cr_assert_eq(r.status, 1, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "\"held\":[{\"shop_id\":\"S2\",\"order_no\":\"BIG\","), "%s", r.out);
	h_result_clear(&r);
	/* Its line corrected (as a superuser would), it settles and leaves the list. */
	cr_assert(h_exec(db,
			 "ALTER TABLE lines DISABLE TRIGGER USER;"
			 "UPDATE lines SET fee_fen = 2000 WHERE order_no = 'BIG';"
			 "ALTER TABLE lines ENABLE TRIGGER USER",
			 &err),
		  "%s", err);
	g_autofree char *fixed = h_settle(db);
	cr_assert_str_eq(fixed, "{\"batch\":2,\"orders\":1,\"postings\":1,\"posted_fen\":1600,\"unfunded_fen\":0}");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM settle_held"), 0);
}

/* A database upgraded from an engine that did not follow corrections has no settlement mark
 * (sql/007_settle_marks.sql): its first settlement prices every order again, once. Here an old
 * engine's settlement after the correction is played by a mark set past it. */
Test(reprice, the_first_settlement_after_an_upgrade_prices_every_order_again)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,W1,O1,2018-06-05 10:00:00,C2,,1,20.00,,\n", 0);
	g_free(h_settle(db));
	h_load_text(db, "households", HOUSEHOLDS "H2,符春花,村二,2015-01-01,2018-06-01\nH4,欧阳小锋,村四,2018-06-12,\n");
	char *err = NULL;
	cr_assert(h_exec(db, "UPDATE settle_marks SET registry_seen_at = now() + interval '1 hour'", &err), "%s", err);
	g_autofree char *blind = h_settle(db);
	cr_assert_str_eq(blind, "{\"batch\":null,\"orders\":0,\"postings\":0,\"posted_fen\":0,\"unfunded_fen\":0}");
	cr_assert(h_exec(db, "DELETE FROM settle_marks", &err), "%s", err);
	g_autofree char *out = h_settle(db);
	cr_assert_str_eq(out, "{\"batch\":2,\"orders\":1,\"postings\":1,\"posted_fen\":-600,\"unfunded_fen\":0}");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM settle_marks"), 1);
	assert_as_recorded_agrees(db);
}

/* An order whose fees add up beyond 64 bits (each line's fee within bigint, the sum not) is held
 * with the reason, not wrapped and not an error; the rest settle. */
Test(reprice, an_order_whose_fees_sum_beyond_64_bits_is_held)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,W1,O1,2018-06-05 10:00:00,C1,,1,20.00,,\n"
					   "EMS,W2,SUM,2018-06-05 11:00:00,C2,,1,20.00,,\n"
					   "EMS,W3,SUM,2018-06-05 12:00:00,C2,,1,20.00,,\n", 0);
	char *err = NULL;
	cr_assert(h_exec(db,
			 "ALTER TABLE lines DISABLE TRIGGER USER;"
			 "UPDATE lines SET fee_fen = 5000000000000000000 WHERE order_no = 'SUM';"
			 "ALTER TABLE lines ENABLE TRIGGER USER",
			 &err),
		  "%s", err);
	h_result r = h_run(db, "settle", "--json", NULL);
	cr_assert_eq(r.status, 1, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(g_str_has_prefix(r.out, "{\"batch\":1,\"orders\":1,\"postings\":1,\"posted_fen\":1000,"), "%s", r.out);
	cr_assert(strstr(r.out, "\"held\":[{\"shop_id\":\"S2\",\"order_no\":\"SUM\",\"reason\":\"its fees add up to more"
				" than 9223372036854775807 fen, beyond 64-bit arithmetic\"}]"),
		  "%s", r.out);
	h_result_clear(&r);
	assert_postings(db, "O1", "1000:FUNDED");
	assert_postings(db, "SUM", "(none)");
}
