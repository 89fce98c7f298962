/* test_why.c: `subsidy why` says all it reads, exactly (issue 15: its queries moved to why.c, its
 * output must not move): a line's file, number, courier, pickup, fee in yuan or "(none read)",
 * outcome and reason, the act that touched it; the order's number or "(no number)", its lines
 * that count now, fee, entitlement or "not settled yet", what it was posted; each posting with its
 * correction, rule and rate; and the same in --json, fen as integers. Registry: fixtures/small. */
#include "harness.h"

#include <criterion/criterion.h>
#include <string.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"

/* out with the act's who and when (the system user, the role, the time) as "(by U as R, T)". */
static char *acts_anonymous(const char *out)
{
	g_autoptr(GRegex) re = g_regex_new("\\(by [^ ,]+ as [^ ,]+, [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}\\)", 0, 0, NULL);
	cr_assert(re != NULL);
	return g_regex_replace_literal(re, out, -1, 0, "(by U as R, T)", 0, NULL);
}

static void expect_why(const char *db, const char *waybill, gboolean json, const char *want)
{
	h_result r = json ? h_run(db, "why", "--json", waybill, NULL) : h_run(db, "why", waybill, NULL);
	cr_assert_eq(r.status, 0, "why %s: %s", waybill, r.err);
	g_autofree char *got = acts_anonymous(r.out);
	cr_expect_str_eq(got, want, "why %s%s:\n%s\nwanted:\n%s", json ? "--json " : "", waybill, got, want);
	h_result_clear(&r);
}

/* Night 1: W1 of an order without a number, W2 whose fee does not read; settled. Night 2: W3,
 * not settled. Then night 1 is withdrawn and settled again: W1's order is reversed by act W1. */
static const char *night(void)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_ingest_text(db, "night1.csv",
		      HEADER "EMS,W1,,2018-06-05 10:00:00,C1,,1,12.35,,\nEMS,W2,O2,2018-06-05 11:00:00,C2,,1,1x,,\n", 0);
	g_free(h_settle(db));
	h_ingest_text(db, "night2.csv", HEADER "EMS,W3,O3,2018-06-06 09:30:00,C2,,1,10.00,,\n", 0);
	return db;
}

Test(why, an_order_not_settled_yet_and_a_waybill_no_line_carries)
{
	const char *db = night();
	const char *dir = h_tmpdir();
	g_autofree char *text = g_strdup_printf(
		"%s/night2.csv:2  EMS  pickup 2018-06-06 09:30:00  fee 10.00 yuan  ELIGIBLE\n"
		"order O3 of shop S2: 1 eligible lines, fee 10.00 yuan, not settled yet, posted 0.00 yuan\n",
		dir);
	expect_why(db, "W3", FALSE, text);
	g_autofree char *json = g_strdup_printf(
		"{\"lines\":[{\"file\":\"%s/night2.csv\",\"line\":2,\"courier\":\"EMS\",\"outcome\":\"ELIGIBLE\","
		"\"reason\":null}],\"order\":{\"shop_id\":\"S2\",\"order_no\":\"O3\",\"fee_fen\":1000,"
		"\"entitlement_fen\":null,\"posted_fen\":0}}\n",
		dir);
	expect_why(db, "W3", TRUE, json);
	expect_why(db, "W9", FALSE, "no line carries waybill 'W9'\n");
	expect_why(db, "W9", TRUE, "{\"lines\":[],\"order\":null}\n");
}

Test(why, a_withdrawn_file_its_reversal_and_a_fee_that_did_not_read)
{
	const char *db = night();
	h_result r = h_run(db, "withdraw", "--file", "1", "--reason", "sent by mistake", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	h_result_clear(&r);
	g_free(h_settle(db));
	const char *dir = h_tmpdir();
	/* W1 in any spelling; its order keeps its postings though no line of it counts now. */
	g_autofree char *w1 = g_strdup_printf(
		"%s/night1.csv:2  EMS  pickup 2018-06-05 10:00:00  fee 12.35 yuan  ELIGIBLE\n"
		"  act W1 withdrew its file: sent by mistake (by U as R, T)\n"
		"order (no number) of shop S1: 0 eligible lines, fee 0.00 yuan, entitled 0.00 yuan, posted 0.00 yuan\n"
		"  batch 1 posting 1: FUNDED 6.18 yuan (standard rule, rate 50%%; entitled 6.18 yuan, unfunded 0.00 yuan)\n"
		"  batch 2 posting 1: REVERSAL W1 -6.18 yuan (standard rule, rate 50%%; entitled 0.00 yuan, unfunded 0.00"
		" yuan)\n",
		dir);
	expect_why(db, "w1", FALSE, w1);
	g_autofree char *w1_json = g_strdup_printf(
		"{\"lines\":[{\"file\":\"%s/night1.csv\",\"line\":2,\"courier\":\"EMS\",\"outcome\":\"ELIGIBLE\","
		"\"reason\":null,\"act\":\"W1 withdrew its file: sent by mistake (by U as R, T)\"}],"
		"\"order\":{\"shop_id\":\"S1\",\"order_no\":null,\"fee_fen\":0,\"entitlement_fen\":0,\"posted_fen\":0}}\n",
		dir);
	expect_why(db, "Ｗ1", TRUE, w1_json);
	/* W2's fee did not read: no fee, no pickup shown, the reason; no order. */
	const char *reason = "fee: cannot parse amount '1x': not an amount (expected digits, a point and one or two"
			     " decimals, ￥ before or 元 after)";
	g_autofree char *w2 = g_strdup_printf("%s/night1.csv:3  EMS  pickup   fee (none read)  REJECTED: %s\n"
					      "  act W1 withdrew its file: sent by mistake (by U as R, T)\n",
					      dir, reason);
	expect_why(db, "W2", FALSE, w2);
	g_autofree char *w2_json = g_strdup_printf(
		"{\"lines\":[{\"file\":\"%s/night1.csv\",\"line\":3,\"courier\":\"EMS\",\"outcome\":\"REJECTED\","
		"\"reason\":\"%s\",\"act\":\"W1 withdrew its file: sent by mistake (by U as R, T)\"}],\"order\":null}\n",
		dir, reason);
	expect_why(db, "W2", TRUE, w2_json);
	/* W3, settled by the same batch: poverty rule, 80%. */
	g_autofree char *w3 = g_strdup_printf(
		"%s/night2.csv:2  EMS  pickup 2018-06-06 09:30:00  fee 10.00 yuan  ELIGIBLE\n"
		"order O3 of shop S2: 1 eligible lines, fee 10.00 yuan, entitled 8.00 yuan, posted 8.00 yuan\n"
		"  batch 2 posting 2: FUNDED 8.00 yuan (poverty rule, rate 80%%; entitled 8.00 yuan, unfunded 0.00 yuan)\n",
		dir);
	expect_why(db, "W3", FALSE, w3);
}
