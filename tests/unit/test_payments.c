/* test_payments.c: the treasury results reader without the database (payments_check_bytes, what
 * fuzz/payments.c drives); loading and reconciling: tests/integration/test_payments.c. */
#include "payments.h"
#include "status.h"

#include <criterion/criterion.h>
#include <string.h>

#define HEADER "批次号,店铺编号,金额(元),状态,支付时间,流水号\r\n"

Test(payments_unit, check_bytes_reads_paid_and_failed_lines)
{
	const char text[] = HEADER "1,S1,13.00,成功,2018-06-22 10:00:00,T001\r\n1,S2,25.00,失败,,\r\n";
	int n = -1;
	GError *e = NULL;
	cr_assert(payments_check_bytes("p.csv", text, strlen(text), &n, &e), "%s", e ? e->message : "");
	cr_assert_eq(n, 2);
}

Test(payments_unit, check_bytes_reads_gb18030)
{
	gsize len = 0;
	g_autofree char *text = g_convert(HEADER "1,S1,13.00,成功,2018-06-22 10:00:00,T001\r\n", -1, "GB18030",
					  "UTF-8", NULL, &len, NULL);
	int n = -1;
	cr_assert(payments_check_bytes("p.csv", text, len, &n, NULL));
	cr_assert_eq(n, 1);
}

Test(payments_unit, check_bytes_refuses_a_bad_line_and_an_empty_file)
{
	const char text[] = HEADER "1,S1,13.00,成功,2018-6-22 10:00:00 ,T001\r\n";
	GError *e = NULL;
	cr_assert_not(payments_check_bytes("p.csv", text, strlen(text), NULL, &e));
	cr_assert(g_error_matches(e, PAYMENTS_ERROR, STATUS_DATAERR));
	cr_assert(strstr(e->message, "p.csv:2: 支付时间"), "%s", e->message);
	g_clear_error(&e);
	cr_assert_not(payments_check_bytes("p.csv", "", 0, NULL, &e));
	cr_assert(strstr(e->message, "empty"), "%s", e->message);
	g_error_free(e);
}

/* 支付时间 in the forms FORMATS.md lists, and nothing looser. */
Test(payments_unit, the_payment_time_forms)
{
	static const struct {
		const char *text;
		const char *want; /* NULL: refused */
	} cases[] = {
		{ "2018-06-20 10:00:00", "2018-06-20 10:00:00" }, { "2018-06-20 10:00", "2018-06-20 10:00:00" },
		{ "2018/6/20 10:00", "2018-06-20 10:00:00" },	  { "2018/06/20 9:05", "2018-06-20 09:05:00" },
		{ "2018/6/20 10:00:07", "2018-06-20 10:00:07" },  { "2018-06-20", "2018-06-20 00:00:00" },
		{ "2018/6/2", "2018-06-02 00:00:00" },		  { "2018-6-22 10:00:00", NULL },
		{ "2018-06-20 10:00:00 ", NULL },		  { " 2018-06-20", NULL },
		{ "2018-06-20T10:00:00", NULL },		  { "2018/6/20 10", NULL },
		{ "2018-02-30", NULL },				  { "2018-06-20 24:00", NULL },
		{ "20/6/2018", NULL },				  { "", NULL },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		chrono_time t = 0;
		gboolean ok = payments_parse_time(cases[i].text, &t);
		cr_assert_eq(ok, cases[i].want != NULL, "'%s'", cases[i].text);
		if (!ok)
			continue;
		char buf[CHRONO_TIME_TEXT_MAX];
		chrono_format_time(t, buf);
		cr_assert_str_eq(buf, cases[i].want, "'%s'", cases[i].text);
	}
}

/* The line each refusal names (csvfile.h): lines end with LF, CRLF or CR alone, a record is on its
 * first line, a quote left open is named on the line it opens (as the registry's reader names it).
 * Whole messages, so that a change of reader cannot move one. */
Test(payments_unit, the_line_each_refusal_names)
{
#define PH "批次号,店铺编号,金额(元),状态,支付时间,流水号"
#define REFUSED(n) "cannot load payments 'p.csv': " n " refused, nothing stored\np.csv:"
#define NOT_A_BATCH(x) " batch number '" x "' is not a whole number from 1"
	static const struct {
		const char *text;
		size_t len; /* 0: strlen */
		const char *want;
	} cases[] = {
		{ PH "\n\"1\n2\",S1,13.00,失败,,\nx,S1,13.00,失败,,\n", 0,
		  REFUSED("2 lines") "2:" NOT_A_BATCH("1\n2") "\np.csv:4:" NOT_A_BATCH("x") },
		{ PH "\r\nx,S1,13.00,失败,,\r\n\r\ny,S1,13.00,失败,,\r\n", 0,
		  REFUSED("2 lines") "2:" NOT_A_BATCH("x") "\np.csv:4:" NOT_A_BATCH("y") },
		{ PH "\rx,S1,13.00,失败,,\ry,S1,13.00,失败,,\r", 0,
		  REFUSED("2 lines") "2:" NOT_A_BATCH("x") "\np.csv:3:" NOT_A_BATCH("y") },
		{ "\xEF\xBB\xBF" PH "\nx,S1,13.00,失败,,", 0, REFUSED("1 line") "2:" NOT_A_BATCH("x") },
		{ PH "\n1,S1,13.00,失败,,\"T\n\nx\n", 0, REFUSED("1 line") "2: a quote is still open at the end of the file" },
		{ PH "\n1,S1,13.00,失败,,\"T\n\nx", 0, REFUSED("1 line") "2: a quote is still open at the end of the file" },
		{ PH "\nx\n", 0, REFUSED("1 line") "2: 1 fields, expected 6" },
		{ PH "\nx", 0, REFUSED("1 line") "2: 1 fields, expected 6" },
		{ PH "\n\"x\ny\"", 0, REFUSED("1 line") "2: 1 fields, expected 6" },
		{ PH "\nx,y", 0, REFUSED("1 line") "2: 2 fields, expected 6" },
		{ "批次号", 0, REFUSED("1 line") "1: header is '批次号', expected '" PH "'" },
		{ PH "\n1,S\"1,13.00,失败,,\n", 0,
		  REFUSED("1 line") "2: error parsing data while strict checking enabled (quotes must wrap a whole field;"
				    " a quote inside one is doubled)" },
		{ "\n\r\n", 0, REFUSED("1 line") "1: no header (expected '批次号,...')" },
		{ "\xEF\xBB\xBF\xEF\xBB\xBF" PH "\n", 0,
		  REFUSED("1 line") "1: header is '\xEF\xBB\xBF" PH "', expected '" PH "'" },
		/* A NUL in a file that says it is UTF-8 (without the BOM it would be read as GB18030). */
		{ "\xEF\xBB\xBF" PH "\n1,S1,1\0003,失败,,\n", sizeof("\xEF\xBB\xBF" PH "\n1,S1,1\0003,失败,,\n") - 1,
		  "cannot load payments 'p.csv': line 2 holds bytes that are not text (invalid UTF-8 or NUL)" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
		GError *e = NULL;
		cr_assert_not(payments_check_bytes("p.csv", cases[i].text, len, NULL, &e), "case %zu", i);
		cr_assert(g_error_matches(e, PAYMENTS_ERROR, STATUS_DATAERR), "case %zu", i);
		cr_assert_str_eq(e->message, cases[i].want, "case %zu", i);
		g_error_free(e);
	}
#undef NOT_A_BATCH
#undef REFUSED
#undef PH
}

/* A workbook or UTF-16 text given as the results file is refused saying what it is. */
Test(payments_unit, a_file_that_is_no_csv_text_is_refused_saying_what_it_is)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *hint;
	} files[] = {
		{ "PK\x03\x04\x14\x00\x06\x00", 8, "HINT: the file is a ZIP archive, as an Excel workbook (.xlsx) is" },
		{ "\xFF\xFE\x79\x62\x21\x6b", 6, "HINT: the file is UTF-16 text (Excel's \"Unicode Text\")" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
		GError *e = NULL;
		cr_assert_not(payments_check_bytes("p.xlsx", files[i].bytes, files[i].len, NULL, &e), "case %zu", i);
		cr_assert(g_error_matches(e, PAYMENTS_ERROR, STATUS_DATAERR), "case %zu", i);
		cr_assert(g_str_has_prefix(e->message, "cannot load payments 'p.xlsx': it is no CSV text\n"), "%s", e->message);
		cr_assert(strstr(e->message, files[i].hint), "%s", e->message);
		g_error_free(e);
	}
}
