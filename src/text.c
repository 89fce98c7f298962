/* text.c: names made fit for a person's screen; see text.h. */
#include "text.h"

#include <glib.h>
#include <string.h>

char *text_shown(const char *bytes)
{
	g_autofree char *valid = g_utf8_make_valid(bytes, -1);
	GString *out = g_string_new(NULL);
	for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
		gunichar u = g_utf8_get_char(p);
		GUnicodeType t = g_unichar_type(u);
		gboolean breaks = t == G_UNICODE_CONTROL || t == G_UNICODE_LINE_SEPARATOR ||
				  t == G_UNICODE_PARAGRAPH_SEPARATOR;
		g_string_append_unichar(out, breaks ? 0xfffd : u);
	}
	return g_string_free(out, FALSE);
}

unsigned text_utf8_bad_line(const char *bytes, size_t len)
{
	g_assert(bytes != NULL || len == 0);
	const char *end = NULL;
	if (g_utf8_validate_len(bytes, len, &end))
		return 0;
	g_assert(end >= bytes && end < bytes + len);
	unsigned line = 1;
	for (const char *c = bytes; c < end; c++)
		line += *c == '\n';
	return line;
}

/* The part of message that the line "\nLABEL: " starts, up to the next part's line ("\nHINT: "
 * after a DETAIL) or the end: a part may run over several lines. NULL when message has none.
 * *start: where its "\n" is. */
static char *message_part(const char *message, const char *label, const char **start)
{
	g_autofree char *marker = g_strdup_printf("\n%s: ", label);
	const char *at = strstr(message, marker);
	*start = at;
	if (!at)
		return NULL;
	const char *text = at + strlen(marker);
	const char *end = strcmp(label, "DETAIL") == 0 ? strstr(text, "\nHINT: ") : NULL;
	return end ? g_strndup(text, (gsize)(end - text)) : g_strdup(text);
}

char *text_message_add(const char *message, const char *label, const char *addition)
{
	g_assert(message != NULL && addition != NULL && *addition);
	g_assert(strcmp(label, "DETAIL") == 0 || strcmp(label, "HINT") == 0);
	const char *detail_at = NULL, *hint_at = NULL;
	g_autofree char *detail = message_part(message, "DETAIL", &detail_at);
	g_autofree char *hint = message_part(message, "HINT", &hint_at);
	const char *primary_end = detail_at ? detail_at : hint_at ? hint_at : message + strlen(message);
	g_assert(!detail_at || !hint_at || detail_at < hint_at); /* the shape: DETAIL before HINT */
	char **part = strcmp(label, "DETAIL") == 0 ? &detail : &hint;
	char *joined = *part ? g_strconcat(*part, "; ", addition, NULL) : g_strdup(addition);
	g_free(*part);
	*part = joined;
	GString *out = g_string_new_len(message, primary_end - message);
	if (detail)
		g_string_append_printf(out, "\nDETAIL: %s", detail);
	if (hint)
		g_string_append_printf(out, "\nHINT: %s", hint);
	return g_string_free(out, FALSE);
}

const char *text_file_kind_hint(const unsigned char *head, size_t len)
{
	g_assert(head != NULL || len == 0);
	static const struct {
		const char *magic;
		size_t len;
		const char *hint;
	} kinds[] = {
		{ "PK\x03\x04", 4, "the file is a ZIP archive, as an Excel workbook (.xlsx) is: open it in Excel or WPS"
				   " and save the sheet as CSV (UTF-8)" },
		{ "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8,
		  "the file is an Excel 97-2003 workbook (.xls): open it in Excel or WPS and save the sheet as CSV (UTF-8)" },
		{ "\xFF\xFE", 2, "the file is UTF-16 text (Excel's \"Unicode Text\"): save the sheet as CSV (UTF-8)" },
		{ "\xFE\xFF", 2, "the file is UTF-16 text: save it as CSV (UTF-8)" },
		{ "\x1F\x8B", 2, "the file is gzip-compressed: decompress it (gunzip) first" },
		{ "%PDF-", 5, "the file is a PDF document: ask for the CSV file it was printed from" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
		if (len >= kinds[i].len && memcmp(head, kinds[i].magic, kinds[i].len) == 0)
			return kinds[i].hint;
	/* UTF-16 without a byte order mark: ASCII letters with a NUL beside each. */
	if (len >= 4 && ((head[1] == 0 && head[3] == 0 && head[0] && head[2]) ||
			 (head[0] == 0 && head[2] == 0 && head[1] && head[3])))
		return "the file looks like UTF-16 text (a NUL beside each letter): save it as CSV (UTF-8)";
	return NULL;
}

unsigned text_line_of(const char *bytes, size_t pos, size_t len)
{
	g_assert((bytes != NULL || len == 0) && pos <= len);
	unsigned line = 1;
	for (size_t i = 0; i < pos; i++)
		line += TEXT_ENDS_LINE(bytes, i, len);
	g_assert(line >= 1 && line <= pos + 1);
	return line;
}
