/* test_policy.c: POLICY.md's rules, as its text says them. Every row of the worked examples
 * table is its own test; then the properties that must hold for every fee from 0.00 to 2,000.00
 * yuan (the default fee_max), fen by fen; then checks 3-7 of "Who is eligible", one per outcome
 * and their order. */
#include "policy.h"
#include "status.h"

#include <criterion/criterion.h>
#include <string.h>

/* The county's 2016-2018 programme, as fixtures/registry/policies.csv loads it. */
static policy_version county_2016(void)
{
	chrono_day from, to;
	cr_assert(chrono_day_from_ymd(2016, 1, 1, &from));
	cr_assert(chrono_day_from_ymd(2018, 12, 31, &to));
	return (policy_version){
		.policy_id = "county-2016",
		.version = 1,
		.valid_from = from,
		.valid_to = to,
		.standard_rate_bp = 5000,
		.standard_cap_fen = 1000,
		.poverty_rate_bp = 8000,
		.poverty_cap_fen = POLICY_NO_CAP,
		.rounding = MONEY_HALF_UP,
		.require_campaign = TRUE,
		.eligible_categories = NULL,
		.fee_max_fen = POLICY_FEE_MAX_DEFAULT_FEN,
	};
}

static int64_t yuan(const char *text)
{
	int64_t fen;
	GError *error = NULL;
	cr_assert(money_parse(text, &fen, &error), "%s", error ? error->message : "");
	return fen;
}

static policy_entitlement entitle(const policy_version *p, int64_t fee_fen, gboolean poverty)
{
	policy_entitlement e;
	GError *error = NULL;
	cr_assert(policy_entitle(p, fee_fen, poverty, &e, &error), "%s", error ? error->message : "");
	return e;
}

/* One row of the worked examples: fee in yuan (one order), standard and poverty entitlements. */
static void expect_row(const char *fee, const char *standard, const char *poverty)
{
	policy_version p = county_2016();
	char buf[MONEY_TEXT_MAX];
	policy_entitlement s = entitle(&p, yuan(fee), FALSE);
	policy_entitlement v = entitle(&p, yuan(fee), TRUE);
	cr_assert_str_eq(money_format(s.amount_fen, buf), standard, "fee %s standard", fee);
	cr_assert_eq(s.rule, POLICY_RULE_STANDARD);
	cr_assert_eq(s.rate_bp, 5000);
	cr_assert_str_eq(money_format(v.amount_fen, buf), poverty, "fee %s poverty", fee);
	cr_assert_eq(v.rule, POLICY_RULE_POVERTY);
	cr_assert_eq(v.rate_bp, 8000);
	cr_assert_not(v.capped, "the poverty rate has no cap");
}

/* ---- POLICY.md, "Worked examples (standard / poverty), fee in yuan" ---- */

Test(policy, fee_6_00_standard_300_poverty_480) { expect_row("6.00", "3.00", "4.80"); }
Test(policy, fee_12_35_standard_618_poverty_988) { expect_row("12.35", "6.18", "9.88"); } /* 6.175 up */
Test(policy, fee_19_97_standard_999_poverty_1598) { expect_row("19.97", "9.99", "15.98"); }
Test(policy, fee_19_99_standard_1000_at_the_cap_poverty_1599) { expect_row("19.99", "10.00", "15.99"); }
Test(policy, fee_20_00_standard_1000_poverty_1600) { expect_row("20.00", "10.00", "16.00"); }
Test(policy, fee_25_00_standard_capped_1000_poverty_uncapped_2000) { expect_row("25.00", "10.00", "20.00"); }
Test(policy, fee_45_75_standard_1000_poverty_3660) { expect_row("45.75", "10.00", "36.60"); }
Test(policy, fee_0_01_standard_001_poverty_001) { expect_row("0.01", "0.01", "0.01"); } /* 0.005, 0.008 */
Test(policy, fee_0_03_standard_002_poverty_002) { expect_row("0.03", "0.02", "0.02"); } /* 0.015, 0.024 */
Test(policy, fee_0_05_standard_003_poverty_004) { expect_row("0.05", "0.03", "0.04"); }

Test(policy, cap_is_per_order_8_00_three_parcels_one_order_standard_1000_poverty_1920)
{
	/* An order's fee is the sum of its lines' fees; the rate and the cap apply to the sum. */
	int64_t fee_fen = 0;
	for (int parcel = 0; parcel < 3; parcel++)
		cr_assert(money_add(fee_fen, yuan("8.00"), &fee_fen));
	cr_assert_eq(fee_fen, 2400);
	policy_version p = county_2016();
	policy_entitlement s = entitle(&p, fee_fen, FALSE);
	cr_assert_eq(s.amount_fen, 1000);
	cr_assert(s.capped);
	cr_assert_eq(entitle(&p, fee_fen, TRUE).amount_fen, 1920);
	/* not 3 x round(8.00 x 50%) = 12.00 */
	cr_assert_neq(s.amount_fen, 3 * entitle(&p, yuan("8.00"), FALSE).amount_fen);
}

Test(policy, second_night_tops_up_12_00_then_12_00_standard_600_plus_400_poverty_960_plus_960)
{
	policy_version p = county_2016();
	int64_t tonight_fen = yuan("12.00");
	int64_t both_fen;
	cr_assert(money_add(tonight_fen, yuan("12.00"), &both_fen));

	policy_entitlement s1 = entitle(&p, tonight_fen, FALSE), v1 = entitle(&p, tonight_fen, TRUE);
	cr_assert_eq(s1.amount_fen, 600);
	cr_assert_eq(v1.amount_fen, 960);
	policy_entitlement s2 = entitle(&p, both_fen, FALSE), v2 = entitle(&p, both_fen, TRUE);
	cr_assert_eq(s2.amount_fen, 1000);
	cr_assert_eq(v2.amount_fen, 1920);
	/* posted as differences */
	cr_assert_eq(s2.amount_fen - s1.amount_fen, 400);
	cr_assert_eq(v2.amount_fen - v1.amount_fen, 960);
}

/* ---- every fee from 0.00 to 2,000.00 yuan, fen by fen ---- */

#define EVERY_FEE_MAX_FEN POLICY_FEE_MAX_DEFAULT_FEN

Test(policy, every_fee_standard_never_exceeds_cap_and_never_decreases)
{
	policy_version p = county_2016();
	int64_t previous_fen = 0;
	for (int64_t fee = 0; fee <= EVERY_FEE_MAX_FEN; fee++) {
		policy_entitlement s = entitle(&p, fee, FALSE);
		cr_assert_leq(s.amount_fen, p.standard_cap_fen, "fee %" G_GINT64_FORMAT, fee);
		cr_assert_geq(s.amount_fen, previous_fen, "fee %" G_GINT64_FORMAT " decreased", fee);
		cr_assert_eq(s.capped, (fee * 5000 + 5000) / 10000 > 1000, "fee %" G_GINT64_FORMAT, fee);
		previous_fen = s.amount_fen;
	}
	cr_assert_eq(previous_fen, 1000);
}

Test(policy, every_fee_poverty_never_below_standard)
{
	policy_version p = county_2016();
	for (int64_t fee = 0; fee <= EVERY_FEE_MAX_FEN; fee++) {
		int64_t standard_fen = entitle(&p, fee, FALSE).amount_fen;
		int64_t poverty_fen = entitle(&p, fee, TRUE).amount_fen;
		cr_assert_geq(poverty_fen, standard_fen, "fee %" G_GINT64_FORMAT, fee);
	}
}

/* Half-up and half-even agree everywhere except on exactly half a fen, where half-even keeps the
 * even fen. (At 80% that never happens: fee x 8000 never ends in 5000.) */
Test(policy, every_fee_half_up_and_half_even_differ_only_on_half_a_fen)
{
	static const int32_t rates_bp[] = { 5000, 8000 };
	int differ_count = 0;
	for (size_t r = 0; r < G_N_ELEMENTS(rates_bp); r++) {
		for (int64_t fee = 0; fee <= EVERY_FEE_MAX_FEN; fee++) {
			int64_t up, even;
			cr_assert(money_apply_rate(fee, rates_bp[r], MONEY_HALF_UP, &up, NULL));
			cr_assert(money_apply_rate(fee, rates_bp[r], MONEY_HALF_EVEN, &even, NULL));
			int64_t product = fee * rates_bp[r];
			gboolean half = product % MONEY_BP_ONE == MONEY_BP_ONE / 2;
			gboolean floor_even = (product / MONEY_BP_ONE) % 2 == 0;
			if (up != even) {
				cr_assert(half, "fee %" G_GINT64_FORMAT " at %d bp", fee, rates_bp[r]);
				cr_assert_eq(up, even + 1);
				differ_count++;
			}
			cr_assert_eq(up != even, half && floor_even, "fee %" G_GINT64_FORMAT, fee);
		}
	}
	/* at 50%, the fees of 1, 5, 9, ... fen: half a fen above an even fen */
	cr_assert_eq(differ_count, 50000);
}

/* Groups digits in threes, as a spreadsheet would: 1234.50 -> 1,234.50. */
static char *grouped(const char *canonical)
{
	const char *point = strchr(canonical, '.');
	size_t whole = (size_t)(point - canonical);
	GString *s = g_string_new(NULL);
	for (size_t i = 0; i < whole; i++) {
		if (i > 0 && (whole - i) % 3 == 0)
			g_string_append_c(s, ',');
		g_string_append_c(s, canonical[i]);
	}
	g_string_append(s, point);
	return g_string_free(s, FALSE);
}

Test(policy, every_fee_format_of_parse_is_canonical)
{
	char canonical[MONEY_TEXT_MAX], again[MONEY_TEXT_MAX];
	for (int64_t fee = 0; fee <= EVERY_FEE_MAX_FEN; fee++) {
		money_format(fee, canonical);
		char *forms[] = {
			g_strdup(canonical),
			g_strdup_printf("￥%s", canonical),
			g_strdup_printf(" %s元\t", canonical),
			grouped(canonical),
			fee % 10 == 0 ? g_strndup(canonical, strlen(canonical) - 1) : g_strdup(canonical),
			fee % 100 == 0 ? g_strndup(canonical, strlen(canonical) - 3) : g_strdup(canonical),
		};
		for (size_t i = 0; i < G_N_ELEMENTS(forms); i++) {
			int64_t parsed;
			GError *error = NULL;
			cr_assert(money_parse(forms[i], &parsed, &error), "%s", error ? error->message : "");
			cr_assert_eq(parsed, fee, "'%s'", forms[i]);
			cr_assert_str_eq(money_format(parsed, again), canonical);
			g_free(forms[i]);
		}
	}
}

/* ---- rounding named by the policy version ---- */

Test(policy, half_even_version_rounds_half_a_fen_to_even)
{
	policy_version p = county_2016();
	p.rounding = MONEY_HALF_EVEN;
	cr_assert_eq(entitle(&p, yuan("12.33"), FALSE).amount_fen, 616); /* 6.165 -> 6.16 (half-up: 6.17) */
	cr_assert_eq(entitle(&p, yuan("12.35"), FALSE).amount_fen, 618); /* 6.175 -> 6.18, 8 is even */
	cr_assert_eq(entitle(&p, yuan("0.01"), FALSE).amount_fen, 0);    /* 0.005 -> 0.00 (half-up: 0.01) */
	cr_assert_eq(entitle(&p, yuan("0.05"), FALSE).amount_fen, 2);    /* 0.025 -> 0.02 (half-up: 0.03) */
	cr_assert_eq(entitle(&p, yuan("19.97"), TRUE).amount_fen, 1598); /* 15.976: not a half */
	p.rounding = MONEY_HALF_UP;
	cr_assert_eq(entitle(&p, yuan("12.33"), FALSE).amount_fen, 617);
}

/* ---- caps are data ---- */

Test(policy, no_standard_cap_when_version_sets_none)
{
	policy_version p = county_2016();
	p.standard_cap_fen = POLICY_NO_CAP;
	policy_entitlement s = entitle(&p, yuan("45.75"), FALSE);
	cr_assert_eq(s.amount_fen, 2288); /* 22.875 up */
	cr_assert_not(s.capped);
}

Test(policy, poverty_cap_when_version_sets_one)
{
	policy_version p = county_2016();
	p.poverty_cap_fen = 3000;
	policy_entitlement v = entitle(&p, yuan("45.75"), TRUE);
	cr_assert_eq(v.amount_fen, 3000);
	cr_assert(v.capped);
	v = entitle(&p, yuan("37.50"), TRUE); /* exactly 30.00: reaches the cap, not cut by it */
	cr_assert_eq(v.amount_fen, 3000);
	cr_assert_not(v.capped);
}

Test(policy, zero_fee_earns_nothing)
{
	policy_version p = county_2016();
	cr_assert_eq(entitle(&p, 0, FALSE).amount_fen, 0);
	cr_assert_eq(entitle(&p, 0, TRUE).amount_fen, 0);
}

Test(policy, entitlement_overflow_is_an_error)
{
	policy_version p = county_2016();
	policy_entitlement e = { .amount_fen = 77 };
	GError *error = NULL;
	cr_assert_not(policy_entitle(&p, INT64_MAX, TRUE, &e, &error));
	cr_assert(g_error_matches(error, MONEY_ERROR, STATUS_SOFTWARE));
	cr_assert(strstr(error->message, "county-2016") != NULL, "%s", error->message);
	cr_assert(strstr(error->message, "overflow") != NULL, "%s", error->message);
	cr_assert_eq(e.amount_fen, 77);
	g_error_free(error);
}

/* A policy's fee_max is bounded (POLICY_FEE_MAX_LIMIT_FEN): the registry refuses a version above
 * it, so one absurd fee can never be ELIGIBLE and stop every settlement. */
Test(policy, fee_max_up_to_the_limit_is_accepted_and_above_it_refused)
{
	GError *error = NULL;
	cr_assert(policy_fee_max_valid(0, &error));
	cr_assert(policy_fee_max_valid(POLICY_FEE_MAX_DEFAULT_FEN, &error));
	cr_assert(policy_fee_max_valid(POLICY_FEE_MAX_LIMIT_FEN, &error));
	cr_assert_null(error);
	cr_assert_eq(POLICY_FEE_MAX_LIMIT_FEN, yuan("100,000.00"));
	cr_assert_not(policy_fee_max_valid(POLICY_FEE_MAX_LIMIT_FEN + 1, &error));
	cr_assert(g_error_matches(error, POLICY_ERROR, STATUS_DATAERR));
	cr_assert_str_eq(error->message, "is above the limit of 100000.00 yuan per waybill");
	g_clear_error(&error);
	cr_assert_not(policy_fee_max_valid(yuan("9,999,999,999,999,999.99"), &error));
	g_clear_error(&error);
}

/* With every waybill at most the limit, an order of POLICY_ORDER_WAYBILLS_SAFE waybills at a rate
 * of 100% is still priced in 64 bits; far beyond that the checked arithmetic reports it. */
Test(policy, an_order_of_the_safe_count_of_waybills_at_the_limit_fee_does_not_overflow)
{
	policy_version p = county_2016();
	p.standard_rate_bp = MONEY_BP_ONE;
	p.poverty_rate_bp = MONEY_BP_ONE;
	p.standard_cap_fen = POLICY_NO_CAP;
	int64_t fee = (int64_t)POLICY_FEE_MAX_LIMIT_FEN * POLICY_ORDER_WAYBILLS_SAFE;
	cr_assert_eq(entitle(&p, fee, FALSE).amount_fen, fee);
	cr_assert_eq(entitle(&p, fee, TRUE).amount_fen, fee);
	policy_entitlement e;
	GError *error = NULL;
	cr_assert_not(policy_entitle(&p, fee * 2, FALSE, &e, &error), "twice the safe count overflows");
	cr_assert(strstr(error->message, "overflow") != NULL, "%s", error->message);
	g_error_free(error);
}

Test(policy, rule_names)
{
	cr_assert_str_eq(policy_rule_name(POLICY_RULE_STANDARD), "standard");
	cr_assert_str_eq(policy_rule_name(POLICY_RULE_POVERTY), "poverty");
}

/* ---- policy versions and their dates ---- */

static chrono_day day_of(int y, int m, int d)
{
	chrono_day day;
	cr_assert(chrono_day_from_ymd(y, m, d, &day));
	return day;
}

Test(policy, in_force_includes_both_ends)
{
	policy_version v = county_2016();
	cr_assert_eq(policy_in_force(&v, 1, day_of(2016, 1, 1)), &v);
	cr_assert_eq(policy_in_force(&v, 1, day_of(2018, 12, 31)), &v);
	cr_assert_null(policy_in_force(&v, 1, day_of(2015, 12, 31)));
	cr_assert_null(policy_in_force(&v, 1, day_of(2019, 1, 1)));
	cr_assert_null(policy_in_force(NULL, 0, day_of(2018, 1, 1)));
}

Test(policy, in_force_picks_the_version_of_the_day)
{
	policy_version v[2] = { county_2016(), county_2016() };
	v[0].valid_to = day_of(2017, 12, 31);
	v[1].valid_from = day_of(2018, 1, 1);
	v[1].valid_to = POLICY_OPEN_END;
	cr_assert_eq(policy_in_force(v, 2, day_of(2017, 12, 31)), &v[0]);
	cr_assert_eq(policy_in_force(v, 2, day_of(2018, 1, 1)), &v[1]);
	cr_assert_eq(policy_in_force(v, 2, day_of(2030, 6, 18)), &v[1]); /* open end */
}

Test(policy, overlap_when_ranges_share_a_day)
{
	policy_version a = county_2016(), b = county_2016();
	cr_assert(policy_overlap(&a, &b));
	b.valid_from = a.valid_to; /* one shared day */
	b.valid_to = POLICY_OPEN_END;
	cr_assert(policy_overlap(&a, &b));
	cr_assert(policy_overlap(&b, &a));
	b.valid_from = a.valid_to + 1;
	cr_assert_not(policy_overlap(&a, &b));
	cr_assert_not(policy_overlap(&b, &a));
}

Test(policy, version_clear_frees_and_zeroes)
{
	policy_version p = county_2016();
	p.policy_id = g_strdup("county-2016");
	p.eligible_categories = g_strsplit("生鲜;干货", ";", -1);
	policy_version_clear(&p);
	cr_assert_null(p.policy_id);
	cr_assert_null(p.eligible_categories);
	cr_assert_eq(p.standard_rate_bp, 0);
	policy_version_clear(&p); /* twice is harmless */
	policy_version_clear(NULL);
}

/* ---- outcome names: part of the contract ---- */

Test(policy, outcome_names_are_spelled_as_in_the_spec)
{
	static const char *const names[OUTCOME_COUNT] = {
		"ELIGIBLE",           "DUPLICATE",     "CONFLICT",           "REJECTED",
		"UNREGISTERED_SHOP",  "AMBIGUOUS_SHOP", "NOT_REGISTERED_ON_DATE", "OUTSIDE_POLICY_PERIOD",
		"NOT_IN_CAMPAIGN",    "INELIGIBLE_PRODUCT",
	};
	for (int o = 0; o < OUTCOME_COUNT; o++) {
		cr_assert_str_eq(policy_outcome_name((policy_outcome)o), names[o]);
		policy_outcome parsed;
		cr_assert(policy_outcome_parse(names[o], &parsed));
		cr_assert_eq(parsed, (policy_outcome)o);
	}
}

Test(policy, outcome_parse_refuses_unknown_names)
{
	policy_outcome parsed = OUTCOME_ELIGIBLE;
	cr_assert_not(policy_outcome_parse("eligible", &parsed));
	cr_assert_not(policy_outcome_parse("ELIGIBLE ", &parsed));
	cr_assert_not(policy_outcome_parse("", &parsed));
	cr_assert_not(policy_outcome_parse(NULL, &parsed));
	cr_assert_not(policy_outcome_parse("BUDGET_EXHAUSTED", &parsed));
}

/* ---- "Who is eligible", checks 3-7 ---- */

static policy_version classify_policy;
static char *classify_categories[] = { "生鲜", "干货", NULL };

/* A line that passes every check: shop found and registered all 2018, picked up in 618. */
static policy_line_facts good_line(void)
{
	classify_policy = county_2016();
	chrono_time pickup;
	cr_assert(chrono_parse_time("2018-06-18 14:23:05", &pickup, NULL));
	return (policy_line_facts){
		.shop_match = POLICY_SHOP_FOUND,
		.registered_from = day_of(2018, 1, 1),
		.registered_to = POLICY_OPEN_END,
		.policy = &classify_policy,
		.campaign_id = "618-2018",
		.category = "生鲜",
		.pickup = pickup,
	};
}

static chrono_time at(const char *text)
{
	chrono_time t;
	cr_assert(chrono_parse_time(text, &t, NULL));
	return t;
}

/* Classifies, checks the outcome and that the reason contains fact (NULL: no reason). */
static void expect_outcome(const policy_line_facts *facts, policy_outcome expected, const char *fact)
{
	char *reason = (char *)"unset";
	policy_outcome got = policy_classify(facts, &reason);
	cr_assert_eq(got, expected, "got %s, expected %s", policy_outcome_name(got),
		     policy_outcome_name(expected));
	if (fact == NULL) {
		cr_assert_null(reason);
	} else {
		cr_assert_not_null(reason);
		cr_assert(strstr(reason, fact) != NULL, "reason '%s' does not name '%s'", reason, fact);
	}
	g_free(reason);
	cr_assert_eq(policy_classify(facts, NULL), expected); /* reason is optional */
}

Test(policy, classify_eligible_line)
{
	policy_line_facts f = good_line();
	expect_outcome(&f, OUTCOME_ELIGIBLE, NULL);
}

Test(policy, classify_check_3_unregistered_shop)
{
	policy_line_facts f = good_line();
	f.shop_match = POLICY_SHOP_UNREGISTERED;
	expect_outcome(&f, OUTCOME_UNREGISTERED_SHOP, "2018-06-18");
}

Test(policy, classify_check_3_phone_of_several_shops_is_ambiguous)
{
	policy_line_facts f = good_line();
	f.shop_match = POLICY_SHOP_AMBIGUOUS;
	expect_outcome(&f, OUTCOME_AMBIGUOUS_SHOP, "several");
}

Test(policy, classify_check_4_registered_after_pickup_day)
{
	policy_line_facts f = good_line();
	f.registered_from = day_of(2018, 6, 19);
	expect_outcome(&f, OUTCOME_NOT_REGISTERED_ON_DATE,
		       "registered from 2018-06-19, not on the pickup day 2018-06-18");
}

Test(policy, classify_check_4_registration_ended_before_pickup_day)
{
	policy_line_facts f = good_line();
	f.registered_from = day_of(2017, 1, 1);
	f.registered_to = day_of(2018, 6, 17);
	expect_outcome(&f, OUTCOME_NOT_REGISTERED_ON_DATE, "2017-01-01 to 2018-06-17");
}

Test(policy, classify_check_4_registration_includes_both_end_days)
{
	policy_line_facts f = good_line();
	f.registered_from = day_of(2018, 6, 18);
	f.registered_to = day_of(2018, 6, 18);
	f.pickup = at("2018-06-18 00:00:00");
	expect_outcome(&f, OUTCOME_ELIGIBLE, NULL);
	f.pickup = at("2018-06-18 23:59:59");
	expect_outcome(&f, OUTCOME_ELIGIBLE, NULL);
	f.pickup = at("2018-06-19 00:00:00");
	expect_outcome(&f, OUTCOME_NOT_REGISTERED_ON_DATE, "2018-06-19");
}

Test(policy, classify_check_5_outside_policy_period)
{
	policy_line_facts f = good_line();
	f.pickup = at("2019-01-01 09:00:00");
	f.policy = NULL;
	expect_outcome(&f, OUTCOME_OUTSIDE_POLICY_PERIOD, "2019-01-01");
}

Test(policy, classify_check_6_not_in_campaign)
{
	policy_line_facts f = good_line();
	f.pickup = at("2018-06-20 10:00:00");
	f.campaign_id = NULL;
	expect_outcome(&f, OUTCOME_NOT_IN_CAMPAIGN, "pickup 2018-06-20 10:00:00 is in no promotion window");
}

Test(policy, classify_check_6_only_when_the_version_requires_a_campaign)
{
	policy_line_facts f = good_line();
	classify_policy.require_campaign = FALSE;
	f.campaign_id = NULL;
	expect_outcome(&f, OUTCOME_ELIGIBLE, NULL);
}

Test(policy, classify_check_7_ineligible_product)
{
	policy_line_facts f = good_line();
	classify_policy.eligible_categories = classify_categories;
	f.category = "服装";
	expect_outcome(&f, OUTCOME_INELIGIBLE_PRODUCT, "服装");
}

Test(policy, classify_check_7_listed_category_is_eligible)
{
	policy_line_facts f = good_line();
	classify_policy.eligible_categories = classify_categories;
	f.category = "干货";
	expect_outcome(&f, OUTCOME_ELIGIBLE, NULL);
}

Test(policy, classify_check_7_only_when_both_line_and_policy_name_categories)
{
	policy_line_facts f = good_line();
	static char *empty_list[] = { NULL };
	f.category = "服装";
	classify_policy.eligible_categories = NULL; /* the policy lists none */
	expect_outcome(&f, OUTCOME_ELIGIBLE, NULL);
	classify_policy.eligible_categories = empty_list;
	expect_outcome(&f, OUTCOME_ELIGIBLE, NULL);
	classify_policy.eligible_categories = classify_categories; /* the line names none */
	f.category = NULL;
	expect_outcome(&f, OUTCOME_ELIGIBLE, NULL);
	f.category = "";
	expect_outcome(&f, OUTCOME_ELIGIBLE, NULL);
}

/* The first failing check is the recorded reason: every line below fails all of its later checks
 * too (no policy, no campaign, wrong category) and is recorded under the earliest. */
Test(policy, classify_checks_run_in_order_first_failure_wins)
{
	policy_line_facts f = good_line();
	classify_policy.eligible_categories = classify_categories;
	classify_policy.require_campaign = TRUE;
	f.category = "服装";
	f.campaign_id = NULL;
	expect_outcome(&f, OUTCOME_NOT_IN_CAMPAIGN, "promotion window");        /* 6 before 7 */
	f.policy = NULL;
	expect_outcome(&f, OUTCOME_OUTSIDE_POLICY_PERIOD, "policy period");     /* 5 before 6, 7 */
	f.registered_from = day_of(2018, 7, 1);
	expect_outcome(&f, OUTCOME_NOT_REGISTERED_ON_DATE, "2018-07-01");       /* 4 before 5 */
	f.shop_match = POLICY_SHOP_AMBIGUOUS;
	expect_outcome(&f, OUTCOME_AMBIGUOUS_SHOP, "several");                  /* 3 before 4 */
	f.shop_match = POLICY_SHOP_UNREGISTERED;
	expect_outcome(&f, OUTCOME_UNREGISTERED_SHOP, "no registered shop");    /* unregistered AND outside */
}

/* ---- The outcomes checks 3-7 decide: the one list reclassification, replay and verify use ---- */

/* Every combination of the facts checks 3-7 read: the outcomes policy_classify returns over them
 * are exactly the classified ones, each at least once. */
Test(policy, classified_outcomes_are_exactly_those_checks_3_to_7_return)
{
	static const policy_shop_match matches[] = { POLICY_SHOP_FOUND, POLICY_SHOP_UNREGISTERED,
						     POLICY_SHOP_AMBIGUOUS };
	static const char *const categories[] = { "生鲜", "服装", "", NULL };
	gboolean seen[OUTCOME_COUNT] = { FALSE };
	int combinations = 0;
	for (size_t m = 0; m < G_N_ELEMENTS(matches); m++)
		for (int registered = 0; registered < 2; registered++)
			for (int in_force = 0; in_force < 2; in_force++)
				for (int campaign = 0; campaign < 2; campaign++)
					for (size_t k = 0; k < G_N_ELEMENTS(categories); k++) {
						policy_line_facts f = good_line();
						classify_policy.eligible_categories = classify_categories;
						f.shop_match = matches[m];
						if (!registered)
							f.registered_from = day_of(2018, 7, 1);
						if (!in_force)
							f.policy = NULL;
						if (!campaign)
							f.campaign_id = NULL;
						f.category = categories[k];
						seen[policy_classify(&f, NULL)] = TRUE;
						combinations++;
					}
	cr_assert_eq(combinations, 3 * 2 * 2 * 2 * 4);
	for (int o = 0; o < OUTCOME_COUNT; o++)
		cr_assert_eq(seen[o], policy_outcome_is_classified((policy_outcome)o),
			     "%s: policy_classify %s it, the list says it is %sclassified",
			     policy_outcome_name((policy_outcome)o), seen[o] ? "returns" : "never returns",
			     policy_outcome_is_classified((policy_outcome)o) ? "" : "not ");
}

Test(policy, checks_1_and_2_outcomes_are_not_classified)
{
	cr_assert_not(policy_outcome_is_classified(OUTCOME_REJECTED));
	cr_assert_not(policy_outcome_is_classified(OUTCOME_DUPLICATE));
	cr_assert_not(policy_outcome_is_classified(OUTCOME_CONFLICT));
	cr_assert(policy_outcome_is_classified(OUTCOME_ELIGIBLE));
}

/* FORMATS.md: lines = eligible + ineligible + duplicate + conflict + rejected, each outcome in
 * exactly one of the five. */
Test(policy, every_outcome_is_in_exactly_one_of_a_files_five_counts)
{
	for (int o = 0; o < OUTCOME_COUNT; o++) {
		policy_outcome x = (policy_outcome)o;
		int counts = (x == OUTCOME_ELIGIBLE) + policy_outcome_is_ineligible(x) + (x == OUTCOME_DUPLICATE) +
			     (x == OUTCOME_CONFLICT) + (x == OUTCOME_REJECTED);
		cr_assert_eq(counts, 1, "%s is counted %d times", policy_outcome_name(x), counts);
	}
}

Test(policy, outcomes_sql_lists_the_picked_names_in_order)
{
	char *classified = policy_outcomes_sql(policy_outcome_is_classified);
	cr_assert_str_eq(classified, "'ELIGIBLE', 'UNREGISTERED_SHOP', 'AMBIGUOUS_SHOP', 'NOT_REGISTERED_ON_DATE',"
				     " 'OUTSIDE_POLICY_PERIOD', 'NOT_IN_CAMPAIGN', 'INELIGIBLE_PRODUCT'");
	char *ineligible = policy_outcomes_sql(policy_outcome_is_ineligible);
	cr_assert_str_eq(ineligible, "'UNREGISTERED_SHOP', 'AMBIGUOUS_SHOP', 'NOT_REGISTERED_ON_DATE',"
				     " 'OUTSIDE_POLICY_PERIOD', 'NOT_IN_CAMPAIGN', 'INELIGIBLE_PRODUCT'");
	char *all = policy_outcomes_sql(NULL);
	cr_assert_str_eq(all, "'ELIGIBLE', 'DUPLICATE', 'CONFLICT', 'REJECTED', 'UNREGISTERED_SHOP',"
			      " 'AMBIGUOUS_SHOP', 'NOT_REGISTERED_ON_DATE', 'OUTSIDE_POLICY_PERIOD',"
			      " 'NOT_IN_CAMPAIGN', 'INELIGIBLE_PRODUCT'");
	g_free(classified);
	g_free(ineligible);
	g_free(all);
}
