/* test_db.c: the pure helpers of the store module. */
#include "db.h"

#include <criterion/criterion.h>

Test(db_unit, a_text_array_quotes_each_item_escapes_quotes_and_backslashes_and_keeps_null)
{
	const char *items[] = { "S1", "a\"b", "c\\d", NULL, "", "村一,二" };
	g_autofree char *lit = db_text_array(items, G_N_ELEMENTS(items));
	cr_assert_str_eq(lit, "{\"S1\",\"a\\\"b\",\"c\\\\d\",NULL,\"\",\"村一,二\"}");
	g_autofree char *none = db_text_array(NULL, 0);
	cr_assert_str_eq(none, "{}");
}

/* COPY's text form: backslash, tab, newline and carriage return escaped wherever they fall (first,
 * last, in a row), everything else as it is, NULL as \N, fields separated by tabs. */
Test(db_unit, copy_text_escapes_each_special_byte_wherever_it_falls_and_keeps_the_rest)
{
	g_autoptr(GString) row = g_string_new(NULL);
	db_copy_text(row, "\\a\tb\n\nc\r");
	db_copy_text(row, NULL);
	db_copy_text(row, "");
	db_copy_text(row, "村一 plain");
	db_copy_textn(row, "x\ty", 2); /* only the first len bytes */
	db_copy_row_end(row);
	cr_assert_str_eq(row->str, "\\\\a\\tb\\n\\nc\\r\t\\N\t\t村一 plain\tx\\t\n");
}
