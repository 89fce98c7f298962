/* report_html.c: the programme report as one self-contained HTML page (REPORT.md): headline
 * figures, three charts drawn here as inline SVG, the tables behind them, when and from which batch
 * it was made. No script, font, style sheet or image comes from anywhere: the page is this text.
 * Every string from the registry or the lines is escaped. It prints on A4, in at most six pages:
 * long tables are set side by side in parts, and capped (the rest is in the XLSX and the JSON).
 *
 * Chart geometry is integer arithmetic (an SVG coordinate is a whole unit of its viewBox), so no
 * floating point comes near the amounts it draws. */
#include "report.h"

#include "money.h"

#include <string.h>

/* At most this many villages get a bar; the table lists up to REPORT_TABLE_ROWS_MAX. */
#define CHART_VILLAGES_MAX 20
#define CHART_COURIERS_MAX 12
#define TABLE_ROWS_MAX 120
/* The burn-down table lists every point up to this many; beyond, the last point of each month. */
#define BURN_ROWS_MAX 36

/* ------------------------------------------------------------------------------------------ */
/* Text                                                                                        */

/* Appends text escaped for HTML content and attribute values: & < > " ' as references, other
 * control characters as spaces, invalid UTF-8 as U+FFFD. NULL appends nothing. */
static void esc(GString *out, const char *text)
{
	if (!text)
		return;
	g_autofree char *valid = g_utf8_make_valid(text, -1);
	for (const char *p = valid; *p; p++) {
		switch (*p) {
		case '&': g_string_append(out, "&amp;"); break;
		case '<': g_string_append(out, "&lt;"); break;
		case '>': g_string_append(out, "&gt;"); break;
		case '"': g_string_append(out, "&quot;"); break;
		case '\'': g_string_append(out, "&#39;"); break;
		default:
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				g_string_append_c(out, ' ');
			else
				g_string_append_c(out, *p);
		}
	}
}

/* Digits grouped in threes: 1234567 -> "1,234,567". */
static void group_digits(GString *out, const char *digits)
{
	size_t n = strlen(digits);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			g_string_append_c(out, ',');
		g_string_append_c(out, digits[i]);
	}
}

static void count_text(GString *out, int64_t n)
{
	char digits[32];
	g_snprintf(digits, sizeof digits, "%" G_GINT64_FORMAT, (gint64)(n < 0 ? -n : n));
	if (n < 0)
		g_string_append_c(out, '-');
	group_digits(out, digits);
}

/* Yuan with two decimals and grouped digits: 123456789 fen -> "1,234,567.89". */
static void yuan_text(GString *out, int64_t fen)
{
	char buf[MONEY_TEXT_MAX];
	money_format(fen, buf);
	const char *p = buf;
	if (*p == '-') {
		g_string_append_c(out, '-');
		p++;
	}
	const char *point = strchr(p, '.');
	g_autofree char *whole = point ? g_strndup(p, (gsize)(point - p)) : g_strdup(p);
	group_digits(out, whole);
	if (point)
		g_string_append(out, point);
}

/* part / whole in per cent with one decimal, rounded half up: "63.5%"; "—" when whole <= 0. */
static void percent_text(GString *out, int64_t part, int64_t whole)
{
	if (whole <= 0) {
		g_string_append(out, "—");
		return;
	}
	int64_t tenths = (part * 1000 + whole / 2) / whole;
	g_string_append_printf(out, "%" G_GINT64_FORMAT ".%d%%", (gint64)(tenths / 10), (int)(tenths % 10));
}

/* ------------------------------------------------------------------------------------------ */
/* Outcomes: names people read, and colours                                                    */

static const struct {
	const char *label, *colour;
} outcome_look[OUTCOME_COUNT] = {
	[OUTCOME_ELIGIBLE] = { "合格", "#2e7d32" },
	[OUTCOME_DUPLICATE] = { "重复", "#9e9e9e" },
	[OUTCOME_CONFLICT] = { "冲突", "#ef6c00" },
	[OUTCOME_REJECTED] = { "无效行", "#c62828" },
	[OUTCOME_UNREGISTERED_SHOP] = { "未备案店铺", "#6a1b9a" },
	[OUTCOME_AMBIGUOUS_SHOP] = { "店铺不唯一", "#ab47bc" },
	[OUTCOME_NOT_REGISTERED_ON_DATE] = { "当日未备案", "#3949ab" },
	[OUTCOME_OUTSIDE_POLICY_PERIOD] = { "政策期外", "#00838f" },
	[OUTCOME_NOT_IN_CAMPAIGN] = { "非促销期", "#f9a825" },
	[OUTCOME_INELIGIBLE_PRODUCT] = { "品类不符", "#6d4c41" },
};

/* ------------------------------------------------------------------------------------------ */
/* Charts                                                                                      */

#define SVG_W 720
#define BLUE "#1565c0"
#define RED "#c62828"
#define LIGHT "#90caf9"
#define GRID "#e0e0e0"

static int64_t scale(int64_t value, int64_t max, int64_t span)
{
	if (value <= 0 || max <= 0)
		return 0;
	if (value >= max)
		return span;
	return value * span / max;
}

/* A round axis maximum at or above max: 1, 2 or 5 times a power of ten. */
static int64_t nice_max(int64_t max)
{
	if (max <= 0)
		return 1;
	int64_t step = 1;
	while (step <= INT64_MAX / 10 && step * 10 < max)
		step *= 10;
	for (int64_t m = 1; m <= 10; m = m == 1 ? 2 : m == 2 ? 5 : 10)
		if (step <= INT64_MAX / m && step * m >= max)
			return step * m;
	return max;
}

static void svg_begin(GString *o, int height, const char *title)
{
	g_string_append_printf(o,
			       "<svg viewBox=\"0 0 %d %d\" role=\"img\""
			       " aria-label=\"",
			       SVG_W, height);
	esc(o, title);
	g_string_append(o, "\" font-size=\"12\">");
}

static void svg_text(GString *o, int x, int y, const char *anchor, const char *attrs, const char *text)
{
	g_string_append_printf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"%s\"%s%s>", x, y, anchor, attrs ? " " : "",
			       attrs ? attrs : "");
	esc(o, text);
	g_string_append(o, "</text>");
}

static void svg_yuan_label(GString *o, int x, int y, const char *anchor, int64_t fen)
{
	g_autoptr(GString) t = g_string_new(NULL);
	yuan_text(t, fen);
	svg_text(o, x, y, anchor, "fill=\"#555\"", t->str);
}

/* Money left against the pools' total, one point per day a batch was made. */
static void chart_burn_down(GString *o, const report *r)
{
	const int h = 270, x0 = 110, x1 = SVG_W - 20, y0 = 30, y1 = h - 40;
	svg_begin(o, h, "资金余额走势");
	const GArray *pts = r->burn_down;
	if (pts->len == 0) {
		svg_text(o, SVG_W / 2, h / 2, "middle", "fill=\"#777\"", "尚无结算批次");
		g_string_append(o, "</svg>");
		return;
	}
	int64_t max = 0;
	for (guint i = 0; i < pts->len; i++) {
		const report_point *p = &g_array_index(pts, report_point, i);
		max = MAX(max, MAX(p->total_fen, p->left_fen));
	}
	max = nice_max(max);
	for (int t = 0; t <= 4; t++) {
		int64_t v = max / 4 * t;
		int y = y1 - (int)scale(v, max, y1 - y0);
		g_string_append_printf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\"/>", x0, y, x1, y,
				       GRID);
		svg_yuan_label(o, x0 - 6, y + 4, "end", v);
	}
	int n = (int)pts->len;
	g_autoptr(GString) left = g_string_new(NULL), total = g_string_new(NULL);
	for (int i = 0; i < n; i++) {
		const report_point *p = &g_array_index(pts, report_point, i);
		int x = n == 1 ? (x0 + x1) / 2 : x0 + (int)((int64_t)(x1 - x0) * i / (n - 1));
		int yl = y1 - (int)scale(p->left_fen, max, y1 - y0);
		int yt = y1 - (int)scale(p->total_fen, max, y1 - y0);
		g_string_append_printf(left, "%s%d,%d", i ? " " : "", x, yl);
		/* The total changes only when a pool is loaded: a step. */
		if (i > 0) {
			const report_point *q = &g_array_index(pts, report_point, i - 1);
			g_string_append_printf(total, " %d,%d", x, y1 - (int)scale(q->total_fen, max, y1 - y0));
		}
		g_string_append_printf(total, "%s%d,%d", i ? " " : "", x, yt);
	}
	g_string_append_printf(o,
			       "<polyline points=\"%s\" fill=\"none\" stroke=\"#757575\" stroke-width=\"2\""
			       " stroke-dasharray=\"6 4\"/>",
			       total->str);
	g_string_append_printf(o, "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\"/>",
			       left->str, BLUE);
	if (n <= 60)
		for (int i = 0; i < n; i++) {
			const report_point *p = &g_array_index(pts, report_point, i);
			int x = n == 1 ? (x0 + x1) / 2 : x0 + (int)((int64_t)(x1 - x0) * i / (n - 1));
			g_string_append_printf(o, "<circle cx=\"%d\" cy=\"%d\" r=\"3\" fill=\"%s\"/>", x,
					       y1 - (int)scale(p->left_fen, max, y1 - y0), BLUE);
		}
	g_string_append_printf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>", x0, y1, x1, y1);
	/* Dates: the first, the last, and up to three between. */
	int marks = MIN(n, 5);
	for (int k = 0; k < marks; k++) {
		int i = marks == 1 ? 0 : (n - 1) * k / (marks - 1);
		const report_point *p = &g_array_index(pts, report_point, i);
		int x = n == 1 ? (x0 + x1) / 2 : x0 + (int)((int64_t)(x1 - x0) * i / (n - 1));
		svg_text(o, x, y1 + 18, n == 1 ? "middle" : k == 0 ? "start" : k == marks - 1 ? "end" : "middle",
			 "fill=\"#555\"", p->date);
	}
	g_string_append_printf(o, "<line x1=\"%d\" y1=\"12\" x2=\"%d\" y2=\"12\" stroke=\"%s\" stroke-width=\"2.5\"/>",
			       x0, x0 + 24, BLUE);
	svg_text(o, x0 + 30, 16, "start", NULL, "资金余额（元）");
	g_string_append_printf(o,
			       "<line x1=\"%d\" y1=\"12\" x2=\"%d\" y2=\"12\" stroke=\"#757575\" stroke-width=\"2\""
			       " stroke-dasharray=\"6 4\"/>",
			       x0 + 170, x0 + 194);
	svg_text(o, x0 + 200, 16, "start", NULL, "资金池总额（元）");
	g_string_append(o, "</svg>");
}

static int compare_village_money(gconstpointer a, gconstpointer b)
{
	const report_village *x = *(const report_village *const *)a, *y = *(const report_village *const *)b;
	if (x->posted_fen != y->posted_fen)
		return x->posted_fen > y->posted_fen ? -1 : 1;
	return strcmp(x->village, y->village);
}

/* Money by village as bars, the poverty households' part of each bar marked. The villages with the
 * most money, at most CHART_VILLAGES_MAX. */
static void chart_villages(GString *o, const report *r)
{
	g_autoptr(GPtrArray) v = g_ptr_array_new();
	for (guint i = 0; i < r->by_village->len; i++)
		g_ptr_array_add(v, &g_array_index(r->by_village, report_village, i));
	g_ptr_array_sort(v, compare_village_money);
	int n = MIN((int)v->len, CHART_VILLAGES_MAX);
	const int row = 22, top = 34, x0 = 130, x1 = SVG_W - 150;
	int h = top + MAX(n, 1) * row + 10;
	svg_begin(o, h, "各村补贴金额");
	g_string_append_printf(o, "<rect x=\"%d\" y=\"4\" width=\"14\" height=\"12\" fill=\"%s\"/>", x0, RED);
	svg_text(o, x0 + 20, 15, "start", NULL, "贫困户店铺（扶贫标准）");
	g_string_append_printf(o, "<rect x=\"%d\" y=\"4\" width=\"14\" height=\"12\" fill=\"%s\"/>", x0 + 190, LIGHT);
	svg_text(o, x0 + 210, 15, "start", NULL, "其他店铺");
	if (n == 0) {
		svg_text(o, SVG_W / 2, top + 14, "middle", "fill=\"#777\"", "范围内没有订单");
		g_string_append(o, "</svg>");
		return;
	}
	int64_t max = 0;
	for (int i = 0; i < n; i++)
		max = MAX(max, ((const report_village *)v->pdata[i])->posted_fen);
	for (int i = 0; i < n; i++) {
		const report_village *x = v->pdata[i];
		int y = top + i * row;
		int w = (int)scale(x->posted_fen, max, x1 - x0);
		int pw = (int)scale(MIN(x->poverty_posted_fen, x->posted_fen), max, x1 - x0);
		svg_text(o, x0 - 8, y + 14, "end", NULL, x->village);
		g_string_append_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"16\" fill=\"%s\"/>", x0, y + 2, w,
				       LIGHT);
		if (pw > 0)
			g_string_append_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"16\" fill=\"%s\"/>", x0,
					       y + 2, pw, RED);
		g_autoptr(GString) t = g_string_new(NULL);
		yuan_text(t, x->posted_fen);
		if (x->poverty_posted_fen > 0) {
			g_string_append(t, "（扶贫 ");
			percent_text(t, x->poverty_posted_fen, x->posted_fen);
			g_string_append(t, "）");
		}
		svg_text(o, x0 + w + 6, y + 14, "start", "fill=\"#333\"", t->str);
	}
	g_string_append_printf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>", x0, top, x0,
			       top + n * row);
	g_string_append(o, "</svg>");
}

/* Lines by courier, stacked by outcome. */
static void chart_couriers(GString *o, const report *r)
{
	int n = 0;
	int64_t max = 0;
	gboolean present[OUTCOME_COUNT] = { FALSE };
	for (guint i = 0; i < r->by_courier->len && n < CHART_COURIERS_MAX; i++) {
		const report_courier *c = &g_array_index(r->by_courier, report_courier, i);
		if (c->lines == 0)
			continue;
		n++;
		max = MAX(max, c->lines);
		for (int k = 0; k < OUTCOME_COUNT; k++)
			present[k] = present[k] || c->outcomes[k] > 0;
	}
	int legend_rows = 0, in_row = 0;
	for (int k = 0; k < OUTCOME_COUNT; k++)
		if (present[k])
			in_row++;
	legend_rows = in_row == 0 ? 1 : (in_row + 4) / 5;
	const int row = 24, x0 = 110, x1 = SVG_W - 80;
	int top = 10 + legend_rows * 18 + 6;
	int h = top + MAX(n, 1) * row + 10;
	svg_begin(o, h, "各快递公司运单处理结果");
	int k_shown = 0;
	for (int k = 0; k < OUTCOME_COUNT; k++) {
		if (!present[k])
			continue;
		int lx = x0 + (k_shown % 5) * 116, ly = 4 + (k_shown / 5) * 18;
		g_string_append_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"12\" fill=\"%s\"/>", lx, ly,
				       outcome_look[k].colour);
		svg_text(o, lx + 18, ly + 11, "start", NULL, outcome_look[k].label);
		k_shown++;
	}
	if (n == 0) {
		svg_text(o, SVG_W / 2, top + 14, "middle", "fill=\"#777\"", "范围内没有运单");
		g_string_append(o, "</svg>");
		return;
	}
	int i_shown = 0;
	for (guint i = 0; i < r->by_courier->len && i_shown < n; i++) {
		const report_courier *c = &g_array_index(r->by_courier, report_courier, i);
		if (c->lines == 0)
			continue;
		int y = top + i_shown * row;
		svg_text(o, x0 - 8, y + 15, "end", NULL, c->courier ? c->courier : "（无法识别）");
		/* Cumulative counts, so the segments meet whatever the rounding. */
		int64_t before = 0;
		for (int k = 0; k < OUTCOME_COUNT; k++) {
			if (c->outcomes[k] == 0)
				continue;
			int xa = x0 + (int)scale(before, max, x1 - x0);
			before += c->outcomes[k];
			int xb = x0 + (int)scale(before, max, x1 - x0);
			g_string_append_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"18\" fill=\"%s\"/>", xa,
					       y + 2, MAX(xb - xa, 1), outcome_look[k].colour);
		}
		g_autoptr(GString) t = g_string_new(NULL);
		count_text(t, c->lines);
		svg_text(o, x0 + (int)scale(c->lines, max, x1 - x0) + 6, y + 15, "start", "fill=\"#333\"", t->str);
		i_shown++;
	}
	g_string_append(o, "</svg>");
}

/* ------------------------------------------------------------------------------------------ */
/* Tables                                                                                      */

typedef enum { CELL_TEXT, CELL_COUNT, CELL_YUAN, CELL_RAW } cell_kind;

typedef struct {
	GString *html; /* the rows, each "<tr>...</tr>" */
	GPtrArray *rows;
	const char *const *head;
	const gboolean *numeric;
	int cols;
} table;

static void table_init(table *t, const char *const *head, const gboolean *numeric, int cols)
{
	t->rows = g_ptr_array_new_with_free_func(g_free);
	t->head = head;
	t->numeric = numeric;
	t->cols = cols;
	t->html = g_string_new(NULL);
}

/* Cells of the row being built: append with cell_*, then table_row_end. */
static void cell_begin(table *t, int col)
{
	g_string_append(t->html, t->numeric[col] ? "<td class=\"n\">" : "<td>");
}

static void cell_text(table *t, int col, const char *text)
{
	cell_begin(t, col);
	esc(t->html, text);
	g_string_append(t->html, "</td>");
}

static void cell_count(table *t, int col, int64_t n)
{
	cell_begin(t, col);
	count_text(t->html, n);
	g_string_append(t->html, "</td>");
}

static void cell_yuan(table *t, int col, int64_t fen)
{
	cell_begin(t, col);
	yuan_text(t->html, fen);
	g_string_append(t->html, "</td>");
}

static void cell_percent(table *t, int col, int64_t part, int64_t whole)
{
	cell_begin(t, col);
	percent_text(t->html, part, whole);
	g_string_append(t->html, "</td>");
}

static void table_row_end(table *t)
{
	g_ptr_array_add(t->rows, g_strdup_printf("<tr>%s</tr>", t->html->str));
	g_string_truncate(t->html, 0);
}

static void table_head(GString *o, const table *t)
{
	g_string_append(o, "<table><thead><tr>");
	for (int c = 0; c < t->cols; c++) {
		g_string_append(o, t->numeric[c] ? "<th class=\"n\">" : "<th>");
		esc(o, t->head[c]);
		g_string_append(o, "</th>");
	}
	g_string_append(o, "</tr></thead><tbody>");
}

/* Writes the table in parts side by side (parts chosen by the number of rows), at most max rows
 * (then a note says how many more are in the XLSX), and frees it. */
static void table_end(GString *o, table *t, int parts_max, guint max, const char *what)
{
	guint n = MIN(t->rows->len, max);
	int parts = 1;
	while (parts < parts_max && n > (guint)parts * 24)
		parts++;
	guint per = parts > 0 ? (n + (guint)parts - 1) / (guint)parts : n;
	g_string_append_printf(o, "<div class=\"parts p%d\">", parts);
	for (int p = 0; p < parts; p++) {
		table_head(o, t);
		for (guint i = (guint)p * per; i < n && i < (guint)(p + 1) * per; i++)
			g_string_append(o, t->rows->pdata[i]);
		g_string_append(o, "</tbody></table>");
	}
	g_string_append(o, "</div>");
	if (t->rows->len == 0)
		g_string_append(o, "<p class=\"note\">（无）</p>");
	if (t->rows->len > n)
		g_string_append_printf(o, "<p class=\"note\">另有 %u %s未列出，见 XLSX 或 JSON。</p>", t->rows->len - n,
				       what);
	g_ptr_array_unref(t->rows);
	g_string_free(t->html, TRUE);
}

/* ------------------------------------------------------------------------------------------ */
/* The page                                                                                    */

static const char style[] =
	"@page { size: A4; margin: 12mm 12mm 14mm 12mm; }\n"
	"* { box-sizing: border-box; }\n"
	"html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }\n"
	"body { font-family: \"WenQuanYi Micro Hei\", \"Noto Sans CJK SC\", \"Source Han Sans SC\", \"PingFang SC\","
	" \"Microsoft YaHei\", \"SimHei\", sans-serif; font-size: 9.5pt; color: #212121; background: #fff;"
	" margin: 0 auto; max-width: 186mm; padding: 4mm 0; line-height: 1.35; }\n"
	"h1 { font-size: 17pt; margin: 0 0 1mm; color: #0d47a1; }\n"
	"h2 { font-size: 12pt; margin: 5mm 0 2mm; padding-bottom: 1mm; border-bottom: 2px solid #0d47a1;"
	" color: #0d47a1; break-after: avoid; }\n"
	".meta { color: #555; font-size: 8.5pt; margin: 0 0 3mm; }\n"
	".meta code { font-size: 7.5pt; word-break: break-all; }\n"
	".cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 2.5mm; }\n"
	".card { border: 1px solid #cfd8dc; border-radius: 2mm; padding: 2mm 3mm; background: #f5f9ff;"
	" break-inside: avoid; }\n"
	".card .k { color: #546e7a; font-size: 8pt; }\n"
	".card .v { font-size: 14pt; font-weight: bold; color: #0d47a1; white-space: nowrap; }\n"
	".card .s { color: #546e7a; font-size: 7.5pt; }\n"
	"svg { width: 100%; height: auto; display: block; margin: 1mm 0 2mm; break-inside: avoid; }\n"
	".parts { display: grid; gap: 4mm; align-items: start; }\n"
	".parts.p1 { grid-template-columns: 1fr; } .parts.p2 { grid-template-columns: 1fr 1fr; }\n"
	".parts.p3 { grid-template-columns: 1fr 1fr 1fr; }\n"
	"table { border-collapse: collapse; width: 100%; font-size: 8pt; }\n"
	"th, td { border-bottom: 1px solid #e0e0e0; padding: 0.6mm 1.5mm; text-align: left; }\n"
	"th { background: #e3f2fd; font-weight: bold; }\n"
	".n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }\n"
	"tr { break-inside: avoid; }\n"
	".note { color: #666; font-size: 8pt; margin: 1mm 0; }\n"
	".swatch { display: inline-block; width: 3mm; height: 3mm; margin-right: 1mm; vertical-align: -0.3mm; }\n"
	".keep { break-inside: avoid; }\n";

static void card(GString *o, const char *key, const char *value, const char *sub)
{
	g_string_append(o, "<div class=\"card\"><div class=\"k\">");
	esc(o, key);
	g_string_append(o, "</div><div class=\"v\">");
	esc(o, value);
	g_string_append(o, "</div><div class=\"s\">");
	esc(o, sub);
	g_string_append(o, "</div></div>");
}

static void headline(GString *o, const report *r)
{
	g_autoptr(GString) v = g_string_new(NULL), s = g_string_new(NULL);
	g_string_append(o, "<div class=\"cards\">");
#define CARD(k)                                                                                                   \
	do {                                                                                                      \
		card(o, k, v->str, s->str);                                                                       \
		g_string_truncate(v, 0);                                                                          \
		g_string_truncate(s, 0);                                                                          \
	} while (0)
	yuan_text(v, r->posted_fen);
	g_string_append(s, "元，已拨付补贴（净额）");
	CARD("补贴金额");
	yuan_text(v, r->paid_fen);
	g_string_append(s, "元，国库支付成功");
	CARD("已支付");
	count_text(v, r->orders);
	g_string_append(s, "笔订单，获补店铺 ");
	count_text(s, r->shops_paid);
	g_string_append(s, " 家");
	CARD("订单");
	yuan_text(v, r->unfunded_fen);
	g_string_append(s, "元，资金不足待拨付");
	CARD("待拨付");
	count_text(v, r->poverty.villages_reached);
	g_string_append(v, " / ");
	count_text(v, r->poverty.villages_total);
	g_string_append(s, "个贫困村有扶贫订单获补");
	CARD("贫困村覆盖");
	count_text(v, r->poverty.households_paid);
	g_string_append(s, "户贫困户开办的店铺获补");
	CARD("贫困户受益");
	yuan_text(v, r->poverty.posted_fen);
	g_string_append(s, "元，");
	count_text(s, r->poverty.orders);
	g_string_append(s, " 笔扶贫订单（占 ");
	percent_text(s, r->poverty.posted_fen, r->posted_fen);
	g_string_append(s, "）");
	CARD("扶贫补贴");
	yuan_text(v, r->pools_left_fen);
	g_string_append(s, "元，资金池总额 ");
	yuan_text(s, r->pools_amount_fen);
	g_string_append(s, " 元（已用 ");
	percent_text(s, r->pools_amount_fen - r->pools_left_fen, r->pools_amount_fen);
	g_string_append(s, "）");
	CARD("资金余额（当前）");
#undef CARD
	g_string_append(o, "</div>");
}

static void burn_table(GString *o, const report *r)
{
	static const char *const head[] = { "日期", "余额（元）", "资金池总额（元）" };
	static const gboolean numeric[] = { FALSE, TRUE, TRUE };
	table t;
	table_init(&t, head, numeric, 3);
	const GArray *pts = r->burn_down;
	gboolean monthly = pts->len > BURN_ROWS_MAX;
	for (guint i = 0; i < pts->len; i++) {
		const report_point *p = &g_array_index(pts, report_point, i);
		/* Monthly: a point is listed when the next one is in another month (or there is none). */
		if (monthly && i + 1 < pts->len &&
		    strncmp(p->date, g_array_index(pts, report_point, i + 1).date, 7) == 0)
			continue;
		cell_text(&t, 0, p->date);
		cell_yuan(&t, 1, p->left_fen);
		cell_yuan(&t, 2, p->total_fen);
		table_row_end(&t);
	}
	if (monthly)
		g_string_append_printf(o, "<p class=\"note\">共 %u 个结算日，下表列出每月最后一个结算日；逐日数据见"
					  " XLSX 或 JSON。</p>",
				       pts->len);
	table_end(o, &t, 3, TABLE_ROWS_MAX, "个结算日");
}

static void village_table(GString *o, const report *r)
{
	static const char *const head[] = { "村", "订单", "补贴（元）", "扶贫（元）", "扶贫占比" };
	static const gboolean numeric[] = { FALSE, TRUE, TRUE, TRUE, TRUE };
	table t;
	table_init(&t, head, numeric, 5);
	for (guint i = 0; i < r->by_village->len; i++) {
		const report_village *v = &g_array_index(r->by_village, report_village, i);
		cell_text(&t, 0, v->village);
		cell_count(&t, 1, v->orders);
		cell_yuan(&t, 2, v->posted_fen);
		cell_yuan(&t, 3, v->poverty_posted_fen);
		cell_percent(&t, 4, v->poverty_posted_fen, v->posted_fen);
		table_row_end(&t);
	}
	table_end(o, &t, 2, TABLE_ROWS_MAX, "个村");
}

static void courier_table(GString *o, const report *r)
{
	static const char *const head[] = { "快递公司", "运单行", "合格", "合格率", "补贴（元）" };
	static const gboolean numeric[] = { FALSE, TRUE, TRUE, TRUE, TRUE };
	table t;
	table_init(&t, head, numeric, 5);
	for (guint i = 0; i < r->by_courier->len; i++) {
		const report_courier *c = &g_array_index(r->by_courier, report_courier, i);
		cell_text(&t, 0, c->courier ? c->courier : "（无法识别）");
		cell_count(&t, 1, c->lines);
		cell_count(&t, 2, c->eligible);
		cell_percent(&t, 3, c->eligible, c->lines);
		cell_yuan(&t, 4, c->posted_fen);
		table_row_end(&t);
	}
	table_end(o, &t, 2, 60, "家快递公司");
}

static void outcome_table(GString *o, const report *r)
{
	static const char *const head[] = { "处理结果", "代码", "运单行" };
	static const gboolean numeric[] = { FALSE, FALSE, TRUE };
	table t;
	table_init(&t, head, numeric, 3);
	for (int k = 0; k < OUTCOME_COUNT; k++) {
		cell_begin(&t, 0);
		g_string_append_printf(t.html, "<span class=\"swatch\" style=\"background:%s\"></span>",
				       outcome_look[k].colour);
		esc(t.html, outcome_look[k].label);
		g_string_append(t.html, "</td>");
		cell_text(&t, 1, policy_outcome_name(k));
		cell_count(&t, 2, r->outcomes[k]);
		table_row_end(&t);
	}
	table_end(o, &t, 2, OUTCOME_COUNT, "");
}

static void campaign_table(GString *o, const report *r)
{
	static const char *const head[] = { "促销活动", "编号", "订单", "补贴（元）" };
	static const gboolean numeric[] = { FALSE, FALSE, TRUE, TRUE };
	table t;
	table_init(&t, head, numeric, 4);
	for (guint i = 0; i < r->by_campaign->len; i++) {
		const report_campaign *c = &g_array_index(r->by_campaign, report_campaign, i);
		cell_text(&t, 0, c->campaign_id ? (c->name ? c->name : "") : "（不在促销期）");
		cell_text(&t, 1, c->campaign_id ? c->campaign_id : "—");
		cell_count(&t, 2, c->orders);
		cell_yuan(&t, 3, c->posted_fen);
		table_row_end(&t);
	}
	table_end(o, &t, 2, 60, "个促销活动");
}

static void pool_table(GString *o, const report *r)
{
	static const char *const head[] = { "资金池", "名称", "总额（元）", "本期支用（元）", "余额（元）" };
	static const gboolean numeric[] = { FALSE, FALSE, TRUE, TRUE, TRUE };
	table t;
	table_init(&t, head, numeric, 5);
	for (guint i = 0; i < r->pools->len; i++) {
		const report_pool *p = &g_array_index(r->pools, report_pool, i);
		cell_text(&t, 0, p->pool_id);
		cell_text(&t, 1, p->name);
		cell_yuan(&t, 2, p->amount_fen);
		cell_yuan(&t, 3, p->drawn_fen);
		cell_yuan(&t, 4, p->left_fen);
		table_row_end(&t);
	}
	table_end(o, &t, 1, 40, "个资金池");
}

char *report_html(const report *r)
{
	GString *o = g_string_new(NULL);
	g_string_append(o, "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\n"
			   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
			   "<title>农村电商物流补贴绩效报告 ");
	esc(o, r->programme);
	g_string_append(o, "</title>\n<style>\n");
	g_string_append(o, style);
	g_string_append(o, "</style></head>\n<body>\n<h1>农村电商物流补贴 · 绩效报告</h1>\n<p class=\"meta\">项目 ");
	esc(o, r->programme);
	g_string_append(o, " · ");
	if (!r->has_from && !r->has_to)
		g_string_append(o, "范围：全部订单（项目开始至今）");
	else {
		g_string_append(o, "范围：订单日期 ");
		esc(o, r->has_from ? r->from : "项目开始");
		g_string_append(o, " 至 ");
		esc(o, r->has_to ? r->to : "今");
	}
	g_string_append(o, "<br>制表时间 ");
	esc(o, r->made_at);
	g_string_append(o, "（北京时间）· ");
	if (r->last_batch > 0) {
		g_string_append_printf(o, "截至结算批次 第 %d 批（", r->last_batch);
		esc(o, r->last_batch_at);
		g_string_append(o, "）<br>批次摘要 <code>");
		esc(o, r->last_digest);
		g_string_append(o, "</code>");
	} else
		g_string_append(o, "尚无结算批次");
	g_string_append(o, "</p>\n");

	headline(o, r);

	g_string_append(o, "\n<h2>资金余额走势</h2>\n<p class=\"note\">每个结算日最后一批之后，当时已下达资金池的"
			   "余额合计（蓝线），与资金池总额（虚线）。</p>\n");
	chart_burn_down(o, r);
	burn_table(o, r);

	g_string_append(o, "\n<h2>各村补贴金额</h2>\n<p class=\"note\">按店铺所在村（登记信息以当前为准）；红色为按扶贫"
			   "标准补贴的订单金额。</p>\n");
	chart_villages(o, r);
	village_table(o, r);

	g_string_append(o, "\n<h2>各快递公司运单处理结果</h2>\n<p class=\"note\">揽收日期在范围内的运单行，按处理结果"
			   "分段；补贴金额按每笔订单的计补运单（最早揽收）所属快递公司计。</p>\n");
	chart_couriers(o, r);
	courier_table(o, r);
	g_string_append(o, "<div class=\"keep\"><h2>处理结果</h2>\n");
	outcome_table(o, r);
	g_string_append(o, "</div>\n<div class=\"keep\"><h2>各促销活动</h2>\n");
	campaign_table(o, r);
	g_string_append(o, "</div>\n<div class=\"keep\"><h2>资金池</h2>\n<p class=\"note\">总额、余额为当前数；本期支用为"
			   "范围内订单从该池的净支用。</p>\n");
	pool_table(o, r);
	g_string_append(o, "</div>\n</body></html>\n");
	return g_string_free(o, FALSE);
}
