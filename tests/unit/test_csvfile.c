/* test_csvfile.c: the one CSV reader of registry files and payment results (csvfile.h): each
 * record with the physical line it starts on, whatever ends the lines, and where reading stops. */
#include "csvfile.h"

#include <criterion/criterion.h>
#include <csv.h>
#include <string.h>

/* What the reader gave: one "LINE:field|field" (and "$" when it ended with the text) a record. */
typedef struct {
	GString *got;
	csvfile_end end;
} reading;

static void note(const csvfile_record *rec, void *ctx)
{
	reading *r = ctx;
	cr_assert(rec->n_fields > 0 && rec->fields[rec->n_fields] == NULL);
	g_autofree char *fields = g_strjoinv("|", rec->fields);
	g_string_append_printf(r->got, "%s%d:%s%s", r->got->len ? " " : "", rec->line, fields, rec->at_end ? "$" : "");
}

static reading *read_text(const char *text, size_t len)
{
	reading *r = g_new0(reading, 1);
	r->got = g_string_new(NULL);
	csvfile_read(text, len, note, r, &r->end);
	return r;
}

static void reading_free(reading *r)
{
	g_string_free(r->got, TRUE);
	g_free(r);
}

/* Reads text (a C string) and checks the records, the status and the lines it spans. */
static void expect(const char *text, const char *want, csvfile_status status, int lines)
{
	reading *r = read_text(text, strlen(text));
	g_autofree char *shown = g_strescape(text, NULL);
	cr_assert_str_eq(r->got->str, want, "reading '%s'", shown);
	cr_assert_eq(r->end.status, status, "reading '%s'", shown);
	cr_assert_eq(r->end.lines, lines, "reading '%s'", shown);
	g_auto(GStrv) records = g_strsplit(want, " ", -1);
	cr_assert_eq(r->end.records, (int)(*want ? g_strv_length(records) : 0), "reading '%s'", shown);
	reading_free(r);
}

Test(csvfile, lf_line_ends)
{
	expect("h1,h2\na,b\nc,d\n", "1:h1|h2 2:a|b 3:c|d", CSVFILE_OK, 3);
}

Test(csvfile, crlf_line_ends_count_once)
{
	expect("h1,h2\r\na,b\r\n\r\nc,d\r\n", "1:h1|h2 2:a|b 4:c|d", CSVFILE_OK, 4);
}

/* A CR alone ends a line as a LF or a CRLF does (a file saved with CR line ends, or with them
 * mixed): each record on its own line, a CRLF one line end, and CR CR LF two. */
Test(csvfile, cr_only_line_ends_are_lines)
{
	expect("h1,h2\ra,b\rc,d\r", "1:h1|h2 2:a|b 3:c|d", CSVFILE_OK, 3);
	expect("h1,h2\ra,b\nc,d\n", "1:h1|h2 2:a|b 3:c|d", CSVFILE_OK, 3);
	expect("h1,h2\r\r\na,b\r\n\rc,d", "1:h1|h2 3:a|b 5:c|d$", CSVFILE_OK, 5);
	/* Inside quotes too: the record after a quoted CR is a line further down. */
	expect("h\r\"a\rb\"\rc\r", "1:h 2:a\rb 4:c", CSVFILE_OK, 4);
}

Test(csvfile, a_quoted_line_break_keeps_the_record_on_its_first_line)
{
	expect("h1,h2\n\"two\nlines\",b\nc,\"x\r\ny\"\nlast,z\n", "1:h1|h2 2:two\nlines|b 4:c|x\r\ny 6:last|z",
	       CSVFILE_OK, 6);
	/* The first field's line breaks, ending the text. */
	expect("h\n\"a\nb\"", "1:h 2:a\nb$", CSVFILE_OK, 3);
}

Test(csvfile, no_final_line_break)
{
	expect("h1,h2\na,b", "1:h1|h2 2:a|b$", CSVFILE_OK, 2);
	expect("h1,h2\r\na,", "1:h1|h2 2:a|$", CSVFILE_OK, 2);
}

Test(csvfile, blank_lines_are_no_records_but_count)
{
	expect("\n\nh\n  \n\r\n,\n", "3:h 6:|", CSVFILE_OK, 6);
}

Test(csvfile, one_byte_order_mark_first_is_skipped)
{
	expect("\xEF\xBB\xBFh1,h2\na,b\n", "1:h1|h2 2:a|b", CSVFILE_OK, 2);
	/* A second one is the first field's. */
	expect("\xEF\xBB\xBF\xEF\xBB\xBFh1\n", "1:\xEF\xBB\xBFh1", CSVFILE_OK, 1);
	/* Elsewhere it is text. */
	expect("h1\n\xEF\xBB\xBFh2\n", "1:h1 2:\xEF\xBB\xBFh2", CSVFILE_OK, 2);
}

Test(csvfile, an_empty_file_has_no_records)
{
	expect("", "", CSVFILE_OK, 0);
	expect("\xEF\xBB\xBF", "", CSVFILE_OK, 0);
	expect("\n\r\n\r", "", CSVFILE_OK, 3);
	reading *r = read_text(NULL, 0);
	cr_assert_eq(r->end.status, CSVFILE_OK);
	cr_assert_eq(r->end.records, 0);
	reading_free(r);
}

Test(csvfile, malformed_stops_at_the_refused_byte_with_its_line)
{
	const char *texts[] = { "h\na,b\"c\nd\n", "h\na,\"b\"c\nd\n", "h\n\"a\nb\"c\n" };
	const int lines[] = { 2, 2, 3 };
	for (size_t i = 0; i < G_N_ELEMENTS(texts); i++) {
		reading *r = read_text(texts[i], strlen(texts[i]));
		cr_assert_str_eq(r->got->str, "1:h", "%zu", i);
		cr_assert_eq(r->end.status, CSVFILE_MALFORMED, "%zu", i);
		cr_assert_eq(r->end.error, CSV_EPARSE, "%zu", i);
		cr_assert_eq(r->end.line, lines[i], "%zu: line %d", i, r->end.line);
		reading_free(r);
	}
}

/* The line the open field starts on, and the last line of the text. */
Test(csvfile, a_quote_open_at_the_end)
{
	const char text[] = "h\n\"a\nb\nc\n";
	reading *r = read_text(text, strlen(text));
	cr_assert_str_eq(r->got->str, "1:h");
	cr_assert_eq(r->end.status, CSVFILE_QUOTE_OPEN);
	cr_assert_eq(r->end.line, 2);
	cr_assert_eq(r->end.lines, 4);
	reading_free(r);
	const char text2[] = "h\n\"x\ny\",\"a\nb";
	r = read_text(text2, strlen(text2));
	cr_assert_eq(r->end.status, CSVFILE_QUOTE_OPEN);
	cr_assert_eq(r->end.line, 3);
	cr_assert_eq(r->end.lines, 4);
	reading_free(r);
}

/* The text holds no NUL: callers check it is UTF-8 (which refuses NUL) before. */
Test(csvfile, a_nul_is_a_broken_contract, .signal = SIGABRT)
{
	reading *r = read_text("a\0b\n", 4);
	reading_free(r);
}
