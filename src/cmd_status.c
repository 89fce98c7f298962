/* cmd_status.c: `subsidy status [--json]`: budget left per pool, outcome counts over every line,
 * what was posted, owed and paid, the last batch and the batches not approved (overview.h reads
 * them). Reads only. */
#include "cli.h"
#include "json.h"
#include "money.h"
#include "overview.h"

#include <stdio.h>

static void print_json_pools(json_writer *w, const GArray *pools)
{
	g_assert(w != NULL && pools != NULL);
	json_key(w, "pools");
	json_array_begin(w);
	for (guint i = 0; i < pools->len; i++) {
		const overview_pool *p = &g_array_index(pools, overview_pool, i);
		g_assert(p->left_fen <= p->amount_fen);
		json_object_begin(w);
		json_key(w, "pool_id");
		json_string(w, p->pool_id);
		json_key(w, "amount_fen");
		json_int(w, p->amount_fen);
		json_key(w, "left_fen");
		json_int(w, p->left_fen);
		json_object_end(w);
	}
	json_array_end(w);
}

static void print_json(const overview *o)
{
	g_assert(o->pools != NULL && o->unapproved != NULL);
	g_assert(o->has_batch || o->last_batch == 0);
	json_writer w;
	json_init(&w);
	json_object_begin(&w);
	print_json_pools(&w, o->pools);
	json_key(&w, "outcomes");
	json_object_begin(&w);
	for (int i = 0; i < OUTCOME_COUNT; i++) {
		json_key(&w, policy_outcome_name(i));
		json_int(&w, o->outcomes[i]);
	}
	json_object_end(&w);
	json_key(&w, "posted_fen");
	json_int(&w, o->posted_fen);
	json_key(&w, "unfunded_fen");
	json_int(&w, o->unfunded_fen);
	json_key(&w, "paid_fen");
	json_int(&w, o->paid_fen);
	json_key(&w, "last_batch");
	if (o->has_batch)
		json_int(&w, o->last_batch);
	else
		json_null(&w);
	json_key(&w, "open_conflicts");
	json_int(&w, o->open_conflicts);
	json_key(&w, "acts");
	json_object_begin(&w);
	json_key(&w, "withdrawals");
	json_int(&w, o->withdrawals);
	json_key(&w, "resolutions");
	json_int(&w, o->resolutions);
	json_key(&w, "reclassifications");
	json_int(&w, o->reclassifications);
	json_key(&w, "not_yet_settled");
	json_int(&w, o->acts_not_settled);
	json_object_end(&w);
	json_key(&w, "unapproved_batches");
	json_array_begin(&w);
	for (guint i = 0; i < o->unapproved->len; i++)
		json_int(&w, g_array_index(o->unapproved, int, i));
	json_array_end(&w);
	json_object_end(&w);
	g_autofree char *text = json_finish(&w);
	cli_print_json(text);
}

/* The last batch, and which are not approved yet. */
static void print_text_batches(const overview *o)
{
	g_assert(o->unapproved != NULL);
	g_assert(o->has_batch == (o->last_batch_made != NULL));
	if (o->has_batch)
		printf("last batch: %d, made %s\n", o->last_batch, o->last_batch_made);
	else
		printf("no batch yet\n");
	printf("corrections: %" G_GINT64_FORMAT " withdrawals, %" G_GINT64_FORMAT " resolutions, %" G_GINT64_FORMAT
	       " reclassifications (%" G_GINT64_FORMAT " not settled yet); %" G_GINT64_FORMAT " open conflicts\n",
	       (gint64)o->withdrawals, (gint64)o->resolutions, (gint64)o->reclassifications,
	       (gint64)o->acts_not_settled, (gint64)o->open_conflicts);
	if (o->unapproved->len) {
		g_autoptr(GString) list = g_string_new(NULL);
		for (guint i = 0; i < o->unapproved->len; i++)
			g_string_append_printf(list, "%s%d", i ? ", " : "", g_array_index(o->unapproved, int, i));
		printf("batches not approved (subsidy approve --batch N; their payments are not applied): %s\n", list->str);
	} else if (o->has_batch) {
		printf("every batch is approved\n");
	}
}

static void print_text(const overview *o)
{
	g_assert(o->pools != NULL);
	g_assert(o->has_batch || o->posted_fen == 0); /* nothing is posted but in a batch */
	char a[MONEY_TEXT_MAX], b[MONEY_TEXT_MAX];
	printf("budget pools (amount / left, yuan):\n");
	for (guint i = 0; i < o->pools->len; i++) {
		const overview_pool *p = &g_array_index(o->pools, overview_pool, i);
		printf("  %-16s %14s %14s  %s\n", p->pool_id, money_format(p->amount_fen, a), money_format(p->left_fen, b),
		       p->name);
	}
	printf("lines by outcome:\n");
	for (int i = 0; i < OUTCOME_COUNT; i++)
		printf("  %-24s %" G_GINT64_FORMAT "\n", policy_outcome_name(i), (gint64)o->outcomes[i]);
	printf("posted %s yuan, owed and not funded %s yuan, ", money_format(o->posted_fen, a),
	       money_format(o->unfunded_fen, b));
	printf("paid %s yuan\n", money_format(o->paid_fen, a));
	print_text_batches(o);
}

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
	overview o = { 0 };
	gboolean ok = overview_read(d, &o, &error);
	db_close(d);
	g_assert(ok == (error == NULL));
	g_assert(!ok || (o.pools != NULL && o.unapproved != NULL));
	if (ok && ctx->json)
		print_json(&o);
	else if (ok)
		print_text(&o);
	overview_clear(&o);
	return ok ? STATUS_OK : cli_fail(error);
}
