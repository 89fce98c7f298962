/* cmd_settle.c: `subsidy settle [--json]`: post the differences for every order whose
 * entitlement changed or is unfunded, as one new batch; exit 75 when another run holds the
 * settlement lock. */
#include "cli.h"
#include "json.h"
#include "money.h"
#include "settle.h"

#include <stdio.h>

void settle_print(const settle_result *r, gboolean as_json)
{
	if (as_json) {
		json_writer w;
		json_init(&w);
		json_object_begin(&w);
		json_key(&w, "batch");
		if (r->batch_id)
			json_int(&w, r->batch_id);
		else
			json_null(&w);
		json_key(&w, "orders");
		json_int(&w, r->orders);
		json_key(&w, "postings");
		json_int(&w, r->postings);
		json_key(&w, "posted_fen");
		json_int(&w, r->posted_fen);
		json_key(&w, "unfunded_fen");
		json_int(&w, r->batch_id ? r->unfunded_fen : 0);
		json_object_end(&w);
		g_autofree char *text = json_finish(&w);
		printf("%s\n", text);
		return;
	}
	char posted[MONEY_TEXT_MAX], unfunded[MONEY_TEXT_MAX];
	money_format(r->posted_fen, posted);
	money_format(r->unfunded_fen, unfunded);
	if (r->batch_id)
		printf("settle: batch %d: %d postings for %d orders, %s yuan posted; %s yuan owed and not funded\n",
		       r->batch_id, r->postings, r->orders, posted, unfunded);
	else
		printf("settle: nothing to record, no batch; %s yuan owed and not funded\n", unfunded);
}

int cmd_settle(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	if (!cli_parse(ctx, cmd, NULL, TRUE, &argc, &argv))
		return STATUS_USAGE;
	if (argc != 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);
	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	settle_result r = { 0 };
	gboolean ok = db_lock_settlement(d, &error) && settle_run(d, cli_os_user(), &r, &error);
	db_close(d);
	if (!ok)
		return cli_fail(error);
	settle_print(&r, ctx->json);
	return STATUS_OK;
}
