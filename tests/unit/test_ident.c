/* test_ident.c: the normal form of waybill numbers, order numbers and courier codes (POLICY.md,
 * check 2; src/ident.h). The spellings of issue 12 first, then every character class the form
 * removes or folds, then the properties over every code point: the form is its own normal form,
 * it is reached within IDENT_ROUNDS_MAX rounds, the ASCII fast path agrees with the full path, and
 * invalid UTF-8 is refused rather than folded. */
#include "ident.h"
#include "manifest.h"
#include "profile.h"
#include "status.h"

#include <criterion/criterion.h>
#include <glib/gstdio.h>
#include <string.h>

/* The normal form of text, asserted valid; caller frees. */
static char *norm(const char *text)
{
	char *n = ident_normalize(text);
	cr_assert_not_null(n, "'%s' refused", text);
	return n;
}

static void assert_normal(const char *text, const char *want)
{
	g_autofree char *n = norm(text);
	g_autofree char *escaped = g_strescape(text, NULL);
	cr_assert_str_eq(n, want, "'%s' -> '%s', want '%s'", escaped, n, want);
}

static void assert_code(const char *text, const char *want, gboolean want_named)
{
	gboolean named = !want_named;
	g_autofree char *code = ident_courier_code(text, &named);
	cr_assert_not_null(code, "'%s' refused", text);
	cr_assert_str_eq(code, want, "'%s' -> '%s', want '%s'", text, code, want);
	cr_assert_eq(named, want_named, "'%s': named %d", text, named);
}

/* ---- issue 12's spellings ---- */

Test(ident, the_five_spellings_of_one_waybill_are_one_number)
{
	assert_normal("YT6200450000274", "YT6200450000274");
	assert_normal("yt6200450000274", "YT6200450000274");
	assert_normal("YT6200450000274\u200B", "YT6200450000274");             /* zero-width space */
	assert_normal("ＹＴ６２００４５００００２７４", "YT6200450000274"); /* full width */
	assert_normal("YT６２００４５００００２７４", "YT6200450000274");
	assert_normal("\uFEFFyt 6200 4500 0027 4\u00A0", "YT6200450000274");
}

Test(ident, ORD1_ord1_and_fullwidth_ORD1_are_one_order_number)
{
	assert_normal("ORD1", "ORD1");
	assert_normal("ord1", "ORD1");
	assert_normal("ＯＲＤ1", "ORD1");
	assert_normal("ｏｒｄ１", "ORD1");
	g_autofree char *a = ident_order_key("ORD1", "ZTO", "1");
	g_autofree char *b = ident_order_key("ord1", "YTO", "2");
	g_autofree char *c = ident_order_key("ＯＲＤ1", "圆通", "3");
	cr_assert_str_eq(a, "o:ORD1");
	cr_assert_str_eq(b, "o:ORD1");
	cr_assert_str_eq(c, "o:ORD1");
}

/* ---- what is removed ---- */

Test(ident, every_white_space_character_is_removed)
{
	static const gunichar white[] = { 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2001,
					   0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
					   0x2028, 0x2029, 0x202F, 0x205F, 0x3000 };
	for (size_t i = 0; i < G_N_ELEMENTS(white); i++) {
		cr_assert(ident_is_invisible(white[i]), "U+%04X kept", white[i]);
		char buf[8] = { 0 };
		g_unichar_to_utf8(white[i], buf);
		g_autofree char *text = g_strconcat("A", buf, "1", buf, NULL);
		g_autofree char *n = norm(text);
		cr_assert_str_eq(n, "A1", "U+%04X: '%s'", white[i], n);
	}
}

Test(ident, zero_width_and_format_characters_are_removed)
{
	static const gunichar invisible[] = {
		0x00AD,                          /* soft hyphen */
		0x200B, 0x200C, 0x200D,          /* zero-width space, non-joiner, joiner */
		0x200E, 0x200F, 0x202A, 0x202E,  /* direction marks and embeddings */
		0x2060, 0x2061, 0x2064, 0x2066,  /* word joiner, invisible operators, isolates */
		0xFEFF,                          /* BOM, zero-width no-break space */
		0x061C, 0x180E,                  /* Arabic letter mark, Mongolian vowel separator */
		0x034F,                          /* combining grapheme joiner */
		0x115F, 0x1160, 0x3164, 0xFFA0,  /* Hangul fillers */
		0x17B4, 0x17B5, 0x180B, 0xFE00, 0xFE0F, 0xE0100, 0xE01EF, /* variation selectors */
		0xE0001, 0xE0041,                /* tags */
		0x0000 + 0x01, 0x001F, 0x007F, 0x0080, 0x009F, /* controls */
	};
	for (size_t i = 0; i < G_N_ELEMENTS(invisible); i++) {
		cr_assert(ident_is_invisible(invisible[i]), "U+%04X kept", invisible[i]);
		char buf[8] = { 0 };
		g_unichar_to_utf8(invisible[i], buf);
		g_autofree char *text = g_strconcat(buf, "Y", buf, "T", buf, "6", buf, NULL);
		g_autofree char *n = norm(text);
		cr_assert_str_eq(n, "YT6", "U+%04X: '%s'", invisible[i], n);
	}
}

Test(ident, visible_characters_are_kept)
{
	static const gunichar visible[] = { '-', '_', '.', '/', '#', 0x2010 /* hyphen */, 0x2212 /* minus */,
					    0x4E2D /* 中 */, 0x00C9, 0x2800 /* braille blank: visible glyph cell */ };
	for (size_t i = 0; i < G_N_ELEMENTS(visible); i++)
		cr_assert_not(ident_is_invisible(visible[i]), "U+%04X removed", visible[i]);
	/* Punctuation is part of a number: these stay two numbers. */
	assert_normal("YT-620", "YT-620");
	assert_normal("YT620", "YT620");
	assert_normal("中通-12", "中通-12");
}

Test(ident, nothing_visible_is_the_empty_string)
{
	assert_normal("", "");
	assert_normal(" ", "");
	assert_normal("\u200B", "");
	assert_normal("\u00A0\u3000\uFEFF\u00AD", "");
	g_autofree char *code = ident_courier_code("\u200B", NULL);
	cr_assert_str_eq(code, "");
	/* No order number: the waybill is the order. */
	g_autofree char *key = ident_order_key("\u200B ", "yto", "yt1");
	cr_assert_str_eq(key, "w:YTO:YT1");
}

/* ---- what is folded ---- */

Test(ident, width_and_compatibility_forms_fold_to_plain_characters)
{
	assert_normal("ＡＢＣ１２３", "ABC123");
	assert_normal("①②③", "123");          /* circled digits */
	assert_normal("ﬁ1", "FI1");             /* ligature */
	assert_normal("Ⅻ", "XII");             /* roman numeral */
	assert_normal("㈠", "(一)");            /* parenthesised ideograph */
	assert_normal("ｶ", "カ");               /* half-width katakana to full width: NFKC's way */
	assert_normal("－", "-");               /* full-width hyphen-minus */
	assert_normal("ＹＴ　６２０", "YT620"); /* ideographic space */
}

Test(ident, case_is_folded_to_upper_case)
{
	assert_normal("abcxyz", "ABCXYZ");
	assert_normal("AbC", "ABC");
	assert_normal("straße", "STRASSE"); /* full folding: ß is ss */
	assert_normal("STRASSE", "STRASSE");
	assert_normal("ǅ", "DŽ");           /* title case */
	assert_normal("ﬀ", "FF");
	assert_normal("ΣΑΣ", "ΣΑΣ");
	assert_normal("σας", "ΣΑΣ");        /* final sigma */
	assert_normal("é", "É");            /* decomposed: e and a combining acute */
	assert_normal("é", "É");             /* precomposed */
}

Test(ident, canonical_equivalents_are_one_form)
{
	g_autofree char *a = norm("A\u030A1");     /* A and a combining ring */
	g_autofree char *b = norm("\u00C51");      /* Å */
	g_autofree char *c = norm("\u212B1");      /* Angstrom sign */
	g_autofree char *d = norm("a\u200B\u030A1"); /* a ZWSP between the letter and its mark */
	cr_assert_str_eq(a, b);
	cr_assert_str_eq(b, c);
	cr_assert_str_eq(c, d);
}

Test(ident, a_space_nfkc_produces_is_removed_and_what_it_separated_composes)
{
	/* U+00A8 (diaeresis) is NFKC " \u0308": the space goes, the mark composes with the A. */
	assert_normal("A\u00A8", "\u00C4");
	assert_normal("a\u00A8\u00A8", "\u00C4\u0308");
	assert_normal("\u02DB", "\u0328"); /* ogonek alone: its combining form */
}

/* ---- couriers ---- */

Test(ident, every_name_of_the_formats_list_is_its_code)
{
	assert_code("中通", "ZTO", TRUE);
	assert_code("圆通", "YTO", TRUE);
	assert_code("申通", "STO", TRUE);
	assert_code("韵达", "YUNDA", TRUE);
	assert_code("邮政", "EMS", TRUE);
	assert_code("EMS", "EMS", TRUE);
	assert_code("百世", "BEST", TRUE);
	assert_code("极兔", "JT", TRUE);
	assert_code("顺丰", "SF", TRUE);
	/* In any spelling of the name. */
	assert_code(" 圆通\u200B", "YTO", TRUE);
	assert_code("ems", "EMS", TRUE);
	assert_code("ＥＭＳ", "EMS", TRUE);
}

Test(ident, a_code_is_folded_like_a_number)
{
	assert_code("YTO", "YTO", FALSE);
	assert_code("yto", "YTO", FALSE);
	assert_code("ＹＴＯ", "YTO", FALSE);
	assert_code("Zto\uFEFF", "ZTO", FALSE);
	assert_code("圆通速递", "圆通速递", FALSE); /* not a listed name: kept as its code */
	assert_code("DHL", "DHL", FALSE);
}

Test(ident, the_name_table_is_keyed_in_normal_form_and_its_codes_are_normal)
{
	static const char *const names[] = { "中通", "圆通", "申通", "韵达", "邮政", "EMS", "百世", "极兔", "顺丰" };
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *n = norm(names[i]);
		cr_assert_str_eq(n, names[i]);
		const char *code = ident_courier_name_code(n);
		cr_assert_not_null(code, "%s", names[i]);
		g_autofree char *c = norm(code);
		cr_assert_str_eq(c, code);
		/* A code's code is itself: folding a stored courier again changes nothing. */
		g_autofree char *again = ident_courier_code(code, NULL);
		cr_assert_str_eq(again, code);
	}
	cr_assert_null(ident_courier_name_code("YTO"));
	cr_assert_null(ident_courier_name_code("圆"));
}

/* ---- order keys ---- */

Test(ident, an_order_key_is_its_number_or_its_waybill_in_normal_form)
{
	g_autofree char *a = ident_order_key("tb-1", "ZTO", "753");
	cr_assert_str_eq(a, "o:TB-1");
	g_autofree char *b = ident_order_key(NULL, "圆通", "yt620\u200B");
	cr_assert_str_eq(b, "w:YTO:YT620");
	g_autofree char *c = ident_order_key("", "yto", "ＹＴ６２０");
	cr_assert_str_eq(c, "w:YTO:YT620");
	/* Of stored values (already normal) it is the same key. */
	g_autofree char *d = ident_order_key(NULL, "YTO", "YT620");
	cr_assert_str_eq(d, b);
}

/* ---- properties over every code point ---- */

/* Checks that text's normal form is its own normal form, and is reached within the bound (a
 * round past it asserts inside ident_normalize). */
static void assert_idempotent(const char *text)
{
	g_autofree char *once = norm(text);
	g_autofree char *twice = norm(once);
	g_autofree char *escaped = g_strescape(text, NULL);
	cr_assert_str_eq(once, twice, "'%s': '%s' then '%s'", escaped, once, twice);
	cr_assert(g_utf8_validate(once, -1, NULL));
	for (const char *p = once; *p; p = g_utf8_next_char(p))
		cr_assert_not(ident_is_invisible(g_utf8_get_char(p)), "'%s' keeps an invisible character", escaped);
}

Test(ident, the_normal_form_of_every_code_point_is_its_own_normal_form)
{
	for (gunichar c = 1; c <= 0x10FFFF; c++) {
		if (c >= 0xD800 && c <= 0xDFFF)
			continue; /* surrogates are not characters */
		char buf[8] = { 0 };
		g_unichar_to_utf8(c, buf);
		g_autofree char *alone = norm(buf);
		g_autofree char *twice = norm(alone);
		cr_assert_str_eq(alone, twice, "U+%04X: '%s' then '%s'", c, alone, twice);
	}
}

/* A seeded random walk over the characters most likely to interact: combining marks, compatibility
 * forms with spaces, invisibles between a letter and its mark, case pairs, Hangul jamo. */
Test(ident, random_mixtures_of_marks_spaces_and_invisibles_are_idempotent)
{
	static const gunichar pool[] = {
		'a', 'A', 'e', 'i', 'I', 'o', 's', 'S', 'k', 'K', '1', ' ', 0x00A8, 0x00AF, 0x00B4, 0x00B8,
		0x02D8, 0x02D9, 0x02DA, 0x02DB, 0x02DC, 0x02DD, 0x0301, 0x0308, 0x030A, 0x0323, 0x0327,
		0x0342, 0x0345, 0x0399, 0x03B9, 0x1FBE, 0x00DF, 0x1E9E, 0x0130, 0x0131, 0x017F, 0x212A,
		0x212B, 0x00C5, 0xFB00, 0xFB01, 0x01C5, 0x1100, 0x1161, 0x11A8, 0x3131, 0xFFA0, 0x3164,
		0x200B, 0x200D, 0x00AD, 0xFEFF, 0x034F, 0x3000, 0xFF41, 0xFF21, 0x1D400, 0x0344, 0x0F73,
		0x0F75, 0x0F81, 0x1F80, 0x0390, 0x03B0, 0x0587, 0x1E96, 0xFE00, 0x2126, 0x03A9, 0x0149,
	};
	GRand *rand = g_rand_new_with_seed(12);
	for (int n = 0; n < 60000; n++) {
		gunichar text[8];
		int len = g_rand_int_range(rand, 1, G_N_ELEMENTS(text) + 1);
		for (int i = 0; i < len; i++)
			text[i] = pool[g_rand_int_range(rand, 0, G_N_ELEMENTS(pool))];
		g_autofree char *utf8 = g_ucs4_to_utf8(text, len, NULL, NULL, NULL);
		assert_idempotent(utf8);
	}
	g_rand_free(rand);
}

Test(ident, random_strings_of_any_code_points_are_idempotent)
{
	GRand *rand = g_rand_new_with_seed(2018);
	for (int n = 0; n < 50000; n++) {
		gunichar text[6];
		int len = g_rand_int_range(rand, 1, G_N_ELEMENTS(text) + 1);
		for (int i = 0; i < len; i++) {
			gunichar c;
			do
				c = (gunichar)g_rand_int_range(rand, 1, g_rand_boolean(rand) ? 0x3400 : 0x110000);
			while (c >= 0xD800 && c <= 0xDFFF);
			text[i] = c;
		}
		g_autofree char *utf8 = g_ucs4_to_utf8(text, len, NULL, NULL, NULL);
		assert_idempotent(utf8);
	}
	g_rand_free(rand);
}

Test(ident, the_ascii_fast_path_agrees_with_the_full_path)
{
	/* Every printable ASCII character, alone and beside a non-ASCII one that forces the full path
	 * (a zero-width space, which the form removes). */
	for (int c = 0x21; c < 0x7F; c++) {
		char plain[2] = { (char)c, 0 };
		char slow[8] = { (char)c, '\xE2', '\x80', '\x8B', 0 };
		g_autofree char *a = norm(plain);
		g_autofree char *b = norm(slow);
		cr_assert_str_eq(a, b, "'%c': '%s' and '%s'", c, a, b);
		cr_assert_eq(strlen(a), 1);
		cr_assert_eq(a[0], g_ascii_toupper((char)c));
	}
}

/* ---- invalid UTF-8 ---- */

Test(ident, invalid_utf8_is_refused_not_folded)
{
	static const char *const bad[] = { "YT\xFF", "\xC3", "\xED\xA0\x80" /* a surrogate */,
					   "\xF4\x90\x80\x80" /* above U+10FFFF */, "\xC0\xAF" /* overlong */,
					   "\xD6\xD0\xCD\xA8" /* 中通 in GB18030 */ };
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		cr_assert_null(ident_normalize(bad[i]), "bad %zu accepted", i);
		gboolean named = TRUE;
		cr_assert_null(ident_courier_code(bad[i], &named), "bad %zu accepted", i);
		cr_assert_not(named);
	}
}

/* The reader is the only way a manifest's text reaches the normal form: a byte that does not
 * decode becomes U+FFFD (and rejects its line), so every field it returns is valid UTF-8. */
Test(ident, the_manifest_reader_hands_on_only_valid_utf8)
{
	g_autoptr(GError) error = NULL;
	const char *text =
		"courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"
		"\xD6\xD0,YT\xFF\xFE,O\xC3,2018-06-05 10:00:00,C1,,1,12.00,,\n";
	g_autofree char *dir = g_dir_make_tmp("ident-XXXXXX", &error);
	cr_assert_not_null(dir);
	g_autofree char *path = g_build_filename(dir, "bad.csv", NULL);
	cr_assert(g_file_set_contents(path, text, -1, &error));
	profile_set *ps = profile_set_load(NULL, &error); /* the built-in profiles */
	cr_assert_not_null(ps, "%s", error ? error->message : "");
	manifest_reader *r = manifest_open(path, ps, "canonical", NULL, NULL, NULL, &error);
	cr_assert_not_null(r, "%s", error ? error->message : "");
	manifest_line line;
	cr_assert(manifest_next(r, &line, &error));
	cr_assert(line.rejected);
	for (int f = 0; f < PROFILE_FIELD_COUNT; f++)
		cr_assert(!line.field[f] || g_utf8_validate(line.field[f], -1, NULL), "field %d", f);
	manifest_close(r);
	profile_set_free(ps);
	g_unlink(path);
	g_rmdir(dir);
}

/* ------------------------------------------------------------------------------------------ */
/* Resident ID numbers (GB 11643) and the phone normalisation that POLICY.md check 3 and
 * duplicate detection share. */

Test(ident_id, the_check_character_follows_gb_11643_including_x)
{
	/* sum of digit * weight mod 11 indexes "10X98765432" */
	cr_assert_eq(ident_id_check_char("11010519491231002"), 'X');
	cr_assert_eq(ident_id_check_char("44052418800101001"), '4');
	cr_assert_eq(ident_id_check_char("46902519700101002"), '8');
	cr_assert_eq(ident_id_check_char("00000000000000000"), '1'); /* sum 0 */
	cr_assert_eq(ident_id_check_char("10000000000000000"), '5'); /* sum 7 */
	cr_assert_eq(ident_id_check_char("01000000000000000"), '3'); /* sum 9 */
}

Test(ident_id, every_remainder_maps_to_its_check_character)
{
	/* Only the last digit varies (weight 2): sums 0, 2, 4, ... cover every remainder mod 11. */
	static const char table[] = "10X98765432";
	char id[18] = "0000000000000000";
	for (int last = 0; last <= 9; last++) {
		id[16] = (char)('0' + last);
		id[17] = '\0';
		int sum = last * 2;
		cr_assert_eq(ident_id_check_char(id), table[sum % 11], "last digit %d", last);
	}
}

Test(ident_id, a_valid_id_number_is_accepted_and_lower_case_x_means_x)
{
	cr_assert(ident_id_no_valid("11010519491231002X", NULL));
	cr_assert(ident_id_no_valid("11010519491231002x", NULL));
	cr_assert(ident_id_no_valid("440524188001010014", NULL));
	cr_assert(ident_id_no_valid("469025197001010028", NULL));
}

/* id_no must be refused with a data error quoting it and containing why. */
static void refused(const char *id_no, const char *why)
{
	GError *error = NULL;
	cr_assert_not(ident_id_no_valid(id_no, &error), "'%s' accepted", id_no);
	cr_assert(g_error_matches(error, IDENT_ERROR, STATUS_DATAERR));
	g_autofree char *quoted = g_strdup_printf("'%s'", id_no);
	cr_assert(strstr(error->message, quoted), "%s", error->message);
	cr_assert(strstr(error->message, why), "'%s' not in: %s", why, error->message);
	g_error_free(error);
}

Test(ident_id, a_wrong_check_character_is_refused_naming_the_right_one)
{
	refused("110105194912310021", "wrong check character (expected 'X')");
	refused("440524188001010015", "wrong check character (expected '4')");
	refused("469025197001010028X", "not a resident ID number");
	refused("46902519700101002X", "wrong check character (expected '8')");
}

Test(ident_id, an_id_number_of_the_wrong_form_is_refused)
{
	refused("", "not a resident ID number");
	refused("4690251970010100", "not a resident ID number");      /* 16 */
	refused("46902519700101002", "not a resident ID number");     /* 17 */
	refused("4690251970010100288", "not a resident ID number");   /* 19 */
	refused("46902519700101A028", "not a resident ID number");    /* a letter among the digits */
	refused("46902519700101002Y", "not a resident ID number");    /* a check character that is no digit or X */
	refused(" 469025197001010028", "not a resident ID number");
}

static void normalises(const char *text, const char *want)
{
	g_autofree char *got = ident_phone(text);
	cr_assert_str_eq(got, want, "'%s' gave '%s', wanted '%s'", text ? text : "(null)", got, want);
}

Test(ident_id, a_phone_keeps_its_digits_only)
{
	normalises("13800000003", "13800000003");
	normalises("138-0000-0003", "13800000003");
	normalises(" 138 0000 0003 ", "13800000003");
	normalises("(0898) 6666-1234", "089866661234");
	normalises("", "");
	normalises(NULL, "");
	normalises("no digits", "");
}

Test(ident_id, a_leading_86_or_0086_is_dropped_only_when_11_digits_remain)
{
	normalises("+86 138-0000-0003", "13800000003");
	normalises("8613800000003", "13800000003");
	normalises("0086 13800000003", "13800000003");
	normalises("+86-898-6666-1234", "89866661234"); /* 86 + 11 digits: dropped, whatever they are */
	normalises("86898666612", "86898666612");    /* 11 digits in all: kept */
	normalises("861380000000", "861380000000");  /* 12 digits: kept */
	normalises("86138000000031", "86138000000031"); /* 14 digits: kept */
	normalises("0086138000000", "0086138000000");   /* 13 digits starting 00: kept */
	normalises("00861380000000312", "00861380000000312");
}
