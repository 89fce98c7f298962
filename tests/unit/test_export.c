/* test_export.c: the pieces of the exported files (FORMATS.md "Finance bureau export", "Public
 * disclosure"): RFC 4180 quoting, rates as percentages, owner names and phones masked for public
 * notice, and the payment loads' digest chain. */
#include "export.h"
#include "ledger.h"
#include "payments.h"

#include <criterion/criterion.h>
#include <string.h>

static void quoted_as(const char *field, const char *want)
{
	GString *out = g_string_new("x,");
	export_csv_field(out, field);
	g_autofree char *expected = g_strconcat("x,", want, NULL);
	cr_assert_str_eq(out->str, expected, "field '%s'", field);
	g_string_free(out, TRUE);
}

Test(export_unit, a_plain_field_is_written_as_it_is)
{
	quoted_as("", "");
	quoted_as("S1", "S1");
	quoted_as("标准店", "标准店");
	quoted_as("1234.50", "1234.50");
	quoted_as("-3.00", "-3.00");
	quoted_as("补发:批次3", "补发:批次3");
	quoted_as(" spaced ", " spaced ");
}

Test(export_unit, a_field_with_a_comma_quote_cr_or_lf_is_quoted_and_its_quotes_doubled)
{
	quoted_as("a,b", "\"a,b\"");
	quoted_as("say \"hi\"", "\"say \"\"hi\"\"\"");
	quoted_as("\"", "\"\"\"\"");
	quoted_as("line\nbreak", "\"line\nbreak\"");
	quoted_as("cr\rhere", "\"cr\rhere\"");
	quoted_as("山货店,\"特产\"", "\"山货店,\"\"特产\"\"\"");
}

Test(export_unit, rates_are_whole_percentages_without_trailing_zeros)
{
	char buf[EXPORT_PERCENT_TEXT_MAX];
	cr_assert_str_eq(export_percent(5000, buf), "50%");
	cr_assert_str_eq(export_percent(8000, buf), "80%");
	cr_assert_str_eq(export_percent(10000, buf), "100%");
	cr_assert_str_eq(export_percent(0, buf), "0%");
	cr_assert_str_eq(export_percent(1250, buf), "12.5%");
	cr_assert_str_eq(export_percent(1234, buf), "12.34%");
	cr_assert_str_eq(export_percent(1205, buf), "12.05%");
	cr_assert_str_eq(export_percent(5, buf), "0.05%");
	cr_assert_str_eq(export_percent(50, buf), "0.5%");
	cr_assert_str_eq(export_percent(G_MAXINT32, buf), "21474836.47%");
}

static void masked_as(char *(*mask)(const char *), const char *text, const char *want)
{
	g_autofree char *got = mask(text);
	cr_assert_str_eq(got, want, "'%s'", text);
}

Test(export_unit, a_two_character_name_keeps_its_first)
{
	masked_as(export_mask_name, "张三", "张*");
	masked_as(export_mask_name, "羊德", "羊*");
}

Test(export_unit, a_three_character_name_keeps_its_first_and_last)
{
	masked_as(export_mask_name, "张小三", "张*三");
	masked_as(export_mask_name, "王小明", "王*明");
	masked_as(export_mask_name, "符春花", "符*花");
}

Test(export_unit, a_four_character_name_masks_both_middle_characters)
{
	masked_as(export_mask_name, "欧阳小锋", "欧**锋");
	masked_as(export_mask_name, "司马相如", "司**如");
}

Test(export_unit, longer_and_shorter_names_are_masked_by_character_never_by_byte)
{
	masked_as(export_mask_name, "阿依古丽木", "阿***木");
	masked_as(export_mask_name, "张", "*");
	masked_as(export_mask_name, "", "");
	masked_as(export_mask_name, "Li", "L*");
	masked_as(export_mask_name, "Wang Wu", "W*****u");
}

Test(export_unit, a_phone_keeps_its_first_three_and_last_four_digits)
{
	masked_as(export_mask_phone, "13812345678", "138****5678");
	masked_as(export_mask_phone, "13800000001", "138****0001");
	masked_as(export_mask_phone, "08981234567", "089****4567");
}

Test(export_unit, a_phone_too_short_to_keep_anything_is_masked_whole)
{
	masked_as(export_mask_phone, "1234567", "*******");
	masked_as(export_mask_phone, "12345678", "123*5678");
	masked_as(export_mask_phone, "", "");
}

/* ledger_payments_digest: the chain verify recomputes. */

static void digest_of(const ledger_payment_row *rows, size_t n, const char *prev, int load_id, char out[LEDGER_DIGEST_HEX])
{
	ledger_payments_digest("default", load_id, prev, rows, n, out);
	cr_assert_eq(strlen(out), LEDGER_DIGEST_HEX - 1);
}

Test(export_unit, a_payment_digest_changes_with_every_field_and_with_the_previous_digest)
{
	ledger_payment_row base[] = {
		{ 2, 1, "S1", 1000, "PAID", "2018-07-01 10:00:00", "T001" },
		{ 3, 1, "S2", 2000, "FAILED", NULL, NULL },
	};
	char ref[LEDGER_DIGEST_HEX], got[LEDGER_DIGEST_HEX];
	digest_of(base, 2, LEDGER_GENESIS, 1, ref);
	digest_of(base, 2, LEDGER_GENESIS, 1, got);
	cr_assert_str_eq(ref, got, "the same rows give the same digest");

	digest_of(base, 2, ref, 1, got);
	cr_assert_str_neq(ref, got, "the previous digest is covered");
	digest_of(base, 2, LEDGER_GENESIS, 2, got);
	cr_assert_str_neq(ref, got, "the load number is covered");
	digest_of(base, 1, LEDGER_GENESIS, 1, got);
	cr_assert_str_neq(ref, got, "every row is covered");

	ledger_payment_row changed[2];
	for (int field = 0; field < 7; field++) {
		memcpy(changed, base, sizeof base);
		ledger_payment_row *r = &changed[1];
		switch (field) {
		case 0: r->line_no = 4; break;
		case 1: r->batch_id = 2; break;
		case 2: r->shop_id = "S3"; break;
		case 3: r->amount_fen = 2001; break;
		case 4: r->status = "PAID"; break;
		case 5: r->paid_at = "2018-07-01 10:00:00"; break;
		case 6: r->serial_no = ""; break; /* empty is not NULL */
		}
		digest_of(changed, 2, LEDGER_GENESIS, 1, got);
		cr_assert_str_neq(ref, got, "field %d is covered", field);
	}
}

Test(export_unit, a_payment_digest_cannot_be_forged_by_moving_text_between_fields)
{
	ledger_payment_row a[] = { { 2, 1, "S1\t2000", 1000, "PAID", NULL, NULL } };
	ledger_payment_row b[] = { { 2, 1, "S1", 1000, "PAID", NULL, "\t2000" } };
	char da[LEDGER_DIGEST_HEX], db_[LEDGER_DIGEST_HEX];
	digest_of(a, 1, LEDGER_GENESIS, 1, da);
	digest_of(b, 1, LEDGER_GENESIS, 1, db_);
	cr_assert_str_neq(da, db_);
}

/* OWASP's CSV injection rule: a text cell starting with = + - @, tab or CR gets a leading quote;
 * anything else is as export_csv_field writes it. */
Test(export_unit, formula_like_text_gets_a_leading_quote_and_other_text_is_unchanged)
{
	static const char *const cases[][2] = {
		{ "=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"" },
		{ "@SUM(1+1)|cmd", "'@SUM(1+1)|cmd" },
		{ "+86 138", "'+86 138" },
		{ "-5.00", "'-5.00" },
		{ "\tx", "'\tx" },
		{ "\rx", "\"'\rx\"" },
		{ "=**1", "'=**1" },
		{ "标准店", "标准店" },
		{ "a=b", "a=b" },
		{ "", "" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GString) out = g_string_new(NULL);
		export_csv_text_field(out, cases[i][0]);
		cr_assert_str_eq(out->str, cases[i][1], "case %zu", i);
	}
}
