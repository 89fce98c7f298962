/* json.h: a small streaming JSON writer for --json output (GLib has none).
 *
 * Calls nest as the JSON does; the writer adds commas and escapes strings. Keys and strings are
 * UTF-8. Money goes out as integers (fen), never as floating point. */
#ifndef SUBSIDY_JSON_H
#define SUBSIDY_JSON_H

#include <glib.h>
#include <stdint.h>

#define JSON_DEPTH_MAX 16

typedef struct {
	GString *out;
	int depth;
	gboolean first[JSON_DEPTH_MAX]; /* nothing written yet at this depth */
	gboolean after_key;
} json_writer;

void json_init(json_writer *w);
/* Returns the text written so far and frees the writer's buffer (caller owns). */
char *json_finish(json_writer *w);

void json_object_begin(json_writer *w);
void json_object_end(json_writer *w);
void json_array_begin(json_writer *w);
void json_array_end(json_writer *w);
void json_key(json_writer *w, const char *key);
void json_string(json_writer *w, const char *value); /* NULL writes null */
void json_int(json_writer *w, int64_t value);
void json_bool(json_writer *w, gboolean value);
void json_null(json_writer *w);

#endif
