/* Unit tests: chrono's day and time parsers keep to FORMATS.md's YYYY-MM-DD and
 * YYYY-MM-DD HH:MM:SS (fuzz/chrono.c found shorter fields padded with spaces accepted). */
#include "chrono.h"

#include <criterion/criterion.h>

static void day_refused(const char *text)
{
	chrono_day d;
	GError *e = NULL;
	cr_assert_not(chrono_parse_day(text, &d, &e), "'%s' accepted as a date", text);
	cr_assert_not_null(e);
	g_error_free(e);
}

static void time_refused(const char *text)
{
	chrono_time t;
	GError *e = NULL;
	cr_assert_not(chrono_parse_time(text, &t, &e), "'%s' accepted as a time", text);
	cr_assert_not_null(e);
	g_error_free(e);
}

Test(chrono, parse_day_canonical)
{
	chrono_day d;
	cr_assert(chrono_parse_day("2018-06-18", &d, NULL));
	char buf[CHRONO_DAY_TEXT_MAX];
	chrono_format_day(d, buf);
	cr_assert_str_eq(buf, "2018-06-18");
}

Test(chrono, parse_time_canonical)
{
	chrono_time t;
	cr_assert(chrono_parse_time("2018-06-18 14:23:05", &t, NULL));
	char buf[CHRONO_TIME_TEXT_MAX];
	chrono_format_time(t, buf);
	cr_assert_str_eq(buf, "2018-06-18 14:23:05");
}

/* fuzz/regressions/chrono/day-padded */
Test(chrono, day_refuses_short_day_padded_with_a_space) { day_refused("2018-06-1 "); }
Test(chrono, day_refuses_short_month_padded_with_spaces) { day_refused(" 2018-6-1 "); }
Test(chrono, day_refuses_leading_spaces) { day_refused("  2018-6-1"); }
Test(chrono, day_refuses_other_separators) { day_refused("2018/06/18"); }
Test(chrono, time_refuses_short_fields_padded_with_spaces) { time_refused("2018-6-18 9:05:07  "); }
Test(chrono, time_refuses_leading_spaces) { time_refused("  2018-06-18 9:5:07"); }
Test(chrono, day_refuses_nonexistent_date) { day_refused("2018-02-29"); }

/* FORMATS.md: Excel's serial dates, 44562 is 2022-01-01; a fraction is the time of day. */
static chrono_time excel(const char *text, gboolean *has_time)
{
	chrono_time t = 0;
	GError *e = NULL;
	cr_assert(chrono_parse_excel(text, &t, has_time, &e), "'%s' refused: %s", text, e ? e->message : "");
	return t;
}

Test(chrono, excel_serial_dates)
{
	chrono_time want;
	gboolean has_time = TRUE;
	cr_assert(chrono_parse_time("2022-01-01 00:00:00", &want, NULL));
	cr_assert_eq(excel("44562", &has_time), want);
	cr_assert_not(has_time);
	cr_assert(chrono_parse_time("2022-01-01 12:00:00", &want, NULL));
	cr_assert_eq(excel(" 44562.5 ", &has_time), want);
	cr_assert(has_time);
	cr_assert(chrono_parse_time("1900-03-01 00:00:00", &want, NULL));
	cr_assert_eq(excel("61", NULL), want);
	/* 14:23:05 is 51785 s, 0.59936342592... of a day: the nearest second */
	cr_assert(chrono_parse_time("2018-06-18 14:23:05", &want, NULL));
	cr_assert_eq(excel("43269.599363425925", NULL), want);
}

Test(chrono, excel_serial_refuses_what_is_not_one)
{
	const char *bad[] = { "", "abc", "44562x", "-44562", "4.4562e4", "60", "2022-01-01", ".5" };
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		chrono_time t;
		GError *e = NULL;
		cr_assert_not(chrono_parse_excel(bad[i], &t, NULL, &e), "'%s' accepted", bad[i]);
		g_error_free(e);
	}
}
