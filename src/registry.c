/* registry.c: loading registry files as versions, and snapshots of them; see registry.h.
 *
 * Loading is table-driven: each kind is a list of columns, each column a type that says how its
 * text is checked and what canonical text it becomes. The canonical text of a row is what the
 * database prints for the stored version (dates YYYY-MM-DD, amounts in fen, booleans true/false,
 * lists joined by ';'), so "identical" is a comparison of strings in C against the current
 * versions read in one query, and new versions go in with one COPY. */
#include "registry.h"

#include "ident.h"
#include "json.h"
#include "money.h"
#include "status.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK(subsidy-registry-error-quark, registry_error)

/* Registry files are small (thousands of rows): anything far beyond is the wrong file. */
#define REGISTRY_FILE_BYTES_MAX (64 * 1024 * 1024)
#define REGISTRY_ROWS_MAX 200000
/* No registry value (a name, a bank account, a list of categories) comes near this. */
#define REGISTRY_FIELD_BYTES_MAX 1024
#define REGISTRY_COLUMNS_MAX 16
/* Separates the parts of a composite key; fields with control characters are refused, so no
 * value contains it. */
#define REGISTRY_KEY_SEP "\x1f"
/* A mobile number: 1, then 3-9, then nine digits. */
#define REGISTRY_PHONE_DIGITS 11
/* Longest digit string a sender phone may have and still be a number after prefixes: 0086 + 11. */
#define REGISTRY_PHONE_DIGITS_MAX 15
#define REGISTRY_BP_DIGITS_MAX 5
#define REGISTRY_INT_DIGITS_MAX 9
#define REGISTRY_UTF8_BOM "\xEF\xBB\xBF"

G_STATIC_ASSERT(REGISTRY_PHONE_DIGITS_MAX == REGISTRY_PHONE_DIGITS + 4);
G_STATIC_ASSERT(REGISTRY_ROWS_MAX < G_MAXINT / 2);

/* ------------------------------------------------------------------------------------------ */
/* Identity numbers and phones */

char registry_id_check_char(const char *digits17)
{
	static const int weights[REGISTRY_ID_NO_LEN - 1] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 };
	static const char checks[] = "10X98765432";
	int sum = 0;
	for (int i = 0; i < REGISTRY_ID_NO_LEN - 1; i++) {
		g_assert(g_ascii_isdigit(digits17[i]));
		sum += (digits17[i] - '0') * weights[i];
	}
	return checks[sum % 11];
}

gboolean registry_id_no_valid(const char *id_no, GError **error)
{
	g_return_val_if_fail(id_no != NULL, FALSE);
	gboolean form = strlen(id_no) == REGISTRY_ID_NO_LEN;
	for (int i = 0; form && i < REGISTRY_ID_NO_LEN - 1; i++)
		form = g_ascii_isdigit(id_no[i]);
	char last = form ? g_ascii_toupper(id_no[REGISTRY_ID_NO_LEN - 1]) : '\0';
	if (!form || !(g_ascii_isdigit(last) || last == 'X')) {
		g_set_error(error, REGISTRY_ERROR, STATUS_DATAERR,
			    "'%s' is not a resident ID number (17 digits and a check character, a digit or X)", id_no);
		return FALSE;
	}
	char expected = registry_id_check_char(id_no);
	if (last != expected) {
		g_set_error(error, REGISTRY_ERROR, STATUS_DATAERR, "'%s' has a wrong check character (expected '%c')",
			    id_no, expected);
		return FALSE;
	}
	return TRUE;
}

/* The digits of text into buf (NUL-terminated), a leading 86 or 0086 dropped when 11 digits
 * remain; FALSE when there are more than cap - 1 digits (no phone of ours is that long). */
static gboolean phone_digits(const char *text, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = '\0';
	for (const char *p = text ? text : ""; *p; p++) {
		if (!g_ascii_isdigit(*p))
			continue;
		if (n + 1 >= cap)
			return FALSE;
		buf[n++] = *p;
	}
	buf[n] = '\0';
	size_t drop = 0;
	if (n == REGISTRY_PHONE_DIGITS + 2 && strncmp(buf, "86", 2) == 0)
		drop = 2;
	else if (n == REGISTRY_PHONE_DIGITS + 4 && strncmp(buf, "0086", 4) == 0)
		drop = 4;
	memmove(buf, buf + drop, n - drop + 1);
	return TRUE;
}

char *registry_normalise_phone(const char *text)
{
	size_t cap = (text ? strlen(text) : 0) + 1;
	char *buf = g_malloc(cap);
	gboolean fits = phone_digits(text, buf, cap);
	g_assert(fits);
	return buf;
}

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

/* Converts one field; on success *out is the canonical text (NULL for SQL NULL, else a new
 * string), on failure *reason says why (new string). */
static gboolean convert(const col_spec *c, const char *text, char **out, char **reason)
{
	*out = NULL;
	*reason = NULL;
	g_autoptr(GError) e = NULL;
	gboolean empty = text[0] == '\0';
	if (empty) {
		switch (c->type) {
		case COL_TEXT_OPT:
		case COL_DATE_OPEN:
		case COL_AMOUNT_OPT: return TRUE;
		case COL_LIST: *out = g_strdup(""); return TRUE; /* an empty list, as the database prints '{}' */
		case COL_FEE_MAX: *out = g_strdup_printf("%d", POLICY_FEE_MAX_DEFAULT_FEN); return TRUE;
		default: *reason = g_strdup_printf("%s is empty", c->name); return FALSE;
		}
	}
	switch (c->type) {
	case COL_TEXT:
	case COL_TEXT_OPT: *out = g_strdup(text); return TRUE;
	case COL_CODE:
		/* zto, ＺＴＯ, ZTO and 中通 are one courier (POLICY.md check 2): as lines name it. */
		*out = ident_courier_code(text, NULL);
		g_assert(*out != NULL); /* the file is UTF-8: parse_text checked every line */
		if (**out)
			return TRUE;
		g_clear_pointer(out, g_free);
		*reason = g_strdup_printf("%s has nothing visible (only spaces or invisible characters)", c->name);
		return FALSE;
	case COL_DATE:
	case COL_DATE_OPEN: {
		chrono_day d;
		if (!chrono_parse_day(text, &d, &e))
			break;
		char buf[CHRONO_DAY_TEXT_MAX];
		chrono_format_day(d, buf);
		*out = g_strdup(buf);
		return TRUE;
	}
	case COL_TIME: {
		chrono_time t;
		if (!chrono_parse_time(text, &t, &e))
			break;
		char buf[CHRONO_TIME_TEXT_MAX];
		chrono_format_time(t, buf);
		*out = g_strdup(buf);
		return TRUE;
	}
	case COL_BP:
	case COL_INT: {
		gboolean bp = c->type == COL_BP;
		int64_t v;
		if (!parse_whole(text, bp ? REGISTRY_BP_DIGITS_MAX : REGISTRY_INT_DIGITS_MAX,
				 bp ? MONEY_BP_ONE : 999999999, &v)) {
			*reason = g_strdup_printf(bp ? "%s '%s' is not a whole number of basis points from 0 to 10000"
						     : "%s '%s' is not a whole number from 0 to 999999999",
						  c->name, text);
			return FALSE;
		}
		*out = g_strdup_printf("%" G_GINT64_FORMAT, (gint64)v);
		return TRUE;
	}
	case COL_AMOUNT:
	case COL_AMOUNT_OPT:
	case COL_FEE_MAX: {
		int64_t fen;
		if (!money_parse(text, &fen, &e))
			break;
		if (c->type == COL_FEE_MAX && !policy_fee_max_valid(fen, &e)) {
			*reason = g_strdup_printf("%s '%s' %s", c->name, text, e->message);
			return FALSE;
		}
		*out = g_strdup_printf("%" G_GINT64_FORMAT, (gint64)fen);
		return TRUE;
	}
	case COL_ROUNDING: {
		money_rounding mode;
		if (!money_rounding_parse(text, &mode)) {
			*reason = g_strdup_printf("%s '%s' is not half_up or half_even", c->name, text);
			return FALSE;
		}
		*out = g_strdup(money_rounding_name(mode));
		return TRUE;
	}
	case COL_BOOL:
		/* Excel re-saves true as TRUE. */
		if (g_ascii_strcasecmp(text, "true") != 0 && g_ascii_strcasecmp(text, "false") != 0) {
			*reason = g_strdup_printf("%s '%s' is not true or false", c->name, text);
			return FALSE;
		}
		*out = g_ascii_strdown(text, -1);
		return TRUE;
	case COL_LIST: {
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
		*out = g_string_free(joined, FALSE);
		return TRUE;
	}
	case COL_ID_NO:
		if (!registry_id_no_valid(text, &e))
			break;
		*out = g_ascii_strup(text, -1);
		return TRUE;
	case COL_PHONE: {
		gboolean ok = strlen(text) == REGISTRY_PHONE_DIGITS && text[0] == '1' && text[1] >= '3' &&
			      text[1] <= '9';
		for (int i = 2; ok && i < REGISTRY_PHONE_DIGITS; i++)
			ok = g_ascii_isdigit(text[i]);
		if (!ok) {
			*reason = g_strdup_printf("%s '%s' is not an 11-digit mobile number", c->name, text);
			return FALSE;
		}
		*out = g_strdup(text);
		return TRUE;
	}
	case COL_DIGITS:
		for (const char *p = text; *p; p++) {
			if (!g_ascii_isdigit(*p)) {
				*reason = g_strdup_printf("%s '%s' is not all digits", c->name, text);
				return FALSE;
			}
		}
		*out = g_strdup(text);
		return TRUE;
	}
	g_assert(e != NULL);
	*reason = reason_from(c->name, e);
	return FALSE;
}

/* A day from canonical text (ours or the database's to_char); NULL is open. */
static chrono_day day_of(const char *text)
{
	if (!text)
		return POLICY_OPEN_END;
	chrono_day d;
	gboolean ok = chrono_parse_day(text, &d, NULL);
	g_assert(ok);
	return d;
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
	/* The CSV reader. */
	int line;               /* the physical line the parser is on */
	int record_line;        /* where the record being read started */
	GPtrArray *fields;      /* char *, of the record being read */
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
	l->fields = g_ptr_array_new_with_free_func(g_free);
	l->current_rows = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	l->line = 1;
}

static void loader_clear(loader *l)
{
	g_ptr_array_unref(l->rows);
	g_array_unref(l->problems);
	if (l->warnings)
		g_ptr_array_unref(l->warnings);
	g_hash_table_unref(l->key_lines);
	g_ptr_array_unref(l->fields);
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

static void check_header(loader *l, int line, GPtrArray *fields)
{
	const kind_spec *k = l->kind;
	GString *want = g_string_new(NULL);
	for (int i = 0; i < k->n_cols; i++)
		g_string_append_printf(want, "%s%s", i ? "," : "", k->cols[i].name);
	if ((int)fields->len != k->n_cols) {
		add_problem(l, line, "the header has %u columns, a %s file has %d: %s", fields->len, k->name, k->n_cols,
			    want->str);
		l->header_bad = TRUE;
	} else {
		for (int i = 0; i < k->n_cols; i++) {
			const char *got = g_ptr_array_index(fields, i);
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
static void take_record(loader *l, int line, GPtrArray *fields)
{
	const kind_spec *k = l->kind;
	if ((int)fields->len != k->n_cols) {
		add_problem(l, line, "%u fields, the header has %d", fields->len, k->n_cols);
		return;
	}
	char **values = g_new0(char *, REGISTRY_COLUMNS_MAX);
	gboolean ok = TRUE;
	for (int i = 0; i < k->n_cols; i++) {
		const col_spec *c = &k->cols[i];
		const char *text = g_ptr_array_index(fields, i);
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

static void on_field(void *data, size_t len, void *ctx)
{
	loader *l = ctx;
	if (l->fields->len == 0)
		l->record_line = l->line;
	const char *text = data ? data : "";
	g_ptr_array_add(l->fields, g_strndup(text, len));
	/* A quoted field may hold line breaks: the next field is on a later line. */
	for (size_t i = 0; i < len; i++)
		l->line += text[i] == '\n';
}

/* TRUE when every field is empty: the ",,,," rows Excel writes below a table, which are blank lines,
 * not rows (libcsv has already dropped the spaces around unquoted fields). */
static gboolean fields_blank(const GPtrArray *fields)
{
	for (guint i = 0; i < fields->len; i++)
		if (*(const char *)g_ptr_array_index(fields, i) != '\0')
			return FALSE;
	return TRUE;
}

static void on_record(int c, void *ctx)
{
	loader *l = ctx;
	if (l->fields->len > 0 && fields_blank(l->fields)) {
		g_ptr_array_set_size(l->fields, 0);
	} else if (l->fields->len > 0) {
		if (!l->header_seen) {
			l->header_seen = TRUE;
			check_header(l, l->record_line, l->fields);
		} else if (!l->header_bad && ++l->records <= REGISTRY_ROWS_MAX) {
			take_record(l, l->record_line, l->fields);
		} else if (!l->header_bad && l->records == REGISTRY_ROWS_MAX + 1) {
			add_problem(l, l->record_line, "more than %d rows: not a registry file", REGISTRY_ROWS_MAX);
		}
		g_ptr_array_set_size(l->fields, 0);
	}
	/* Every unquoted line break is reported (CSV_REPALL_NL): CRLF counts once, by its LF. */
	if (c == '\n')
		l->line++;
}

/* The 1-based line of byte offset pos. */
static int line_at(const char *text, size_t pos)
{
	int line = 1;
	for (size_t i = 0; i < pos; i++)
		line += text[i] == '\n';
	return line;
}

/* Reads the file's text (a BOM dropped) into the loader's rows and problems. */
static void parse_text(loader *l, const char *text, size_t len)
{
	/* Every line must be UTF-8 (this also refuses NUL bytes). */
	gboolean utf8 = TRUE;
	int line = 1;
	for (size_t start = 0; start < len;) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - text) : len;
		if (!g_utf8_validate(text + start, (gssize)(end - start), NULL)) {
			add_problem(l, line, "bytes that are not UTF-8 (save the file as UTF-8)");
			utf8 = FALSE;
		}
		start = end + 1;
		line++;
	}
	if (!utf8)
		return;

	struct csv_parser p;
	int rc = csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL);
	g_assert(rc == 0);
	size_t done = csv_parse(&p, text, len, on_field, on_record, l);
	if (done != len) {
		add_problem(l, line_at(text, done), "malformed CSV: %s",
			    csv_error(&p) == CSV_EPARSE ? "a quote inside an unquoted field, or text after a closing quote"
							: csv_strerror(csv_error(&p)));
	} else if (csv_fini(&p, on_field, on_record, l) != 0) {
		add_problem(l, l->line, "malformed CSV: a quote is still open at the end of the file");
	}
	csv_free(&p);
	if (!l->header_seen && l->problems->len == 0) {
		GString *want = g_string_new(NULL);
		for (int i = 0; i < l->kind->n_cols; i++)
			g_string_append_printf(want, "%s%s", i ? "," : "", l->kind->cols[i].name);
		add_problem(l, 1, "the file is empty: a %s file starts with the header %s", l->kind->name, want->str);
		g_string_free(want, TRUE);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Checks against the rest of the file and the database */

static const char *current_value(const loader *l, int row, int col)
{
	return PQgetisnull(l->current, row, col + 1) ? NULL : PQgetvalue(l->current, row, col + 1);
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
			policy_version va = { .valid_from = day_of(merged_value(l, a, 1)),
					      .valid_to = day_of(merged_value(l, a, 2)) };
			policy_version vb = { .valid_from = day_of(merged_value(l, b, 1)),
					      .valid_to = day_of(merged_value(l, b, 2)) };
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

/* The first column of a query as a set of strings. */
static GHashTable *query_set(db *d, const char *sql, GError **error)
{
	const char *params[] = { db_programme(d) };
	PGresult *res = db_query(d, sql, 1, params, error);
	if (!res)
		return NULL;
	GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (int i = 0; i < PQntuples(res); i++)
		g_hash_table_add(set, g_strdup(PQgetvalue(res, i, 0)));
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
			chrono_day af = day_of(a->values[3]), at = day_of(a->values[4]);
			chrono_day bf = day_of(merged_value(l, b, 3)), bt = day_of(merged_value(l, b, 4));
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
	const char *params[] = { db_programme(d) };
	PGresult *res = db_query(d, "SELECT pool_id, drawn_fen FROM pool_balances WHERE programme = $1 FOR UPDATE", 1,
				 params, error);
	if (!res)
		return FALSE;
	g_autoptr(GHashTable) drawn = g_hash_table_new(g_str_hash, g_str_equal);
	for (int i = 0; i < PQntuples(res); i++)
		g_hash_table_insert(drawn, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
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
			r->version = atoi(PQgetvalue(l->current, at, 0)) + 1;
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

/* Marks the current version of every changed row superseded at the load's time, in one
 * statement (the trigger allows exactly this update). */
static gboolean supersede(loader *l, db *d, const char *now, int changed, GError **error)
{
	const kind_spec *k = l->kind;
	json_writer w;
	json_init(&w);
	json_array_begin(&w);
	for (guint i = 0; i < l->rows->len; i++) {
		const load_row *r = g_ptr_array_index(l->rows, i);
		if (r->version <= 1)
			continue;
		json_object_begin(&w);
		for (int c = 0; c < k->n_keys; c++) {
			json_key(&w, col_db_name(&k->cols[c]));
			json_string(&w, r->values[c]);
		}
		json_key(&w, "version");
		json_int(&w, r->version - 1);
		json_object_end(&w);
	}
	json_array_end(&w);
	g_autofree char *keys = json_finish(&w);
	GString *sql = g_string_new(NULL);
	g_string_append_printf(sql,
			       "UPDATE %s t SET superseded_at = $2::timestamptz FROM json_to_recordset($3::json) AS k(",
			       k->table);
	for (int c = 0; c < k->n_keys; c++)
		g_string_append_printf(sql, "%s text, ", col_db_name(&k->cols[c]));
	g_string_append(sql, "version integer)"
			     " WHERE t.programme = $1 AND t.superseded_at IS NULL AND t.version = k.version");
	for (int c = 0; c < k->n_keys; c++)
		g_string_append_printf(sql, " AND t.%s = k.%s", col_db_name(&k->cols[c]), col_db_name(&k->cols[c]));
	const char *params[] = { db_programme(d), now, keys };
	PGresult *res = db_query(d, sql->str, 3, params, error);
	g_string_free(sql, TRUE);
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
	gboolean ok = db_copy_begin(d, sql->str, error) && db_copy_put(d, buf->str, buf->len, error) &&
		      db_copy_end(d, error);
	g_string_free(sql, TRUE);
	g_string_free(buf, TRUE);
	return ok;
}

/* A new or changed pool sets its balance's amount (what was drawn stays). */
static gboolean write_balances(loader *l, db *d, GError **error)
{
	json_writer w;
	json_init(&w);
	json_array_begin(&w);
	for (guint i = 0; i < l->rows->len; i++) {
		const load_row *r = g_ptr_array_index(l->rows, i);
		if (r->version == 0)
			continue;
		json_object_begin(&w);
		json_key(&w, "pool_id");
		json_string(&w, r->values[0]);
		json_key(&w, "amount_fen");
		json_int(&w, g_ascii_strtoll(r->values[2], NULL, 10));
		json_object_end(&w);
	}
	json_array_end(&w);
	g_autofree char *pools = json_finish(&w);
	const char *params[] = { db_programme(d), pools };
	PGresult *res = db_query(d,
				 "INSERT INTO pool_balances (programme, pool_id, amount_fen)"
				 " SELECT $1, k.pool_id, k.amount_fen"
				 " FROM json_to_recordset($2::json) AS k(pool_id text, amount_fen bigint)"
				 " ON CONFLICT (programme, pool_id) DO UPDATE SET amount_fen = EXCLUDED.amount_fen",
				 2, params, error);
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

/* The file's bytes (a BOM dropped) into the loader's rows and problems: what the load checks before
 * it reads the database. */
static void read_rows(loader *l, const char *bytes, size_t len)
{
	size_t skip = len >= 3 && memcmp(bytes, REGISTRY_UTF8_BOM, 3) == 0 ? 3 : 0;
	parse_text(l, bytes + skip, len - skip);
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

/* ------------------------------------------------------------------------------------------ */
/* Snapshots */

typedef struct {
	chrono_day valid_from;
	chrono_day valid_to;
	const registry_shop *shop;
} sender_span;

typedef struct {
	chrono_day poor_from;
	chrono_day poor_to;
} household_span;

typedef struct {
	const char *campaign_id;
	chrono_time starts_at;
	chrono_time ends_at;
} campaign_window;

struct registry {
	GStringChunk *strings;
	registry_shop *shops;         /* sorted by shop_id */
	size_t n_shops;
	GHashTable *shop_by_id;       /* shop_id -> registry_shop * */
	GHashTable *shop_by_phone;    /* phone -> registry_shop *, or &phone_shared */
	GHashTable *senders;          /* courier -> (sender_code -> GArray of sender_span) */
	household_span *households;
	GHashTable *household_by_id;  /* household_id -> household_span * */
	policy_version *policies;     /* sorted by valid_from */
	size_t n_policies;
	campaign_window *campaigns;   /* sorted by campaign_id */
	size_t n_campaigns;
	registry_pool *pools;         /* sorted by priority, pool_id */
	size_t n_pools;
};

/* The mark of a phone that several shops have. */
static const registry_shop phone_shared;

void registry_free(registry *r)
{
	if (!r)
		return;
	g_free(r->shops);
	g_clear_pointer(&r->shop_by_id, g_hash_table_unref);
	g_clear_pointer(&r->shop_by_phone, g_hash_table_unref);
	g_clear_pointer(&r->senders, g_hash_table_unref);
	g_free(r->households);
	g_clear_pointer(&r->household_by_id, g_hash_table_unref);
	for (size_t i = 0; i < r->n_policies; i++)
		policy_version_clear(&r->policies[i]);
	g_free(r->policies);
	g_free(r->campaigns);
	g_free(r->pools);
	g_string_chunk_free(r->strings);
	g_free(r);
}

/* A value of a snapshot query, kept in the registry's strings; NULL stays NULL. */
static const char *snap_text(registry *r, const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : g_string_chunk_insert_const(r->strings, PQgetvalue(res, row, col));
}

static int snap_int(const PGresult *res, int row, int col)
{
	g_assert(!PQgetisnull(res, row, col));
	return atoi(PQgetvalue(res, row, col));
}

static int64_t snap_fen(const PGresult *res, int row, int col, int64_t null_value)
{
	return PQgetisnull(res, row, col) ? null_value : g_ascii_strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static chrono_day snap_day(const PGresult *res, int row, int col)
{
	return day_of(PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col));
}

static chrono_time snap_time(const PGresult *res, int row, int col)
{
	chrono_time t;
	gboolean ok = chrono_parse_time(PQgetvalue(res, row, col), &t, NULL);
	g_assert(ok);
	return t;
}

/* Runs a snapshot query: select_list FROM table WHERE <the versions known then> ORDER BY order. */
static PGresult *snap_query(db *d, const char *as_of, const char *select_list, const char *table, const char *order,
			    GError **error)
{
	g_autofree char *sql = g_strdup_printf(
		"SELECT %s FROM %s WHERE programme = $1 AND %s ORDER BY %s", select_list, table,
		as_of ? "recorded_at <= $2::timestamptz AND coalesce(superseded_at, 'infinity') > $2::timestamptz"
		      : "superseded_at IS NULL",
		order);
	const char *params[] = { db_programme(d), as_of };
	return db_query(d, sql, as_of ? 2 : 1, params, error);
}

static gboolean snap_shops(registry *r, db *d, const char *as_of, GError **error)
{
	/* The auditor may not read owners' ID and bank numbers: they are NULL then. */
	g_autofree char *may = NULL;
	if (!db_scalar(d,
		       "SELECT has_column_privilege('shops', 'owner_id_no', 'SELECT')"
		       " AND has_column_privilege('shops', 'bank_account', 'SELECT')",
		       0, NULL, &may, error))
		return FALSE;
	gboolean secret = may && strcmp(may, "t") == 0;
	g_autofree char *cols = g_strdup_printf(
		"shop_id, version, shop_name, platform, owner_name, %s, phone, household_id, village, bank_name, %s,"
		" account_name, to_char(registered_from, 'YYYY-MM-DD'), to_char(registered_to, 'YYYY-MM-DD')",
		secret ? "owner_id_no" : "NULL::text", secret ? "bank_account" : "NULL::text");
	PGresult *res = snap_query(d, as_of, cols, "shops", "shop_id COLLATE \"C\"", error);
	if (!res)
		return FALSE;
	r->n_shops = (size_t)PQntuples(res);
	r->shops = g_new0(registry_shop, r->n_shops + 1);
	for (int i = 0; i < PQntuples(res); i++) {
		registry_shop *s = &r->shops[i];
		s->shop_id = snap_text(r, res, i, 0);
		s->version = snap_int(res, i, 1);
		s->shop_name = snap_text(r, res, i, 2);
		s->platform = snap_text(r, res, i, 3);
		s->owner_name = snap_text(r, res, i, 4);
		s->owner_id_no = snap_text(r, res, i, 5);
		s->phone = snap_text(r, res, i, 6);
		s->household_id = snap_text(r, res, i, 7);
		s->village = snap_text(r, res, i, 8);
		s->bank_name = snap_text(r, res, i, 9);
		s->bank_account = snap_text(r, res, i, 10);
		s->account_name = snap_text(r, res, i, 11);
		s->registered_from = snap_day(res, i, 12);
		s->registered_to = snap_day(res, i, 13);
		g_hash_table_insert(r->shop_by_id, (gpointer)s->shop_id, s);
		char phone[REGISTRY_PHONE_DIGITS_MAX + 1];
		if (!phone_digits(s->phone, phone, sizeof phone) || phone[0] == '\0')
			continue;
		const char *key = g_string_chunk_insert_const(r->strings, phone);
		gboolean seen = g_hash_table_contains(r->shop_by_phone, key);
		g_hash_table_insert(r->shop_by_phone, (gpointer)key, seen ? (gpointer)&phone_shared : (gpointer)s);
	}
	PQclear(res);
	return TRUE;
}

static gboolean snap_senders(registry *r, db *d, const char *as_of, GError **error)
{
	PGresult *res = snap_query(d, as_of,
				   "courier, sender_code, shop_id, to_char(valid_from, 'YYYY-MM-DD'),"
				   " to_char(valid_to, 'YYYY-MM-DD')",
				   "senders", "courier, sender_code, valid_from, shop_id COLLATE \"C\"", error);
	if (!res)
		return FALSE;
	for (int i = 0; i < PQntuples(res); i++) {
		const registry_shop *shop = registry_shop_by_id(r, PQgetvalue(res, i, 2));
		if (!shop)
			continue; /* the loader refuses this; a hand-made row cannot match */
		/* Rows are stored as the loader folds them; a row stored before it folded as lines do
		 * (ｙｔｏ, 圆通) still names its courier's code. */
		g_autofree char *folded = ident_courier_code(PQgetvalue(res, i, 0), NULL);
		g_assert(folded != NULL); /* the database's text is UTF-8 */
		const char *courier = g_string_chunk_insert_const(r->strings, folded), *code = snap_text(r, res, i, 1);
		GHashTable *codes = g_hash_table_lookup(r->senders, courier);
		if (!codes) {
			codes = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_array_unref);
			g_hash_table_insert(r->senders, (gpointer)courier, codes);
		}
		GArray *spans = g_hash_table_lookup(codes, code);
		if (!spans) {
			spans = g_array_new(FALSE, FALSE, sizeof(sender_span));
			g_hash_table_insert(codes, (gpointer)code, spans);
		}
		sender_span s = { snap_day(res, i, 3), snap_day(res, i, 4), shop };
		g_array_append_val(spans, s);
	}
	PQclear(res);
	return TRUE;
}

static gboolean snap_households(registry *r, db *d, const char *as_of, GError **error)
{
	PGresult *res = snap_query(d, as_of,
				   "household_id, to_char(poor_from, 'YYYY-MM-DD'), to_char(poor_to, 'YYYY-MM-DD')",
				   "households", "household_id COLLATE \"C\"", error);
	if (!res)
		return FALSE;
	r->households = g_new0(household_span, PQntuples(res) + 1);
	for (int i = 0; i < PQntuples(res); i++) {
		household_span *h = &r->households[i];
		h->poor_from = snap_day(res, i, 1);
		h->poor_to = snap_day(res, i, 2);
		g_hash_table_insert(r->household_by_id, (gpointer)snap_text(r, res, i, 0), h);
	}
	PQclear(res);
	return TRUE;
}

static gboolean snap_policies(registry *r, db *d, const char *as_of, GError **error)
{
	PGresult *res = snap_query(d, as_of,
				   "policy_id, version, to_char(valid_from, 'YYYY-MM-DD'),"
				   " to_char(valid_to, 'YYYY-MM-DD'),"
				   " standard_rate_bp, standard_cap_fen, poverty_rate_bp, poverty_cap_fen, rounding,"
				   " require_campaign, array_to_string(eligible_categories, ';'), fee_max_fen",
				   "policies", "valid_from, policy_id COLLATE \"C\"", error);
	if (!res)
		return FALSE;
	r->n_policies = (size_t)PQntuples(res);
	r->policies = g_new0(policy_version, r->n_policies + 1);
	for (int i = 0; i < PQntuples(res); i++) {
		policy_version *p = &r->policies[i];
		p->policy_id = g_strdup(PQgetvalue(res, i, 0));
		p->version = snap_int(res, i, 1);
		p->valid_from = snap_day(res, i, 2);
		p->valid_to = snap_day(res, i, 3);
		p->standard_rate_bp = snap_int(res, i, 4);
		p->standard_cap_fen = snap_fen(res, i, 5, POLICY_NO_CAP);
		p->poverty_rate_bp = snap_int(res, i, 6);
		p->poverty_cap_fen = snap_fen(res, i, 7, POLICY_NO_CAP);
		gboolean known = money_rounding_parse(PQgetvalue(res, i, 8), &p->rounding);
		g_assert(known); /* the table's CHECK */
		p->require_campaign = strcmp(PQgetvalue(res, i, 9), "t") == 0;
		const char *cats = PQgetvalue(res, i, 10);
		p->eligible_categories = *cats ? g_strsplit(cats, ";", -1) : NULL;
		p->fee_max_fen = snap_fen(res, i, 11, POLICY_FEE_MAX_DEFAULT_FEN);
	}
	PQclear(res);
	return TRUE;
}

static gboolean snap_campaigns(registry *r, db *d, const char *as_of, GError **error)
{
	PGresult *res = snap_query(d, as_of,
				   "campaign_id, to_char(starts_at, 'YYYY-MM-DD HH24:MI:SS'),"
				   " to_char(ends_at, 'YYYY-MM-DD HH24:MI:SS')",
				   "campaigns", "campaign_id COLLATE \"C\"", error);
	if (!res)
		return FALSE;
	r->n_campaigns = (size_t)PQntuples(res);
	r->campaigns = g_new0(campaign_window, r->n_campaigns + 1);
	for (int i = 0; i < PQntuples(res); i++) {
		campaign_window *c = &r->campaigns[i];
		c->campaign_id = snap_text(r, res, i, 0);
		c->starts_at = snap_time(res, i, 1);
		c->ends_at = snap_time(res, i, 2);
	}
	PQclear(res);
	return TRUE;
}

static gboolean snap_pools(registry *r, db *d, const char *as_of, GError **error)
{
	PGresult *res = snap_query(d, as_of,
				   "pool_id, version, name, amount_fen, to_char(valid_from, 'YYYY-MM-DD'),"
				   " to_char(valid_to, 'YYYY-MM-DD'), priority",
				   "pools", "priority, pool_id COLLATE \"C\"", error);
	if (!res)
		return FALSE;
	r->n_pools = (size_t)PQntuples(res);
	r->pools = g_new0(registry_pool, r->n_pools + 1);
	for (int i = 0; i < PQntuples(res); i++) {
		registry_pool *p = &r->pools[i];
		p->pool_id = snap_text(r, res, i, 0);
		p->version = snap_int(res, i, 1);
		p->name = snap_text(r, res, i, 2);
		p->amount_fen = snap_fen(res, i, 3, 0);
		p->valid_from = snap_day(res, i, 4);
		p->valid_to = snap_day(res, i, 5);
		p->priority = snap_int(res, i, 6);
	}
	PQclear(res);
	return TRUE;
}

registry *registry_snapshot(db *d, const char *as_of, GError **error)
{
	g_return_val_if_fail(d != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);
	registry *r = g_new0(registry, 1);
	r->strings = g_string_chunk_new(4096);
	r->shop_by_id = g_hash_table_new(g_str_hash, g_str_equal);
	r->shop_by_phone = g_hash_table_new(g_str_hash, g_str_equal);
	r->senders = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_hash_table_unref);
	r->household_by_id = g_hash_table_new(g_str_hash, g_str_equal);

	/* One consistent view: its own read-only transaction, unless the caller is in one already. */
	gboolean own = PQtransactionStatus(db_conn(d)) == PQTRANS_IDLE;
	if (own && !db_exec(d, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", error))
		goto fail;
	if (!(snap_shops(r, d, as_of, error) && snap_senders(r, d, as_of, error) &&
	      snap_households(r, d, as_of, error) && snap_policies(r, d, as_of, error) &&
	      snap_campaigns(r, d, as_of, error) && snap_pools(r, d, as_of, error)))
		goto fail;
	if (own && !db_commit(d, error))
		goto fail;
	return r;
fail:
	if (own)
		db_rollback(d);
	registry_free(r);
	return NULL;
}

policy_shop_match registry_find_shop(const registry *r, const char *courier, const char *sender_code,
				     const char *sender_phone, chrono_day day, const registry_shop **shop)
{
	g_assert(r != NULL && shop != NULL);
	*shop = NULL;
	if (courier && sender_code && *sender_code) {
		GHashTable *codes = g_hash_table_lookup(r->senders, courier);
		GArray *spans = codes ? g_hash_table_lookup(codes, sender_code) : NULL;
		for (guint i = 0; spans && i < spans->len; i++) {
			const sender_span *s = &g_array_index(spans, sender_span, i);
			if (s->valid_from <= day && day <= s->valid_to) {
				*shop = s->shop;
				return POLICY_SHOP_FOUND;
			}
		}
	}
	char phone[REGISTRY_PHONE_DIGITS_MAX + 1];
	if (sender_phone && phone_digits(sender_phone, phone, sizeof phone) && phone[0]) {
		const registry_shop *s = g_hash_table_lookup(r->shop_by_phone, phone);
		if (s == &phone_shared)
			return POLICY_SHOP_AMBIGUOUS;
		if (s) {
			*shop = s;
			return POLICY_SHOP_FOUND;
		}
	}
	return POLICY_SHOP_UNREGISTERED;
}

const registry_shop *registry_shop_by_id(const registry *r, const char *shop_id)
{
	g_assert(r != NULL);
	return shop_id ? g_hash_table_lookup(r->shop_by_id, shop_id) : NULL;
}

const registry_shop *registry_shops(const registry *r, size_t *n)
{
	g_assert(r != NULL && n != NULL);
	*n = r->n_shops;
	return r->shops;
}

const policy_version *registry_policy_on(const registry *r, chrono_day day)
{
	g_assert(r != NULL);
	return policy_in_force(r->policies, r->n_policies, day);
}

const policy_version *registry_policies(const registry *r, size_t *n)
{
	g_assert(r != NULL && n != NULL);
	*n = r->n_policies;
	return r->policies;
}

const char *registry_campaign_at(const registry *r, chrono_time t)
{
	g_assert(r != NULL);
	/* Sorted by campaign_id: the first window that holds t is the answer. */
	for (size_t i = 0; i < r->n_campaigns; i++)
		if (r->campaigns[i].starts_at <= t && t < r->campaigns[i].ends_at)
			return r->campaigns[i].campaign_id;
	return NULL;
}

gboolean registry_is_poor(const registry *r, const registry_shop *shop, chrono_day day)
{
	g_assert(r != NULL && shop != NULL);
	if (!shop->household_id)
		return FALSE;
	const household_span *h = g_hash_table_lookup(r->household_by_id, shop->household_id);
	return h && h->poor_from <= day && day <= h->poor_to;
}

const registry_pool *registry_pools(const registry *r, size_t *n)
{
	g_assert(r != NULL && n != NULL);
	*n = r->n_pools;
	return r->pools;
}
