/* chrono.h: dates and times as the programme sees them: China time (UTC+8, no daylight saving).
 *
 * A day is a count of days since 1970-01-01 in the proleptic Gregorian calendar; a time is a
 * count of seconds since 1970-01-01 00:00:00 China wall time. Both are plain integers, so the
 * pure modules (policy) compare them without a clock or a time zone database. */
#ifndef SUBSIDY_CHRONO_H
#define SUBSIDY_CHRONO_H

#include <glib.h>
#include <stdint.h>

#define CHRONO_ERROR chrono_error_quark()
GQuark chrono_error_quark(void);

typedef int32_t chrono_day;
typedef int64_t chrono_time;

#define CHRONO_DAY_SECONDS 86400
#define CHRONO_CHINA_OFFSET_S (8 * 3600)
/* "YYYY-MM-DD HH:MM:SS" and its NUL */
#define CHRONO_TIME_TEXT_MAX 20
#define CHRONO_DAY_TEXT_MAX 11

/* Days from a civil date; FALSE when the date does not exist (2018-02-30, month 13...). */
gboolean chrono_day_from_ymd(int year, int month, int day, chrono_day *out);
void chrono_day_to_ymd(chrono_day d, int *year, int *month, int *day);

static inline chrono_day chrono_day_of(chrono_time t)
{
	return (chrono_day)(t >= 0 ? t / CHRONO_DAY_SECONDS : -((-t + CHRONO_DAY_SECONDS - 1) / CHRONO_DAY_SECONDS));
}

static inline chrono_time chrono_time_of_day(chrono_day d)
{
	return (chrono_time)d * CHRONO_DAY_SECONDS;
}

/* Parses text by a strptime-like pattern: %Y four digits, %m %d %H %M %S one or two digits,
 * any other character must match itself. Surrounding spaces are ignored. Refuses dates that do
 * not exist and times out of range (24:00:00, 12:60). *has_seconds (may be NULL) says whether
 * the pattern had %S. Fields absent from the pattern are 0 (a date alone is the start of day).
 * The error names the text and the problem. */
gboolean chrono_parse(const char *text, const char *pattern, chrono_time *out, gboolean *has_seconds,
		      GError **error);

/* Parses Excel's serial date: days since 1899-12-30 (44562 is 2022-01-01), a fraction the time of
 * day to the nearest second (44562.5 is 2022-01-01 12:00:00). Refuses what is not digits with an
 * optional fraction, and days before 1900-03-01 (Excel counts a 1900-02-29 that never was).
 * *has_time (may be NULL): a fraction was given. No floating point. */
gboolean chrono_parse_excel(const char *text, chrono_time *out, gboolean *has_time, GError **error);

/* "YYYY-MM-DD" and "YYYY-MM-DD HH:MM:SS"; an empty text is refused. */
gboolean chrono_parse_day(const char *text, chrono_day *out, GError **error);
gboolean chrono_parse_time(const char *text, chrono_time *out, GError **error);

void chrono_format_day(chrono_day d, char buf[CHRONO_DAY_TEXT_MAX]);
void chrono_format_time(chrono_time t, char buf[CHRONO_TIME_TEXT_MAX]);

/* The current China wall time (the one impure function here). */
chrono_time chrono_now(void);

#endif
