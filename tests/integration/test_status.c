/* test_status.c: `subsidy status` says all it reads, exactly (issue 15: its queries moved to
 * overview.c, its output must not move): the pools in funding order with amount and left, every
 * outcome's lines, what was posted, owed and paid, the last batch or none, the corrections and
 * open conflicts of CONTROL.md, the batches not approved; and the same in --json, fen as integers.
 * Registry: fixtures/small. */
#include "harness.h"

#include <criterion/criterion.h>
#include <string.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"

/* out with the last batch's time as "made T". */
static char *time_anonymous(const char *out)
{
	g_autoptr(GRegex) re = g_regex_new("made [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+\\+08", 0, 0, NULL);
	cr_assert(re != NULL);
	return g_regex_replace_literal(re, out, -1, 0, "made T", 0, NULL);
}

static void expect_status(const char *db, gboolean json, const char *want)
{
	h_result r = json ? h_run(db, "status", "--json", NULL) : h_run(db, "status", NULL);
	cr_assert_eq(r.status, 0, "status: %s", r.err);
	g_autofree char *got = time_anonymous(r.out);
	cr_expect_str_eq(got, want, "status%s:\n%s\nwanted:\n%s", json ? " --json" : "", got, want);
	h_result_clear(&r);
}

#define POOLS_AND_OUTCOMES(left, eligible, conflict, rejected)                                              \
	"budget pools (amount / left, yuan):\n"                                                              \
	"  big                   100000.00 " left "  大池\n"                                                  \
	"lines by outcome:\n"                                                                                \
	"  ELIGIBLE                 " eligible "\n"                                                          \
	"  DUPLICATE                0\n"                                                                     \
	"  CONFLICT                 " conflict "\n"                                                          \
	"  REJECTED                 " rejected "\n"                                                          \
	"  UNREGISTERED_SHOP        0\n"                                                                     \
	"  AMBIGUOUS_SHOP           0\n"                                                                     \
	"  NOT_REGISTERED_ON_DATE   0\n"                                                                     \
	"  OUTSIDE_POLICY_PERIOD    0\n"                                                                     \
	"  NOT_IN_CAMPAIGN          0\n"                                                                     \
	"  INELIGIBLE_PRODUCT       0\n"
#define JSON_OUTCOMES(eligible, conflict, rejected)                                                          \
	"\"outcomes\":{\"ELIGIBLE\":" eligible ",\"DUPLICATE\":0,\"CONFLICT\":" conflict ",\"REJECTED\":" rejected \
	",\"UNREGISTERED_SHOP\":0,\"AMBIGUOUS_SHOP\":0,\"NOT_REGISTERED_ON_DATE\":0,\"OUTSIDE_POLICY_PERIOD\":0,"     \
	"\"NOT_IN_CAMPAIGN\":0,\"INELIGIBLE_PRODUCT\":0}"

Test(status, before_any_batch)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	expect_status(db, FALSE,
		      POOLS_AND_OUTCOMES("     100000.00", "0", "0", "0")
		      "posted 0.00 yuan, owed and not funded 0.00 yuan, paid 0.00 yuan\n"
		      "no batch yet\n"
		      "corrections: 0 withdrawals, 0 resolutions, 0 reclassifications (0 not settled yet); 0 open"
		      " conflicts\n");
	expect_status(db, TRUE,
		      "{\"pools\":[{\"pool_id\":\"big\",\"amount_fen\":10000000,\"left_fen\":10000000}],"
		      JSON_OUTCOMES("0", "0", "0") ",\"posted_fen\":0,\"unfunded_fen\":0,\"paid_fen\":0,"
		      "\"last_batch\":null,\"open_conflicts\":0,\"acts\":{\"withdrawals\":0,\"resolutions\":0,"
		      "\"reclassifications\":0,\"not_yet_settled\":0},\"unapproved_batches\":[]}\n");
}

/* Night 1 (two orders eligible, a fee that does not read, a conflict) is settled and approved;
 * night 2 settled, not approved; night 2 withdrawn: an act not settled yet; settled again. */
Test(status, batches_acts_conflicts_and_approvals)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_ingest_text(db, "night1.csv",
		      HEADER "EMS,W1,,2018-06-05 10:00:00,C1,,1,12.35,,\nEMS,W2,O2,2018-06-05 11:00:00,C2,,1,1x,,\n"
			     "EMS,W3,O3,2018-06-05 12:00:00,C2,,1,10.00,,\nEMS,W3,O3,2018-06-05 12:00:00,C2,,1,11.00,,\n", 0);
	g_free(h_settle(db));
	h_approve_all(db);
	h_ingest_text(db, "night2.csv", HEADER "EMS,W4,O4,2018-06-06 09:30:00,C1,,1,10.00,,\n", 0);
	g_free(h_settle(db));
	h_result r = h_run(db, "withdraw", "--file", "2", "--reason", "sent by mistake", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	h_result_clear(&r);
	expect_status(db, FALSE,
		      POOLS_AND_OUTCOMES("      99980.82", "3", "1", "1")
		      "posted 19.18 yuan, owed and not funded 0.00 yuan, paid 0.00 yuan\n"
		      "last batch: 2, made T\n"
		      "corrections: 1 withdrawals, 0 resolutions, 0 reclassifications (1 not settled yet); 1 open"
		      " conflicts\n"
		      "batches not approved (subsidy approve --batch N; their payments are not applied): 2\n");
	g_free(h_settle(db));
	expect_status(db, FALSE,
		      POOLS_AND_OUTCOMES("      99985.82", "3", "1", "1")
		      "posted 14.18 yuan, owed and not funded 0.00 yuan, paid 0.00 yuan\n"
		      "last batch: 3, made T\n"
		      "corrections: 1 withdrawals, 0 resolutions, 0 reclassifications (0 not settled yet); 1 open"
		      " conflicts\n"
		      "batches not approved (subsidy approve --batch N; their payments are not applied): 2, 3\n");
	expect_status(db, TRUE,
		      "{\"pools\":[{\"pool_id\":\"big\",\"amount_fen\":10000000,\"left_fen\":9998582}],"
		      JSON_OUTCOMES("3", "1", "1") ",\"posted_fen\":1418,\"unfunded_fen\":0,\"paid_fen\":0,"
		      "\"last_batch\":3,\"open_conflicts\":1,\"acts\":{\"withdrawals\":1,\"resolutions\":0,"
		      "\"reclassifications\":0,\"not_yet_settled\":0},\"unapproved_batches\":[2,3]}\n");
	h_approve_all(db);
	h_result a = h_run(db, "status", NULL);
	cr_assert_eq(a.status, 0, "%s", a.err);
	cr_expect(g_str_has_suffix(a.out, " open conflicts\nevery batch is approved\n"), "%s", a.out);
	h_result_clear(&a);
}
