/* test_registry.c: the registry loader's checks that need no database (registry_check_bytes,
 * the kinds). Loading and snapshots need the database: tests/integration/test_registry.c; the ID
 * number and phone checks are ident's: test_ident.c. */
#include "registry_load.h"
#include "status.h"

#include <criterion/criterion.h>
#include <string.h>

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

/* Each kind of value of a policies file refused with its reason, one bad field a line: the
 * conversions of registry_load.c (a day, basis points, an amount, a rounding mode, true or false,
 * fee_max within POLICY.md's bounds, a required field left empty). */
Test(registry_unit, check_bytes_names_the_reason_for_each_kind_of_value)
{
	const char text[] = "policy_id,valid_from,valid_to,standard_rate_bp,standard_cap,poverty_rate_bp,poverty_cap,"
			    "rounding,require_campaign,eligible_categories,fee_max\n"
			    "P1,2018-01-01,2018-01-31,1000,,2000,,half_up,TRUE, a ; ;b ,\n"
			    "P2,2018-02-01,2018-02-30,1000,,2000,,half_up,false,,\n"
			    "P3,2018-03-01,2018-03-31,10a0,,2000,,half_up,false,,\n"
			    "P4,2018-04-01,2018-04-30,1000,1.234,2000,,half_up,false,,\n"
			    "P5,2018-05-01,2018-05-31,1000,,2000,,bankers,false,,\n"
			    "P6,2018-06-01,2018-06-30,1000,,2000,,half_even,yes,,\n"
			    "P7,2018-07-01,2018-07-31,1000,,2000,,half_up,false,,100000.01\n"
			    ",2018-08-01,2018-08-31,1000,,2000,,half_up,false,,\n";
	GError *e = NULL;
	cr_assert_not(registry_check_bytes("policies", "p.csv", text, strlen(text), NULL, &e));
	const char *const want[] = { "\np.csv:3: valid_to", "\np.csv:4: standard_rate_bp '10a0' is not a whole number",
				     "\np.csv:5: standard_cap", "\np.csv:6: rounding 'bankers' is not half_up or half_even",
				     "\np.csv:7: require_campaign 'yes' is not true or false", "\np.csv:8: fee_max '100000.01' is above the limit",
				     "\np.csv:9: policy_id is empty" };
	for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
		cr_assert(strstr(e->message, want[i]), "no '%s' in %s", want[i] + 1, e->message);
	cr_assert_null(strstr(e->message, "p.csv:2:"), "line 2 is good: %s", e->message);
	g_error_free(e);
}

/* The line each refusal names (csvfile.h): lines end with LF, CRLF or CR alone, a record is on its
 * first line, blank lines count, and a quote left open is named on the line it opens. Whole messages, so that a change of reader cannot move one. */
Test(registry_unit, the_line_each_refusal_names)
{
#define HH "household_id,head_name,village,poor_from,poor_to"
#define REFUSED(n) "registry file 'h.csv' refused, nothing stored (" n "):\nh.csv:"
	static const struct {
		const char *text;
		size_t len; /* 0: strlen */
		const char *want;
	} cases[] = {
		{ HH "\nH1,\"符\n二\",村,2015-01-01,\nH1,符,村,2015-01-01,\n", 0,
		  REFUSED("2 problems") "2: head_name contains a control character (a line break, a tab...)"
					"\nh.csv:4: duplicate household_id 'H1' (first at line 2)" },
		{ HH "\r\n\r\nH1,符,村,2015-01-01,\r\n,,,,\r\nH1,符,村,2015-01-01,\r\n", 0,
		  REFUSED("1 problem") "5: duplicate household_id 'H1' (first at line 3)" },
		{ HH "\rH1,符,村,2015-01-01,\rH1,符,村,2015-01-01,\r", 0,
		  REFUSED("1 problem") "3: duplicate household_id 'H1' (first at line 2)" },
		{ "\xEF\xBB\xBF" HH "\nH1,符,村,2015-01-01,\nH1,符,村,2015-01-01,", 0,
		  REFUSED("1 problem") "3: duplicate household_id 'H1' (first at line 2)" },
		{ HH "\nH1,符,村,2015-01-01,\n\"H2,符\n\n", 0,
		  REFUSED("1 problem") "3: malformed CSV: a quote is still open at the end of the file" },
		{ HH "\nH1,\"a\nb\",村,\"2015\n-01-01\",\n\"H2\n", 0,
		  REFUSED("3 problems") "2: head_name contains a control character (a line break, a tab...)"
					"\nh.csv:2: poor_from contains a control character (a line break, a tab...)"
					"\nh.csv:5: malformed CSV: a quote is still open at the end of the file" },
		{ HH "\nH1,符,村,2015-01-01,\nH\"2,符,村,2015-01-01,\n", 0,
		  REFUSED("1 problem") "3: malformed CSV: a quote inside an unquoted field, or text after a closing quote" },
		{ HH "\nx", 0, REFUSED("1 problem") "2: 1 fields, the header has 5" },
		{ "\xEF\xBB\xBF\n\r\n,,\n", 0,
		  REFUSED("1 problem") "1: the file is empty: a households file starts with the header " HH },
		{ "\xEF\xBB\xBF\xEF\xBB\xBF" HH "\n", 0,
		  REFUSED("1 problem") "1: header column 1 is '\xEF\xBB\xBFhousehold_id', expected 'household_id'"
				       " (a households file's header is " HH ")" },
		{ HH "\nH1,符,村,2015-01-01,\nH2,\xff,村,2015-01-01,\nH3,\0,村,2015-01-01,\n",
		  sizeof(HH "\nH1,符,村,2015-01-01,\nH2,\xff,村,2015-01-01,\nH3,\0,村,2015-01-01,\n") - 1,
		  REFUSED("2 problems") "3: bytes that are not UTF-8 (save the file as UTF-8)"
					"\nh.csv:4: bytes that are not UTF-8 (save the file as UTF-8)" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
		GError *e = NULL;
		cr_assert_not(registry_check_bytes("households", "h.csv", cases[i].text, len, NULL, &e), "case %zu", i);
		cr_assert(g_error_matches(e, REGISTRY_ERROR, STATUS_DATAERR), "case %zu", i);
		cr_assert_str_eq(e->message, cases[i].want, "case %zu", i);
		g_error_free(e);
	}
#undef REFUSED
#undef HH
}

/* A workbook given as a registry file is refused with one problem saying what it is. */
Test(registry_unit, a_file_that_is_no_csv_text_is_refused_saying_what_it_is)
{
	GError *e = NULL;
	cr_assert_not(registry_check_bytes("shops", "shops.xlsx", "PK\x03\x04\x14\x00\x06\x00", 8, NULL, &e));
	cr_assert(g_error_matches(e, REGISTRY_ERROR, STATUS_DATAERR));
	cr_assert_str_eq(e->message, "registry file 'shops.xlsx' refused, nothing stored (1 problem):\nshops.xlsx:1: it is"
				     " no CSV text: the file is a ZIP archive, as an Excel workbook (.xlsx) is: open it in"
				     " Excel or WPS and save the sheet as CSV (UTF-8)");
	g_error_free(e);
}
