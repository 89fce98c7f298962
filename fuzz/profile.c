/* fuzz/profile.c: the profile loader (profile_load, the key file of profiles/NAME.profile), then
 * what a loaded profile is used for: mapping its own header row (profile_map_header, encoded in
 * the profile's encoding) and parsing a pickup time with its pickup_format.
 *
 * Input: the key file. Its name= (when it has one that makes a file name) names the origin, so
 * that the loader's "name must be the file's" check passes and the rest is reached. Properties:
 * a refused profile has a DATAERR message naming the origin; a loaded one has what profile.h
 * promises (name, encoding, header, ignore; pickup_format usable by chrono_parse, which aborts on
 * a directive it does not know); its own header, joined with commas, maps unless a column name
 * needs CSV quoting, and every mapped column is in it. */
#include "fuzz.h"

#include "chrono.h"
#include "profile.h"
#include "status.h"

/* The value of the first "name=" line, when it is a plain file name. */
static char *name_in(const char *text)
{
	const char *at = strstr(text, "\nname=");
	if (!at)
		return NULL;
	at += 6;
	size_t n = strcspn(at, "\r\n");
	char *name = g_strstrip(g_strndup(at, n));
	if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		g_free(name);
		return NULL;
	}
	return name;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *text = g_strndup((const char *)data, size); /* key files are text: up to a NUL */
	g_autofree char *name = name_in(text);
	g_autofree char *origin = g_strdup_printf("fuzz/%s.profile", name ? name : "fuzz");
	GError *e = NULL;
	profile *p = profile_load(text, strlen(text), origin, &e);
	if (!p) {
		FUZZ_CHECK_ERROR(e, PROFILE_ERROR, g_utf8_validate(text, -1, NULL));
		FUZZ_CHECK(e->code == STATUS_DATAERR, "code %d: %s", e->code, e->message);
		FUZZ_CHECK(strstr(e->message, origin) != NULL, "origin not named: %s", e->message);
		g_clear_error(&e);
		return 0;
	}
	FUZZ_CHECK(p->name && p->encoding && p->header && p->ignore && p->origin, "a member missing");
	FUZZ_CHECK(!p->totals_row == !p->totals_column, "totals_row without totals_column");
	for (int f = 0; f < PROFILE_FIELD_COUNT; f++)
		FUZZ_CHECK(p->field[f].n_columns <= PROFILE_FIELD_COLUMNS_MAX, "columns");

	chrono_time t;
	const char *format = p->pickup_format ? p->pickup_format : "%Y-%m-%d %H:%M:%S";
	(void)chrono_parse("2018-06-18 14:23:05", format, &t, NULL, NULL);
	(void)chrono_parse(text, format, &t, NULL, NULL);

	/* The profile's own header row, in its encoding. */
	g_autofree char *joined = g_strjoinv(",", p->header);
	gboolean plain = strpbrk(joined, "\"\r\n") == NULL;
	for (char **c = p->header; plain && *c; c++)
		plain = **c && !g_ascii_isspace(**c) && !g_ascii_isspace((*c)[strlen(*c) - 1]);
	gsize len = 0;
	g_autofree char *raw = g_convert(joined, -1, p->encoding, "UTF-8", NULL, &len, NULL);
	if (raw) {
		static const char *const overrides[] = { "courier=ZTO", "sender_code=S1", NULL };
		profile_map *m = profile_map_header(p, raw, len, overrides, "fuzz.csv", &e);
		if (m) {
			FUZZ_CHECK(m->profile == p, "map of another profile");
			for (int f = 0; f < PROFILE_FIELD_COUNT; f++)
				for (guint c = 0; c < m->field[f].n_columns; c++)
					FUZZ_CHECK(m->field[f].column[c] < m->n_header, "column index %u of %u",
						   m->field[f].column[c], m->n_header);
			profile_map_free(m);
		} else {
			/* With courier and sender fixed, a header that is the profile's own always maps. */
			FUZZ_CHECK(!plain, "the profile's own header '%s' does not map: %s", joined, e->message);
			FUZZ_CHECK_ERROR(e, PROFILE_ERROR, TRUE);
			g_clear_error(&e);
		}
	}
	profile_free(p);
	return 0;
}
