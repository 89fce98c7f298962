/* json.c: streaming JSON writer; see json.h. */
#include "json.h"

void json_init(json_writer *w)
{
	w->out = g_string_new(NULL);
	w->depth = 0;
	w->first[0] = TRUE;
	w->after_key = FALSE;
}

char *json_finish(json_writer *w)
{
	g_assert(w->depth == 0);
	return g_string_free(w->out, FALSE);
}

static void before_value(json_writer *w)
{
	if (w->after_key) {
		w->after_key = FALSE;
		return;
	}
	if (!w->first[w->depth])
		g_string_append_c(w->out, ',');
	w->first[w->depth] = FALSE;
}

static void nest_open(json_writer *w, char c)
{
	before_value(w);
	g_string_append_c(w->out, c);
	g_assert(w->depth + 1 < JSON_DEPTH_MAX);
	w->depth++;
	w->first[w->depth] = TRUE;
}

static void nest_close(json_writer *w, char c)
{
	g_assert(w->depth > 0 && !w->after_key);
	w->depth--;
	g_string_append_c(w->out, c);
}

void json_object_begin(json_writer *w) { nest_open(w, '{'); }
void json_object_end(json_writer *w) { nest_close(w, '}'); }
void json_array_begin(json_writer *w) { nest_open(w, '['); }
void json_array_end(json_writer *w) { nest_close(w, ']'); }

static void put_string(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': g_string_append(out, "\\\""); break;
		case '\\': g_string_append(out, "\\\\"); break;
		case '\n': g_string_append(out, "\\n"); break;
		case '\r': g_string_append(out, "\\r"); break;
		case '\t': g_string_append(out, "\\t"); break;
		default:
			if (*p < 0x20)
				g_string_append_printf(out, "\\u%04x", *p);
			else
				g_string_append_c(out, (char)*p);
		}
	}
	g_string_append_c(out, '"');
}

void json_key(json_writer *w, const char *key)
{
	g_assert(!w->after_key);
	before_value(w);
	put_string(w->out, key);
	g_string_append_c(w->out, ':');
	w->after_key = TRUE;
}

void json_string(json_writer *w, const char *value)
{
	before_value(w);
	if (value)
		put_string(w->out, value);
	else
		g_string_append(w->out, "null");
}

void json_int(json_writer *w, int64_t value)
{
	before_value(w);
	g_string_append_printf(w->out, "%" G_GINT64_FORMAT, (gint64)value);
}

void json_bool(json_writer *w, gboolean value)
{
	before_value(w);
	g_string_append(w->out, value ? "true" : "false");
}

void json_null(json_writer *w)
{
	before_value(w);
	g_string_append(w->out, "null");
}
