/* cmd_verify.c: `subsidy verify [--json]`: recompute the hash chains of batches and payment
 * loads and check the ledger's invariants (verify.h). Exit 0 when everything holds, 1 with any
 * finding, each named. Changes nothing; works under the auditor role. */
#include "cli.h"
#include "json.h"
#include "verify.h"

#include <stdio.h>

int cmd_verify(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
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
	verify_report r = { 0 };
	gboolean ok = verify_run(d, &r, &error);
	db_close(d);
	if (!ok)
		return cli_fail(error);
	gboolean sound = r.findings->len == 0;
	if (ctx->json) {
		json_writer w;
		json_init(&w);
		json_object_begin(&w);
		json_key(&w, "ok");
		json_bool(&w, sound);
		json_key(&w, "batches");
		json_int(&w, r.batches);
		json_key(&w, "payment_loads");
		json_int(&w, r.payment_loads);
		json_key(&w, "first_broken_batch");
		if (r.first_broken_batch)
			json_int(&w, r.first_broken_batch);
		else
			json_null(&w);
		json_key(&w, "findings");
		json_array_begin(&w);
		for (guint i = 0; i < r.findings->len; i++) {
			const verify_finding *f = r.findings->pdata[i];
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
	} else {
		for (guint i = 0; i < r.findings->len; i++) {
			const verify_finding *f = r.findings->pdata[i];
			printf("FAIL %-14s %s\n", f->check, f->detail);
		}
		if (sound)
			printf("verify: %d batches and %d payment loads: both chains hold and every invariant holds\n",
			       r.batches, r.payment_loads);
		else if (r.first_broken_batch)
			printf("verify: %u findings over %d batches and %d payment loads; the first broken batch is %d\n",
			       r.findings->len, r.batches, r.payment_loads, r.first_broken_batch);
		else
			printf("verify: %u findings over %d batches and %d payment loads; the batch chain holds\n",
			       r.findings->len, r.batches, r.payment_loads);
	}
	verify_report_clear(&r);
	return sound ? STATUS_OK : STATUS_FINDINGS;
}
