/* fuzz/money.c: money_parse, against POLICY.md's grammar written out again here, independently;
 * money_format round trips; money_apply_rate and money_add against 128-bit arithmetic.
 *
 * Input: the text for money_parse (up to its first NUL). Its first 13 bytes, when there are that
 * many, also give an int64 (format/parse round trip, fee for apply_rate), an int32 rate and a
 * rounding mode. */
#include "fuzz.h"

#include "money.h"

/* POLICY.md: "an optional ￥ or ¥, then digits (at most 18; optionally grouped in threes by
 * commas, 1,234), then optionally a point and one or two digits, then an optional 元; spaces around
 * it are ignored." Spaces are ' ' and tab (a reading: a tab is white space in a cell). Returns
 * FALSE when text is outside the grammar or the amount does not fit int64 fen. */
static gboolean reference_parse(const char *text, int64_t *out)
{
	const char *p = text, *end = text + strlen(text);
	while (*p == ' ' || *p == '\t')
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (g_str_has_prefix(p, "\xEF\xBF\xA5"))
		p += 3;
	else if (g_str_has_prefix(p, "\xC2\xA5"))
		p += 2;
	if (end - p >= 3 && memcmp(end - 3, "\xE5\x85\x83", 3) == 0)
		end -= 3;
	/* Whole part: the digits and commas before the point, or before the end. */
	const char *point = memchr(p, '.', (size_t)(end - p));
	const char *whole_end = point ? point : end;
	char digits[64];
	size_t n = 0;
	gboolean has_comma = memchr(p, ',', (size_t)(whole_end - p)) != NULL;
	if (has_comma) {
		/* 1-3 digits, then groups of ',' and exactly three digits. */
		const char *q = p;
		size_t first = 0;
		while (q < whole_end && g_ascii_isdigit(*q))
			q++, first++;
		if (first < 1 || first > 3)
			return FALSE;
		while (q < whole_end) {
			if (*q != ',' || whole_end - q < 4 || !g_ascii_isdigit(q[1]) || !g_ascii_isdigit(q[2]) ||
			    !g_ascii_isdigit(q[3]))
				return FALSE;
			q += 4;
		}
	}
	for (const char *q = p; q < whole_end; q++) {
		if (*q == ',')
			continue;
		if (!g_ascii_isdigit(*q) || n >= 18)
			return FALSE;
		digits[n++] = *q;
	}
	if (n == 0)
		return FALSE;
	__int128 fen = 0;
	for (size_t i = 0; i < n; i++)
		fen = fen * 10 + (digits[i] - '0');
	fen *= 100;
	if (point) {
		size_t decimals = (size_t)(end - point - 1);
		if (decimals < 1 || decimals > 2)
			return FALSE;
		for (size_t i = 0; i < decimals; i++)
			if (!g_ascii_isdigit(point[1 + i]))
				return FALSE;
		fen += (point[1] - '0') * 10 + (decimals == 2 ? point[2] - '0' : 0);
	}
	if (fen > INT64_MAX)
		return FALSE;
	*out = (int64_t)fen;
	return TRUE;
}

static void check_round_trip(int64_t fen, gboolean utf8)
{
	char buf[MONEY_TEXT_MAX];
	money_format(fen, buf);
	int64_t back = -1;
	GError *e = NULL;
	gboolean ok = money_parse(buf, &back, &e);
	if (fen >= 0) {
		FUZZ_CHECK(ok && back == fen, "money_format(%" G_GINT64_FORMAT ") = '%s' parses to %" G_GINT64_FORMAT,
			   fen, buf, back);
	} else {
		FUZZ_CHECK(!ok, "negative '%s' accepted", buf);
		FUZZ_CHECK_ERROR(e, MONEY_ERROR, utf8);
	}
	g_clear_error(&e);
}

static void check_rate(int64_t fee, int32_t rate, money_rounding mode, gboolean utf8)
{
	int64_t out = -1;
	GError *e = NULL;
	gboolean ok = money_apply_rate(fee, rate, mode, &out, &e);
	__int128 product = (__int128)fee * rate;
	if (fee < 0 || rate < 0 || product > INT64_MAX) {
		FUZZ_CHECK(!ok, "apply_rate(%" G_GINT64_FORMAT ", %d) accepted", fee, rate);
		FUZZ_CHECK_ERROR(e, MONEY_ERROR, utf8);
		g_clear_error(&e);
		return;
	}
	FUZZ_CHECK(ok, "apply_rate(%" G_GINT64_FORMAT ", %d) refused", fee, rate);
	__int128 q = product / MONEY_BP_ONE, r = product % MONEY_BP_ONE;
	__int128 want = q;
	if (r * 2 > MONEY_BP_ONE || (r * 2 == MONEY_BP_ONE && (mode == MONEY_HALF_UP || q % 2 == 1)))
		want++;
	FUZZ_CHECK(out == want, "apply_rate(%" G_GINT64_FORMAT ", %d, %d) = %" G_GINT64_FORMAT, fee, rate, mode,
		   out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *text = fuzz_string(data, size);
	int64_t fen = -1, want = -1;
	GError *e = NULL;
	gboolean utf8 = g_utf8_validate(text, -1, NULL);
	gboolean ok = money_parse(text, &fen, &e);
	gboolean want_ok = reference_parse(text, &want);
	FUZZ_CHECK(ok == want_ok, "'%s': money_parse says %s, the grammar %s", text, ok ? "yes" : "no",
		   want_ok ? "yes" : "no");
	if (ok) {
		FUZZ_CHECK(fen == want, "'%s': %" G_GINT64_FORMAT " fen, the grammar %" G_GINT64_FORMAT, text, fen, want);
		check_round_trip(fen, TRUE);
	} else {
		FUZZ_CHECK_ERROR(e, MONEY_ERROR, utf8);
		g_clear_error(&e);
	}

	if (size >= 13) {
		int64_t x;
		int32_t rate;
		memcpy(&x, data, sizeof x);
		memcpy(&rate, data + 8, sizeof rate);
		money_rounding mode = data[12] & 1 ? MONEY_HALF_EVEN : MONEY_HALF_UP;
		check_round_trip(x, TRUE);
		check_rate(x, rate, mode, TRUE);
		/* Realistic sizes too: a fee below 10^7 yuan and a rate of at most 100%. */
		check_rate(x < 0 ? -(x + 1) % 1000000000 : x % 1000000000, rate < 0 ? -(rate + 1) % 10001 : rate % 10001,
			   mode, TRUE);
		int64_t sum;
		__int128 wide = (__int128)x + fen;
		gboolean added = money_add(x, fen, &sum);
		FUZZ_CHECK(added == (wide >= INT64_MIN && wide <= INT64_MAX) && (!added || sum == wide), "money_add");
	}
	return 0;
}
