/* cmd_why.c: `subsidy why WAYBILL [--json]`: every line that carried the waybill (any courier, any
 * file), its outcome and reason, the order it belongs to and every posting of that order. Reads
 * only: it answers "where did this parcel's money go?". WAYBILL is taken in its normal form
 * (ident.h), as lines store it, so `yt620`, `ＹＴ６２０` and `YT620` find the same parcel. */
#include "cli.h"
#include "ident.h"
#include "json.h"
#include "money.h"

#include <stdio.h>

/* A rate in basis points as a person reads it: 5000 -> "50%", 1250 -> "12.5%", 1234 -> "12.34%". */
#define WHY_RATE_TEXT_MAX 32
static const char *rate_text(const char *bp_text, char out[WHY_RATE_TEXT_MAX])
{
	gint64 bp = g_ascii_strtoll(bp_text, NULL, 10);
	gint64 whole = bp / 100, part = bp % 100;
	if (part == 0)
		g_snprintf(out, WHY_RATE_TEXT_MAX, "%" G_GINT64_FORMAT "%%", whole);
	else if (part % 10 == 0)
		g_snprintf(out, WHY_RATE_TEXT_MAX, "%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT "%%", whole, part / 10);
	else
		g_snprintf(out, WHY_RATE_TEXT_MAX, "%" G_GINT64_FORMAT ".%02" G_GINT64_FORMAT "%%", whole, part);
	return out;
}

/* Fen as yuan with two decimals; "" (an unread fee) stays "". */
static const char *yuan_text(const char *fen_text, char out[MONEY_TEXT_MAX])
{
	if (!*fen_text) {
		out[0] = '\0';
		return out;
	}
	return money_format(g_ascii_strtoll(fen_text, NULL, 10), out);
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
	const char *params[] = { db_programme(d), waybill };
	PGresult *lines = NULL, *order = NULL, *postings = NULL;
	/* The order: the one the waybill's eligible line belongs to. */
#define ORDER_OF "WITH o AS (SELECT shop_id, order_key FROM lines WHERE programme = $1 AND waybill_no = $2" \
		 " AND outcome = 'ELIGIBLE' ORDER BY file_id, line_no LIMIT 1)"
	gboolean ok = db_exec(d, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &error) &&
		      (lines = db_query(d,
					"SELECT f.name, l.line_no, l.courier, l.outcome, coalesce(l.reason, ''),"
					" coalesce(l.pickup_time::text, ''), coalesce(l.fee_fen::text, ''), f.ingested_at::text"
					" FROM lines l JOIN files f USING (file_id) WHERE l.programme = $1 AND l.waybill_no = $2"
					" ORDER BY l.file_id, l.line_no",
					2, params, &error)) &&
		      (order = db_query(d,
					ORDER_OF " SELECT o.shop_id, min(l.order_no), sum(l.fee_fen),"
					" (SELECT entitlement_fen FROM orders r WHERE r.programme = $1 AND r.shop_id = o.shop_id"
					"   AND r.order_key = o.order_key),"
					" (SELECT coalesce(sum(funded_fen), 0) FROM postings p WHERE p.programme = $1"
					"   AND p.shop_id = o.shop_id AND p.order_key = o.order_key), count(*)"
					" FROM o JOIN lines l ON l.programme = $1 AND l.shop_id = o.shop_id"
					"  AND l.order_key = o.order_key AND l.outcome = 'ELIGIBLE'"
					" GROUP BY o.shop_id, o.order_key",
					2, params, &error)) &&
		      (postings = db_query(d,
					   ORDER_OF " SELECT p.batch_id, p.seq, p.status, p.funded_fen, p.entitlement_fen,"
					   " p.unfunded_fen, p.rule, p.rate_bp FROM o JOIN postings p"
					   " ON p.programme = $1 AND p.shop_id = o.shop_id AND p.order_key = o.order_key"
					   " ORDER BY p.batch_id, p.seq",
					   2, params, &error));
	db_rollback(d);
	db_close(d);
	if (!ok) {
		PQclear(lines);
		PQclear(order);
		return cli_fail(error);
	}
	gboolean has_order = PQntuples(order) == 1;
	if (ctx->json) {
		json_writer w;
		json_init(&w);
		json_object_begin(&w);
		json_key(&w, "lines");
		json_array_begin(&w);
		for (int i = 0; i < PQntuples(lines); i++) {
			json_object_begin(&w);
			json_key(&w, "file");
			json_string(&w, PQgetvalue(lines, i, 0));
			json_key(&w, "line");
			json_int(&w, g_ascii_strtoll(PQgetvalue(lines, i, 1), NULL, 10));
			json_key(&w, "courier");
			json_string(&w, PQgetisnull(lines, i, 2) ? NULL : PQgetvalue(lines, i, 2));
			json_key(&w, "outcome");
			json_string(&w, PQgetvalue(lines, i, 3));
			json_key(&w, "reason");
			json_string(&w, *PQgetvalue(lines, i, 4) ? PQgetvalue(lines, i, 4) : NULL);
			json_object_end(&w);
		}
		json_array_end(&w);
		json_key(&w, "order");
		if (has_order) {
			json_object_begin(&w);
			json_key(&w, "shop_id");
			json_string(&w, PQgetvalue(order, 0, 0));
			json_key(&w, "order_no");
			json_string(&w, PQgetisnull(order, 0, 1) ? NULL : PQgetvalue(order, 0, 1));
			json_key(&w, "fee_fen");
			json_int(&w, g_ascii_strtoll(PQgetvalue(order, 0, 2), NULL, 10));
			json_key(&w, "entitlement_fen");
			if (PQgetisnull(order, 0, 3))
				json_null(&w);
			else
				json_int(&w, g_ascii_strtoll(PQgetvalue(order, 0, 3), NULL, 10));
			json_key(&w, "posted_fen");
			json_int(&w, g_ascii_strtoll(PQgetvalue(order, 0, 4), NULL, 10));
			json_object_end(&w);
		} else {
			json_null(&w);
		}
		json_object_end(&w);
		g_autofree char *text = json_finish(&w);
		cli_print_json(text);
	} else {
		char a[MONEY_TEXT_MAX], b[MONEY_TEXT_MAX], c[MONEY_TEXT_MAX], rate[WHY_RATE_TEXT_MAX];
		if (PQntuples(lines) == 0)
			printf("no line carries waybill '%s'\n", waybill);
		for (int i = 0; i < PQntuples(lines); i++) {
			printf("%s:%s  %s  pickup %s  fee %s%s  %s%s%s\n", PQgetvalue(lines, i, 0), PQgetvalue(lines, i, 1),
			       PQgetvalue(lines, i, 2), PQgetvalue(lines, i, 5), yuan_text(PQgetvalue(lines, i, 6), a),
			       *PQgetvalue(lines, i, 6) ? " yuan" : "(none read)",
			       PQgetvalue(lines, i, 3), *PQgetvalue(lines, i, 4) ? ": " : "", PQgetvalue(lines, i, 4));
		}
		if (has_order) {
			printf("order %s of shop %s: %s eligible lines, fee %s yuan, ",
			       PQgetisnull(order, 0, 1) ? "(no number)" : PQgetvalue(order, 0, 1), PQgetvalue(order, 0, 0),
			       PQgetvalue(order, 0, 5), money_format(g_ascii_strtoll(PQgetvalue(order, 0, 2), NULL, 10), a));
			if (PQgetisnull(order, 0, 3))
				printf("not settled yet");
			else
				printf("entitled %s yuan",
				       money_format(g_ascii_strtoll(PQgetvalue(order, 0, 3), NULL, 10), b));
			printf(", posted %s yuan\n", money_format(g_ascii_strtoll(PQgetvalue(order, 0, 4), NULL, 10), a));
			for (int i = 0; i < PQntuples(postings); i++)
				printf("  batch %s posting %s: %s %s yuan (%s rule, rate %s; entitled %s yuan, unfunded %s"
				       " yuan)\n",
				       PQgetvalue(postings, i, 0), PQgetvalue(postings, i, 1), PQgetvalue(postings, i, 2),
				       yuan_text(PQgetvalue(postings, i, 3), a), PQgetvalue(postings, i, 6),
				       rate_text(PQgetvalue(postings, i, 7), rate), yuan_text(PQgetvalue(postings, i, 4), b),
				       yuan_text(PQgetvalue(postings, i, 5), c));
		}
	}
	PQclear(lines);
	PQclear(order);
	PQclear(postings);
	return STATUS_OK;
}
