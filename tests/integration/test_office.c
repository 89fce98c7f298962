/* test_office.c: a county office with its own courier statements (issue 16, points 4, 5, 6 and
 * three of 11), through the binary and the database.
 *
 * The statement is modelled on a real YTO customer statement: GB18030, CRLF, one customer account
 * per file (no sender column: --set sender_code), a date-only pickup. Its variants are what the
 * office met: a title and a date range above the header, a totals row labelled 合计, 总计 or 合计：
 * in the first or the second column, a 制表人： row after it, the fee over two columns, Excel
 * serial dates, a weight with its unit; and a UTF-8 copy given to the GB18030 profile.
 *
 * Registry: fixtures/small (S1 sends YTO as YT0001; policy p1 needs the 618 campaign, which ends
 * 2018-06-19 00:00). */
#include "harness.h"

#include <criterion/criterion.h>
#include <string.h>

/* The office's profile, from the README's "Writing a profile". */
static const char yto_profile[] =
	"# A YTO customer statement, one customer account per file.\n"
	"[profile]\n"
	"name=yto-langfang\n"
	"encoding=GB18030\n"
	"header=运单号,揽收日期,运费,附加费,重量,目的地,订单号\n"
	"rows_above_header=true\n"
	"pickup_format=%Y-%m-%d,excel\n"
	"totals_row=合计,总计,合计：\n"
	"totals_label_column=运单号,揽收日期\n"
	"rows_after_totals=keep\n"
	"[fields]\n"
	"waybill_no=运单号\n"
	"pickup_time=揽收日期\n"
	"fee=运费+附加费\n"
	"weight_kg=重量\n"
	"destination=目的地\n"
	"order_no=订单号\n"
	"[fixed]\n"
	"courier=YTO\n";

#define YTO_HEADER "运单号,揽收日期,运费,附加费,重量,目的地,订单号\r\n"
#define TITLE "圆通速递客户对账单\r\n账期：2018-06-01 至 2018-06-30,,,,,,\r\n"

static const char *setup(void)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	return db;
}

/* The profile directory of the test, with the office's profile in it. */
static char *profiles_dir(void)
{
	char *dir = g_build_filename(h_tmpdir(), "profiles", NULL);
	g_mkdir_with_parents(dir, 0700);
	g_autofree char *p = h_write(dir, "yto-langfang.profile", yto_profile, -1);
	return dir;
}

/* Writes UTF-8 text as GB18030 to the test's directory; returns the path. */
static char *write_gb18030(const char *name, const char *utf8)
{
	gsize len = 0;
	g_autofree char *bytes = g_convert(utf8, -1, "GB18030", "UTF-8", NULL, &len, NULL);
	cr_assert_not_null(bytes);
	return h_write(h_tmpdir(), name, bytes, (gssize)len);
}

static void assert_has(const char *text, const char *what)
{
	cr_assert(text && strstr(text, what), "'%s' not in:\n%s", what, text ? text : "(null)");
}

static void assert_lacks(const char *text, const char *what)
{
	cr_assert(!strstr(text, what), "'%s' in:\n%s", what, text);
}

/* ingest --profiles DIR --set sender_code=YT0001 ARGS... */
#define INGEST_YTO(db, dir, ...) h_run((db), "ingest", "--profiles", (dir), "--set", "sender_code=YT0001", __VA_ARGS__, NULL)

/* ==== point 6: the profile language ==== */

Test(office, statement_variants_are_read_whole_with_the_offices_profile)
{
	const char *db = setup();
	g_autofree char *dir = profiles_dir();
	/* Three statements: the totals row labelled and placed differently in each; a title above
	 * the header in two; the fee over two columns; a date, or Excel's serial day (43269 is
	 * 2018-06-18); a weight with its unit. */
	g_autofree char *a = write_gb18030("a.csv", TITLE YTO_HEADER
					   "YT1001,2018-06-18,2.40,1.00,0.86kg,河北,\r\n"
					   "YT1002,43269,2.40,,1.2kg,河北,\r\n"
					   "合计,,4.80,1.00,,,\r\n"
					   "\r\n"
					   "制表人：张三,,,,,,\r\n");
	g_autofree char *b = write_gb18030("b.csv", TITLE YTO_HEADER
					   "YT2001,2018-06-17,3.00,0.50,1kg,北京,\r\n"
					   ",总计,3.00,0.50,,,\r\n"
					   "制表人：李四,2018-07-01,,,,,\r\n");
	g_autofree char *c = write_gb18030("c.csv", YTO_HEADER
					   "YT3001,2018-06-16,5.00,,2kg,天津,\r\n"
					   "合计：,,5.00,,,,\r\n");
	h_result r = INGEST_YTO(db, dir, "--json", a, b, c);
	cr_assert_eq(r.status, 0, "exit %d\n%s\n%s", r.status, r.out, r.err);
	assert_has(r.out, "\"profile\":\"yto-langfang\"");
	assert_lacks(r.out, "\"status\":\"refused\"");
	h_result_clear(&r);

	/* Data lines only: the title, totals and 制表人 rows are kept with the bytes, no outcome. */
	g_autofree char *lines = h_sql(db, "SELECT string_agg(format('%s:%s %s %s %s %s %s', f.file_id, l.line_no,"
					   " l.outcome, l.fee_fen, l.pickup_time, l.pickup_date_only, l.weight_kg),"
					   " ' | ' ORDER BY f.file_id, l.line_no) FROM lines l JOIN files f USING (file_id)");
	cr_assert_str_eq(lines, "1:4 ELIGIBLE 340 2018-06-18 00:00:00 t 0.86kg"
				" | 1:5 ELIGIBLE 240 2018-06-18 00:00:00 t 1.2kg"
				" | 2:4 ELIGIBLE 350 2018-06-17 00:00:00 t 1kg"
				" | 3:2 ELIGIBLE 500 2018-06-16 00:00:00 t 2kg");
	cr_assert_eq(h_sql_int(db, "SELECT sum(lines) FROM files"), 4);
	/* Every byte kept: the stored chunks are the files. */
	const char *paths[] = { a, b, c };
	for (int i = 0; i < 3; i++) {
		gsize len = 0;
		g_autofree char *bytes = h_read(paths[i], &len);
		g_autofree char *sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)bytes, len);
		cr_assert_eq(h_sql_intf(db, "SELECT size_bytes FROM files WHERE sha256 = '%s'", sha), (int64_t)len);
		g_autofree char *stored = h_sqlf(db, "SELECT encode(sha256(string_agg(bytes, ''::bytea ORDER BY seq)), 'hex')"
						 " FROM file_chunks JOIN files USING (file_id) WHERE sha256 = '%s'", sha);
		cr_assert_str_eq(stored, sha, "%s not stored as received", paths[i]);
	}
	/* point 11: the stored name is the absolute path */
	g_autofree char *name = h_sql(db, "SELECT name FROM files WHERE file_id = 1");
	cr_assert_str_eq(name, a);
	cr_assert(g_path_is_absolute(name));
}

Test(office, a_totals_row_after_which_rows_are_not_kept_refuses_the_file_as_before)
{
	const char *db = setup();
	g_autofree char *dir = g_build_filename(h_tmpdir(), "strict", NULL);
	g_mkdir_with_parents(dir, 0700);
	g_auto(GStrv) parts = g_strsplit(yto_profile, "rows_after_totals=keep\n", -1);
	g_autofree char *strict = g_strjoinv("", parts);
	g_autofree char *p = h_write(dir, "yto-langfang.profile", strict, -1);
	g_autofree char *a = write_gb18030("a.csv", YTO_HEADER "YT1001,2018-06-18,2.40,,1,河北,\r\n"
					   "合计,,2.40,,,,\r\n制表人：张三,,,,,,\r\n");
	h_result r = INGEST_YTO(db, dir, a);
	cr_assert_eq(r.status, 65, "exit %d\n%s\n%s", r.status, r.out, r.err);
	assert_has(r.err, "follows the totals row (line 3)");
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines"), 0);
}

Test(office, a_utf8_statement_given_to_the_gb18030_profile_says_the_encoding_is_wrong)
{
	const char *db = setup();
	g_autofree char *dir = profiles_dir();
	g_autofree char *a = h_write(h_tmpdir(), "utf8.csv", YTO_HEADER "YT1001,2018-06-18,2.40,,1,河北,\r\n", -1);
	/* detected, and chosen with --profile */
	h_result r = INGEST_YTO(db, dir, a);
	cr_assert_eq(r.status, 65, "exit %d\n%s\n%s", r.status, r.out, r.err);
	assert_has(r.err, "read as UTF-8 it would match profile 'yto-langfang', whose encoding is GB18030");
	h_result_clear(&r);
	r = INGEST_YTO(db, dir, "--profile", "yto-langfang", a);
	cr_assert_eq(r.status, 65, "exit %d\n%s\n%s", r.status, r.out, r.err);
	assert_has(r.err, "read as UTF-8 it would match profile 'yto-langfang', whose encoding is GB18030");
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM files"), 0);
}

/* ==== point 4: ingest --dry-run ==== */

/* What a dry run must not change: row counts of every table of ingest, the runs, the sequences,
 * and the ledger dump. */
static char *everything(const char *db)
{
	g_autofree char *counts =
		h_sql(db, "SELECT format('runs %s files %s lines %s waybills %s chunks %s digests %s seq %s %s',"
			  " (SELECT count(*) FROM runs), (SELECT count(*) FROM files), (SELECT count(*) FROM lines),"
			  " (SELECT count(*) FROM waybills), (SELECT count(*) FROM file_chunks),"
			  " (SELECT count(*) FROM file_digests), (SELECT last_value FROM files_file_id_seq),"
			  " (SELECT last_value FROM runs_run_id_seq))");
	g_autofree char *dump = h_ledger_dump(db);
	return g_strconcat(counts, "\n", dump, NULL);
}

Test(office, dry_run_shows_profile_first_lines_counts_and_reasons_and_changes_nothing)
{
	const char *db = setup();
	g_autofree char *dir = profiles_dir();
	/* One line stored before: the dry run classifies against the database (a DUPLICATE). */
	g_autofree char *first = write_gb18030("first.csv", YTO_HEADER "YT1001,2018-06-18,2.40,,1,河北,\r\n");
	h_result r = INGEST_YTO(db, dir, first);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	h_result_clear(&r);
	g_autofree char *before = everything(db);

	g_autofree char *a = write_gb18030("a.csv", TITLE YTO_HEADER
					   "YT1001,2018-06-18,2.40,,1,河北,\r\n"
					   "YT1002,2018-06-18,2.40,1.00,0.86kg,河北,\r\n"
					   "YT1003,2018/06/18,2.40,,1,河北,\r\n"
					   "YT1004,2018-06-30,2.40,,1,河北,\r\n");
	r = INGEST_YTO(db, dir, "--dry-run", a);
	cr_assert_eq(r.status, 0, "exit %d\n%s\n%s", r.status, r.out, r.err);
	assert_has(r.out, "would store");
	assert_has(r.out, "(yto-langfang): 4 lines: ELIGIBLE 1 DUPLICATE 1 REJECTED 1 NOT_IN_CAMPAIGN 1");
	assert_has(r.out, "first lines as parsed:");
	assert_has(r.out, "line 4: courier=YTO waybill_no=YT1001 pickup_time=2018-06-18 sender_code=YT0001 weight_kg=1"
			  " fee=2.40 destination=河北 -> DUPLICATE: waybill first seen at");
	assert_has(r.out, "line 5: courier=YTO waybill_no=YT1002 pickup_time=2018-06-18 sender_code=YT0001"
			  " weight_kg=0.86kg fee=3.40 destination=河北 -> ELIGIBLE\n");
	assert_has(r.out, "most frequent reasons");
	assert_has(r.out, "REJECTED                    1  line 6: pickup_time: '2018/06/18' does not match");
	assert_has(r.out, "dry run: nothing was stored");
	h_result_clear(&r);
	g_autofree char *after = everything(db);
	cr_assert_str_eq(after, before, "the dry run changed the database");

	/* --json: the same counts, flagged as a dry run; then the real ingest agrees with it. */
	r = INGEST_YTO(db, dir, "--dry-run", "--json", a);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	assert_has(r.out, "{\"dry_run\":true,\"files\":[");
	assert_has(r.out, "\"file_id\":null");
	assert_has(r.out, "\"preview\":[{\"line\":4,");
	h_result_clear(&r);
	g_autofree char *after_json = everything(db);
	cr_assert_str_eq(after_json, before, "the dry run changed the database");
	r = INGEST_YTO(db, dir, a);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	assert_has(r.out, "stored   ");
	assert_has(r.out, "4 lines: ELIGIBLE 1 DUPLICATE 1 REJECTED 1 NOT_IN_CAMPAIGN 1");
	h_result_clear(&r);
}

/* ==== point 5: the reasons under ingest's counts, and `subsidy lines` ==== */

Test(office, ingest_prints_the_three_most_frequent_reasons_of_each_outcome_but_eligible)
{
	const char *db = setup();
	g_autofree char *dir = profiles_dir();
	/* REJECTED: 3 bad dates (one kind), 2 bad fees, 1 missing waybill, 1 missing fee: four kinds,
	 * the three most frequent shown, the rarest (line 11, the later of two of one line each) not. */
	g_autofree char *a = write_gb18030("reasons.csv", YTO_HEADER
					   "YT1,2018/06/18,2.40,,1,河北,\r\n"
					   "YT2,2018/06/17,2.40,,1,河北,\r\n"
					   "YT3,18-06-18,2.40,,1,河北,\r\n"
					   "YT4,2018-06-18,abc,,1,河北,\r\n"
					   "YT5,2018-06-18,def,,1,河北,\r\n"
					   ",2018-06-18,2.40,,1,河北,\r\n"
					   "YT7,2018-06-18,,,1,河北,\r\n"
					   "YT8,2018-06-18,2.40,,1,河北,\r\n"
					   "YT8,2018-06-18,2.40,,1,河北,\r\n");
	h_result r = INGEST_YTO(db, dir, a);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	assert_has(r.out, "REJECTED                    3  line 2: pickup_time: '2018/06/18' does not match");
	assert_has(r.out, "REJECTED                    2  line 5: fee: ");
	assert_has(r.out, "REJECTED                    1  line 7: missing waybill_no");
	assert_lacks(r.out, "line 8: missing fee");
	assert_has(r.out, "DUPLICATE                   1  line 10: waybill first seen at reasons.csv:9");
	assert_lacks(r.out, "ELIGIBLE                    1  line");
	h_result_clear(&r);
	/* --json keeps CLI.md's keys and adds the reasons */
	g_autofree char *b = write_gb18030("b.csv", YTO_HEADER "YT9,2018/06/18,2.40,,1,河北,\r\n");
	r = INGEST_YTO(db, dir, "--json", b);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	assert_has(r.out, "\"reasons\":[{\"outcome\":\"REJECTED\",\"lines\":1,\"first_line\":2,\"reason\":\"pickup_time:");
	assert_has(r.out, "\"file_id\":2,");
	h_result_clear(&r);
}

Test(office, lines_lists_every_line_of_a_file_with_fields_outcome_and_reason)
{
	const char *db = setup();
	g_autofree char *dir = profiles_dir();
	g_autofree char *a = write_gb18030("a.csv", TITLE YTO_HEADER
					   "YT1001,2018-06-18,2.40,1.00,0.86kg,河北,=1+1\r\n"
					   "YT1002,2018/06/18,2.40,,1,河北,\r\n"
					   "YT1003,43269.5,2.40,,1,河北,\r\n");
	h_result r = INGEST_YTO(db, dir, a);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	h_result_clear(&r);

	r = h_run(db, "lines", "--file", "1", NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	assert_has(r.out, "line 4  ELIGIBLE\n    courier=YTO waybill_no=YT1001 order_no==1+1 pickup_time=2018-06-18"
			  " sender_code=YT0001 weight_kg=0.86kg fee=3.40 destination=河北\n");
	assert_has(r.out, "line 5  REJECTED: pickup_time: '2018/06/18' does not match the format");
	/* a date only is a date; a serial with a fraction has its time */
	assert_has(r.out, "line 6  ELIGIBLE\n    courier=YTO waybill_no=YT1003 pickup_time=2018-06-18 12:00:00");
	assert_has(r.out, "3 lines\n");
	h_result_clear(&r);

	r = h_run(db, "lines", "--file", "1", "--outcome", "rejected", NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	assert_lacks(r.out, "line 4");
	assert_has(r.out, "line 5  REJECTED");
	assert_has(r.out, "1 line REJECTED\n");
	h_result_clear(&r);

	r = h_run(db, "lines", "--file", "1", "--csv", NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	cr_assert(g_str_has_prefix(r.out, "\xEF\xBB\xBFline,courier,waybill_no,order_no,pickup_time,sender_code,"
					  "sender_phone,weight_kg,fee,category,destination,outcome,reason\r\n"),
		  "%s", r.out);
	/* the order number from the file cannot become a formula */
	assert_has(r.out, "4,YTO,YT1001,'=1+1,2018-06-18,YT0001,,0.86kg,3.40,,河北,ELIGIBLE,\r\n");
	h_result_clear(&r);

	r = h_run(db, "lines", "--file", "1", "--json", NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	assert_has(r.out, "{\"file\":{\"file_id\":1,\"name\":\"");
	assert_has(r.out, "{\"line\":5,\"courier\":\"YTO\",\"waybill_no\":\"YT1002\",\"order_no\":null,\"pickup_time\":null");
	h_result_clear(&r);

	/* The auditor may; finance may not (77, naming the roles); an unknown file or outcome is usage. */
	g_autofree char *auditor = h_as_role(db, "subsidy_auditor");
	r = h_run(auditor, "lines", "--file", "1", NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	assert_has(r.out, "3 lines\n");
	h_result_clear(&r);
	g_autofree char *finance = h_as_role(db, "subsidy_finance");
	r = h_run(finance, "lines", "--file", "1", NULL);
	cr_assert_eq(r.status, 77, "exit %d\n%s", r.status, r.err);
	assert_has(r.err, "subsidy_engine or subsidy_auditor");
	h_result_clear(&r);
	r = h_run(db, "lines", "--file", "2", NULL);
	cr_assert_eq(r.status, 64, "exit %d\n%s", r.status, r.err);
	assert_has(r.err, "no stored file 2");
	h_result_clear(&r);
	r = h_run(db, "lines", "--file", "1", "--outcome", "PAID", NULL);
	cr_assert_eq(r.status, 64, "exit %d\n%s", r.status, r.err);
	assert_has(r.err, "unknown outcome 'PAID'");
	h_result_clear(&r);
}

/* ==== point 11: a date-only pickup is a date wherever a person reads it ==== */

Test(office, a_date_only_pickup_is_shown_as_a_date_in_why_and_the_detail_export)
{
	const char *db = setup();
	g_autofree char *dir = profiles_dir();
	g_autofree char *a = write_gb18030("a.csv", YTO_HEADER "YT1001,2018-06-18,2.40,1.00,1,河北,\r\n");
	h_result r = INGEST_YTO(db, dir, a);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	h_result_clear(&r);
	r = h_run(db, "why", "YT1001", NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	assert_has(r.out, "pickup 2018-06-18 ");
	assert_lacks(r.out, "00:00:00");
	h_result_clear(&r);
	g_autofree char *settled = h_settle(db);
	g_autofree char *out = g_build_filename(h_tmpdir(), "detail.csv", NULL);
	r = h_run(db, "export", "--batch", "1", "--detail", "-o", out, NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	h_result_clear(&r);
	g_autofree char *csv = h_read(out, NULL);
	assert_has(csv, ",YTO,YT1001,2018-06-18,3.40,");
	assert_lacks(csv, "00:00:00");
}

/* ==== point 11: a skipped file names the stored file it repeats and when ==== */

Test(office, a_skipped_file_names_the_stored_file_it_repeats_and_when)
{
	const char *db = setup();
	g_autofree char *dir = profiles_dir();
	g_autofree char *a = write_gb18030("a.csv", YTO_HEADER "YT1001,2018-06-18,2.40,,1,河北,\r\n");
	h_result r = INGEST_YTO(db, dir, a);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	h_result_clear(&r);
	gsize len = 0;
	g_autofree char *bytes = h_read(a, &len);
	g_autofree char *copy = h_write(h_tmpdir(), "copy.csv", bytes, (gssize)len);
	r = INGEST_YTO(db, dir, copy);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	g_autofree char *when = h_sql(db, "SELECT to_char(ingested_at AT TIME ZONE 'Asia/Shanghai',"
					  " 'YYYY-MM-DD HH24:MI:SS') FROM files");
	g_autofree char *want = g_strdup_printf("skipped  %s: already ingested as file 1 ('%s', on %s)", copy, a, when);
	assert_has(r.out, want);
	h_result_clear(&r);
}
