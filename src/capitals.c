/* capitals.c: amounts in Chinese capitals; see capitals.h. */
#include "capitals.h"

#include <glib.h>
#include <string.h>

static const char *const digit_text[10] = { "零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖" };
/* The places inside a group of four digits, from the units up. */
static const char *const place_text[4] = { "", "拾", "佰", "仟" };

typedef struct {
	char *buf;
	size_t len;
} writer;

static void put(writer *w, const char *text)
{
	size_t n = strlen(text);
	g_assert(w->len + n < CAPITALS_TEXT_MAX);
	memcpy(w->buf + w->len, text, n + 1);
	w->len += n;
}

/* 1..9999: the digits from the highest non-zero down; a run of zeros between two non-zero digits
 * is one 零, zeros at the end none. */
static void group_of_four(writer *w, unsigned v)
{
	g_assert(v >= 1 && v <= 9999);
	unsigned d[4] = { v % 10, v / 10 % 10, v / 100 % 10, v / 1000 };
	gboolean started = FALSE, zero = FALSE;
	for (int place = 3; place >= 0; place--) {
		if (d[place] == 0) {
			zero = started;
			continue;
		}
		if (zero)
			put(w, digit_text[0]);
		zero = FALSE;
		started = TRUE;
		put(w, digit_text[d[place]]);
		put(w, place_text[place]);
	}
}

/* 1..99999999: 万 and the group below it, with 零 when that group has leading zeros. */
static void below_yi(writer *w, uint64_t v)
{
	g_assert(v >= 1 && v < 100000000);
	if (v < 10000) {
		group_of_four(w, (unsigned)v);
		return;
	}
	group_of_four(w, (unsigned)(v / 10000));
	put(w, "万");
	unsigned rest = (unsigned)(v % 10000);
	if (rest == 0)
		return;
	if (rest < 1000)
		put(w, digit_text[0]);
	group_of_four(w, rest);
}

/* v >= 1 yuan: 亿 sections from the top (亿亿 beyond 10^16), each below_yi. */
static void yuan_text(writer *w, uint64_t v)
{
	g_assert(v >= 1);
	if (v < 100000000) {
		below_yi(w, v);
		return;
	}
	yuan_text(w, v / 100000000);
	put(w, "亿");
	uint64_t rest = v % 100000000;
	if (rest == 0)
		return;
	if (rest < 10000000)
		put(w, digit_text[0]);
	below_yi(w, rest);
}

char *capitals_format(int64_t fen, char buf[CAPITALS_TEXT_MAX])
{
	writer w = { buf, 0 };
	buf[0] = '\0';
	put(&w, "人民币");
	/* The magnitude in unsigned arithmetic: -INT64_MIN does not fit an int64_t. */
	uint64_t m = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
	if (fen < 0)
		put(&w, "负");
	uint64_t yuan = m / 100;
	unsigned jiao = (unsigned)(m / 10 % 10), fen_digit = (unsigned)(m % 10);
	if (yuan == 0 && jiao == 0 && fen_digit == 0) {
		put(&w, "零元整");
		return buf;
	}
	if (yuan > 0) {
		yuan_text(&w, yuan);
		put(&w, "元");
		if (jiao == 0 && fen_digit == 0) {
			put(&w, "整");
			return buf;
		}
		/* A zero 角 between 元 and 分 is a zero inside the number; a zero 元 place before
		 * the 角 may be written or not, and CONTROL.md writes it. */
		if (jiao == 0 || yuan % 10 == 0)
			put(&w, digit_text[0]);
	}
	if (jiao > 0) {
		put(&w, digit_text[jiao]);
		put(&w, "角");
	}
	if (fen_digit > 0) {
		put(&w, digit_text[fen_digit]);
		put(&w, "分");
	} else {
		put(&w, "整");
	}
	return buf;
}
