/* text.h: names from outside (file names, shop names) made fit for what a person reads: a line of
 * a summary, a log, a message. A name with a line break in it could otherwise forge a line. */
#ifndef SUBSIDY_TEXT_H
#define SUBSIDY_TEXT_H

/* The UTF-8 byte order mark: written first in files for Excel, dropped when a file read starts
 * with it. */
#define TEXT_UTF8_BOM "\xEF\xBB\xBF"
#define TEXT_UTF8_BOM_LEN 3

/* bytes as valid UTF-8 with every control character (C0, DEL, C1), line and paragraph separator (U+2028,
 * U+2029) and every invalid sequence
 * replaced by U+FFFD: one line, nothing a terminal acts on. Caller frees. */
char *text_shown(const char *bytes);

#endif
