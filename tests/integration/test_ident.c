/* test_ident.c: one parcel, one order, one courier, however a file writes them (POLICY.md,
 * check 2; issue 12): waybill and order numbers are compared in one normal form (NFKC, case
 * folded, spaces and invisible characters removed), a courier as its code (a Chinese name of
 * FORMATS.md's list is its code, in every profile and in the senders file). End to end: ingest,
 * settle, why, replay. The normal form's own tests are tests/unit/test_ident.c.
 * Registry: fixtures/small (S1 standard: YTO YT0001, EMS C1, phone 13800000001). */
#include "harness.h"

#include <criterion/criterion.h>
#include <string.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"
#define CAINIAO_HEADER "\xEF\xBB\xBF运单号,快递公司,订单编号,揽收时间,商家编码,发件人手机,计费重量(kg),运费,商品类目,目的省份\r\n"
#define ZWSP "\xE2\x80\x8B" /* U+200B zero-width space */

static const char *setup(void)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	return db;
}

/* replay as recorded over 2018 agrees with the ledger: no difference, nothing pending. */
static void assert_replay_agrees(const char *db)
{
	h_result r = h_run(db, "replay", "--from", "2018-01-01", "--to", "2018-12-31", "--registry", "as-recorded",
			   "--json", NULL);
	cr_assert_eq(r.status, 0, "replay: exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(g_str_has_prefix(r.out, "{\"differences\":[],\"pending\":0,"), "replay: %s", r.out);
	h_result_clear(&r);
}

/* The stored bytes of the newest file, as hex. */
static char *stored_hex(const char *db)
{
	return h_sqlf(db, "SELECT encode(string_agg(bytes, ''::bytea ORDER BY seq), 'hex') FROM file_chunks"
			    " WHERE file_id = (SELECT max(file_id) FROM files)");
}

static char *hex_of(const char *text)
{
	GString *h = g_string_new(NULL);
	for (const guchar *p = (const guchar *)text; *p; p++)
		g_string_append_printf(h, "%02x", *p);
	return g_string_free(h, FALSE);
}

/* Issue 12: night 1 YTO,YT6200450000274; night 2 the same parcel in lower case, with a zero-width
 * space after it, in full-width digits, and with courier 圆通 and the shop's phone instead of its
 * code. Before: all four ELIGIBLE, 45.00 paid for one 18.00 parcel. Now: paid once (9.00), the
 * three same spellings DUPLICATE, the one with the phone instead of the code CONFLICT. */
Test(ident, one_parcel_written_five_ways_over_two_nights_is_paid_once)
{
	const char *db = setup();
	h_ingest_text(db, "night1.csv", HEADER "YTO,YT6200450000274,,2018-06-05 10:00:00,YT0001,,1,18.00,,\n", 0);
	g_autofree char *one = h_settle(db);
	cr_assert_str_eq(one, "{\"batch\":1,\"orders\":1,\"postings\":1,\"posted_fen\":900,\"unfunded_fen\":0}");

	const char *night2 = HEADER "YTO,yt6200450000274,,2018-06-05 10:00:00,YT0001,,1,18.00,,\n"
				    "YTO,YT6200450000274" ZWSP ",,2018-06-05 10:00:00,YT0001,,1,18.00,,\n"
				    "YTO,ＹＴ６２００４５００００２７４,,2018-06-05 10:00:00,YT0001,,1,18.00,,\n"
				    "圆通,YT6200450000274,,2018-06-05 10:00:00,,13800000001,1,18.00,,\n";
	h_ingest_text(db, "night2.csv", night2, 0);
	g_autofree char *outcomes = h_sqlf(db, "SELECT string_agg(outcome, ',' ORDER BY file_id, line_no) FROM lines");
	cr_assert_str_eq(outcomes, "ELIGIBLE,DUPLICATE,DUPLICATE,DUPLICATE,CONFLICT");
	g_autofree char *conflict = h_sqlf(db, "SELECT reason FROM lines WHERE outcome = 'CONFLICT'");
	cr_assert(g_str_has_suffix(conflict, "/night1.csv:2; differs in sender_code, sender_phone"), "%s", conflict);
	/* The parsed columns hold the normal form; the bytes as received are kept. */
	cr_assert_eq(h_sql_intf(db, "SELECT count(*) FROM lines WHERE courier = 'YTO' AND waybill_no = 'YT6200450000274'"),
		     5);
	cr_assert_eq(h_sql_intf(db, "SELECT count(*) FROM waybills"), 1);
	g_autofree char *stored = stored_hex(db);
	g_autofree char *sent = hex_of(night2);
	cr_assert_str_eq(stored, sent);

	g_autofree char *two = h_settle(db);
	cr_assert_eq(h_sql_intf(db, "SELECT count(*) FROM batches"), 1, "night 2 settled: %s", two);
	cr_assert_eq(h_sql_intf(db, "SELECT sum(funded_fen) FROM postings"), 900);
	cr_assert_eq(h_sql_intf(db, "SELECT sum(funded_fen) FROM orders"), 900);

	/* `why` finds the parcel by any of its spellings. */
	static const char *const spellings[] = { "YT6200450000274", "yt6200450000274", "YT6200450000274" ZWSP,
						 "ＹＴ６２００４５００００２７４" };
	for (size_t i = 0; i < G_N_ELEMENTS(spellings); i++) {
		h_result r = h_run(db, "why", spellings[i], "--json", NULL);
		cr_assert_eq(r.status, 0, "why %s: %s%s", spellings[i], r.out, r.err);
		int n = 0;
		for (const char *p = r.out; (p = strstr(p, "\"outcome\":")); p++)
			n++;
		cr_assert_eq(n, 5, "why %s: %s", spellings[i], r.out);
		cr_assert(strstr(r.out, "\"posted_fen\":900}"), "why %s: %s", spellings[i], r.out);
		h_result_clear(&r);
	}
	assert_replay_agrees(db);
}

/* Issue 12: ORD1, ord1 and ＯＲＤ1 were three orders, each with its own 10.00 cap. They are one
 * order (shop, order_no): 36.00 of fees over two nights earn the cap once, 6.00 then 4.00. */
Test(ident, ORD1_ord1_and_fullwidth_ORD1_are_one_order_with_one_cap)
{
	const char *db = setup();
	h_ingest_text(db, "night1.csv", HEADER "EMS,W1,ORD1,2018-06-05 10:00:00,C1,,1,12.00,,\n", 0);
	g_free(h_settle(db));
	h_ingest_text(db, "night2.csv",
		      HEADER "EMS,W2,ord1,2018-06-06 10:00:00,C1,,1,12.00,,\n"
			     "EMS,W3,ＯＲＤ1,2018-06-07 10:00:00,C1,,1,12.00,,\n", 0);
	g_autofree char *two = h_settle(db);
	cr_assert_str_eq(two, "{\"batch\":2,\"orders\":1,\"postings\":1,\"posted_fen\":400,\"unfunded_fen\":0}");
	g_autofree char *order = h_sqlf(db, "SELECT string_agg(order_key || ' ' || order_no || ' ' || fee_fen || ' '"
					      " || funded_fen, ',') FROM orders");
	cr_assert_str_eq(order, "o:ORD1 ORD1 3600 1000");
	g_autofree char *keys = h_sqlf(db, "SELECT string_agg(DISTINCT order_no || ' ' || order_key, ',') FROM lines");
	cr_assert_str_eq(keys, "ORD1 o:ORD1");
	cr_assert_eq(h_sql_intf(db, "SELECT sum(funded_fen) FROM postings"), 1000);
	assert_replay_agrees(db);
}

/* A waybill or courier with nothing visible rejects its line, saying which field. An order number
 * of only invisible characters is no order number, as an empty cell is (POLICY.md: an order of its
 * own): an honest line is not refused for a stray no-break space. */
Test(ident, a_waybill_with_nothing_visible_rejects_its_line_an_order_number_is_none)
{
	const char *db = setup();
	h_ingest_text(db, "blank.csv",
		      HEADER "EMS," ZWSP ",,2018-06-05 10:00:00,C1,,1,12.00,,\n"
			     "EMS,V2," ZWSP "\xC2\xA0,2018-06-05 10:00:00,C1,,1,12.00,,\n"
			     ZWSP ",V3,,2018-06-05 10:00:00,C1,,1,12.00,,\n"
			     "EMS,V4,,2018-06-05 10:00:00,C1,,1,12.00,,\n",
		      0);
	g_autofree char *got = h_sqlf(db, "SELECT string_agg(outcome || ': ' || coalesce(reason, ''), ' | '"
					    " ORDER BY line_no) FROM lines");
	cr_assert_str_eq(got, "REJECTED: waybill_no has nothing visible (only spaces or invisible characters) | "
			      "ELIGIBLE:  | "
			      "REJECTED: courier has nothing visible (only spaces or invisible characters) | "
			      "ELIGIBLE: ");
	/* An order number of invisible characters is no order number: V2 is an order of its own. */
	cr_assert_eq(h_sql_intf(db, "SELECT count(*) FROM lines WHERE waybill_no = 'V2' AND order_no IS NULL"
				 " AND order_key = 'w:EMS:V2'"), 1);
	cr_assert_eq(h_sql_intf(db, "SELECT count(*) FROM waybills"), 2);
}

/* A courier named in Chinese is its code in every profile (canonical here, cainiao, and --set),
 * and a code is folded for width and case: so the senders row (YTO, YT0001) finds shop S1. */
Test(ident, a_courier_named_in_chinese_is_its_code_in_every_profile)
{
	const char *db = setup();
	h_ingest_text(db, "canonical.csv",
		      HEADER "圆通,YT1,,2018-06-05 10:00:00,YT0001,,1,12.00,,\n"
			     "ｙｔｏ,YT2,,2018-06-05 10:00:00,YT0001,,1,12.00,,\n"
			     " 圆通" ZWSP ",YT3,,2018-06-05 10:00:00,YT0001,,1,12.00,,\n",
		      0);
	h_ingest_text(db, "cainiao.csv",
		      CAINIAO_HEADER "YT4,圆通,,2018-06-05 10:00:00,YT0001,,1.0,12.00,,\r\n"
				     "YT5,ＥＭＳ,,2018-06-05 10:00:00,C1,,1.0,12.00,,\r\n"
				     "YT6,YTO,,2018-06-05 10:00:00,YT0001,,1.0,12.00,,\r\n",
		      0);
	g_autofree char *dir = g_build_filename(h_tmpdir(), "set", NULL);
	g_mkdir_with_parents(dir, 0700);
	g_autofree char *path = h_write(dir, "set.csv", HEADER ",YT7,,2018-06-05 10:00:00,YT0001,,1,12.00,,\n", -1);
	h_result r = h_run(db, "ingest", "--set", "courier=圆通", path, NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	h_result_clear(&r);
	g_autofree char *got = h_sqlf(db, "SELECT string_agg(waybill_no || ' ' || coalesce(courier, '-') || ' ' || outcome"
					    " || coalesce(' ' || shop_id, ''), ', ' ORDER BY waybill_no) FROM lines");
	/* The cainiao column holds names: YTO is not one, as before. */
	cr_assert_str_eq(got, "YT1 YTO ELIGIBLE S1, YT2 YTO ELIGIBLE S1, YT3 YTO ELIGIBLE S1, YT4 YTO ELIGIBLE S1, "
			      "YT5 EMS ELIGIBLE S1, YT6 YTO REJECTED, YT7 YTO ELIGIBLE S1");
	g_autofree char *why = h_sqlf(db, "SELECT reason FROM lines WHERE waybill_no = 'YT6'");
	cr_assert_str_eq(why, "unknown courier 'YTO'");
}

/* The senders file names a courier as manifests do: 圆通, ｙｔｏ and YTO are one courier, so a
 * line of courier YTO finds the shop, and (圆通, X) and (YTO, X) for two shops is one code claimed
 * twice. A courier with nothing visible is refused with its line. */
Test(ident, the_senders_file_names_a_courier_by_its_code_or_its_name)
{
	const char *db = setup();
	h_load_text(db, "senders", "shop_id,courier,sender_code,valid_from,valid_to\n"
				   "S3,圆通,YN0003,2016-01-01,\n"
				   "S3,ｚｔｏ,ZN0003,2016-01-01,\n");
	g_autofree char *couriers = h_sqlf(db, "SELECT string_agg(courier, ',' ORDER BY courier) FROM senders"
						 " WHERE sender_code IN ('YN0003', 'ZN0003')");
	cr_assert_str_eq(couriers, "YTO,ZTO");
	h_ingest_text(db, "n.csv", HEADER "yto,Y1,,2018-06-05 10:00:00,YN0003,,1,12.00,,\n"
					  "中通,Z1,,2018-06-05 10:00:00,ZN0003,,1,12.00,,\n", 0);
	g_autofree char *shops = h_sqlf(db, "SELECT string_agg(shop_id, ',' ORDER BY waybill_no) FROM lines");
	cr_assert_str_eq(shops, "S3,S3");

	g_autofree char *twice = h_write(h_tmpdir(), "senders-twice.csv",
					 "shop_id,courier,sender_code,valid_from,valid_to\nS1,YTO,YN0003,2016-01-01,\n", -1);
	h_result r = h_run(db, "registry", "load", "senders", twice, NULL);
	cr_assert_neq(r.status, 0, "a code claimed by two shops was loaded: %s%s", r.out, r.err);
	h_result_clear(&r);
	g_autofree char *blank = h_write(h_tmpdir(), "senders-blank.csv",
					 "shop_id,courier,sender_code,valid_from,valid_to\nS1," ZWSP ",YN0009,2016-01-01,\n",
					 -1);
	r = h_run(db, "registry", "load", "senders", blank, NULL);
	cr_assert_eq(r.status, 65, "%s%s", r.out, r.err);
	cr_assert(strstr(r.err, "senders-blank.csv:2: courier has nothing visible"), "%s", r.err);
	h_result_clear(&r);
}
