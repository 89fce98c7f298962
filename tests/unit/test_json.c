/* test_json.c: the --json writer: commas, nesting, escapes, integers for money. */
#include "json.h"

#include <criterion/criterion.h>
#include <glib.h>

Test(json, values_nest_with_commas_between_and_none_after)
{
	json_writer w;
	json_init(&w);
	json_object_begin(&w);
	json_key(&w, "batch");
	json_int(&w, 3);
	json_key(&w, "posted_fen");
	json_int(&w, INT64_MAX);
	json_key(&w, "refund_fen");
	json_int(&w, INT64_MIN);
	json_key(&w, "approved");
	json_bool(&w, FALSE);
	json_key(&w, "note");
	json_string(&w, NULL);
	json_key(&w, "gone");
	json_null(&w);
	json_key(&w, "shops");
	json_array_begin(&w);
	json_array_end(&w);
	json_key(&w, "days");
	json_array_begin(&w);
	json_object_begin(&w);
	json_object_end(&w);
	json_string(&w, "2018-06-18");
	json_array_begin(&w);
	json_int(&w, -1);
	json_array_end(&w);
	json_array_end(&w);
	json_object_end(&w);
	g_autofree char *out = json_finish(&w);
	cr_assert_str_eq(out, "{\"batch\":3,\"posted_fen\":9223372036854775807,\"refund_fen\":-9223372036854775808,"
			      "\"approved\":false,\"note\":null,\"gone\":null,\"shops\":[],"
			      "\"days\":[{},\"2018-06-18\",[-1]]}");
}

Test(json, strings_escape_quotes_backslashes_and_every_control_and_keep_utf8)
{
	json_writer w;
	json_init(&w);
	json_array_begin(&w);
	json_string(&w, "白沙 \"S1\" \\ a\nb\rc\td\x01\x1f\x7f");
	json_array_end(&w);
	g_autofree char *out = json_finish(&w);
	cr_assert_str_eq(out, "[\"白沙 \\\"S1\\\" \\\\ a\\nb\\rc\\td\\u0001\\u001f\x7f\"]");
}

Test(json, a_key_is_escaped_as_a_string_is)
{
	json_writer w;
	json_init(&w);
	json_object_begin(&w);
	json_key(&w, "a\"b");
	json_int(&w, 0);
	json_object_end(&w);
	g_autofree char *out = json_finish(&w);
	cr_assert_str_eq(out, "{\"a\\\"b\":0}");
}
