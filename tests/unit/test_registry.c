/* test_registry.c: the registry's pure parts: GB 11643 check characters of resident ID numbers
 * and the phone normalisation that POLICY.md check 3 and duplicate detection share. Loading and
 * snapshots need the database: tests/integration/test_registry.c. */
#include "registry.h"
#include "status.h"

#include <criterion/criterion.h>
#include <string.h>

Test(registry_unit, the_check_character_follows_gb_11643_including_x)
{
	/* sum of digit * weight mod 11 indexes "10X98765432" */
	cr_assert_eq(registry_id_check_char("11010519491231002"), 'X');
	cr_assert_eq(registry_id_check_char("44052418800101001"), '4');
	cr_assert_eq(registry_id_check_char("46902519700101002"), '8');
	cr_assert_eq(registry_id_check_char("00000000000000000"), '1'); /* sum 0 */
	cr_assert_eq(registry_id_check_char("10000000000000000"), '5'); /* sum 7 */
	cr_assert_eq(registry_id_check_char("01000000000000000"), '3'); /* sum 9 */
}

Test(registry_unit, every_remainder_maps_to_its_check_character)
{
	/* Only the last digit varies (weight 2): sums 0, 2, 4, ... cover every remainder mod 11. */
	static const char table[] = "10X98765432";
	char id[18] = "0000000000000000";
	for (int last = 0; last <= 9; last++) {
		id[16] = (char)('0' + last);
		id[17] = '\0';
		int sum = last * 2;
		cr_assert_eq(registry_id_check_char(id), table[sum % 11], "last digit %d", last);
	}
}

Test(registry_unit, a_valid_id_number_is_accepted_and_lower_case_x_means_x)
{
	cr_assert(registry_id_no_valid("11010519491231002X", NULL));
	cr_assert(registry_id_no_valid("11010519491231002x", NULL));
	cr_assert(registry_id_no_valid("440524188001010014", NULL));
	cr_assert(registry_id_no_valid("469025197001010028", NULL));
}

/* id_no must be refused with a data error quoting it and containing why. */
static void refused(const char *id_no, const char *why)
{
	GError *error = NULL;
	cr_assert_not(registry_id_no_valid(id_no, &error), "'%s' accepted", id_no);
	cr_assert(g_error_matches(error, REGISTRY_ERROR, STATUS_DATAERR));
	g_autofree char *quoted = g_strdup_printf("'%s'", id_no);
	cr_assert(strstr(error->message, quoted), "%s", error->message);
	cr_assert(strstr(error->message, why), "'%s' not in: %s", why, error->message);
	g_error_free(error);
}

Test(registry_unit, a_wrong_check_character_is_refused_naming_the_right_one)
{
	refused("110105194912310021", "wrong check character (expected 'X')");
	refused("440524188001010015", "wrong check character (expected '4')");
	refused("469025197001010028X", "not a resident ID number");
	refused("46902519700101002X", "wrong check character (expected '8')");
}

Test(registry_unit, an_id_number_of_the_wrong_form_is_refused)
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
	g_autofree char *got = registry_normalise_phone(text);
	cr_assert_str_eq(got, want, "'%s' gave '%s', wanted '%s'", text ? text : "(null)", got, want);
}

Test(registry_unit, a_phone_keeps_its_digits_only)
{
	normalises("13800000003", "13800000003");
	normalises("138-0000-0003", "13800000003");
	normalises(" 138 0000 0003 ", "13800000003");
	normalises("(0898) 6666-1234", "089866661234");
	normalises("", "");
	normalises(NULL, "");
	normalises("no digits", "");
}

Test(registry_unit, a_leading_86_or_0086_is_dropped_only_when_11_digits_remain)
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

Test(registry_unit, the_six_kinds_are_known_and_nothing_else)
{
	static const char *const kinds[] = { "policies", "shops", "senders", "households", "campaigns", "budgets" };
	for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
		cr_assert(registry_kind_known(kinds[i]), "%s", kinds[i]);
	cr_assert_not(registry_kind_known("pools"));
	cr_assert_not(registry_kind_known("Shops"));
	cr_assert_not(registry_kind_known(""));
	cr_assert_not(registry_kind_known(NULL));
}

/* registry_check_bytes: the checks of a load that need no database (what fuzz/registry.c drives). */
Test(registry_unit, check_bytes_accepts_a_fixture_and_counts_its_rows)
{
	g_autofree char *text = NULL;
	gsize len = 0;
	cr_assert(g_file_get_contents("fixtures/small/shops.csv", &text, &len, NULL));
	int rows = -1;
	GError *e = NULL;
	cr_assert(registry_check_bytes("shops", "shops.csv", text, len, &rows, &e), "%s", e ? e->message : "");
	cr_assert_eq(rows, 4);
}

Test(registry_unit, check_bytes_refuses_naming_every_bad_line)
{
	const char text[] = "policy_id,valid_from,valid_to,standard_rate_bp,standard_cap,poverty_rate_bp,poverty_cap,"
			    "rounding,require_campaign,eligible_categories,fee_max\n"
			    "P1,2018-06-01,,1000,,2000,,half_up,false,,\n"
			    "P2,2018-07-01,,10001,,2000,,half_up,false,,\n"
			    "P3,2018-06-1 ,,1000,,2000,,half_up,false,,\n";
	GError *e = NULL;
	cr_assert_not(registry_check_bytes("policies", "p.csv", text, strlen(text), NULL, &e));
	cr_assert(g_error_matches(e, REGISTRY_ERROR, STATUS_DATAERR));
	cr_assert(strstr(e->message, "\np.csv:3: standard_rate_bp '10001'"), "%s", e->message);
	cr_assert(strstr(e->message, "\np.csv:4: valid_from"), "%s", e->message);
	g_error_free(e);
}

Test(registry_unit, check_bytes_refuses_policies_overlapping_in_the_file)
{
	const char text[] = "policy_id,valid_from,valid_to,standard_rate_bp,standard_cap,poverty_rate_bp,poverty_cap,"
			    "rounding,require_campaign,eligible_categories,fee_max\n"
			    "P1,2018-06-01,,1000,,2000,,half_up,false,,\n"
			    "P2,2018-07-01,,1000,,2000,,half_up,false,,\n";
	GError *e = NULL;
	cr_assert_not(registry_check_bytes("policies", "p.csv", text, strlen(text), NULL, &e));
	cr_assert(strstr(e->message, "overlaps"), "%s", e->message);
	g_error_free(e);
}

Test(registry_unit, check_bytes_refuses_an_unknown_kind_as_usage)
{
	GError *e = NULL;
	cr_assert_not(registry_check_bytes("shop", "s.csv", "", 0, NULL, &e));
	cr_assert(g_error_matches(e, REGISTRY_ERROR, STATUS_USAGE));
	g_error_free(e);
}
