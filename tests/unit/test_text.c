/* test_text.c: names made fit for a person's screen, and key files checked to be UTF-8. */
#include "text.h"

#include <criterion/criterion.h>
#include <glib.h>
#include <string.h>

Test(text, a_shown_name_keeps_its_letters_and_replaces_what_could_forge_a_line)
{
	g_autofree char *plain = text_shown("海南白沙 S1.csv");
	cr_assert_str_eq(plain, "海南白沙 S1.csv");
	/* LF, CR, ESC (a terminal's commands), DEL, a C1 control, U+2028 and U+2029: one U+FFFD each. */
	g_autofree char *controls = text_shown("a\nb\rc\x1b[2Jd\x7f" "e\xc2\x85" "f\xe2\x80\xa8g\xe2\x80\xa9h");
	cr_assert_str_eq(controls, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd[2Jd\xef\xbf\xbd" "e\xef\xbf\xbd"
				   "f\xef\xbf\xbdg\xef\xbf\xbdh");
	cr_assert(g_utf8_validate(controls, -1, NULL));
}

Test(text, a_shown_name_that_is_not_utf8_comes_out_as_utf8)
{
	/* GB18030 bytes of 白沙 and a lone continuation byte. */
	g_autofree char *shown = text_shown("\xb0\xd7\xc9\xb3-\x80.csv");
	cr_assert(g_utf8_validate(shown, -1, NULL), "%s", shown);
	cr_assert(g_str_has_suffix(shown, ".csv"), "%s", shown);
	cr_assert(strstr(shown, "\xef\xbf\xbd"), "the bad bytes are marked: %s", shown);
	g_autofree char *empty = text_shown("");
	cr_assert_str_eq(empty, "");
}

Test(text, the_first_line_that_is_not_utf8_is_named_counting_from_one)
{
	cr_assert_eq(text_utf8_bad_line("", 0), 0);
	cr_assert_eq(text_utf8_bad_line(NULL, 0), 0);
	const char good[] = "[subsidy]\n# 白沙\ndb=dbname=x\n";
	cr_assert_eq(text_utf8_bad_line(good, strlen(good)), 0);
	const char first[] = "\xff[subsidy]\n";
	cr_assert_eq(text_utf8_bad_line(first, strlen(first)), 1);
	const char third[] = "[subsidy]\n\n# \xb0\xd7\xc9\xb3\n";
	cr_assert_eq(text_utf8_bad_line(third, strlen(third)), 3);
	/* A character cut at the end of the bytes is not UTF-8 either, nor a NUL byte (text, not binary). */
	const char cut[] = "a\nb\n\xe7\x99";
	cr_assert_eq(text_utf8_bad_line(cut, strlen(cut)), 3);
	const char nul[] = { 'a', '\n', '\0', 'b' };
	cr_assert_eq(text_utf8_bad_line(nul, sizeof nul), 2);
}

Test(text, a_message_gains_a_detail_or_a_hint_in_postgresql_shape)
{
	g_autofree char *a = text_message_add("header of 'x.csv' matches no profile", "HINT", "save it as CSV");
	cr_assert_str_eq(a, "header of 'x.csv' matches no profile\nHINT: save it as CSV");
	g_autofree char *b = text_message_add(a, "DETAIL", "no profile has any of its columns");
	cr_assert_str_eq(b, "header of 'x.csv' matches no profile\nDETAIL: no profile has any of its columns\n"
			    "HINT: save it as CSV");
	g_autofree char *c = text_message_add(b, "DETAIL", "no row of the first 20 matches either");
	cr_assert_str_eq(c, "header of 'x.csv' matches no profile\nDETAIL: no profile has any of its columns; no row"
			    " of the first 20 matches either\nHINT: save it as CSV");
	g_autofree char *d = text_message_add(c, "HINT", "or choose one with --profile");
	cr_assert(g_str_has_suffix(d, "\nHINT: save it as CSV; or choose one with --profile"), "%s", d);
	cr_assert_eq(strstr(d, "DETAIL") - d, strstr(c, "DETAIL") - c);
	/* A part over several lines is kept whole. */
	g_autofree char *e = text_message_add("refused\nDETAIL: one\ntwo\nHINT: three\nfour", "HINT", "five");
	cr_assert_str_eq(e, "refused\nDETAIL: one\ntwo\nHINT: three\nfour; five");
	g_autofree char *f = text_message_add("refused\nDETAIL: one\ntwo", "DETAIL", "three");
	cr_assert_str_eq(f, "refused\nDETAIL: one\ntwo; three");
}

Test(text, a_file_kind_is_named_from_its_first_bytes_and_text_is_not)
{
	cr_assert(strstr(text_file_kind_hint((const unsigned char *)"PK\x03\x04....", 8), "Excel workbook (.xlsx)"));
	cr_assert(strstr(text_file_kind_hint((const unsigned char *)"\xFF\xFE" "c\0o\0", 6), "UTF-16"));
	cr_assert(strstr(text_file_kind_hint((const unsigned char *)"c\0o\0u\0", 6), "UTF-16"));
	cr_assert(strstr(text_file_kind_hint((const unsigned char *)"\0c\0o\0u", 6), "UTF-16"));
	/* Shorter than a signature, text, a UTF-8 BOM, GB18030, nothing: no hint. */
	static const char *const texts[] = { "PK\x03", "courier,", TEXT_UTF8_BOM "运单号", "\xd4\xcb\xb5\xa5\xba\xc5", "" };
	for (size_t i = 0; i < G_N_ELEMENTS(texts); i++)
		cr_assert_null(text_file_kind_hint((const unsigned char *)texts[i], MIN(strlen(texts[i]), 8)), "%zu", i);
	cr_assert_null(text_file_kind_hint(NULL, 0));
}

Test(text, a_line_ends_with_lf_crlf_or_cr_alone)
{
	const char t[] = "a\nb\r\nc\rd\r\re";
	size_t len = strlen(t);
	cr_assert_eq(text_line_of(t, 0, len), 1);
	cr_assert_eq(text_line_of(t, 2, len), 2);  /* b */
	cr_assert_eq(text_line_of(t, 4, len), 2);  /* the LF of b's CRLF: still b's line */
	cr_assert_eq(text_line_of(t, 5, len), 3);  /* c */
	cr_assert_eq(text_line_of(t, 7, len), 4);  /* d */
	cr_assert_eq(text_line_of(t, 10, len), 6); /* e, after two CRs */
	cr_assert_eq(text_line_of(t, len, len), 6);
	const char cr_last[] = "x\r";
	cr_assert_eq(text_line_of(cr_last, 2, 2), 2); /* a CR at the very end ends its line */
	cr_assert_eq(text_line_of(NULL, 0, 0), 1);
}
