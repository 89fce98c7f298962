/* test_capitals.c: amounts in Chinese capitals (CONTROL.md "Control information in exports").
 * CONTROL.md's examples byte for byte; then every amount from 0.00 to 100,000.00 yuan, fen by fen,
 * written and read back by a parser of the test's own (it refuses two 零 in a row, a 零 before a
 * unit, a place out of order, 整 after 分, and a 分 or 角 or 元 out of place), with as many 零 as
 * the rules ask for, counted from the digits (zeros_wanted); and large amounts across 万, 亿 and
 * 亿亿. */
#include "capitals.h"

#include <criterion/criterion.h>
#include <glib.h>
#include <string.h>

static const char *cap(int64_t fen, char buf[CAPITALS_TEXT_MAX])
{
	return capitals_format(fen, buf);
}

Test(capitals, the_examples_of_control_md_byte_for_byte)
{
	static const struct {
		int64_t fen;
		const char *text;
	} examples[] = {
		{ 0, "人民币零元整" },
		{ 5, "人民币伍分" },
		{ 50, "人民币伍角整" },
		{ 120000, "人民币壹仟贰佰元整" },
		{ 123456, "人民币壹仟贰佰叁拾肆元伍角陆分" },
		{ 100105, "人民币壹仟零壹元零伍分" },
		{ 10000010, "人民币壹拾万元零壹角整" },
		{ 2003040000, "人民币贰仟零叁万零肆佰元整" },
	};
	char buf[CAPITALS_TEXT_MAX];
	for (size_t i = 0; i < G_N_ELEMENTS(examples); i++)
		cr_assert_str_eq(cap(examples[i].fen, buf), examples[i].text, "%" G_GINT64_FORMAT " fen",
				 (gint64)examples[i].fen);
}

Test(capitals, more_forms_of_the_rules)
{
	char buf[CAPITALS_TEXT_MAX];
	cr_assert_str_eq(cap(1000, buf), "人民币壹拾元整");
	cr_assert_str_eq(cap(1050, buf), "人民币壹拾元零伍角整");
	cr_assert_str_eq(cap(1005, buf), "人民币壹拾元零伍分");
	cr_assert_str_eq(cap(150, buf), "人民币壹元伍角整");
	cr_assert_str_eq(cap(56, buf), "人民币伍角陆分");
	cr_assert_str_eq(cap(100000000, buf), "人民币壹佰万元整");
	cr_assert_str_eq(cap(100000100, buf), "人民币壹佰万零壹元整");
	cr_assert_str_eq(cap(10000000000, buf), "人民币壹亿元整");
	cr_assert_str_eq(cap(10000100000, buf), "人民币壹亿零壹仟元整");
	cr_assert_str_eq(cap(10100000000, buf), "人民币壹亿零壹佰万元整");
	cr_assert_str_eq(cap(12345678900000000, buf), "人民币壹佰贰拾叁万肆仟伍佰陆拾柒亿捌仟玖佰万元整");
	cr_assert_str_eq(cap(-1050, buf), "人民币负壹拾元零伍角整");
}

/* ------------------------------------------------------------------------------------------ */
/* The test's own reader of capitals: FALSE for anything the rules do not write. */

static int digit_of(gunichar c)
{
	static const char digits[] = "零壹贰叁肆伍陆柒捌玖";
	for (int d = 0; d < 10; d++)
		if (g_utf8_get_char(g_utf8_offset_to_pointer(digits, d)) == c)
			return d;
	return -1;
}

static int place_of(gunichar c)
{
	switch (c) {
	case 0x62FE: return 1; /* 拾 */
	case 0x4F70: return 2; /* 佰 */
	case 0x4EDF: return 3; /* 仟 */
	default: return 0;
	}
}

static gboolean parse_capitals(const char *text, int64_t *out)
{
	static const char prefix[] = "人民币";
	if (strncmp(text, prefix, strlen(prefix)) != 0)
		return FALSE;
	const char *p = text + strlen(prefix);
	gboolean negative = FALSE;
	if (g_str_has_prefix(p, "负")) {
		negative = TRUE;
		p += strlen("负");
	}
	if (strcmp(p, "零元整") == 0) {
		*out = 0;
		return !negative;
	}
	/* The number of yuan: digits with places, 万, 亿. */
	uint64_t total = 0, section = 0, group = 0;
	int digit = -1;          /* a digit read and not yet placed */
	int last_place = 4;      /* places within a group go down */
	gboolean zero = FALSE;   /* a 零 read, waiting for a digit */
	gboolean any = FALSE;    /* a non-zero digit read */
	gboolean yuan = FALSE;
	int jiao = 0, fen = 0;
	gboolean jiao_seen = FALSE, fen_seen = FALSE, whole = FALSE;
	for (; *p; p = g_utf8_next_char(p)) {
		if (whole || fen_seen)
			return FALSE; /* nothing after 整 or 分 */
		gunichar c = g_utf8_get_char(p);
		int d = digit_of(c);
		if (d == 0) {
			if (zero || digit >= 0 || jiao_seen)
				return FALSE; /* 零零, or 零 right after a digit */
			zero = TRUE;
			continue;
		}
		if (d > 0) {
			if (digit >= 0)
				return FALSE; /* two digits without a place */
			digit = d;
			continue;
		}
		int place = place_of(c);
		if (place > 0) {
			if (yuan || digit < 0 || place >= last_place)
				return FALSE;
			group += (uint64_t)digit * (place == 1 ? 10 : place == 2 ? 100 : 1000);
			last_place = place;
			digit = -1;
			zero = FALSE;
			any = TRUE;
			continue;
		}
		if (digit >= 0) { /* units digit of a group */
			group += (uint64_t)digit;
			digit = -1;
			zero = FALSE;
			any = TRUE;
			last_place = 0;
		}
		if (c == 0x4E07) { /* 万 */
			if (yuan || group == 0 || zero)
				return FALSE;
			section += group * 10000;
			group = 0;
			last_place = 4;
		} else if (c == 0x4EBF) { /* 亿 */
			if (yuan || (group == 0 && section == 0 && total == 0) || zero)
				return FALSE;
			total = (total + section + group) * 100000000;
			section = group = 0;
			last_place = 4;
		} else if (c == 0x5143) { /* 元 */
			if (yuan || !any || zero)
				return FALSE;
			total += section + group;
			section = group = 0;
			yuan = TRUE;
		} else if (c == 0x89D2) { /* 角 */
			if (jiao_seen || !any || group == 0 || group > 9 || (yuan && 0))
				return FALSE;
			jiao = (int)group;
			group = 0;
			jiao_seen = TRUE;
			zero = FALSE;
		} else if (c == 0x5206) { /* 分 */
			if (group == 0 || group > 9)
				return FALSE;
			fen = (int)group;
			group = 0;
			fen_seen = TRUE;
		} else if (c == 0x6574) { /* 整 */
			if (!yuan && !jiao_seen)
				return FALSE;
			whole = TRUE;
		} else {
			return FALSE;
		}
	}
	if (!whole && !fen_seen)
		return FALSE;
	if (digit >= 0 || group != 0 || section != 0)
		return FALSE;
	*out = (int64_t)(total * 100 + (uint64_t)jiao * 10 + (uint64_t)fen);
	if (negative)
		*out = -*out;
	return TRUE;
}

Test(capitals, the_parser_refuses_what_the_rules_do_not_write)
{
	int64_t v;
	cr_assert(parse_capitals("人民币壹仟零壹元零伍分", &v) && v == 100105);
	cr_assert_not(parse_capitals("人民币壹仟零零壹元整", &v));
	cr_assert_not(parse_capitals("人民币伍分整", &v));
	cr_assert_not(parse_capitals("人民币壹拾佰元整", &v));
	cr_assert_not(parse_capitals("人民币壹元", &v));
	cr_assert_not(parse_capitals("壹元整", &v));
}

/* How many 零 the rules write for fen > 0, from its digits: one per run of zeros between two
 * non-zero digits of the yuan, except a run that only ends a group of four whose unit (万, 亿) is
 * written right after it (107000 is 壹拾万柒仟); then one after 元 when the 角 is zero before a
 * non-zero 分, or the 元 place is zero before a non-zero 角 (written, as CONTROL.md chooses). */
static int zeros_wanted(int64_t fen)
{
	int64_t yuan = fen / 100, jiao = fen / 10 % 10, f = fen % 10;
	int n = 0, last = -1; /* position of the last non-zero digit seen, from the top */
	int digits[20], k = 0;
	for (int64_t v = yuan; v > 0; v /= 10)
		digits[k++] = (int)(v % 10);
	for (int pos = k - 1; pos >= 0; pos--) {
		if (digits[pos] == 0)
			continue;
		if (last >= 0 && last > pos + 1 && !((pos + 1) % 4 == 0 && last <= pos + 4))
			n++;
		last = pos;
	}
	if (yuan > 0 && (jiao > 0 || f > 0) && (jiao == 0 || yuan % 10 == 0))
		n++;
	return n;
}

static int count_zeros(const char *text)
{
	int n = 0;
	for (const char *p = strstr(text, "零"); p; p = strstr(p + 1, "零"))
		n++;
	return n;
}

Test(capitals, zeros_wanted_counts_as_the_rules_do)
{
	cr_assert_eq(zeros_wanted(100105), 2);     /* 壹仟零壹元零伍分 */
	cr_assert_eq(zeros_wanted(10700053), 1);   /* 壹拾万柒仟元零伍角叁分 */
	cr_assert_eq(zeros_wanted(2003040000), 2); /* 贰仟零叁万零肆佰元整 */
	cr_assert_eq(zeros_wanted(10000100000), 1); /* 壹亿零壹仟元整 */
	char buf[CAPITALS_TEXT_MAX];
	cr_assert_str_eq(capitals_format(10700053, buf), "人民币壹拾万柒仟元零伍角叁分");
}

/* Every amount from 0.00 to 100,000.00 yuan: 10,000,001 values, each written and read back, and
 * 整 written exactly when the fen place is zero. */
Test(capitals, every_amount_to_100000_yuan_round_trips, .timeout = 600)
{
	char buf[CAPITALS_TEXT_MAX];
	static const char whole[] = "整";
	for (int64_t fen = 0; fen <= 10000000; fen++) {
		capitals_format(fen, buf);
		int64_t back = -1;
		if (!parse_capitals(buf, &back) || back != fen)
			cr_assert_fail("%" G_GINT64_FORMAT " fen: '%s' reads back as %" G_GINT64_FORMAT, (gint64)fen, buf,
				       (gint64)back);
		if (fen > 0 && count_zeros(buf) != zeros_wanted(fen))
			cr_assert_fail("%" G_GINT64_FORMAT " fen: '%s' has %d 零, the rules write %d", (gint64)fen, buf,
				       count_zeros(buf), zeros_wanted(fen));
		if (g_str_has_suffix(buf, whole) != (fen % 10 == 0))
			cr_assert_fail("%" G_GINT64_FORMAT " fen: '%s' (整 exactly when the fen place is zero)", (gint64)fen,
				       buf);
	}
}

Test(capitals, large_amounts_round_trip)
{
	char big[CAPITALS_TEXT_MAX];
	for (int64_t fen = 0; fen < 10000000000000000; fen = fen * 7 + 13) {
		cr_assert_eq(count_zeros(capitals_format(fen, big)), fen ? zeros_wanted(fen) : 1, "%s", big);
	}
	static const int64_t amounts[] = { 2003040000,	    10000000000,     10000000001,	123456789012345,
					   100000000000000, 100010001000100, 9000000000000000, 12345678900000000,
					   INT64_MAX,	    -INT64_MAX,	     INT64_MIN + 1 };
	char buf[CAPITALS_TEXT_MAX];
	for (size_t i = 0; i < G_N_ELEMENTS(amounts); i++) {
		int64_t back = -1;
		capitals_format(amounts[i], buf);
		cr_assert(parse_capitals(buf, &back) && back == amounts[i], "%" G_GINT64_FORMAT ": '%s' reads back as %" G_GINT64_FORMAT,
			  (gint64)amounts[i], buf, (gint64)back);
	}
}
