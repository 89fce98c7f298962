/* cmd_nightly.c: `subsidy nightly --inbox DIR [--archive DIR] [--export-dir DIR] [--syslog]
 * [--profile NAME] [--set FIELD=VALUE] [--profiles DIR] [--json]`: the cron entry point (nightly.h
 * does the work). --profile and --set are for the files directly in the inbox; the files of a
 * route folder take their route's ([route NAME] in the config file, checked here before any work).
 * Prints a summary a person reads in ten seconds, or with --json one object for monitoring:
 *   {"files": [as ingest], "outcomes": {...}, "settle": {as settle}, "export": path | null,
 *    "report": the report.html written | null,
 *    "exports": [every file exported by the run], "pools": [{"pool_id", "amount_fen", "left_fen"}],
 *    "unrouted": [folders of the inbox no route names, left alone],
 *    "waiting": n, "head": "B<batch>:<digest>" | null, "payments_head": "P<load>:<digest>" | null}
 * The heads are the chains' newest links after the run, to keep outside the database (the summary
 * mailed or journaled is such a place): `verify --expect-head` checks one.
 * Timestamped log lines go to stderr (and syslog with --syslog). Exit 0; 1 when a file was refused
 * as a whole; 75 when another run holds the settlement lock (nothing changed: cron retries); 64 on
 * bad usage or a database without the schema; 65 for a bad profile file; 66 when the inbox cannot
 * be read; 69 without a database; 70 otherwise. */
#include "cli.h"
#include "inbox.h"
#include "ingest.h"
#include "json.h"
#include "money.h"
#include "nightly.h"
#include "profile.h"
#include "runlog.h"
#include "text.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>

/* The ingest results of the report's files, side by side as ingest_json and ingest_print_text
 * take them: shallow copies, owned by the report. Caller frees the array only. */
static ingest_file_result *ingest_results(const nightly_report *r)
{
	ingest_file_result *results = g_new0(ingest_file_result, r->files->len + 1);
	for (guint i = 0; i < r->files->len; i++)
		results[i] = g_array_index(r->files, nightly_file, i).ingest;
	return results;
}

static void print_json(const nightly_report *r)
{
	g_autofree ingest_file_result *results = ingest_results(r);
	json_writer w;
	json_init(&w);
	json_object_begin(&w);
	ingest_json(&w, results, r->files->len);
	json_key(&w, "settle");
	settle_json(&w, &r->settle);
	json_key(&w, "export");
	json_string(&w, r->export_path);
	json_key(&w, "report");
	json_string(&w, r->report_path);
	json_key(&w, "exports");
	json_array_begin(&w);
	for (guint i = 0; i < r->exports->len; i++)
		json_string(&w, r->exports->pdata[i]);
	json_array_end(&w);
	json_key(&w, "pools");
	json_array_begin(&w);
	for (guint i = 0; i < r->pools->len; i++) {
		const nightly_pool *p = &g_array_index(r->pools, nightly_pool, i);
		json_object_begin(&w);
		json_key(&w, "pool_id");
		json_string(&w, p->pool_id);
		json_key(&w, "amount_fen");
		json_int(&w, p->amount_fen);
		json_key(&w, "left_fen");
		json_int(&w, p->left_fen);
		json_object_end(&w);
	}
	json_array_end(&w);
	json_key(&w, "unrouted");
	json_array_begin(&w);
	for (guint i = 0; i < r->unrouted->len; i++)
		json_string(&w, r->unrouted->pdata[i]);
	json_array_end(&w);
	json_key(&w, "waiting");
	json_int(&w, r->waiting);
	json_key(&w, "retry");
	json_int(&w, r->retry);
	json_key(&w, "head");
	json_string(&w, r->head);
	json_key(&w, "payments_head");
	json_string(&w, r->payments_head);
	json_object_end(&w);
	g_autofree char *text = json_finish(&w);
	cli_print_json(text);
}

/* Where the files went: the archive folder once, then every file that went elsewhere or under
 * another name. */
static void print_moves(const nightly_report *r)
{
	g_assert(r->files != NULL);
	guint archived = 0;
	g_autofree char *archive_dir = NULL;
	for (guint i = 0; i < r->files->len; i++) {
		const nightly_file *f = &g_array_index(r->files, nightly_file, i);
		g_autofree char *from = g_path_get_basename(f->ingest.name);
		g_autofree char *moved_to = f->moved_to ? text_shown(f->moved_to) : NULL;
		g_autofree char *to = moved_to ? g_path_get_basename(moved_to) : NULL;
		if (!f->moved_to)
			printf("not moved: %s stays in the inbox for the next run\n", f->ingest.name);
		else if (f->ingest.status == INGEST_REFUSED)
			printf("rejected: %s (why: %s" INBOX_REASON_SUFFIX ")\n", moved_to, to);
		else if (archived++ == 0)
			archive_dir = r->archive_day ? text_shown(r->archive_day) : g_path_get_dirname(moved_to);
		if (f->moved_to && f->ingest.status != INGEST_REFUSED && strcmp(from, to) != 0)
			printf("archived %s as %s (the name was taken)\n", from, to);
	}
	g_assert(archived <= r->files->len);
	if (archived)
		printf("archived: %u files in %s\n", archived, archive_dir);
}

static void print_text(const nightly_report *r)
{
	g_assert(r->settled); /* a summary is of a night that settled */
	g_assert(r->files != NULL && r->pools != NULL && r->export_kinds != NULL);
	guint n[INGEST_REFUSED + 1] = { 0 };
	for (guint i = 0; i < r->files->len; i++)
		n[g_array_index(r->files, nightly_file, i).ingest.status]++;
	printf("nightly %s: files %u: %u stored, %u skipped, %u refused", r->run_day, r->files->len,
	       n[INGEST_STORED], n[INGEST_SKIPPED], n[INGEST_REFUSED]);
	if (r->waiting)
		printf("; %u left in the inbox as uploads in progress", r->waiting);
	if (r->retry)
		printf("; %u left in the inbox to try again (not read whole: see the log)", r->retry);
	printf("\n");
	for (guint i = 0; i < r->unrouted->len; i++)
		printf("left alone: folder '%s' of the inbox: no route names it (add a [route %s] group to the config"
		       " file)\n", (const char *)r->unrouted->pdata[i], (const char *)r->unrouted->pdata[i]);
	g_autofree ingest_file_result *results = ingest_results(r);
	ingest_print_text(results, r->files->len);
	print_moves(r);
	settle_print_text(&r->settle);
	char amount[MONEY_TEXT_MAX], left[MONEY_TEXT_MAX];
	printf("budget left (yuan):");
	for (guint i = 0; i < r->pools->len; i++) {
		const nightly_pool *p = &g_array_index(r->pools, nightly_pool, i);
		printf("%s %s %s of %s", i ? ";" : "", p->pool_id, money_format(p->left_fen, left),
		       money_format(p->amount_fen, amount));
	}
	printf("%s\n", r->pools->len ? "" : " no pool");
	g_autofree char *export_path = r->export_path ? text_shown(r->export_path) : NULL;
	if (export_path)
		printf("export: %s\n", export_path);
	else
		printf("export: none (no new batch)\n");
	for (guint i = 0; i < r->export_kinds->len; i++) {
		const nightly_export *e = &g_array_index(r->export_kinds, nightly_export, i);
		g_autofree char *path = text_shown(e->path);
		if (e->kind == NIGHTLY_EXPORT_UNRECORDED)
			printf("export: %s (batch %d had no export recorded: its run stopped after it settled)\n",
			       path, e->batch_id);
		else if (e->kind == NIGHTLY_EXPORT_AGAIN)
			printf("export: %s (written again where batch %d was exported: the file was missing)\n", path,
			       e->batch_id);
	}
	if (r->report_path) {
		g_autofree char *report_path = text_shown(r->report_path);
		printf("report: %s (the programme to date)\n", report_path);
	}
	if (r->files->len == 0 && !r->settle.batch_id && r->exports->len == 0)
		printf("nothing to do: no file in the inbox, nothing to settle, nothing changed\n");
	if (r->head || r->payments_head)
		printf("chain head %s; payments head %s (keep them: verify --expect-head)\n",
		       r->head ? r->head : "none", r->payments_head ? r->payments_head : "none");
}

/* Logs the failure (stderr and syslog) and returns its exit status; consumes error. A refused file
 * is no failure (it makes exit 1), so a failure keeps its status as every command's does: 64 for a
 * database without the schema, 65 for a bad profile file... */
static int fail(GError *error)
{
	int code = cli_exit_status(error);
	runlog(code == STATUS_TEMPFAIL ? LOG_NOTICE : LOG_ERR, "%s (exit %d)", error->message, code);
	cli_note_error(code, error->message);
	g_error_free(error);
	return code;
}

/* The configuration's routes as nightly_run takes them, checked against the profiles (a profile
 * that exists, fields that are canonical): STATUS_USAGE naming the config and the route. The
 * array points into ctx. */
static GArray *routes_of(cli_context *ctx, const profile_set *profiles, GError **error)
{
	GArray *routes = g_array_new(FALSE, TRUE, sizeof(nightly_route));
	for (guint i = 0; ctx->routes && i < ctx->routes->len; i++) {
		const cli_route *cr = ctx->routes->pdata[i];
		GError *why = NULL;
		if (!profile_set_find(profiles, cr->profile)) {
			g_set_error(error, PROFILE_ERROR, STATUS_USAGE,
				    "config '%s': [route %s] names profile '%s', which is not a profile\n"
				    "HINT: a built-in one or a NAME.profile in the config's profiles= folders",
				    ctx->config, cr->name, cr->profile);
		} else if (!profile_check_overrides((const char *const *)cr->set, &why)) {
			g_set_error(error, PROFILE_ERROR, STATUS_USAGE, "config '%s': [route %s]: set: %s", ctx->config,
				    cr->name, why->message);
			g_error_free(why);
		} else {
			nightly_route r = { cr->name, cr->profile, (const char *const *)cr->set };
			g_array_append_val(routes, r);
			continue;
		}
		g_array_free(routes, TRUE);
		return NULL;
	}
	return routes;
}

/* The options of a night, as given. */
typedef struct {
	char *inbox, *archive, *export_dir, *profile_name;
	char **profile_dirs, **overrides;
	gboolean use_syslog;
} nightly_args;

static void nightly_args_clear(nightly_args *a)
{
	g_free(a->inbox);
	g_free(a->archive);
	g_free(a->export_dir);
	g_strfreev(a->profile_dirs);
	g_free(a->profile_name);
	g_strfreev(a->overrides);
}

/* The checks of the options before any work: no operand, an inbox, --set items. STATUS_OK, or
 * STATUS_USAGE after saying why. */
static int check_options(const cli_command *cmd, int argc, char **argv, const nightly_args *a)
{
	g_assert(argc >= 1 && argv != NULL);
	g_assert(cmd != NULL);
	if (argc != 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);
	if (!a->inbox)
		return cli_usage_error(cmd, "no --inbox given");
	GError *error = NULL;
	if (!profile_check_overrides((const char *const *)a->overrides, &error)) {
		int status = cli_usage_error(cmd, "%s", error->message);
		g_error_free(error);
		return status;
	}
	return STATUS_OK;
}

/* Runs the night on d and prints its summary (once it settled); returns the exit status. */
static int night(cli_context *ctx, db *d, const nightly_args *a, const profile_set *profiles, const GArray *routes)
{
	g_assert(d != NULL && a->inbox != NULL);
	g_assert(profiles != NULL && routes != NULL);
	nightly_options o = { 0 };
	o.inbox = a->inbox;
	o.archive_dir = a->archive;
	o.export_dir = a->export_dir ? a->export_dir : ctx->export_dir;
	o.profiles = profiles;
	o.profile_name = a->profile_name;
	o.overrides = (const char *const *)a->overrides;
	o.routes = (const nightly_route *)(void *)routes->data;
	o.n_routes = routes->len;
	o.os_user = cli_os_user();
	o.progress = ctx->progress;
	nightly_report report;
	nightly_report_init(&report);
	GError *error = NULL;
	gboolean ok = nightly_run(d, &o, &report, &error);
	g_assert(ok == (error == NULL));
	if (report.settled) {
		if (ctx->json)
			print_json(&report);
		else
			print_text(&report);
		settle_print_held(&report.settle);
	}
	int status = ok ? nightly_exit_status(&report) : fail(error);
	if (ok)
		runlog(status ? LOG_WARNING : LOG_INFO, "finished: exit %d%s", status,
			    status ? (report.settle.held ? " (orders were held by settlement: see above)"
							 : " (a file was refused as a whole: see the rejected folder)")
			    : "");
	nightly_report_clear(&report);
	return status;
}

/* Opens the log, loads the profiles, checks the routes against them, connects, and runs the
 * night. */
static int run(cli_context *ctx, const cli_command *cmd, const nightly_args *a)
{
	g_assert(a->inbox != NULL);
	g_assert(cmd != NULL);
	runlog_open(a->use_syslog, ctx->log_level);
	GError *error = NULL;
	profile_set *profiles = cli_profiles(ctx, a->profile_dirs, &error);
	GArray *routes = NULL;
	db *d = NULL;
	int status;
	if (profiles && a->profile_name && !profile_set_find(profiles, a->profile_name)) {
		status = cli_usage_error(cmd, "unknown profile '%s'", a->profile_name);
	} else {
		routes = profiles ? routes_of(ctx, profiles, &error) : NULL;
		d = routes ? cli_connect(ctx, &error) : NULL;
		status = d ? night(ctx, d, a, profiles, routes) : fail(error);
	}
	runlog_close();
	db_close(d);
	if (profiles)
		profile_set_free(profiles);
	if (routes)
		g_array_free(routes, TRUE);
	return status;
}

int cmd_nightly(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	nightly_args a = { 0 };
	const GOptionEntry entries[] = {
		{ "inbox", 0, 0, G_OPTION_ARG_FILENAME, &a.inbox, "the folder the courier files arrive in", "DIR" },
		{ "archive", 0, 0, G_OPTION_ARG_FILENAME, &a.archive, "where taken files go (default: INBOX/archive)",
		  "DIR" },
		{ "export-dir", 0, 0, G_OPTION_ARG_FILENAME, &a.export_dir,
		  "where batch-N.csv goes (default: the configuration's export_dir, else INBOX/exports)", "DIR" },
		{ "syslog", 0, 0, G_OPTION_ARG_NONE, &a.use_syslog, "log to syslog too (ident subsidy, facility user)",
		  NULL },
		{ "profiles", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &a.profile_dirs,
		  "a directory of extra profiles (repeatable)", "DIR" },
		{ "profile", 0, 0, G_OPTION_ARG_STRING, &a.profile_name,
		  "the profile of the files directly in the inbox (default: detected from the header; a route"
		  " folder's files take their route's)", "NAME" },
		{ "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &a.overrides,
		  "fix a canonical field for every line of the files directly in the inbox (repeatable)",
		  "FIELD=VALUE" },
		{ NULL }
	};
	int status = cli_parse(ctx, cmd, entries, TRUE, &argc, &argv);
	if (status == STATUS_OK)
		status = check_options(cmd, argc, argv, &a);
	g_assert(status != STATUS_OK || a.inbox != NULL);
	g_assert(status == STATUS_OK || status >= STATUS_USAGE); /* bad usage is never "done" */
	if (status == STATUS_OK)
		status = run(ctx, cmd, &a);
	nightly_args_clear(&a);
	return status;
}
