/* money.h: amounts in fen (int64), rates in basis points, rounding as a named step.
 *
 * No floating point touches money here or anywhere that calls this. Every operation that could
 * overflow is checked and reported as an error, never wrapped. */
#ifndef SUBSIDY_MONEY_H
#define SUBSIDY_MONEY_H

#include <glib.h>
#include <stdint.h>

#define MONEY_ERROR money_error_quark()
GQuark money_error_quark(void);

/* At most this many digits before the point (POLICY.md's grammar). */
#define MONEY_DIGITS_MAX 18
/* "-" + 18 digits + 6 commas + "." + 2 + NUL, rounded up */
#define MONEY_TEXT_MAX 32
#define MONEY_BP_ONE 10000 /* 100% in basis points */

typedef enum {
	MONEY_HALF_UP,   /* 四舍五入: half a fen rounds away from zero */
	MONEY_HALF_EVEN, /* 银行家舍入: half a fen rounds to the even fen */
} money_rounding;

/* Parses an amount by POLICY.md's one grammar: optional ￥ or ¥, digits (at most 18, optionally
 * grouped in threes by commas), optionally a point and one or two digits, optional 元; spaces
 * around it ignored. Refusals (empty, minus sign, letters, three decimals, bad grouping, too many
 * digits) set an error whose message quotes the text. No upper limit here: fee_max is policy. */
gboolean money_parse(const char *text, int64_t *out_fen, GError **error);

/* Formats fen as yuan with two decimals: 1250 -> "12.50", -5 -> "-0.05". Returns buf. */
char *money_format(int64_t fen, char buf[MONEY_TEXT_MAX]);

/* round(fee_fen * rate_bp / 10000) in the named mode, in checked integers. */
gboolean money_apply_rate(int64_t fee_fen, int32_t rate_bp, money_rounding mode, int64_t *out_fen,
			  GError **error);

/* a + b, FALSE on overflow. */
gboolean money_add(int64_t a, int64_t b, int64_t *out);

/* "half_up" / "half_even" */
gboolean money_rounding_parse(const char *text, money_rounding *out);
const char *money_rounding_name(money_rounding mode);

#endif
