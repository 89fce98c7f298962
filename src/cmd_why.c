/* cmd_why.c: `subsidy why WAYBILL [--json]`: every line that carried the waybill (any courier, any
 * file), its outcome and reason, the order it belongs to and every posting of that order. Reads
 * only: it answers "where did this parcel's money go?". WAYBILL is taken in its normal form
 * (ident.h), as lines store it, so `yt620`, `ＹＴ６２０` and `YT620` find the same parcel. */
#include "cli.h"
#include "ident.h"
#include "json.h"
#include "money.h"
#include "order.h"

#include <stdio.h>

#define WHY_ERROR why_error_quark()
G_DEFINE_QUARK(subsidy-why-error-quark, why_error)

/* The order's fee (order_fee_sum) from its lines' fees as a comma-separated list; FALSE when the
 * list does not read or the sum does not fit 64 bits. */
static gboolean order_fee_of(const char *fees, int64_t *fee_fen)
{
	g_auto(GStrv) items = g_strsplit(fees, ",", -1);
	guint n = g_strv_length(items);
	if (n == 0)
		return FALSE;
	g_autofree order_line *lines = g_new0(order_line, n);
	for (guint i = 0; i < n; i++)
		if (!g_ascii_string_to_signed(items[i], 10, 0, INT64_MAX, &lines[i].fee_fen, NULL))
			return FALSE;
	return order_fee_sum(lines, n, fee_fen);
}

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
/* The waybill's order: that of its first line that counts now (lines_counted: acts applied), else,
 * when none counts any more (its file withdrawn), that of its first line stored ELIGIBLE. */
#define ORDER_OF "WITH o AS (SELECT shop_id, order_key FROM (SELECT shop_id, order_key, file_id, line_no, 0 AS pref" \
		 " FROM lines_counted() WHERE programme = $1 AND waybill_no = $2 UNION ALL SELECT shop_id, order_key," \
		 " file_id, line_no, 1 FROM lines WHERE programme = $1 AND waybill_no = $2 AND outcome = 'ELIGIBLE') x" \
		 " ORDER BY pref, file_id, line_no LIMIT 1)"
	gboolean ok = db_exec(d, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &error) &&
		      (lines = db_query(d,
					"SELECT f.name, l.line_no, l.courier, l.outcome, coalesce(l.reason, ''),"
					" coalesce(CASE WHEN d.pickup_date_only THEN l.pickup_time::date::text ELSE l.pickup_time::text END, ''),"
					" coalesce(l.fee_fen::text, ''), f.ingested_at::text,"
					" CASE WHEN a.act_seq IS NULL THEN '' ELSE format('%s%s%s: %s (by %s as %s, %s)', a.kind,"
					"  a.act_no, CASE WHEN a.kind = 'W' THEN ' withdrew its file' WHEN l.live THEN ' holds the claim'"
					"  ELSE ' the claim went to another line' END, a.reason, a.os_user, a.db_role,"
					"  to_char(a.recorded_at, 'YYYY-MM-DD HH24:MI:SS')) END"
					" FROM lines_now() l JOIN lines d ON d.file_id = l.file_id AND d.line_no = l.line_no"
					" JOIN files f ON f.file_id = l.file_id"
					" LEFT JOIN acts a ON a.programme = l.programme AND a.act_seq = l.act_seq"
					" WHERE l.programme = $1 AND l.waybill_no = $2"
					" ORDER BY l.file_id, l.line_no",
					2, params, &error)) &&
		      (order = db_query(d,
					ORDER_OF " SELECT o.shop_id, min(l.order_no), coalesce(string_agg(l.fee_fen::text, ','), '0'),"
					" (SELECT entitlement_fen FROM orders r WHERE r.programme = $1 AND r.shop_id = o.shop_id"
					"   AND r.order_key = o.order_key),"
					" (SELECT coalesce(sum(funded_fen), 0) FROM postings p WHERE p.programme = $1"
					"   AND p.shop_id = o.shop_id AND p.order_key = o.order_key), count(l.line_no)"
					/* The lines that count now: a withdrawn or moved line no longer does. */
					" FROM o LEFT JOIN lines_counted() l ON l.programme = $1 AND l.shop_id = o.shop_id"
					"  AND l.order_key = o.order_key"
					" GROUP BY o.shop_id, o.order_key",
					2, params, &error)) &&
		      (postings = db_query(d,
					   ORDER_OF " SELECT p.batch_id, p.seq, p.status, p.funded_fen, p.entitlement_fen,"
					   " p.unfunded_fen, p.rule, p.rate_bp, coalesce(' ' || p.correction, '') FROM o JOIN postings p"
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
	int64_t fee_fen = 0;
	if (has_order && !order_fee_of(PQgetvalue(order, 0, 2), &fee_fen)) {
		PQclear(lines);
		PQclear(order);
		PQclear(postings);
		return cli_fail(g_error_new(WHY_ERROR, STATUS_SOFTWARE,
					    "cannot add up the fees of the order of waybill '%s': beyond 64-bit arithmetic",
					    waybill));
	}
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
			if (*PQgetvalue(lines, i, 8)) { /* CONTROL.md: the act that touched the line */
				json_key(&w, "act");
				json_string(&w, PQgetvalue(lines, i, 8));
			}
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
			json_int(&w, fee_fen);
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
			if (*PQgetvalue(lines, i, 8))
				printf("  act %s\n", PQgetvalue(lines, i, 8));
		}
		if (has_order) {
			printf("order %s of shop %s: %s eligible lines, fee %s yuan, ",
			       PQgetisnull(order, 0, 1) ? "(no number)" : PQgetvalue(order, 0, 1), PQgetvalue(order, 0, 0),
			       PQgetvalue(order, 0, 5), money_format(fee_fen, a));
			if (PQgetisnull(order, 0, 3))
				printf("not settled yet");
			else
				printf("entitled %s yuan",
				       money_format(g_ascii_strtoll(PQgetvalue(order, 0, 3), NULL, 10), b));
			printf(", posted %s yuan\n", money_format(g_ascii_strtoll(PQgetvalue(order, 0, 4), NULL, 10), a));
			for (int i = 0; i < PQntuples(postings); i++)
				printf("  batch %s posting %s: %s%s %s yuan (%s rule, rate %s; entitled %s yuan, unfunded %s"
				       " yuan)\n",
				       PQgetvalue(postings, i, 0), PQgetvalue(postings, i, 1), PQgetvalue(postings, i, 2),
				       PQgetvalue(postings, i, 8), yuan_text(PQgetvalue(postings, i, 3), a),
				       PQgetvalue(postings, i, 6), rate_text(PQgetvalue(postings, i, 7), rate),
				       yuan_text(PQgetvalue(postings, i, 4), b), yuan_text(PQgetvalue(postings, i, 5), c));
		}
	}
	PQclear(lines);
	PQclear(order);
	PQclear(postings);
	return STATUS_OK;
}
