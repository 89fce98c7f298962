/* cmd_export.c: `subsidy export --batch N [--format csv|xlsx] [--encoding utf8|gb18030] [--detail]
 * -o FILE [--json]`: the finance bureau's file of one batch, and FILE.sha256 beside it (FORMATS.md).
 * Prints the chain heads (B<batch>:<digest>, P<load>:<digest>) for whoever keeps them elsewhere:
 * `verify --expect-head` checks one. The file's format is fixed, so the heads are not in it. */
#include "cli.h"
#include "export.h"
#include "json.h"
#include "ledger.h"

#include <stdio.h>
#include <string.h>

/* What was written, and the chain heads to keep elsewhere. */
static void print_heads(const cli_context *ctx, int batch_id, const char *output, const char *head,
			const char *payments_head)
{
	g_assert(batch_id >= 1 && output != NULL);
	g_assert(head != NULL); /* the batch exported is in the chain */
	if (ctx->json) {
		json_writer w;
		json_init(&w);
		json_object_begin(&w);
		json_key(&w, "batch");
		json_int(&w, batch_id);
		json_key(&w, "file");
		json_string(&w, output);
		json_key(&w, "head");
		json_string(&w, head);
		json_key(&w, "payments_head");
		json_string(&w, payments_head);
		json_object_end(&w);
		g_autofree char *text = json_finish(&w);
		printf("%s\n", text);
	} else {
		printf("export: batch %d written to %s and %s" EXPORT_SHA256_SUFFIX "\n", batch_id, output, output);
		printf("export: chain head %s; payments head %s (keep them: verify --expect-head)\n", head,
		       payments_head ? payments_head : "none");
	}
}

int cmd_export(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	int batch_id = CLI_BATCH_UNSET;
	gboolean detail = FALSE;
	g_autofree char *format = NULL, *encoding = NULL, *output = NULL;
	const GOptionEntry entries[] = {
		{ "batch", 0, 0, G_OPTION_ARG_INT, &batch_id, "the batch to export", "N" },
		{ "format", 0, 0, G_OPTION_ARG_STRING, &format, "csv (the default) or xlsx", "csv|xlsx" },
		{ "encoding", 0, 0, G_OPTION_ARG_STRING, &encoding, "of a CSV: utf8 (with BOM, the default) or gb18030",
		  "utf8|gb18030" },
		{ "detail", 0, 0, G_OPTION_ARG_NONE, &detail, "one row per posting instead of one per shop", NULL },
		{ "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "the file to write (and FILE.sha256)", "FILE" },
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
	if (!output || !*output)
		return cli_usage_error(cmd, "-o FILE is required");
	export_options o = EXPORT_OPTIONS_DEFAULT;
	o.detail = detail;
	if (format && strcmp(format, "xlsx") == 0)
		o.format = EXPORT_FORMAT_XLSX;
	else if (format && strcmp(format, "csv") != 0)
		return cli_usage_error(cmd, "unknown format '%s' (csv or xlsx)", format);
	if (encoding && strcmp(encoding, "gb18030") == 0)
		o.encoding = EXPORT_ENCODING_GB18030;
	else if (encoding && strcmp(encoding, "utf8") != 0)
		return cli_usage_error(cmd, "unknown encoding '%s' (utf8 or gb18030)", encoding);
	if (o.format == EXPORT_FORMAT_XLSX && o.encoding != EXPORT_ENCODING_UTF8)
		return cli_usage_error(cmd, "--encoding is for CSV; an XLSX file has its own");

	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	g_autofree char *head = NULL, *payments_head = NULL;
	gboolean ok = export_batch(d, batch_id, &o, output, &error) &&
		      ledger_chain_heads(d, &head, &payments_head, &error);
	db_close(d);
	if (!ok)
		return cli_fail(error);
	print_heads(ctx, batch_id, output, head, payments_head);
	return STATUS_OK;
}
