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
