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
