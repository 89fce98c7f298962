/* csvfile.h: the one libcsv reader of the CSV files people hand in (registry files, payment
 * results): a text's records, each with the physical line it starts on, and where the text stops
 * being CSV. Reading the file, decoding it, limits and messages are the caller's. */
#ifndef SUBSIDY_CSVFILE_H
#define SUBSIDY_CSVFILE_H

#include <glib.h>
#include <stddef.h>

/* One record. Lines end with LF, CRLF or CR alone (TEXT_ENDS_LINE), as a manifest's do: a file saved
 * with CR line ends has its records on lines 1, 2, 3... */
typedef struct {
	char **fields;   /* n_fields and a NULL, unquoted: the reader's until the callback returns */
	guint n_fields;  /* at least 1: a line with nothing on it is no record */
	int line;        /* from 1: the line of the record's first byte (a quoted line break makes it span more) */
	gboolean at_end; /* it ended with the text, not with a line break */
} csvfile_record;

typedef void (*csvfile_record_fn)(const csvfile_record *record, void *ctx);

typedef enum {
	CSVFILE_OK,
	CSVFILE_MALFORMED,  /* libcsv refused a byte: a quote inside an unquoted field, text after a closing quote */
	CSVFILE_QUOTE_OPEN, /* the text ends inside a quoted field */
} csvfile_status;

/* How the reading ended. */
typedef struct {
	csvfile_status status;
	int error;   /* CSVFILE_MALFORMED: libcsv's code (CSV_EPARSE...), for csv_strerror */
	int line;    /* MALFORMED: the line of the refused byte; QUOTE_OPEN: the line the open field starts on */
	int lines;   /* the lines the text spans: its line ends, and one more when its last line has none */
	int records; /* how many on_record was given */
} csvfile_end;

/* Reads the len bytes of text (a UTF-8 byte order mark first is no part of it) as strict CSV
 * (RFC 4180: commas, double quotes, CR, LF or CRLF; spaces around an unquoted field dropped),
 * giving each record in order to on_record with ctx, up to the first byte that is not CSV; then
 * says in *end how it ended. The text holds no NUL (callers check that it is UTF-8 first). */
void csvfile_read(const char *text, size_t len, csvfile_record_fn on_record, void *ctx, csvfile_end *end);

#endif
