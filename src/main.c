/* main.c: the `subsidy` program: global options, then one command from the table. */
#include "cli.h"
#include "json.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* In the order of the work: set up, take data in, settle, pay, check. */
static const cli_command commands[] = {
	{ "init", "[--roles]", "create or upgrade the schema (with --roles: first create the roles)", cmd_init, NULL, NULL },
	{ "registry", "load KIND FILE [--json]", "load policies, shops, senders, households, campaigns or budgets",
	  cmd_registry, "subsidy_engine", NULL },
	{ "ingest", "[--profile NAME] [--set FIELD=VALUE] [--profiles DIR] [--dry-run] [--json] FILE... (- for standard input)",
	  "store courier manifests, classify every line, print counts per outcome", cmd_ingest, "subsidy_engine",
	  NULL },
	{ "settle", "[--json]", "post the differences of every changed or unfunded order as one batch", cmd_settle,
	  "subsidy_engine", NULL },
	{ "nightly", "--inbox DIR [--archive DIR] [--export-dir DIR] [--profile NAME] [--set FIELD=VALUE] [--profiles DIR]"
	  " [--syslog] [--json]",
	  "the cron job: ingest the inbox, settle, export the batch, archive the files", cmd_nightly, "subsidy_engine",
	  NULL },
	{ "withdraw", "--file ID --reason TEXT [--json]",
	  "correction: a file's lines stop counting; the next settle reverses what they paid", cmd_withdraw,
	  "subsidy_engine", NULL },
	{ "resolve", "--courier C --waybill W --take first|FILE_ID:LINE --reason TEXT [--json]",
	  "correction: the line of a CONFLICT that stands", cmd_resolve, "subsidy_engine", NULL },
	{ "reclassify", "--from DATE --to DATE --reason TEXT [--json]",
	  "correction: the next settle classifies the range again with the registry then", cmd_reclassify,
	  "subsidy_engine", NULL },
	{ "export", "--batch N [--format csv|xlsx] [--encoding utf8|gb18030] [--detail] -o FILE [--json]",
	  "a batch's finance bureau file; prints the chain heads", cmd_export, "subsidy_finance", "subsidy_engine" },
	{ "approve", "--batch N [--reason TEXT] [--json]",
	  "four eyes: finance approves a batch's digest before its payment results apply", cmd_approve,
	  "subsidy_finance", NULL },
	{ "payments", "load FILE [--json]", "load and reconcile treasury payment results", cmd_payments, "subsidy_finance",
	  NULL },
	{ "disclose", "--batch N -o FILE", "a batch's masked list for public notice", cmd_disclose, NULL, NULL },
	{ "replay", "--from DATE --to DATE [--registry as-recorded|current] [--report FILE] [--json]",
	  "auditors: recompute orders from their lines and compare with the ledger", cmd_replay, NULL, NULL },
	{ "verify", "[--expect-head HEAD]... [--json]",
	  "check the hash chains, what batches sealed, the invariants, and heads kept elsewhere", cmd_verify, NULL,
	  NULL },
	{ "status", "[--json]", "budget left per pool, outcome counts, last batch", cmd_status, NULL, NULL },
	{ "report", "[--from DATE] [--to DATE] (-o FILE.html | -o FILE.xlsx | --json)",
	  "the programme report: what reached which villages, couriers and pools, as a page, a workbook or JSON",
	  cmd_report, NULL, NULL },
	{ "why", "[--json] WAYBILL", "every line, outcome, order and posting that touched one waybill, in any spelling",
	  cmd_why, NULL, NULL },
	/* The engine, who ingested the file and fixes its profile, and the auditor, who checks why
	 * lines were not paid; finance pays shops, not lines. */
	{ "lines", "--file ID [--outcome NAME] [--csv] [--json]",
	  "every line of a stored file: its fields as parsed, outcome and reason", cmd_lines, "subsidy_engine",
	  "subsidy_auditor" },
};

static void print_help(FILE *out)
{
	fprintf(out, "usage: subsidy [--db CONNINFO] [--config FILE] COMMAND [OPTIONS] [ARGS]\n\n"
		     "Pays the rural e-commerce logistics subsidy, to the fen, and proves it.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nRun 'subsidy COMMAND --help' for a command's options; for the whole, 'man subsidy' once"
		     " installed\n(make install), 'man ./man/subsidy.1' in the source tree.\n"
		     "The database is --db, else $SUBSIDY_DB, else libpq's defaults (PGHOST, PGDATABASE...).\n");
}

/* Global options that take a value, which may stand before the command name. */
static gboolean takes_value(const char *arg)
{
	return strcmp(arg, "--db") == 0 || strcmp(arg, "--config") == 0;
}

/* Did the command line ask for --json (before a "--")? Known before parsing, so that a usage
 * error too gets its JSON object. */
static gboolean wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			return TRUE;
	return FALSE;
}

/* With --json, a non-zero exit that printed no object prints {"error": {"status", "message"}}. */
static int finish(int argc, char **argv, int status)
{
	if (status != STATUS_OK && wants_json(argc, argv) && !cli_json_was_printed()) {
		json_writer w;
		json_init(&w);
		json_object_begin(&w);
		json_key(&w, "error");
		json_object_begin(&w);
		json_key(&w, "status");
		json_int(&w, status);
		json_key(&w, "message");
		g_autofree char *fallback = g_strdup_printf("exit %d", status);
		json_string(&w, cli_noted_error() ? cli_noted_error() : fallback);
		json_object_end(&w);
		json_object_end(&w);
		g_autofree char *text = json_finish(&w);
		cli_print_json(text);
	}
	fflush(stdout);
	return status;
}

int main(int argc, char **argv)
{
	setlocale(LC_ALL, "C.UTF-8");
	/* Diagnostics (G_MESSAGES_DEBUG=all: how settle read the night) on stderr, never mixed into
	 * the --json on stdout. */
	g_log_writer_default_set_use_stderr(TRUE);
	int first = 1;
	while (first < argc && argv[first][0] == '-') {
		const char *a = argv[first];
		if (strcmp(a, "--version") == 0) {
			printf("subsidy %s\n", SUBSIDY_VERSION);
			return STATUS_OK;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			print_help(stdout);
			return STATUS_OK;
		}
		if (strcmp(a, "--") == 0)
			break;
		first += takes_value(a) ? 2 : 1;
	}
	if (first >= argc) {
		print_help(stderr);
		cli_note_error(STATUS_USAGE, "no command given");
		return finish(argc, argv, STATUS_USAGE);
	}
	const cli_command *cmd = NULL;
	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
		if (strcmp(commands[i].name, argv[first]) == 0)
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "subsidy: unknown command '%s'\n", argv[first]);
		print_help(stderr);
		g_autofree char *msg = g_strdup_printf("unknown command '%s'", argv[first]);
		cli_note_error(STATUS_USAGE, msg);
		return finish(argc, argv, STATUS_USAGE);
	}
	/* The command sees its own name first, then every other argument in order, so the global
	 * options given before the name are parsed with the command's own. */
	char **cargv = g_new0(char *, argc + 1);
	int cargc = 0;
	cargv[cargc++] = g_strdup_printf("subsidy %s", cmd->name);
	for (int i = 1; i < argc; i++)
		if (i != first)
			cargv[cargc++] = g_strdup(argv[i]);
	cli_context ctx = { 0 };
	ctx.progress = isatty(STDERR_FILENO);
	int status = cmd->run(&ctx, cmd, cargc, cargv);
	g_strfreev(cargv);
	cli_context_clear(&ctx);
	return finish(argc, argv, status);
}
