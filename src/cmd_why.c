/* cmd_why.c: `subsidy why WAYBILL [--json]`: every line that carried the waybill (any courier, any
 * file), its outcome and reason, the order it belongs to and every posting of that order (why.h
 * reads them). Reads only: it answers "where did this parcel's money go?". WAYBILL is taken in its
 * normal form (ident.h), as lines store it, so `yt620`, `ＹＴ６２０` and `YT620` find the same parcel. */
#include "cli.h"
#include "ident.h"
#include "json.h"
#include "money.h"
#include "why.h"

#include <stdio.h>

/* A rate in basis points as a person reads it: 5000 -> "50%", 1250 -> "12.5%", 1234 -> "12.34%". */
#define WHY_RATE_TEXT_MAX 32
static const char *rate_text(int bp, char out[WHY_RATE_TEXT_MAX])
{
	g_assert(out != NULL);
	gint64 whole = bp / 100, part = bp % 100;
	int n;
	if (part == 0)
		n = g_snprintf(out, WHY_RATE_TEXT_MAX, "%" G_GINT64_FORMAT "%%", whole);
	else if (part % 10 == 0)
		n = g_snprintf(out, WHY_RATE_TEXT_MAX, "%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT "%%", whole, part / 10);
	else
		n = g_snprintf(out, WHY_RATE_TEXT_MAX, "%" G_GINT64_FORMAT ".%02" G_GINT64_FORMAT "%%", whole, part);
	g_assert(n > 1 && n < WHY_RATE_TEXT_MAX); /* digits and '%', whole */
	return out;
}

static void print_json_line(json_writer *w, const why_line *l)
{
	g_assert(l->file != NULL && l->outcome != NULL);
	g_assert(l->line_no >= 0);
	json_object_begin(w);
	json_key(w, "file");
	json_string(w, l->file);
	json_key(w, "line");
	json_int(w, l->line_no);
	json_key(w, "courier");
	json_string(w, l->courier);
	json_key(w, "outcome");
	json_string(w, l->outcome);
	json_key(w, "reason");
	json_string(w, *l->reason ? l->reason : NULL);
	if (*l->act) { /* CONTROL.md: the act that touched the line */
		json_key(w, "act");
		json_string(w, l->act);
	}
	json_object_end(w);
}

static void print_json(const why_report *r)
{
	g_assert(r->lines != NULL);
	g_assert(r->has_order || r->order.shop_id == NULL);
	json_writer w;
	json_init(&w);
	json_object_begin(&w);
	json_key(&w, "lines");
	json_array_begin(&w);
	for (guint i = 0; i < r->lines->len; i++)
		print_json_line(&w, &g_array_index(r->lines, why_line, i));
	json_array_end(&w);
	json_key(&w, "order");
	if (r->has_order) {
		json_object_begin(&w);
		json_key(&w, "shop_id");
		json_string(&w, r->order.shop_id);
		json_key(&w, "order_no");
		json_string(&w, r->order.order_no);
		json_key(&w, "fee_fen");
		json_int(&w, r->order.fee_fen);
		json_key(&w, "entitlement_fen");
		if (r->order.settled)
			json_int(&w, r->order.entitlement_fen);
		else
			json_null(&w);
		json_key(&w, "posted_fen");
		json_int(&w, r->order.posted_fen);
		json_object_end(&w);
	} else {
		json_null(&w);
	}
	json_object_end(&w);
	g_autofree char *text = json_finish(&w);
	cli_print_json(text);
}

static void print_text_order(const why_order *o)
{
	g_assert(o->shop_id != NULL);
	g_assert(o->lines >= 0 && o->fee_fen >= 0);
	char a[MONEY_TEXT_MAX], b[MONEY_TEXT_MAX], c[MONEY_TEXT_MAX], rate[WHY_RATE_TEXT_MAX];
	printf("order %s of shop %s: %" G_GINT64_FORMAT " eligible lines, fee %s yuan, ",
	       o->order_no ? o->order_no : "(no number)", o->shop_id, (gint64)o->lines, money_format(o->fee_fen, a));
	if (o->settled)
		printf("entitled %s yuan", money_format(o->entitlement_fen, b));
	else
		printf("not settled yet");
	printf(", posted %s yuan\n", money_format(o->posted_fen, a));
	for (guint i = 0; i < o->postings->len; i++) {
		const why_posting *p = &g_array_index(o->postings, why_posting, i);
		printf("  batch %d posting %d: %s%s %s yuan (%s rule, rate %s; entitled %s yuan, unfunded %s yuan)\n",
		       p->batch_id, p->seq, p->status, p->correction, money_format(p->funded_fen, a), p->rule,
		       rate_text(p->rate_bp, rate), money_format(p->entitlement_fen, b), money_format(p->unfunded_fen, c));
	}
}

static void print_text(const why_report *r, const char *waybill)
{
	g_assert(r->lines != NULL);
	g_assert(waybill != NULL);
	char fee[MONEY_TEXT_MAX];
	if (r->lines->len == 0)
		printf("no line carries waybill '%s'\n", waybill);
	for (guint i = 0; i < r->lines->len; i++) {
		const why_line *l = &g_array_index(r->lines, why_line, i);
		printf("%s:%" G_GINT64_FORMAT "  %s  pickup %s  fee %s%s  %s%s%s\n", l->file, (gint64)l->line_no,
		       l->courier ? l->courier : "", l->pickup, l->has_fee ? money_format(l->fee_fen, fee) : "",
		       l->has_fee ? " yuan" : "(none read)", l->outcome, *l->reason ? ": " : "", l->reason);
		if (*l->act)
			printf("  act %s\n", l->act);
	}
	if (r->has_order)
		print_text_order(&r->order);
}

int cmd_why(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	int parsed = cli_parse(ctx, cmd, NULL, TRUE, &argc, &argv);
	if (parsed != STATUS_OK)
		return parsed;
	if (argc != 2)
		return cli_usage_error(cmd, argc < 2 ? "no WAYBILL given" : "one WAYBILL at a time");
	g_autofree char *waybill = ident_normalize(argv[1]);
	if (!waybill)
		return cli_usage_error(cmd, "WAYBILL is not UTF-8");
	if (!*waybill)
		return cli_usage_error(cmd, "WAYBILL has nothing visible");
	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	why_report r = { 0 };
	gboolean ok = why_read(d, waybill, &r, &error);
	db_close(d);
	g_assert(ok == (error == NULL));
	g_assert(!ok || r.lines != NULL);
	if (ok && ctx->json)
		print_json(&r);
	else if (ok)
		print_text(&r, waybill);
	why_report_clear(&r);
	return ok ? STATUS_OK : cli_fail(error);
}
