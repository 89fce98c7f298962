/* profile.c: courier profiles; see profile.h. Profiles are GLib key files (list separator ','), so a
 * header row is pasted into a profile as it appears in the courier's file. A file's header is
 * decoded with the profile's encoding and split with libcsv, as its lines will be (manifest.c). */
#include "profile.h"

#include "assets.h"
#include "ident.h"
#include "status.h"
#include "text.h"

#include <csv.h>
#include <string.h>

G_DEFINE_QUARK(subsidy-profile-error-quark, profile_error)

#define PROFILE_SUFFIX ".profile"
#define PROFILE_LIST_SEPARATOR ','

/* NULL-terminated, so that it joins into a message. */
static const char *const field_names[PROFILE_FIELD_COUNT + 1] = {
	[PROFILE_COURIER] = "courier",
	[PROFILE_WAYBILL_NO] = "waybill_no",
	[PROFILE_ORDER_NO] = "order_no",
	[PROFILE_PICKUP_TIME] = "pickup_time",
	[PROFILE_SENDER_CODE] = "sender_code",
	[PROFILE_SENDER_PHONE] = "sender_phone",
	[PROFILE_WEIGHT_KG] = "weight_kg",
	[PROFILE_FEE] = "fee",
	[PROFILE_CATEGORY] = "category",
	[PROFILE_DESTINATION] = "destination",
	[PROFILE_FIELD_COUNT] = NULL,
};

const profile_field profile_required[PROFILE_REQUIRED_COUNT] = { PROFILE_COURIER, PROFILE_WAYBILL_NO,
								   PROFILE_PICKUP_TIME, PROFILE_FEE };

/* The keys a profile may have, so that a typing slip is an error rather than a silent default. */
static const char *const profile_keys[] = { "name", "description", "encoding", "header", "ignore",
					    "pickup_format", "excel_text", "totals_row", "totals_column",
					    "totals_label_column", "totals_required", "rows_after_totals",
					    "rows_above_header", NULL };
static const char *const profile_groups[] = { "profile", "fields", "fixed", "courier_names", NULL };

const char *profile_field_name(profile_field f)
{
	g_assert(f >= 0 && f < PROFILE_FIELD_COUNT);
	return field_names[f];
}

gboolean profile_field_parse(const char *name, profile_field *out)
{
	for (int f = 0; f < PROFILE_FIELD_COUNT; f++) {
		if (strcmp(name, field_names[f]) == 0) {
			*out = (profile_field)f;
			return TRUE;
		}
	}
	return FALSE;
}

/* "courier, waybill_no, ..." for messages; caller frees. */
static char *field_list(void)
{
	return g_strjoinv(", ", (char **)field_names);
}

/* ---- loading one profile ---- */

void profile_free(profile *p)
{
	if (!p)
		return;
	g_free(p->name);
	g_free(p->description);
	g_free(p->origin);
	g_free(p->encoding);
	g_strfreev(p->header);
	g_strfreev(p->ignore);
	g_free(p->pickup_format);
	g_free(p->totals_row);
	g_strfreev(p->totals_labels);
	g_strfreev(p->totals_label_columns);
	g_free(p->totals_column);
	g_strfreev(p->pickup_formats);
	if (p->courier_names)
		g_hash_table_unref(p->courier_names);
	for (int f = 0; f < PROFILE_FIELD_COUNT; f++) {
		for (guint i = 0; i < p->field[f].n_columns; i++)
			g_free(p->field[f].column[i]);
		g_free(p->field[f].fixed);
	}
	g_free(p);
}

static gboolean refuse(GError **error, const profile *p, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Sets a "bad profile" error naming the profile's origin; returns FALSE. */
static gboolean refuse(GError **error, const profile *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, PROFILE_ERROR, STATUS_DATAERR, "bad profile '%s': %s", p->origin, why);
	return FALSE;
}

/* Says what is wrong with a pickup_format for chrono_parse, or NULL when it is usable: the
 * directives %Y %m %d %H %M %S, each once, a whole date, and no seconds without minutes and hours. */
static const char *pickup_format_problem(const char *format)
{
	const char directives[] = "YmdHMS";
	int seen[sizeof directives - 1] = { 0 };
	for (const char *c = format; *c; c++) {
		if (*c != '%')
			continue;
		const char *d = c[1] ? strchr(directives, c[1]) : NULL;
		if (!d)
			return "it may only use %Y %m %d %H %M %S";
		if (seen[d - directives]++)
			return "it uses a directive twice";
		c++;
	}
	if (!seen[0] || !seen[1] || !seen[2])
		return "it needs %Y, %m and %d";
	if ((seen[4] && !seen[3]) || (seen[5] && !seen[4]))
		return "%S needs %M, and %M needs %H";
	return NULL;
}

/* The index of name in cols (first occurrence), or -1. */
static gint column_index(char *const *cols, const char *name)
{
	for (gint i = 0; cols[i]; i++)
		if (strcmp(cols[i], name) == 0)
			return i;
	return -1;
}

/* Reads [fields] and [fixed] into p->field. */
static gboolean load_fields(GKeyFile *kf, profile *p, GError **error)
{
	g_auto(GStrv) keys = g_key_file_get_keys(kf, "fields", NULL, NULL);
	for (char **k = keys; k && *k; k++) {
		profile_field f;
		if (!profile_field_parse(*k, &f)) {
			g_autofree char *known = field_list();
			return refuse(error, p, "unknown field '%s' in [fields] (fields: %s)", *k, known);
		}
		/* GKeyFile lists a key once per group of that name: [fields] twice names it twice. */
		if (p->field[f].n_columns > 0)
			return refuse(error, p, "[fields] %s is given twice", *k);
		gsize n = 0;
		g_auto(GStrv) cols = g_key_file_get_string_list(kf, "fields", *k, &n, NULL);
		g_autofree char *whole = g_key_file_get_string(kf, "fields", *k, NULL);
		if (whole && strchr(whole, '+') && !strchr(whole, ',') && column_index(p->header, g_strstrip(whole)) < 0) {
			/* fee=运费+附加费: amounts added up. Only the fee is money. */
			if (f != PROFILE_FEE)
				return refuse(error, p, "[fields] %s: only fee may be a sum of columns (A+B)", *k);
			g_strfreev(cols);
			cols = g_strsplit(whole, "+", -1);
			n = g_strv_length(cols);
			p->field[f].sum = TRUE;
		}
		if (!cols || n == 0 || n > PROFILE_FIELD_COLUMNS_MAX)
			return refuse(error, p, "[fields] %s must name 1 to %d columns", *k,
				      PROFILE_FIELD_COLUMNS_MAX);
		for (gsize i = 0; i < n; i++) {
			g_strstrip(cols[i]);
			if (!*cols[i])
				return refuse(error, p, "[fields] %s names an empty column", *k);
			if (column_index(p->header, cols[i]) < 0)
				return refuse(error, p, "[fields] %s names column '%s', which is not in header",
					      *k, cols[i]);
			p->field[f].column[i] = g_strdup(cols[i]);
			p->field[f].n_columns = (guint)i + 1; /* freed with p, also when a later one is refused */
		}
	}
	g_auto(GStrv) fixed = g_key_file_get_keys(kf, "fixed", NULL, NULL);
	for (char **k = fixed; k && *k; k++) {
		profile_field f;
		if (!profile_field_parse(*k, &f)) {
			g_autofree char *known = field_list();
			return refuse(error, p, "unknown field '%s' in [fixed] (fields: %s)", *k, known);
		}
		if (p->field[f].n_columns > 0)
			return refuse(error, p, "%s is both in [fields] and in [fixed]", *k);
		if (p->field[f].fixed)
			return refuse(error, p, "[fixed] %s is given twice", *k);
		char *value = g_strstrip(g_key_file_get_string(kf, "fixed", *k, NULL));
		if (!value || !*value) {
			g_free(value);
			return refuse(error, p, "[fixed] %s is empty", *k);
		}
		p->field[f].fixed = value;
	}
	return TRUE;
}

/* Checks that every header column is mapped or ignored, and each only one way. */
static gboolean check_header_covered(const profile *p, GError **error)
{
	for (char **c = p->header; *c; c++) {
		gboolean mapped = FALSE;
		for (int f = 0; f < PROFILE_FIELD_COUNT; f++)
			for (guint i = 0; i < p->field[f].n_columns; i++)
				mapped = mapped || strcmp(p->field[f].column[i], *c) == 0;
		gboolean ignored = g_strv_contains((const char *const *)p->ignore, *c);
		if (!mapped && !ignored)
			return refuse(error, p, "header column '%s' is neither in [fields] nor in ignore", *c);
		if (mapped && ignored)
			return refuse(error, p, "header column '%s' is both in [fields] and in ignore", *c);
	}
	for (char **c = p->ignore; *c; c++)
		if (column_index(p->header, *c) < 0)
			return refuse(error, p, "ignore names column '%s', which is not in header", *c);
	return TRUE;
}

/* Reads [courier_names]: the profile's own names, besides FORMATS.md's list (ident.h), which
 * holds in every profile. Names and codes are kept in normal form, as lines are compared; a name
 * of the list may be repeated with its code, not given another. */
static gboolean load_courier_names(GKeyFile *kf, profile *p, GError **error)
{
	if (!g_key_file_has_group(kf, "courier_names"))
		return TRUE;
	if (p->field[PROFILE_COURIER].n_columns == 0)
		return refuse(error, p, "[courier_names] needs a courier column in [fields]");
	p->courier_names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_auto(GStrv) keys = g_key_file_get_keys(kf, "courier_names", NULL, NULL);
	for (char **k = keys; k && *k; k++) {
		g_autofree char *value = g_key_file_get_string(kf, "courier_names", *k, NULL);
		/* UTF-8: profile_load refuses a profile that is not. */
		g_autofree char *code = value ? ident_courier_code(value, NULL) : NULL;
		g_autofree char *name = ident_normalize(*k);
		if (!code || !*code)
			return refuse(error, p, "[courier_names] %s is empty", *k);
		if (!name || !*name)
			return refuse(error, p, "[courier_names] name '%s' has nothing visible", *k);
		const char *listed = ident_courier_name_code(name);
		if (listed && strcmp(listed, code) != 0)
			return refuse(error, p, "[courier_names] %s is %s, not %s (FORMATS.md)", *k, listed, code);
		if (g_hash_table_contains(p->courier_names, name))
			return refuse(error, p, "[courier_names] names '%s' twice", name);
		g_hash_table_insert(p->courier_names, g_steal_pointer(&name), g_steal_pointer(&code));
	}
	return TRUE;
}

/* Checks groups and [profile] keys against the known ones. */
static gboolean check_known_keys(GKeyFile *kf, const profile *p, GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
	for (char **g = groups; *g; g++)
		if (!g_strv_contains(profile_groups, *g))
			return refuse(error, p, "unknown group [%s] (groups: %s)", *g,
				      "profile, fields, fixed, courier_names");
	g_auto(GStrv) keys = g_key_file_get_keys(kf, "profile", NULL, NULL);
	for (char **k = keys; k && *k; k++)
		if (!g_strv_contains(profile_keys, *k))
			return refuse(error, p, "unknown key '%s' in [profile]", *k);
	return TRUE;
}

/* Reads the totals row's keys: totals_row (its labels), totals_label_column (where a label may be),
 * totals_column (the amount it states, checked), totals_required, rows_after_totals. */
static gboolean load_totals(GKeyFile *kf, profile *p, GError **error)
{
	gsize n = 0;
	p->totals_labels = g_key_file_get_string_list(kf, "profile", "totals_row", &n, NULL);
	for (gsize i = 0; i < n; i++)
		if (!*g_strstrip(p->totals_labels[i]))
			return refuse(error, p, "totals_row has an empty label");
	if (p->totals_labels && n == 0)
		return refuse(error, p, "totals_row has an empty label");
	if (p->totals_labels)
		p->totals_row = g_strdup(p->totals_labels[0]);
	p->totals_column = g_key_file_get_string(kf, "profile", "totals_column", NULL);
	if (p->totals_column)
		g_strstrip(p->totals_column);
	if (p->totals_column && !p->totals_row)
		return refuse(error, p, "totals_column needs totals_row, the label of the totals row");
	if (p->totals_column && column_index(p->header, p->totals_column) < 0)
		return refuse(error, p, "totals_column '%s' is not in header", p->totals_column);
	p->totals_label_columns = g_key_file_get_string_list(kf, "profile", "totals_label_column", &n, NULL);
	if (p->totals_label_columns && !p->totals_row)
		return refuse(error, p, "totals_label_column needs totals_row");
	if (n > PROFILE_FIELD_COLUMNS_MAX)
		return refuse(error, p, "totals_label_column names more than %d columns", PROFILE_FIELD_COLUMNS_MAX);
	for (gsize i = 0; i < n; i++)
		if (column_index(p->header, g_strstrip(p->totals_label_columns[i])) < 0)
			return refuse(error, p, "totals_label_column '%s' is not in header", p->totals_label_columns[i]);
	/* A control total (a totals_column) is required unless the profile says otherwise: zto's
	 * refuses a truncated file by its absence. */
	GError *e = NULL;
	p->totals_required = g_key_file_get_boolean(kf, "profile", "totals_required", &e);
	if (g_error_matches(e, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND)) {
		p->totals_required = p->totals_column != NULL;
	} else if (e) {
		g_error_free(e);
		return refuse(error, p, "totals_required must be true or false");
	} else if (!p->totals_row) {
		return refuse(error, p, "totals_required needs totals_row");
	}
	g_clear_error(&e);
	g_autofree char *after = g_key_file_get_string(kf, "profile", "rows_after_totals", NULL);
	if (after && strcmp(g_strstrip(after), "keep") != 0 && strcmp(after, "refuse") != 0)
		return refuse(error, p, "rows_after_totals must be keep or refuse");
	if (after && !p->totals_row)
		return refuse(error, p, "rows_after_totals needs totals_row");
	p->keep_after_totals = after && strcmp(after, "keep") == 0;
	return TRUE;
}

/* Reads [profile]'s own keys (not the mappings). */
static gboolean load_settings(GKeyFile *kf, profile *p, GError **error)
{
	p->name = g_key_file_get_string(kf, "profile", "name", NULL);
	g_autofree char *base = g_path_get_basename(p->origin);
	if (g_str_has_suffix(base, PROFILE_SUFFIX))
		base[strlen(base) - strlen(PROFILE_SUFFIX)] = '\0';
	if (!p->name || strcmp(p->name, base) != 0)
		return refuse(error, p, "[profile] name must be '%s', its file name", base);
	p->description = g_key_file_get_string(kf, "profile", "description", NULL);

	p->encoding = g_key_file_get_string(kf, "profile", "encoding", NULL);
	if (!p->encoding)
		return refuse(error, p, "[profile] has no encoding (UTF-8, GB18030...)");
	GIConv cd = g_iconv_open("UTF-8", p->encoding);
	if (cd == (GIConv)-1)
		return refuse(error, p, "unknown encoding '%s'", p->encoding);
	g_iconv_close(cd);

	gsize n = 0;
	p->header = g_key_file_get_string_list(kf, "profile", "header", &n, NULL);
	if (!p->header || n == 0)
		return refuse(error, p, "[profile] has no header");
	if (n > PROFILE_COLUMNS_MAX)
		return refuse(error, p, "header has %zu columns, more than %d", (size_t)n, PROFILE_COLUMNS_MAX);
	for (gsize i = 0; i < n; i++) {
		g_strstrip(p->header[i]);
		if (!*p->header[i])
			return refuse(error, p, "header column %zu is empty", (size_t)i + 1);
		if (column_index(p->header, p->header[i]) != (gint)i)
			return refuse(error, p, "header names column '%s' twice", p->header[i]);
	}
	p->ignore = g_key_file_get_string_list(kf, "profile", "ignore", NULL, NULL);
	if (!p->ignore)
		p->ignore = g_new0(char *, 1);
	for (char **c = p->ignore; *c; c++)
		g_strstrip(*c);

	/* Several formats (comma separated) are tried in order: a statement saved from a spreadsheet
	 * may hold both a text date and Excel's serial number. */
	p->pickup_formats = g_key_file_get_string_list(kf, "profile", "pickup_format", &n, NULL);
	if (p->pickup_formats && n == 0)
		g_clear_pointer(&p->pickup_formats, g_strfreev);
	for (char **f = p->pickup_formats; f && *f; f++) {
		g_strstrip(*f);
		const char *problem = strcmp(*f, PROFILE_FORMAT_EXCEL) == 0 ? NULL : pickup_format_problem(*f);
		if (problem)
			return refuse(error, p, "pickup_format '%s': %s (or '%s' for Excel's serial dates)", *f,
				      problem, PROFILE_FORMAT_EXCEL);
	}
	if (p->pickup_formats)
		p->pickup_format = g_strdup(p->pickup_formats[0]);

	GError *bool_error = NULL;
	p->excel_text = g_key_file_get_boolean(kf, "profile", "excel_text", &bool_error);
	if (bool_error && !g_error_matches(bool_error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND)) {
		g_error_free(bool_error);
		return refuse(error, p, "excel_text must be true or false");
	}
	g_clear_error(&bool_error);

	if (!load_totals(kf, p, error))
		return FALSE;
	p->rows_above_header = g_key_file_get_boolean(kf, "profile", "rows_above_header", &bool_error);
	if (bool_error && !g_error_matches(bool_error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND)) {
		g_error_free(bool_error);
		return refuse(error, p, "rows_above_header must be true or false");
	}
	g_clear_error(&bool_error);
	return TRUE;
}

profile *profile_load(const char *text, gsize len, const char *origin, GError **error)
{
	g_return_val_if_fail(text != NULL && origin != NULL, NULL);
	g_autoptr(profile) p = g_new0(profile, 1);
	p->origin = g_strdup(origin);

	unsigned bad_line = text_utf8_bad_line(text, len);
	if (bad_line) {
		refuse(error, p, "line %u is not UTF-8 (a profile is UTF-8 text)", bad_line);
		return NULL;
	}
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_key_file_set_list_separator(kf, PROFILE_LIST_SEPARATOR);
	GError *kf_error = NULL;
	if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &kf_error)) {
		refuse(error, p, "%s", kf_error->message);
		g_error_free(kf_error);
		return NULL;
	}
	if (!check_known_keys(kf, p, error) || !load_settings(kf, p, error) || !load_fields(kf, p, error) ||
	    !check_header_covered(p, error) || !load_courier_names(kf, p, error))
		return NULL;

	const profile_field needed[] = { PROFILE_WAYBILL_NO, PROFILE_PICKUP_TIME, PROFILE_FEE };
	for (size_t i = 0; i < G_N_ELEMENTS(needed); i++) {
		const profile_source *s = &p->field[needed[i]];
		if (s->n_columns == 0 && !s->fixed) {
			refuse(error, p, "no column for %s in [fields]", field_names[needed[i]]);
			return NULL;
		}
	}
	if (p->field[PROFILE_PICKUP_TIME].n_columns > 0 && !p->pickup_format) {
		refuse(error, p, "pickup_time comes from a column, so [profile] needs pickup_format");
		return NULL;
	}
	g_assert(p->name && p->encoding && p->header && p->ignore);
	return g_steal_pointer(&p);
}

/* ---- overrides (--set FIELD=VALUE) ---- */

/* Parses overrides into values (one owned string or NULL per field). */
static gboolean overrides_parse(const char *const *overrides, char *values[PROFILE_FIELD_COUNT], GError **error)
{
	memset(values, 0, sizeof(char *) * PROFILE_FIELD_COUNT);
	for (const char *const *o = overrides; o && *o; o++) {
		const char *eq = strchr(*o, '=');
		g_autofree char *name = eq ? g_strstrip(g_strndup(*o, (gsize)(eq - *o))) : NULL;
		profile_field f;
		const char *problem = NULL;
		if (!eq)
			problem = "it is not FIELD=VALUE";
		else if (!profile_field_parse(name, &f))
			problem = "unknown field";
		else if (values[f])
			problem = "the field is set twice";
		if (!problem) {
			values[f] = g_strstrip(g_strdup(eq + 1));
			if (!*values[f])
				problem = "empty value";
			else if (!g_utf8_validate(values[f], -1, NULL))
				problem = "the value is not UTF-8"; /* a line's text is UTF-8, and so the database's */
		}
		if (problem) {
			g_autofree char *known = field_list();
			g_set_error(error, PROFILE_ERROR, STATUS_USAGE, "bad --set '%s': %s (fields: %s)", *o,
				    problem, known);
			for (int i = 0; i < PROFILE_FIELD_COUNT; i++)
				g_clear_pointer(&values[i], g_free);
			return FALSE;
		}
	}
	return TRUE;
}

gboolean profile_check_overrides(const char *const *overrides, GError **error)
{
	char *values[PROFILE_FIELD_COUNT];
	if (!overrides_parse(overrides, values, error))
		return FALSE;
	for (int i = 0; i < PROFILE_FIELD_COUNT; i++)
		g_free(values[i]);
	return TRUE;
}

/* ---- a file's header ---- */

typedef struct {
	GPtrArray *columns; /* of char*, trimmed */
	gboolean row_ended;
} header_split;

static void header_on_field(void *s, size_t len, void *data)
{
	header_split *h = data;
	if (!h->row_ended)
		g_ptr_array_add(h->columns, g_strstrip(g_strndup(s ? s : "", len)));
}

static void header_on_row(int c, void *data)
{
	header_split *h = data;
	h->row_ended = TRUE;
}

/* Decodes raw (one row, its line end optional) from encoding, drops a byte order mark, splits it as
 * CSV and trims each column. NULL-terminated result, caller frees; NULL with an error when raw does
 * not decode. header_check then says whether the columns make a header at all. */
static char **header_columns(const char *raw, gsize len, const char *encoding, const char *file, GError **error)
{
	while (len > 0 && (raw[len - 1] == '\n' || raw[len - 1] == '\r'))
		len--;
	gsize written = 0;
	GError *conv_error = NULL;
	g_autofree char *text = g_convert(raw, (gssize)len, "UTF-8", encoding, NULL, &written, &conv_error);
	/* glibc passes code points beyond U+10FFFF from UTF-8 to UTF-8 (and a NUL from anything): GLib's check
	 * catches them. */
	if (text && !g_utf8_validate(text, (gssize)written, NULL))
		g_set_error_literal(&conv_error, G_CONVERT_ERROR, G_CONVERT_ERROR_ILLEGAL_SEQUENCE,
				    "a NUL or a character beyond Unicode");
	if (conv_error) {
		g_set_error(error, PROFILE_ERROR, STATUS_DATAERR, "header of '%s' is not valid %s: %s", file,
			    encoding, conv_error->message);
		g_error_free(conv_error);
		return NULL;
	}
	const char *start = text;
	if (g_str_has_prefix(start, TEXT_UTF8_BOM)) {
		start += TEXT_UTF8_BOM_LEN;
		written -= TEXT_UTF8_BOM_LEN;
	}

	header_split h = { .columns = g_ptr_array_new_with_free_func(g_free) };
	struct csv_parser parser;
	int rc = csv_init(&parser, 0);
	g_assert(rc == 0);
	csv_parse(&parser, start, written, header_on_field, header_on_row, &h);
	csv_fini(&parser, header_on_field, header_on_row, &h);
	csv_free(&parser);
	g_ptr_array_add(h.columns, NULL);
	return (char **)g_ptr_array_free(h.columns, FALSE);
}

/* A header whatever the profile: at most PROFILE_COLUMNS_MAX columns, and no name twice (which
 * column would a field come from?); empty names, as a spreadsheet leaves after the last column,
 * may repeat. FALSE with an error (STATUS_DATAERR) saying which. */
static gboolean header_check(char **columns, const char *file, GError **error)
{
	guint n = g_strv_length(columns);
	if (n > PROFILE_COLUMNS_MAX) {
		g_set_error(error, PROFILE_ERROR, STATUS_DATAERR, "header of '%s' has %u columns, more than %d",
			    file, n, PROFILE_COLUMNS_MAX);
		return FALSE;
	}
	for (guint i = 0; i < n; i++)
		for (guint j = i + 1; *columns[i] && j < n; j++)
			if (strcmp(columns[i], columns[j]) == 0) {
				g_set_error(error, PROFILE_ERROR, STATUS_DATAERR,
					    "header of '%s' names column '%s' twice (columns %u and %u): refused, as"
					    " either could be meant", file, columns[i], i + 1, j + 1);
				return FALSE;
			}
	return TRUE;
}

struct profile_set {
	GPtrArray *profiles; /* of profile*, owned, sorted by name once loaded */
};

/* ---- a profile applied to a header ---- */

void profile_map_free(profile_map *m)
{
	if (!m)
		return;
	g_strfreev(m->header);
	for (int f = 0; f < PROFILE_FIELD_COUNT; f++)
		g_free(m->overrides[f]);
	g_free(m);
}

/* Appends to what "column 'X' (field)" for each column of f missing from m's header, or says that
 * the profile has no source for f at all. Returns how many columns are missing (1 when none is
 * named). */
static guint describe_missing(const profile_map *m, profile_field f, GString *what)
{
	const profile_source *s = &m->profile->field[f];
	if (s->n_columns == 0) {
		g_string_append_printf(what, "%s%s (no column in the profile: use --set %s=VALUE)",
				       what->len ? ", " : "", field_names[f], field_names[f]);
		return 1;
	}
	guint n = 0;
	for (guint i = 0; i < s->n_columns; i++) {
		if (column_index(m->header, s->column[i]) >= 0)
			continue;
		g_string_append_printf(what, "%scolumn '%s' (%s)", what->len ? ", " : "", s->column[i],
				       field_names[f]);
		n++;
	}
	return n;
}

/* TRUE when column feeds a required field of p. */
static gboolean required_column(const profile *p, const char *column)
{
	const profile_field fields[] = { PROFILE_COURIER, PROFILE_WAYBILL_NO, PROFILE_PICKUP_TIME, PROFILE_FEE,
					 PROFILE_SENDER_CODE, PROFILE_SENDER_PHONE };
	for (size_t i = 0; i < G_N_ELEMENTS(fields); i++)
		for (guint c = 0; c < p->field[fields[i]].n_columns; c++)
			if (strcmp(p->field[fields[i]].column[c], column) == 0)
				return TRUE;
	return FALSE;
}

/* Builds the map of p over the file's header columns (taken) and override values (taken). Returns
 * it, with *n_missing 0, when every required field has a source; otherwise it still returns the map
 * (for ranking) with *n_missing > 0 and a description of what is missing appended to missing. */
static profile_map *map_build(const profile *p, char **header, char *overrides[PROFILE_FIELD_COUNT],
			      GString *missing, guint *n_missing)
{
	profile_map *m = g_new0(profile_map, 1);
	m->profile = p;
	m->header = header;
	m->n_header = g_strv_length(header);
	memcpy(m->overrides, overrides, sizeof m->overrides);
	m->totals_column = p->totals_column ? column_index(header, p->totals_column) : -1;
	m->totals = p->totals_row != NULL;
	for (char **c = p->totals_label_columns; c && *c; c++) {
		gint index = column_index(header, *c);
		if (index >= 0)
			m->label_column[m->n_label_columns++] = (guint)index;
	}
	if (m->totals && !p->totals_label_columns)
		m->label_column[m->n_label_columns++] = 0; /* the first column */

	gboolean available[PROFILE_FIELD_COUNT];
	for (int f = 0; f < PROFILE_FIELD_COUNT; f++) {
		const profile_source *s = &p->field[f];
		profile_map_field *mf = &m->field[f];
		mf->fixed = m->overrides[f] ? m->overrides[f] : s->fixed;
		gboolean all = TRUE;
		for (guint i = 0; !mf->fixed && i < s->n_columns; i++) {
			gint index = column_index(header, s->column[i]);
			all = all && index >= 0;
			mf->column[i] = index >= 0 ? (guint)index : 0;
		}
		/* A field joined from several columns needs all of them. */
		mf->n_columns = mf->fixed || !all ? 0 : s->n_columns;
		available[f] = mf->fixed || mf->n_columns > 0;
	}

	*n_missing = 0;
	for (size_t i = 0; i < PROFILE_REQUIRED_COUNT; i++)
		if (!available[profile_required[i]])
			*n_missing += describe_missing(m, profile_required[i], missing);
	if (!available[PROFILE_SENDER_CODE] && !available[PROFILE_SENDER_PHONE]) {
		g_autoptr(GString) code_text = g_string_new(NULL);
		g_autoptr(GString) phone_text = g_string_new(NULL);
		guint code = describe_missing(m, PROFILE_SENDER_CODE, code_text);
		guint phone = describe_missing(m, PROFILE_SENDER_PHONE, phone_text);
		g_string_append_printf(missing, "%s%s or %s", missing->len ? ", " : "", code_text->str,
				       phone_text->str);
		*n_missing += MIN(code, phone);
	}
	if (m->totals && m->n_label_columns == 0) {
		g_string_append_printf(missing, "%scolumn '%s' (totals label)", missing->len ? ", " : "",
				       p->totals_label_columns[0]);
		(*n_missing)++;
	}
	/* A profile with a totals row needs its column (unless a required field's, already counted). */
	if (p->totals_column && m->totals_column < 0 && !required_column(p, p->totals_column)) {
		g_string_append_printf(missing, "%scolumn '%s' (totals)", missing->len ? ", " : "",
				       p->totals_column);
		(*n_missing)++;
	}
	return m;
}

/* How well m's profile fits the file's header: 0 no (a required column missing), 1 every
 * required column present, 2 the profile's whole header present, 3 the header is exactly it. */
static int map_level(const profile_map *m, guint n_missing)
{
	if (n_missing > 0)
		return 0;
	char **want = m->profile->header;
	for (char **c = want; *c; c++)
		if (column_index(m->header, *c) < 0)
			return 1;
	if (g_strv_length(want) != m->n_header)
		return 2;
	for (guint i = 0; i < m->n_header; i++)
		if (strcmp(want[i], m->header[i]) != 0)
			return 2;
	return 3;
}

/* How many of the profile's header columns the file has (ranks the closest profile). */
static guint columns_present(const profile_map *m)
{
	guint n = 0;
	for (char **c = m->profile->header; *c; c++)
		n += column_index(m->header, *c) >= 0;
	return n;
}

/* The encodings a header is tried in when it matches no profile in the profile's own. */
static const char *const hint_encodings[] = { "UTF-8", "GB18030" };

/* When the header (raw) would match one of ps[0..n) read in another encoding (UTF-8, GB18030 or
 * another profile's), appends a line saying so to out: a UTF-8 file given to a GB18030 profile
 * decodes to nonsense, and "lacks 单号" hides the cause. */
static void encoding_hint(const profile *const *ps, guint n, const char *raw, gsize len,
			  const char *const *overrides, GString *out)
{
	for (guint i = 0; i < n; i++) {
		const profile *p = ps[i];
		guint n_enc = G_N_ELEMENTS(hint_encodings) + n;
		for (guint e = 0; e < n_enc; e++) {
			const char *enc = e < G_N_ELEMENTS(hint_encodings) ? hint_encodings[e]
									   : ps[e - G_N_ELEMENTS(hint_encodings)]->encoding;
			if (g_ascii_strcasecmp(enc, p->encoding) == 0)
				continue;
			char **header = header_columns(raw, len, enc, "", NULL);
			if (!header || !header_check(header, "", NULL)) {
				g_strfreev(header);
				continue;
			}
			char *values[PROFILE_FIELD_COUNT];
			gboolean ok = overrides_parse(overrides, values, NULL);
			g_assert(ok); /* checked by the caller */
			g_autoptr(GString) missing = g_string_new(NULL);
			guint n_missing = 0;
			profile_map *m = map_build(p, header, values, missing, &n_missing);
			profile_map_free(m);
			if (n_missing == 0) {
				g_string_append_printf(out,
						       "\nHINT: read as %s it would match profile '%s', whose encoding is %s:"
						       " is the file %s? (save it as %s, or make a profile with encoding=%s)",
						       enc, p->name, p->encoding, enc, p->encoding, enc);
				return;
			}
		}
	}
}

profile_map *profile_map_header(const profile *p, const char *raw, gsize len, const char *const *overrides,
				const char *file, GError **error)
{
	g_return_val_if_fail(p != NULL && raw != NULL && file != NULL, NULL);
	char *values[PROFILE_FIELD_COUNT];
	if (!overrides_parse(overrides, values, error))
		return NULL;
	char **header = header_columns(raw, len, p->encoding, file, error);
	if (!header || !header_check(header, file, error)) {
		for (int f = 0; f < PROFILE_FIELD_COUNT; f++)
			g_free(values[f]);
		g_strfreev(header);
		g_autoptr(GString) hint = g_string_new(NULL);
		encoding_hint(&p, 1, raw, len, overrides, hint);
		if (hint->len && error && *error) {
			char *message = g_strconcat((*error)->message, hint->str, NULL);
			g_free((*error)->message);
			(*error)->message = message;
		}
		return NULL;
	}
	g_autoptr(GString) missing = g_string_new(NULL);
	guint n_missing = 0;
	g_autoptr(profile_map) m = map_build(p, header, values, missing, &n_missing);
	if (n_missing > 0) {
		g_autoptr(GString) hint = g_string_new(NULL);
		encoding_hint(&p, 1, raw, len, overrides, hint);
		g_set_error(error, PROFILE_ERROR, STATUS_DATAERR,
			    "header of '%s' lacks %s, required by profile '%s'%s", file, missing->str, p->name,
			    hint->str);
		return NULL;
	}
	return g_steal_pointer(&m);
}

/* Profile p's map of the header raw (map_build's: *map, with *missing and *n_missing saying what
 * it lacks, caller frees). The header read in p's encoding; one p cannot decode, or (below) a row
 * that is no header, maps no column. FALSE with an error when the header decodes but is no header
 * for any profile (too wide, a name twice). */
static gboolean map_one(const profile *p, gboolean below, const char *raw, gsize len, const char *const *overrides,
			const char *file, profile_map **map, char **missing, guint *n_missing, GError **error)
{
	char *values[PROFILE_FIELD_COUNT];
	gboolean ok = overrides_parse(overrides, values, NULL);
	g_assert(ok); /* detect checked them */
	char **header = below && !p->rows_above_header ? NULL : header_columns(raw, len, p->encoding, file, NULL);
	if (below && header && !header_check(header, file, NULL))
		g_clear_pointer(&header, g_strfreev);
	/* A header that decodes but is no header (too wide, a name twice) is wrong for every
	 * profile: say so rather than "no profile matches". */
	if (header && !header_check(header, file, error)) {
		g_strfreev(header);
		for (int f = 0; f < PROFILE_FIELD_COUNT; f++)
			g_free(values[f]);
		return FALSE;
	}
	if (!header)
		header = g_new0(char *, 1);
	g_autoptr(GString) what = g_string_new(NULL);
	*map = map_build(p, header, values, what, n_missing);
	*missing = g_string_free(g_steal_pointer(&what), FALSE);
	/* What lacks is said: a map is a match exactly when nothing lacks. */
	g_assert(*n_missing == 0 || (*missing)[0] != '\0');
	g_assert((map_level(*map, *n_missing) > 0) == (*n_missing == 0));
	return TRUE;
}

/* The profile that reads the header best: the only one at the best level above 0 (*chosen), or
 * none (*chosen n, no error) when none matches; two or more at the best level are refused. */
static gboolean pick_best(const profile_set *ps, const int *levels, const char *file, guint *chosen,
			  GError **error)
{
	guint n = profile_set_size(ps);
	int best = 0;
	for (guint i = 0; i < n; i++)
		best = MAX(best, levels[i]);
	g_autoptr(GString) names = g_string_new(NULL);
	guint n_best = 0;
	*chosen = n;
	for (guint i = 0; i < n; i++) {
		if (best > 0 && levels[i] == best) {
			g_string_append_printf(names, "%s'%s'", names->len ? ", " : "", profile_set_nth(ps, i)->name);
			*chosen = i;
			n_best++;
		}
	}
	if (n_best > 1) {
		g_set_error(error, PROFILE_ERROR, STATUS_DATAERR,
			    "header of '%s' " PROFILE_AMBIGUOUS_TEXT ": %s\nHINT: choose one with --profile",
			    file, names->str);
		return FALSE;
	}
	/* One chosen at the best level when any matches; none when none does. */
	g_assert((*chosen < n) == (best > 0));
	g_assert(*chosen == n || levels[*chosen] == best);
	return TRUE;
}

/* No profile matches the header: the error names every profile tried and the closest (most of
 * its header present, then the fewest columns lacking) with what it lacks, and a hint when
 * another encoding would read the header. */
static void refuse_no_match(const profile_set *ps, const GPtrArray *maps, const GPtrArray *missing,
			    const guint *n_missing, const char *raw, gsize len, const char *const *overrides,
			    const char *file, GError **error)
{
	guint n = profile_set_size(ps);
	g_assert(n >= 1 && maps->len == n && missing->len == n);
	g_autoptr(GString) hint = g_string_new(NULL);
	encoding_hint((const profile *const *)ps->profiles->pdata, n, raw, len, overrides, hint);
	guint closest = 0;
	for (guint i = 0; i < n; i++) {
		g_assert(n_missing[i] > 0); /* none matches: each lacks something */
		guint present = columns_present(maps->pdata[i]), best_present = columns_present(maps->pdata[closest]);
		if (i > 0 && (present > best_present || (present == best_present && n_missing[i] < n_missing[closest])))
			closest = i;
	}
	g_autoptr(GString) names = g_string_new(NULL);
	for (guint i = 0; i < n; i++)
		g_string_append_printf(names, "%s%s", i ? ", " : "", profile_set_nth(ps, i)->name);
	if (columns_present(maps->pdata[closest]) == 0)
		g_set_error(error, PROFILE_ERROR, STATUS_DATAERR,
			    "header of '%s' matches no profile (tried %s)\nDETAIL: no profile has any of its columns%s", file,
			    names->str, hint->str);
	else
		g_set_error(error, PROFILE_ERROR, STATUS_DATAERR,
			    "header of '%s' matches no profile (tried %s)\nDETAIL: closest is '%s', which lacks %s%s", file,
			    names->str, profile_set_nth(ps, closest)->name, (const char *)missing->pdata[closest],
			    hint->str);
}

/* Chooses among the profiles of ps (below: only those with rows_above_header, and a row that is no
 * header is no match, not a refusal; no match then sets no error). */
static profile_map *detect(const profile_set *ps, gboolean below, const char *raw, gsize len,
			   const char *const *overrides, const char *file, GError **error)
{
	g_return_val_if_fail(ps != NULL && raw != NULL && file != NULL, NULL);
	if (!profile_check_overrides(overrides, error))
		return NULL;
	guint n = profile_set_size(ps);
	g_return_val_if_fail(n > 0, NULL);

	/* Each profile reads the header in its own encoding; one that cannot decode it does not match. */
	g_autoptr(GPtrArray) maps = g_ptr_array_new_with_free_func((GDestroyNotify)profile_map_free);
	g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func((GDestroyNotify)g_free);
	g_autofree int *levels = g_new0(int, n);
	g_autofree guint *n_missing = g_new0(guint, n);
	for (guint i = 0; i < n; i++) {
		profile_map *map = NULL;
		char *what = NULL;
		if (!map_one(profile_set_nth(ps, i), below, raw, len, overrides, file, &map, &what, &n_missing[i], error))
			return NULL;
		g_ptr_array_add(maps, map);
		g_ptr_array_add(missing, what);
		levels[i] = map_level(map, n_missing[i]);
	}
	g_assert(maps->len == n && missing->len == n);
	guint chosen;
	if (!pick_best(ps, levels, file, &chosen, error))
		return NULL;
	if (chosen < n) {
		g_assert(n_missing[chosen] == 0); /* a match lacks nothing */
		return g_ptr_array_steal_index(maps, chosen);
	}
	if (!below)
		refuse_no_match(ps, maps, missing, n_missing, raw, len, overrides, file, error);
	return NULL;
}

profile_map *profile_set_detect(const profile_set *ps, const char *raw, gsize len, const char *const *overrides,
				const char *file, GError **error)
{
	return detect(ps, FALSE, raw, len, overrides, file, error);
}

profile_map *profile_set_detect_below(const profile_set *ps, const char *raw, gsize len,
				      const char *const *overrides, const char *file, GError **error)
{
	return detect(ps, TRUE, raw, len, overrides, file, error);
}

/* ---- the set of profiles ---- */


void profile_set_free(profile_set *ps)
{
	if (!ps)
		return;
	g_ptr_array_free(ps->profiles, TRUE);
	g_free(ps);
}

const profile *profile_set_find(const profile_set *ps, const char *name)
{
	for (guint i = 0; i < ps->profiles->len; i++) {
		const profile *p = ps->profiles->pdata[i];
		if (strcmp(p->name, name) == 0)
			return p;
	}
	return NULL;
}

guint profile_set_size(const profile_set *ps)
{
	return ps->profiles->len;
}

const profile *profile_set_nth(const profile_set *ps, guint i)
{
	g_assert(i < ps->profiles->len);
	return ps->profiles->pdata[i];
}

static gint compare_profiles(gconstpointer a, gconstpointer b)
{
	return strcmp((*(profile *const *)a)->name, (*(profile *const *)b)->name);
}

/* The name a profile file must declare: its base name without .profile. */
static char *name_of_file(const char *file_name)
{
	return g_strndup(file_name, strlen(file_name) - strlen(PROFILE_SUFFIX));
}

/* Loads every *.profile of dir whose name ps does not have yet. */
static gboolean load_directory(profile_set *ps, const char *dir, GError **error)
{
	GError *dir_error = NULL;
	g_autoptr(GDir) d = g_dir_open(dir, 0, &dir_error);
	if (!d) {
		g_set_error(error, PROFILE_ERROR, STATUS_NOINPUT, "cannot open profile directory '%s': %s", dir,
			    dir_error->message);
		g_error_free(dir_error);
		return FALSE;
	}
	g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
	for (const char *f; (f = g_dir_read_name(d));)
		if (g_str_has_suffix(f, PROFILE_SUFFIX) && strlen(f) > strlen(PROFILE_SUFFIX))
			g_ptr_array_add(files, g_strdup(f));
	g_ptr_array_sort(files, (GCompareFunc)g_strcmp0); /* the order errors are found in */
	for (guint i = 0; i < files->len; i++) {
		g_autofree char *name = name_of_file(files->pdata[i]);
		if (profile_set_find(ps, name))
			continue;
		g_autofree char *path = g_build_filename(dir, files->pdata[i], NULL);
		g_autofree char *text = NULL;
		gsize len = 0;
		GError *read_error = NULL;
		if (!g_file_get_contents(path, &text, &len, &read_error)) {
			g_set_error(error, PROFILE_ERROR, STATUS_NOINPUT, "cannot read profile '%s': %s", path,
				    read_error->message);
			g_error_free(read_error);
			return FALSE;
		}
		profile *p = profile_load(text, len, path, error);
		if (!p)
			return FALSE;
		g_ptr_array_add(ps->profiles, p);
	}
	return TRUE;
}

profile_set *profile_set_load(const char *const *user_dirs, GError **error)
{
	g_autoptr(profile_set) ps = g_new0(profile_set, 1);
	ps->profiles = g_ptr_array_new_with_free_func((GDestroyNotify)profile_free);
	for (const char *const *d = user_dirs; d && *d; d++)
		if (!load_directory(ps, *d, error))
			return NULL;

	g_auto(GStrv) builtin = assets_list("profiles");
	for (char **f = builtin; *f; f++) {
		if (!g_str_has_suffix(*f, PROFILE_SUFFIX))
			continue;
		g_autofree char *name = name_of_file(*f);
		if (profile_set_find(ps, name))
			continue; /* replaced by a user profile */
		g_autoptr(GBytes) bytes = assets_get("profiles", *f);
		g_assert(bytes != NULL);
		g_autofree char *origin = g_strconcat("built-in profiles/", *f, NULL);
		gsize len = 0;
		const char *text = g_bytes_get_data(bytes, &len);
		profile *p = profile_load(text, len, origin, error);
		if (!p)
			return NULL;
		g_ptr_array_add(ps->profiles, p);
	}
	g_ptr_array_sort(ps->profiles, compare_profiles);
	return g_steal_pointer(&ps);
}
