/* registry_load.c: loading registry files as versions; see registry_load.h.
 *
 * Loading is table-driven: each kind is a list of columns, each column a type that says how its
 * text is checked and what canonical text it becomes. The canonical text of a row is what the
 * database prints for the stored version (dates YYYY-MM-DD, amounts in fen, booleans true/false,
 * lists joined by ';'), so "identical" is a comparison of strings in C against the current
 * versions read in one query, and new versions go in with one COPY. */
#include "registry_load.h"

#include "chrono.h"
#include "csvfile.h"
#include "ident.h"
#include "money.h"
#include "policy.h"
#include "status.h"
#include "text.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* Registry files are small (thousands of rows): anything far beyond is the wrong file. */
#define REGISTRY_FILE_BYTES_MAX (64 * 1024 * 1024)
#define REGISTRY_ROWS_MAX 200000
/* No registry value (a name, a bank account, a list of categories) comes near this. */
#define REGISTRY_FIELD_BYTES_MAX 1024
#define REGISTRY_COLUMNS_MAX 16
/* Separates the parts of a composite key; fields with control characters are refused, so no
 * value contains it. */
#define REGISTRY_KEY_SEP "\x1f"
#define REGISTRY_BP_DIGITS_MAX 5
#define REGISTRY_INT_DIGITS_MAX 9

G_STATIC_ASSERT(REGISTRY_ROWS_MAX < G_MAXINT / 2);

/* ------------------------------------------------------------------------------------------ */
/* Kinds and columns */

typedef enum {
	COL_TEXT,       /* required text */
	COL_TEXT_OPT,   /* text; empty is NULL */
	COL_DATE,       /* required YYYY-MM-DD */
	COL_DATE_OPEN,  /* YYYY-MM-DD; empty is NULL, "open" */
	COL_TIME,       /* required YYYY-MM-DD HH:MM:SS */
	COL_BP,         /* a whole number of basis points, 0..10000 */
	COL_INT,        /* a whole number 0..999999999 */
	COL_AMOUNT,     /* yuan by money_parse, stored in fen */
	COL_AMOUNT_OPT, /* the same; empty is NULL (no cap) */
	COL_FEE_MAX,    /* the same; empty is the policy default */
	COL_ROUNDING,   /* half_up / half_even */
	COL_BOOL,       /* true / false */
	COL_LIST,       /* ';'-separated, stored as text[] */
	COL_ID_NO,      /* a resident ID number */
	COL_PHONE,      /* an 11-digit mobile number */
	COL_DIGITS,     /* digits only (bank accounts) */
	COL_CODE,       /* a courier: its code (ident_courier_code), as lines are compared */
} col_type;

typedef struct {
	const char *name;    /* in the file's header */
	col_type type;
	const char *db_name; /* the table's column; NULL: the same as name */
} col_spec;

typedef enum { KIND_POLICIES, KIND_SHOPS, KIND_SENDERS, KIND_HOUSEHOLDS, KIND_CAMPAIGNS, KIND_BUDGETS } kind_id;

typedef struct {
	kind_id id;
	const char *name;  /* the KIND of the command line and of registry_loads */
	const char *table;
	const col_spec *cols;
	int n_cols;
	int n_keys;        /* the first n_keys columns are the key */
	int range_from;    /* the columns of the row's date or time range */
	int range_to;
	gboolean range_strict; /* a half-open time window: the end must be after the start */
} kind_spec;

static const col_spec policy_cols[] = {
	{ "policy_id", COL_TEXT, NULL },
	{ "valid_from", COL_DATE, NULL },
	{ "valid_to", COL_DATE_OPEN, NULL },
	{ "standard_rate_bp", COL_BP, NULL },
	{ "standard_cap", COL_AMOUNT_OPT, "standard_cap_fen" },
	{ "poverty_rate_bp", COL_BP, NULL },
	{ "poverty_cap", COL_AMOUNT_OPT, "poverty_cap_fen" },
	{ "rounding", COL_ROUNDING, NULL },
	{ "require_campaign", COL_BOOL, NULL },
	{ "eligible_categories", COL_LIST, NULL },
	{ "fee_max", COL_FEE_MAX, "fee_max_fen" },
};
static const col_spec shop_cols[] = {
	{ "shop_id", COL_TEXT, NULL },
	{ "shop_name", COL_TEXT, NULL },
	{ "platform", COL_TEXT, NULL },
	{ "owner_name", COL_TEXT, NULL },
	{ "owner_id_no", COL_ID_NO, NULL },
	{ "phone", COL_PHONE, NULL },
	{ "household_id", COL_TEXT_OPT, NULL },
	{ "village", COL_TEXT, NULL },
	{ "bank_name", COL_TEXT, NULL },
	{ "bank_account", COL_DIGITS, NULL },
	{ "account_name", COL_TEXT, NULL },
	{ "registered_from", COL_DATE, NULL },
	{ "registered_to", COL_DATE_OPEN, NULL },
};
static const col_spec sender_cols[] = {
	{ "shop_id", COL_TEXT, NULL },
	{ "courier", COL_CODE, NULL },
	{ "sender_code", COL_TEXT, NULL },
	{ "valid_from", COL_DATE, NULL },
	{ "valid_to", COL_DATE_OPEN, NULL },
};
static const col_spec household_cols[] = {
	{ "household_id", COL_TEXT, NULL },
	{ "head_name", COL_TEXT, NULL },
	{ "village", COL_TEXT, NULL },
	{ "poor_from", COL_DATE, NULL },
	{ "poor_to", COL_DATE_OPEN, NULL },
};
static const col_spec campaign_cols[] = {
	{ "campaign_id", COL_TEXT, NULL },
	{ "name", COL_TEXT, NULL },
	{ "starts_at", COL_TIME, NULL },
	{ "ends_at", COL_TIME, NULL },
};
static const col_spec budget_cols[] = {
	{ "pool_id", COL_TEXT, NULL },
	{ "name", COL_TEXT, NULL },
	{ "amount", COL_AMOUNT, "amount_fen" },
	{ "valid_from", COL_DATE, NULL },
	{ "valid_to", COL_DATE_OPEN, NULL },
	{ "priority", COL_INT, NULL },
};

#define KIND(id, name, table, cols, keys, from, to, strict) \
	{ id, name, table, cols, (int)G_N_ELEMENTS(cols), keys, from, to, strict }
static const kind_spec kinds[] = {
	KIND(KIND_POLICIES, "policies", "policies", policy_cols, 1, 1, 2, FALSE),
	KIND(KIND_SHOPS, "shops", "shops", shop_cols, 1, 11, 12, FALSE),
	KIND(KIND_SENDERS, "senders", "senders", sender_cols, 3, 3, 4, FALSE),
	KIND(KIND_HOUSEHOLDS, "households", "households", household_cols, 1, 3, 4, FALSE),
	KIND(KIND_CAMPAIGNS, "campaigns", "campaigns", campaign_cols, 1, 2, 3, TRUE),
	KIND(KIND_BUDGETS, "budgets", "pools", budget_cols, 1, 3, 4, FALSE),
};
#undef KIND
G_STATIC_ASSERT(G_N_ELEMENTS(shop_cols) <= REGISTRY_COLUMNS_MAX);
G_STATIC_ASSERT(G_N_ELEMENTS(policy_cols) <= REGISTRY_COLUMNS_MAX);

static const kind_spec *kind_find(const char *name)
{
	for (size_t i = 0; name && i < G_N_ELEMENTS(kinds); i++)
		if (strcmp(kinds[i].name, name) == 0)
			return &kinds[i];
	return NULL;
}

gboolean registry_kind_known(const char *kind)
{
	return kind_find(kind) != NULL;
}

static const char *col_db_name(const col_spec *c)
{
	return c->db_name ? c->db_name : c->name;
}

/* The SQL expression that prints a stored column as the canonical text of a file value. */
static char *col_select(const col_spec *c)
{
	const char *n = col_db_name(c);
	switch (c->type) {
	case COL_DATE:
	case COL_DATE_OPEN: return g_strdup_printf("to_char(%s, 'YYYY-MM-DD')", n);
	case COL_TIME: return g_strdup_printf("to_char(%s, 'YYYY-MM-DD HH24:MI:SS')", n);
	case COL_LIST: return g_strdup_printf("array_to_string(%s, ';')", n);
	case COL_BP:
	case COL_INT:
	case COL_AMOUNT:
	case COL_AMOUNT_OPT:
	case COL_FEE_MAX:
	case COL_BOOL: return g_strdup_printf("%s::text", n);
	default: return g_strdup(n);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Values: from a file's text to canonical text */

/* A whole number of at most digits_max digits and at most max; FALSE otherwise. */
static gboolean parse_whole(const char *text, int digits_max, int64_t max, int64_t *out)
{
	size_t n = strlen(text);
	if (n == 0 || n > (size_t)digits_max)
		return FALSE;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!g_ascii_isdigit(text[i]))
			return FALSE;
		v = v * 10 + (text[i] - '0');
	}
	if (v > max)
		return FALSE;
	*out = v;
	return TRUE;
}

/* "name 'text' ..." for messages of other modules that start by quoting the text, else
 * "name: message". */
static char *reason_from(const char *name, const GError *e)
{
	return g_strdup_printf(e->message[0] == '\'' ? "%s %s" : "%s: %s", name, e->message);
}

/* The reason a field is refused when another module's parser said why (e). */
static gboolean refuse_from(const col_spec *c, const GError *e, char **reason)
{
	g_assert(e != NULL);
	g_assert(*reason == NULL); /* never said twice */
	*reason = reason_from(c->name, e);
	return FALSE;
}

/* An empty field: NULL (*out NULL) where the column may be empty, its default, or refused. */
static gboolean convert_empty(const col_spec *c, char **out, char **reason)
{
	g_assert(*out == NULL && *reason == NULL);
	gboolean ok = TRUE;
	switch (c->type) {
	case COL_TEXT_OPT:
	case COL_DATE_OPEN:
	case COL_AMOUNT_OPT: break;
	case COL_LIST: *out = g_strdup(""); break; /* an empty list, as the database prints '{}' */
	case COL_FEE_MAX: *out = g_strdup_printf("%d", POLICY_FEE_MAX_DEFAULT_FEN); break;
	default: *reason = g_strdup_printf("%s is empty", c->name); ok = FALSE;
	}
	g_assert(ok == (*reason == NULL));
	return ok;
}

/* A day (YYYY-MM-DD) or a time (YYYY-MM-DD HH:MM:SS), in chrono's canonical form. */
static gboolean convert_when(const col_spec *c, const char *text, char **out, char **reason)
{
	g_assert(c->type == COL_DATE || c->type == COL_DATE_OPEN || c->type == COL_TIME);
	g_autoptr(GError) e = NULL;
	if (c->type == COL_TIME) {
		chrono_time t;
		if (!chrono_parse_time(text, &t, &e))
			return refuse_from(c, e, reason);
		char buf[CHRONO_TIME_TEXT_MAX];
		chrono_format_time(t, buf);
		*out = g_strdup(buf);
	} else {
		chrono_day d;
		if (!chrono_parse_day(text, &d, &e))
			return refuse_from(c, e, reason);
		char buf[CHRONO_DAY_TEXT_MAX];
		chrono_format_day(d, buf);
		*out = g_strdup(buf);
	}
	g_assert(strlen(*out) == (c->type == COL_TIME ? CHRONO_TIME_TEXT_MAX : CHRONO_DAY_TEXT_MAX) - 1);
	return TRUE;
}

/* A whole number (basis points, or a count) or an amount in yuan (stored in fen; a fee_max within
 * POLICY.md's bounds), as decimal digits. */
static gboolean convert_number(const col_spec *c, const char *text, char **out, char **reason)
{
	int64_t v;
	if (c->type == COL_BP || c->type == COL_INT) {
		gboolean bp = c->type == COL_BP;
		if (!parse_whole(text, bp ? REGISTRY_BP_DIGITS_MAX : REGISTRY_INT_DIGITS_MAX,
				 bp ? MONEY_BP_ONE : 999999999, &v)) {
			*reason = g_strdup_printf(bp ? "%s '%s' is not a whole number of basis points from 0 to 10000"
						     : "%s '%s' is not a whole number from 0 to 999999999",
						  c->name, text);
			return FALSE;
		}
	} else {
		g_assert(c->type == COL_AMOUNT || c->type == COL_AMOUNT_OPT || c->type == COL_FEE_MAX);
		g_autoptr(GError) e = NULL;
		if (!money_parse(text, &v, &e))
			return refuse_from(c, e, reason);
		if (c->type == COL_FEE_MAX && !policy_fee_max_valid(v, &e)) {
			*reason = g_strdup_printf("%s '%s' %s", c->name, text, e->message);
			return FALSE;
		}
	}
	g_assert(v >= 0 && (c->type != COL_BP || v <= MONEY_BP_ONE));
	*out = g_strdup_printf("%" G_GINT64_FORMAT, (gint64)v);
	return TRUE;
}

/* A word of a closed set (a rounding mode, true or false) or a ';'-separated list, canonical:
 * the mode's name, lower case, the items trimmed with the empty ones left out. */
static gboolean convert_word(const col_spec *c, const char *text, char **out, char **reason)
{
	money_rounding mode;
	switch (c->type) {
	case COL_ROUNDING:
		if (!money_rounding_parse(text, &mode)) {
			*reason = g_strdup_printf("%s '%s' is not half_up or half_even", c->name, text);
			return FALSE;
		}
		*out = g_strdup(money_rounding_name(mode));
		return TRUE;
	case COL_BOOL:
		/* Excel re-saves true as TRUE. */
		if (g_ascii_strcasecmp(text, "true") != 0 && g_ascii_strcasecmp(text, "false") != 0) {
			*reason = g_strdup_printf("%s '%s' is not true or false", c->name, text);
			return FALSE;
		}
		*out = g_ascii_strdown(text, -1);
		return TRUE;
	default: break;
	}
	g_assert(c->type == COL_LIST);
	g_auto(GStrv) items = g_strsplit(text, ";", -1);
	GString *joined = g_string_new(NULL);
	for (char **i = items; *i; i++) {
		g_strstrip(*i);
		if (**i == '\0')
			continue;
		if (joined->len > 0)
			g_string_append_c(joined, ';');
		g_string_append(joined, *i);
	}
	/* Never longer than the text, never starting or ending with a separator. */
	g_assert(joined->len <= strlen(text));
	g_assert(joined->len == 0 || (joined->str[0] != ';' && joined->str[joined->len - 1] != ';'));
	*out = g_string_free(joined, FALSE);
	return TRUE;
}

/* What names a person or a party: a courier (its code, as lines name it), a resident ID number
 * (upper case), an 11-digit mobile number, a bank account's digits. */
static gboolean convert_identity(const col_spec *c, const char *text, char **out, char **reason)
{
	g_autoptr(GError) e = NULL;
	gboolean ok = TRUE;
	switch (c->type) {
	case COL_CODE:
		/* zto, ＺＴＯ, ZTO and 中通 are one courier (POLICY.md check 2): as lines name it. */
		*out = ident_courier_code(text, NULL);
		g_assert(*out != NULL); /* the file is UTF-8: read_rows checked every line */
		if (**out)
			return TRUE;
		g_clear_pointer(out, g_free);
		*reason = g_strdup_printf("%s has nothing visible (only spaces or invisible characters)", c->name);
		return FALSE;
	case COL_ID_NO:
		if (!ident_id_no_valid(text, &e))
			return refuse_from(c, e, reason);
		*out = g_ascii_strup(text, -1);
		return TRUE;
	case COL_PHONE:
		ok = strlen(text) == IDENT_PHONE_DIGITS && text[0] == '1' && text[1] >= '3' && text[1] <= '9';
		for (int i = 2; ok && i < IDENT_PHONE_DIGITS; i++)
			ok = g_ascii_isdigit(text[i]);
		if (!ok)
			*reason = g_strdup_printf("%s '%s' is not an 11-digit mobile number", c->name, text);
		break;
	default:
		g_assert(c->type == COL_DIGITS);
		for (const char *p = text; ok && *p; p++)
			ok = g_ascii_isdigit(*p);
		if (!ok)
			*reason = g_strdup_printf("%s '%s' is not all digits", c->name, text);
		break;
	}
	g_assert(ok == (*reason == NULL));
	if (ok)
		*out = g_strdup(text);
	return ok;
}

/* Converts one field; on success *out is the canonical text (NULL for SQL NULL, else a new
 * string), on failure *reason says why (new string). */
static gboolean convert(const col_spec *c, const char *text, char **out, char **reason)
{
	g_assert(c && text);
	*out = NULL;
	*reason = NULL;
	gboolean ok;
	if (text[0] == '\0')
		return convert_empty(c, out, reason);
	switch (c->type) {
	case COL_TEXT:
	case COL_TEXT_OPT: *out = g_strdup(text); ok = TRUE; break;
	case COL_DATE:
	case COL_DATE_OPEN:
	case COL_TIME: ok = convert_when(c, text, out, reason); break;
	case COL_BP:
	case COL_INT:
	case COL_AMOUNT:
	case COL_AMOUNT_OPT:
	case COL_FEE_MAX: ok = convert_number(c, text, out, reason); break;
	case COL_ROUNDING:
	case COL_BOOL:
	case COL_LIST: ok = convert_word(c, text, out, reason); break;
	case COL_CODE:
	case COL_ID_NO:
	case COL_PHONE:
	case COL_DIGITS: ok = convert_identity(c, text, out, reason); break;
	default: g_assert_not_reached();
	}
	/* A field that is there is a value or a reason, never both, never neither. */
	g_assert(ok ? (*out != NULL && *reason == NULL) : (*out == NULL && *reason != NULL));
	return ok;
}

/* "2016-01-01 to 2018-12-31", or "from 2016-01-01" when open. */
static char *range_text(const char *from, const char *to)
{
	return to ? g_strdup_printf("%s to %s", from, to) : g_strdup_printf("from %s", from);
}

/* ------------------------------------------------------------------------------------------ */
/* The loader: one file of one kind */

typedef struct {
	int line;
	int seq; /* order of finding, for a stable sort */
	char *text;
} problem;

/* A data row that converted: its canonical values and what the load does with it. */
typedef struct {
	int line;
	char *key;
	char **values; /* kind->n_cols, NULL for SQL NULL */
	int version;   /* the version to write; 0: identical to the current one */
} load_row;

typedef struct {
	const kind_spec *kind;
	const char *path;
	GPtrArray *rows;        /* load_row * */
	GArray *problems;       /* problem */
	GPtrArray *warnings;    /* char * */
	GHashTable *key_lines;  /* key -> first line (every keyed record, converted or not) */
	/* The records read (csvfile). */
	gboolean header_seen;
	gboolean header_bad;
	int records;
	/* The current versions in the database. */
	PGresult *current;      /* version, then the kind's columns */
	GHashTable *current_rows; /* key -> row index + 1 */
} loader;

static void add_problem(loader *l, int line, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void add_problem(loader *l, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	problem p = { line, (int)l->problems->len, g_strdup_vprintf(fmt, ap) };
	va_end(ap);
	g_array_append_val(l->problems, p);
}

static void add_warning(loader *l, int line, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void add_warning(loader *l, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_ptr_array_add(l->warnings, g_strdup_printf("%s:%d: %s", l->path, line, text));
}

static void load_row_free(gpointer p)
{
	load_row *r = p;
	g_free(r->key);
	for (int i = 0; r->values && i < REGISTRY_COLUMNS_MAX; i++)
		g_free(r->values[i]);
	g_free(r->values);
	g_free(r);
}

static void problem_clear(gpointer p)
{
	g_free(((problem *)p)->text);
}

static void loader_init(loader *l, const kind_spec *kind, const char *path)
{
	memset(l, 0, sizeof *l);
	l->kind = kind;
	l->path = path;
	l->rows = g_ptr_array_new_with_free_func(load_row_free);
	l->problems = g_array_new(FALSE, FALSE, sizeof(problem));
	g_array_set_clear_func(l->problems, problem_clear);
	l->warnings = g_ptr_array_new_with_free_func(g_free);
	l->key_lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	l->current_rows = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

static void loader_clear(loader *l)
{
	g_ptr_array_unref(l->rows);
	g_array_unref(l->problems);
	if (l->warnings)
		g_ptr_array_unref(l->warnings);
	g_hash_table_unref(l->key_lines);
	g_hash_table_unref(l->current_rows);
	PQclear(l->current);
}

/* The key of a record: its key values joined. */
static char *key_of(const kind_spec *k, char *const *values)
{
	GString *key = g_string_new(values[0]);
	for (int i = 1; i < k->n_keys; i++) {
		g_string_append(key, REGISTRY_KEY_SEP);
		g_string_append(key, values[i]);
	}
	return g_string_free(key, FALSE);
}

/* "policy_id 'p1'" or "shop_id 'S1', courier 'ZTO', sender_code 'ZT0001'". */
static char *key_text(const kind_spec *k, char *const *values)
{
	GString *s = g_string_new(NULL);
	for (int i = 0; i < k->n_keys; i++)
		g_string_append_printf(s, "%s%s '%s'", i ? ", " : "", k->cols[i].name, values[i]);
	return g_string_free(s, FALSE);
}

static void check_header(loader *l, int line, const csvfile_record *fields)
{
	const kind_spec *k = l->kind;
	g_assert(line >= 1 && fields->n_fields > 0);
	g_assert(l->header_seen && !l->header_bad && l->rows->len == 0);
	GString *want = g_string_new(NULL);
	for (int i = 0; i < k->n_cols; i++)
		g_string_append_printf(want, "%s%s", i ? "," : "", k->cols[i].name);
	if ((int)fields->n_fields != k->n_cols) {
		add_problem(l, line, "the header has %u columns, a %s file has %d: %s", fields->n_fields, k->name,
			    k->n_cols, want->str);
		l->header_bad = TRUE;
	} else {
		for (int i = 0; i < k->n_cols; i++) {
			const char *got = fields->fields[i];
			if (strcmp(got, k->cols[i].name) != 0) {
				add_problem(l, line, "header column %d is '%s', expected '%s' (a %s file's header is %s)",
					    i + 1, got, k->cols[i].name, k->name, want->str);
				l->header_bad = TRUE;
				break;
			}
		}
	}
	g_string_free(want, TRUE);
}

/* Validates one data record and keeps it when every field converts. */
static void take_record(loader *l, int line, const csvfile_record *fields)
{
	const kind_spec *k = l->kind;
	g_assert(line >= 1 && fields->n_fields > 0);
	g_assert(l->header_seen && !l->header_bad && l->records <= REGISTRY_ROWS_MAX);
	if ((int)fields->n_fields != k->n_cols) {
		add_problem(l, line, "%u fields, the header has %d", fields->n_fields, k->n_cols);
		return;
	}
	char **values = g_new0(char *, REGISTRY_COLUMNS_MAX);
	gboolean ok = TRUE;
	for (int i = 0; i < k->n_cols; i++) {
		const col_spec *c = &k->cols[i];
		const char *text = fields->fields[i];
		gboolean clean = TRUE;
		for (const unsigned char *p = (const unsigned char *)text; *p && clean; p++)
			clean = *p >= 0x20 && *p != 0x7f;
		char *reason = NULL;
		if (!clean)
			reason = g_strdup_printf("%s contains a control character (a line break, a tab...)", c->name);
		else if (strlen(text) > REGISTRY_FIELD_BYTES_MAX)
			reason = g_strdup_printf("%s is longer than %d bytes", c->name, REGISTRY_FIELD_BYTES_MAX);
		else
			convert(c, text, &values[i], &reason);
		if (reason) {
			add_problem(l, line, "%s", reason);
			g_free(reason);
			ok = FALSE;
		}
	}
	/* The range, when both ends are readable. */
	const char *from = values[k->range_from], *to = values[k->range_to];
	if (from && to && (k->range_strict ? strcmp(to, from) <= 0 : strcmp(to, from) < 0)) {
		add_problem(l, line, k->range_strict ? "%s '%s' is not after %s '%s'" : "%s '%s' is before %s '%s'",
			    k->cols[k->range_to].name, to, k->cols[k->range_from].name, from);
		ok = FALSE;
	}
	/* Duplicate keys, when the key is readable. */
	gboolean keyed = TRUE;
	for (int i = 0; i < k->n_keys; i++)
		keyed = keyed && values[i] != NULL;
	if (keyed) {
		char *key = key_of(k, values);
		gpointer first = g_hash_table_lookup(l->key_lines, key);
		if (first) {
			g_autofree char *what = key_text(k, values);
			add_problem(l, line, "duplicate %s (first at line %d)", what, GPOINTER_TO_INT(first));
			g_free(key);
			ok = FALSE;
		} else {
			g_hash_table_insert(l->key_lines, key, GINT_TO_POINTER(line));
		}
	}
	if (!ok || !keyed) {
		for (int i = 0; i < k->n_cols; i++)
			g_free(values[i]);
		g_free(values);
		return;
	}
	load_row *r = g_new0(load_row, 1);
	r->line = line;
	r->key = key_of(k, values);
	r->values = values;
	g_ptr_array_add(l->rows, r);
}

/* TRUE when every field is empty: the ",,,," rows Excel writes below a table, which are blank lines,
 * not rows (libcsv has already dropped the spaces around unquoted fields). */
static gboolean fields_blank(const csvfile_record *rec)
{
	g_assert(rec->n_fields > 0 && rec->fields[rec->n_fields] == NULL);
	for (guint i = 0; i < rec->n_fields; i++)
		if (rec->fields[i][0] != '\0')
			return FALSE;
	return TRUE;
}

static void on_record(const csvfile_record *rec, void *ctx)
{
	loader *l = ctx;
	g_assert(rec->n_fields > 0 && rec->line >= 1);
	g_assert(l->header_seen || (!l->header_bad && l->records == 0));
	if (fields_blank(rec))
		return;
	if (!l->header_seen) {
		l->header_seen = TRUE;
		check_header(l, rec->line, rec);
	} else if (!l->header_bad && ++l->records <= REGISTRY_ROWS_MAX) {
		take_record(l, rec->line, rec);
	} else if (!l->header_bad && l->records == REGISTRY_ROWS_MAX + 1) {
		add_problem(l, rec->line, "more than %d rows: not a registry file", REGISTRY_ROWS_MAX);
	}
}

/* The file's bytes (a BOM first is skipped) into the loader's rows and problems: what the load
 * checks before it reads the database. */
static void read_rows(loader *l, const char *text, size_t len)
{
	g_assert(text != NULL || len == 0);
	g_assert(l->problems->len == 0 && l->rows->len == 0 && !l->header_seen);
	const char *kind = text_file_kind_hint((const unsigned char *)text, len);
	if (kind) {
		add_problem(l, 1, "it is no CSV text: %s", kind);
		return;
	}
	/* Every line must be UTF-8 (this also refuses NUL bytes). */
	gboolean utf8 = TRUE;
	int line = 1;
	for (size_t start = 0; start < len;) {
		size_t end = start;
		while (end < len && !TEXT_ENDS_LINE(text, end, len))
			end++;
		if (!g_utf8_validate(text + start, (gssize)(end - start), NULL)) {
			add_problem(l, line, "bytes that are not UTF-8 (save the file as UTF-8)");
			utf8 = FALSE;
		}
		start = end + 1;
		line++;
	}
	if (!utf8)
		return;

	csvfile_end end;
	csvfile_read(text, len, on_record, l, &end);
	if (end.status == CSVFILE_MALFORMED)
		add_problem(l, end.line, "malformed CSV: %s",
			    end.error == CSV_EPARSE ? "a quote inside an unquoted field, or text after a closing quote"
						    : csv_strerror(end.error));
	else if (end.status == CSVFILE_QUOTE_OPEN)
		add_problem(l, end.line, "malformed CSV: a quote is still open at the end of the file");
	if (!l->header_seen && l->problems->len == 0) {
		GString *want = g_string_new(NULL);
		for (int i = 0; i < l->kind->n_cols; i++)
			g_string_append_printf(want, "%s%s", i ? "," : "", l->kind->cols[i].name);
		add_problem(l, 1, "the file is empty: a %s file starts with the header %s", l->kind->name, want->str);
		g_string_free(want, TRUE);
	}
	/* A file is refused, or its records are a header and at most REGISTRY_ROWS_MAX rows. */
	g_assert(l->problems->len > 0 || (l->header_seen && !l->header_bad && l->rows->len <= REGISTRY_ROWS_MAX));
}

/* ------------------------------------------------------------------------------------------ */
/* Checks against the rest of the file and the database */

/* The columns of the current versions (read_current): the version, then the kind's columns. */
enum { CURRENT_VERSION, CURRENT_VALUES };

static const char *current_value(const loader *l, int row, int col)
{
	g_assert(l->current != NULL && row >= 0 && row < PQntuples(l->current));
	g_assert(col >= 0 && col < l->kind->n_cols);
	return PQgetisnull(l->current, row, CURRENT_VALUES + col) ? NULL
								   : PQgetvalue(l->current, row, CURRENT_VALUES + col);
}

/* A row of the set the registry will hold after the load: from the file (line > 0) or a
 * current version the file does not replace (line 0). */
typedef struct {
	int line;
	char *const *values; /* file rows */
	int db_row;          /* current versions */
} merged_row;

static const char *merged_value(const loader *l, const merged_row *m, int col)
{
	return m->line > 0 ? m->values[col] : current_value(l, m->db_row, col);
}

/* The file's rows and the current versions whose keys the file does not name. */
static GArray *merged_rows(const loader *l)
{
	GArray *all = g_array_new(FALSE, FALSE, sizeof(merged_row));
	for (guint i = 0; i < l->rows->len; i++) {
		const load_row *r = g_ptr_array_index(l->rows, i);
		merged_row m = { r->line, r->values, -1 };
		g_array_append_val(all, m);
	}
	for (int i = 0; i < PQntuples(l->current); i++) {
		char *values[REGISTRY_COLUMNS_MAX];
		for (int c = 0; c < l->kind->n_keys; c++)
			values[c] = (char *)current_value(l, i, c);
		g_autofree char *key = key_of(l->kind, values);
		if (g_hash_table_contains(l->key_lines, key))
			continue;
		merged_row m = { 0, NULL, i };
		g_array_append_val(all, m);
	}
	return all;
}

/* "at line 3" or "already loaded", for a message about the other row of a pair. */
static char *where_text(const merged_row *m)
{
	return m->line > 0 ? g_strdup_printf("at line %d", m->line) : g_strdup("already loaded");
}

/* Policy versions must not overlap: in the file, nor with current ones it does not replace. */
static void check_policy_overlaps(loader *l)
{
	g_autoptr(GArray) all = merged_rows(l);
	for (guint i = 0; i < all->len; i++) {
		for (guint j = i + 1; j < all->len; j++) {
			const merged_row *a = &g_array_index(all, merged_row, i);
			const merged_row *b = &g_array_index(all, merged_row, j);
			if (a->line == 0 && b->line == 0)
				continue;
			policy_version va = { .valid_from = registry_day(merged_value(l, a, 1)),
					      .valid_to = registry_day(merged_value(l, a, 2)) };
			policy_version vb = { .valid_from = registry_day(merged_value(l, b, 1)),
					      .valid_to = registry_day(merged_value(l, b, 2)) };
			if (!policy_overlap(&va, &vb))
				continue;
			/* Named on the later line of the file. */
			const merged_row *at = a->line > b->line ? a : b, *other = at == a ? b : a;
			g_autofree char *r1 = range_text(merged_value(l, at, 1), merged_value(l, at, 2));
			g_autofree char *r2 = range_text(merged_value(l, other, 1), merged_value(l, other, 2));
			g_autofree char *where = where_text(other);
			add_problem(l, at->line, "policy '%s' (%s) overlaps policy '%s' (%s) %s", merged_value(l, at, 0), r1,
				    merged_value(l, other, 0), r2, where);
		}
	}
}

/* The one column of a query as a set of strings. */
static GHashTable *query_set(db *d, const char *sql, GError **error)
{
	enum { SET_VALUE, SET_COLUMNS };
	const char *params[] = { db_programme(d) };
	PGresult *res = db_query(d, sql, 1, params, error);
	if (!res)
		return NULL;
	g_assert(PQnfields(res) == SET_COLUMNS);
	GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (int i = 0; i < PQntuples(res); i++)
		g_hash_table_add(set, g_strdup(PQgetvalue(res, i, SET_VALUE)));
	g_assert(g_hash_table_size(set) <= (guint)PQntuples(res));
	PQclear(res);
	return set;
}

/* Senders name current shops; one (courier, sender_code) belongs to one shop on any day. */
static gboolean check_senders(loader *l, db *d, GError **error)
{
	g_autoptr(GHashTable) shops =
		query_set(d, "SELECT shop_id FROM shops WHERE programme = $1 AND superseded_at IS NULL", error);
	if (!shops)
		return FALSE;
	for (guint i = 0; i < l->rows->len; i++) {
		const load_row *r = g_ptr_array_index(l->rows, i);
		if (!g_hash_table_contains(shops, r->values[0]))
			add_problem(l, r->line, "shop_id '%s' is not a registered shop (load shops first)", r->values[0]);
	}
	/* Claims of one (courier, sender_code), grouped. */
	g_autoptr(GArray) all = merged_rows(l);
	g_autoptr(GHashTable) groups =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_array_unref);
	for (guint i = 0; i < all->len; i++) {
		const merged_row *m = &g_array_index(all, merged_row, i);
		char *claim = g_strconcat(merged_value(l, m, 1), REGISTRY_KEY_SEP, merged_value(l, m, 2), NULL);
		GArray *g = g_hash_table_lookup(groups, claim);
		if (!g) {
			g = g_array_new(FALSE, FALSE, sizeof(guint));
			g_hash_table_insert(groups, claim, g);
		} else {
			g_free(claim);
		}
		g_array_append_val(g, i);
	}
	/* Report in file order: walk the rows, compare each with its group's others. */
	for (guint i = 0; i < all->len; i++) {
		const merged_row *a = &g_array_index(all, merged_row, i);
		if (a->line == 0)
			continue;
		g_autofree char *claim = g_strconcat(a->values[1], REGISTRY_KEY_SEP, a->values[2], NULL);
		GArray *g = g_hash_table_lookup(groups, claim);
		g_assert(g != NULL);
		for (guint j = 0; j < g->len; j++) {
			const merged_row *b = &g_array_index(all, merged_row, g_array_index(g, guint, j));
			/* Each pair once: on the later file line, or on the file line against the database. */
			if (b == a || (b->line > 0 && b->line > a->line))
				continue;
			if (strcmp(a->values[0], merged_value(l, b, 0)) == 0)
				continue;
			chrono_day af = registry_day(a->values[3]), at = registry_day(a->values[4]);
			chrono_day bf = registry_day(merged_value(l, b, 3)), bt = registry_day(merged_value(l, b, 4));
			if (!(af <= bt && bf <= at))
				continue;
			g_autofree char *rb = range_text(merged_value(l, b, 3), merged_value(l, b, 4));
			g_autofree char *where = where_text(b);
			add_problem(l, a->line,
				    "courier '%s' sender_code '%s' is already claimed by shop '%s' (%s, %s) on overlapping dates",
				    a->values[1], a->values[2], merged_value(l, b, 0), rb, where);
		}
	}
	return TRUE;
}

/* A shop's household that is not loaded yet is a warning; so is a phone several shops share
 * (lines matched by that phone alone cannot tell them apart). */
static gboolean check_shops(loader *l, db *d, GError **error)
{
	g_autoptr(GHashTable) households = query_set(
		d, "SELECT household_id FROM households WHERE programme = $1 AND superseded_at IS NULL", error);
	if (!households)
		return FALSE;
	for (guint i = 0; i < l->rows->len; i++) {
		const load_row *r = g_ptr_array_index(l->rows, i);
		const char *h = r->values[6];
		if (h && !g_hash_table_contains(households, h))
			add_warning(l, r->line,
				    "household_id '%s' is not loaded yet: shop '%s' is not a poverty household until it is",
				    h, r->values[0]);
	}
	g_autoptr(GArray) all = merged_rows(l);
	g_autoptr(GHashTable) phones = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, NULL);
	for (guint i = 0; i < all->len; i++) {
		const merged_row *m = &g_array_index(all, merged_row, i);
		const char *phone = merged_value(l, m, 5);
		gpointer first = g_hash_table_lookup(phones, phone);
		if (!first) {
			g_hash_table_insert(phones, (gpointer)phone, GUINT_TO_POINTER(i + 1));
			continue;
		}
		const merged_row *f = &g_array_index(all, merged_row, GPOINTER_TO_UINT(first) - 1);
		if (m->line == 0 && f->line == 0)
			continue;
		const merged_row *at = m->line > 0 ? m : f;
		add_warning(l, at->line,
			    "phone '%s' is shared by shops '%s' and '%s': lines matched by this phone alone will be AMBIGUOUS_SHOP",
			    phone, merged_value(l, f, 0), merged_value(l, m, 0));
	}
	return TRUE;
}

/* A pool's amount may not fall below what has been drawn from it. */
static gboolean check_budgets(loader *l, db *d, GError **error)
{
	enum { BALANCE_POOL_ID, BALANCE_DRAWN, BALANCE_COLUMNS };
	g_assert(l->kind->id == KIND_BUDGETS); /* values[0] is the pool, values[2] its amount */
	const char *params[] = { db_programme(d) };
	PGresult *res = db_query(d, "SELECT pool_id, drawn_fen FROM pool_balances WHERE programme = $1 FOR UPDATE", 1,
				 params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == BALANCE_COLUMNS);
	g_autoptr(GHashTable) drawn = g_hash_table_new(g_str_hash, g_str_equal);
	for (int i = 0; i < PQntuples(res); i++)
		g_hash_table_insert(drawn, PQgetvalue(res, i, BALANCE_POOL_ID), PQgetvalue(res, i, BALANCE_DRAWN));
	for (guint i = 0; i < l->rows->len; i++) {
		const load_row *r = g_ptr_array_index(l->rows, i);
		const char *d_text = g_hash_table_lookup(drawn, r->values[0]);
		if (!d_text)
			continue;
		int64_t amount = g_ascii_strtoll(r->values[2], NULL, 10), taken = g_ascii_strtoll(d_text, NULL, 10);
		if (amount < taken) {
			char a[MONEY_TEXT_MAX], t[MONEY_TEXT_MAX];
			add_problem(l, r->line, "amount %s is less than the %s already drawn from pool '%s'",
				    money_format(amount, a), money_format(taken, t), r->values[0]);
		}
	}
	PQclear(res);
	return TRUE;
}

/* Reads the current versions of the kind and compares the file's rows with them. */
static gboolean read_current(loader *l, db *d, GError **error)
{
	const kind_spec *k = l->kind;
	g_assert(l->current == NULL && g_hash_table_size(l->current_rows) == 0);
	GString *sql = g_string_new("SELECT version");
	for (int i = 0; i < k->n_cols; i++) {
		g_autofree char *e = col_select(&k->cols[i]);
		g_string_append_printf(sql, ", %s", e);
	}
	g_string_append_printf(sql, " FROM %s WHERE programme = $1 AND superseded_at IS NULL", k->table);
	const char *params[] = { db_programme(d) };
	l->current = db_query(d, sql->str, 1, params, error);
	g_string_free(sql, TRUE);
	if (!l->current)
		return FALSE;
	g_assert(PQnfields(l->current) == CURRENT_VALUES + k->n_cols);
	for (int i = 0; i < PQntuples(l->current); i++) {
		char *values[REGISTRY_COLUMNS_MAX];
		for (int c = 0; c < k->n_keys; c++)
			values[c] = (char *)current_value(l, i, c);
		g_hash_table_insert(l->current_rows, key_of(k, values), GINT_TO_POINTER(i + 1));
	}
	return TRUE;
}

static void classify(loader *l, registry_counts *counts)
{
	const kind_spec *k = l->kind;
	for (guint i = 0; i < l->rows->len; i++) {
		load_row *r = g_ptr_array_index(l->rows, i);
		int at = GPOINTER_TO_INT(g_hash_table_lookup(l->current_rows, r->key)) - 1;
		if (at < 0) {
			r->version = 1;
			counts->new_rows++;
			continue;
		}
		gboolean same = TRUE;
		for (int c = 0; same && c < k->n_cols; c++)
			same = g_strcmp0(r->values[c], current_value(l, at, c)) == 0;
		if (same) {
			r->version = 0;
			counts->unchanged_rows++;
		} else {
			r->version = atoi(PQgetvalue(l->current, at, CURRENT_VERSION)) + 1;
			g_assert(r->version > 1);
			counts->changed_rows++;
		}
	}
	g_assert(counts->new_rows + counts->changed_rows + counts->unchanged_rows == (int)l->rows->len);
}

static gint problem_order(gconstpointer a, gconstpointer b)
{
	const problem *x = a, *y = b;
	return x->line != y->line ? (x->line < y->line ? -1 : 1) : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* The refusal: every problem, in line order, one per line of the message. */
static void refuse(loader *l, GError **error)
{
	g_assert(l->problems->len > 0);
	g_array_sort(l->problems, problem_order);
	GString *msg = g_string_new(NULL);
	g_string_append_printf(msg, "registry file '%s' refused, nothing stored (%u problem%s):", l->path,
			       l->problems->len, l->problems->len == 1 ? "" : "s");
	for (guint i = 0; i < l->problems->len; i++) {
		const problem *p = &g_array_index(l->problems, problem, i);
		g_string_append_printf(msg, "\n%s:%d: %s", l->path, p->line, p->text);
	}
	g_set_error_literal(error, REGISTRY_ERROR, STATUS_DATAERR, msg->str);
	g_string_free(msg, TRUE);
}

/* ------------------------------------------------------------------------------------------ */
/* Writing */

/* A text[] literal of a ';'-joined list: {"a","b"}; {} for an empty one. */
static char *array_literal(const char *joined)
{
	if (!joined || !*joined)
		return db_text_array(NULL, 0);
	g_auto(GStrv) items = g_strsplit(joined, ";", -1);
	return db_text_array((const char *const *)items, g_strv_length(items));
}

/* The column c of every row with version >= min_version, as a text[] literal (a parameter). */
static char *column_array(const loader *l, int c, int min_version)
{
	GPtrArray *items = g_ptr_array_new();
	for (guint i = 0; i < l->rows->len; i++) {
		const load_row *r = g_ptr_array_index(l->rows, i);
		if (r->version >= min_version)
			g_ptr_array_add(items, r->values[c]);
	}
	char *lit = db_text_array((const char *const *)items->pdata, items->len);
	g_ptr_array_free(items, TRUE);
	return lit;
}

/* Marks the current version of every changed row superseded at the load's time, in one
 * statement (the trigger allows exactly this update). The keys and versions go as parallel
 * arrays. */
static gboolean supersede(loader *l, db *d, const char *now, int changed, GError **error)
{
	const kind_spec *k = l->kind;
	g_assert(k->n_keys >= 1 && k->n_keys + 3 <= REGISTRY_COLUMNS_MAX);
	const char *params[REGISTRY_COLUMNS_MAX] = { db_programme(d), now };
	GPtrArray *owned = g_ptr_array_new_with_free_func(g_free);
	for (int c = 0; c < k->n_keys; c++)
		g_ptr_array_add(owned, column_array(l, c, 2));
	GPtrArray *versions = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < l->rows->len; i++) {
		const load_row *r = g_ptr_array_index(l->rows, i);
		if (r->version >= 2)
			g_ptr_array_add(versions, g_strdup_printf("%d", r->version - 1));
	}
	g_assert((int)versions->len == changed);
	g_ptr_array_add(owned, db_text_array((const char *const *)versions->pdata, versions->len));
	g_ptr_array_free(versions, TRUE);
	GString *sql = g_string_new(NULL);
	g_string_append_printf(sql, "UPDATE %s t SET superseded_at = $2::timestamptz FROM unnest(", k->table);
	for (int c = 0; c < k->n_keys; c++)
		g_string_append_printf(sql, "$%d::text[], ", c + 3);
	g_string_append_printf(sql, "$%d::int[]) AS k(", k->n_keys + 3);
	for (int c = 0; c < k->n_keys; c++)
		g_string_append_printf(sql, "%s, ", col_db_name(&k->cols[c]));
	g_string_append(sql, "version) WHERE t.programme = $1 AND t.superseded_at IS NULL AND t.version = k.version");
	for (int c = 0; c < k->n_keys; c++)
		g_string_append_printf(sql, " AND t.%s = k.%s", col_db_name(&k->cols[c]), col_db_name(&k->cols[c]));
	for (guint i = 0; i < owned->len; i++)
		params[i + 2] = g_ptr_array_index(owned, i);
	PGresult *res = db_query(d, sql->str, k->n_keys + 3, params, error);
	g_string_free(sql, TRUE);
	g_ptr_array_free(owned, TRUE);
	if (!res)
		return FALSE;
	int updated = atoi(PQcmdTuples(res));
	PQclear(res);
	if (updated != changed) {
		g_set_error(error, REGISTRY_ERROR, STATUS_SOFTWARE,
			    "superseding %d %s versions marked %d: the registry changed during the load", changed,
			    k->name, updated);
		return FALSE;
	}
	return TRUE;
}

/* Writes every new and changed row as a new version, with one COPY. */
static gboolean copy_versions(loader *l, db *d, const char *load_id, const char *now, GError **error)
{
	const kind_spec *k = l->kind;
	GString *sql = g_string_new(NULL);
	g_string_append_printf(sql, "COPY %s (programme, version, load_id, recorded_at", k->table);
	for (int c = 0; c < k->n_cols; c++)
		g_string_append_printf(sql, ", %s", col_db_name(&k->cols[c]));
	g_string_append(sql, ") FROM STDIN");
	GString *buf = g_string_new(NULL);
	for (guint i = 0; i < l->rows->len; i++) {
		const load_row *r = g_ptr_array_index(l->rows, i);
		if (r->version == 0)
			continue;
		db_copy_text(buf, db_programme(d));
		db_copy_int(buf, r->version);
		db_copy_text(buf, load_id);
		db_copy_text(buf, now);
		for (int c = 0; c < k->n_cols; c++) {
			if (k->cols[c].type == COL_LIST) {
				g_autofree char *lit = array_literal(r->values[c]);
				db_copy_text(buf, lit);
			} else {
				db_copy_text(buf, r->values[c]);
			}
		}
		db_copy_row_end(buf);
	}
	gboolean ok = db_copy_rows(d, sql->str, buf, error);
	g_string_free(sql, TRUE);
	g_string_free(buf, TRUE);
	return ok;
}

/* A new or changed pool sets its balance's amount (what was drawn stays). Budgets' columns:
 * pool_id, name, amount (fen), ... */
static gboolean write_balances(loader *l, db *d, GError **error)
{
	g_assert(strcmp(l->kind->table, "pools") == 0 && l->kind->n_cols > 2);
	g_autofree char *ids = column_array(l, 0, 1);
	g_autofree char *amounts = column_array(l, 2, 1);
	const char *params[] = { db_programme(d), ids, amounts };
	PGresult *res = db_query(d,
				 "INSERT INTO pool_balances (programme, pool_id, amount_fen)"
				 " SELECT $1, k.pool_id, k.amount_fen"
				 " FROM unnest($2::text[], $3::bigint[]) AS k(pool_id, amount_fen)"
				 " ON CONFLICT (programme, pool_id) DO UPDATE SET amount_fen = EXCLUDED.amount_fen",
				 3, params, error);
	if (!res)
		return FALSE;
	PQclear(res);
	return TRUE;
}

/* Inside the load's transaction: lock, compare, check, write. */
static gboolean load_in_transaction(loader *l, db *d, const char *sha256, const char *os_user,
				    registry_counts *counts, GError **error)
{
	const kind_spec *k = l->kind;
	/* The settlement lock's key, for this transaction: a load waits for a running settlement
	 * and no settlement starts during a load, so a batch never sees half a registry change. */
	if (!db_wait_settlement_xact(d, error))
		return FALSE;
	/* The load's time, taken once the lock is held, so versions are recorded in load order. */
	g_autofree char *now = NULL;
	if (!db_scalar(d, "SELECT clock_timestamp()::text", 0, NULL, &now, error))
		return FALSE;
	if (!read_current(l, d, error))
		return FALSE;
	gboolean ok = TRUE;
	switch (k->id) {
	case KIND_POLICIES: check_policy_overlaps(l); break;
	case KIND_SHOPS: ok = check_shops(l, d, error); break;
	case KIND_SENDERS: ok = check_senders(l, d, error); break;
	case KIND_BUDGETS: ok = check_budgets(l, d, error); break;
	case KIND_HOUSEHOLDS:
	case KIND_CAMPAIGNS: break;
	}
	if (!ok)
		return FALSE;
	if (l->problems->len > 0) {
		refuse(l, error);
		return FALSE;
	}
	classify(l, counts);

	g_autofree char *detail = g_strdup_printf("registry load %s %s", k->name, l->path);
	const char *run_params[] = { db_programme(d), now, os_user, detail };
	g_autofree char *run_id = NULL;
	if (!db_scalar(d,
		       "INSERT INTO runs (programme, kind, started_at, os_user, detail)"
		       " VALUES ($1, 'registry', $2::timestamptz, $3, $4) RETURNING run_id",
		       4, run_params, &run_id, error))
		return FALSE;
	char n_new[16], n_changed[16], n_same[16];
	g_snprintf(n_new, sizeof n_new, "%d", counts->new_rows);
	g_snprintf(n_changed, sizeof n_changed, "%d", counts->changed_rows);
	g_snprintf(n_same, sizeof n_same, "%d", counts->unchanged_rows);
	const char *load_params[] = { db_programme(d), run_id, k->name, l->path, sha256, n_new, n_changed, n_same };
	g_autofree char *load_id = NULL;
	if (!db_scalar(d,
		       "INSERT INTO registry_loads (programme, run_id, kind, file_name, sha256, new_rows, changed_rows,"
		       " unchanged_rows) VALUES ($1, $2::bigint, $3, $4, $5, $6::int, $7::int, $8::int)"
		       " RETURNING load_id",
		       8, load_params, &load_id, error))
		return FALSE;
	if (counts->changed_rows > 0 && !supersede(l, d, now, counts->changed_rows, error))
		return FALSE;
	if (counts->new_rows + counts->changed_rows > 0) {
		if (!copy_versions(l, d, load_id, now, error))
			return FALSE;
		if (k->id == KIND_BUDGETS && !write_balances(l, d, error))
			return FALSE;
	}
	return TRUE;
}

/* The whole file; STATUS_NOINPUT when it cannot be read, STATUS_DATAERR when it is far too big
 * to be a registry file. */
static gboolean read_file(const char *path, char **out, size_t *len, GError **error)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
		int err = fd < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : errno;
		g_set_error(error, REGISTRY_ERROR, STATUS_NOINPUT, "cannot open '%s': %s", path, g_strerror(err));
		if (fd >= 0)
			close(fd);
		return FALSE;
	}
	GByteArray *buf = g_byte_array_new();
	guint8 chunk[65536];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof chunk)) > 0 && buf->len <= REGISTRY_FILE_BYTES_MAX)
		g_byte_array_append(buf, chunk, (guint)n);
	int err = errno;
	close(fd);
	if (n < 0) {
		g_set_error(error, REGISTRY_ERROR, STATUS_NOINPUT, "cannot read '%s': %s", path, g_strerror(err));
		g_byte_array_unref(buf);
		return FALSE;
	}
	if (buf->len > REGISTRY_FILE_BYTES_MAX) {
		g_set_error(error, REGISTRY_ERROR, STATUS_DATAERR,
			    "registry file '%s' refused: more than %d bytes, far more than a registry holds", path,
			    REGISTRY_FILE_BYTES_MAX);
		g_byte_array_unref(buf);
		return FALSE;
	}
	*len = buf->len;
	guint8 nul = 0;
	g_byte_array_append(buf, &nul, 1);
	*out = (char *)g_byte_array_free(buf, FALSE);
	return TRUE;
}

void registry_counts_clear(registry_counts *counts)
{
	if (counts->warnings)
		g_ptr_array_unref(counts->warnings);
	memset(counts, 0, sizeof *counts);
}

gboolean registry_check_bytes(const char *kind, const char *name, const char *bytes, size_t len, int *rows,
			      GError **error)
{
	g_return_val_if_fail(name != NULL && (bytes != NULL || len == 0), FALSE);
	const kind_spec *k = kind_find(kind);
	if (!k) {
		g_set_error(error, REGISTRY_ERROR, STATUS_USAGE, "unknown registry kind '%s'", kind ? kind : "");
		return FALSE;
	}
	loader l;
	loader_init(&l, k, name);
	read_rows(&l, bytes ? bytes : "", len);
	if (l.problems->len == 0 && k->id == KIND_POLICIES)
		check_policy_overlaps(&l); /* with no current versions: the file's own */
	gboolean ok = l.problems->len == 0;
	if (ok && rows)
		*rows = (int)l.rows->len;
	if (!ok)
		refuse(&l, error);
	loader_clear(&l);
	return ok;
}

gboolean registry_load(db *d, const char *kind, const char *path, const char *os_user, registry_counts *out,
		       GError **error)
{
	g_return_val_if_fail(d != NULL && path != NULL && os_user != NULL && out != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
	memset(out, 0, sizeof *out);
	const kind_spec *k = kind_find(kind);
	if (!k) {
		g_set_error(error, REGISTRY_ERROR, STATUS_USAGE,
			    "unknown registry kind '%s' (policies, shops, senders, households, campaigns or budgets)",
			    kind ? kind : "");
		return FALSE;
	}
	g_autofree char *bytes = NULL;
	size_t len = 0;
	if (!read_file(path, &bytes, &len, error))
		return FALSE;
	g_autofree char *sha256 = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)bytes, len);

	registry_counts counts = { 0 };
	loader l;
	loader_init(&l, k, path);
	read_rows(&l, bytes, len);
	gboolean ok = FALSE;
	if (l.problems->len > 0) {
		refuse(&l, error);
		goto out;
	}
	g_assert(PQtransactionStatus(db_conn(d)) == PQTRANS_IDLE);
	if (!db_begin(d, error))
		goto out;
	ok = load_in_transaction(&l, d, sha256, os_user, &counts, error) && db_commit(d, error);
	if (!ok) {
		db_rollback(d);
		goto out;
	}
	*out = counts;
	out->warnings = l.warnings;
	l.warnings = NULL;
out:
	loader_clear(&l);
	return ok;
}
