/* payments.c: loading the treasury's payment results; see payments.h.
 *
 * Three steps. Read: the whole file is decoded to UTF-8 and tokenised by libcsv, every line
 * checked; one bad line refuses the file. Reconcile: under the settlement lock (a settlement
 * decides what to carry from the results, so the two never interleave), each line is compared
 * with its batch's export row and with the result already applied for it, in line order.
 * Record: one transaction with the run, the load (hash-chained), the applied payments, their
 * ledger entries and the findings. */
#include "payments.h"

#include "chrono.h"
#include "csvfile.h"
#include "ledger.h"
#include "money.h"
#include "status.h"
#include "text.h"

#include <csv.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK(subsidy-payments-error-quark, payments_error)

#define PAYMENTS_FIELDS 6
/* Longer fields are refused: a shop id, an amount, a serial number are short. */
#define PAYMENTS_FIELD_BYTES_MAX 256
/* A refused file's message lists at most this many lines (and counts the rest). */
#define PAYMENTS_ERRORS_SHOWN_MAX 20
/* A batch number or load number as text, with its NUL. */
#define PAYMENTS_INT_TEXT_MAX 16

static const char *const payments_header[PAYMENTS_FIELDS] = {
	"批次号", "店铺编号", "金额(元)", "状态", "支付时间", "流水号",
};
static const char status_paid_text[] = "成功";
static const char status_failed_text[] = "失败";

/* ------------------------------------------------------------------------------------------ */
/* Reading the file                                                                            */

/* One parsed line of the file. */
typedef struct {
	int line_no;
	int batch_id;
	char *shop_id;
	char *amount_text;  /* as written, for findings */
	int64_t amount_fen;
	gboolean paid;
	char *paid_at;      /* "YYYY-MM-DD HH:MM:SS" or NULL */
	char *serial_no;    /* NULL when empty */
} result_line;

static void result_line_clear(gpointer p)
{
	result_line *l = p;
	g_free(l->shop_id);
	g_free(l->amount_text);
	g_free(l->paid_at);
	g_free(l->serial_no);
}

typedef struct {
	const char *name;     /* the file, for messages */
	int record_line;      /* the line of the record being checked */
	gboolean header_seen;
	int errors;
	GString *messages;    /* the first PAYMENTS_ERRORS_SHOWN_MAX errors, one a line */
	GArray *lines;        /* result_line */
} reader;

static void reader_error(reader *r, int line, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void reader_error(reader *r, int line, const char *fmt, ...)
{
	if (++r->errors > PAYMENTS_ERRORS_SHOWN_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_string_append_printf(r->messages, "\n%s:%d: %s", r->name, line, msg);
}

static gboolean field_ok(reader *r, const char *value, const char *what)
{
	if (strlen(value) <= PAYMENTS_FIELD_BYTES_MAX)
		return TRUE;
	reader_error(r, r->record_line, "%s is longer than %d bytes", what, PAYMENTS_FIELD_BYTES_MAX);
	return FALSE;
}

/* The forms a treasury's spreadsheet writes 支付时间 in (FORMATS.md): ISO dates with their zeros
 * (2018-06-20 10:00:00, 2018-06-20 10:00, 2018-06-20: the start of that day), or a spreadsheet's
 * own with '/' and without them (2018/6/20 10:00, with seconds or not). No spaces around. */
static const struct {
	const char *shape; /* '9' a digit, '#' one or two digits, anything else itself */
	const char *format;
} paid_at_forms[] = {
	{ "9999-99-99 99:99:99", "%Y-%m-%d %H:%M:%S" }, { "9999-99-99 99:99", "%Y-%m-%d %H:%M" },
	{ "9999-99-99", "%Y-%m-%d" },			 { "9999/#/# #:99:99", "%Y/%m/%d %H:%M:%S" },
	{ "9999/#/# #:99", "%Y/%m/%d %H:%M" },		 { "9999/#/#", "%Y/%m/%d" },
};

static gboolean has_form(const char *text, const char *shape)
{
	const char *p = text;
	for (const char *s = shape; *s; s++) {
		if (*s == '9' || *s == '#') {
			if (!g_ascii_isdigit(*p))
				return FALSE;
			p++;
			if (*s == '#' && g_ascii_isdigit(*p))
				p++;
		} else if (*p++ != *s) {
			return FALSE;
		}
	}
	return *p == '\0';
}

gboolean payments_parse_time(const char *text, chrono_time *out)
{
	for (size_t i = 0; i < G_N_ELEMENTS(paid_at_forms); i++)
		if (has_form(text, paid_at_forms[i].shape))
			return chrono_parse(text, paid_at_forms[i].format, out, NULL, NULL);
	return FALSE;
}

/* Checks one data record and keeps it. */
static void take_record(reader *r, char **f)
{
	int line = r->record_line;
	result_line l = { .line_no = line };
	guint64 batch = 0;
	for (int i = 0; i < PAYMENTS_FIELDS; i++)
		if (!field_ok(r, f[i], payments_header[i]))
			return;
	if (!g_ascii_string_to_unsigned(f[0], 10, 1, G_MAXINT32, &batch, NULL)) {
		reader_error(r, line, "batch number '%s' is not a whole number from 1", f[0]);
		return;
	}
	if (f[1][0] == '\0') {
		reader_error(r, line, "店铺编号 (shop) is empty");
		return;
	}
	g_autoptr(GError) e = NULL;
	if (!money_parse(f[2], &l.amount_fen, &e)) {
		reader_error(r, line, "%s", e->message);
		return;
	}
	if (strcmp(f[3], status_paid_text) == 0)
		l.paid = TRUE;
	else if (strcmp(f[3], status_failed_text) != 0) {
		reader_error(r, line, "status '%s' is neither %s nor %s", f[3], status_paid_text, status_failed_text);
		return;
	}
	if (f[4][0] != '\0') {
		chrono_time t;
		if (!payments_parse_time(f[4], &t)) {
			reader_error(r, line,
				     "支付时间 (payment time) '%s' is not a time like 2018-06-20 10:00:00, 2018-06-20 10:00,"
				     " 2018/6/20 10:00 or a date like 2018-06-20", f[4]);
			return;
		}
		char text[CHRONO_TIME_TEXT_MAX];
		chrono_format_time(t, text);
		l.paid_at = g_strdup(text);
	} else if (l.paid) {
		reader_error(r, line, "a paid line (%s) needs its 支付时间 (payment time)", status_paid_text);
		return;
	}
	l.batch_id = (int)batch;
	l.shop_id = g_strdup(f[1]);
	l.amount_text = g_strdup(f[2]);
	l.serial_no = f[5][0] ? g_strdup(f[5]) : NULL;
	g_array_append_val(r->lines, l);
}

static void on_record(const csvfile_record *rec, void *data)
{
	reader *r = data;
	g_assert(rec->n_fields > 0 && rec->fields[rec->n_fields] == NULL);
	g_assert(rec->line >= 1 && (r->header_seen || r->lines->len == 0));
	r->record_line = rec->line;
	if (!r->header_seen) {
		r->header_seen = TRUE;
		gboolean same = rec->n_fields == PAYMENTS_FIELDS;
		for (guint i = 0; same && i < PAYMENTS_FIELDS; i++)
			same = strcmp(rec->fields[i], payments_header[i]) == 0;
		if (!same) {
			g_autofree char *got = g_strjoinv(",", rec->fields);
			g_autofree char *want = g_strjoinv(",", (char **)payments_header);
			reader_error(r, r->record_line, "header is '%s', expected '%s'", got, want);
		}
	} else if (rec->n_fields != PAYMENTS_FIELDS) {
		reader_error(r, r->record_line, "%u fields, expected %d", rec->n_fields, PAYMENTS_FIELDS);
	} else {
		take_record(r, rec->fields);
	}
}

/* The file's text in UTF-8: UTF-8 (one that starts with a BOM, even when it is not) as it is,
 * else read as GB18030. A BOM first stays: csvfile_read skips it (a GB18030 file may begin with
 * the byte order mark too, U+FEFF encoded in GB18030). */
static char *decode(const char *name, const char *raw, gsize len, gsize *out_len, GError **error)
{
	g_assert(raw != NULL && len > 0); /* an empty file is refused before */
	const char *kind = text_file_kind_hint((const unsigned char *)raw, len);
	if (kind) {
		g_set_error(error, PAYMENTS_ERROR, STATUS_DATAERR, "cannot load payments '%s': it is no CSV text\nHINT: %s",
			    name, kind);
		return NULL;
	}
	gboolean bom = len >= TEXT_UTF8_BOM_LEN && memcmp(raw, TEXT_UTF8_BOM, TEXT_UTF8_BOM_LEN) == 0;
	const char *end = NULL;
	char *text;
	if (bom || g_utf8_validate(raw, (gssize)len, NULL)) {
		text = g_strndup(raw, len);
		*out_len = len;
	} else {
		g_autoptr(GError) conv = NULL;
		text = g_convert(raw, (gssize)len, "UTF-8", "GB18030", NULL, out_len, &conv);
		if (!text) {
			g_set_error(error, PAYMENTS_ERROR, STATUS_DATAERR,
				    "cannot load payments '%s': neither UTF-8 nor GB18030 (%s)", name, conv->message);
			return NULL;
		}
	}
	if (!g_utf8_validate(text, (gssize)*out_len, &end)) {
		/* A line number for the bad byte (or the NUL) helps whoever fixes the file. */
		unsigned line = text_line_of(text, (size_t)(end - text), *out_len);
		g_set_error(error, PAYMENTS_ERROR, STATUS_DATAERR,
			    "cannot load payments '%s': line %u holds bytes that are not text (invalid UTF-8 or NUL)",
			    name, line);
		g_free(text);
		return NULL;
	}
	g_assert(text[*out_len] == '\0' && memchr(text, '\0', *out_len) == NULL);
	return text;
}

/* Checks a file's bytes (raw_len of them; name for messages) into *lines (result_line, line
 * order). */
static gboolean parse_bytes(const char *name, const char *raw, gsize raw_len, GArray *lines, GError **error)
{
	if (raw_len == 0) {
		g_set_error(error, PAYMENTS_ERROR, STATUS_DATAERR, "cannot load payments '%s': the file is empty",
			    name);
		return FALSE;
	}
	gsize len = 0;
	g_autofree char *text = decode(name, raw, raw_len, &len, error);
	if (!text)
		return FALSE;

	g_assert(lines->len == 0);
	reader r = { .name = name, .messages = g_string_new(NULL), .lines = lines };
	csvfile_end end;
	csvfile_read(text, len, on_record, &r, &end);
	if (end.status == CSVFILE_MALFORMED)
		reader_error(&r, end.line, "%s (quotes must wrap a whole field; a quote inside one is doubled)",
			     csv_strerror(end.error));
	else if (end.status == CSVFILE_QUOTE_OPEN) /* on the line the open field starts on */
		reader_error(&r, end.line, "a quote is still open at the end of the file");
	if (!r.header_seen)
		reader_error(&r, 1, "no header (expected '%s,...')", payments_header[0]);
	gboolean ok = r.errors == 0;
	/* Accepted: every record after the header is a line. */
	g_assert(!ok || (end.status == CSVFILE_OK && (int)lines->len == end.records - 1));
	if (!ok) {
		g_set_error(error, PAYMENTS_ERROR, STATUS_DATAERR,
			    "cannot load payments '%s': %d line%s refused, nothing stored%s%s", name, r.errors,
			    r.errors == 1 ? "" : "s", r.messages->str, r.errors > PAYMENTS_ERRORS_SHOWN_MAX ? "\n..." : "");
	}
	g_string_free(r.messages, TRUE);
	return ok;
}

gboolean payments_check_bytes(const char *name, const char *bytes, size_t len, int *n_lines, GError **error)
{
	g_return_val_if_fail(name != NULL && (bytes != NULL || len == 0), FALSE);
	GArray *lines = g_array_new(FALSE, FALSE, sizeof(result_line));
	g_array_set_clear_func(lines, result_line_clear);
	gboolean ok = parse_bytes(name, bytes ? bytes : "", len, lines, error);
	if (ok && n_lines)
		*n_lines = (int)lines->len;
	g_array_unref(lines);
	return ok;
}

/* Reads and checks the whole file into *lines (result_line, line order) and *sha256. */
static gboolean read_file(const char *path, GArray *lines, char **sha256, GError **error)
{
	GStatBuf st;
	if (g_stat(path, &st) != 0) {
		int e = errno;
		g_set_error(error, PAYMENTS_ERROR, STATUS_NOINPUT, "cannot open '%s': %s", path, g_strerror(e));
		return FALSE;
	}
	if (st.st_size > PAYMENTS_FILE_BYTES_MAX) {
		g_set_error(error, PAYMENTS_ERROR, STATUS_DATAERR, "cannot load payments '%s': larger than %d bytes",
			    path, PAYMENTS_FILE_BYTES_MAX);
		return FALSE;
	}
	g_autofree char *raw = NULL;
	gsize raw_len = 0;
	g_autoptr(GError) e = NULL;
	if (!g_file_get_contents(path, &raw, &raw_len, &e)) {
		g_set_error(error, PAYMENTS_ERROR, STATUS_NOINPUT, "cannot open '%s': %s", path, e->message);
		return FALSE;
	}
	if (!parse_bytes(path, raw, raw_len, lines, error))
		return FALSE;
	*sha256 = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)raw, raw_len);
	return TRUE;
}

/* ------------------------------------------------------------------------------------------ */
/* Reconciling                                                                                 */

/* A result as applied: from the database or from an earlier line of this file. */
typedef struct {
	int64_t amount_fen;
	gboolean paid;
	char *paid_at;
	char *serial_no;
	int load_id;
	int line_no;
} applied_result;

static void applied_result_free(gpointer p)
{
	applied_result *a = p;
	g_free(a->paid_at);
	g_free(a->serial_no);
	g_free(a);
}

static char *result_key(int batch_id, const char *shop_id)
{
	return g_strdup_printf("%d\t%s", batch_id, shop_id);
}

/* What the database says about the batches the file names. */
typedef struct {
	GHashTable *batches;  /* batch_id (GINT_TO_POINTER) present */
	GHashTable *approved; /* batch_id (GINT_TO_POINTER) approved (sql/011) */
	GHashTable *exported; /* result_key -> int64_t * amount_fen of the export row */
	GHashTable *applied;  /* result_key -> applied_result * */
} ledger_view;

static void ledger_view_clear(ledger_view *v)
{
	g_clear_pointer(&v->batches, g_hash_table_unref);
	g_clear_pointer(&v->approved, g_hash_table_unref);
	g_clear_pointer(&v->exported, g_hash_table_unref);
	g_clear_pointer(&v->applied, g_hash_table_unref);
}

/* The batches named (params: the programme, the batches' ids) and which of them are approved. */
static gboolean view_batches(db *d, const char *const *params, ledger_view *v, GError **error)
{
	enum { BATCH_ID, BATCH_APPROVED, BATCH_COLUMNS };
	PGresult *res = db_query(d, "SELECT b.batch_id, a.batch_id IS NOT NULL FROM batches b LEFT JOIN approvals a"
				    " USING (programme, batch_id) WHERE b.programme = $1 AND b.batch_id = ANY($2::int[])",
				 2, params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == BATCH_COLUMNS);
	for (int i = 0; i < PQntuples(res); i++) {
		gpointer b = GINT_TO_POINTER(atoi(PQgetvalue(res, i, BATCH_ID)));
		g_hash_table_add(v->batches, b);
		if (strcmp(PQgetvalue(res, i, BATCH_APPROVED), "t") == 0)
			g_hash_table_add(v->approved, b);
	}
	g_assert(g_hash_table_size(v->approved) <= g_hash_table_size(v->batches));
	PQclear(res);
	return TRUE;
}

/* Their export rows: what each (batch, shop) was paid. */
static gboolean view_exported(db *d, const char *const *params, ledger_view *v, GError **error)
{
	enum { EXPORTED_BATCH_ID, EXPORTED_SHOP_ID, EXPORTED_AMOUNT_FEN, EXPORTED_COLUMNS };
	PGresult *res = db_query(d, "SELECT batch_id, shop_id, amount_fen FROM batch_shops"
				    " WHERE programme = $1 AND batch_id = ANY($2::int[]) AND amount_fen > 0",
				 2, params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == EXPORTED_COLUMNS);
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t *amount = g_new(int64_t, 1);
		*amount = g_ascii_strtoll(PQgetvalue(res, i, EXPORTED_AMOUNT_FEN), NULL, 10);
		g_assert(*amount > 0); /* the query's */
		int batch_id = atoi(PQgetvalue(res, i, EXPORTED_BATCH_ID));
		char *key = result_key(batch_id, PQgetvalue(res, i, EXPORTED_SHOP_ID));
		g_hash_table_insert(v->exported, key, amount);
	}
	g_assert(g_hash_table_size(v->exported) == (guint)PQntuples(res)); /* batch_shops' key */
	PQclear(res);
	return TRUE;
}

/* The results already applied for them. */
static gboolean view_applied(db *d, const char *const *params, ledger_view *v, GError **error)
{
	enum {
		APPLIED_BATCH_ID, APPLIED_SHOP_ID, APPLIED_AMOUNT_FEN, APPLIED_PAID, APPLIED_PAID_AT, APPLIED_SERIAL_NO,
		APPLIED_LOAD_ID, APPLIED_LINE_NO, APPLIED_COLUMNS
	};
	PGresult *res = db_query(d, "SELECT batch_id, shop_id, amount_fen, status = 'PAID',"
				    " to_char(paid_at, 'YYYY-MM-DD HH24:MI:SS'), serial_no, load_id, line_no"
				    " FROM payments WHERE programme = $1 AND batch_id = ANY($2::int[])",
				 2, params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == APPLIED_COLUMNS);
	for (int i = 0; i < PQntuples(res); i++) {
		applied_result *a = g_new0(applied_result, 1);
		a->amount_fen = g_ascii_strtoll(PQgetvalue(res, i, APPLIED_AMOUNT_FEN), NULL, 10);
		a->paid = strcmp(PQgetvalue(res, i, APPLIED_PAID), "t") == 0;
		a->paid_at =
			PQgetisnull(res, i, APPLIED_PAID_AT) ? NULL : g_strdup(PQgetvalue(res, i, APPLIED_PAID_AT));
		a->serial_no =
			PQgetisnull(res, i, APPLIED_SERIAL_NO) ? NULL : g_strdup(PQgetvalue(res, i, APPLIED_SERIAL_NO));
		a->load_id = atoi(PQgetvalue(res, i, APPLIED_LOAD_ID));
		a->line_no = atoi(PQgetvalue(res, i, APPLIED_LINE_NO));
		g_assert(a->amount_fen > 0 && a->load_id >= 1); /* the table's CHECK; loads count from 1 */
		int batch_id = atoi(PQgetvalue(res, i, APPLIED_BATCH_ID));
		g_hash_table_insert(v->applied, result_key(batch_id, PQgetvalue(res, i, APPLIED_SHOP_ID)), a);
	}
	g_assert(g_hash_table_size(v->applied) == (guint)PQntuples(res)); /* payments' key */
	PQclear(res);
	return TRUE;
}

static gboolean load_view(db *d, GArray *lines, ledger_view *v, GError **error)
{
	g_assert(v->batches == NULL && v->applied == NULL); /* a view is loaded once */
	v->batches = g_hash_table_new(g_direct_hash, g_direct_equal);
	v->approved = g_hash_table_new(g_direct_hash, g_direct_equal);
	v->exported = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	v->applied = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, applied_result_free);
	/* The batches named, as a PostgreSQL array literal: {1,2,3}. */
	GString *ids = g_string_new("{");
	GHashTable *seen = g_hash_table_new(g_direct_hash, g_direct_equal);
	for (guint i = 0; i < lines->len; i++) {
		int b = g_array_index(lines, result_line, i).batch_id;
		if (g_hash_table_add(seen, GINT_TO_POINTER(b)))
			g_string_append_printf(ids, "%s%d", ids->len > 1 ? "," : "", b);
	}
	g_string_append_c(ids, '}');
	g_assert(g_hash_table_size(seen) <= lines->len);
	g_hash_table_unref(seen);
	g_autofree char *id_list = g_string_free(ids, FALSE);
	const char *params[] = { db_programme(d), id_list };
	return view_batches(d, params, v, error) && view_exported(d, params, v, error) &&
	       view_applied(d, params, v, error);
}

static const char *status_text(gboolean paid)
{
	return paid ? status_paid_text : status_failed_text;
}

static void add_finding(payments_report *report, const result_line *l, char *reason)
{
	payments_finding *f = g_new0(payments_finding, 1);
	f->line_no = l->line_no;
	f->batch_id = l->batch_id;
	f->shop_id = g_strdup(l->shop_id);
	f->amount_text = g_strdup(l->amount_text);
	f->reason = reason;
	g_ptr_array_add(report->findings, f);
}

/* Why line l cannot apply, or NULL when it can: its batch, its approval, its export row, its
 * amount. */
static char *mismatch(const result_line *l, const ledger_view *v, const int64_t *exported)
{
	char want[MONEY_TEXT_MAX];
	if (!g_hash_table_contains(v->batches, GINT_TO_POINTER(l->batch_id)))
		return g_strdup_printf("batch %d does not exist", l->batch_id);
	if (!g_hash_table_contains(v->approved, GINT_TO_POINTER(l->batch_id)))
		return g_strdup_printf("batch %d is not approved (subsidy approve --batch %d): nothing of it is paid"
				       " until finance approves it",
				       l->batch_id, l->batch_id);
	if (!exported)
		return g_strdup_printf("shop '%s' is not in the export of batch %d", l->shop_id, l->batch_id);
	if (*exported != l->amount_fen)
		return g_strdup_printf("amount '%s' does not match the export of batch %d for shop '%s' (%s)",
				       l->amount_text, l->batch_id, l->shop_id, money_format(*exported, want));
	return NULL;
}

/* Why line l contradicts the result applied before, or NULL when it repeats it exactly. */
static char *contradiction(const result_line *l, const applied_result *before, int load_id)
{
	g_assert(before->amount_fen == l->amount_fen);
	if (before->paid == l->paid && g_strcmp0(before->paid_at, l->paid_at) == 0 &&
	    g_strcmp0(before->serial_no, l->serial_no) == 0)
		return NULL;
	g_autofree char *where = before->load_id == load_id
					 ? g_strdup_printf("line %d of this file", before->line_no)
					 : g_strdup_printf("the result applied by payment load %d line %d",
							   before->load_id, before->line_no);
	return g_strdup_printf("contradicts %s (%s, %s, serial %s)", where, status_text(before->paid),
			       before->paid_at ? before->paid_at : "no time",
			       before->serial_no ? before->serial_no : "none");
}

/* Decides each line, in line order: applied (appended to apply), a repeat of what is applied
 * (counted), or a finding (reported). */
static void reconcile(GArray *lines, ledger_view *v, int load_id, GPtrArray *apply, payments_report *report)
{
	for (guint i = 0; i < lines->len; i++) {
		result_line *l = &g_array_index(lines, result_line, i);
		g_autofree char *key = result_key(l->batch_id, l->shop_id);
		const applied_result *before = g_hash_table_lookup(v->applied, key);
		char *reason = mismatch(l, v, g_hash_table_lookup(v->exported, key));
		if (!reason && before)
			reason = contradiction(l, before, load_id);
		if (reason) {
			add_finding(report, l, reason);
			continue;
		}
		if (before) {
			report->already_applied++;
			continue;
		}
		applied_result *a = g_new0(applied_result, 1);
		*a = (applied_result){ l->amount_fen, l->paid, g_strdup(l->paid_at), g_strdup(l->serial_no), load_id,
				       l->line_no };
		g_hash_table_insert(v->applied, g_steal_pointer(&key), a);
		g_ptr_array_add(apply, l);
		report->applied++;
		/* Each amount is one export row's, so their sum stays below what the batches paid. */
		if (l->paid)
			report->paid_fen += l->amount_fen;
		else
			report->failed_fen += l->amount_fen;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Recording                                                                                   */


/* The load's row (and its run), chained to prev_digest by the digest of the payments it applies. */
static gboolean record_load(db *d, const char *path, const char *sha256, const char *os_user, GPtrArray *apply,
			    payments_report *report, const char *prev_digest, GError **error)
{
	const char *programme = db_programme(d);
	g_assert(report->load_id >= 1 && report->applied == (int)apply->len);
	ledger_payment_row *rows = g_new0(ledger_payment_row, apply->len + 1);
	for (guint i = 0; i < apply->len; i++) {
		const result_line *l = apply->pdata[i];
		rows[i] = (ledger_payment_row){ l->line_no, l->batch_id, l->shop_id, l->amount_fen,
						l->paid ? "PAID" : "FAILED", l->paid_at, l->serial_no };
	}
	ledger_payments_digest(programme, report->load_id, prev_digest, rows, apply->len, report->digest);
	g_free(rows);
	g_assert(strlen(report->digest) == LEDGER_DIGEST_HEX - 1);

	char load[PAYMENTS_INT_TEXT_MAX], applied[PAYMENTS_INT_TEXT_MAX], findings[PAYMENTS_INT_TEXT_MAX];
	g_snprintf(load, sizeof load, "%d", report->load_id);
	g_snprintf(applied, sizeof applied, "%d", report->applied);
	g_snprintf(findings, sizeof findings, "%u", report->findings->len);
	g_autofree char *base = g_path_get_basename(path);
	g_autofree char *run_id = NULL;
	const char *run_params[] = { programme, os_user, path };
	if (!db_scalar(d, "INSERT INTO runs (programme, kind, os_user, detail) VALUES ($1, 'payments', $2, $3)"
			  " RETURNING run_id",
		       3, run_params, &run_id, error))
		return FALSE;
	const char *load_params[] = { programme, load, run_id, base, sha256, applied, findings, prev_digest,
				      report->digest };
	PGresult *res = db_query(d, "INSERT INTO payment_loads (programme, load_id, run_id, file_name, sha256, applied,"
				    " findings, prev_digest, digest, batches_upto) VALUES ($1, $2::int, $3::bigint, $4, $5,"
				    " $6::int, $7::int, $8, $9, (SELECT coalesce(max(batch_id), 0) FROM batches"
				    " WHERE programme = $1))",
				 9, load_params, error);
	if (!res)
		return FALSE;
	PQclear(res);
	return TRUE;
}

/* The applied payments, and for each PAID one its two entries: the shop's payable moves to the
 * treasury. No batch_id: the batch's digest covers the entries of its batch, and a payment comes
 * after the batch is sealed. */
static gboolean record_payments(db *d, GPtrArray *apply, int load_id, GError **error)
{
	const char *programme = db_programme(d);
	g_autoptr(GString) pay = g_string_new(NULL);
	g_autoptr(ledger_writer) ledger = ledger_writer_new(d, 0);
	int64_t paid = 0;
	for (guint i = 0; i < apply->len; i++) {
		const result_line *l = apply->pdata[i];
		db_copy_text(pay, programme);
		db_copy_int(pay, l->batch_id);
		db_copy_text(pay, l->shop_id);
		db_copy_int(pay, l->amount_fen);
		db_copy_text(pay, l->paid ? "PAID" : "FAILED");
		db_copy_text(pay, l->paid_at);
		db_copy_text(pay, l->serial_no);
		db_copy_int(pay, load_id);
		db_copy_int(pay, l->line_no);
		db_copy_row_end(pay);
		if (!l->paid)
			continue; /* a failed payment leaves the shop's payable owed, to be carried */
		g_assert(l->amount_fen > 0);
		g_autofree char *txn = g_strdup_printf("pay%d.%d", load_id, l->line_no);
		g_autofree char *payable = ledger_payable_account(l->shop_id);
		const ledger_leg legs[] = { { payable, -l->amount_fen, NULL, l->shop_id },
					    { LEDGER_TREASURY, l->amount_fen, NULL, l->shop_id } };
		ledger_write_txn(ledger, txn, 0, legs, G_N_ELEMENTS(legs));
		paid++;
	}
	g_assert(paid <= (int64_t)apply->len);
	return db_copy_rows(d,
			 "COPY payments (programme, batch_id, shop_id, amount_fen, status, paid_at, serial_no, load_id,"
			 " line_no) FROM STDIN",
			 pay, error) &&
	       ledger_writer_flush(ledger, error);
}

static gboolean record_findings(db *d, const payments_report *report, GError **error)
{
	g_autoptr(GString) found = g_string_new(NULL);
	for (guint i = 0; i < report->findings->len; i++) {
		const payments_finding *f = report->findings->pdata[i];
		g_assert(f->line_no >= 2 && f->reason);
		db_copy_text(found, db_programme(d));
		db_copy_int(found, report->load_id);
		db_copy_int(found, f->line_no);
		db_copy_int(found, f->batch_id);
		db_copy_text(found, f->shop_id);
		db_copy_text(found, f->amount_text);
		db_copy_text(found, f->reason);
		db_copy_row_end(found);
	}
	return db_copy_rows(d,
			 "COPY payment_findings (programme, load_id, line_no, batch_id, shop_id, amount, finding)"
			 " FROM STDIN",
			 found, error);
}

static gboolean record(db *d, const char *path, const char *sha256, const char *os_user, GPtrArray *apply,
		       payments_report *report, const char *prev_digest, GError **error)
{
	return record_load(d, path, sha256, os_user, apply, report, prev_digest, error) &&
	       record_payments(d, apply, report->load_id, error) && record_findings(d, report, error);
}

/* The next load's number and the digest it chains to. */
static gboolean chain_head(db *d, int *load_id, char prev[LEDGER_DIGEST_HEX], GError **error)
{
	enum { HEAD_LOAD_ID, HEAD_DIGEST, HEAD_COLUMNS };
	const char *params[] = { db_programme(d) };
	PGresult *res = db_query(d, "SELECT load_id, digest FROM payment_loads WHERE programme = $1"
				    " ORDER BY load_id DESC LIMIT 1",
				 1, params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == HEAD_COLUMNS && PQntuples(res) <= 1);
	if (PQntuples(res) == 0) {
		*load_id = 1;
		g_strlcpy(prev, LEDGER_GENESIS, LEDGER_DIGEST_HEX);
	} else {
		*load_id = atoi(PQgetvalue(res, 0, HEAD_LOAD_ID)) + 1;
		g_strlcpy(prev, PQgetvalue(res, 0, HEAD_DIGEST), LEDGER_DIGEST_HEX);
	}
	PQclear(res);
	g_assert(*load_id >= 1);
	g_assert(strlen(prev) == LEDGER_DIGEST_HEX - 1);
	return TRUE;
}

gboolean payments_load(db *d, const char *path, const char *os_user, payments_report *report, GError **error)
{
	g_return_val_if_fail(path != NULL && os_user != NULL && report != NULL, FALSE);
	*report = (payments_report){ .file = g_strdup(path), .findings = g_ptr_array_new() };
	g_autoptr(GArray) lines = g_array_new(FALSE, TRUE, sizeof(result_line));
	g_array_set_clear_func(lines, result_line_clear);
	g_autofree char *sha256 = NULL;
	if (!read_file(path, lines, &sha256, error))
		return FALSE;

	ledger_view view = { 0 };
	g_autoptr(GPtrArray) apply = g_ptr_array_new();
	char prev[LEDGER_DIGEST_HEX];
	/* The settlement lock, for this transaction only: finance can hold it no longer than a load. */
	gboolean ok = db_begin(d, error) && db_try_settlement_xact(d, error) &&
		      chain_head(d, &report->load_id, prev, error) &&
		      load_view(d, lines, &view, error);
	if (ok) {
		reconcile(lines, &view, report->load_id, apply, report);
		ok = record(d, path, sha256, os_user, apply, report, prev, error) && db_commit(d, error);
	}
	if (!ok)
		db_rollback(d);
	ledger_view_clear(&view);
	return ok;
}

void payments_report_clear(payments_report *report)
{
	g_clear_pointer(&report->file, g_free);
	if (report->findings) {
		for (guint i = 0; i < report->findings->len; i++) {
			payments_finding *f = report->findings->pdata[i];
			g_free(f->shop_id);
			g_free(f->amount_text);
			g_free(f->reason);
			g_free(f);
		}
		g_ptr_array_free(report->findings, TRUE);
		report->findings = NULL;
	}
}
