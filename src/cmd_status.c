/* cmd_status.c: `subsidy status [--json]`: budget left per pool, outcome counts over every line,
 * what was posted, owed and paid, the last batch and the batches not approved. Reads only. */
#include "cli.h"
#include "json.h"
#include "money.h"
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>

int cmd_status(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	int parsed = cli_parse(ctx, cmd, NULL, TRUE, &argc, &argv);
	if (parsed != STATUS_OK)
		return parsed;
	if (argc != 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);
	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	const char *p1[] = { db_programme(d) };
	PGresult *pools = NULL, *outcomes = NULL, *totals = NULL;
	gboolean ok = db_exec(d, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &error) &&
		      (pools = db_query(d,
					"SELECT p.pool_id, p.name, b.amount_fen, b.amount_fen - b.drawn_fen FROM pools p"
					" JOIN pool_balances b USING (programme, pool_id) WHERE p.programme = $1"
					" AND p.superseded_at IS NULL ORDER BY p.priority, p.pool_id COLLATE \"C\"",
					1, p1, &error)) &&
		      (outcomes = db_query(d, "SELECT outcome, count(*) FROM lines WHERE programme = $1 GROUP BY outcome",
					   1, p1, &error)) &&
		      (totals = db_query(d,
					 "SELECT (SELECT coalesce(sum(posted_fen), 0) FROM batches WHERE programme = $1),"
					 " (SELECT coalesce(sum(unfunded_fen), 0) FROM orders WHERE programme = $1),"
					 " (SELECT coalesce(sum(amount_fen), 0) FROM payments WHERE programme = $1"
					 "  AND status = 'PAID'),"
					 " (SELECT max(batch_id) FROM batches WHERE programme = $1),"
					 " (SELECT max(created_at)::text FROM batches WHERE programme = $1),"
					 /* CONTROL.md: conflicts no resolution since their file closed, and the acts. */
					 " (SELECT count(*) FROM lines_now() n JOIN files f USING (file_id) WHERE n.programme = $1"
					 "  AND n.outcome = 'CONFLICT' AND n.live AND NOT EXISTS (SELECT 1 FROM acts a"
					 "  WHERE a.programme = $1 AND a.kind = 'R' AND a.courier = n.courier"
					 "  AND a.waybill_no = n.waybill_no AND a.recorded_at >= f.ingested_at)),"
					 " (SELECT count(*) FILTER (WHERE kind = 'W') || ' ' || count(*) FILTER (WHERE kind = 'R')"
					 "  || ' ' || count(*) FILTER (WHERE kind = 'C') || ' ' || count(*) FILTER (WHERE act_seq >"
					 "  coalesce((SELECT acts_seen FROM settle_marks m WHERE m.programme = $1), 0))"
					 "  FROM acts WHERE programme = $1),"
					 " (SELECT coalesce(string_agg(b.batch_id::text, ',' ORDER BY b.batch_id), '')"
					 "  FROM batches b WHERE b.programme = $1 AND NOT EXISTS (SELECT 1 FROM approvals a"
					 "  WHERE a.programme = b.programme AND a.batch_id = b.batch_id))",
					 1, p1, &error));
	db_rollback(d);
	db_close(d);
	if (!ok) {
		PQclear(pools);
		PQclear(outcomes);
		return cli_fail(error);
	}
	int64_t counts[OUTCOME_COUNT] = { 0 };
	for (int i = 0; i < PQntuples(outcomes); i++) {
		policy_outcome o;
		if (policy_outcome_parse(PQgetvalue(outcomes, i, 0), &o))
			counts[o] = g_ascii_strtoll(PQgetvalue(outcomes, i, 1), NULL, 10);
	}
	int64_t posted = g_ascii_strtoll(PQgetvalue(totals, 0, 0), NULL, 10);
	int64_t unfunded = g_ascii_strtoll(PQgetvalue(totals, 0, 1), NULL, 10);
	int64_t paid = g_ascii_strtoll(PQgetvalue(totals, 0, 2), NULL, 10);
	gboolean has_batch = !PQgetisnull(totals, 0, 3);
	int last_batch = has_batch ? atoi(PQgetvalue(totals, 0, 3)) : 0;
	int64_t open_conflicts = g_ascii_strtoll(PQgetvalue(totals, 0, 5), NULL, 10);
	int64_t acts[4] = { 0 };
	sscanf(PQgetvalue(totals, 0, 6), "%" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT,
	       &acts[0], &acts[1], &acts[2], &acts[3]);
	/* Batches no one of finance approved yet (CONTROL.md "Approve a batch"), ascending. */
	g_auto(GStrv) unapproved = g_strsplit(PQgetvalue(totals, 0, 7), ",", -1);
	if (!unapproved[0] || !unapproved[0][0])
		g_clear_pointer(&unapproved, g_strfreev);

	if (ctx->json) {
		json_writer w;
		json_init(&w);
		json_object_begin(&w);
		json_key(&w, "pools");
		json_array_begin(&w);
		for (int i = 0; i < PQntuples(pools); i++) {
			json_object_begin(&w);
			json_key(&w, "pool_id");
			json_string(&w, PQgetvalue(pools, i, 0));
			json_key(&w, "amount_fen");
			json_int(&w, g_ascii_strtoll(PQgetvalue(pools, i, 2), NULL, 10));
			json_key(&w, "left_fen");
			json_int(&w, g_ascii_strtoll(PQgetvalue(pools, i, 3), NULL, 10));
			json_object_end(&w);
		}
		json_array_end(&w);
		json_key(&w, "outcomes");
		json_object_begin(&w);
		for (int o = 0; o < OUTCOME_COUNT; o++) {
			json_key(&w, policy_outcome_name(o));
			json_int(&w, counts[o]);
		}
		json_object_end(&w);
		json_key(&w, "posted_fen");
		json_int(&w, posted);
		json_key(&w, "unfunded_fen");
		json_int(&w, unfunded);
		json_key(&w, "paid_fen");
		json_int(&w, paid);
		json_key(&w, "last_batch");
		if (has_batch)
			json_int(&w, last_batch);
		else
			json_null(&w);
		json_key(&w, "open_conflicts");
		json_int(&w, open_conflicts);
		json_key(&w, "acts");
		json_object_begin(&w);
		json_key(&w, "withdrawals");
		json_int(&w, acts[0]);
		json_key(&w, "resolutions");
		json_int(&w, acts[1]);
		json_key(&w, "reclassifications");
		json_int(&w, acts[2]);
		json_key(&w, "not_yet_settled");
		json_int(&w, acts[3]);
		json_object_end(&w);
		json_key(&w, "unapproved_batches");
		json_array_begin(&w);
		for (char **u = unapproved; u && *u; u++)
			json_int(&w, g_ascii_strtoll(*u, NULL, 10));
		json_array_end(&w);
		json_object_end(&w);
		g_autofree char *text = json_finish(&w);
		cli_print_json(text);
	} else {
		char a[MONEY_TEXT_MAX], b[MONEY_TEXT_MAX];
		printf("budget pools (amount / left, yuan):\n");
		for (int i = 0; i < PQntuples(pools); i++)
			printf("  %-16s %14s %14s  %s\n", PQgetvalue(pools, i, 0),
			       money_format(g_ascii_strtoll(PQgetvalue(pools, i, 2), NULL, 10), a),
			       money_format(g_ascii_strtoll(PQgetvalue(pools, i, 3), NULL, 10), b),
			       PQgetvalue(pools, i, 1));
		printf("lines by outcome:\n");
		for (int o = 0; o < OUTCOME_COUNT; o++)
			printf("  %-24s %" G_GINT64_FORMAT "\n", policy_outcome_name(o), (gint64)counts[o]);
		printf("posted %s yuan, owed and not funded %s yuan, ", money_format(posted, a), money_format(unfunded, b));
		printf("paid %s yuan\n", money_format(paid, a));
		if (has_batch)
			printf("last batch: %d, made %s\n", last_batch, PQgetvalue(totals, 0, 4));
		else
			printf("no batch yet\n");
		printf("corrections: %" G_GINT64_FORMAT " withdrawals, %" G_GINT64_FORMAT " resolutions, %" G_GINT64_FORMAT
		       " reclassifications (%" G_GINT64_FORMAT " not settled yet); %" G_GINT64_FORMAT " open conflicts\n",
		       (gint64)acts[0], (gint64)acts[1], (gint64)acts[2], (gint64)acts[3], (gint64)open_conflicts);
		if (unapproved) {
			g_autofree char *list = g_strjoinv(", ", unapproved);
			printf("batches not approved (subsidy approve --batch N; their payments are not applied): %s\n", list);
		} else if (has_batch) {
			printf("every batch is approved\n");
		}
	}
	PQclear(pools);
	PQclear(outcomes);
	PQclear(totals);
	return STATUS_OK;
}
