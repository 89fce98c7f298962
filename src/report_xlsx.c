/* report_xlsx.c: the programme report as an XLSX workbook for the province's forms: one sheet per
 * table, numbers as numbers (money in yuan, formatted 0.00; counts as whole numbers), every row. */
#include "report.h"

#include "outfile.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

typedef struct {
	lxw_workbook *wb;
	lxw_worksheet *ws;
	lxw_format *money, *bold;
	lxw_row_t row;
	int sheets;    /* added so far */
	lxw_error err; /* the first error */
} book;

/* The summary and one sheet per table: villages, campaigns, couriers, pools, burn-down, outcomes. */
#define BOOK_SHEETS 7

static void keep(book *b, lxw_error err)
{
	if (b->err == LXW_NO_ERROR)
		b->err = err;
}

/* The one place fen becomes a floating-point number (POLICY.md "Money"): a cell's value, formatted
 * 0.00, at the very last step. */
static void put_yuan(book *b, lxw_col_t col, int64_t fen)
{
	keep(b, worksheet_write_number(b->ws, b->row, col, (double)fen / 100.0, b->money));
}

static void put_count(book *b, lxw_col_t col, int64_t n)
{
	keep(b, worksheet_write_number(b->ws, b->row, col, (double)n, NULL));
}

static void put_text(book *b, lxw_col_t col, const char *text)
{
	if (text)
		keep(b, worksheet_write_string(b->ws, b->row, col, text, NULL));
}

static void sheet(book *b, const char *name, const char *const *head, size_t cols)
{
	g_assert(cols >= 1 && b->sheets < BOOK_SHEETS);
	b->ws = workbook_add_worksheet(b->wb, name);
	g_assert(b->ws != NULL);
	b->sheets++;
	b->row = 0;
	for (size_t c = 0; c < cols; c++) {
		keep(b, worksheet_write_string(b->ws, 0, (lxw_col_t)c, head[c], b->bold));
		keep(b, worksheet_set_column(b->ws, (lxw_col_t)c, (lxw_col_t)c, c == 0 ? 22 : 16, NULL));
	}
	worksheet_freeze_panes(b->ws, 1, 0);
	b->row = 1;
}

static void summary(book *b, const report *r)
{
	static const char *const head[] = { "项目", "数值", "单位", "键" };
	sheet(b, "概要", head, G_N_ELEMENTS(head));
	const struct {
		const char *label, *key;
		int64_t value;
		gboolean money;
	} rows[] = {
		{ "订单", "orders", r->orders, FALSE },
		{ "获补店铺", "shops_paid", r->shops_paid, FALSE },
		{ "补贴金额（净额）", "posted_fen", r->posted_fen, TRUE },
		{ "国库支付成功", "paid_fen", r->paid_fen, TRUE },
		{ "资金不足待拨付", "unfunded_fen", r->unfunded_fen, TRUE },
		{ "贫困村总数", "poverty.villages_total", r->poverty.villages_total, FALSE },
		{ "有扶贫订单获补的贫困村", "poverty.villages_reached", r->poverty.villages_reached, FALSE },
		{ "获补贫困户", "poverty.households_paid", r->poverty.households_paid, FALSE },
		{ "扶贫订单", "poverty.orders", r->poverty.orders, FALSE },
		{ "扶贫补贴金额", "poverty.posted_fen", r->poverty.posted_fen, TRUE },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++, b->row++) {
		put_text(b, 0, rows[i].label);
		if (rows[i].money)
			put_yuan(b, 1, rows[i].value);
		else
			put_count(b, 1, rows[i].value);
		put_text(b, 2, rows[i].money ? "元" : "个");
		put_text(b, 3, rows[i].key);
	}
	b->row++;
	put_text(b, 0, "订单日期自");
	put_text(b, 1, r->has_from ? r->from : "（项目开始）");
	b->row++;
	put_text(b, 0, "订单日期至");
	put_text(b, 1, r->has_to ? r->to : "（至今）");
	b->row++;
	put_text(b, 0, "制表时间（北京时间）");
	put_text(b, 1, r->made_at);
	b->row++;
	put_text(b, 0, "截至结算批次");
	if (r->last_batch > 0) {
		put_count(b, 1, r->last_batch);
		b->row++;
		put_text(b, 0, "批次摘要");
		put_text(b, 1, r->last_digest);
	} else
		put_text(b, 1, "尚无");
	b->row++;
}

/* Each sheet below: its head, then one row per item of its table, in the report's order. */

static void villages(book *b, const report *r)
{
	static const char *const head[] = { "村", "订单", "补贴（元）", "扶贫补贴（元）" };
	sheet(b, "各村", head, G_N_ELEMENTS(head));
	for (guint i = 0; i < r->by_village->len; i++, b->row++) {
		const report_village *v = &g_array_index(r->by_village, report_village, i);
		g_assert(v->orders > 0); /* a village is listed for its orders */
		put_text(b, 0, v->village);
		put_count(b, 1, v->orders);
		put_yuan(b, 2, v->posted_fen);
		put_yuan(b, 3, v->poverty_posted_fen);
	}
	g_assert(b->row == 1 + r->by_village->len);
}

static void campaigns(book *b, const report *r)
{
	static const char *const head[] = { "活动编号", "活动名称", "订单", "补贴（元）" };
	sheet(b, "促销活动", head, G_N_ELEMENTS(head));
	for (guint i = 0; i < r->by_campaign->len; i++, b->row++) {
		const report_campaign *c = &g_array_index(r->by_campaign, report_campaign, i);
		g_assert(c->orders > 0); /* a campaign is listed for its orders */
		g_assert(c->campaign_id || !c->name); /* no window, no name */
		put_text(b, 0, c->campaign_id);
		put_text(b, 1, c->campaign_id ? c->name : "（不在促销期）");
		put_count(b, 2, c->orders);
		put_yuan(b, 3, c->posted_fen);
	}
	g_assert(b->row == 1 + r->by_campaign->len);
}

static void couriers(book *b, const report *r)
{
	const char *head[3 + OUTCOME_COUNT + 1] = { "快递公司", "运单行", "合格" };
	for (int k = 0; k < OUTCOME_COUNT; k++)
		head[3 + k] = policy_outcome_name(k);
	head[3 + OUTCOME_COUNT] = "补贴（元）";
	sheet(b, "快递公司", head, G_N_ELEMENTS(head));
	for (guint i = 0; i < r->by_courier->len; i++, b->row++) {
		const report_courier *c = &g_array_index(r->by_courier, report_courier, i);
		g_assert(c->eligible == c->outcomes[OUTCOME_ELIGIBLE] && c->eligible <= c->lines);
		put_text(b, 0, c->courier);
		put_count(b, 1, c->lines);
		put_count(b, 2, c->eligible);
		for (int k = 0; k < OUTCOME_COUNT; k++)
			put_count(b, (lxw_col_t)(3 + k), c->outcomes[k]);
		put_yuan(b, 3 + OUTCOME_COUNT, c->posted_fen);
	}
	g_assert(b->row == 1 + r->by_courier->len);
}

static void pools(book *b, const report *r)
{
	static const char *const head[] = { "资金池", "名称", "总额（元）", "范围内支用（元）", "余额（元）" };
	sheet(b, "资金池", head, G_N_ELEMENTS(head));
	for (guint i = 0; i < r->pools->len; i++, b->row++) {
		const report_pool *p = &g_array_index(r->pools, report_pool, i);
		g_assert(p->left_fen >= 0 && p->left_fen <= p->amount_fen); /* pool_never_below_zero */
		put_text(b, 0, p->pool_id);
		put_text(b, 1, p->name);
		put_yuan(b, 2, p->amount_fen);
		put_yuan(b, 3, p->drawn_fen);
		put_yuan(b, 4, p->left_fen);
	}
	g_assert(b->row == 1 + r->pools->len);
}

static void burn_down(book *b, const report *r)
{
	static const char *const head[] = { "日期", "余额（元）", "资金池总额（元）" };
	sheet(b, "余额走势", head, G_N_ELEMENTS(head));
	for (guint i = 0; i < r->burn_down->len; i++, b->row++) {
		const report_point *p = &g_array_index(r->burn_down, report_point, i);
		g_assert(i == 0 || strcmp(p[-1].date, p->date) < 0); /* the days move forward */
		put_text(b, 0, p->date);
		put_yuan(b, 1, p->left_fen);
		put_yuan(b, 2, p->total_fen);
	}
	g_assert(b->row == 1 + r->burn_down->len);
}

static void outcomes(book *b, const report *r)
{
	static const char *const head[] = { "处理结果", "运单行" };
	sheet(b, "处理结果", head, G_N_ELEMENTS(head));
	for (int k = 0; k < OUTCOME_COUNT; k++, b->row++) {
		g_assert(r->outcomes[k] >= 0);
		put_text(b, 0, policy_outcome_name(k));
		put_count(b, 1, r->outcomes[k]);
	}
	g_assert(b->row == 1 + OUTCOME_COUNT);
}

/* The workbook at path: the summary, then one sheet per table of the report. */
static gboolean write_book(const report *r, const char *path, GError **error)
{
	g_assert(r && path);
	lxw_workbook_options wo = { .constant_memory = LXW_FALSE };
	book b = { 0 };
	b.wb = workbook_new_opt(path, &wo);
	if (!b.wb) {
		g_set_error(error, REPORT_ERROR, STATUS_SOFTWARE, "cannot write '%s': cannot start a workbook", path);
		return FALSE;
	}
	b.money = workbook_add_format(b.wb);
	format_set_num_format(b.money, "0.00");
	b.bold = workbook_add_format(b.wb);
	format_set_bold(b.bold);
	summary(&b, r);
	villages(&b, r);
	campaigns(&b, r);
	couriers(&b, r);
	pools(&b, r);
	burn_down(&b, r);
	outcomes(&b, r);
	g_assert(b.sheets == BOOK_SHEETS);
	lxw_error closed = workbook_close(b.wb);
	keep(&b, closed);
	if (b.err != LXW_NO_ERROR) {
		g_set_error(error, REPORT_ERROR, STATUS_SOFTWARE, "cannot write '%s': %s", path, lxw_strerror(b.err));
		return FALSE;
	}
	return TRUE;
}

gboolean report_write_xlsx(const report *r, const char *path, GError **error)
{
	g_assert(r != NULL);
	g_assert(path != NULL);
	g_autofree char *tmp = NULL;
	int fd = outfile_begin(path, O_WRONLY, &tmp, error);
	if (fd < 0)
		return FALSE;
	/* libxlsxwriter writes the file by name; the descriptor only reserved it. */
	close(fd);
	if (!write_book(r, tmp, error)) {
		outfile_discard(tmp);
		return FALSE;
	}
	return outfile_commit(tmp, path, error);
}
