/* chrono.c: China-time days and times; see chrono.h. Civil-date arithmetic after Howard
 * Hinnant's days_from_civil, validity by GLib's g_date_valid_dmy. */
#include "chrono.h"

#include "status.h"

#include <string.h>

G_DEFINE_QUARK(subsidy-chrono-error-quark, chrono_error)

/* Years outside this range are typing errors, not manifests of a 2016-2018 programme. */
#define CHRONO_YEAR_MIN 1900
#define CHRONO_YEAR_MAX 9999

gboolean chrono_day_from_ymd(int year, int month, int day, chrono_day *out)
{
	if (year < CHRONO_YEAR_MIN || year > CHRONO_YEAR_MAX || month < 1 || month > 12 || day < 1 || day > 31 ||
	    !g_date_valid_dmy((GDateDay)day, (GDateMonth)month, (GDateYear)year))
		return FALSE;
	int y = year - (month <= 2);
	int era = y / 400;
	int yoe = y - era * 400;
	int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	*out = era * 146097 + doe - 719468;
	return TRUE;
}

void chrono_day_to_ymd(chrono_day d, int *year, int *month, int *day)
{
	int z = d + 719468;
	int era = (z >= 0 ? z : z - 146096) / 146097;
	int doe = z - era * 146097;
	int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int mp = (5 * doy + 2) / 153;
	*day = doy - (153 * mp + 2) / 5 + 1;
	*month = mp + (mp < 10 ? 3 : -9);
	*year = yoe + era * 400 + (*month <= 2);
}

/* Reads 1..max digits at *p. */
static gboolean digits(const char **p, int min, int max, int *out)
{
	int n = 0, v = 0;
	while (n < max && **p >= '0' && **p <= '9') {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	*out = v;
	return n >= min;
}

gboolean chrono_parse(const char *text, const char *pattern, chrono_time *out, gboolean *has_seconds,
		      GError **error)
{
	int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
	gboolean seen_s = FALSE;
	const char *p = text;
	while (*p == ' ')
		p++;
	for (const char *f = pattern; *f; f++) {
		gboolean ok = TRUE;
		if (*f == '%' && f[1]) {
			f++;
			switch (*f) {
			case 'Y': ok = digits(&p, 4, 4, &year); break;
			case 'm': ok = digits(&p, 1, 2, &month); break;
			case 'd': ok = digits(&p, 1, 2, &day); break;
			case 'H': ok = digits(&p, 1, 2, &hour); break;
			case 'M': ok = digits(&p, 1, 2, &minute); break;
			case 'S': ok = digits(&p, 1, 2, &second); seen_s = TRUE; break;
			default: g_assert_not_reached();
			}
		} else {
			ok = *p == *f;
			if (ok)
				p++;
		}
		if (!ok) {
			g_set_error(error, CHRONO_ERROR, STATUS_DATAERR, "'%s' does not match the format '%s'", text,
				    pattern);
			return FALSE;
		}
	}
	while (*p == ' ')
		p++;
	if (*p) {
		g_set_error(error, CHRONO_ERROR, STATUS_DATAERR, "'%s' does not match the format '%s'", text, pattern);
		return FALSE;
	}
	chrono_day d;
	if (!chrono_day_from_ymd(year, month, day, &d)) {
		g_set_error(error, CHRONO_ERROR, STATUS_DATAERR, "'%s' is not a date that exists", text);
		return FALSE;
	}
	if (hour > 23 || minute > 59 || second > 59) {
		g_set_error(error, CHRONO_ERROR, STATUS_DATAERR, "'%s' is not a time of day (00:00:00 to 23:59:59)",
			    text);
		return FALSE;
	}
	*out = chrono_time_of_day(d) + hour * 3600 + minute * 60 + second;
	if (has_seconds)
		*has_seconds = seen_s;
	return TRUE;
}

#define EXCEL_FRACTION_SCALE_MAX 1000000000 /* 9 digits: more say nothing a second can hold */
/* Excel's day 61 is 1900-03-01 (its day 60 is 1900-02-29, which never was). */
#define EXCEL_FIRST_REAL_DAY 61

gboolean chrono_parse_excel(const char *text, chrono_time *out, gboolean *has_time, GError **error)
{
	const char *p = text;
	while (*p == ' ')
		p++;
	int64_t days = 0;
	int n_int = 0;
	for (; g_ascii_isdigit(*p) && n_int < 7; p++, n_int++)
		days = days * 10 + (*p - '0');
	int64_t frac = 0, scale = 1;
	gboolean fraction = FALSE;
	if (n_int > 0 && *p == '.') {
		fraction = TRUE;
		for (p++; g_ascii_isdigit(*p); p++) {
			if (scale < EXCEL_FRACTION_SCALE_MAX) {
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			}
		}
	}
	while (*p == ' ')
		p++;
	if (n_int == 0 || *p) {
		g_set_error(error, CHRONO_ERROR, STATUS_DATAERR, "'%s' is not an Excel serial date (like 44562)", text);
		return FALSE;
	}
	if (days < EXCEL_FIRST_REAL_DAY) {
		g_set_error(error, CHRONO_ERROR, STATUS_DATAERR, "Excel serial date '%s' is before 1900-03-01", text);
		return FALSE;
	}
	chrono_day first; /* Excel's day EXCEL_FIRST_REAL_DAY */
	gboolean ok = chrono_day_from_ymd(1900, 3, 1, &first);
	g_assert(ok);
	chrono_day d = first + (chrono_day)(days - EXCEL_FIRST_REAL_DAY);
	int year, month, day;
	chrono_day_to_ymd(d, &year, &month, &day);
	if (year > CHRONO_YEAR_MAX) {
		g_set_error(error, CHRONO_ERROR, STATUS_DATAERR, "Excel serial date '%s' is after the year %d", text,
			    CHRONO_YEAR_MAX);
		return FALSE;
	}
	/* The time of day to the nearest second, in integers: frac/scale of 86400 seconds. */
	int64_t seconds = (frac * CHRONO_DAY_SECONDS + scale / 2) / scale;
	*out = chrono_time_of_day(d) + seconds;
	if (has_time)
		*has_time = fraction;
	return TRUE;
}

/* TRUE when text has shape's length and, where shape has '9', a digit, elsewhere shape's character:
 * the fixed forms of FORMATS.md, which chrono_parse alone (1-digit fields, spaces around) exceeds. */
static gboolean has_shape(const char *text, const char *shape)
{
	for (; *shape; text++, shape++)
		if (*shape == '9' ? !g_ascii_isdigit(*text) : *text != *shape)
			return FALSE;
	return *text == '\0';
}

gboolean chrono_parse_day(const char *text, chrono_day *out, GError **error)
{
	chrono_time t;
	if (!has_shape(text, "9999-99-99")) {
		g_set_error(error, CHRONO_ERROR, STATUS_DATAERR, "'%s' is not a date like 2018-06-18", text);
		return FALSE;
	}
	if (!chrono_parse(text, "%Y-%m-%d", &t, NULL, error))
		return FALSE;
	*out = chrono_day_of(t);
	return TRUE;
}

gboolean chrono_parse_time(const char *text, chrono_time *out, GError **error)
{
	if (!has_shape(text, "9999-99-99 99:99:99")) {
		g_set_error(error, CHRONO_ERROR, STATUS_DATAERR, "'%s' is not a time like 2018-06-18 00:00:00", text);
		return FALSE;
	}
	return chrono_parse(text, "%Y-%m-%d %H:%M:%S", out, NULL, error);
}

void chrono_format_day(chrono_day d, char buf[CHRONO_DAY_TEXT_MAX])
{
	int y, m, dd;
	chrono_day_to_ymd(d, &y, &m, &dd);
	g_snprintf(buf, CHRONO_DAY_TEXT_MAX, "%04d-%02d-%02d", y, m, dd);
}

void chrono_format_time(chrono_time t, char buf[CHRONO_TIME_TEXT_MAX])
{
	chrono_day d = chrono_day_of(t);
	int64_t s = t - chrono_time_of_day(d);
	int y, m, dd;
	chrono_day_to_ymd(d, &y, &m, &dd);
	if (y < 0 || y > 9999) {
		g_snprintf(buf, CHRONO_TIME_TEXT_MAX, "%04d-%02d-%02d %02d:%02d:%02d", y, m, dd, (int)(s / 3600),
			   (int)(s / 60 % 60), (int)(s % 60));
		return;
	}
	/* By hand: ingest writes one per line, and snprintf was a tenth of its client time. */
	const int parts[] = { m, dd, (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60) };
	static const char seps[] = "-- ::";
	char *p = buf;
	*p++ = (char)('0' + y / 1000);
	*p++ = (char)('0' + y / 100 % 10);
	*p++ = (char)('0' + y / 10 % 10);
	*p++ = (char)('0' + y % 10);
	for (int i = 0; i < 5; i++) {
		g_assert(parts[i] >= 0 && parts[i] < 100);
		*p++ = seps[i];
		*p++ = (char)('0' + parts[i] / 10);
		*p++ = (char)('0' + parts[i] % 10);
	}
	*p = '\0';
	g_assert(p < buf + CHRONO_TIME_TEXT_MAX);
}

chrono_time chrono_now(void)
{
	return g_get_real_time() / G_USEC_PER_SEC + CHRONO_CHINA_OFFSET_S;
}
