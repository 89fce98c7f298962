/* cmd_acts.c: the correction acts of CONTROL.md (acts.h): `subsidy withdraw --file ID --reason
 * TEXT`, `subsidy resolve --courier C --waybill W --take first|FILE_ID:LINE --reason TEXT`,
 * `subsidy reclassify --from DATE --to DATE --reason TEXT`. Each records its act and prints its
 * reference; the next settle posts what it changes. Exit 64 for an act refused (an unknown or
 * already withdrawn file, a line that is not a CONFLICT line of the waybill, a short reason). */
#include "acts.h"
#include "cli.h"
#include "json.h"

#include <stdio.h>

static int report(cli_context *ctx, const char *what, const acts_result *r)
{
	if (ctx->json) {
		json_writer w;
		json_init(&w);
		json_object_begin(&w);
		json_key(&w, "act");
		json_string(&w, r->ref);
		json_key(&w, "lines");
		json_int(&w, r->lines);
		json_key(&w, "claims");
		json_int(&w, r->claims);
		if (r->note) {
			json_key(&w, "note");
			json_string(&w, r->note);
		}
		json_object_end(&w);
		g_autofree char *text = json_finish(&w);
		cli_print_json(text);
	} else {
		printf("%s: act %s recorded", what, r->ref);
		if (r->lines || r->claims)
			printf(": %" G_GINT64_FORMAT " lines changed, %" G_GINT64_FORMAT " claims released or moved",
			       (gint64)r->lines, (gint64)r->claims);
		printf("; the next settle posts the differences\n");
		if (r->note)
			printf("%s: %s\n", what, r->note);
	}
	return STATUS_OK;
}

/* Parses the options; -1 when the act may go on, else the exit status. */
static int run(cli_context *ctx, const cli_command *cmd, int argc, char **argv, const GOptionEntry *entries)
{
	int parsed = cli_parse(ctx, cmd, entries, TRUE, &argc, &argv);
	if (parsed != STATUS_OK)
		return parsed;
	if (argc != 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);
	return -1;
}

int cmd_withdraw(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	g_autofree char *file = NULL, *reason = NULL;
	const GOptionEntry entries[] = {
		{ "file", 0, 0, G_OPTION_ARG_STRING, &file, "the file: its id (ingest's file_id) or SHA-256", "ID" },
		{ "reason", 0, 0, G_OPTION_ARG_STRING, &reason, "why (at least 4 characters)", "TEXT" },
		G_OPTION_ENTRY_NULL
	};
	int st = run(ctx, cmd, argc, argv, entries);
	if (st == -1 && (!file || !reason))
		st = cli_usage_error(cmd, "--%s is required", !file ? "file" : "reason");
	if (st != -1)
		return st;
	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	acts_result r = { 0 };
	gboolean ok = acts_withdraw(d, cli_os_user(), file, reason, &r, &error);
	db_close(d);
	if (!ok)
		return cli_fail(error);
	report(ctx, "withdraw", &r);
	acts_result_clear(&r);
	return STATUS_OK;
}

int cmd_resolve(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	g_autofree char *courier = NULL, *waybill = NULL, *take = NULL, *reason = NULL;
	const GOptionEntry entries[] = {
		{ "courier", 0, 0, G_OPTION_ARG_STRING, &courier, "the waybill's courier", "C" },
		{ "waybill", 0, 0, G_OPTION_ARG_STRING, &waybill, "the waybill, in any spelling", "W" },
		{ "take", 0, 0, G_OPTION_ARG_STRING, &take, "the line that stands: first, or a CONFLICT line",
		  "first|FILE_ID:LINE" },
		{ "reason", 0, 0, G_OPTION_ARG_STRING, &reason, "why (at least 4 characters)", "TEXT" },
		G_OPTION_ENTRY_NULL
	};
	int st = run(ctx, cmd, argc, argv, entries);
	if (st == -1 && (!courier || !waybill || !take || !reason))
		st = cli_usage_error(cmd, "--%s is required",
				     !courier ? "courier" : !waybill ? "waybill" : !take ? "take" : "reason");
	if (st != -1)
		return st;
	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	acts_result r = { 0 };
	gboolean ok = acts_resolve(d, cli_os_user(), courier, waybill, take, reason, &r, &error);
	db_close(d);
	if (!ok)
		return cli_fail(error);
	report(ctx, "resolve", &r);
	acts_result_clear(&r);
	return STATUS_OK;
}

int cmd_reclassify(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	g_autofree char *from = NULL, *to = NULL, *reason = NULL;
	const GOptionEntry entries[] = {
		{ "from", 0, 0, G_OPTION_ARG_STRING, &from, "first pickup day (included)", "YYYY-MM-DD" },
		{ "to", 0, 0, G_OPTION_ARG_STRING, &to, "last pickup day (included)", "YYYY-MM-DD" },
		{ "reason", 0, 0, G_OPTION_ARG_STRING, &reason, "why (at least 4 characters)", "TEXT" },
		G_OPTION_ENTRY_NULL
	};
	int st = run(ctx, cmd, argc, argv, entries);
	if (st == -1 && (!from || !to || !reason))
		st = cli_usage_error(cmd, "--%s is required", !from ? "from" : !to ? "to" : "reason");
	if (st != -1)
		return st;
	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	acts_result r = { 0 };
	gboolean ok = acts_reclassify(d, cli_os_user(), from, to, reason, &r, &error);
	db_close(d);
	if (!ok)
		return cli_fail(error);
	report(ctx, "reclassify", &r);
	acts_result_clear(&r);
	return STATUS_OK;
}
