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

#include <stdio.h>
#include <string.h>

#define UTF8_BOM "\xEF\xBB\xBF"

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

int cmd_lines(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	gint64 file_id = 0;
	char *outcome = NULL;
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
		goto done;
	if (argc > 1) {
		status = cli_usage_error(cmd, "unexpected '%s'", argv[1]);
		goto done;
	}
	if (file_id <= 0) {
		status = cli_usage_error(cmd, "--file ID is required (a stored file's id, from 1)");
		goto done;
	}
	if (csv && ctx->json) {
		status = cli_usage_error(cmd, "--csv and --json are two outputs: give one");
		goto done;
	}
	if (outcome) {
		policy_outcome o;
		g_autofree char *upper = g_ascii_strup(outcome, -1);
		if (!policy_outcome_parse(upper, &o)) {
			GString *names = g_string_new(NULL);
			for (int i = 0; i < OUTCOME_COUNT; i++)
				g_string_append_printf(names, "%s%s", i ? ", " : "", policy_outcome_name(i));
			status = cli_usage_error(cmd, "unknown outcome '%s' (outcomes: %s)", outcome, names->str);
			g_string_free(names, TRUE);
			goto done;
		}
		g_free(outcome);
		outcome = g_strdup(policy_outcome_name(o));
	}
	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d) {
		status = cli_fail(error);
		goto done;
	}
	char id[24];
	g_snprintf(id, sizeof id, "%" G_GINT64_FORMAT, file_id);
	const char *params[] = { db_programme(d), id };
	PGresult *file = NULL;
	gboolean ok = db_exec(d, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &error) &&
		      (file = db_query(d,
				       "SELECT name, profile, lines, to_char(ingested_at, 'YYYY-MM-DD HH24:MI:SS')"
				       " FROM files WHERE programme = $1 AND file_id = $2::bigint",
				       2, params, &error));
	if (ok && PQntuples(file) == 0) {
		PQclear(file);
		db_rollback(d);
		db_close(d);
		status = cli_usage_error(cmd, "no stored file %s", id);
		goto done;
	}
	json_writer w;
	gboolean json_open = FALSE;
	show s = { .mode = csv ? SHOW_CSV : ctx->json ? SHOW_JSON : SHOW_TEXT, .w = &w };
	if (ok) {
		if (s.mode == SHOW_CSV) {
			g_autoptr(GString) head = g_string_new(UTF8_BOM);
			for (int c = 0; c < LINES_COLUMNS; c++)
				g_string_append_printf(head, "%s%s", c ? "," : "", lines_column_names[c]);
			g_string_append(head, "\r\n");
			fwrite(head->str, 1, head->len, stdout);
		} else if (s.mode == SHOW_JSON) {
			json_init(&w);
			json_open = TRUE;
			json_object_begin(&w);
			json_key(&w, "file");
			json_object_begin(&w);
			json_key(&w, "file_id");
			json_int(&w, file_id);
			json_key(&w, "name");
			json_string(&w, PQgetvalue(file, 0, 0));
			json_key(&w, "profile");
			json_string(&w, PQgetvalue(file, 0, 1));
			json_key(&w, "lines");
			json_int(&w, g_ascii_strtoll(PQgetvalue(file, 0, 2), NULL, 10));
			json_key(&w, "ingested_at");
			json_string(&w, PQgetvalue(file, 0, 3));
			json_object_end(&w);
			json_key(&w, "lines");
			json_array_begin(&w);
		} else {
			printf("file %s: %s (profile %s, %s lines, ingested %s)\n", id, PQgetvalue(file, 0, 0),
			       PQgetvalue(file, 0, 1), PQgetvalue(file, 0, 2), PQgetvalue(file, 0, 3));
		}
		ok = lines_each(d, file_id, outcome, 0, show_line, &s, &error);
	}
	PQclear(file);
	db_rollback(d);
	db_close(d);
	if (!ok) {
		if (json_open)
			g_free(json_finish(&w));
		status = cli_fail(error);
		goto done;
	}
	if (s.mode == SHOW_JSON) {
		json_array_end(&w);
		json_object_end(&w);
		g_autofree char *text = json_finish(&w);
		cli_print_json(text);
	} else if (s.mode == SHOW_TEXT) {
		printf("%" G_GINT64_FORMAT " line%s%s%s\n", (gint64)s.shown, s.shown == 1 ? "" : "s",
		       outcome ? " " : "", outcome ? outcome : "");
	}
done:
	g_free(outcome);
	return status;
}
