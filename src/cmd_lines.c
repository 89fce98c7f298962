/* cmd_lines.c: `subsidy lines --file ID [--outcome NAME] [--csv] [--json]`: every line of a stored
 * file with its line number, parsed fields, outcome and reason: why 40 lines of a statement were
 * rejected, in one look rather than `why` one waybill at a time. Reads only, in one read-only
 * snapshot. --csv writes RFC 4180 CSV (UTF-8 with BOM, CRLF, as the exports: a spreadsheet opens
 * it; text from the file is guarded against formulas); --json one object {"file": {...},
 * "lines": [...]}; else aligned text. */
#include "cli.h"
#include "export.h"
#include "json.h"
#include "lines.h"
#include "policy.h"
#include "text.h"

#include <stdio.h>


typedef enum { SHOW_TEXT, SHOW_CSV, SHOW_JSON } show_mode;

typedef struct {
	show_mode mode;
	json_writer *w;
	int64_t shown;
} show;

static gboolean show_line(const char *const *v, gpointer user_data, GError **error)
{
	show *s = user_data;
	s->shown++;
	if (s->mode == SHOW_CSV) {
		g_autoptr(GString) row = g_string_new(NULL);
		for (int c = 0; c < LINES_COLUMNS; c++) {
			if (c)
				g_string_append_c(row, ',');
			export_csv_text_field(row, v[c] ? v[c] : "");
		}
		g_string_append(row, "\r\n");
		fwrite(row->str, 1, row->len, stdout);
	} else if (s->mode == SHOW_JSON) {
		json_object_begin(s->w);
		for (int c = 0; c < LINES_COLUMNS; c++) {
			json_key(s->w, lines_column_names[c]);
			if (c == LINES_LINE)
				json_int(s->w, g_ascii_strtoll(v[c], NULL, 10));
			else
				json_string(s->w, v[c]);
		}
		json_object_end(s->w);
	} else {
		printf("line %s  %s", v[LINES_LINE], v[LINES_OUTCOME]);
		if (v[LINES_REASON])
			printf(": %s", v[LINES_REASON]);
		printf("\n   ");
		for (int c = LINES_COURIER; c <= LINES_DESTINATION; c++)
			if (v[c])
				printf(" %s=%s", lines_column_names[c], v[c]);
		printf("\n");
	}
	return TRUE;
}

/* --outcome NAME in any case as the outcome's name; else STATUS_USAGE naming the outcomes. */
static int outcome_option(const cli_command *cmd, char **outcome)
{
	g_assert(outcome != NULL && *outcome != NULL);
	policy_outcome o;
	g_autofree char *upper = g_ascii_strup(*outcome, -1);
	if (!policy_outcome_parse(upper, &o)) {
		g_autoptr(GString) names = g_string_new(NULL);
		for (int i = 0; i < OUTCOME_COUNT; i++)
			g_string_append_printf(names, "%s%s", i ? ", " : "", policy_outcome_name(i));
		return cli_usage_error(cmd, "unknown outcome '%s' (outcomes: %s)", *outcome, names->str);
	}
	g_assert(o < OUTCOME_COUNT);
	g_free(*outcome);
	*outcome = g_strdup(policy_outcome_name(o));
	return STATUS_OK;
}

/* What comes before the lines: the CSV header, the JSON object's file and the lines' array
 * opened, or the file's line of text. */
static void print_head(show *s, int64_t file_id, const lines_file *f)
{
	g_assert(file_id > 0 && f->name != NULL);
	g_assert(s->shown == 0);
	if (s->mode == SHOW_CSV) {
		g_autoptr(GString) head = g_string_new(TEXT_UTF8_BOM);
		for (int c = 0; c < LINES_COLUMNS; c++)
			g_string_append_printf(head, "%s%s", c ? "," : "", lines_column_names[c]);
		g_string_append(head, "\r\n");
		fwrite(head->str, 1, head->len, stdout);
	} else if (s->mode == SHOW_JSON) {
		json_init(s->w);
		json_object_begin(s->w);
		json_key(s->w, "file");
		json_object_begin(s->w);
		json_key(s->w, "file_id");
		json_int(s->w, file_id);
		json_key(s->w, "name");
		json_string(s->w, f->name);
		json_key(s->w, "profile");
		json_string(s->w, f->profile);
		json_key(s->w, "lines");
		json_int(s->w, f->lines);
		json_key(s->w, "ingested_at");
		json_string(s->w, f->ingested_at);
		json_object_end(s->w);
		json_key(s->w, "lines");
		json_array_begin(s->w);
	} else {
		printf("file %" G_GINT64_FORMAT ": %s (profile %s, %" G_GINT64_FORMAT " lines, ingested %s)\n",
		       (gint64)file_id, f->name, f->profile, (gint64)f->lines, f->ingested_at);
	}
}

/* What comes after the lines: the JSON object closed, or how many lines were shown. */
static void print_end(show *s, const char *outcome)
{
	g_assert(s->shown >= 0);
	g_assert(s->mode != SHOW_JSON || s->w->out != NULL);
	if (s->mode == SHOW_JSON) {
		json_array_end(s->w);
		json_object_end(s->w);
		g_autofree char *text = json_finish(s->w);
		cli_print_json(text);
	} else if (s->mode == SHOW_TEXT) {
		printf("%" G_GINT64_FORMAT " line%s%s%s\n", (gint64)s->shown, s->shown == 1 ? "" : "s",
		       outcome ? " " : "", outcome ? outcome : "");
	}
}

/* Reads file_id's record and its lines (only those of outcome when not NULL) in one read-only
 * snapshot, printing them as they come. */
static int show_file(cli_context *ctx, const cli_command *cmd, int64_t file_id, const char *outcome, show *s)
{
	g_assert(file_id > 0);
	g_assert(s->shown == 0);
	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	lines_file f = { 0 };
	gboolean found = FALSE;
	gboolean ok = db_begin_read(d, &error) && lines_file_read(d, file_id, &f, &found, &error);
	if (ok && found) {
		print_head(s, file_id, &f);
		ok = lines_each(d, file_id, outcome, 0, show_line, s, &error);
	}
	db_rollback(d);
	db_close(d);
	lines_file_clear(&f);
	if (!ok) {
		if (found && s->mode == SHOW_JSON)
			g_free(json_finish(s->w));
		return cli_fail(error);
	}
	if (!found)
		return cli_usage_error(cmd, "no stored file %" G_GINT64_FORMAT, (gint64)file_id);
	print_end(s, outcome);
	return STATUS_OK;
}

int cmd_lines(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	gint64 file_id = 0;
	g_autofree char *outcome = NULL;
	gboolean csv = FALSE;
	const GOptionEntry entries[] = {
		{ "file", 0, 0, G_OPTION_ARG_INT64, &file_id, "the stored file (its id, as ingest --json and status give it)",
		  "ID" },
		{ "outcome", 0, 0, G_OPTION_ARG_STRING, &outcome, "only the lines of this outcome (REJECTED, DUPLICATE...)",
		  "NAME" },
		{ "csv", 0, 0, G_OPTION_ARG_NONE, &csv, "CSV for a spreadsheet (UTF-8 with BOM)", NULL },
		{ NULL }
	};
	int status = cli_parse(ctx, cmd, entries, TRUE, &argc, &argv);
	if (status != STATUS_OK)
		return status;
	if (argc > 1)
		return cli_usage_error(cmd, "unexpected '%s'", argv[1]);
	if (file_id <= 0)
		return cli_usage_error(cmd, "--file ID is required (a stored file's id, from 1)");
	if (csv && ctx->json)
		return cli_usage_error(cmd, "--csv and --json are two outputs: give one");
	if (outcome && (status = outcome_option(cmd, &outcome)) != STATUS_OK)
		return status;
	g_assert(file_id > 0);
	g_assert(!(csv && ctx->json));
	json_writer w = { 0 };
	show s = { .mode = csv ? SHOW_CSV : ctx->json ? SHOW_JSON : SHOW_TEXT, .w = &w };
	return show_file(ctx, cmd, file_id, outcome, &s);
}
