/* test_replay.c: `subsidy replay` (CLI.md): the ledger recomputed from its lines. As recorded it
 * must agree with the ledger exactly; with the current registry it shows what corrections since
 * would change; lines newer than the last batch are pending; a changed posting is named.
 * Registry: fixtures/small (S1 standard, S2 poor since 2015, S4 registered from 2018-06-10 and
 * poor from 2018-06-12; campaign c618 is 2018-06-01 to 2018-06-18). */
#include "harness.h"

#include <criterion/criterion.h>
#include <string.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"

/* Three nights: top-ups, an order at its cap that a later parcel does not change, an order
 * without a number, a shop registered mid-campaign and poor from a later day, and lines that
 * are DUPLICATE, UNREGISTERED_SHOP, NOT_REGISTERED_ON_DATE and NOT_IN_CAMPAIGN. */
static const char *three_nights(void)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_ingest_text(db, "night1.csv",
		      HEADER "EMS,A1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n"   /* S1: 6.00 */
			     "EMS,A2,O2,2018-06-05 11:00:00,C2,,1,12.00,,\n"   /* S2 poor: 9.60 */
			     "EMS,A3,,2018-06-06 09:00:00,C1,,1,8.00,,\n"      /* S1, no number: 4.00 */
			     "EMS,A4,O4,2018-06-07 10:00:00,C9,,1,8.00,,\n"    /* UNREGISTERED_SHOP */
			     "EMS,A1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n",  /* DUPLICATE */
		      0);
	g_free(h_settle(db));
	h_ingest_text(db, "night2.csv",
		      HEADER "EMS,B1,O1,2018-06-08 10:00:00,C1,,1,12.00,,\n"   /* O1 +4.00, at the cap */
			     "EMS,B2,O2,2018-06-08 10:00:00,C2,,1,12.00,,\n"   /* O2 +9.60 */
			     "EMS,B3,O5,2018-06-11 10:00:00,C4,,1,10.00,,\n"   /* S4 not poor yet: 5.00 */
			     "EMS,B4,O6,2018-06-09 10:00:00,C4,,1,10.00,,\n",  /* NOT_REGISTERED_ON_DATE */
		      0);
	g_free(h_settle(db));
	h_ingest_text(db, "night3.csv",
		      HEADER "EMS,C1,O7,2018-06-13 10:00:00,C4,,1,10.00,,\n"   /* S4 poor: 8.00 */
			     "EMS,C2,O1,2018-06-13 10:00:00,C1,,1,5.00,,\n"    /* O1 stays at 10.00 */
			     "EMS,C3,O8,2018-07-01 10:00:00,C1,,1,12.00,,\n",  /* NOT_IN_CAMPAIGN */
		      0);
	g_free(h_settle(db));
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batches"), 3);
	return db;
}

static h_result replay(const char *db, const char *from, const char *to, const char *registry)
{
	return h_run(db, "replay", "--from", from, "--to", to, "--registry", registry, "--json", NULL);
}

/* Loads one registry file of kind with the given text. */
static void load(const char *db, const char *kind, const char *text)
{
	g_autofree char *name = g_strconcat(kind, "-corrected.csv", NULL);
	g_autofree char *path = h_write(h_tmpdir(), name, text, -1);
	h_result r = h_run(db, "registry", "load", kind, path, NULL);
	cr_assert_eq(r.status, 0, "registry load %s: exit %d\n%s%s", kind, r.status, r.out, r.err);
	h_result_clear(&r);
}

static void assert_no_difference(const char *db, const char *registry, int pending)
{
	h_result r = replay(db, "2018-01-01", "2018-12-31", registry);
	cr_assert_eq(r.status, 0, "replay --registry %s: exit %d\n%s%s", registry, r.status, r.out, r.err);
	g_autofree char *want = g_strdup_printf("{\"differences\":[],\"pending\":%d,", pending);
	cr_assert(g_str_has_prefix(r.out, want), "replay --registry %s: %s, wanted %s...", registry, r.out, want);
	h_result_clear(&r);
}

Test(replay, a_ledger_of_three_nights_agrees_with_its_lines_in_both_modes)
{
	const char *db = three_nights();
	assert_no_difference(db, "as-recorded", 0);
	assert_no_difference(db, "current", 0);
	h_result r = replay(db, "2018-01-01", "2018-12-31", "as-recorded");
	/* O1, O2, the order without a number, O5, O7: five orders compared. */
	cr_assert(strstr(r.out, "\"orders\":5,"), "%s", r.out);
	h_result_clear(&r);
	/* The human form ends with a summary line. */
	r = h_run(db, "replay", "--from", "2018-06-01", "--to", "2018-06-30", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "5 orders compared") && strstr(r.out, "no difference"), "%s", r.out);
	h_result_clear(&r);
}

Test(replay, a_changed_posting_is_named_with_its_order)
{
	const char *db = three_nights();
	/* As a superuser with the append-only triggers bypassed: O2's first posting pays 1 fen more. */
	cr_assert(h_exec(db,
			 "SET session_replication_role = replica;"
			 " UPDATE postings SET funded_fen = funded_fen + 1 WHERE order_no = 'O2' AND batch_id = 1",
			 NULL));
	h_result r = replay(db, "2018-06-01", "2018-06-30", "as-recorded");
	cr_assert_eq(r.status, 1, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "{\"shop_id\":\"S2\",\"order_no\":\"O2\",\"ledger_fen\":1921,\"recomputed_fen\":1920,"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "does not add up"), "%s", r.out);
	/* Only that order. */
	cr_assert_eq(strstr(r.out, "},{"), NULL, "%s", r.out);
	h_result_clear(&r);
}

/* replay reads the ledger side on a second session that shares its snapshot and gets its
 * candidates (replay.c). A role that may open one session only still replays, on one: the same
 * report, word for word, in both modes, with differences on both sides (a changed posting, and a
 * corrected registration). */
Test(replay, one_session_or_two_give_the_same_report)
{
	const char *db = three_nights();
	cr_assert(h_exec(db,
			 "SET session_replication_role = replica;"
			 " UPDATE postings SET funded_fen = funded_fen + 1 WHERE order_no = 'O2' AND batch_id = 1",
			 NULL));
	load(db, "shops",
	     "shop_id,shop_name,platform,owner_name,owner_id_no,phone,household_id,village,bank_name,bank_account,"
	     "account_name,registered_from,registered_to\n"
	     "S1,标准店,淘宝,王小明,11010519491231002X,13800000001,,村一,农信,6221000000000018,王小明,2018-06-10,\n");
	g_autofree char *lone = h_lone_auditor(db);
	g_autofree char *as_auditor = h_as_role(db, "subsidy_auditor");
	g_autofree char *as_lone = h_as_role(db, lone);
	const char *const modes[] = { "as-recorded", "current" };
	h_result two[2], one[2];
	g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
	for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
		two[i] = replay(as_auditor, "2018-06-01", "2018-06-30", modes[i]);
		one[i] = replay(as_lone, "2018-06-01", "2018-06-30", modes[i]);
	}
	g_unsetenv("G_MESSAGES_DEBUG");
	h_drop_role(db, lone);
	for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
		cr_assert_eq(two[i].status, 1, "%s: exit %d\n%s%s", modes[i], two[i].status, two[i].out, two[i].err);
		cr_assert_null(strstr(two[i].err, "one reads alone"), "%s", two[i].err);
		cr_assert(strstr(two[i].out, "\"shop_id\":\"S2\",\"order_no\":\"O2\""), "%s: %s", modes[i],
			  two[i].out);
		cr_assert_eq(one[i].status, 1, "%s: exit %d\n%s%s", modes[i], one[i].status, one[i].out, one[i].err);
		cr_assert(strstr(one[i].err, "one reads alone") && strstr(one[i].err, "too many connections"), "%s",
			  one[i].err);
		cr_assert_str_eq(one[i].out, two[i].out, "%s", modes[i]);
		h_result_clear(&two[i]);
		h_result_clear(&one[i]);
	}
}

Test(replay, a_changed_entitlement_of_an_order_without_a_number_is_named_with_an_empty_order_no)
{
	const char *db = three_nights();
	cr_assert(h_exec(db,
			 "SET session_replication_role = replica;"
			 " UPDATE postings SET entitlement_fen = 500, funded_fen = 500 WHERE order_key LIKE 'w:%'",
			 NULL));
	h_result r = replay(db, "2018-06-06", "2018-06-06", "as-recorded");
	cr_assert_eq(r.status, 1, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "{\"shop_id\":\"S1\",\"order_no\":\"\",\"ledger_fen\":500,\"recomputed_fen\":400,"), "%s",
		  r.out);
	cr_assert(strstr(r.out, "ledger differs from its lines"), "%s", r.out);
	h_result_clear(&r);
}

Test(replay, the_range_holds_both_ends_and_nothing_else)
{
	const char *db = three_nights();
	/* Break every order, then ask for one day at a time. */
	cr_assert(h_exec(db,
			 "SET session_replication_role = replica; UPDATE postings SET funded_fen = funded_fen + 1",
			 NULL));
	static const struct {
		const char *from, *to;
		const char *orders; /* the order_no of each difference, in order */
	} cases[] = {
		{ "2018-06-05", "2018-06-05", "O1,O2" }, /* both ends included */
		{ "2018-06-06", "2018-06-06", "" },      /* the order without a number */
		{ "2018-06-07", "2018-06-10", NULL },    /* nothing dated there */
		{ "2018-06-11", "2018-06-13", "O5,O7" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		h_result r = replay(db, cases[i].from, cases[i].to, "as-recorded");
		if (!cases[i].orders) {
			cr_assert_eq(r.status, 0, "%s..%s: %s", cases[i].from, cases[i].to, r.out);
			h_result_clear(&r);
			continue;
		}
		cr_assert_eq(r.status, 1, "%s..%s: exit %d %s%s", cases[i].from, cases[i].to, r.status, r.out, r.err);
		g_auto(GStrv) want = g_strsplit(cases[i].orders, ",", -1);
		int found = 0;
		for (const char *p = r.out; (p = strstr(p, "\"order_no\":")); p++)
			found++;
		cr_assert_eq(found, (int)g_strv_length(want) + (*cases[i].orders ? 0 : 1), "%s..%s: %s", cases[i].from,
			     cases[i].to, r.out);
		if (!*cases[i].orders)
			cr_assert(strstr(r.out, "\"order_no\":\"\""), "%s..%s: %s", cases[i].from, cases[i].to, r.out);
		for (char **w = want; *w; w++) {
			g_autofree char *key = g_strdup_printf("\"order_no\":\"%s\"", *w);
			cr_assert(strstr(r.out, key), "%s..%s: no %s in %s", cases[i].from, cases[i].to, key, r.out);
		}
		h_result_clear(&r);
	}
}

Test(replay, a_corrected_poverty_period_is_an_overpayment_now_and_none_as_recorded)
{
	const char *db = three_nights();
	/* The office finds H2 was registered poor only from July. */
	load(db, "households",
	     "household_id,head_name,village,poor_from,poor_to\nH2,符春花,村二,2018-07-01,\nH4,欧阳小锋,村四,2018-06-12,\n");
	assert_no_difference(db, "as-recorded", 0);
	h_result r = replay(db, "2018-06-01", "2018-06-30", "current");
	cr_assert_eq(r.status, 1, "exit %d\n%s%s", r.status, r.out, r.err);
	/* O2: 24.00 of fees, 19.20 at the poverty rate; 10.00 (capped) at the standard one. */
	cr_assert(strstr(r.out, "{\"shop_id\":\"S2\",\"order_no\":\"O2\",\"ledger_fen\":1920,\"recomputed_fen\":1000,"
				"\"cause\":\"poverty status on 2018-06-05: poor in the ledger, not poor now (household H2)\"}"),
		  "%s", r.out);
	h_result_clear(&r);
}

Test(replay, a_corrected_registration_makes_the_lines_ineligible_now)
{
	const char *db = three_nights();
	/* S1 turns out to be registered only from 2018-06-10. */
	load(db, "shops",
	     "shop_id,shop_name,platform,owner_name,owner_id_no,phone,household_id,village,bank_name,bank_account,"
	     "account_name,registered_from,registered_to\n"
	     "S1,标准店,淘宝,王小明,11010519491231002X,13800000001,,村一,农信,6221000000000018,王小明,2018-06-10,\n");
	assert_no_difference(db, "as-recorded", 0);
	h_result r = replay(db, "2018-06-01", "2018-06-30", "current");
	cr_assert_eq(r.status, 1, "exit %d\n%s%s", r.status, r.out, r.err);
	/* The order without a number (one line, 06-06) is no longer eligible at all. */
	cr_assert(strstr(r.out, "{\"shop_id\":\"S1\",\"order_no\":\"\",\"ledger_fen\":400,\"recomputed_fen\":0,"
				"\"cause\":\"line night1.csv:4 is now NOT_REGISTERED_ON_DATE\"}"),
		  "%s", r.out);
	/* O1 lost its 06-05 and 06-08 parcels; the 06-13 one (5.00) is left: 2.50. Dated by what is
	 * left, it is still in June. */
	cr_assert(strstr(r.out, "{\"shop_id\":\"S1\",\"order_no\":\"O1\",\"ledger_fen\":1000,\"recomputed_fen\":250,"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "line night1.csv:2 is now NOT_REGISTERED_ON_DATE; line night2.csv:2 is now"
				" NOT_REGISTERED_ON_DATE"),
		  "%s", r.out);
	h_result_clear(&r);
}

Test(replay, a_newly_registered_sender_is_an_underpayment_now)
{
	const char *db = three_nights();
	/* C9 (O4's sender, UNREGISTERED_SHOP when ingested) turns out to be S3's. */
	load(db, "senders", "shop_id,courier,sender_code,valid_from,valid_to\nS3,EMS,C9,2016-01-01,\n");
	assert_no_difference(db, "as-recorded", 0);
	h_result r = replay(db, "2018-06-01", "2018-06-30", "current");
	cr_assert_eq(r.status, 1, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "{\"shop_id\":\"S3\",\"order_no\":\"O4\",\"ledger_fen\":0,\"recomputed_fen\":400,"
				"\"cause\":\"line night1.csv:5 is now ELIGIBLE (was UNREGISTERED_SHOP)\"}"),
		  "%s", r.out);
	h_result_clear(&r);
}

Test(replay, lines_newer_than_the_last_batch_are_pending_not_differences)
{
	const char *db = three_nights();
	/* A parcel for O2 and a new order, not settled yet. */
	h_ingest_text(db, "night4.csv",
		      HEADER "EMS,D1,O2,2018-06-14 10:00:00,C2,,1,12.00,,\nEMS,D2,O9,2018-06-14 10:00:00,C1,,1,12.00,,\n", 0);
	assert_no_difference(db, "as-recorded", 2);
	assert_no_difference(db, "current", 2);
	/* Settled, they are compared and agree. */
	g_free(h_settle(db));
	assert_no_difference(db, "as-recorded", 0);
}

Test(replay, before_any_batch_every_order_is_pending)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_ingest_text(db, "n.csv", HEADER "EMS,P1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n", 0);
	h_result r = replay(db, "2018-06-01", "2018-06-30", "as-recorded");
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(g_str_has_prefix(r.out, "{\"differences\":[],\"pending\":1,"), "%s", r.out);
	cr_assert(strstr(r.out, "\"last_batch\":null"), "%s", r.out);
	h_result_clear(&r);
}

/* An order short of money, its household corrected, then retried in a later batch: the retry
 * funds the entitlement as it stands then (POLICY.md), so the ledger agrees with the registry
 * as recorded and as it is now. */
Test(replay, a_budget_shortfall_and_its_later_retry_are_no_difference)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	load(db, "budgets", "pool_id,name,amount,valid_from,valid_to,priority\nbig,大池,15.00,2016-01-01,2018-12-31,1\n");
	h_ingest_text(db, "n1.csv",
		      HEADER "EMS,P1,O1,2018-06-05 10:00:00,C1,,1,25.00,,\nEMS,P2,O2,2018-06-05 11:00:00,C2,,1,12.00,,\n", 0);
	g_free(h_settle(db));
	cr_assert_eq(h_sql_int(db, "SELECT unfunded_fen FROM orders WHERE order_no = 'O2'"), 460);
	assert_no_difference(db, "as-recorded", 0);
	/* H2 is corrected, then a pool arrives: O2 is now entitled to 6.00, of which 5.00 is funded;
	 * the reversal cancels 3.60 of the 4.60 it was owed and the retry funds the 1.00 left. */
	load(db, "households",
	     "household_id,head_name,village,poor_from,poor_to\nH2,符春花,村二,2018-07-01,\nH4,欧阳小锋,村四,2018-06-12,\n");
	load(db, "budgets",
	     "pool_id,name,amount,valid_from,valid_to,priority\nbig,大池,15.00,2016-01-01,2018-12-31,1\n"
	     "more,追加,100.00,2016-01-01,2018-12-31,2\n");
	g_free(h_settle(db));
	g_autofree char *o2 = h_sql(db, "SELECT string_agg(funded_fen || ':' || status, ',' ORDER BY batch_id, seq)"
					" FROM postings WHERE order_no = 'O2'");
	cr_assert_str_eq(o2, "500:PARTIAL,0:REVERSAL,100:FUNDED");
	assert_no_difference(db, "as-recorded", 0);
	assert_no_difference(db, "current", 0);
}

Test(replay, the_report_is_a_csv_with_bom_crlf_and_the_header)
{
	const char *db = three_nights();
	load(db, "households",
	     "household_id,head_name,village,poor_from,poor_to\nH2,符春花,村二,2018-07-01,\nH4,欧阳小锋,村四,2018-06-12,\n");
	g_autofree char *path = g_build_filename(h_tmpdir(), "replay-report.csv", NULL);
	h_result r = h_run(db, "replay", "--from", "2018-06-01", "--to", "2018-06-30", "--registry", "current", "--report",
			   path, NULL);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "S2") && strstr(r.out, "19.20") && strstr(r.out, "10.00"), "%s", r.out);
	h_result_clear(&r);
	gsize len = 0;
	g_autofree char *bytes = h_read(path, &len);
	cr_assert_str_eq(bytes, "\xEF\xBB\xBF"
				"店铺编号,订单号,账面金额(元),重算金额(元),原因\r\n"
				"S2,O2,19.20,10.00,\"poverty status on 2018-06-05: poor in the ledger, not poor now"
				" (household H2)\"\r\n");
	/* With no difference the report holds the header alone. */
	r = h_run(db, "replay", "--from", "2018-06-01", "--to", "2018-06-30", "--report", path, NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	h_result_clear(&r);
	g_autofree char *again = h_read(path, &len);
	cr_assert_str_eq(again, "\xEF\xBB\xBF店铺编号,订单号,账面金额(元),重算金额(元),原因\r\n");
}

Test(replay, replay_changes_nothing)
{
	const char *db = three_nights();
	load(db, "households",
	     "household_id,head_name,village,poor_from,poor_to\nH2,符春花,村二,2018-07-01,\nH4,欧阳小锋,村四,2018-06-12,\n");
	g_autofree char *before = h_ledger_dump(db);
	int64_t runs = h_sql_int(db, "SELECT count(*) FROM runs");
	h_result r = replay(db, "2018-01-01", "2018-12-31", "current");
	cr_assert_eq(r.status, 1);
	h_result_clear(&r);
	r = replay(db, "2018-01-01", "2018-12-31", "as-recorded");
	cr_assert_eq(r.status, 0);
	h_result_clear(&r);
	g_autofree char *after = h_ledger_dump(db);
	cr_assert_str_eq(after, before);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM runs"), runs);
}

Test(replay, from_after_to_exits_64)
{
	h_result r = h_run(NULL, "replay", "--from", "2018-06-30", "--to", "2018-06-01", NULL);
	cr_assert_eq(r.status, 64, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "after") && strstr(r.err, "usage: subsidy replay"), "%s", r.err);
	h_result_clear(&r);
}

Test(replay, bad_or_missing_dates_and_an_unknown_registry_exit_64)
{
	static const char *const bad[][9] = {
		{ "replay", "--from", "2018-02-30", "--to", "2018-06-01", NULL },
		{ "replay", "--from", "2018-06-01", "--to", "June", NULL },
		{ "replay", "--from", "2018-06-01", NULL },
		{ "replay", "--to", "2018-06-01", NULL },
		{ "replay", "--from", "2018-06-01", "--to", "2018-06-30", "surplus", NULL },
		{ "replay", "--from", "2018-06-01", "--to", "2018-06-30", "--registry", "yesterday", NULL },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		h_result r = h_runv(NULL, bad[i]);
		cr_assert_eq(r.status, 64, "case %zu: exit %d: %s", i, r.status, r.err);
		h_result_clear(&r);
	}
}

/* A correction followed by a new parcel: settlement prices the order again with the corrected
 * registry and posts a reversal. As recorded, that batch's registry is the one that priced it. */
Test(replay, a_reversal_after_a_correction_agrees_as_recorded_and_now)
{
	const char *db = three_nights();
	load(db, "households",
	     "household_id,head_name,village,poor_from,poor_to\nH2,符春花,村二,2018-07-01,\nH4,欧阳小锋,村四,2018-06-12,\n");
	h_ingest_text(db, "night4.csv", HEADER "EMS,D1,O2,2018-06-14 10:00:00,C2,,1,12.00,,\n", 0);
	g_free(h_settle(db));
	/* O2: 36.00 of fees at the standard rate, capped: 10.00, down from 19.20. */
	g_autofree char *last = h_sql(db, "SELECT status || ' ' || entitlement_fen || ' ' || funded_fen FROM postings"
					  " WHERE order_no = 'O2' ORDER BY batch_id DESC LIMIT 1");
	cr_assert_str_eq(last, "REVERSAL 1000 -920");
	assert_no_difference(db, "as-recorded", 0);
	assert_no_difference(db, "current", 0);
}

/* Replay reads each side of the comparison (lines, postings) in chunks of 10,000 rows and merges
 * them by order. 10,002 orders of S1: O00000 and O00001 of one line each, the rest of three, so
 * that the lines of O03334 are rows 9,998 to 10,000 of the lines sorted by order (a chunk ends
 * inside them) and the postings of O09999 and O10000 fall on either side of the ledger's first
 * chunk. One line of O03334, its last, is stored with a fee 4.00 more, and O10000's posting pays
 * 1 fen more: each is one difference, of its own order, in both modes. */
Test(replay, an_order_whose_rows_cross_a_chunk_is_compared_once_and_whole)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	enum { ORDERS = 10002 };
	GString *csv = g_string_new(HEADER);
	int waybill = 0;
	for (int o = 0; o < ORDERS; o++)
		for (int k = 0; k < (o < 2 ? 1 : 3); k++)
			g_string_append_printf(csv, "EMS,W%06d,O%05d,2018-06-05 10:00:00,C1,,1,1.00,,\n", ++waybill, o);
	h_ingest_text(db, "many.csv", csv->str, 0);
	g_string_free(csv, TRUE);
	g_free(h_settle(db));
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM postings"), ORDERS);
	assert_no_difference(db, "as-recorded", 0);
	/* The 10,001st line in order: O03334's last (rows 0 and 1 are O00000 and O00001). */
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE order_no < 'O03334'"), 9998);
	cr_assert(h_exec(db,
			 "SET session_replication_role = replica;"
			 " UPDATE lines SET fee_fen = 500 WHERE waybill_no = (SELECT max(waybill_no) FROM lines"
			 "  WHERE order_no = 'O03334');"
			 " UPDATE postings SET funded_fen = funded_fen + 1 WHERE order_no = 'O10000'",
			 NULL));
	const char *const modes[] = { "as-recorded", "current" };
	for (size_t m = 0; m < G_N_ELEMENTS(modes); m++) {
		h_result r = replay(db, "2018-06-01", "2018-06-30", modes[m]);
		cr_assert_eq(r.status, 1, "%s: exit %d\n%s", modes[m], r.status, r.err);
		/* 1.00 + 1.00 + 5.00 = 7.00 at 50%: 3.50, where the ledger holds 1.50. */
		cr_assert(strstr(r.out, "{\"shop_id\":\"S1\",\"order_no\":\"O03334\",\"ledger_fen\":150,"
					"\"recomputed_fen\":350,\"cause\":\"fee: 3.00 yuan in the ledger, 7.00 from the lines\"}"),
			  "%s: %.2000s", modes[m], r.out);
		cr_assert(strstr(r.out, "{\"shop_id\":\"S1\",\"order_no\":\"O10000\",\"ledger_fen\":151,"
					"\"recomputed_fen\":150,\"cause\":\"the ledger does not add up"),
			  "%s: %.2000s", modes[m], r.out);
		/* Those two only, and every order compared once. */
		const char *second = strstr(r.out, "},{");
		cr_assert(second && !strstr(second + 1, "},{"), "%s: %.2000s", modes[m], r.out);
		cr_assert(strstr(r.out, "\"pending\":0,\"orders\":10002,"), "%s: %.2000s", modes[m], r.out);
		h_result_clear(&r);
	}
}
