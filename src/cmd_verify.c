/* cmd_verify.c: `subsidy verify [--expect-head HEAD]... [--json]`: recompute the hash chains of
 * batches and payment loads and every batch's seals, check the ledger's invariants (verify.h), and
 * check each head kept elsewhere (B<batch>:<digest>, <batch>:<digest> or P<load>:<digest>, as
 * export, nightly and payments load print them) against its chain. Exit 0 when everything holds,
 * 1 with any finding, each named. Changes nothing; works under the auditor role. */
#include "cli.h"
#include "json.h"
#include "verify.h"

#include <stdio.h>

static void print_json(const verify_report *r)
{
	g_assert(!r->first_broken_batch || r->findings->len > 0); /* a broken batch is a finding */
	g_assert(r->unsealed >= 0 && r->batches >= 0 && r->payment_loads >= 0);
	json_writer w;
	json_init(&w);
	json_object_begin(&w);
	json_key(&w, "ok");
	json_bool(&w, r->findings->len == 0);
	json_key(&w, "batches");
	json_int(&w, r->batches);
	json_key(&w, "payment_loads");
	json_int(&w, r->payment_loads);
	json_key(&w, "head");
	json_string(&w, r->head);
	json_key(&w, "payments_head");
	json_string(&w, r->payments_head);
	json_key(&w, "unsealed");
	json_int(&w, r->unsealed);
	json_key(&w, "first_broken_batch");
	if (r->first_broken_batch)
		json_int(&w, r->first_broken_batch);
	else
		json_null(&w);
	json_key(&w, "findings");
	json_array_begin(&w);
	for (guint i = 0; i < r->findings->len; i++) {
		const verify_finding *f = r->findings->pdata[i];
		json_object_begin(&w);
		json_key(&w, "check");
		json_string(&w, f->check);
		json_key(&w, "detail");
		json_string(&w, f->detail);
		json_object_end(&w);
	}
	json_array_end(&w);
	json_object_end(&w);
	g_autofree char *text = json_finish(&w);
	cli_print_json(text);
}

static void print_text(const verify_report *r)
{
	g_assert(!r->first_broken_batch || r->findings->len > 0); /* a broken batch is a finding */
	g_assert(r->unsealed >= 0 && r->batches >= 0 && r->payment_loads >= 0);
	for (guint i = 0; i < r->findings->len; i++) {
		const verify_finding *f = r->findings->pdata[i];
		printf("FAIL %-14s %s\n", f->check, f->detail);
	}
	if (r->findings->len == 0)
		printf("verify: %d batches and %d payment loads: both chains hold and every invariant holds\n", r->batches,
		       r->payment_loads);
	else if (r->first_broken_batch)
		printf("verify: %u findings over %d batches and %d payment loads; the first broken batch is %d\n",
		       r->findings->len, r->batches, r->payment_loads, r->first_broken_batch);
	else
		printf("verify: %u findings over %d batches and %d payment loads; the batch chain holds\n",
		       r->findings->len, r->batches, r->payment_loads);
	printf("verify: chain head %s; payments head %s; %d item%s recorded since the newest batch, not"
	       " sealed yet\n",
	       r->head ? r->head : "none (no batch)", r->payments_head ? r->payments_head : "none (no payment load)",
	       r->unsealed, r->unsealed == 1 ? "" : "s");
}

int cmd_verify(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	g_auto(GStrv) head_texts = NULL;
	const GOptionEntry entries[] = {
		{ "expect-head", 0, 0, G_OPTION_ARG_STRING_ARRAY, &head_texts,
		  "a chain head kept elsewhere (B<batch>:<digest> or P<load>:<digest>, as export, nightly and"
		  " payments load print it): that link must be in its chain, with that digest; may be repeated",
		  "HEAD" },
		{ NULL }
	};
	int parsed = cli_parse(ctx, cmd, entries, TRUE, &argc, &argv);
	if (parsed != STATUS_OK)
		return parsed;
	if (argc != 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);
	guint n_heads = head_texts ? g_strv_length(head_texts) : 0;
	g_autofree verify_head *heads = g_new0(verify_head, n_heads + 1);
	for (guint i = 0; i < n_heads; i++)
		if (!verify_parse_head(head_texts[i], &heads[i]))
			return cli_usage_error(cmd,
					       "--expect-head '%s' is not a chain head (B<batch>:<digest>, <batch>:<digest>"
					       " or P<load>:<digest>, the digest 64 hex digits)",
					       head_texts[i]);
	verify_options o = { heads, n_heads };
	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	verify_report r = { 0 };
	gboolean ok = verify_run(d, &o, &r, &error);
	db_close(d);
	g_assert(ok == (error == NULL));
	if (!ok)
		return cli_fail(error);
	g_assert(r.findings != NULL);
	if (ctx->json)
		print_json(&r);
	else
		print_text(&r);
	gboolean sound = r.findings->len == 0;
	verify_report_clear(&r);
	return sound ? STATUS_OK : STATUS_FINDINGS;
}
