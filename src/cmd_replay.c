/* cmd_replay.c: `subsidy replay --from DATE --to DATE [--registry as-recorded|current]
 * [--report FILE] [--json]`: the auditor's recomputation of every order dated in the range
 * (replay.h). Differences go out as they are found (a table, JSON, and the CSV report), so a
 * long list needs no memory; exit 1 when there is any. Changes nothing. */
#include "cli.h"
#include "export.h"
#include "json.h"
#include "money.h"
#include "outfile.h"
#include "replay.h"
#include "text.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define REPLAY_REPORT_HEADER "店铺编号,订单号,账面金额(元),重算金额(元),原因"
#define REPLAY_REPORT_EOL "\r\n"
/* Column widths of the human table (bytes; ids are ASCII in practice). */
#define REPLAY_SHOP_WIDTH 12
#define REPLAY_ORDER_WIDTH 20
#define REPLAY_AMOUNT_WIDTH 12

typedef struct {
	gboolean json;
	FILE *report;       /* NULL: no --report */
	const char *report_path;
	gboolean any;       /* a difference was written */
} replay_out;

/* The report is written beside its target under a temporary name and renamed into place at the
 * end, so a reader never sees half a report. */
static FILE *report_open(const char *path, char **tmp_path, GError **error)
{
	if (!outfile_check_target(path, error))
		return NULL;
	int fd = outfile_open_beside(path, O_WRONLY, tmp_path);
	if (fd < 0) {
		int e = errno;
		g_set_error(error, G_FILE_ERROR, STATUS_SOFTWARE, "cannot write report '%s': %s", path, g_strerror(e));
		return NULL;
	}
	FILE *f = fdopen(fd, "wb");
	g_assert(f != NULL);
	fputs(TEXT_UTF8_BOM REPLAY_REPORT_HEADER REPLAY_REPORT_EOL, f);
	return f;
}

static gboolean report_close(FILE *f, const char *tmp_path, const char *path, GError **error)
{
	gboolean ok = !ferror(f);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
	int e = errno;
	ok = fclose(f) == 0 && ok;
	if (!ok) {
		outfile_discard(tmp_path);
		g_set_error(error, G_FILE_ERROR, STATUS_SOFTWARE, "cannot write report '%s': %s", path,
			    g_strerror(e ? e : EIO));
		return FALSE;
	}
	return outfile_commit(tmp_path, path, error);
}

static gboolean print_difference(const replay_difference *diff, gpointer user_data, GError **error)
{
	replay_out *o = user_data;
	char ledger[MONEY_TEXT_MAX], recomputed[MONEY_TEXT_MAX];
	money_format(diff->ledger_fen, ledger);
	money_format(diff->recomputed_fen, recomputed);
	if (o->json) {
		json_writer w;
		json_init(&w);
		json_object_begin(&w);
		json_key(&w, "shop_id");
		json_string(&w, diff->shop_id);
		json_key(&w, "order_no");
		json_string(&w, diff->order_no);
		json_key(&w, "ledger_fen");
		json_int(&w, diff->ledger_fen);
		json_key(&w, "recomputed_fen");
		json_int(&w, diff->recomputed_fen);
		json_key(&w, "cause");
		json_string(&w, diff->cause);
		json_object_end(&w);
		g_autofree char *text = json_finish(&w);
		printf("%s%s", o->any ? "," : "", text);
	} else {
		if (!o->any)
			printf("%-*s %-*s %*s %*s  %s\n", REPLAY_SHOP_WIDTH, "shop", REPLAY_ORDER_WIDTH, "order",
			       REPLAY_AMOUNT_WIDTH, "ledger", REPLAY_AMOUNT_WIDTH, "recomputed", "cause");
		printf("%-*s %-*s %*s %*s  %s\n", REPLAY_SHOP_WIDTH, diff->shop_id, REPLAY_ORDER_WIDTH,
		       *diff->order_no ? diff->order_no : "-", REPLAY_AMOUNT_WIDTH, ledger, REPLAY_AMOUNT_WIDTH, recomputed,
		       diff->cause);
	}
	o->any = TRUE;
	if (o->report) {
		g_autoptr(GString) line = g_string_new(NULL);
		const char *fields[] = { diff->shop_id, diff->order_no, ledger, recomputed, diff->cause };
		for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
			if (i)
				g_string_append_c(line, ',');
			if (i == 2 || i == 3)
				export_csv_field(line, fields[i]); /* amounts: signed, the engine's digits */
			else
				export_csv_text_field(line, fields[i]);
		}
		g_string_append(line, REPLAY_REPORT_EOL);
		if (fwrite(line->str, 1, line->len, o->report) != line->len) {
			g_set_error(error, G_FILE_ERROR, STATUS_SOFTWARE, "cannot write report '%s': %s", o->report_path,
				    g_strerror(errno));
			return FALSE;
		}
	}
	return TRUE;
}

static void print_summary(const replay_summary *s, replay_registry mode, const char *from, const char *to)
{
	char a[MONEY_TEXT_MAX], b[MONEY_TEXT_MAX];
	printf("replay %s to %s, registry %s: ", from, to, replay_registry_name(mode));
	if (s->last_batch == 0) {
		printf("no batch yet, so nothing to compare; %" G_GINT64_FORMAT " orders pending\n", (gint64)s->pending);
		return;
	}
	printf("%" G_GINT64_FORMAT " orders compared with the ledger up to batch %d", (gint64)s->orders, s->last_batch);
	if (s->differences == 0)
		printf(", no difference");
	else
		printf(", %" G_GINT64_FORMAT " difference%s (ledger %s yuan, recomputed %s yuan)", (gint64)s->differences,
		       s->differences == 1 ? "" : "s", money_format(s->ledger_fen, a), money_format(s->recomputed_fen, b));
	printf("; %" G_GINT64_FORMAT " pending (lines newer than the last batch)\n", (gint64)s->pending);
}

/* What replay was asked, its options checked. */
typedef struct {
	chrono_day from, to;
	replay_registry mode;
	const char *report_path; /* NULL: no --report */
} replay_args;

/* Checks the options' texts into a; else STATUS_USAGE saying what is wrong. */
static int replay_args_parse(const cli_command *cmd, const char *from_text, const char *to_text,
			     const char *registry_text, const char *report_path, replay_args *a)
{
	g_assert(cmd != NULL && a != NULL);
	if (!from_text || !to_text)
		return cli_usage_error(cmd, "--from DATE and --to DATE are required");
	g_autoptr(GError) perr = NULL;
	if (!chrono_parse_day(from_text, &a->from, &perr))
		return cli_usage_error(cmd, "bad --from date '%s': %s", from_text, perr->message);
	if (!chrono_parse_day(to_text, &a->to, &perr))
		return cli_usage_error(cmd, "bad --to date '%s': %s", to_text, perr->message);
	if (a->from > a->to)
		return cli_usage_error(cmd, "--from %s is after --to %s", from_text, to_text);
	a->mode = REPLAY_AS_RECORDED;
	if (registry_text && !replay_registry_parse(registry_text, &a->mode))
		return cli_usage_error(cmd, "unknown registry '%s' (as-recorded or current)", registry_text);
	if (report_path && !*report_path)
		return cli_usage_error(cmd, "--report needs a file name");
	if (report_path && strcmp(report_path, OUTFILE_STDOUT) == 0)
		return cli_usage_error(cmd, "--report - is refused: standard output carries the differences already;"
					    " give a file name");
	a->report_path = report_path;
	g_assert(a->from <= a->to);
	return STATUS_OK;
}

/* The end of --json's object, after the differences streamed. */
static void print_json_end(const replay_summary *s)
{
	g_assert(s->pending >= 0 && s->orders >= 0);
	g_assert(s->last_batch >= 0);
	printf("],\"pending\":%" G_GINT64_FORMAT ",\"orders\":%" G_GINT64_FORMAT ",\"last_batch\":",
	       (gint64)s->pending, (gint64)s->orders);
	if (s->last_batch)
		printf("%d}\n", s->last_batch);
	else
		printf("null}\n");
}

/* Replays a's range, the differences streamed to stdout (and the report when asked), then the
 * summary. */
static int replay(cli_context *ctx, const replay_args *a)
{
	g_assert(a->from <= a->to);
	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	replay_out o = { .json = ctx->json, .report_path = a->report_path };
	g_autofree char *tmp_path = NULL;
	if (a->report_path && !(o.report = report_open(a->report_path, &tmp_path, &error))) {
		db_close(d);
		return cli_fail(error);
	}
	if (o.json) {
		printf("{\"differences\":[");
		cli_json_printed();
	}
	replay_summary s = { 0 };
	gboolean ok = replay_run(d, a->from, a->to, a->mode, ctx->progress, print_difference, &o, &s, &error);
	db_close(d);
	if (o.report && ok)
		ok = report_close(o.report, tmp_path, a->report_path, &error);
	else if (o.report) {
		fclose(o.report);
		outfile_discard(tmp_path);
	}
	g_assert(ok == (error == NULL));
	if (!ok) {
		if (o.json)
			printf("]}\n"); /* the object stays whole; the exit status and stderr tell */
		return cli_fail(error);
	}
	char from_day[CHRONO_DAY_TEXT_MAX], to_day[CHRONO_DAY_TEXT_MAX];
	chrono_format_day(a->from, from_day);
	chrono_format_day(a->to, to_day);
	if (o.json)
		print_json_end(&s);
	else
		print_summary(&s, a->mode, from_day, to_day);
	return s.differences > 0 ? STATUS_FINDINGS : STATUS_OK;
}

int cmd_replay(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	g_autofree char *from_text = NULL, *to_text = NULL, *registry_text = NULL, *report_path = NULL;
	const GOptionEntry entries[] = {
		{ "from", 0, 0, G_OPTION_ARG_STRING, &from_text, "first order date (included)", "YYYY-MM-DD" },
		{ "to", 0, 0, G_OPTION_ARG_STRING, &to_text, "last order date (included)", "YYYY-MM-DD" },
		{ "registry", 0, 0, G_OPTION_ARG_STRING, &registry_text,
		  "as-recorded (the default: as known when each batch was made) or current (today's)",
		  "as-recorded|current" },
		{ "report", 0, 0, G_OPTION_ARG_FILENAME, &report_path, "also write the differences as CSV", "FILE" },
		{ NULL }
	};
	int status = cli_parse(ctx, cmd, entries, TRUE, &argc, &argv);
	if (status != STATUS_OK)
		return status;
	if (argc != 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);
	replay_args a = { 0 };
	status = replay_args_parse(cmd, from_text, to_text, registry_text, report_path, &a);
	if (status != STATUS_OK)
		return status;
	g_assert(a.from <= a.to);
	g_assert(a.report_path == report_path); /* checked, not copied: it lives until the run ends */
	return replay(ctx, &a);
}
