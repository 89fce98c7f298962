/* export.c: finance bureau files and the public-notice list; see export.h.
 *
 * One writer serves every file. A table names its columns (title, how a value is written, whether
 * the totals row sums it) and the query that yields its rows in order; the rows stream from a
 * cursor into a sink, CSV or XLSX, so memory is bounded by a fetch, not by the batch (the detail's
 * rows are put in funding order per shop by the order module: by one shop's postings). The sink
 * writes to a temporary file beside the target, which is hashed and renamed into place. */
#include "export.h"

#include "capitals.h"
#include "fault.h"
#include "filehash.h"
#include "money.h"
#include "order.h"
#include "outfile.h"
#include "status.h"
#include "text.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

G_DEFINE_QUARK(subsidy-export-error-quark, export_error)

/* Rows fetched from the cursor at a time: bounds memory on a large detail export. */
#define EXPORT_FETCH_ROWS 5000
/* The widest table has 11 columns. */
#define EXPORT_COLUMNS_MAX 12
/* Excel's sheet holds at most this many rows (header and totals included). */
#define EXPORT_XLSX_ROWS_MAX 1048576
#define EXPORT_TOTAL_LABEL "合计"
/* libxlsxwriter's paper index of A4 (worksheet_set_paper). */
#define EXPORT_XLSX_PAPER_A4 9
#define EXPORT_CURSOR "export_rows"
/* A batch number as text, with its NUL. */
#define EXPORT_INT_TEXT_MAX 16

static const char csv_line_end[] = "\r\n";

/* How one column's database value is written. */
typedef enum {
	COL_TEXT,       /* as stored, NULL empty; an XLSX text cell (bank accounts, order numbers) */
	COL_COUNT,      /* an integer: batch number, row number, order count */
	COL_FEN,        /* money: "1234.50" in CSV, a number formatted 0.00 in XLSX */
	COL_PERCENT,    /* a rate in basis points: "50%" */
	COL_MASK_NAME,  /* an owner's name, masked for public notice */
	COL_MASK_PHONE, /* a phone number, masked for public notice */
	COL_COURIER,    /* a courier's code: as stored in CSV, its Chinese name in XLSX (export_courier_name) */
	COL_STATUS,     /* a posting's status: as stored in CSV, in Chinese in XLSX (export_status_name) */
} col_kind;

typedef struct {
	const char *title;
	col_kind kind;
	gboolean summed;  /* the totals row carries this column's sum */
	int width_chars;  /* XLSX column width */
} column;

/* Orders two rows of a table by the texts of their columns (NULL for SQL NULL). */
typedef int (*row_cmp)(const char *const *a, const char *const *b);

typedef struct {
	const char *sheet;  /* XLSX sheet name, before the batch number */
	const column *cols;
	size_t n_cols;
	const char *query;  /* $1 programme, $2 batch: one column per cols entry, rows in file order
			     * (or in groups, see group_col), then n_hidden columns sort_rows reads */
	gboolean totals;    /* a last row 合计 with the summed columns' sums */
	const char *guard;  /* NULL, or $1 programme, $2 batch: a shop whose registry version at the
			     * batch is missing (the table would lose its columns), or no row */
	row_cmp sort_rows;  /* NULL, or: the query's rows come in groups of equal values of group_col,
			     * and each group is written in sort_rows' order (memory: a group's rows) */
	int group_col;
	size_t n_hidden;
	int capitals_col;   /* -1, or the column whose totals cell holds the capitals of ... */
	int capitals_of;    /* ... this summed COL_FEN column's total (CONTROL.md, 大写金额) */
} table;

static const column summary_cols[] = {
	{ "批次号", COL_COUNT, FALSE, 8 },     { "序号", COL_COUNT, FALSE, 6 },
	{ "店铺编号", COL_TEXT, FALSE, 12 },   { "店铺名称", COL_TEXT, FALSE, 24 },
	{ "收款户名", COL_TEXT, FALSE, 12 },   { "开户银行", COL_TEXT, FALSE, 24 },
	{ "银行账号", COL_TEXT, FALSE, 24 },   { "订单数", COL_COUNT, TRUE, 8 },
	{ "补贴金额(元)", COL_FEN, TRUE, 14 }, { "备注", COL_TEXT, FALSE, 14 },
};

static const table summary_table = {
	"批次", summary_cols, G_N_ELEMENTS(summary_cols),
	"SELECT batch_id, row_number() OVER (ORDER BY shop_id COLLATE \"C\"), shop_id, shop_name, account_name,"
	" bank_name, bank_account, orders, amount_fen, remark"
	" FROM batch_shops WHERE programme = $1 AND batch_id = $2::int AND amount_fen > 0"
	" ORDER BY shop_id COLLATE \"C\"",
	TRUE,
	NULL,
	NULL,
	0,
	0,
	9, /* 备注 */
	8, /* 补贴金额(元) */
};

static const column detail_cols[] = {
	{ "批次号", COL_COUNT, FALSE, 8 },        { "店铺编号", COL_TEXT, FALSE, 12 },
	{ "订单号", COL_TEXT, FALSE, 20 },        { "快递公司", COL_COURIER, FALSE, 10 },
	{ "运单号", COL_TEXT, FALSE, 20 },        { "揽收时间", COL_TEXT, FALSE, 20 },
	{ "运费(元)", COL_FEN, FALSE, 10 },       { "补贴比例", COL_PERCENT, FALSE, 8 },
	{ "补贴金额(元)", COL_FEN, TRUE, 14 },    { "活动", COL_TEXT, FALSE, 10 },
	{ "状态", COL_STATUS, FALSE, 18 },
};

/* Columns of the detail query, and its hidden last one. */
enum { D_BATCH, D_SHOP, D_ORDER_NO, D_COURIER, D_WAYBILL, D_PICKUP, D_FEE, D_RATE, D_FUNDED, D_CAMPAIGN, D_STATUS,
       D_SEQ };

/* Within a shop: by the order's funding key (order_fund_key_cmp), then by seq so that the order of
 * two postings of one order in one batch is fixed too. */
static int detail_cmp(const char *const *a, const char *const *b)
{
	order_fund_key ka = { 0, a[D_COURIER], a[D_WAYBILL] }, kb = { 0, b[D_COURIER], b[D_WAYBILL] };
	gboolean ok = chrono_parse_time(a[D_PICKUP], &ka.pickup, NULL) && chrono_parse_time(b[D_PICKUP], &kb.pickup, NULL);
	g_assert(ok); /* to_char of a timestamp */
	int c = order_fund_key_cmp(&ka, &kb);
	if (c != 0)
		return c;
	int64_t sa = g_ascii_strtoll(a[D_SEQ], NULL, 10), sb = g_ascii_strtoll(b[D_SEQ], NULL, 10);
	g_assert(sa != sb); /* (batch, seq) is a posting's key */
	return sa < sb ? -1 : 1;
}

/* Postings by shop (bytewise), then in the funding order of their orders (detail_cmp). */
static const table detail_table = {
	"明细", detail_cols, G_N_ELEMENTS(detail_cols),
	"SELECT batch_id, shop_id, order_no, fund_courier, fund_waybill,"
	/* A date-only pickup (the funding-key line's statement gave only the day) is shown as a date. */
	" to_char(fund_pickup, CASE WHEN EXISTS (SELECT 1 FROM lines l WHERE l.programme = p.programme"
	"   AND l.courier = p.fund_courier AND l.waybill_no = p.fund_waybill AND l.pickup_time = p.fund_pickup"
	"   AND l.pickup_date_only) THEN 'YYYY-MM-DD' ELSE 'YYYY-MM-DD HH24:MI:SS' END),"
	" fee_fen, rate_bp, funded_fen, campaign_id, status || coalesce(':' || correction, ''), seq"
	" FROM postings p WHERE programme = $1 AND batch_id = $2::int ORDER BY shop_id COLLATE \"C\"",
	TRUE,
	NULL,
	detail_cmp,
	D_SHOP,
	D_SEQ + 1 - G_N_ELEMENTS(detail_cols),
	-1, /* no 备注 column */
	-1,
};

static const column disclosure_cols[] = {
	{ "序号", COL_COUNT, FALSE, 6 },        { "店铺名称", COL_TEXT, FALSE, 24 },
	{ "村", COL_TEXT, FALSE, 12 },          { "店主", COL_MASK_NAME, FALSE, 10 },
	{ "联系电话", COL_MASK_PHONE, FALSE, 14 }, { "订单数", COL_COUNT, FALSE, 8 },
	{ "补贴金额(元)", COL_FEN, FALSE, 14 },
};

/* The shop as registered when the batch was made: the version recorded at or before the batch's
 * created_at and not yet superseded then. */
#define SHOP_VERSION_AT_BATCH                                                                                  \
	" JOIN batches b ON b.programme = bs.programme AND b.batch_id = bs.batch_id"                          \
	" LEFT JOIN shops s ON s.programme = bs.programme AND s.shop_id = bs.shop_id"                         \
	" AND s.recorded_at <= b.created_at AND b.created_at < coalesce(s.superseded_at, 'infinity')"          \
	" WHERE bs.programme = $1 AND bs.batch_id = $2::int AND bs.amount_fen > 0"

static const table disclosure_table = {
	"公示", disclosure_cols, G_N_ELEMENTS(disclosure_cols),
	"SELECT row_number() OVER (ORDER BY bs.shop_id COLLATE \"C\"), bs.shop_name, s.village, s.owner_name,"
	" s.phone, bs.orders, bs.amount_fen FROM batch_shops bs" SHOP_VERSION_AT_BATCH
	" ORDER BY bs.shop_id COLLATE \"C\"",
	FALSE,
	"SELECT bs.shop_id FROM batch_shops bs" SHOP_VERSION_AT_BATCH " AND s.shop_id IS NULL"
	" ORDER BY bs.shop_id COLLATE \"C\" LIMIT 1",
	NULL,
	0,
	0,
	-1,
	-1,
};

G_STATIC_ASSERT(G_N_ELEMENTS(summary_cols) <= EXPORT_COLUMNS_MAX);
G_STATIC_ASSERT(G_N_ELEMENTS(detail_cols) <= EXPORT_COLUMNS_MAX);
G_STATIC_ASSERT(D_SEQ == G_N_ELEMENTS(detail_cols) && D_SEQ < EXPORT_COLUMNS_MAX);
G_STATIC_ASSERT(G_N_ELEMENTS(disclosure_cols) <= EXPORT_COLUMNS_MAX);

/* ------------------------------------------------------------------------------------------ */
/* The pieces                                                                                  */

void export_csv_field(GString *out, const char *field)
{
	size_t len = strlen(field);
	if (strpbrk(field, ",\"\r\n") == NULL) {
		g_string_append_len(out, field, (gssize)len);
		return;
	}
	/* libcsv quotes the whole field and doubles its quotes; a first call sizes it. */
	size_t need = csv_write(NULL, 0, field, len);
	g_assert(need >= len + 2);
	gsize at = out->len;
	g_string_set_size(out, at + need);
	size_t wrote = csv_write(out->str + at, need, field, len);
	g_assert(wrote == need && out->str[at] == '"' && out->str[at + need - 1] == '"');
}

gboolean export_formula_like(const char *text)
{
	return text[0] != '\0' && strchr(EXPORT_FORMULA_STARTS, text[0]) != NULL;
}

void export_csv_text_field(GString *out, const char *field)
{
	if (!export_formula_like(field)) {
		export_csv_field(out, field);
		return;
	}
	g_autofree char *inert = g_strconcat(EXPORT_FORMULA_GUARD, field, NULL);
	export_csv_field(out, inert);
}

char *export_percent(int32_t rate_bp, char buf[EXPORT_PERCENT_TEXT_MAX])
{
	g_assert(rate_bp >= 0);
	int32_t whole = rate_bp / 100, hundredths = rate_bp % 100;
	int n;
	if (hundredths == 0)
		n = g_snprintf(buf, EXPORT_PERCENT_TEXT_MAX, "%d%%", (int)whole);
	else if (hundredths % 10 == 0)
		n = g_snprintf(buf, EXPORT_PERCENT_TEXT_MAX, "%d.%d%%", (int)whole, (int)(hundredths / 10));
	else
		n = g_snprintf(buf, EXPORT_PERCENT_TEXT_MAX, "%d.%02d%%", (int)whole, (int)hundredths);
	g_assert(n > 0 && n < EXPORT_PERCENT_TEXT_MAX);
	return buf;
}

/* The couriers the engine knows (src/ident.c reads them from Cainiao's Chinese names), by the
 * names their customers know them by. */
static const struct {
	const char *code, *name;
} courier_names[] = {
	{ "EMS", "中国邮政" }, { "ZTO", "中通快递" }, { "YTO", "圆通速递" }, { "STO", "申通快递" },
	{ "YUNDA", "韵达快递" }, { "BEST", "百世快递" }, { "JT", "极兔速递" }, { "SF", "顺丰速运" },
};

const char *export_courier_name(const char *code)
{
	for (size_t i = 0; i < G_N_ELEMENTS(courier_names); i++)
		if (strcmp(courier_names[i].code, code) == 0)
			return courier_names[i].name;
	return code;
}

/* A posting's statuses (sql/001: postings.status), as a finance bureau says them. */
static const struct {
	const char *code, *name;
} status_names[] = {
	{ "FUNDED", "已拨付" }, { "PARTIAL", "部分拨付" }, { "BUDGET_EXHAUSTED", "资金不足" }, { "REVERSAL", "冲回" },
};

char *export_status_name(const char *status)
{
	/* A correction's reference after the code (CONTROL.md: REVERSAL:W3) stays as it is. */
	const char *colon = strchr(status, ':');
	size_t n = colon ? (size_t)(colon - status) : strlen(status);
	for (size_t i = 0; i < G_N_ELEMENTS(status_names); i++)
		if (strlen(status_names[i].code) == n && strncmp(status_names[i].code, status, n) == 0)
			return g_strconcat(status_names[i].name, colon ? colon : "", NULL);
	return g_strdup(status);
}

char *export_mask_name(const char *name)
{
	g_return_val_if_fail(name != NULL && g_utf8_validate(name, -1, NULL), NULL);
	glong n = g_utf8_strlen(name, -1);
	GString *out = g_string_new(NULL);
	if (n == 1)
		g_string_append_c(out, '*');
	if (n >= 2) {
		const char *second = g_utf8_next_char(name);
		g_string_append_len(out, name, second - name);
		for (glong i = 0; i < MAX(n - 2, 1); i++)
			g_string_append_c(out, '*');
		if (n >= 3)
			g_string_append(out, g_utf8_offset_to_pointer(name, n - 1));
	}
	g_assert(g_utf8_strlen(out->str, -1) == n);
	return g_string_free(out, FALSE);
}

/* Digits kept at each end of a phone number. */
#define PHONE_KEEP_HEAD 3
#define PHONE_KEEP_TAIL 4

char *export_mask_phone(const char *phone)
{
	g_return_val_if_fail(phone != NULL && g_utf8_validate(phone, -1, NULL), NULL);
	glong n = g_utf8_strlen(phone, -1);
	GString *out = g_string_new(NULL);
	if (n <= PHONE_KEEP_HEAD + PHONE_KEEP_TAIL) {
		for (glong i = 0; i < n; i++)
			g_string_append_c(out, '*');
	} else {
		const char *tail = g_utf8_offset_to_pointer(phone, n - PHONE_KEEP_TAIL);
		g_string_append_len(out, phone, g_utf8_offset_to_pointer(phone, PHONE_KEEP_HEAD) - phone);
		for (glong i = 0; i < n - PHONE_KEEP_HEAD - PHONE_KEEP_TAIL; i++)
			g_string_append_c(out, '*');
		g_string_append(out, tail);
	}
	g_assert(g_utf8_strlen(out->str, -1) == n);
	return g_string_free(out, FALSE);
}

/* ------------------------------------------------------------------------------------------ */
/* Sinks: where rows go                                                                        */

/* One cell as the sinks see it: text for CSV (and XLSX text cells); value for numbers. */
typedef struct {
	col_kind kind;
	const char *text;
	int64_t value;
	gboolean blank;
} cell;

typedef struct {
	export_format format;
	export_encoding encoding;
	const char *path;   /* the temporary file written */
	gboolean no_sync;   /* standard output: a pipe cannot be synced */
	FILE *csv;
	GIConv to_gb18030;  /* (GIConv)-1 unless GB18030 */
	GString *line;
	lxw_workbook *wb;
	lxw_worksheet *ws;
	lxw_format *money_format, *header_format;
	lxw_row_t row;
	char *display;      /* the XLSX text of a COL_STATUS cell being written */
	int64_t rows;       /* written, header and totals included */
} sink;

/* The one place fen becomes a floating-point number (POLICY.md "Money"): an XLSX cell's value,
 * formatted 0.00, at the very last step. Counts are no money; they go the same way. */
/* Sets error for a file that cannot be written, with the system's reason. */
static void write_error(GError **error, const char *path, int errnum)
{
	g_set_error(error, EXPORT_ERROR, STATUS_SOFTWARE, "cannot write '%s': %s", path, g_strerror(errnum));
}

static double xlsx_number(col_kind kind, int64_t value)
{
	return kind == COL_FEN ? (double)value / 100.0 : (double)value;
}

static gboolean xlsx_failed(lxw_error err, const sink *s, GError **error)
{
	if (err == LXW_NO_ERROR)
		return FALSE;
	g_set_error(error, EXPORT_ERROR, STATUS_SOFTWARE, "cannot write '%s': %s", s->path, lxw_strerror(err));
	return TRUE;
}

/* How a sheet prints: A4 landscape, one page wide, the header row on every page. */
static gboolean xlsx_print_setup(const sink *s, lxw_worksheet *ws, GError **error)
{
	worksheet_set_landscape(ws);
	worksheet_set_paper(ws, EXPORT_XLSX_PAPER_A4);
	worksheet_fit_to_pages(ws, 1, 0);
	return !xlsx_failed(worksheet_repeat_rows(ws, 0, 0), s, error);
}

/* Opens the sink on path (which exists, empty); created fixes the XLSX document's creation time. */
static gboolean sink_open(sink *s, int fd, const char *sheet, const table *t, int64_t created, GError **error)
{
	s->to_gb18030 = (GIConv)-1;
	if (s->format == EXPORT_FORMAT_CSV) {
		s->csv = fdopen(fd, "wb");
		if (!s->csv) {
			int e = errno;
			close(fd);
			write_error(error, s->path, e);
			return FALSE;
		}
		s->line = g_string_new(NULL);
		if (s->encoding == EXPORT_ENCODING_GB18030) {
			s->to_gb18030 = g_iconv_open("GB18030", "UTF-8");
			g_assert(s->to_gb18030 != (GIConv)-1);
		} else {
			fputs(TEXT_UTF8_BOM, s->csv);
		}
		return TRUE;
	}
	/* libxlsxwriter writes the file by name; the descriptor only reserved it. */
	close(fd);
	lxw_workbook_options wo = { .constant_memory = LXW_TRUE };
	s->wb = workbook_new_opt(s->path, &wo);
	if (!s->wb) {
		g_set_error(error, EXPORT_ERROR, STATUS_SOFTWARE, "cannot write '%s': cannot start a workbook",
			    s->path);
		return FALSE;
	}
	/* A fixed creation time (the batch's) makes a second export byte-identical to the first. */
	lxw_doc_properties props = { .created = (time_t)created };
	if (xlsx_failed(workbook_set_properties(s->wb, &props), s, error))
		return FALSE;
	s->ws = workbook_add_worksheet(s->wb, sheet);
	g_assert(s->ws != NULL);
	s->money_format = workbook_add_format(s->wb);
	format_set_num_format(s->money_format, "0.00");
	s->header_format = workbook_add_format(s->wb);
	format_set_bold(s->header_format);
	for (size_t i = 0; i < t->n_cols; i++) {
		lxw_col_t col = (lxw_col_t)i;
		if (xlsx_failed(worksheet_set_column(s->ws, col, col, t->cols[i].width_chars, NULL), s, error))
			return FALSE;
	}
	worksheet_freeze_panes(s->ws, 1, 0);
	return xlsx_print_setup(s, s->ws, error);
}

/* One CSV line, in the sink's encoding: text from outside quoted as export_csv_text_field does. */
static gboolean csv_row(sink *s, const cell *cells, size_t n, gboolean header, GError **error)
{
	g_assert(s->csv && s->line);
	g_assert(n >= 1 && n <= EXPORT_COLUMNS_MAX);
	g_string_truncate(s->line, 0);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			g_string_append_c(s->line, ',');
		/* Amounts, counts and rates are the engine's own digits (a signed amount starts
		 * with '-' and must stay a number); text came from outside. */
		gboolean text = cells[i].kind == COL_TEXT || cells[i].kind == COL_MASK_NAME ||
				cells[i].kind == COL_MASK_PHONE || cells[i].kind == COL_COURIER ||
				cells[i].kind == COL_STATUS;
		if (cells[i].blank)
			continue;
		if (text && !header)
			export_csv_text_field(s->line, cells[i].text);
		else
			export_csv_field(s->line, cells[i].text);
	}
	g_string_append(s->line, csv_line_end);
	if (s->to_gb18030 == (GIConv)-1) {
		fwrite(s->line->str, 1, s->line->len, s->csv);
		s->rows++;
		return TRUE;
	}
	/* GB18030 encodes every Unicode character, so only invalid UTF-8 (a bug) could fail. */
	gsize len = 0;
	g_autoptr(GError) conv = NULL;
	g_autofree char *gb =
		g_convert_with_iconv(s->line->str, (gssize)s->line->len, s->to_gb18030, NULL, &len, &conv);
	if (!gb) {
		g_set_error(error, EXPORT_ERROR, STATUS_SOFTWARE, "cannot write '%s' in GB18030: %s", s->path,
			    conv->message);
		return FALSE;
	}
	fwrite(gb, 1, len, s->csv);
	s->rows++;
	return TRUE;
}

/* One row of the XLSX sheet, numbers as numbers; refused past the sheet's last row. */
static gboolean xlsx_row(sink *s, const cell *cells, size_t n, gboolean header, GError **error)
{
	g_assert(s->ws && s->csv == NULL);
	g_assert(n >= 1 && n <= EXPORT_COLUMNS_MAX);
	if (s->row >= EXPORT_XLSX_ROWS_MAX) {
		g_set_error(error, EXPORT_ERROR, STATUS_USAGE,
			    "cannot write '%s': more than %d rows do not fit an XLSX sheet; export as CSV", s->path,
			    EXPORT_XLSX_ROWS_MAX);
		return FALSE;
	}
	for (size_t i = 0; i < n; i++) {
		const cell *c = &cells[i];
		lxw_col_t col = (lxw_col_t)i;
		lxw_error err = LXW_NO_ERROR;
		if (c->blank)
			continue;
		if (header)
			err = worksheet_write_string(s->ws, s->row, col, c->text, s->header_format);
		else if (c->kind == COL_COUNT || c->kind == COL_FEN)
			err = worksheet_write_number(s->ws, s->row, col, xlsx_number(c->kind, c->value),
						     c->kind == COL_FEN ? s->money_format : NULL);
		else if (c->kind == COL_COURIER)
			err = worksheet_write_string(s->ws, s->row, col, export_courier_name(c->text), NULL);
		else if (c->kind == COL_STATUS) {
			g_free(s->display);
			s->display = export_status_name(c->text);
			err = worksheet_write_string(s->ws, s->row, col, s->display, NULL);
		} else
			err = worksheet_write_string(s->ws, s->row, col, c->text, NULL);
		if (xlsx_failed(err, s, error))
			return FALSE;
	}
	s->row++;
	s->rows++;
	return TRUE;
}

/* Writes one row of n cells, the header's or a body row, and counts it in s->rows. */
static gboolean sink_row(sink *s, const cell *cells, size_t n, gboolean header, GError **error)
{
	g_assert(cells != NULL && (s->format == EXPORT_FORMAT_CSV || s->format == EXPORT_FORMAT_XLSX));
	int64_t rows_before = s->rows;
	gboolean ok = s->format == EXPORT_FORMAT_CSV ? csv_row(s, cells, n, header, error)
						     : xlsx_row(s, cells, n, header, error);
	g_assert(s->rows == rows_before + (ok ? 1 : 0)); /* a row written is counted once */
	return ok;
}

/* Finishes the file; FALSE (with error) when any write failed. The sink is closed either way. */
static gboolean sink_close(sink *s, GError **error)
{
	gboolean ok = TRUE;
	if (s->csv) {
		int e = 0;
		if (fflush(s->csv) != 0 || ferror(s->csv) || (!s->no_sync && fsync(fileno(s->csv)) != 0))
			e = errno ? errno : EIO;
		if (fclose(s->csv) != 0 && e == 0)
			e = errno;
		s->csv = NULL;
		if (e != 0) {
			write_error(error, s->path, e);
			ok = FALSE;
		}
	}
	if (s->wb) {
		lxw_error err = workbook_close(s->wb);
		s->wb = NULL;
		if (err != LXW_NO_ERROR && ok)
			ok = !xlsx_failed(err, s, error);
	}
	if (s->to_gb18030 != (GIConv)-1)
		g_iconv_close(s->to_gb18030);
	s->to_gb18030 = (GIConv)-1;
	if (s->line)
		g_string_free(s->line, TRUE);
	s->line = NULL;
	g_clear_pointer(&s->display, g_free);
	return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Files: temporary, hashed, renamed into place                                                */

/* outfile_open_beside, reporting a failure as an export error. */
static int open_beside(const char *path, char **tmp_path, GError **error)
{
	int fd = outfile_open_beside(path, O_RDWR, tmp_path);
	if (fd < 0) {
		int e = errno;
		write_error(error, path, e);
	}
	return fd;
}

/* Writes path.sha256 for data_path's bytes, to a temporary file: *tmp_path (caller frees). */
static gboolean write_sha256(const char *path, const char *data_path, char **tmp_path, GError **error)
{
	char hex[FILEHASH_HEX_MAX];
	GError *why = NULL;
	if (!filehash_sha256(data_path, hex, NULL, &why)) {
		/* The file was written a moment ago: not reading it back is the engine's failure. */
		g_set_error(error, EXPORT_ERROR, STATUS_SOFTWARE, "cannot read back '%s': %s", data_path,
			    why->message);
		g_error_free(why);
		return FALSE;
	}
	g_autofree char *sha_path = g_strconcat(path, EXPORT_SHA256_SUFFIX, NULL);
	g_autofree char *base = g_path_get_basename(path);
	/* sha256sum's own line: the hex, two spaces (text mode), the name, a newline. */
	g_autofree char *text = g_strdup_printf("%s  %s\n", hex, base);
	g_assert(strlen(text) == strlen(hex) + 2 + strlen(base) + 1 && *tmp_path == NULL);
	gboolean ok = outfile_write_temp(sha_path, text, strlen(text), tmp_path, error);
	g_assert(ok == (*tmp_path != NULL));
	return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Tables: from the database to a sink                                                         */

/* The batch's creation time in seconds since the epoch; an unknown batch is a usage error. */
static gboolean batch_created(db *d, int batch_id, int64_t *created, GError **error)
{
	char batch[EXPORT_INT_TEXT_MAX];
	g_snprintf(batch, sizeof batch, "%d", batch_id);
	const char *params[] = { db_programme(d), batch };
	g_autofree char *epoch = NULL;
	if (!db_scalar(d, "SELECT extract(epoch FROM created_at)::bigint FROM batches"
			  " WHERE programme = $1 AND batch_id = $2::int",
		       2, params, &epoch, error))
		return FALSE;
	if (epoch) {
		*created = g_ascii_strtoll(epoch, NULL, 10);
		return TRUE;
	}
	g_autofree char *last = NULL;
	if (!db_scalar(d, "SELECT max(batch_id) FROM batches WHERE programme = $1", 1, params, &last, error))
		return FALSE;
	if (last)
		g_set_error(error, EXPORT_ERROR, STATUS_USAGE,
			    "unknown batch %d: the last batch of programme '%s' is %s", batch_id, db_programme(d), last);
	else
		g_set_error(error, EXPORT_ERROR, STATUS_USAGE, "unknown batch %d: programme '%s' has no batches yet",
			    batch_id, db_programme(d));
	return FALSE;
}

static int64_t parse_int(const char *text)
{
	char *end = NULL;
	int64_t v = g_ascii_strtoll(text, &end, 10);
	g_assert(end != text && *end == '\0');
	return v;
}

/* Per row, the strings a rendered row points into. */
typedef struct {
	char money[EXPORT_COLUMNS_MAX][MONEY_TEXT_MAX];
	char percent[EXPORT_COLUMNS_MAX][EXPORT_PERCENT_TEXT_MAX];
	char *masked[EXPORT_COLUMNS_MAX];
} row_text;

static void row_text_clear(row_text *rt)
{
	for (size_t i = 0; i < EXPORT_COLUMNS_MAX; i++)
		g_clear_pointer(&rt->masked[i], g_free);
}

/* Fills cells from a row's texts (NULL for SQL NULL), as the table's columns say. */
static void render_row(const table *t, const char *const *vals, cell *cells, row_text *rt)
{
	for (size_t c = 0; c < t->n_cols; c++) {
		col_kind kind = t->cols[c].kind;
		cell *out = &cells[c];
		*out = (cell){ .kind = kind, .text = "", .blank = vals[c] == NULL };
		if (out->blank)
			continue;
		const char *v = vals[c];
		switch (kind) {
		case COL_TEXT:
		case COL_COURIER:
		case COL_STATUS:
			out->text = v;
			break;
		case COL_COUNT:
			out->value = parse_int(v);
			out->text = v;
			break;
		case COL_FEN:
			out->value = parse_int(v);
			out->text = money_format(out->value, rt->money[c]);
			break;
		case COL_PERCENT:
			out->value = parse_int(v);
			out->text = export_percent((int32_t)out->value, rt->percent[c]);
			break;
		case COL_MASK_NAME:
			out->text = rt->masked[c] = export_mask_name(v);
			break;
		case COL_MASK_PHONE:
			out->text = rt->masked[c] = export_mask_phone(v);
			break;
		}
	}
}

/* Writes one row and adds it to the sums. */
static gboolean emit_row(const table *t, int batch_id, const char *const *vals, int64_t *sums, sink *s,
			 GError **error)
{
	cell cells[EXPORT_COLUMNS_MAX];
	row_text rt = { 0 };
	render_row(t, vals, cells, &rt);
	gboolean ok = TRUE;
	for (size_t c = 0; ok && c < t->n_cols; c++) {
		if (!t->cols[c].summed || cells[c].blank)
			continue;
		if (!money_add(sums[c], cells[c].value, &sums[c])) {
			g_set_error(error, EXPORT_ERROR, STATUS_SOFTWARE, "cannot total column '%s' of batch %d: overflows 64 bits",
				    t->cols[c].title, batch_id);
			ok = FALSE;
		}
	}
	ok = ok && sink_row(s, cells, t->n_cols, FALSE, error);
	row_text_clear(&rt);
	return ok;
}

static const table *sorting_table; /* qsort has no user data: the table being sorted */

static int saved_row_cmp(const void *a, const void *b)
{
	return sorting_table->sort_rows(*(const char *const *const *)a, *(const char *const *const *)b);
}

/* Writes a group's saved rows in the table's order, and empties it. */
static gboolean emit_group(const table *t, int batch_id, GPtrArray *group, int64_t *sums, sink *s, GError **error)
{
	sorting_table = t;
	g_ptr_array_sort(group, saved_row_cmp); /* g_ptr_array_sort passes pointers to the elements */
	sorting_table = NULL;
	gboolean ok = TRUE;
	for (guint k = 0; ok && k < group->len; k++)
		ok = emit_row(t, batch_id, g_ptr_array_index(group, k), sums, s, error);
	g_ptr_array_set_size(group, 0);
	return ok;
}

static void saved_row_free(gpointer p)
{
	char **row = p;
	for (size_t c = 0; c < EXPORT_COLUMNS_MAX; c++)
		g_free(row[c]);
	g_free(row);
}

/* The header row: each column's title; the first row of the sink. */
static gboolean write_head(const table *t, sink *s, GError **error)
{
	g_assert(t->n_cols >= 1 && t->n_cols <= EXPORT_COLUMNS_MAX);
	g_assert(s->rows == 0);
	cell cells[EXPORT_COLUMNS_MAX];
	for (size_t c = 0; c < t->n_cols; c++)
		cells[c] = (cell){ .kind = COL_TEXT, .text = t->cols[c].title };
	return sink_row(s, cells, t->n_cols, TRUE, error);
}

/* Takes one fetched row: written now, or, for a table sorted within groups, kept in its group,
 * the group before it written first when the row starts a new one. */
static gboolean take_row(const table *t, int batch_id, const char *const *vals, size_t n_all, GPtrArray *group,
			 int64_t *sums, sink *s, GError **error)
{
	if (!t->sort_rows)
		return emit_row(t, batch_id, vals, sums, s, error);
	g_assert(vals[t->group_col] != NULL);
	gboolean ok = TRUE;
	if (group->len > 0) {
		const char *const *first = g_ptr_array_index(group, 0);
		if (strcmp(first[t->group_col], vals[t->group_col]) != 0)
			ok = emit_group(t, batch_id, group, sums, s, error);
	}
	char **saved = g_new0(char *, EXPORT_COLUMNS_MAX);
	for (size_t c = 0; c < n_all; c++)
		saved[c] = g_strdup(vals[c]);
	g_ptr_array_add(group, saved);
	/* A group holds the rows of one key only. */
	g_assert(strcmp(((char **)g_ptr_array_index(group, 0))[t->group_col], vals[t->group_col]) == 0);
	return ok;
}

/* Streams the table's rows for batch_id into the sink through a cursor, EXPORT_FETCH_ROWS at a
 * time, adding the summed columns to sums; *fetched gets the number of rows. */
static gboolean stream_rows(db *d, int batch_id, const table *t, int64_t *sums, sink *s, int64_t *fetched,
			    GError **error)
{
	char batch[EXPORT_INT_TEXT_MAX];
	g_snprintf(batch, sizeof batch, "%d", batch_id);
	const char *params[] = { db_programme(d), batch };
	g_autofree char *declare = g_strdup_printf("DECLARE " EXPORT_CURSOR " NO SCROLL CURSOR FOR %s", t->query);
	PGresult *res = db_query(d, declare, 2, params, error);
	if (!res)
		return FALSE;
	PQclear(res);

	size_t n_all = t->n_cols + t->n_hidden;
	g_assert(n_all <= EXPORT_COLUMNS_MAX);
	g_assert(!t->sort_rows || (t->group_col >= 0 && (size_t)t->group_col < t->n_cols));
	int64_t rows_before = s->rows;
	*fetched = 0;
	g_autoptr(GPtrArray) group = g_ptr_array_new_with_free_func(saved_row_free);
	gboolean ok = TRUE;
	for (int n = EXPORT_FETCH_ROWS; ok && n == EXPORT_FETCH_ROWS;) {
		res = db_query(d, "FETCH " G_STRINGIFY(EXPORT_FETCH_ROWS) " FROM " EXPORT_CURSOR, 0, NULL, error);
		if (!res) {
			ok = FALSE;
			break;
		}
		g_assert((size_t)PQnfields(res) == n_all);
		n = PQntuples(res);
		*fetched += n;
		for (int i = 0; ok && i < n; i++) {
			const char *vals[EXPORT_COLUMNS_MAX] = { 0 };
			for (size_t c = 0; c < n_all; c++)
				vals[c] = PQgetisnull(res, i, (int)c) ? NULL : PQgetvalue(res, i, (int)c);
			ok = take_row(t, batch_id, vals, n_all, group, sums, s, error);
		}
		PQclear(res);
	}
	if (ok && group->len > 0)
		ok = emit_group(t, batch_id, group, sums, s, error);
	if (!db_exec(d, "CLOSE " EXPORT_CURSOR, ok ? error : NULL))
		ok = FALSE;
	/* Every row fetched is written once, grouped or not. */
	g_assert(!ok || s->rows - rows_before == *fetched);
	return ok;
}

/* The totals row (the autofilter of an XLSX sheet covers the header and the rows, not it). */
static gboolean write_totals(const table *t, const int64_t *sums, sink *s, GError **error)
{
	g_assert(t->totals && s->rows >= 1);
	if (s->format == EXPORT_FORMAT_XLSX &&
	    xlsx_failed(worksheet_autofilter(s->ws, 0, 0, s->row - 1, (lxw_col_t)(t->n_cols - 1)), s, error))
		return FALSE;
	cell cells[EXPORT_COLUMNS_MAX];
	char text[EXPORT_COLUMNS_MAX][MONEY_TEXT_MAX];
	char capitals[CAPITALS_TEXT_MAX];
	for (size_t c = 0; c < t->n_cols; c++) {
		cells[c] = (cell){ .kind = t->cols[c].kind, .text = "", .blank = !t->cols[c].summed };
		if (!t->cols[c].summed)
			continue;
		g_assert(t->cols[c].kind == COL_COUNT || t->cols[c].kind == COL_FEN);
		cells[c].value = sums[c];
		if (t->cols[c].kind == COL_FEN)
			money_format(sums[c], text[c]);
		else
			g_snprintf(text[c], MONEY_TEXT_MAX, "%" G_GINT64_FORMAT, (gint64)sums[c]);
		cells[c].text = text[c];
	}
	g_assert(!t->cols[0].summed);
	cells[0] = (cell){ .kind = COL_TEXT, .text = EXPORT_TOTAL_LABEL };
	if (t->capitals_col >= 0) {
		g_assert((size_t)t->capitals_col < t->n_cols && !t->cols[t->capitals_col].summed);
		g_assert(t->cols[t->capitals_of].kind == COL_FEN && t->cols[t->capitals_of].summed);
		cells[t->capitals_col] = (cell){ .kind = COL_TEXT,
						 .text = capitals_format(sums[t->capitals_of], capitals) };
	}
	return sink_row(s, cells, t->n_cols, FALSE, error);
}

/* Writes the table for batch_id into the sink: its header, its rows, then its totals row. */
static gboolean write_rows(db *d, int batch_id, const table *t, sink *s, GError **error)
{
	g_assert(t->query && s->rows == 0);
	int64_t sums[EXPORT_COLUMNS_MAX] = { 0 };
	int64_t fetched = 0;
	gboolean ok = write_head(t, s, error) && stream_rows(d, batch_id, t, sums, s, &fetched, error) &&
		      (!t->totals || write_totals(t, sums, s, error));
	/* The header, every row, and the totals when the table has them: nothing else. */
	g_assert(!ok || s->rows == 1 + fetched + (t->totals ? 1 : 0));
	return ok;
}

/* The control sheet's rows (CONTROL.md "Control information in exports"), in order. */
enum {
	CTL_BATCH, CTL_MADE, CTL_DIGEST, CTL_PREV, CTL_SHOPS, CTL_ORDERS, CTL_AMOUNT, CTL_CAPITALS, CTL_APPROVED,
	CTL_APPROVER, CTL_APPROVED_AT, CTL_ROWS
};
static const char *const control_items[CTL_ROWS] = {
	"批次号", "生成时间", "本批摘要", "上批摘要", "店铺数", "订单数", "补贴金额(元)", "大写金额", "审核状态", "审核人",
	"审核时间",
};
#define EXPORT_CONTROL_SHEET "控制信息"

/* The XLSX's second sheet: the batch as a whole, what it pays (the summary's rows and totals,
 * whichever table the first sheet holds) and whether finance approved it (sql/011) when the file
 * was written. 生成时间 is when the batch was made, so that a file written twice in the same
 * state is the same bytes. */
static gboolean write_control_sheet(db *d, int batch_id, sink *s, GError **error)
{
	enum {
		CONTROL_BATCH, CONTROL_MADE, CONTROL_DIGEST, CONTROL_PREV, CONTROL_SHOPS, CONTROL_ORDERS,
		CONTROL_AMOUNT_FEN, CONTROL_APPROVER, CONTROL_APPROVED_AT, CONTROL_COLUMNS
	};
	char batch[EXPORT_INT_TEXT_MAX];
	g_snprintf(batch, sizeof batch, "%d", batch_id);
	const char *params[] = { db_programme(d), batch };
	PGresult *res = db_query(d,
				 "SELECT b.batch_id, to_char(b.created_at, 'YYYY-MM-DD HH24:MI:SS'), b.digest, b.prev_digest,"
				 " count(bs.shop_id), coalesce(sum(bs.orders), 0), coalesce(sum(bs.amount_fen), 0),"
				 " a.db_role || ' / ' || a.os_user, to_char(a.approved_at, 'YYYY-MM-DD HH24:MI:SS')"
				 " FROM batches b LEFT JOIN batch_shops bs ON bs.programme = b.programme"
				 " AND bs.batch_id = b.batch_id AND bs.amount_fen > 0"
				 " LEFT JOIN approvals a ON a.programme = b.programme AND a.batch_id = b.batch_id"
				 " WHERE b.programme = $1 AND b.batch_id = $2::int"
				 " GROUP BY b.batch_id, b.created_at, b.digest, b.prev_digest, a.db_role, a.os_user, a.approved_at",
				 2, params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == CONTROL_COLUMNS);
	g_assert(PQntuples(res) == 1); /* batch_created found the batch in this snapshot */
	gboolean approved = !PQgetisnull(res, 0, CONTROL_APPROVER);
	int64_t amount = parse_int(PQgetvalue(res, 0, CONTROL_AMOUNT_FEN));
	g_assert(amount >= 0); /* the shops' amounts above zero */
	const char *number = PQgetvalue(res, 0, CONTROL_BATCH), *shops = PQgetvalue(res, 0, CONTROL_SHOPS),
		   *orders = PQgetvalue(res, 0, CONTROL_ORDERS);
	g_assert(parse_int(number) == batch_id);
	char capitals[CAPITALS_TEXT_MAX];
	cell values[CTL_ROWS] = {
		[CTL_BATCH] = { COL_COUNT, number, parse_int(number), FALSE },
		[CTL_MADE] = { COL_TEXT, PQgetvalue(res, 0, CONTROL_MADE), 0, FALSE },
		[CTL_DIGEST] = { COL_TEXT, PQgetvalue(res, 0, CONTROL_DIGEST), 0, FALSE },
		[CTL_PREV] = { COL_TEXT, PQgetvalue(res, 0, CONTROL_PREV), 0, FALSE },
		[CTL_SHOPS] = { COL_COUNT, shops, parse_int(shops), FALSE },
		[CTL_ORDERS] = { COL_COUNT, orders, parse_int(orders), FALSE },
		[CTL_AMOUNT] = { COL_FEN, "", amount, FALSE },
		[CTL_CAPITALS] = { COL_TEXT, capitals_format(amount, capitals), 0, FALSE },
		[CTL_APPROVED] = { COL_TEXT, approved ? "已审核" : "未审核", 0, FALSE },
		[CTL_APPROVER] = { COL_TEXT, approved ? PQgetvalue(res, 0, CONTROL_APPROVER) : "", 0, !approved },
		[CTL_APPROVED_AT] = { COL_TEXT, approved ? PQgetvalue(res, 0, CONTROL_APPROVED_AT) : "", 0, !approved },
	};
	lxw_worksheet *ws = workbook_add_worksheet(s->wb, EXPORT_CONTROL_SHEET);
	g_assert(ws != NULL);
	gboolean ok = !xlsx_failed(worksheet_set_column(ws, 0, 0, 14, NULL), s, error) &&
		      !xlsx_failed(worksheet_set_column(ws, 1, 1, 70, NULL), s, error) &&
		      !xlsx_failed(worksheet_write_string(ws, 0, 0, "项目", s->header_format), s, error) &&
		      !xlsx_failed(worksheet_write_string(ws, 0, 1, "内容", s->header_format), s, error);
	for (int i = 0; ok && i < CTL_ROWS; i++) {
		const cell *c = &values[i];
		lxw_row_t row = (lxw_row_t)i + 1;
		lxw_error err = worksheet_write_string(ws, row, 0, control_items[i], NULL);
		if (err == LXW_NO_ERROR && !c->blank)
			err = c->kind == COL_TEXT ? worksheet_write_string(ws, row, 1, c->text, NULL)
						  : worksheet_write_number(ws, row, 1, xlsx_number(c->kind, c->value),
									   c->kind == COL_FEN ? s->money_format : NULL);
		ok = !xlsx_failed(err, s, error);
	}
	ok = ok && xlsx_print_setup(s, ws, error);
	PQclear(res);
	return ok;
}

/* Runs the table's guard: FALSE (STATUS_SOFTWARE) when a shop lacks its registry version. */
static gboolean check_guard(db *d, int batch_id, const table *t, GError **error)
{
	if (!t->guard)
		return TRUE;
	char batch[EXPORT_INT_TEXT_MAX];
	g_snprintf(batch, sizeof batch, "%d", batch_id);
	const char *params[] = { db_programme(d), batch };
	g_autofree char *shop = NULL;
	if (!db_scalar(d, t->guard, 2, params, &shop, error))
		return FALSE;
	if (shop)
		g_set_error(error, EXPORT_ERROR, STATUS_SOFTWARE,
			    "cannot list batch %d: shop '%s' has no registry version recorded before the batch"
			    " was made", batch_id, shop);
	return shop == NULL;
}

/* Writes table t of batch_id to path (and path.sha256 when with_sha256), in one snapshot; path
 * OUTFILE_STDOUT (a CSV without checksum only) writes to standard output instead. Kill point
 * "export:written": the file is written under its temporary name, not yet renamed. */
static gboolean write_table(db *d, int batch_id, const table *t, export_format format, export_encoding encoding,
			    const char *path, gboolean with_sha256, GError **error)
{
	g_assert(t->n_cols <= EXPORT_COLUMNS_MAX && t->n_cols > 0);
	gboolean to_stdout = strcmp(path, OUTFILE_STDOUT) == 0;
	if (to_stdout && (with_sha256 || format != EXPORT_FORMAT_CSV)) {
		g_set_error(error, EXPORT_ERROR, STATUS_USAGE,
			    "cannot write the finance bureau's file to standard output: it needs FILE" EXPORT_SHA256_SUFFIX
			    " beside it; give a file name");
		return FALSE;
	}
	g_autofree char *sha_target = g_strconcat(path, EXPORT_SHA256_SUFFIX, NULL);
	if (!to_stdout && (!outfile_check_target(path, error) ||
			   (with_sha256 && !outfile_check_target(sha_target, error))))
		return FALSE;
	gboolean own = PQtransactionStatus(db_conn(d)) == PQTRANS_IDLE;
	if (own && !db_begin_read(d, error))
		return FALSE;
	g_autofree char *tmp_path = NULL, *sha_tmp_path = NULL;
	int64_t created = 0;
	gboolean ok = batch_created(d, batch_id, &created, error) && check_guard(d, batch_id, t, error);
	int fd = -1;
	if (ok && to_stdout) {
		fflush(stdout);
		fd = dup(STDOUT_FILENO);
		if (fd < 0)
			write_error(error, "standard output", errno);
	} else if (ok) {
		fd = open_beside(path, &tmp_path, error);
	}
	ok = ok && fd >= 0;
	if (ok) {
		sink s = { .format = format, .encoding = encoding, .path = to_stdout ? "standard output" : tmp_path,
			   .no_sync = to_stdout };
		g_autofree char *sheet = g_strdup_printf("%s%d", t->sheet, batch_id);
		ok = sink_open(&s, fd, sheet, t, created, error) && write_rows(d, batch_id, t, &s, error) &&
		     (format != EXPORT_FORMAT_XLSX || write_control_sheet(d, batch_id, &s, error));
		ok = sink_close(&s, ok ? error : NULL) && ok;
	}
	if (own) {
		if (ok)
			ok = db_commit(d, error);
		else
			db_rollback(d);
	}
	if (to_stdout)
		return ok;
	if (ok)
		fault_point("export:written");
	ok = ok && (!with_sha256 || write_sha256(path, tmp_path, &sha_tmp_path, error));
	if (ok) {
		ok = outfile_commit(tmp_path, path, error);
		g_clear_pointer(&tmp_path, g_free); /* committed or removed */
	}
	if (ok && with_sha256) {
		ok = outfile_commit(sha_tmp_path, sha_target, error);
		g_clear_pointer(&sha_tmp_path, g_free);
	}
	if (tmp_path)
		outfile_discard(tmp_path);
	if (sha_tmp_path)
		outfile_discard(sha_tmp_path);
	return ok;
}

gboolean export_batch(db *d, int batch_id, const export_options *o, const char *path, GError **error)
{
	g_return_val_if_fail(o != NULL && path != NULL, FALSE);
	g_assert(o->format == EXPORT_FORMAT_CSV || o->encoding == EXPORT_ENCODING_UTF8);
	const table *t = o->detail ? &detail_table : &summary_table;
	return write_table(d, batch_id, t, o->format, o->encoding, path, TRUE, error);
}

gboolean export_disclosure(db *d, int batch_id, const char *path, GError **error)
{
	g_return_val_if_fail(path != NULL, FALSE);
	return write_table(d, batch_id, &disclosure_table, EXPORT_FORMAT_CSV, EXPORT_ENCODING_UTF8, path, FALSE,
			   error);
}
