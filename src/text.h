/* text.h: text from outside (file names, shop names, key files): made fit for what a person reads
 * (a line of a summary, a log, a message: a name with a line break in it could otherwise forge a
 * line), and checked to be UTF-8 where a reader would take bad bytes for nothing. */
#ifndef SUBSIDY_TEXT_H
#define SUBSIDY_TEXT_H

#include <stddef.h>

/* The UTF-8 byte order mark: written first in files for Excel, dropped when a file read starts
 * with it. */
#define TEXT_UTF8_BOM "\xEF\xBB\xBF"
#define TEXT_UTF8_BOM_LEN 3

/* bytes as valid UTF-8 with every control character (C0, DEL, C1), line and paragraph separator (U+2028,
 * U+2029) and every invalid sequence
 * replaced by U+FFFD: one line, nothing a terminal acts on. Caller frees. */
char *text_shown(const char *bytes);

/* 0 when the len bytes are all UTF-8; else the line (from 1) of the first byte that is not. A key
 * file (a profile, the config) is UTF-8 text: GKeyFile reads a value that is not as no value. */
unsigned text_utf8_bad_line(const char *bytes, size_t len);

/* Line ends in files people hand in: LF, CRLF, or CR alone (an old Mac's or a spreadsheet's), each
 * one line end. TRUE when bytes[i] (of len) ends a line: a LF, or a CR not followed by a LF. */
#define TEXT_ENDS_LINE(bytes, i, len)                                                                 \
	((bytes)[i] == '\n' || ((bytes)[i] == '\r' && ((i) + 1 >= (len) || (bytes)[(i) + 1] != '\n')))

/* The line (from 1) of byte offset pos of the len bytes (pos <= len), line ends as TEXT_ENDS_LINE. */
unsigned text_line_of(const char *bytes, size_t pos, size_t len);

/* The bytes text_file_kind_hint needs: a file's first bytes. */
#define TEXT_FILE_KIND_BYTES 8
/* What a file that is no CSV text is, from the len bytes at head (only the first
 * TEXT_FILE_KIND_BYTES are looked at, so a whole file or just its start will do), as
 * a hint for a person who saved the wrong thing (a workbook, Excel's "Unicode Text", a compressed
 * or printed statement) and what to save instead; NULL when it may be text. */
const char *text_file_kind_hint(const unsigned char *head, size_t len);

/* An error message in PostgreSQL's shape: the primary line, then at most one "DETAIL: " line and
 * one "HINT: " line, in that order. message with addition added to its part label ("DETAIL" or
 * "HINT"): after what that part says ("; " between), or as a new line in its place. Caller frees. */
char *text_message_add(const char *message, const char *label, const char *addition);

#endif
