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
