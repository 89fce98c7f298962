/* test_money.c: money's grammar, formatting and rounding against POLICY.md's "Money" section.
 * Each accepted and refused form of the grammar has its test; the exhaustive checks over every fee
 * up to 2,000.00 yuan live in test_policy.c, beside the rules they protect. */
#include "money.h"
#include "status.h"

#include <criterion/criterion.h>
#include <string.h>

/* Parses text, which must be accepted, and returns its fen. */
static int64_t parse_ok(const char *text)
{
	int64_t fen = -1;
	GError *error = NULL;
	gboolean ok = money_parse(text, &fen, &error);
	cr_assert(ok, "'%s' refused: %s", text, error ? error->message : "(no error)");
	cr_assert_null(error);
	return fen;
}

/* Parses text, which must be refused with a data error quoting it; the message contains why. */
static void parse_refused(const char *text, const char *why)
{
	int64_t fen = 12345;
	GError *error = NULL;
	cr_assert_not(money_parse(text, &fen, &error), "'%s' accepted as %" G_GINT64_FORMAT " fen", text,
		      fen);
	cr_assert_not_null(error);
	cr_assert(g_error_matches(error, MONEY_ERROR, STATUS_DATAERR), "'%s': code %d", text, error->code);
	char *quoted = g_strdup_printf("'%s'", text);
	cr_assert(strstr(error->message, quoted) != NULL, "message does not quote %s: %s", quoted,
		  error->message);
	cr_assert(strstr(error->message, why) != NULL, "message does not say '%s': %s", why, error->message);
	cr_assert_eq(fen, 12345, "output written on refusal");
	g_free(quoted);
	g_error_free(error);
}

static const char *format(int64_t fen)
{
	static char buf[MONEY_TEXT_MAX];
	return money_format(fen, buf);
}

/* ---- the accepted forms of POLICY.md ---- */

Test(money, parse_whole_yuan) { cr_assert_eq(parse_ok("12"), 1200); }
Test(money, parse_one_decimal_is_tens_of_fen) { cr_assert_eq(parse_ok("12.5"), 1250); }
Test(money, parse_two_decimals) { cr_assert_eq(parse_ok("12.50"), 1250); }
Test(money, parse_fullwidth_yuan_sign) { cr_assert_eq(parse_ok("￥12.50"), 1250); }
Test(money, parse_halfwidth_yen_sign) { cr_assert_eq(parse_ok("¥12.50"), 1250); }
Test(money, parse_yuan_suffix) { cr_assert_eq(parse_ok("12.50元"), 1250); }
Test(money, parse_sign_and_suffix) { cr_assert_eq(parse_ok("￥12.50元"), 1250); }
Test(money, parse_grouped_thousands) { cr_assert_eq(parse_ok("￥1,234.50"), 123450); }
Test(money, parse_grouped_millions) { cr_assert_eq(parse_ok("1,234,567"), 123456700); }
Test(money, parse_zero) { cr_assert_eq(parse_ok("0"), 0); }
Test(money, parse_zero_with_decimals) { cr_assert_eq(parse_ok("0.00"), 0); }
Test(money, parse_one_fen) { cr_assert_eq(parse_ok("0.01"), 1); }
Test(money, parse_leading_zeros) { cr_assert_eq(parse_ok("007.05"), 705); }
Test(money, parse_spaces_around_ignored) { cr_assert_eq(parse_ok("  ￥12.50元 "), 1250); }
Test(money, parse_tabs_around_ignored) { cr_assert_eq(parse_ok("\t12.50\t"), 1250); }
Test(money, parse_eighteen_digits_fit_when_small_enough)
{
	cr_assert_eq(parse_ok("000000000000000001"), 100);
	cr_assert_eq(parse_ok("92233720368547758.07"), INT64_MAX);
	cr_assert_eq(parse_ok("92,233,720,368,547,758.07"), INT64_MAX);
}

/* ---- every refused form: the message quotes the value and says why ---- */

Test(money, refuses_three_decimals) { parse_refused("12.345", "more than two decimals"); }
Test(money, refuses_many_decimals) { parse_refused("0.0001", "more than two decimals"); }
Test(money, refuses_minus_sign) { parse_refused("-12.50", "minus sign"); }
Test(money, refuses_minus_after_currency_sign) { parse_refused("￥-12.50", "minus sign"); }
Test(money, refuses_trailing_minus) { parse_refused("12.50-", "minus sign"); }
Test(money, refuses_plus_sign) { parse_refused("+12.50", "not an amount"); }
Test(money, refuses_letters) { parse_refused("12a", "not an amount"); }
Test(money, refuses_words) { parse_refused("free", "not an amount"); }
Test(money, refuses_excel_scientific) { parse_refused("1.23457E+11", "more than two decimals"); }
Test(money, refuses_empty) { parse_refused("", "empty"); }
Test(money, refuses_blank) { parse_refused("   ", "empty"); }
Test(money, refuses_currency_sign_alone) { parse_refused("￥", "not an amount"); }
Test(money, refuses_more_than_18_digits) { parse_refused("1234567890123456789", "more than 18 digits"); }
Test(money, refuses_more_than_18_grouped_digits)
{
	parse_refused("1,234,567,890,123,456,789", "more than 18 digits");
}
Test(money, refuses_point_without_decimals) { parse_refused("12.", "no digits after the point"); }
Test(money, refuses_point_without_yuan) { parse_refused(".5", "no digits before the point"); }
Test(money, refuses_two_points) { parse_refused("12.5.3", "more than one point"); }
Test(money, refuses_short_group) { parse_refused("1,23", "threes"); }
Test(money, refuses_long_group) { parse_refused("12,3456", "threes"); }
Test(money, refuses_long_first_group) { parse_refused("1234,567", "threes"); }
Test(money, refuses_leading_comma) { parse_refused(",123", "threes"); }
Test(money, refuses_trailing_comma) { parse_refused("123,", "threes"); }
Test(money, refuses_double_comma) { parse_refused("1,,234", "threes"); }
Test(money, refuses_comma_in_decimals) { parse_refused("1.2,3", "not an amount"); }
Test(money, refuses_space_inside) { parse_refused("12 .50", "not an amount"); }
Test(money, refuses_fullwidth_digits) { parse_refused("１２", "not an amount"); }
Test(money, refuses_suffix_twice) { parse_refused("12元元", "not an amount"); }

/* 18 digits fit int64 as yuan but not always as fen: refused, never wrapped. */
Test(money, refuses_amount_that_overflows_fen)
{
	parse_refused("999,999,999,999,999,999.99", "too large");
	parse_refused("92233720368547758.08", "too large");
	parse_refused("92233720368547759", "too large");
}

/* ---- format ---- */

Test(money, format_yuan_and_fen) { cr_assert_str_eq(format(1250), "12.50"); }
Test(money, format_fen_only) { cr_assert_str_eq(format(5), "0.05"); }
Test(money, format_negative) { cr_assert_str_eq(format(-5), "-0.05"); }
Test(money, format_negative_yuan) { cr_assert_str_eq(format(-123450), "-1234.50"); }
Test(money, format_zero) { cr_assert_str_eq(format(0), "0.00"); }
Test(money, format_extremes)
{
	cr_assert_str_eq(format(INT64_MAX), "92233720368547758.07");
	cr_assert_str_eq(format(INT64_MIN), "-92233720368547758.08");
}
Test(money, format_returns_buf)
{
	char buf[MONEY_TEXT_MAX];
	cr_assert_eq(money_format(100, buf), buf);
}

/* ---- rounding: round(fee * rate / 10000), a named step ---- */

static int64_t apply(int64_t fee_fen, int32_t rate_bp, money_rounding mode)
{
	int64_t out = -1;
	GError *error = NULL;
	cr_assert(money_apply_rate(fee_fen, rate_bp, mode, &out, &error), "%s", error ? error->message : "");
	return out;
}

Test(money, half_up_rounds_half_a_fen_up)
{
	cr_assert_eq(apply(1235, 5000, MONEY_HALF_UP), 618); /* 617.5 */
	cr_assert_eq(apply(1, 5000, MONEY_HALF_UP), 1);      /* 0.5 */
	cr_assert_eq(apply(5, 5000, MONEY_HALF_UP), 3);      /* 2.5 */
}
Test(money, half_up_below_half_rounds_down)
{
	cr_assert_eq(apply(3, 8000, MONEY_HALF_UP), 2); /* 2.4 */
}
Test(money, half_up_above_half_rounds_up)
{
	cr_assert_eq(apply(1997, 8000, MONEY_HALF_UP), 1598); /* 1597.6 */
}
Test(money, half_even_rounds_half_a_fen_to_even)
{
	cr_assert_eq(apply(1235, 5000, MONEY_HALF_EVEN), 618); /* 617.5: 618 is even */
	cr_assert_eq(apply(1233, 5000, MONEY_HALF_EVEN), 616); /* 616.5: 616 is even */
	cr_assert_eq(apply(1, 5000, MONEY_HALF_EVEN), 0);      /* 0.5 */
	cr_assert_eq(apply(3, 5000, MONEY_HALF_EVEN), 2);      /* 1.5 */
	cr_assert_eq(apply(5, 5000, MONEY_HALF_EVEN), 2);      /* 2.5 */
}
Test(money, half_even_off_half_rounds_to_nearest)
{
	cr_assert_eq(apply(1997, 8000, MONEY_HALF_EVEN), 1598); /* 1597.6 */
	cr_assert_eq(apply(3, 8000, MONEY_HALF_EVEN), 2);       /* 2.4 */
}
Test(money, rate_of_zero_and_full_rate)
{
	cr_assert_eq(apply(1234, 0, MONEY_HALF_UP), 0);
	cr_assert_eq(apply(1234, MONEY_BP_ONE, MONEY_HALF_UP), 1234);
	cr_assert_eq(apply(0, 5000, MONEY_HALF_UP), 0);
}

Test(money, apply_rate_overflow_is_an_error_not_a_wrap)
{
	int64_t out = 77;
	GError *error = NULL;
	cr_assert_not(money_apply_rate(INT64_MAX, 5000, MONEY_HALF_UP, &out, &error));
	cr_assert(g_error_matches(error, MONEY_ERROR, STATUS_SOFTWARE));
	cr_assert(strstr(error->message, "overflow") != NULL, "%s", error->message);
	cr_assert_eq(out, 77);
	g_clear_error(&error);
	/* the largest fee that does not overflow at 80% */
	cr_assert(money_apply_rate(INT64_MAX / 8000, 8000, MONEY_HALF_UP, &out, &error));
	cr_assert_not(money_apply_rate(INT64_MAX / 8000 + 1, 8000, MONEY_HALF_UP, &out, &error));
	g_clear_error(&error);
}

/* Negative inputs are a caller's bug: an error with the internal-error status, never a result. */
Test(money, apply_rate_refuses_negative_fee_or_rate)
{
	int64_t out = 77;
	GError *error = NULL;
	cr_assert_not(money_apply_rate(-1, 5000, MONEY_HALF_UP, &out, &error));
	cr_assert(g_error_matches(error, MONEY_ERROR, STATUS_SOFTWARE));
	g_clear_error(&error);
	cr_assert_not(money_apply_rate(100, -1, MONEY_HALF_EVEN, &out, &error));
	cr_assert(g_error_matches(error, MONEY_ERROR, STATUS_SOFTWARE));
	g_clear_error(&error);
	cr_assert_eq(out, 77);
}

Test(money, add_checks_overflow)
{
	int64_t sum = 0;
	cr_assert(money_add(800, 800, &sum));
	cr_assert_eq(sum, 1600);
	cr_assert(money_add(INT64_MAX, INT64_MIN, &sum));
	cr_assert_eq(sum, -1);
	cr_assert_not(money_add(INT64_MAX, 1, &sum));
	cr_assert_not(money_add(INT64_MIN, -1, &sum));
}

Test(money, rounding_names_round_trip)
{
	money_rounding mode;
	cr_assert(money_rounding_parse("half_up", &mode));
	cr_assert_eq(mode, MONEY_HALF_UP);
	cr_assert_str_eq(money_rounding_name(mode), "half_up");
	cr_assert(money_rounding_parse("half_even", &mode));
	cr_assert_eq(mode, MONEY_HALF_EVEN);
	cr_assert_str_eq(money_rounding_name(mode), "half_even");
	cr_assert_not(money_rounding_parse("HALF_UP", &mode));
	cr_assert_not(money_rounding_parse("", &mode));
	cr_assert_not(money_rounding_parse(NULL, &mode));
}
