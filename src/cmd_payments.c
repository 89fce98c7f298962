/* cmd_payments.c: `subsidy payments load FILE [--json]`: the treasury's payment results, applied
 * once each and reconciled with what the batches exported. Prints the payments chain's new head
 * (P<load>:<digest>): the next batch seals the load, and until then only that head, kept
 * elsewhere, proves the load was not removed. Exit 1 when there are findings, 65 when the file does
 * not parse (nothing stored). */
#include "cli.h"
#include "json.h"
#include "money.h"
#include "payments.h"

#include <stdio.h>
#include <string.h>

static void print_report(const payments_report *r, gboolean as_json)
{
	if (as_json) {
		json_writer w;
		json_init(&w);
		json_object_begin(&w);
		json_key(&w, "file");
		json_string(&w, r->file);
		json_key(&w, "load");
		json_int(&w, r->load_id);
		json_key(&w, "applied");
		json_int(&w, r->applied);
		json_key(&w, "head");
		g_autofree char *head = g_strdup_printf("P%d:%s", r->load_id, r->digest);
		json_string(&w, head);
		json_key(&w, "paid_fen");
		json_int(&w, r->paid_fen);
		json_key(&w, "failed_fen");
		json_int(&w, r->failed_fen);
		json_key(&w, "already_applied");
		json_int(&w, r->already_applied);
		json_key(&w, "findings");
		json_array_begin(&w);
		for (guint i = 0; i < r->findings->len; i++) {
			const payments_finding *f = r->findings->pdata[i];
			json_object_begin(&w);
			json_key(&w, "line");
			json_int(&w, f->line_no);
			json_key(&w, "batch");
			json_int(&w, f->batch_id);
			json_key(&w, "shop_id");
			json_string(&w, f->shop_id);
			json_key(&w, "reason");
			json_string(&w, f->reason);
			json_object_end(&w);
		}
		json_array_end(&w);
		json_object_end(&w);
		g_autofree char *text = json_finish(&w);
		cli_print_json(text);
		return;
	}
	char paid[MONEY_TEXT_MAX], failed[MONEY_TEXT_MAX];
	guint n = r->findings->len;
	printf("payments: load %d of '%s': %d applied (paid %s yuan, failed %s yuan), %d already applied, %u finding%s\n",
	       r->load_id, r->file, r->applied, money_format(r->paid_fen, paid), money_format(r->failed_fen, failed),
	       r->already_applied, n, n == 1 ? "" : "s");
	for (guint i = 0; i < n; i++) {
		const payments_finding *f = r->findings->pdata[i];
		printf("finding: %s:%d: batch %d, shop '%s': %s\n", r->file, f->line_no, f->batch_id, f->shop_id, f->reason);
	}
	/* Until the next batch seals this load, only a head kept elsewhere proves it was not cut. */
	printf("payments: payments head P%d:%s (keep it: verify --expect-head)\n", r->load_id, r->digest);
}

int cmd_payments(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	int parsed = cli_parse(ctx, cmd, NULL, TRUE, &argc, &argv);
	if (parsed != STATUS_OK)
		return parsed;
	if (argc < 2)
		return cli_usage_error(cmd, "which action? (load)");
	if (strcmp(argv[1], "load") != 0)
		return cli_usage_error(cmd, "unknown action '%s' (load)", argv[1]);
	if (argc < 3)
		return cli_usage_error(cmd, "load needs the FILE of payment results");
	if (argc > 3)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[3]);

	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	payments_report r = { 0 };
	gboolean ok = payments_load(d, argv[2], cli_os_user(), &r, &error);
	db_close(d);
	if (!ok) {
		payments_report_clear(&r);
		return cli_fail(error);
	}
	print_report(&r, ctx->json);
	int status = r.findings->len > 0 ? STATUS_FINDINGS : STATUS_OK;
	payments_report_clear(&r);
	return status;
}
