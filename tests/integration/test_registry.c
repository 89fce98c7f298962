/* test_registry.c: `subsidy registry load` (FORMATS.md, "Registry files"; CLI.md) and the registry
 * snapshot. Every refusal class has a small file that fails for that reason alone: exit 65, the
 * line named, nothing stored. Then history: reloads change nothing, changes become versions, and
 * what was known at an instant is what the snapshot returns for it. */
#include "harness.h"
#include "registry.h"

#include <criterion/criterion.h>
#include <string.h>

#define PROGRAMME "default"

#define POLICIES_HEADER \
	"policy_id,valid_from,valid_to,standard_rate_bp,standard_cap,poverty_rate_bp,poverty_cap,rounding," \
	"require_campaign,eligible_categories,fee_max\n"
#define POLICY_2016 "county-2016,2016-01-01,2018-12-31,5000,10.00,8000,,half_up,true,,2000.00\n"
#define SHOPS_HEADER \
	"shop_id,shop_name,platform,owner_name,owner_id_no,phone,household_id,village,bank_name,bank_account," \
	"account_name,registered_from,registered_to\n"
#define SHOP_S1 "S1,标准店,淘宝,王小明,11010519491231002X,13800000001,,村一,农信,6221000000000018,王小明,2016-01-01,\n"
#define SHOP_S2 "S2,扶贫店,淘宝,符春花,440524188001010014,13800000002,H2,村二,农信,6221000000000026,符春花,2016-01-01,\n"
#define SHOP_S3 "S3,山货店,拼多多,羊德,469025197001010028,13800000003,,村三,农信,6221000000000034,羊德,2016-01-01,\n"
#define SENDERS_HEADER "shop_id,courier,sender_code,valid_from,valid_to\n"
#define HOUSEHOLDS_HEADER "household_id,head_name,village,poor_from,poor_to\n"
#define CAMPAIGNS_HEADER "campaign_id,name,starts_at,ends_at\n"
#define BUDGETS_HEADER "pool_id,name,amount,valid_from,valid_to,priority\n"

/* The table a kind is stored in. */
static const char *table_of(const char *kind)
{
	return strcmp(kind, "budgets") == 0 ? "pools" : kind;
}

/* Rows of everything a load writes: the kind's table, registry_loads, runs, pool_balances. */
static int64_t stored_rows(const char *db, const char *kind)
{
	g_autofree char *sql = g_strdup_printf(
		"SELECT (SELECT count(*) FROM %s) + (SELECT count(*) FROM registry_loads) * 1000"
		" + (SELECT count(*) FROM runs) * 1000000 + (SELECT count(*) FROM pool_balances) * 1000000000",
		table_of(kind));
	return h_sql_int(db, sql);
}

static char *write_file(const char *name, const char *text)
{
	return h_write(h_tmpdir(), name, text, -1);
}

/* Loads text as kind; asserts exit 0 and returns stdout of --json (caller frees). */
static char *load_ok(const char *db, const char *kind, const char *name, const char *text)
{
	g_autofree char *path = write_file(name, text);
	h_result r = h_run(db, "registry", "load", kind, path, "--json", NULL);
	cr_assert_eq(r.status, 0, "registry load %s %s: exit %d\n%s", kind, name, r.status, r.err);
	char *out = g_strdup(r.out);
	h_result_clear(&r);
	return out;
}

/* The JSON a load prints for these counts. */
static char *json_counts(const char *kind, const char *path, int n_new, int changed, int unchanged)
{
	return g_strdup_printf("{\"kind\":\"%s\",\"file\":\"%s\",\"new\":%d,\"changed\":%d,\"unchanged\":%d}\n", kind,
			       path, n_new, changed, unchanged);
}

/* Loads text as kind, which must be refused: exit 65, "FILE:LINE: " and why on stderr, and not a
 * row more in the database. */
static void refused(const char *db, const char *kind, const char *text, int line, const char *why)
{
	g_autofree char *name = g_strdup_printf("%s-bad.csv", kind);
	g_autofree char *path = write_file(name, text);
	int64_t before = stored_rows(db, kind);
	h_result r = h_run(db, "registry", "load", kind, path, NULL);
	cr_assert_eq(r.status, 65, "exit %d, wanted 65\n%s%s", r.status, r.out, r.err);
	g_autofree char *at = g_strdup_printf("%s:%d: ", path, line);
	cr_assert(strstr(r.err, at), "'%s' not named:\n%s", at, r.err);
	cr_assert(strstr(r.err, why), "'%s' not said:\n%s", why, r.err);
	cr_assert(strstr(r.err, "nothing stored"), "%s", r.err);
	cr_assert_str_empty(r.out);
	h_result_clear(&r);
	cr_assert_eq(stored_rows(db, kind), before, "a refused file stored rows");
}

/* A database with S1, S2, S3 (as the contract's examples) loaded. */
static const char *db_with_shops(void)
{
	const char *db = h_fresh_db();
	g_free(load_ok(db, "shops", "shops.csv", SHOPS_HEADER SHOP_S1 SHOP_S2 SHOP_S3));
	return db;
}

/* ------------------------------------------------------------------------------------------ */
/* Refusals: one test per class */

Test(registry, a_wrong_header_is_refused_at_line_1)
{
	const char *db = h_fresh_db();
	refused(db, "households", "household_id,head_name,village,poor_from\nH1,符,村,2015-01-01\n", 1,
		"the header has 4 columns");
	refused(db, "households", "household_id,head,village,poor_from,poor_to\nH1,符,村,2015-01-01,\n", 1,
		"header column 2 is 'head', expected 'head_name'");
	refused(db, "shops", "", 1, "the file is empty");
}

Test(registry, a_row_with_the_wrong_number_of_fields_is_refused)
{
	const char *db = h_fresh_db();
	refused(db, "households", HOUSEHOLDS_HEADER "H1,符,村,2015-01-01,\nH2,符,村,2015-01-01\n", 3,
		"4 fields, the header has 5");
	refused(db, "households", HOUSEHOLDS_HEADER "H1,符,村,2015-01-01,,\n", 2, "6 fields, the header has 5");
}

Test(registry, a_date_that_does_not_exist_is_refused)
{
	const char *db = h_fresh_db();
	refused(db, "households", HOUSEHOLDS_HEADER "H1,符,村,2015-01-01,\nH2,符,村,2017-02-29,\n", 3,
		"poor_from '2017-02-29' is not a date that exists");
	refused(db, "households", HOUSEHOLDS_HEADER "H1,符,村,2015-13-01,\n", 2, "poor_from '2015-13-01'");
	refused(db, "households", HOUSEHOLDS_HEADER "H1,符,村,2015/01/01,\n", 2, "poor_from '2015/01/01'");
	refused(db, "campaigns", CAMPAIGNS_HEADER "c1,618,2018-06-01 00:00:00,2018-06-31 00:00:00\n", 2,
		"ends_at '2018-06-31 00:00:00' is not a date that exists");
}

Test(registry, an_end_before_the_start_is_refused)
{
	const char *db = h_fresh_db();
	refused(db, "shops", SHOPS_HEADER SHOP_S1
		"S4,店,淘宝,李四,469025197001010028,13800000004,,村,农信,6221,李四,2017-01-01,2016-12-31\n",
		3, "registered_to '2016-12-31' is before registered_from '2017-01-01'");
	refused(db, "households", HOUSEHOLDS_HEADER "H1,符,村,2015-01-01,2014-12-31\n", 2, "poor_to '2014-12-31' is before");
	refused(db, "budgets", BUDGETS_HEADER "p,池,10.00,2018-01-01,2017-12-31,1\n", 2, "valid_to '2017-12-31' is before");
	/* One day is a range. */
	g_free(load_ok(db, "households", "h.csv", HOUSEHOLDS_HEADER "H1,符,村,2015-01-01,2015-01-01\n"));
}

Test(registry, an_id_number_with_a_wrong_check_character_is_refused_naming_the_right_one)
{
	const char *db = db_with_shops();
	/* The contract's example: line 5, expected 'X'. */
	refused(db, "shops", SHOPS_HEADER SHOP_S1 SHOP_S2 SHOP_S3
		"S4,坏店,淘宝,李四,110105194912310021,13800000004,,村四,农信,6221000000000042,李四,2016-01-01,\n",
		5, "owner_id_no '110105194912310021' has a wrong check character (expected 'X')");
}

Test(registry, an_id_number_of_the_wrong_form_is_refused)
{
	const char *db = h_fresh_db();
	refused(db, "shops", SHOPS_HEADER "S4,店,淘宝,李四,46902519700101002,13800000004,,村,农信,6221,李四,2016-01-01,\n",
		2, "owner_id_no '46902519700101002' is not a resident ID number");
	refused(db, "shops", SHOPS_HEADER "S4,店,淘宝,李四,4690251970010100A8,13800000004,,村,农信,6221,李四,2016-01-01,\n",
		2, "is not a resident ID number");
	refused(db, "shops", SHOPS_HEADER "S4,店,淘宝,李四,,13800000004,,村,农信,6221,李四,2016-01-01,\n", 2,
		"owner_id_no is empty");
}

Test(registry, a_lower_case_x_is_the_check_character_x_and_is_stored_upper_case)
{
	const char *db = h_fresh_db();
	g_free(load_ok(db, "shops", "shops.csv", SHOPS_HEADER
		       "S1,标准店,淘宝,王小明,11010519491231002x,13800000001,,村一,农信,6221000000000018,王小明,2016-01-01,\n"));
	g_autofree char *id = h_sql(db, "SELECT owner_id_no FROM shops WHERE shop_id = 'S1'");
	cr_assert_str_eq(id, "11010519491231002X");
	/* The same shop written with X is the same row. */
	g_autofree char *out = load_ok(db, "shops", "shops2.csv", SHOPS_HEADER SHOP_S1);
	cr_assert(strstr(out, "\"unchanged\":1"), "%s", out);
}

Test(registry, a_phone_that_is_not_an_11_digit_mobile_number_is_refused)
{
	const char *db = h_fresh_db();
	static const char *const phones[] = { "1380000000", "138000000012", "12800000001", "+8613800000001",
					      "138-0000-0001", "089866661234" };
	for (size_t i = 0; i < G_N_ELEMENTS(phones); i++) {
		g_autofree char *text = g_strdup_printf(
			SHOPS_HEADER "S4,店,淘宝,李四,469025197001010028,%s,,村,农信,6221,李四,2016-01-01,\n", phones[i]);
		g_autofree char *why = g_strdup_printf("phone '%s' is not an 11-digit mobile number", phones[i]);
		refused(db, "shops", text, 2, why);
	}
}

Test(registry, a_bank_account_that_is_not_all_digits_is_refused)
{
	const char *db = h_fresh_db();
	refused(db, "shops", SHOPS_HEADER "S4,店,淘宝,李四,469025197001010028,13800000004,,村,农信,6221 0000,李四,2016-01-01,\n",
		2, "bank_account '6221 0000' is not all digits");
	refused(db, "shops", SHOPS_HEADER "S4,店,淘宝,李四,469025197001010028,13800000004,,村,农信,6.221E+15,李四,2016-01-01,\n",
		2, "bank_account '6.221E+15' is not all digits");
}

Test(registry, an_amount_that_does_not_parse_is_refused)
{
	const char *db = h_fresh_db();
	refused(db, "budgets", BUDGETS_HEADER "p,池,12.345,2016-01-01,,1\n", 2, "amount: cannot parse amount '12.345'");
	refused(db, "budgets", BUDGETS_HEADER "p,池,-5.00,2016-01-01,,1\n", 2, "cannot parse amount '-5.00'");
	refused(db, "budgets", BUDGETS_HEADER "p,池,,2016-01-01,,1\n", 2, "amount is empty");
	refused(db, "policies", POLICIES_HEADER "p,2016-01-01,,5000,ten,8000,,half_up,true,,2000.00\n", 2,
		"standard_cap: cannot parse amount 'ten'");
}

Test(registry, a_rate_that_is_not_a_whole_number_from_0_to_10000_basis_points_is_refused)
{
	const char *db = h_fresh_db();
	refused(db, "policies", POLICIES_HEADER "p,2016-01-01,,5000,10.00,10001,,half_up,true,,2000.00\n", 2,
		"poverty_rate_bp '10001' is not a whole number of basis points from 0 to 10000");
	refused(db, "policies", POLICIES_HEADER "p,2016-01-01,,50.5,10.00,8000,,half_up,true,,2000.00\n", 2,
		"standard_rate_bp '50.5'");
	refused(db, "policies", POLICIES_HEADER "p,2016-01-01,,-1,10.00,8000,,half_up,true,,2000.00\n", 2,
		"standard_rate_bp '-1'");
	/* The ends of the range are rates. */
	g_free(load_ok(db, "policies", "p.csv", POLICIES_HEADER "p,2016-01-01,,0,10.00,10000,,half_up,true,,2000.00\n"));
}

/* Issue 12: a fee_max of 9,999,999,999,999,999.99 was accepted, a line with a fee of
 * 1,000,000,000,000,000.00 was ELIGIBLE, and every later settlement exited 70 on the overflow.
 * fee_max is bounded: no waybill costs 100,000 yuan. */
Test(registry, a_fee_max_above_the_limit_is_refused)
{
	const char *db = h_fresh_db();
	refused(db, "policies", POLICIES_HEADER "p,2016-01-01,,5000,10.00,8000,,half_up,true,,9999999999999999.99\n", 2,
		"fee_max '9999999999999999.99' is above the limit of 100000.00 yuan per waybill");
	refused(db, "policies",
		POLICIES_HEADER "p,2016-01-01,2016-12-31,5000,10.00,8000,,half_up,true,,2000.00\n"
				"q,2017-01-01,,5000,10.00,8000,,half_up,true,,\"100,000.01\"\n",
		3, "fee_max '100,000.01' is above the limit of 100000.00 yuan per waybill");
	/* The limit itself is a fee_max. */
	g_free(load_ok(db, "policies", "p.csv",
		       POLICIES_HEADER "p,2016-01-01,2018-12-31,5000,10.00,8000,,half_up,false,,\"100,000.00\"\n"));
	g_autofree char *max = h_sql(db, "SELECT fee_max_fen FROM policies");
	cr_assert_str_eq(max, "10000000");
	/* And a fee above it is REJECTED by check 1, so every settlement goes on. */
	h_load_text(db, "shops", SHOPS_HEADER SHOP_S1);
	h_load_text(db, "senders", SENDERS_HEADER "S1,EMS,C1,2016-01-01,\n");
	h_ingest_text(db, "huge.csv",
		      "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"
		      "EMS,E1,O1,2018-06-05 10:00:00,C1,,1,\"100,000,000,000,000.00\",,\n"
		      "EMS,E2,O2,2018-06-05 10:00:00,C1,,1,12.00,,\n",
		      0);
	g_autofree char *outcomes = h_sql(db, "SELECT string_agg(outcome, ' ' ORDER BY line_no) FROM lines");
	cr_assert_str_eq(outcomes, "REJECTED ELIGIBLE");
	g_free(h_settle(db));
	g_autofree char *owed = h_sql(db, "SELECT string_agg(order_key || ' ' || entitlement_fen, ',') FROM orders");
	cr_assert_str_eq(owed, "o:O2 600");
}

Test(registry, a_rounding_that_is_not_half_up_or_half_even_is_refused)
{
	const char *db = h_fresh_db();
	refused(db, "policies", POLICIES_HEADER "p,2016-01-01,,5000,10.00,8000,,round,true,,2000.00\n", 2,
		"rounding 'round' is not half_up or half_even");
	g_free(load_ok(db, "policies", "p.csv", POLICIES_HEADER "p,2016-01-01,,5000,10.00,8000,,half_even,true,,\n"));
	g_autofree char *r = h_sql(db, "SELECT rounding || ' ' || fee_max_fen FROM policies");
	cr_assert_str_eq(r, "half_even 200000", "an empty fee_max is the default 2000.00");
}

Test(registry, a_require_campaign_that_is_not_true_or_false_is_refused)
{
	const char *db = h_fresh_db();
	refused(db, "policies", POLICIES_HEADER "p,2016-01-01,,5000,10.00,8000,,half_up,yes,,2000.00\n", 2,
		"require_campaign 'yes' is not true or false");
	refused(db, "policies", POLICIES_HEADER "p,2016-01-01,,5000,10.00,8000,,half_up,,,2000.00\n", 2,
		"require_campaign is empty");
}

Test(registry, a_sender_of_a_shop_not_registered_is_refused)
{
	const char *db = db_with_shops();
	refused(db, "senders", SENDERS_HEADER "S1,ZTO,ZT0001,2016-01-01,\nS9,ZTO,ZT0009,2016-01-01,\n", 3,
		"shop_id 'S9' is not a registered shop");
}

Test(registry, overlapping_policy_versions_in_one_file_are_refused)
{
	const char *db = h_fresh_db();
	refused(db, "policies",
		POLICIES_HEADER POLICY_2016 "county-2019,2018-12-31,,5000,10.00,8000,,half_up,true,,2000.00\n", 3,
		"policy 'county-2019' (from 2018-12-31) overlaps policy 'county-2016' (2016-01-01 to 2018-12-31) at line 2");
}

Test(registry, a_policy_overlapping_a_loaded_one_the_file_does_not_replace_is_refused)
{
	const char *db = h_fresh_db();
	g_free(load_ok(db, "policies", "p1.csv", POLICIES_HEADER POLICY_2016));
	refused(db, "policies", POLICIES_HEADER "county-2018b,2018-07-01,2019-12-31,5000,10.00,8000,,half_up,true,,2000.00\n",
		2, "overlaps policy 'county-2016' (2016-01-01 to 2018-12-31) already loaded");
	/* The same file that also shortens county-2016 replaces it: no overlap left. */
	g_autofree char *out = load_ok(db, "policies", "p2.csv",
				       POLICIES_HEADER "county-2016,2016-01-01,2018-06-30,5000,10.00,8000,,half_up,true,,2000.00\n"
						       "county-2018b,2018-07-01,2019-12-31,5000,10.00,8000,,half_up,true,,2000.00\n");
	cr_assert(strstr(out, "\"new\":1,\"changed\":1,\"unchanged\":0"), "%s", out);
}

Test(registry, duplicate_keys_in_one_file_are_refused)
{
	const char *db = db_with_shops();
	refused(db, "shops", SHOPS_HEADER SHOP_S1 SHOP_S2 SHOP_S1, 4, "duplicate shop_id 'S1' (first at line 2)");
	refused(db, "senders", SENDERS_HEADER "S1,ZTO,ZT0001,2016-01-01,\nS1,YTO,ZT0001,2016-01-01,\nS1,ZTO,ZT0001,2017-01-01,\n",
		4, "duplicate shop_id 'S1', courier 'ZTO', sender_code 'ZT0001' (first at line 2)");
	refused(db, "campaigns", CAMPAIGNS_HEADER "c,a,2018-06-01 00:00:00,2018-06-19 00:00:00\nc,b,2018-11-01 00:00:00,2018-11-12 00:00:00\n",
		3, "duplicate campaign_id 'c'");
	refused(db, "budgets", BUDGETS_HEADER "p,池,10.00,2016-01-01,,1\np,池,20.00,2016-01-01,,1\n", 3, "duplicate pool_id 'p'");
	refused(db, "households", HOUSEHOLDS_HEADER "H1,符,村,2015-01-01,\nH1,符,村,2015-01-01,\n", 3, "duplicate household_id 'H1'");
	refused(db, "policies", POLICIES_HEADER POLICY_2016 POLICY_2016, 3, "duplicate policy_id 'county-2016'");
}

Test(registry, a_campaign_that_does_not_end_after_it_starts_is_refused)
{
	const char *db = h_fresh_db();
	refused(db, "campaigns", CAMPAIGNS_HEADER "c,618,2018-06-19 00:00:00,2018-06-19 00:00:00\n", 2,
		"ends_at '2018-06-19 00:00:00' is not after starts_at '2018-06-19 00:00:00'");
	refused(db, "campaigns", CAMPAIGNS_HEADER "c,618,2018-06-19 00:00:00,2018-06-01 00:00:00\n", 2, "is not after");
	g_free(load_ok(db, "campaigns", "c.csv", CAMPAIGNS_HEADER "c,618,2018-06-19 00:00:00,2018-06-19 00:00:01\n"));
}

Test(registry, a_pool_with_less_than_already_drawn_from_it_is_refused)
{
	const char *db = h_fresh_db();
	g_free(load_ok(db, "budgets", "b1.csv", BUDGETS_HEADER "big,大池,100.00,2016-01-01,2018-12-31,1\n"));
	cr_assert_eq(h_sql_int(db, "SELECT amount_fen FROM pool_balances WHERE pool_id = 'big'"), 10000);
	/* Settlement drew 60.00 (as settle would: pool_balances is its derived state). */
	cr_assert(h_exec(db, "UPDATE pool_balances SET drawn_fen = 6000 WHERE pool_id = 'big'", NULL));
	refused(db, "budgets", BUDGETS_HEADER "big,大池,59.99,2016-01-01,2018-12-31,1\n", 2,
		"amount 59.99 is less than the 60.00 already drawn from pool 'big'");
	/* Exactly what was drawn is allowed: the pool is then used up. */
	g_autofree char *out = load_ok(db, "budgets", "b2.csv", BUDGETS_HEADER "big,大池,60.00,2016-01-01,2018-12-31,1\n");
	cr_assert(strstr(out, "\"changed\":1"), "%s", out);
	g_autofree char *bal = h_sql(db, "SELECT amount_fen || '/' || drawn_fen FROM pool_balances WHERE pool_id = 'big'");
	cr_assert_str_eq(bal, "6000/6000");
}

Test(registry, a_sender_code_claimed_by_two_shops_on_overlapping_dates_is_refused)
{
	const char *db = db_with_shops();
	/* In one file. */
	refused(db, "senders", SENDERS_HEADER "S1,ZTO,ZT0001,2016-01-01,2017-06-30\nS2,ZTO,ZT0001,2017-06-30,\n", 3,
		"courier 'ZTO' sender_code 'ZT0001' is already claimed by shop 'S1' (2016-01-01 to 2017-06-30, at line 2)");
	/* Against what is loaded. */
	g_free(load_ok(db, "senders", "s1.csv", SENDERS_HEADER "S1,ZTO,ZT0001,2016-01-01,\n"));
	refused(db, "senders", SENDERS_HEADER "S2,ZTO,ZT0001,2018-01-01,\n", 2,
		"is already claimed by shop 'S1' (from 2016-01-01, already loaded)");
	/* Handing the code over on a date is two claims that do not overlap; the same code at another
	 * courier is another claim. */
	g_autofree char *out = load_ok(db, "senders", "s2.csv",
				       SENDERS_HEADER "S1,ZTO,ZT0001,2016-01-01,2017-12-31\nS2,ZTO,ZT0001,2018-01-01,\n"
						      "S3,YTO,ZT0001,2016-01-01,\n");
	cr_assert(strstr(out, "\"new\":2,\"changed\":1"), "%s", out);
}

Test(registry, every_refused_line_is_listed_in_order)
{
	const char *db = h_fresh_db();
	g_autofree char *path = write_file("households.csv", HOUSEHOLDS_HEADER "H1,符,村,2015-01-01,\n"
								     "H2,符,村,2015-02-30,\n"
								     "H3,符,村,2015-01-01,\n"
								     "H4,,村,2015-01-01,2014-01-01\n");
	h_result r = h_run(db, "registry", "load", "households", path, NULL);
	cr_assert_eq(r.status, 65);
	g_autofree char *l3 = g_strdup_printf("%s:3: poor_from '2015-02-30'", path);
	g_autofree char *l5a = g_strdup_printf("%s:5: head_name is empty", path);
	g_autofree char *l5b = g_strdup_printf("%s:5: poor_to '2014-01-01' is before poor_from '2015-01-01'", path);
	char *a = strstr(r.err, l3), *b = strstr(r.err, l5a), *c = strstr(r.err, l5b);
	cr_assert(a && b && c && a < b && b < c, "%s", r.err);
	cr_assert(strstr(r.err, "3 problems"), "%s", r.err);
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM households"), 0);
}

Test(registry, a_household_not_loaded_yet_is_a_warning_not_a_refusal)
{
	const char *db = h_fresh_db();
	g_autofree char *path = write_file("shops.csv", SHOPS_HEADER SHOP_S1 SHOP_S2);
	h_result r = h_run(db, "registry", "load", "shops", path, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	g_autofree char *warning = g_strdup_printf("warning: %s:3: household_id 'H2' is not loaded yet", path);
	cr_assert(strstr(r.err, warning), "%s", r.err);
	cr_assert(strstr(r.out, "2 new"), "%s", r.out);
	h_result_clear(&r);
	/* Once the household is there, no warning. */
	g_free(load_ok(db, "households", "h.csv", HOUSEHOLDS_HEADER "H2,符春花,村二,2015-01-01,\n"));
	r = h_run(db, "registry", "load", "shops", path, NULL);
	cr_assert_eq(r.status, 0);
	cr_assert_str_empty(r.err);
	h_result_clear(&r);
}

Test(registry, malformed_csv_and_bytes_that_are_not_utf8_are_refused)
{
	const char *db = h_fresh_db();
	refused(db, "households", HOUSEHOLDS_HEADER "H1,符,村,2015-01-01,\n\"H2,符,村,2015-01-01,\n", 3,
		"a quote is still open");
	refused(db, "households", HOUSEHOLDS_HEADER "H1,符,村,2015-01-01,\nH\"2,符,村,2015-01-01,\n", 3, "malformed CSV");
	refused(db, "households", HOUSEHOLDS_HEADER "H1,\xb7\xfb,村,2015-01-01,\n", 2, "not UTF-8");
	refused(db, "households", HOUSEHOLDS_HEADER "H1,符\t二,村,2015-01-01,\n", 2, "head_name contains a control character");
}

/* ------------------------------------------------------------------------------------------ */
/* The command line */

Test(registry, a_bom_and_crlf_line_ends_are_accepted)
{
	const char *db = h_fresh_db();
	g_autofree char *out = load_ok(db, "households", "h.csv",
				       "\xEF\xBB\xBFhousehold_id,head_name,village,poor_from,poor_to\r\n"
				       "H1,符,\"村,一\",2015-01-01,\r\nH2,羊,村二,2015-01-01,2017-10-31\r\n");
	cr_assert(strstr(out, "\"new\":2"), "%s", out);
	g_autofree char *v = h_sql(db, "SELECT village FROM households WHERE household_id = 'H1'");
	cr_assert_str_eq(v, "村,一");
	/* Line numbers count CRLF lines. */
	refused(db, "households", "household_id,head_name,village,poor_from,poor_to\r\nH1,符,村,2015-01-01,\r\n\r\n"
				  "H3,符,村,2015-01-32,\r\n",
		4, "poor_from '2015-01-32'");
}

/* A file saved from Excel may end with rows of empty cells (",,,,"): blank lines, as in manifests,
 * not rows that fail to validate. A row with one cell filled is still a row. */
Test(registry, rows_of_empty_cells_are_blank_lines)
{
	const char *db = h_fresh_db();
	g_autofree char *out = load_ok(db, "households", "h.csv",
				       "\xEF\xBB\xBF" HOUSEHOLDS_HEADER "H1,符,村一,2015-01-01,\r\n,,,,\r\n\r\n"
				       "H2,羊,村二,2015-01-01,\n , ,\"\", ,\n,,,,\n");
	cr_assert(strstr(out, "\"new\":2"), "%s", out);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM households"), 2);
	refused(db, "households", HOUSEHOLDS_HEADER "H1,符,村,2015-01-01,\n,,,,\n,,村,,\n", 4, "household_id is empty");
}

Test(registry, json_prints_kind_file_and_the_three_counts_in_that_order)
{
	const char *db = h_fresh_db();
	g_autofree char *path = write_file("households.csv", HOUSEHOLDS_HEADER "H1,符,村,2015-01-01,\nH2,羊,村,2015-01-01,\n");
	h_result r = h_run(db, "registry", "load", "households", path, "--json", NULL);
	cr_assert_eq(r.status, 0);
	g_autofree char *want = json_counts("households", path, 2, 0, 0);
	cr_assert_str_eq(r.out, want);
	h_result_clear(&r);
	/* Options may come first. */
	r = h_run(db, "registry", "--json", "load", "households", path, NULL);
	cr_assert_eq(r.status, 0);
	g_autofree char *again = json_counts("households", path, 0, 0, 2);
	cr_assert_str_eq(r.out, again);
	h_result_clear(&r);
}

Test(registry, a_file_that_cannot_be_opened_exits_66)
{
	const char *db = h_fresh_db();
	h_result r = h_run(db, "registry", "load", "shops", "/nonexistent/shops.csv", NULL);
	cr_assert_eq(r.status, 66, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "cannot open '/nonexistent/shops.csv'"), "%s", r.err);
	h_result_clear(&r);
	r = h_run(db, "registry", "load", "shops", h_tmpdir(), NULL);
	cr_assert_eq(r.status, 66, "a directory: exit %d: %s", r.status, r.err);
	h_result_clear(&r);
}

Test(registry, bad_usage_exits_64)
{
	static const char *const cases[][5] = {
		{ "registry", NULL },
		{ "registry", "load", NULL },
		{ "registry", "load", "shops", NULL },
		{ "registry", "load", "pools", "x.csv", NULL },
		{ "registry", "unload", "shops", "x.csv", NULL },
		{ "registry", "load", "shops", "x.csv", "y.csv" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		const char *args[6] = { 0 };
		memcpy(args, cases[i], sizeof cases[i]);
		h_result r = h_runv(NULL, args);
		cr_assert_eq(r.status, 64, "case %zu: exit %d: %s", i, r.status, r.err);
		cr_assert(strstr(r.err, "usage: subsidy registry load KIND FILE"), "%s", r.err);
		h_result_clear(&r);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* History */

/* Every registry row's content, in a fixed order, to compare two states. */
static char *registry_digest(const char *db)
{
	return h_sql(db,
		     "SELECT md5(string_agg(x, '|' ORDER BY x)) FROM ("
		     " SELECT row_to_json(t)::text AS x FROM policies t UNION ALL SELECT row_to_json(t)::text FROM shops t"
		     " UNION ALL SELECT row_to_json(t)::text FROM senders t UNION ALL SELECT row_to_json(t)::text FROM households t"
		     " UNION ALL SELECT row_to_json(t)::text FROM campaigns t UNION ALL SELECT row_to_json(t)::text FROM pools t"
		     " UNION ALL SELECT row_to_json(t)::text FROM pool_balances t) s");
}

Test(registry, loading_the_fixture_registry_twice_changes_nothing_the_second_time)
{
	const char *db = h_fresh_db();
	g_autofree char *dir = h_path("fixtures/registry");
	h_load_registry(db, dir);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM shops"), 50);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM senders"), 88);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM households"), 12);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM campaigns"), 9);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM pools"), 4);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM pool_balances"), 4);
	g_autofree char *before = registry_digest(db);
	static const char *const kinds[] = { "policies", "shops", "households", "senders", "campaigns", "budgets" };
	static const int rows[] = { 1, 50, 12, 88, 9, 4 };
	for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
		g_autofree char *name = g_strconcat(kinds[i], ".csv", NULL);
		g_autofree char *path = g_build_filename(dir, name, NULL);
		h_result r = h_run(db, "registry", "load", kinds[i], path, "--json", NULL);
		cr_assert_eq(r.status, 0, "%s", r.err);
		g_autofree char *want = json_counts(kinds[i], path, 0, 0, rows[i]);
		cr_assert_str_eq(r.out, want);
		h_result_clear(&r);
	}
	g_autofree char *after = registry_digest(db);
	cr_assert_str_eq(after, before, "a second load changed registry rows");
	/* Each load is recorded, with who ran it and the file's digest. */
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM registry_loads"), 12);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM runs WHERE kind = 'registry' AND os_user <> '' AND db_role <> ''"), 12);
	cr_assert_eq(h_sql_int(db, "SELECT count(DISTINCT sha256) FROM registry_loads"), 6);
	cr_assert_eq(h_sql_int(db, "SELECT sum(unchanged_rows) FROM registry_loads"), 1 + 50 + 12 + 88 + 9 + 4);
}

/* shops.csv of the fixture with BS001's phone and BS002's bank account changed, BS003 dropped and
 * a new shop BS051 added. */
static char *changed_shops(void)
{
	g_autofree char *path = h_path("fixtures/registry/shops.csv");
	g_autofree char *text = h_read(path, NULL);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	GString *out = g_string_new(NULL);
	for (char **l = lines; *l && **l; l++) {
		g_auto(GStrv) f = g_strsplit(*l, ",", -1);
		if (strcmp(f[0], "BS003") == 0)
			continue;
		if (strcmp(f[0], "BS001") == 0) {
			g_free(f[5]);
			f[5] = g_strdup("13900000001");
		}
		if (strcmp(f[0], "BS002") == 0) {
			g_free(f[9]);
			f[9] = g_strdup("6217996000000000002");
		}
		g_autofree char *joined = g_strjoinv(",", f);
		g_string_append_printf(out, "%s\n", joined);
	}
	g_string_append(out, "BS051,新店,淘宝,李四,469025197001010028,13900000051,,牙叉镇方满村,农信,6221000000000051,李四,2018-01-01,\n");
	return g_string_free(out, FALSE);
}

/* The load's instant, read after it committed, strictly between two loads. */
static char *db_now(const char *db)
{
	return h_sql(db, "SELECT clock_timestamp()::text");
}

Test(registry, a_changed_shop_becomes_a_new_version_and_absent_shops_are_left_alone)
{
	const char *db = h_fresh_db();
	g_autofree char *dir = h_path("fixtures/registry");
	h_load_registry(db, dir);
	g_autofree char *text = changed_shops();
	g_autofree char *out = load_ok(db, "shops", "shops-changed.csv", text);
	g_autofree char *path = g_build_filename(h_tmpdir(), "shops-changed.csv", NULL);
	g_autofree char *want = json_counts("shops", path, 1, 2, 47);
	cr_assert_str_eq(out, want);

	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM shops"), 53);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM shops WHERE superseded_at IS NULL"), 51);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM shops WHERE version = 2"), 2);
	g_autofree char *v = h_sql(db, "SELECT string_agg(shop_id || ':' || version || ':' || phone, ',' ORDER BY version)"
				       " FROM shops WHERE shop_id = 'BS001'");
	cr_assert_str_eq(v, "BS001:1:13800000001,BS001:2:13900000001");
	/* The old version is superseded exactly when the new one is recorded, by the second load. */
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM shops o JOIN shops n USING (programme, shop_id)"
				   " WHERE n.version = o.version + 1 AND o.superseded_at = n.recorded_at"
				   " AND n.load_id = (SELECT max(load_id) FROM registry_loads)"),
		     2);
	/* BS003 is absent from the file: still current, version 1. */
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM shops WHERE shop_id = 'BS003' AND version = 1"
				   " AND superseded_at IS NULL"),
		     1);
	/* The same changed file again: nothing new. */
	g_autofree char *again = load_ok(db, "shops", "shops-changed.csv", text);
	g_autofree char *want2 = json_counts("shops", path, 0, 0, 50);
	cr_assert_str_eq(again, want2);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM shops"), 53);
}

Test(registry, as_of_an_instant_the_versions_known_then_are_returned_by_sql_and_by_the_snapshot)
{
	const char *conninfo = h_fresh_db();
	g_autofree char *dir = h_path("fixtures/registry");
	h_load_registry(conninfo, dir);
	g_autofree char *before = db_now(conninfo);
	g_autofree char *text = changed_shops();
	g_free(load_ok(conninfo, "shops", "shops-changed.csv", text));
	g_autofree char *after = db_now(conninfo);

	/* SQL on the versioned table: recorded_at <= T < coalesce(superseded_at, infinity). */
	const char *fmt = "SELECT phone FROM shops WHERE shop_id = 'BS001' AND recorded_at <= '%s'"
			  " AND '%s' < coalesce(superseded_at, 'infinity')";
	g_autofree char *q1 = g_strdup_printf(fmt, before, before);
	g_autofree char *q2 = g_strdup_printf(fmt, after, after);
	g_autofree char *p1 = h_sql(conninfo, q1);
	g_autofree char *p2 = h_sql(conninfo, q2);
	cr_assert_str_eq(p1, "13800000001");
	cr_assert_str_eq(p2, "13900000001");

	/* The snapshot, as of each instant and now. */
	GError *error = NULL;
	db *d = db_connect(conninfo, PROGRAMME, &error);
	cr_assert(d, "%s", error ? error->message : "");
	registry *old = registry_snapshot(d, before, &error);
	cr_assert(old, "%s", error ? error->message : "");
	registry *new = registry_snapshot(d, after, &error);
	cr_assert(new, "%s", error ? error->message : "");
	registry *now = registry_snapshot(d, NULL, &error);
	cr_assert(now, "%s", error ? error->message : "");
	cr_assert_str_eq(registry_shop_by_id(old, "BS001")->phone, "13800000001");
	cr_assert_eq(registry_shop_by_id(old, "BS001")->version, 1);
	cr_assert_str_eq(registry_shop_by_id(new, "BS001")->phone, "13900000001");
	cr_assert_eq(registry_shop_by_id(new, "BS001")->version, 2);
	cr_assert_str_eq(registry_shop_by_id(now, "BS001")->phone, "13900000001");
	cr_assert_str_eq(registry_shop_by_id(old, "BS002")->bank_account, "6217996968512807248");
	cr_assert_str_eq(registry_shop_by_id(new, "BS002")->bank_account, "6217996000000000002");
	cr_assert_null(registry_shop_by_id(old, "BS051"));
	cr_assert_not_null(registry_shop_by_id(new, "BS051"));
	cr_assert_not_null(registry_shop_by_id(new, "BS003"), "a shop absent from the file stays");
	size_t n_old, n_new;
	registry_shops(old, &n_old);
	registry_shops(new, &n_new);
	cr_assert_eq(n_old, 50);
	cr_assert_eq(n_new, 51);
	/* A phone-only line by BS001's old phone matches as of then, not since. */
	const registry_shop *s = NULL;
	chrono_day day;
	cr_assert(chrono_parse_day("2018-06-18", &day, NULL));
	cr_assert_eq(registry_find_shop(old, "EMS", NULL, "13800000001", day, &s), POLICY_SHOP_FOUND);
	cr_assert_str_eq(s->shop_id, "BS001");
	cr_assert_eq(registry_find_shop(new, "EMS", NULL, "13800000001", day, &s), POLICY_SHOP_UNREGISTERED);
	cr_assert_null(s);
	/* Before anything was loaded: an empty registry. */
	registry *empty = registry_snapshot(d, "2000-01-01 00:00:00+08", &error);
	cr_assert(empty, "%s", error ? error->message : "");
	registry_shops(empty, &n_old);
	cr_assert_eq(n_old, 0);
	cr_assert_null(registry_policy_on(empty, day));
	registry_free(empty);
	registry_free(old);
	registry_free(new);
	registry_free(now);
	db_close(d);
}

Test(registry, budgets_set_the_pool_balances_and_keep_what_was_drawn)
{
	const char *db = h_fresh_db();
	g_free(load_ok(db, "budgets", "b1.csv", BUDGETS_HEADER "small,小池,15.00,2016-01-01,2018-12-31,1\n"));
	cr_assert(h_exec(db, "UPDATE pool_balances SET drawn_fen = 1500", NULL));
	g_autofree char *out = load_ok(db, "budgets", "b2.csv",
				       BUDGETS_HEADER "small,小池,15.00,2016-01-01,2018-12-31,1\nmore,追加,20.00,2016-01-01,2018-12-31,2\n");
	cr_assert(strstr(out, "\"new\":1,\"changed\":0,\"unchanged\":1"), "%s", out);
	g_autofree char *b = h_sql(db, "SELECT string_agg(pool_id || '=' || amount_fen || '/' || drawn_fen, ',' ORDER BY pool_id)"
				       " FROM pool_balances");
	cr_assert_str_eq(b, "more=2000/0,small=1500/1500");
}

/* ------------------------------------------------------------------------------------------ */
/* The snapshot's lookups, on the fixture registry */

typedef struct {
	db *d;
	registry *r;
} fixture_registry;

static fixture_registry open_fixture(const char *conninfo)
{
	GError *error = NULL;
	fixture_registry f = { db_connect(conninfo, PROGRAMME, &error), NULL };
	cr_assert(f.d, "%s", error ? error->message : "");
	f.r = registry_snapshot(f.d, NULL, &error);
	cr_assert(f.r, "%s", error ? error->message : "");
	return f;
}

static void close_fixture(fixture_registry *f)
{
	registry_free(f->r);
	db_close(f->d);
}

static chrono_day day_of(const char *text)
{
	chrono_day d;
	cr_assert(chrono_parse_day(text, &d, NULL), "%s", text);
	return d;
}

static chrono_time time_of(const char *text)
{
	chrono_time t;
	cr_assert(chrono_parse_time(text, &t, NULL), "%s", text);
	return t;
}

/* The shop id found, or the match's name. */
static const char *found(const registry *r, const char *courier, const char *code, const char *phone, const char *day)
{
	const registry_shop *s = (const registry_shop *)1;
	policy_shop_match m = registry_find_shop(r, courier, code, phone, day_of(day), &s);
	if (m == POLICY_SHOP_FOUND) {
		cr_assert_not_null(s);
		return s->shop_id;
	}
	cr_assert_null(s);
	return m == POLICY_SHOP_AMBIGUOUS ? "AMBIGUOUS" : "UNREGISTERED";
}

Test(registry, the_shop_of_a_line_is_found_by_sender_code_then_by_phone)
{
	const char *db = h_fresh_db();
	g_autofree char *dir = h_path("fixtures/registry");
	h_load_registry(db, dir);
	fixture_registry f = open_fixture(db);
	const registry *r = f.r;
	/* The shared samples. */
	cr_assert_str_eq(found(r, "ZTO", "ZT0001", NULL, "2018-06-03"), "BS001");
	cr_assert_str_eq(found(r, "YTO", "YT0001", "", "2018-06-03"), "BS001");
	cr_assert_str_eq(found(r, "EMS", "", "13800000002", "2018-06-04"), "BS002");
	cr_assert_str_eq(found(r, "EMS", "EM0002", NULL, "2018-11-11"), "BS002");
	cr_assert_str_eq(found(r, "ZTO", "CN0003", NULL, "2018-06-05"), "BS003");
	cr_assert_str_eq(found(r, "YTO", "CN0003", "+86 138-0000-0003", "2018-06-05"), "BS003");
	cr_assert_str_eq(found(r, "ZTO", "ZT0004", NULL, "2018-06-06"), "BS004");
	/* A code belongs to its courier. */
	cr_assert_str_eq(found(r, "STO", "ZT0001", NULL, "2018-06-03"), "UNREGISTERED");
	/* A code handed from one shop to another on a date. */
	cr_assert_str_eq(found(r, "ZTO", "ZT0020", NULL, "2017-06-30"), "BS020");
	cr_assert_str_eq(found(r, "ZTO", "ZT0020", NULL, "2017-07-01"), "BS021");
	/* A code outside its dates falls through to the phone, which ignores registration dates. */
	cr_assert_str_eq(found(r, "EMS", "EM0046", NULL, "2017-07-01"), "UNREGISTERED");
	cr_assert_str_eq(found(r, "EMS", "EM0046", "13914428655", "2017-07-01"), "BS046");
	cr_assert_str_eq(found(r, "STO", "ST0045", "0086 159 7369 8860", "2016-06-01"), "BS045");
	/* A phone two shops share names neither; an unknown one none. */
	cr_assert_str_eq(found(r, "EMS", NULL, "13534551728", "2018-06-03"), "AMBIGUOUS");
	cr_assert_str_eq(found(r, "EMS", "EM0030", "13534551728", "2018-06-03"), "BS030");
	cr_assert_str_eq(found(r, "EMS", "NOPE", "13999999999", "2018-06-03"), "UNREGISTERED");
	cr_assert_str_eq(found(r, "EMS", NULL, NULL, "2018-06-03"), "UNREGISTERED");
	close_fixture(&f);
}

Test(registry, shops_policies_campaigns_poverty_and_pools_of_the_snapshot)
{
	const char *db = h_fresh_db();
	g_autofree char *dir = h_path("fixtures/registry");
	h_load_registry(db, dir);
	fixture_registry f = open_fixture(db);
	const registry *r = f.r;

	const registry_shop *s = registry_shop_by_id(r, "BS045");
	cr_assert_not_null(s);
	cr_assert_eq(s->registered_from, day_of("2017-03-01"));
	cr_assert_eq(s->registered_to, POLICY_OPEN_END);
	s = registry_shop_by_id(r, "BS046");
	cr_assert_eq(s->registered_to, day_of("2017-06-30"));
	cr_assert_null(s->household_id);
	cr_assert_null(registry_shop_by_id(r, "BS999"));
	s = registry_shop_by_id(r, "BS002");
	cr_assert_str_eq(s->household_id, "H01");
	cr_assert_str_eq(s->owner_name, "符春花");
	cr_assert_str_eq(s->owner_id_no, "469025198205060240");
	cr_assert_str_eq(s->village, "元门乡罗帅村");
	size_t n;
	const registry_shop *all = registry_shops(r, &n);
	cr_assert_eq(n, 50);
	for (size_t i = 1; i < n; i++)
		cr_assert(strcmp(all[i - 1].shop_id, all[i].shop_id) < 0);

	/* Poverty: the household's dates, inclusive; a shop without a household never. */
	cr_assert(registry_is_poor(r, registry_shop_by_id(r, "BS002"), day_of("2018-06-18")));
	const registry_shop *left = registry_shop_by_id(r, "BS011");
	cr_assert(registry_is_poor(r, left, day_of("2017-10-31")));
	cr_assert_not(registry_is_poor(r, left, day_of("2017-11-01")));
	const registry_shop *late = registry_shop_by_id(r, "BS017");
	cr_assert_not(registry_is_poor(r, late, day_of("2016-06-30")));
	cr_assert(registry_is_poor(r, late, day_of("2016-07-01")));
	cr_assert_not(registry_is_poor(r, registry_shop_by_id(r, "BS001"), day_of("2018-06-18")));

	/* Policies. */
	const policy_version *p = registry_policy_on(r, day_of("2018-12-31"));
	cr_assert_not_null(p);
	cr_assert_str_eq(p->policy_id, "county-2016");
	cr_assert_eq(p->standard_rate_bp, 5000);
	cr_assert_eq(p->standard_cap_fen, 1000);
	cr_assert_eq(p->poverty_rate_bp, 8000);
	cr_assert_eq(p->poverty_cap_fen, POLICY_NO_CAP);
	cr_assert_eq(p->rounding, MONEY_HALF_UP);
	cr_assert(p->require_campaign);
	cr_assert(p->eligible_categories == NULL || p->eligible_categories[0] == NULL);
	cr_assert_eq(p->fee_max_fen, 200000);
	cr_assert_null(registry_policy_on(r, day_of("2019-01-01")));
	cr_assert_null(registry_policy_on(r, day_of("2015-12-31")));
	registry_policies(r, &n);
	cr_assert_eq(n, 1);

	/* Campaigns: half-open windows. */
	cr_assert_str_eq(registry_campaign_at(r, time_of("2018-06-01 00:00:00")), "2018-618");
	cr_assert_str_eq(registry_campaign_at(r, time_of("2018-06-18 23:59:59")), "2018-618");
	cr_assert_null(registry_campaign_at(r, time_of("2018-06-19 00:00:00")));
	cr_assert_null(registry_campaign_at(r, time_of("2018-05-31 23:59:59")));
	cr_assert_str_eq(registry_campaign_at(r, time_of("2018-11-11 23:59:59")), "2018-1111");
	cr_assert_str_eq(registry_campaign_at(r, time_of("2017-01-20 10:00:00")), "2017-nianhuo");

	/* Pools: priority, then pool_id. */
	const registry_pool *pools = registry_pools(r, &n);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(pools[0].pool_id, "demo-fund");
	cr_assert_eq(pools[0].amount_fen, 300000000);
	cr_assert_eq(pools[0].priority, 1);
	cr_assert_str_eq(pools[1].pool_id, "county-2016");
	cr_assert_eq(pools[1].valid_from, day_of("2016-01-01"));
	cr_assert_eq(pools[1].valid_to, day_of("2016-12-31"));
	cr_assert_str_eq(pools[2].pool_id, "county-2017");
	cr_assert_str_eq(pools[3].pool_id, "county-2018");
	close_fixture(&f);
}

Test(registry, overlapping_campaigns_answer_the_smallest_campaign_id)
{
	const char *db = h_fresh_db();
	g_free(load_ok(db, "campaigns", "c.csv",
		       CAMPAIGNS_HEADER "b-late,晚,2018-06-10 00:00:00,2018-06-20 00:00:00\n"
					"a-early,早,2018-06-01 00:00:00,2018-06-15 00:00:00\n"
					"B-upper,大写,2018-06-14 00:00:00,2018-06-16 00:00:00\n"));
	fixture_registry f = open_fixture(db);
	cr_assert_str_eq(registry_campaign_at(f.r, time_of("2018-06-05 00:00:00")), "a-early");
	cr_assert_str_eq(registry_campaign_at(f.r, time_of("2018-06-12 00:00:00")), "a-early");
	cr_assert_str_eq(registry_campaign_at(f.r, time_of("2018-06-14 12:00:00")), "B-upper"); /* 'B' < 'a' bytewise */
	cr_assert_str_eq(registry_campaign_at(f.r, time_of("2018-06-15 00:00:00")), "B-upper");
	cr_assert_str_eq(registry_campaign_at(f.r, time_of("2018-06-16 00:00:00")), "b-late");
	close_fixture(&f);
}

Test(registry, the_engine_role_loads_and_the_auditor_reads_a_snapshot_without_id_and_bank_numbers)
{
	const char *db = h_fresh_db();
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	g_autofree char *dir = h_path("fixtures/registry");
	h_load_registry(engine, dir);
	g_autofree char *text = changed_shops();
	g_free(load_ok(engine, "shops", "shops-changed.csv", text));
	g_free(load_ok(engine, "budgets", "b.csv", BUDGETS_HEADER "demo-fund,示范,3500000.00,2016-01-01,2018-12-31,1\n"));
	g_autofree char *role = h_sql(db, "SELECT string_agg(DISTINCT db_role, ',') FROM runs");
	cr_assert_str_eq(role, "subsidy_engine");

	g_autofree char *auditor = h_as_role(db, "subsidy_auditor");
	fixture_registry f = open_fixture(auditor);
	const registry_shop *s = registry_shop_by_id(f.r, "BS001");
	cr_assert_not_null(s);
	cr_assert_null(s->owner_id_no);
	cr_assert_null(s->bank_account);
	cr_assert_str_eq(s->phone, "13900000001");
	close_fixture(&f);
}

/* Excel writes the booleans of a re-saved file as TRUE and FALSE. */
Test(registry, require_campaign_in_capitals_as_excel_writes_it)
{
	const char *db = h_fresh_db();
	g_autofree char *path = h_write(h_tmpdir(), "policies.csv",
		"policy_id,valid_from,valid_to,standard_rate_bp,standard_cap,poverty_rate_bp,poverty_cap,rounding,"
		"require_campaign,eligible_categories,fee_max\n"
		"p1,2016-01-01,2018-12-31,5000,10.00,8000,,half_up,TRUE,,2000.00\n", -1);
	h_result r = h_run(db, "registry", "load", "policies", path, NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	h_result_clear(&r);
	g_autofree char *v = h_sql(db, "SELECT require_campaign::text FROM policies");
	cr_assert_str_eq(v, "true");
}
