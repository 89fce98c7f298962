/* cmd_approve.c: `subsidy approve --batch N [--reason TEXT] [--json]`: four eyes (CONTROL.md
 * "Approve a batch"). A member of subsidy_finance (never subsidy_engine, which settles) approves
 * the batch as its digest stands; payment results for a batch not approved are findings, never
 * applied. Prints the approvals chain's head (A<n>:<digest>). Exit 64 for an unknown batch or one
 * approved already, 77 for a role that may not approve. */
#include "approve.h"
#include "cli.h"
#include "json.h"

#include <stdio.h>

int cmd_approve(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	int batch_id = CLI_BATCH_UNSET;
	g_autofree char *reason = NULL;
	const GOptionEntry entries[] = {
		{ "batch", 0, 0, G_OPTION_ARG_INT, &batch_id, "the batch to approve", "N" },
		{ "reason", 0, 0, G_OPTION_ARG_STRING, &reason, "why, recorded with the approval (4 characters or more)",
		  "TEXT" },
		{ NULL }
	};
	int parsed = cli_parse(ctx, cmd, entries, TRUE, &argc, &argv);
	if (parsed != STATUS_OK)
		return parsed;
	if (argc != 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);
	if (batch_id == CLI_BATCH_UNSET)
		return cli_usage_error(cmd, "--batch N is required (a batch number from 1)");
	if (batch_id < 1)
		return cli_usage_error(cmd, "--batch %d: a batch number must be positive (from 1)", batch_id);

	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	approve_report r = { 0 };
	gboolean ok = approve_batch(d, batch_id, reason, cli_os_user(), &r, &error);
	db_close(d);
	if (!ok)
		return cli_fail(error);
	g_autofree char *head = g_strdup_printf("A%d:%s", r.approval_id, r.digest);
	if (ctx->json) {
		json_writer w;
		json_init(&w);
		json_object_begin(&w);
		json_key(&w, "batch");
		json_int(&w, batch_id);
		json_key(&w, "approval");
		json_int(&w, r.approval_id);
		json_key(&w, "batch_digest");
		json_string(&w, r.batch_digest);
		json_key(&w, "db_role");
		json_string(&w, r.db_role);
		json_key(&w, "os_user");
		json_string(&w, cli_os_user());
		json_key(&w, "approved_at");
		json_string(&w, r.approved_at);
		json_key(&w, "head");
		json_string(&w, head);
		json_object_end(&w);
		g_autofree char *text = json_finish(&w);
		cli_print_json(text);
	} else {
		printf("approve: batch %d approved as approval %d by %s (%s) at %s\n", batch_id, r.approval_id, r.db_role,
		       cli_os_user(), r.approved_at);
		printf("approve: batch digest %s\n", r.batch_digest);
		printf("approve: approvals head %s\n", head);
	}
	approve_report_clear(&r);
	return STATUS_OK;
}
