/* fuzz/chrono.c: the date and time parsers (chrono_parse with the pickup formats profiles use,
 * chrono_parse_day, chrono_parse_time) against their grammar written out again here, and the
 * calendar against GLib's GDate.
 *
 * Input: byte 0 chooses the pattern, the rest (up to a NUL) is the text. Its first 12 bytes, when
 * there are that many, also give a civil date (year, month, day) and a time for the round trips. */
#include "fuzz.h"

#include "chrono.h"

/* The formats of the shipped profiles, and others profile_load accepts. */
static const char *const patterns[] = {
	"%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d%H%M%S",
	"%d.%m.%Y %H:%M", "%Y年%m月%d日 %H时%M分%S秒", "%m/%d/%Y %H:%M:%S", "%Y-%m-%dT%H:%M",
};

/* Days since 1970-01-01 by GDate, which counts from 0001-01-01 (day 1). */
static gboolean gdate_day(int y, int m, int d, int64_t *out)
{
	if (y < 1900 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31 ||
	    !g_date_valid_dmy((GDateDay)d, (GDateMonth)m, (GDateYear)y))
		return FALSE;
	GDate date;
	g_date_clear(&date, 1);
	g_date_set_dmy(&date, (GDateDay)d, (GDateMonth)m, (GDateYear)y);
	*out = (int64_t)g_date_get_julian(&date) - 719163;
	return TRUE;
}

/* chrono.h's grammar: spaces around; %Y four digits; %m %d %H %M %S one or two digits (as many as
 * there are, up to two); any other character itself; a date that exists, a time of day. */
static gboolean reference_parse(const char *text, const char *pattern, int64_t *out)
{
	int v[6] = { 1970, 1, 1, 0, 0, 0 }; /* Y m d H M S */
	const char *p = text;
	while (*p == ' ')
		p++;
	for (const char *f = pattern; *f; f++) {
		if (*f == '%' && f[1]) {
			f++;
			const char *at = strchr("YmdHMS", *f);
			g_assert(at);
			int min = *f == 'Y' ? 4 : 1, max = *f == 'Y' ? 4 : 2, n = 0, x = 0;
			for (; n < max && g_ascii_isdigit(*p); n++, p++)
				x = x * 10 + (*p - '0');
			if (n < min)
				return FALSE;
			v[at - "YmdHMS"] = x;
		} else if (*p++ != *f) {
			return FALSE;
		}
	}
	while (*p == ' ')
		p++;
	int64_t day;
	if (*p || !gdate_day(v[0], v[1], v[2], &day) || v[3] > 23 || v[4] > 59 || v[5] > 59)
		return FALSE;
	*out = day * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
	return TRUE;
}

/* FORMATS.md: "Dates are YYYY-MM-DD"; times of registry and payments files YYYY-MM-DD HH:MM:SS. */
static gboolean canonical_shape(const char *text, const char *shape)
{
	size_t n = strlen(shape);
	if (strlen(text) != n)
		return FALSE;
	for (size_t i = 0; i < n; i++)
		if (shape[i] == '9' ? !g_ascii_isdigit(text[i]) : text[i] != shape[i])
			return FALSE;
	return TRUE;
}

static void check_day_round_trip(chrono_day d)
{
	char buf[CHRONO_DAY_TEXT_MAX];
	chrono_format_day(d, buf);
	chrono_day back;
	GError *e = NULL;
	FUZZ_CHECK(chrono_parse_day(buf, &back, &e) && back == d, "day %d formats as '%s'", d, buf);
}

static void check_time_round_trip(chrono_time t)
{
	char buf[CHRONO_TIME_TEXT_MAX];
	chrono_format_time(t, buf);
	chrono_time back;
	GError *e = NULL;
	FUZZ_CHECK(chrono_parse_time(buf, &back, &e) && back == t, "time %" G_GINT64_FORMAT " formats as '%s'", t,
		   buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *pattern = patterns[data[0] % G_N_ELEMENTS(patterns)];
	g_autofree char *text = fuzz_string(data + 1, size - 1);
	gboolean utf8 = g_utf8_validate(text, -1, NULL);

	chrono_time t = 0;
	gboolean seconds = FALSE;
	int64_t want = 0;
	GError *e = NULL;
	gboolean ok = chrono_parse(text, pattern, &t, &seconds, &e);
	gboolean want_ok = reference_parse(text, pattern, &want);
	FUZZ_CHECK(ok == want_ok, "'%s' by '%s': chrono_parse says %s, the grammar %s", text, pattern,
		   ok ? "yes" : "no", want_ok ? "yes" : "no");
	if (ok) {
		FUZZ_CHECK(t == want, "'%s' by '%s': %" G_GINT64_FORMAT ", the grammar %" G_GINT64_FORMAT, text,
			   pattern, t, want);
		FUZZ_CHECK(seconds == (strstr(pattern, "%S") != NULL), "has_seconds");
		check_time_round_trip(t);
		check_day_round_trip(chrono_day_of(t));
	} else {
		FUZZ_CHECK_ERROR(e, CHRONO_ERROR, utf8);
		g_clear_error(&e);
	}

	chrono_day d;
	if (chrono_parse_day(text, &d, &e)) {
		FUZZ_CHECK(canonical_shape(text, "9999-99-99"), "'%s' accepted as a date", text);
		char buf[CHRONO_DAY_TEXT_MAX];
		chrono_format_day(d, buf);
		FUZZ_CHECK(strcmp(buf, text) == 0, "'%s' is day %d, which is '%s'", text, d, buf);
	} else {
		FUZZ_CHECK_ERROR(e, CHRONO_ERROR, utf8);
		g_clear_error(&e);
	}
	if (chrono_parse_time(text, &t, &e)) {
		FUZZ_CHECK(canonical_shape(text, "9999-99-99 99:99:99"), "'%s' accepted as a time", text);
		char buf[CHRONO_TIME_TEXT_MAX];
		chrono_format_time(t, buf);
		FUZZ_CHECK(strcmp(buf, text) == 0, "'%s' is time %" G_GINT64_FORMAT ", which is '%s'", text, t, buf);
	} else {
		FUZZ_CHECK_ERROR(e, CHRONO_ERROR, utf8);
		g_clear_error(&e);
	}

	if (size >= 13) {
		int32_t y, md;
		uint32_t secs;
		memcpy(&y, data + 1, 4);
		memcpy(&md, data + 5, 4);
		memcpy(&secs, data + 9, 4);
		int year = 1900 + (int)((uint32_t)y % 8100), month = md & 0xff, mday = (md >> 8) & 0xff;
		chrono_day day = 0;
		int64_t gday = 0;
		gboolean valid = chrono_day_from_ymd(year, month, mday, &day);
		FUZZ_CHECK(valid == gdate_day(year, month, mday, &gday), "%d-%d-%d valid?", year, month, mday);
		if (valid) {
			FUZZ_CHECK(day == gday, "%d-%d-%d is day %d, GDate says %" G_GINT64_FORMAT, year, month, mday, day,
				   gday);
			int y2, m2, d2;
			chrono_day_to_ymd(day, &y2, &m2, &d2);
			FUZZ_CHECK(y2 == year && m2 == month && d2 == mday, "day %d back to %d-%d-%d", day, y2, m2, d2);
			check_day_round_trip(day);
			check_time_round_trip(chrono_time_of_day(day) + secs % CHRONO_DAY_SECONDS);
		}
	}
	return 0;
}
