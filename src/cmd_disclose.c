/* cmd_disclose.c: `subsidy disclose --batch N -o FILE`: the masked public-notice list (公示) of one
 * batch (FORMATS.md "Public disclosure"). */
#include "cli.h"
#include "export.h"
#include "outfile.h"

#include <stdio.h>
#include <string.h>

int cmd_disclose(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	int batch_id = CLI_BATCH_UNSET;
	g_autofree char *output = NULL;
	const GOptionEntry entries[] = {
		{ "batch", 0, 0, G_OPTION_ARG_INT, &batch_id, "the batch to list", "N" },
		{ "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "the file to write (- for standard output)", "FILE" },
		{ NULL }
	};
	int parsed = cli_parse(ctx, cmd, entries, FALSE, &argc, &argv);
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

	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	gboolean ok = export_disclosure(d, batch_id, output, &error);
	db_close(d);
	if (!ok)
		return cli_fail(error);
	if (strcmp(output, OUTFILE_STDOUT) != 0)
		printf("disclose: batch %d written to %s\n", batch_id, output);
	return STATUS_OK;
}
