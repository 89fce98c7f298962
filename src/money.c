/* money.c: amounts in fen; see money.h. The parser is one hand-written grammar (POLICY.md's), the
 * arithmetic checked int64 with the compiler's overflow builtins, the rounding an explicit step on
 * quotient and remainder so that no intermediate sum can overflow either. */
#include "money.h"

#include "status.h"

#include <inttypes.h>
#include <string.h>

G_DEFINE_QUARK(subsidy-money-error-quark, money_error)

#define MONEY_FEN_PER_YUAN 100
#define MONEY_DECIMALS_MAX 2
#define MONEY_GROUP_DIGITS 3 /* 1,234,567: digits between commas */

/* The currency marks of the grammar, in UTF-8: ￥ (U+FFE5, fullwidth) and ¥ (U+00A5), and 元. */
static const char *const money_prefixes[] = { "\xEF\xBF\xA5", "\xC2\xA5" };
static const char money_suffix[] = "\xE5\x85\x83";

static const char money_too_many_digits[] =
	"more than " G_STRINGIFY(MONEY_DIGITS_MAX) " digits before the point";

G_STATIC_ASSERT(MONEY_BP_ONE % 2 == 0);
G_STATIC_ASSERT(MONEY_DIGITS_MAX <= 18); /* 10^18 - 1 fits int64 before the shift to fen */

static gboolean is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static gboolean is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Skips s at *p when it is there. */
static gboolean skip(const char **p, const char *s)
{
	size_t n = strlen(s);
	if (strncmp(*p, s, n) != 0)
		return FALSE;
	*p += n;
	return TRUE;
}

static gboolean refuse(GError **error, const char *text, const char *why)
{
	g_set_error(error, MONEY_ERROR, STATUS_DATAERR, "cannot parse amount '%s': %s", text, why);
	return FALSE;
}

/* Says why the character at p cannot start an amount, for the message. */
static const char *leading_reason(const char *p)
{
	if (*p == '-')
		return "a minus sign (amounts are never negative)";
	if (*p == '.')
		return "no digits before the point";
	if (*p == ',')
		return "commas must group the digits in threes";
	return "not an amount (expected digits, a point and one or two decimals, ￥ before or 元 after)";
}

/* Says why the character at p cannot follow an amount that had_point or not. */
static const char *trailing_reason(const char *p, gboolean had_point)
{
	if (*p == '-')
		return "a minus sign (amounts are never negative)";
	if (*p == '.' && had_point)
		return "more than one point";
	return "not an amount (expected digits, a point and one or two decimals, ￥ before or 元 after)";
}

/* Whole yuan at *p: digits, optionally in comma groups (first 1-3 digits, then exactly 3 each).
 * Moves *p past them. */
static gboolean parse_yuan(const char **p, const char *text, int64_t *yuan, GError **error)
{
	const char *start = *p;
	*yuan = 0;
	int digits = 0;       /* digits before the point, commas not counted */
	int group = 0;        /* digits since the last comma, or since the start */
	gboolean grouped = FALSE;
	if (!is_digit(**p))
		return refuse(error, text, leading_reason(*p));
	for (;; (*p)++) {
		if (is_digit(**p)) {
			if (++digits > MONEY_DIGITS_MAX)
				return refuse(error, text, money_too_many_digits);
			*yuan = *yuan * 10 + (**p - '0');
			group++;
			if (grouped && group > MONEY_GROUP_DIGITS)
				return refuse(error, text, "commas must group the digits in threes");
		} else if (**p == ',') {
			gboolean ok = grouped ? group == MONEY_GROUP_DIGITS : group <= MONEY_GROUP_DIGITS;
			if (!ok || !is_digit((*p)[1]))
				return refuse(error, text, "commas must group the digits in threes");
			grouped = TRUE;
			group = 0;
		} else {
			break;
		}
	}
	if (grouped && group != MONEY_GROUP_DIGITS)
		return refuse(error, text, "commas must group the digits in threes");
	g_assert(digits >= 1 && digits <= MONEY_DIGITS_MAX);
	/* 18 digits fit int64 (MONEY_DIGITS_MAX's reason); the cursor moved past each, and the commas. */
	g_assert(*yuan >= 0 && *p - start >= digits);
	return TRUE;
}

/* Fen at *p: nothing, or a point and one or two digits ("12.5" is 12.50). Moves *p past them;
 * *had_point says whether there was a point. */
static gboolean parse_fen(const char **p, const char *text, int64_t *fraction_fen, gboolean *had_point,
			  GError **error)
{
	const char *start = *p;
	*fraction_fen = 0;
	*had_point = **p == '.';
	if (!*had_point)
		return TRUE;
	(*p)++;
	int decimals = 0;
	for (; is_digit(**p); (*p)++) {
		if (++decimals > MONEY_DECIMALS_MAX)
			return refuse(error, text, "more than two decimals");
		*fraction_fen = *fraction_fen * 10 + (**p - '0');
	}
	if (decimals == 0)
		return refuse(error, text, "no digits after the point");
	if (decimals == 1)
		*fraction_fen *= 10;
	g_assert(*fraction_fen >= 0 && *fraction_fen < MONEY_FEN_PER_YUAN);
	g_assert(*p - start == 1 + decimals);
	return TRUE;
}

gboolean money_parse(const char *text, int64_t *out_fen, GError **error)
{
	g_return_val_if_fail(text != NULL, FALSE);
	g_return_val_if_fail(out_fen != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	const char *p = text;
	while (is_blank(*p))
		p++;
	if (*p == '\0')
		return refuse(error, text, "empty");
	for (size_t i = 0; i < G_N_ELEMENTS(money_prefixes); i++)
		if (skip(&p, money_prefixes[i]))
			break;
	int64_t yuan, fraction_fen;
	gboolean had_point;
	if (!parse_yuan(&p, text, &yuan, error) || !parse_fen(&p, text, &fraction_fen, &had_point, error))
		return FALSE;
	skip(&p, money_suffix);
	while (is_blank(*p))
		p++;
	if (*p != '\0')
		return refuse(error, text, trailing_reason(p, had_point));

	int64_t fen;
	if (__builtin_mul_overflow(yuan, (int64_t)MONEY_FEN_PER_YUAN, &fen) ||
	    __builtin_add_overflow(fen, fraction_fen, &fen))
		return refuse(error, text, "too large to hold in 64-bit fen");
	g_assert(fen >= 0);
	g_assert(fen % MONEY_FEN_PER_YUAN == fraction_fen); /* the decimals are the fen, exactly */
	*out_fen = fen;
	return TRUE;
}

char *money_format(int64_t fen, char buf[MONEY_TEXT_MAX])
{
	g_return_val_if_fail(buf != NULL, NULL);
	/* The magnitude in unsigned arithmetic, so INT64_MIN needs no negation in int64. */
	uint64_t magnitude = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
	int n = g_snprintf(buf, MONEY_TEXT_MAX, "%s%" PRIu64 ".%02" PRIu64, fen < 0 ? "-" : "",
			   magnitude / MONEY_FEN_PER_YUAN, magnitude % MONEY_FEN_PER_YUAN);
	g_assert(n > 0 && n < MONEY_TEXT_MAX);
	return buf;
}

/* Rounds quotient + remainder/MONEY_BP_ONE to a whole fen, for non-negative values. */
static int64_t round_fen(int64_t quotient, int64_t remainder, money_rounding mode)
{
	const int64_t half = MONEY_BP_ONE / 2;
	g_assert(quotient >= 0 && remainder >= 0 && remainder < MONEY_BP_ONE);
	switch (mode) {
	case MONEY_HALF_UP:
		return quotient + (remainder >= half);
	case MONEY_HALF_EVEN:
		return quotient + (remainder > half || (remainder == half && quotient % 2 == 1));
	}
	g_assert_not_reached();
}

/* Negative fees and rates are a caller's bug (parse refuses them, the database's CHECKs too): they
 * are reported as STATUS_SOFTWARE errors, like overflow, rather than asserted, so the contract
 * "FALSE sets *error" always holds for callers that propagate it. */
gboolean money_apply_rate(int64_t fee_fen, int32_t rate_bp, money_rounding mode, int64_t *out_fen,
			  GError **error)
{
	g_return_val_if_fail(out_fen != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
	char fee_text[MONEY_TEXT_MAX];
	if (fee_fen < 0 || rate_bp < 0) {
		g_set_error(error, MONEY_ERROR, STATUS_SOFTWARE,
			    "cannot apply rate %" PRId32 " bp to fee %s: negative", rate_bp,
			    money_format(fee_fen, fee_text));
		return FALSE;
	}
	int64_t product;
	if (__builtin_mul_overflow(fee_fen, (int64_t)rate_bp, &product)) {
		g_set_error(error, MONEY_ERROR, STATUS_SOFTWARE,
			    "cannot apply rate %" PRId32 " bp to fee %s: overflows 64-bit arithmetic",
			    rate_bp, money_format(fee_fen, fee_text));
		return FALSE;
	}
	int64_t fen = round_fen(product / MONEY_BP_ONE, product % MONEY_BP_ONE, mode);
	g_assert(fen >= 0 && (rate_bp > MONEY_BP_ONE || fen <= fee_fen));
	*out_fen = fen;
	return TRUE;
}

gboolean money_add(int64_t a, int64_t b, int64_t *out)
{
	g_return_val_if_fail(out != NULL, FALSE);
	return !__builtin_add_overflow(a, b, out);
}

static const char *const money_rounding_names[] = {
	[MONEY_HALF_UP] = "half_up",
	[MONEY_HALF_EVEN] = "half_even",
};

gboolean money_rounding_parse(const char *text, money_rounding *out)
{
	g_return_val_if_fail(out != NULL, FALSE);
	if (text == NULL)
		return FALSE;
	for (size_t i = 0; i < G_N_ELEMENTS(money_rounding_names); i++) {
		if (strcmp(text, money_rounding_names[i]) == 0) {
			*out = (money_rounding)i;
			return TRUE;
		}
	}
	return FALSE;
}

const char *money_rounding_name(money_rounding mode)
{
	g_assert((size_t)mode < G_N_ELEMENTS(money_rounding_names));
	return money_rounding_names[mode];
}
