/* text.c: names made fit for a person's screen; see text.h. */
#include "text.h"

#include <glib.h>

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
