/* cmd_report.c: `subsidy report [--from DATE --to DATE] (-o FILE.html | -o FILE.xlsx | --json)`:
 * the programme report of REPORT.md, computed from the ledger and the registry; changes nothing.
 * -o picks the format by the file's extension. */
#include "cli.h"
#include "outfile.h"
#include "report.h"

#include <stdio.h>
#include <string.h>

int cmd_report(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	g_autofree char *from_text = NULL, *to_text = NULL, *output = NULL;
	const GOptionEntry entries[] = {
		{ "from", 0, 0, G_OPTION_ARG_STRING, &from_text, "first order date (included; default: the first)",
		  "YYYY-MM-DD" },
		{ "to", 0, 0, G_OPTION_ARG_STRING, &to_text, "last order date (included; default: the last)",
		  "YYYY-MM-DD" },
		{ "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "the page (FILE.html) or workbook (FILE.xlsx)",
		  "FILE" },
		{ NULL }
	};
	int parsed = cli_parse(ctx, cmd, entries, TRUE, &argc, &argv);
	if (parsed != STATUS_OK)
		return parsed;
	if (argc != 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);
	if (!output == !ctx->json)
		return cli_usage_error(cmd, "give one of -o FILE.html, -o FILE.xlsx or --json");
	gboolean xlsx = FALSE;
	if (output) {
		if (!*output || strcmp(output, OUTFILE_STDOUT) == 0)
			return cli_usage_error(cmd, "-o needs a file name ending in .html or .xlsx");
		if (g_str_has_suffix(output, ".xlsx"))
			xlsx = TRUE;
		else if (!g_str_has_suffix(output, ".html") && !g_str_has_suffix(output, ".htm"))
			return cli_usage_error(cmd, "-o '%s': the name must end in .html or .xlsx", output);
	}
	chrono_day from = 0, to = 0;
	char from_day[CHRONO_DAY_TEXT_MAX], to_day[CHRONO_DAY_TEXT_MAX];
	g_autoptr(GError) perr = NULL;
	if (from_text && !chrono_parse_day(from_text, &from, &perr))
		return cli_usage_error(cmd, "bad --from date '%s': %s", from_text, perr->message);
	if (to_text && !chrono_parse_day(to_text, &to, &perr))
		return cli_usage_error(cmd, "bad --to date '%s': %s", to_text, perr->message);
	if (from_text && to_text && from > to)
		return cli_usage_error(cmd, "--from %s is after --to %s", from_text, to_text);
	if (from_text)
		chrono_format_day(from, from_day);
	if (to_text)
		chrono_format_day(to, to_day);

	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	g_autoptr(report) r = report_compute(d, from_text ? from_day : NULL, to_text ? to_day : NULL, &error);
	db_close(d);
	if (!r)
		return cli_fail(error);
	if (!output) {
		g_autofree char *text = report_json(r);
		cli_print_json(text);
		return STATUS_OK;
	}
	if (!(xlsx ? report_write_xlsx(r, output, &error) : report_write_html(r, output, &error)))
		return cli_fail(error);
	printf("report: %s written (%s; last batch %d)\n", output,
	       from_text || to_text ? "orders dated in the range" : "every order", r->last_batch);
	return STATUS_OK;
}
