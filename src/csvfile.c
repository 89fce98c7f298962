/* csvfile.c: the one libcsv reader of the CSV files people hand in; see csvfile.h. */
#include "csvfile.h"

#include "text.h"

#include <csv.h>
#include <string.h>

typedef struct {
	csvfile_record_fn on_record;
	void *ctx;
	GPtrArray *fields; /* char *: the record being read */
	int line;          /* the line the parser is on */
	int record_line;   /* the line the record being read started on */
	gboolean after_cr; /* the last thing read was a CR ending a row: a LF now is the same line end */
	int records;
} reader;

static void on_field(void *data, size_t len, void *ctx)
{
	reader *r = ctx;
	const char *text = data ? data : "";
	g_assert(memchr(text, '\0', len) == NULL);
	if (r->fields->len == 0)
		r->record_line = r->line;
	g_ptr_array_add(r->fields, g_strndup(text, len));
	r->after_cr = FALSE;
	/* A quoted field may hold line breaks: the next field is on a later line. */
	for (size_t i = 0; i < len; i++)
		r->line += TEXT_ENDS_LINE(text, i, len);
	g_assert(r->record_line >= 1 && r->record_line <= r->line);
}

/* libcsv reports every unquoted line break (CSV_REPALL_NL), CR and LF apart, so that each line end
 * is counted (a CR, a LF, a CRLF once); a line break that ends nothing (a blank line, the LF of a
 * CRLF) ends a record of no fields. */
static void on_row(int c, void *ctx)
{
	reader *r = ctx;
	g_assert(c == '\n' || c == '\r' || c == -1); /* what ends a row: a line break, or the text */
	guint n = r->fields->len;
	if (n > 0) {
		g_assert(r->record_line >= 1 && r->record_line <= r->line);
		g_ptr_array_add(r->fields, NULL);
		csvfile_record rec = { (char **)r->fields->pdata, n, r->record_line, c == -1 };
		r->on_record(&rec, r->ctx);
		r->records++;
		g_ptr_array_set_size(r->fields, 0);
	}
	if (c == '\r' || (c == '\n' && !r->after_cr))
		r->line++;
	r->after_cr = c == '\r';
	g_assert(r->fields->len == 0);
}

void csvfile_read(const char *text, size_t len, csvfile_record_fn on_record, void *ctx, csvfile_end *end)
{
	g_assert((text != NULL || len == 0) && on_record != NULL && end != NULL);
	if (len >= TEXT_UTF8_BOM_LEN && memcmp(text, TEXT_UTF8_BOM, TEXT_UTF8_BOM_LEN) == 0) {
		text += TEXT_UTF8_BOM_LEN;
		len -= TEXT_UTF8_BOM_LEN;
	}
	memset(end, 0, sizeof *end);
	end->lines = len == 0 ? 0 : (int)text_line_of(text, len, len) - (text[len - 1] == '\n' || text[len - 1] == '\r');

	reader r = { on_record, ctx, g_ptr_array_new_with_free_func(g_free), 1, 1, FALSE, 0 };
	struct csv_parser p;
	int rc = csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL);
	g_assert(rc == 0);
	size_t done = csv_parse(&p, text ? text : "", len, on_field, on_row, &r);
	if (done != len) {
		end->status = CSVFILE_MALFORMED;
		end->error = csv_error(&p);
		end->line = (int)text_line_of(text, done, len);
	} else if (csv_fini(&p, on_field, on_row, &r) != 0) {
		end->status = CSVFILE_QUOTE_OPEN;
		end->line = r.line;
	}
	csv_free(&p);
	g_assert(end->status == CSVFILE_OK || (end->line >= 1 && end->line <= end->lines));
	end->records = r.records;
	g_ptr_array_unref(r.fields);
}
