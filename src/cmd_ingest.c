/* cmd_ingest.c: `subsidy ingest [--profile NAME] [--set FIELD=VALUE] [--dry-run] FILE...`: store manifests in
 * the order given, classify every line, print the counts per outcome. A file refused as a whole
 * does not stop the others; the exit is then 65 (66 when a file could not be opened, or is not a
 * regular file). '-' or /dev/stdin (once) reads standard input, recorded as "stdin". */
#include "cli.h"
#include "ingest.h"
#include "json.h"
#include "profile.h"
#include "registry.h"

#include <stdio.h>

/* Ingests one FILE operand: a file, or standard input saved to a private copy first. FALSE (with
 * error) stops the run; a file refused as a whole is no failure (result->status says it). */
static gboolean ingest_operand(db *d, const char *arg, const ingest_options *o, ingest_file_result *result,
			       GError **error)
{
	g_assert(arg != NULL && result->name == NULL);
	if (!ingest_is_stdin(arg))
		return ingest_file(d, arg, o, result, error);
	GError *why = NULL;
	g_autofree char *copy = ingest_stdin_save(&why);
	if (copy) {
		gboolean ok = ingest_file_as(d, copy, INGEST_STDIN_NAME, o, result, error);
		ingest_stdin_remove(copy);
		return ok;
	}
	g_assert(why != NULL);
	if (why->code == STATUS_SOFTWARE) {
		g_propagate_error(error, why);
		return FALSE;
	}
	result->name = g_strdup(INGEST_STDIN_NAME);
	result->status = INGEST_REFUSED;
	result->exit_status = why->code;
	result->reason = g_strdup(why->message);
	g_error_free(why);
	g_assert(result->exit_status != STATUS_OK);
	return TRUE;
}

/* Ingests the n files in turn into results, each refused file named on stderr; *done counts the
 * files done (a failure stops at the file it failed on) and *status takes the highest exit status
 * of a refused file. */
static gboolean ingest_operands(db *d, char **files, int n, const ingest_options *o, ingest_file_result *results,
				int *done, int *status, GError **error)
{
	g_assert(n > 0 && *done == 0);
	for (int i = 0; i < n; i++) {
		gboolean ok = ingest_operand(d, files[i], o, &results[i], error);
		if (ok && !o->dry_run && results[i].status == INGEST_STORED)
			ok = ingest_read_reasons(d, &results[i], error);
		if (!ok)
			return FALSE;
		if (results[i].status == INGEST_REFUSED) {
			fprintf(stderr, "subsidy: refused '%s': %s\n", results[i].name, results[i].reason);
			*status = MAX(*status, results[i].exit_status);
		}
		(*done)++;
	}
	g_assert(*done == n);
	return TRUE;
}

static void print_results(const cli_context *ctx, const ingest_file_result *results, int n, gboolean dry_run)
{
	g_assert(n >= 0);
	g_assert(n == 0 || results != NULL);
	if (ctx->json) {
		json_writer w;
		json_init(&w);
		json_object_begin(&w);
		if (dry_run) { /* before CLI.md's keys, whose totals end the object */
			json_key(&w, "dry_run");
			json_bool(&w, TRUE);
		}
		ingest_json(&w, results, n);
		json_object_end(&w);
		g_autofree char *text = json_finish(&w);
		cli_print_json(text);
	} else {
		ingest_print_text(results, n);
		if (dry_run)
			printf("dry run: nothing was stored\n");
	}
}

/* Connects, begins the run (none for a dry run), ingests the files of argv[1..argc-1] and prints
 * what became of each: the files done before a failure too. */
static int ingest(cli_context *ctx, int argc, char **argv, ingest_options *o)
{
	g_assert(argc >= 2);
	g_assert(o->profiles != NULL && o->run_id == 0);
	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	o->now = chrono_now();
	if (!o->dry_run && !ingest_begin_run(d, "ingest", cli_os_user(), &o->run_id, &error)) {
		db_close(d);
		return cli_fail(error);
	}
	int n = argc - 1, done = 0, status = STATUS_OK;
	ingest_file_result *results = g_new0(ingest_file_result, n);
	gboolean ok = ingest_operands(d, argv + 1, n, o, results, &done, &status, &error);
	db_close(d);
	g_assert(ok == (error == NULL));
	print_results(ctx, results, done, o->dry_run);
	for (int i = 0; i < n; i++)
		ingest_file_result_clear(&results[i]);
	g_free(results);
	return ok ? status : cli_fail(error);
}

/* The options' checks before any file is read: standard input at most once, --set items, the
 * profile named. STATUS_OK, or the exit status after saying why. */
static int check_options(cli_context *ctx, const cli_command *cmd, int argc, char **argv, ingest_options *o,
			 char **overrides, char **profile_dirs, profile_set **profiles)
{
	g_assert(argc >= 2);
	g_assert(*profiles == NULL);
	int from_stdin = 0;
	for (int i = 1; i < argc; i++)
		from_stdin += ingest_is_stdin(argv[i]);
	if (from_stdin > 1)
		return cli_usage_error(cmd, "standard input ('-' or /dev/stdin) given %d times: it can be read once",
				       from_stdin);
	GError *error = NULL;
	if (!profile_check_overrides((const char *const *)overrides, &error)) {
		int status = cli_usage_error(cmd, "%s", error->message);
		g_error_free(error);
		return status;
	}
	*profiles = cli_profiles(ctx, profile_dirs, &error);
	if (!*profiles)
		return cli_fail(error);
	if (o->profile_name && !profile_set_find(*profiles, o->profile_name))
		return cli_usage_error(cmd, "unknown profile '%s'", o->profile_name);
	o->profiles = *profiles;
	return STATUS_OK;
}

int cmd_ingest(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	g_autofree char *profile_name = NULL;
	g_auto(GStrv) overrides = NULL, profile_dirs = NULL;
	gboolean dry_run = FALSE;
	const GOptionEntry entries[] = {
		{ "profile", 0, 0, G_OPTION_ARG_STRING, &profile_name, "the files' profile (default: detected from the header)",
		  "NAME" },
		{ "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &overrides, "fix a canonical field for every line (repeatable)",
		  "FIELD=VALUE" },
		{ "profiles", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &profile_dirs, "a directory of extra profiles (repeatable)",
		  "DIR" },
		{ "dry-run", 0, 0, G_OPTION_ARG_NONE, &dry_run,
		  "read and classify, store nothing: the profile, the first lines as parsed, the counts, the reasons",
		  NULL },
		{ NULL }
	};
	int status = cli_parse(ctx, cmd, entries, TRUE, &argc, &argv);
	if (status != STATUS_OK)
		return status;
	if (argc < 2)
		return cli_usage_error(cmd, "no FILE given");
	ingest_options o = { 0 };
	o.profile_name = profile_name;
	o.overrides = (const char *const *)overrides;
	o.progress = ctx->progress;
	o.dry_run = dry_run;
	profile_set *profiles = NULL;
	status = check_options(ctx, cmd, argc, argv, &o, overrides, profile_dirs, &profiles);
	g_assert(status != STATUS_OK || o.profiles == profiles);
	g_assert(status == STATUS_OK || status >= STATUS_USAGE);
	if (status == STATUS_OK)
		status = ingest(ctx, argc, argv, &o);
	if (profiles)
		profile_set_free(profiles);
	return status;
}
