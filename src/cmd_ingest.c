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

int cmd_ingest(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	char *profile_name = NULL;
	char **overrides = NULL, **profile_dirs = NULL;
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
	int status = STATUS_OK;
	profile_set *profiles = NULL;
	status = cli_parse(ctx, cmd, entries, TRUE, &argc, &argv);
	if (status != STATUS_OK)
		goto done;
	if (argc < 2) {
		status = cli_usage_error(cmd, "no FILE given");
		goto done;
	}
	int from_stdin = 0;
	for (int i = 1; i < argc; i++)
		from_stdin += ingest_is_stdin(argv[i]);
	if (from_stdin > 1) {
		status = cli_usage_error(cmd, "standard input ('-' or /dev/stdin) given %d times: it can be read once",
					 from_stdin);
		goto done;
	}
	GError *error = NULL;
	if (!profile_check_overrides((const char *const *)overrides, &error)) {
		status = cli_usage_error(cmd, "%s", error->message);
		g_error_free(error);
		goto done;
	}
	profiles = cli_profiles(ctx, profile_dirs, &error);
	if (!profiles) {
		status = cli_fail(error);
		goto done;
	}
	if (profile_name && !profile_set_find(profiles, profile_name)) {
		status = cli_usage_error(cmd, "unknown profile '%s'", profile_name);
		goto done;
	}
	db *d = cli_connect(ctx, &error);
	if (!d) {
		status = cli_fail(error);
		goto done;
	}
	ingest_options o = { 0 };
	o.profiles = profiles;
	o.profile_name = profile_name;
	o.overrides = (const char *const *)overrides;
	o.now = chrono_now();
	o.progress = ctx->progress;
	o.dry_run = dry_run;
	if (!dry_run && !ingest_begin_run(d, "ingest", cli_os_user(), &o.run_id, &error)) {
		db_close(d);
		status = cli_fail(error);
		goto done;
	}
	int n = argc - 1;
	ingest_file_result *results = g_new0(ingest_file_result, n);
	int done_files = 0;
	for (int i = 0; i < n; i++, done_files++) {
		gboolean ok;
		if (ingest_is_stdin(argv[i + 1])) {
			GError *why = NULL;
			g_autofree char *copy = ingest_stdin_save(&why);
			if (copy) {
				ok = ingest_file_as(d, copy, INGEST_STDIN_NAME, &o, &results[i], &error);
				ingest_stdin_remove(copy);
			} else if (why->code == STATUS_SOFTWARE) {
				g_propagate_error(&error, why);
				ok = FALSE;
			} else {
				results[i].name = g_strdup(INGEST_STDIN_NAME);
				results[i].status = INGEST_REFUSED;
				results[i].exit_status = why->code;
				results[i].reason = g_strdup(why->message);
				g_error_free(why);
				ok = TRUE;
			}
		} else {
			ok = ingest_file(d, argv[i + 1], &o, &results[i], &error);
		}
		if (ok && !dry_run && results[i].status == INGEST_STORED)
			ok = ingest_read_reasons(d, &results[i], &error);
		if (!ok)
			break;
		if (results[i].status == INGEST_REFUSED) {
			fprintf(stderr, "subsidy: refused '%s': %s\n", results[i].name, results[i].reason);
			status = MAX(status, results[i].exit_status);
		}
	}
	db_close(d);
	if (ctx->json) {
		json_writer w;
		json_init(&w);
		json_object_begin(&w);
		if (dry_run) { /* before CLI.md's keys, whose totals end the object */
			json_key(&w, "dry_run");
			json_bool(&w, TRUE);
		}
		ingest_json(&w, results, done_files);
		json_object_end(&w);
		g_autofree char *text = json_finish(&w);
		cli_print_json(text);
	} else {
		ingest_print_text(results, done_files);
		if (dry_run)
			printf("dry run: nothing was stored\n");
	}
	for (int i = 0; i < n; i++)
		ingest_file_result_clear(&results[i]);
	g_free(results);
	if (error)
		status = cli_fail(error);
done:
	if (profiles)
		profile_set_free(profiles);
	g_free(profile_name);
	g_strfreev(overrides);
	g_strfreev(profile_dirs);
	return status;
}
