/* cmd_settle.c: `subsidy settle [--json]`: post the differences for every order whose
 * entitlement changed or is unfunded, as one new batch; exit 75 when another run holds the
 * settlement lock; exit 1 when an order had to be held (settle.h). */
#include "cli.h"
#include "json.h"
#include "money.h"
#include "overview.h"
#include "settle.h"

#include <stdio.h>

int cmd_settle(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
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
	settle_result r = { 0 };
	int64_t reissue_fen = 0;
	int reissue_shops = 0;
	gboolean ok = db_lock_settlement(d, &error) && settle_run(d, cli_os_user(), &r, &error);
	g_assert(ok == (error == NULL));
	g_assert(r.batch_id >= 0);
	if (ok && !ctx->json && !overview_reissued(d, r.batch_id, &reissue_fen, &reissue_shops, &error)) {
		/* The batch is committed: a failed look at it is no failed settlement. */
		fprintf(stderr, "subsidy: cannot read what batch %d re-issues: %s\n", r.batch_id, error->message);
		g_clear_error(&error);
	}
	db_close(d);
	if (!ok)
		return cli_fail(error);
	if (ctx->json) {
		json_writer w;
		json_init(&w);
		settle_json(&w, &r);
		g_autofree char *text = json_finish(&w);
		cli_print_json(text);
	} else {
		settle_print_text(&r);
		char amount[MONEY_TEXT_MAX];
		if (reissue_shops)
			printf("settle: batch %d re-issues %s yuan of failed payments to %d shop%s\n", r.batch_id,
			       money_format(reissue_fen, amount), reissue_shops, reissue_shops == 1 ? "" : "s");
	}
	settle_print_held(&r);
	int status = r.held ? STATUS_FINDINGS : STATUS_OK;
	settle_result_clear(&r);
	return status;
}
