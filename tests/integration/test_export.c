/* test_export.c: the finance bureau's files and the public-notice list (FORMATS.md "Finance
 * bureau export", "Public disclosure"), through the binary, every file read back: CSV in UTF-8
 * and GB18030 by libcsv, XLSX by Debian's python3-openpyxl, FILE.sha256 by sha256sum -c.
 *
 * The ledger is seeded with SQL (as a settlement would have left it): batch 1 pays S1, S10, S2 and
 * S3 (bytewise order: S1 < S10 < S2 < S3) and records S4's negative net, which is never exported;
 * batch 2 re-issues S2's amount with a remark. S1's registry version changed after batch 1. */
#include "capitals.h"
#include "harness.h"

#include <criterion/criterion.h>
#include <csv.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>

static const char seed_sql[] =
	"INSERT INTO runs (run_id, programme, kind, os_user) VALUES (9001, 'default', 'registry', 'test'),"
	" (9002, 'default', 'settle', 'test'), (9003, 'default', 'settle', 'test');"
	"INSERT INTO registry_loads (load_id, programme, run_id, kind, file_name, sha256, new_rows, changed_rows,"
	" unchanged_rows) VALUES (9001, 'default', 9001, 'shops', 'shops.csv', repeat('a', 64), 6, 0, 0);"
	"INSERT INTO shops (programme, shop_id, version, load_id, recorded_at, superseded_at, shop_name, platform,"
	" owner_name, owner_id_no, phone, household_id, village, bank_name, bank_account, account_name,"
	" registered_from) VALUES"
	" ('default', 'S1', 1, 9001, '2018-06-01 00:00:00+08', '2018-07-01 00:00:00+08', '标准店', '淘宝', '王小明',"
	"  '11010519491231002X', '13800000001', NULL, '村一', '农信', '6221000000000018', '王小明', '2016-01-01'),"
	" ('default', 'S1', 2, 9001, '2018-07-01 00:00:00+08', NULL, '标准店', '淘宝', '李四', '11010519491231002X',"
	"  '13900000009', NULL, '新村', '农信', '6221000000000018', '李四', '2016-01-01'),"
	" ('default', 'S10', 1, 9001, '2018-06-01 00:00:00+08', NULL, '十号店', '淘宝', '张三', '11010519491231002X',"
	"  '13812345678', NULL, '村四', '农商行', '6222000000000010', '张三', '2016-01-01'),"
	" ('default', 'S2', 1, 9001, '2018-06-01 00:00:00+08', NULL, '扶贫店', '淘宝', '符春花', '440524188001010014',"
	"  '13800000002', 'H2', '村二', '农信', '6221000000000026', '符春花', '2016-01-01'),"
	" ('default', 'S3', 1, 9001, '2018-06-01 00:00:00+08', NULL, '山货店,\"特产\"', '拼多多', '欧阳小锋',"
	"  '469025197001010028', '13912345678', NULL, '村三', '农信', '6221000000000034', '欧阳小锋', '2016-01-01'),"
	" ('default', 'S4', 1, 9001, '2018-06-01 00:00:00+08', NULL, '退款店', '淘宝', '赵五', '469025197001010028',"
	"  '13700000004', NULL, '村五', '农信', '6221000000000042', '赵五', '2016-01-01');"
	"INSERT INTO batches (programme, batch_id, run_id, created_at, files_upto, orders, postings, posted_fen,"
	" unfunded_fen, prev_digest, digest) VALUES"
	" ('default', 1, 9002, '2018-06-20 02:00:00+08', 0, 8, 8, 4074, 1300, repeat('0', 64), repeat('1', 64)),"
	" ('default', 2, 9003, '2018-06-21 02:00:00+08', 0, 0, 0, 0, 1300, repeat('1', 64), repeat('2', 64));"
	"INSERT INTO postings (programme, batch_id, seq, shop_id, order_key, order_no, status, fee_fen, order_date,"
	" rule, rate_bp, policy_id, policy_version, campaign_id, entitlement_fen, previous_fen, funded_fen,"
	" unfunded_fen, fund_pickup, fund_courier, fund_waybill) VALUES"
	" ('default', 1, 1, 'S4', 'O8', 'O8', 'REVERSAL', 0, '2018-06-02', 'standard', 5000, 'p1', 1, 'c618', 0, 500,"
	"  -500, 0, '2018-06-02 08:00:00', 'EMS', 'E8'),"
	" ('default', 1, 2, 'S1', 'W:EMS:E2', NULL, 'FUNDED', 600, '2018-06-05', 'standard', 5000, 'p1', 1, 'c618',"
	"  300, 0, 300, 0, '2018-06-05 09:00:00', 'EMS', 'E2'),"
	" ('default', 1, 3, 'S1', 'O1', 'O1', 'FUNDED', 2000, '2018-06-05', 'standard', 5000, 'p1', 1, 'c618', 1000,"
	"  0, 1000, 0, '2018-06-05 10:00:00', 'EMS', 'E1'),"
	" ('default', 1, 4, 'S2', 'O4', '000123456789', 'FUNDED', 2500, '2018-06-05', 'poverty', 8000, 'p1', 1,"
	"  'c618', 2000, 0, 2000, 0, '2018-06-05 11:00:00', 'ZTO', '75300000000512'),"
	" ('default', 1, 5, 'S10', 'O3', 'O3', 'FUNDED', 1235, '2018-06-05', 'standard', 5000, 'p1', 1, 'c618', 618,"
	"  0, 618, 0, '2018-06-05 12:00:00', 'YTO', 'Y3'),"
	" ('default', 1, 6, 'S3', 'O7', '00123,45', 'FUNDED', 1250, '2018-06-05', 'standard', 1250, 'p1', 1, NULL,"
	"  156, 0, 156, 0, '2018-06-05 13:00:00', 'EMS', 'E7'),"
	" ('default', 1, 7, 'S2', 'O5', 'O5', 'PARTIAL', 1000, '2018-06-06', 'poverty', 8000, 'p1', 1, 'c618', 800,"
	"  0, 500, 300, '2018-06-06 10:00:00', 'EMS', 'E5'),"
	" ('default', 1, 8, 'S2', 'O6', 'O6', 'BUDGET_EXHAUSTED', 1250, '2018-06-06', 'standard', 5000, 'p1', 1,"
	"  'c618', 625, 0, 0, 625, '2018-06-05 11:00:00', 'EMS', 'E6');"
	"INSERT INTO batch_shops (programme, batch_id, shop_id, net_fen, carried_fen, amount_fen, orders, remark,"
	" shop_name, account_name, bank_name, bank_account) VALUES"
	" ('default', 1, 'S1', 1300, 0, 1300, 2, '', '标准店', '王小明', '农信', '6221000000000018'),"
	" ('default', 1, 'S10', 618, 0, 618, 1, '', '十号店', '张三', '农商行', '6222000000000010'),"
	" ('default', 1, 'S2', 2500, 0, 2500, 2, '', '扶贫店', '符春花', '农信', '6221000000000026'),"
	" ('default', 1, 'S3', 156, 0, 156, 1, '', '山货店,\"特产\"', '欧阳小锋', '农信', '6221000000000034'),"
	" ('default', 1, 'S4', -500, 0, -500, 1, '', '退款店', '赵五', '农信', '6221000000000042'),"
	" ('default', 2, 'S2', 0, 2500, 2500, 0, '补发:批次1', '扶贫店', '符春花', '农信', '6221000000000026');";

static const char *const summary_header[] = { "批次号", "序号", "店铺编号", "店铺名称", "收款户名",
					      "开户银行", "银行账号", "订单数", "补贴金额(元)", "备注" };
static const char *const detail_header[] = { "批次号", "店铺编号", "订单号", "快递公司", "运单号", "揽收时间",
					     "运费(元)", "补贴比例", "补贴金额(元)", "活动", "状态" };
static const char *const disclosure_header[] = { "序号", "店铺名称", "村", "店主", "联系电话", "订单数",
						 "补贴金额(元)" };

static const char *seeded(void)
{
	const char *db = h_fresh_db();
	char *err = NULL;
	cr_assert(h_exec(db, seed_sql, &err), "seed: %s", err);
	return db;
}

/* Runs export with the arguments, then -o DIR/name; asserts exit 0; returns the path. */
static char *export_file(const char *db, const char *name, const char *a1, const char *a2, const char *a3)
{
	char *path = g_build_filename(h_tmpdir(), name, NULL);
	const char *args[] = { "export", "--batch", "1", "-o", path, a1, a2, a3, NULL };
	h_result r = h_runv(db, args);
	cr_assert_eq(r.status, 0, "export %s: exit %d\n%s%s", name, r.status, r.out, r.err);
	h_result_clear(&r);
	return path;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading files back                                                                          */

typedef struct {
	GPtrArray *rows;  /* GPtrArray * of char * fields */
	GPtrArray *row;
} csv_rows;

static void on_field(void *s, size_t len, void *data)
{
	csv_rows *c = data;
	if (!c->row)
		c->row = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(c->row, g_strndup(s ? s : "", len));
}

static void on_row(int ch, void *data)
{
	csv_rows *c = data;
	g_ptr_array_add(c->rows, c->row ? c->row : g_ptr_array_new_with_free_func(g_free));
	c->row = NULL;
}

/* The rows of UTF-8 CSV text, tokenised by libcsv (strict: bad quoting fails the test). */
static GPtrArray *parse_csv(const char *text)
{
	csv_rows c = { g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref), NULL };
	struct csv_parser p;
	cr_assert_eq(csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL), 0);
	size_t len = strlen(text);
	cr_assert_eq(csv_parse(&p, text, len, on_field, on_row, &c), len, "bad CSV: %s", csv_strerror(csv_error(&p)));
	cr_assert_eq(csv_fini(&p, on_field, on_row, &c), 0);
	csv_free(&p);
	return c.rows;
}

static const char *field(GPtrArray *rows, guint r, guint f)
{
	cr_assert(r < rows->len, "row %u of %u", r, rows->len);
	GPtrArray *row = rows->pdata[r];
	cr_assert(f < row->len, "field %u of %u in row %u", f, row->len, r);
	return row->pdata[f];
}

static void assert_row(GPtrArray *rows, guint r, const char *const *want, size_t n)
{
	GPtrArray *row = rows->pdata[r];
	cr_assert_eq(row->len, n, "row %u has %u fields, wanted %zu", r, row->len, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(field(rows, r, (guint)i), want[i], "row %u field %zu", r, i);
}

static int64_t fen_of(const char *yuan)
{
	int sign = 1;
	if (*yuan == '-')
		sign = -1, yuan++;
	const char *dot = strchr(yuan, '.');
	cr_assert(dot && strlen(dot) == 3, "'%s' is not like 1234.50", yuan);
	return sign * (g_ascii_strtoll(yuan, NULL, 10) * 100 + g_ascii_strtoll(dot + 1, NULL, 10));
}

/* Checks the file is CRLF throughout (every LF follows a CR, and the file ends with one). */
static void assert_crlf(const char *bytes, gsize len)
{
	cr_assert(len >= 2 && bytes[len - 2] == '\r' && bytes[len - 1] == '\n', "the last line ends with CRLF");
	for (gsize i = 0; i < len; i++)
		if (bytes[i] == '\n')
			cr_assert(i > 0 && bytes[i - 1] == '\r', "a bare LF at byte %zu", (size_t)i);
}

/* The rows of a UTF-8-with-BOM CRLF file. */
static GPtrArray *read_utf8_csv(const char *path)
{
	gsize len = 0;
	g_autofree char *bytes = h_read(path, &len);
	cr_assert(len >= 3 && memcmp(bytes, "\xEF\xBB\xBF", 3) == 0, "%s begins with the UTF-8 BOM", path);
	assert_crlf(bytes, len);
	cr_assert(g_utf8_validate(bytes, (gssize)len, NULL));
	return parse_csv(bytes + 3);
}

/* Runs argv in dir; returns the exit status, stdout in *out (caller frees; may be NULL). */
static int spawn_in(const char *dir, const char *const *argv, char **out)
{
	char *o = NULL, *e = NULL;
	int wait_status = 0;
	GError *error = NULL;
	cr_assert(g_spawn_sync(dir, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &o, &e, &wait_status, &error),
		  "cannot run %s: %s", argv[0], error ? error->message : "?");
	int status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128;
	if (status != 0)
		fprintf(stderr, "%s: %s%s", argv[0], o, e);
	g_free(e);
	if (out)
		*out = o;
	else
		g_free(o);
	return status;
}

static void assert_sha256_verifies(const char *path)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *base = g_path_get_basename(path);
	g_autofree char *sha = g_strconcat(base, ".sha256", NULL);
	g_autofree char *sha_path = g_strconcat(path, ".sha256", NULL);
	gsize len = 0;
	g_autofree char *line = h_read(sha_path, &len);
	/* sha256sum's form: 64 hex digits, two spaces, the base name, a newline; nothing else. */
	cr_assert_eq(len, 64 + 2 + strlen(base) + 1, "%s: '%s'", sha_path, line);
	cr_assert(strncmp(line + 64, "  ", 2) == 0 && strncmp(line + 66, base, strlen(base)) == 0, "'%s'", line);
	const char *argv[] = { "sha256sum", "-c", sha, NULL };
	cr_assert_eq(spawn_in(dir, argv, NULL), 0, "sha256sum -c %s in %s", sha, dir);
}

static void assert_same_bytes(const char *a, const char *b)
{
	gsize la = 0, lb = 0;
	g_autofree char *ba = h_read(a, &la);
	g_autofree char *bb = h_read(b, &lb);
	cr_assert(la == lb && memcmp(ba, bb, la) == 0, "%s and %s differ", a, b);
}

/* The directory holds exactly these names (no temporary file left behind). */
static void assert_dir_holds(const char *dir, const char *const *names, size_t n)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	cr_assert(d != NULL);
	size_t seen = 0;
	for (const char *name; (name = g_dir_read_name(d)) != NULL; seen++) {
		gboolean known = FALSE;
		for (size_t i = 0; i < n; i++)
			known = known || strcmp(name, names[i]) == 0;
		cr_assert(known, "unexpected file '%s' in %s", name, dir);
	}
	g_dir_close(d);
	cr_assert_eq(seen, n);
}

static int64_t exported_total(const char *db, int batch)
{
	g_autofree char *sql = g_strdup_printf(
		"SELECT coalesce(sum(amount_fen), 0) FROM batch_shops WHERE batch_id = %d AND amount_fen > 0", batch);
	return h_sql_int(db, sql);
}

/* The summary rows' amounts add up to the totals row, and to what the batch's shops are owed. */
static void assert_summary_totals(const char *db, GPtrArray *rows)
{
	int64_t orders = 0, amount = 0;
	for (guint r = 1; r + 1 < rows->len; r++) {
		orders += g_ascii_strtoll(field(rows, r, 7), NULL, 10);
		amount += fen_of(field(rows, r, 8));
	}
	guint last = rows->len - 1;
	const char *const totals_prefix[] = { "合计", "", "", "", "", "", "" };
	for (guint f = 0; f < G_N_ELEMENTS(totals_prefix); f++)
		cr_assert_str_eq(field(rows, last, f), totals_prefix[f]);
	cr_assert_eq(g_ascii_strtoll(field(rows, last, 7), NULL, 10), orders);
	cr_assert_eq(fen_of(field(rows, last, 8)), amount);
	char capitals[CAPITALS_TEXT_MAX];
	cr_assert_str_eq(field(rows, last, 9), capitals_format(amount, capitals), "the 合计 row's 备注: 大写金额");
	cr_assert_eq(amount, exported_total(db, 1));
}

/* ------------------------------------------------------------------------------------------ */
/* The summary                                                                                 */

Test(export, the_summary_is_utf8_with_bom_crlf_one_row_per_shop_owed_in_bytewise_shop_order)
{
	const char *db = seeded();
	g_autofree char *path = export_file(db, "batch-1.csv", NULL, NULL, NULL);
	g_autoptr(GPtrArray) rows = read_utf8_csv(path);
	cr_assert_eq(rows->len, 6, "header, four shops (S4's negative net is not exported), totals");
	assert_row(rows, 0, summary_header, G_N_ELEMENTS(summary_header));
	const char *const s1[] = { "1", "1", "S1", "标准店", "王小明", "农信", "6221000000000018", "2", "13.00", "" };
	const char *const s10[] = { "1", "2", "S10", "十号店", "张三", "农商行", "6222000000000010", "1", "6.18", "" };
	const char *const s2[] = { "1", "3", "S2", "扶贫店", "符春花", "农信", "6221000000000026", "2", "25.00", "" };
	const char *const s3[] = { "1", "4", "S3", "山货店,\"特产\"", "欧阳小锋", "农信", "6221000000000034", "1", "1.56", "" };
	assert_row(rows, 1, s1, G_N_ELEMENTS(s1));
	assert_row(rows, 2, s10, G_N_ELEMENTS(s10));
	assert_row(rows, 3, s2, G_N_ELEMENTS(s2));
	assert_row(rows, 4, s3, G_N_ELEMENTS(s3));
	const char *const totals[] = { "合计", "", "", "", "", "", "", "6", "45.74", "人民币肆拾伍元柒角肆分" };
	assert_row(rows, 5, totals, G_N_ELEMENTS(totals));
	assert_summary_totals(db, rows);
}

Test(export, fields_are_quoted_only_when_they_hold_a_comma_or_a_quote)
{
	const char *db = seeded();
	g_autofree char *path = export_file(db, "batch-1.csv", NULL, NULL, NULL);
	gsize len = 0;
	g_autofree char *bytes = h_read(path, &len);
	cr_assert(strstr(bytes, "\r\n1,4,S3,\"山货店,\"\"特产\"\"\",欧阳小锋,农信,6221000000000034,1,1.56,\r\n"), "%s",
		  bytes);
	cr_assert(strstr(bytes, "\r\n1,1,S1,标准店,王小明,农信,6221000000000018,2,13.00,\r\n"), "%s", bytes);
	cr_assert(strstr(bytes, "\r\n合计,,,,,,,6,45.74,人民币肆拾伍元柒角肆分\r\n"), "%s", bytes);
}

Test(export, gb18030_has_no_bom_and_reads_back_as_the_same_rows)
{
	const char *db = seeded();
	g_autofree char *utf8 = export_file(db, "batch-1.csv", NULL, NULL, NULL);
	g_autofree char *gb = export_file(db, "batch-1-gb.csv", "--encoding", "gb18030", NULL);
	gsize len = 0;
	g_autofree char *bytes = h_read(gb, &len);
	cr_assert(len > 3 && memcmp(bytes, "\xEF\xBB\xBF", 3) != 0, "no UTF-8 BOM");
	cr_assert(len > 4 && memcmp(bytes, "\x84\x31\x95\x33", 4) != 0, "no GB18030 BOM either");
	cr_assert_not(g_utf8_validate(bytes, (gssize)len, NULL), "the Chinese text is GB18030, not UTF-8");
	assert_crlf(bytes, len);
	gsize text_len = 0;
	GError *error = NULL;
	g_autofree char *text = g_convert(bytes, (gssize)len, "UTF-8", "GB18030", NULL, &text_len, &error);
	cr_assert(text != NULL, "%s", error ? error->message : "");
	g_autoptr(GPtrArray) from_gb = parse_csv(text);
	g_autoptr(GPtrArray) from_utf8 = read_utf8_csv(utf8);
	cr_assert_eq(from_gb->len, from_utf8->len);
	for (guint r = 0; r < from_gb->len; r++) {
		GPtrArray *row = from_utf8->pdata[r];
		assert_row(from_gb, r, (const char *const *)row->pdata, row->len);
	}
	assert_summary_totals(db, from_gb);
	assert_sha256_verifies(gb);
}

Test(export, the_sha256_file_verifies_with_sha256sum_and_no_temporary_file_is_left)
{
	const char *db = seeded();
	g_autofree char *dir = g_build_filename(h_tmpdir(), "out", NULL);
	cr_assert_eq(g_mkdir(dir, 0700), 0);
	g_autofree char *path = g_build_filename(dir, "batch-1.csv", NULL);
	const char *args[] = { "export", "--batch", "1", "-o", path, NULL };
	h_result r = h_runv(db, args);
	cr_assert_eq(r.status, 0, "%s", r.err);
	h_result_clear(&r);
	assert_sha256_verifies(path);
	const char *const names[] = { "batch-1.csv", "batch-1.csv.sha256" };
	assert_dir_holds(dir, names, G_N_ELEMENTS(names));
}

Test(export, exporting_the_same_batch_twice_gives_byte_identical_files)
{
	const char *db = seeded();
	static const char *const variants[][3] = {
		{ NULL, NULL, NULL },
		{ "--encoding", "gb18030", NULL },
		{ "--detail", NULL, NULL },
		{ "--format", "xlsx", NULL },
		{ "--format", "xlsx", "--detail" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(variants); i++) {
		g_autofree char *a = g_strdup_printf("first-%zu", i), *b = g_strdup_printf("second-%zu", i);
		g_autofree char *pa = export_file(db, a, variants[i][0], variants[i][1], variants[i][2]);
		if (i == 3)
			g_usleep(1100 * 1000); /* a second later: no clock may leak into the XLSX */
		g_autofree char *pb = export_file(db, b, variants[i][0], variants[i][1], variants[i][2]);
		assert_same_bytes(pa, pb);
	}
}

Test(export, a_batch_with_a_remark_exports_it)
{
	const char *db = seeded();
	g_autofree char *path = g_build_filename(h_tmpdir(), "batch-2.csv", NULL);
	const char *args[] = { "export", "--batch", "2", "-o", path, NULL };
	h_result r = h_runv(db, args);
	cr_assert_eq(r.status, 0, "%s", r.err);
	h_result_clear(&r);
	g_autoptr(GPtrArray) rows = read_utf8_csv(path);
	cr_assert_eq(rows->len, 3);
	const char *const s2[] = { "2", "1", "S2", "扶贫店", "符春花", "农信", "6221000000000026", "0", "25.00", "补发:批次1" };
	assert_row(rows, 1, s2, G_N_ELEMENTS(s2));
	const char *const totals[] = { "合计", "", "", "", "", "", "", "0", "25.00", "人民币贰拾伍元整" };
	assert_row(rows, 2, totals, G_N_ELEMENTS(totals));
}

Test(export, an_unknown_batch_exits_64_naming_it_and_writes_nothing)
{
	const char *db = seeded();
	g_autofree char *dir = g_build_filename(h_tmpdir(), "none", NULL);
	cr_assert_eq(g_mkdir(dir, 0700), 0);
	g_autofree char *path = g_build_filename(dir, "batch-9.csv", NULL);
	const char *args[] = { "export", "--batch", "9", "-o", path, NULL };
	h_result r = h_runv(db, args);
	cr_assert_eq(r.status, 64, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "unknown batch 9"), "%s", r.err);
	h_result_clear(&r);
	assert_dir_holds(dir, NULL, 0);
}

Test(export, bad_usage_exits_64)
{
	const char *db = seeded();
	g_autofree char *path = g_build_filename(h_tmpdir(), "x.csv", NULL);
	const char *const cases[][9] = {
		{ "export", "-o", path },                                           /* no --batch */
		{ "export", "--batch", "1" },                                       /* no -o */
		{ "export", "--batch", "1", "-o", path, "--format", "pdf" },
		{ "export", "--batch", "1", "-o", path, "--encoding", "latin1" },
		{ "export", "--batch", "1", "-o", path, "--format", "xlsx", "--encoding=gb18030" },
		{ "export", "--batch", "one", "-o", path },
		{ "export", "--batch", "1", "-o", path, "surplus" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		h_result r = h_runv(db, cases[i]);
		cr_assert_eq(r.status, 64, "case %zu: exit %d: %s", i, r.status, r.err);
		h_result_clear(&r);
	}
	cr_assert_not(g_file_test(path, G_FILE_TEST_EXISTS));
}

Test(export, the_finance_role_can_export)
{
	const char *db = seeded();
	g_autofree char *finance = h_as_role(db, "subsidy_finance");
	g_autofree char *path = export_file(finance, "batch-1.csv", NULL, NULL, NULL);
	g_autoptr(GPtrArray) rows = read_utf8_csv(path);
	cr_assert_eq(rows->len, 6);
}

/* ------------------------------------------------------------------------------------------ */
/* The detail                                                                                  */

Test(export, the_detail_lists_every_posting_by_shop_then_funding_key_with_signed_amounts)
{
	const char *db = seeded();
	g_autofree char *path = export_file(db, "detail-1.csv", "--detail", NULL, NULL);
	g_autoptr(GPtrArray) rows = read_utf8_csv(path);
	cr_assert_eq(rows->len, 10, "header, eight postings, totals");
	assert_row(rows, 0, detail_header, G_N_ELEMENTS(detail_header));
	static const char *const want[][11] = {
		/* S1: the order without a number was picked up first, so it comes first. */
		{ "1", "S1", "", "EMS", "E2", "2018-06-05 09:00:00", "6.00", "50%", "3.00", "c618", "FUNDED" },
		{ "1", "S1", "O1", "EMS", "E1", "2018-06-05 10:00:00", "20.00", "50%", "10.00", "c618", "FUNDED" },
		{ "1", "S10", "O3", "YTO", "Y3", "2018-06-05 12:00:00", "12.35", "50%", "6.18", "c618", "FUNDED" },
		/* S2: same pickup time, then the courier bytewise: EMS before ZTO. */
		{ "1", "S2", "O6", "EMS", "E6", "2018-06-05 11:00:00", "12.50", "50%", "0.00", "c618", "BUDGET_EXHAUSTED" },
		{ "1", "S2", "000123456789", "ZTO", "75300000000512", "2018-06-05 11:00:00", "25.00", "80%", "20.00", "c618",
		  "FUNDED" },
		{ "1", "S2", "O5", "EMS", "E5", "2018-06-06 10:00:00", "10.00", "80%", "5.00", "c618", "PARTIAL" },
		{ "1", "S3", "00123,45", "EMS", "E7", "2018-06-05 13:00:00", "12.50", "12.5%", "1.56", "", "FUNDED" },
		{ "1", "S4", "O8", "EMS", "E8", "2018-06-02 08:00:00", "0.00", "50%", "-5.00", "c618", "REVERSAL" },
	};
	int64_t sum = 0;
	for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
		assert_row(rows, (guint)i + 1, want[i], 11);
		sum += fen_of(want[i][8]);
	}
	const char *const totals[] = { "合计", "", "", "", "", "", "", "", "40.74", "", "" };
	assert_row(rows, 9, totals, G_N_ELEMENTS(totals));
	cr_assert_eq(sum, h_sql_int(db, "SELECT sum(funded_fen) FROM postings WHERE batch_id = 1"));
	assert_sha256_verifies(path);
}

/* ------------------------------------------------------------------------------------------ */
/* XLSX                                                                                        */

/* Dumps a workbook's active sheet: the frozen cell, then a line per row, cells tab-separated:
 * "s:TEXT" for text, "n:FEN:FORMAT" for numbers (value * 100, rounded), "" for empty. */
static const char xlsx_dump[] =
	"import openpyxl, sys\n"
	"wb = openpyxl.load_workbook(sys.argv[1])\n"
	"ws = wb.active\n"
	"print(ws.freeze_panes)\n"
	"for row in ws.iter_rows():\n"
	"    out = []\n"
	"    for c in row:\n"
	"        v = c.value\n"
	"        if v is None: out.append('')\n"
	"        elif isinstance(v, str): out.append('s:' + v)\n"
	"        else: out.append('n:%d:%s' % (round(v * 100), c.number_format))\n"
	"    print('\\t'.join(out))\n";

static char **read_xlsx(const char *path)
{
	const char *argv[] = { "/usr/bin/python3", "-c", xlsx_dump, path, NULL };
	g_autofree char *out = NULL;
	cr_assert_eq(spawn_in(NULL, argv, &out), 0, "openpyxl cannot read %s", path);
	size_t len = strlen(out);
	cr_assert(len > 0 && out[len - 1] == '\n');
	out[len - 1] = '\0'; /* the last newline only: a row may end with empty cells (tabs) */
	return g_strsplit(out, "\n", -1);
}

Test(export, the_xlsx_summary_has_a_frozen_header_text_accounts_and_numeric_amounts_that_add_up)
{
	const char *db = seeded();
	g_autofree char *path = export_file(db, "batch-1.xlsx", "--format", "xlsx", NULL);
	gsize len = 0;
	g_autofree char *bytes = h_read(path, &len);
	cr_assert(len > 4 && memcmp(bytes, "PK\x03\x04", 4) == 0, "a zip file");
	g_auto(GStrv) lines = read_xlsx(path);
	cr_assert_eq(g_strv_length(lines), 7, "freeze line, header, four shops, totals");
	cr_assert_str_eq(lines[0], "A2", "the header row is frozen");
	cr_assert_str_eq(lines[1], "s:批次号\ts:序号\ts:店铺编号\ts:店铺名称\ts:收款户名\ts:开户银行\ts:银行账号\ts:订单数"
				   "\ts:补贴金额(元)\ts:备注");
	cr_assert_str_eq(lines[2], "n:100:General\tn:100:General\ts:S1\ts:标准店\ts:王小明\ts:农信"
				   "\ts:6221000000000018\tn:200:General\tn:1300:0.00\t");
	cr_assert_str_eq(lines[5], "n:100:General\tn:400:General\ts:S3\ts:山货店,\"特产\"\ts:欧阳小锋\ts:农信"
				   "\ts:6221000000000034\tn:100:General\tn:156:0.00\t");
	int64_t sum = 0;
	for (int r = 2; r <= 5; r++) {
		g_auto(GStrv) cells = g_strsplit(lines[r], "\t", -1);
		cr_assert(g_str_has_prefix(cells[6], "s:"), "the bank account is text: %s", cells[6]);
		cr_assert(g_str_has_suffix(cells[8], ":0.00"), "the amount is a number formatted 0.00: %s", cells[8]);
		sum += g_ascii_strtoll(cells[8] + 2, NULL, 10);
	}
	cr_assert_str_eq(lines[6], "s:合计\t\t\t\t\t\t\tn:600:General\tn:4574:0.00\ts:人民币肆拾伍元柒角肆分");
	cr_assert_eq(sum, 4574);
	cr_assert_eq(sum, exported_total(db, 1));
	assert_sha256_verifies(path);
}

Test(export, the_xlsx_detail_keeps_order_numbers_as_text_and_totals_the_signed_amounts)
{
	const char *db = seeded();
	g_autofree char *path = export_file(db, "detail-1.xlsx", "--format", "xlsx", "--detail");
	g_auto(GStrv) lines = read_xlsx(path);
	cr_assert_eq(g_strv_length(lines), 11, "freeze line, header, eight postings, totals");
	cr_assert_str_eq(lines[0], "A2");
	/* For a person: courier and status in Chinese (the CSV keeps the codes). */
	cr_assert_str_eq(lines[6], "n:100:General\ts:S2\ts:000123456789\ts:中通快递\ts:75300000000512"
				   "\ts:2018-06-05 11:00:00\tn:2500:0.00\ts:80%\tn:2000:0.00\ts:c618\ts:已拨付");
	cr_assert_str_eq(lines[9], "n:100:General\ts:S4\ts:O8\ts:中国邮政\ts:E8\ts:2018-06-02 08:00:00\tn:0:0.00"
				   "\ts:50%\tn:-500:0.00\ts:c618\ts:冲回");
	g_autofree char *all = g_strjoinv("\n", lines);
	cr_assert(strstr(all, "\ts:E5\t") && strstr(all, "\ts:c618\ts:部分拨付\n") && strstr(all, "\ts:c618\ts:资金不足\n") &&
			  strstr(all, "\ts:圆通速递\ts:Y3\t") && !strstr(all, "FUNDED") && !strstr(all, "PARTIAL"),
		  "%s", all);
	cr_assert_str_eq(lines[10], "s:合计\t\t\t\t\t\t\t\tn:4074:0.00\t\t");
}

/* ------------------------------------------------------------------------------------------ */
/* The public notice                                                                           */

Test(export, disclosure_masks_owners_and_phones_and_shows_them_as_registered_when_the_batch_was_made)
{
	const char *db = seeded();
	g_autofree char *path = g_build_filename(h_tmpdir(), "notice-1.csv", NULL);
	const char *args[] = { "disclose", "--batch", "1", "-o", path, NULL };
	h_result r = h_runv(db, args);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	h_result_clear(&r);
	g_autoptr(GPtrArray) rows = read_utf8_csv(path);
	cr_assert_eq(rows->len, 5, "header and four shops, no totals row");
	assert_row(rows, 0, disclosure_header, G_N_ELEMENTS(disclosure_header));
	/* S1's owner and village changed after batch 1 (李四, 新村): the list shows them as then. */
	static const char *const want[][7] = {
		{ "1", "标准店", "村一", "王*明", "138****0001", "2", "13.00" },
		{ "2", "十号店", "村四", "张*", "138****5678", "1", "6.18" },
		{ "3", "扶贫店", "村二", "符*花", "138****0002", "2", "25.00" },
		{ "4", "山货店,\"特产\"", "村三", "欧**锋", "139****5678", "1", "1.56" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
		assert_row(rows, (guint)i + 1, want[i], 7);
	gsize len = 0;
	g_autofree char *bytes = h_read(path, &len);
	static const char *const secret[] = { "6221000000000018", "11010519491231002X", "13800000001", "王小明",
					      "欧阳小锋", "李四", "新村", "赵五" };
	for (size_t i = 0; i < G_N_ELEMENTS(secret); i++)
		cr_assert_null(strstr(bytes, secret[i]), "'%s' is in the public list", secret[i]);
}

Test(export, disclosure_of_an_unknown_batch_exits_64)
{
	const char *db = seeded();
	g_autofree char *path = g_build_filename(h_tmpdir(), "notice-7.csv", NULL);
	const char *args[] = { "disclose", "--batch", "7", "-o", path, NULL };
	h_result r = h_runv(db, args);
	cr_assert_eq(r.status, 64, "exit %d: %s", r.status, r.err);
	h_result_clear(&r);
	cr_assert_not(g_file_test(path, G_FILE_TEST_EXISTS));
}

Test(export, disclosure_refuses_a_shop_with_no_registry_version_when_the_batch_was_made)
{
	const char *db = seeded();
	/* A batch made before any shop version was recorded: the list could not say village or owner. */
	char *err = NULL;
	cr_assert(h_exec(db,
			 "INSERT INTO batches (programme, batch_id, run_id, created_at, files_upto, orders, postings,"
			 " posted_fen, unfunded_fen, prev_digest, digest) VALUES ('default', 3, 9003,"
			 " '2018-05-01 00:00:00+08', 0, 0, 0, 0, 0, repeat('2', 64), repeat('3', 64));"
			 "INSERT INTO batch_shops (programme, batch_id, shop_id, net_fen, carried_fen, amount_fen, orders,"
			 " remark, shop_name, account_name, bank_name, bank_account) VALUES ('default', 3, 'S10', 100, 0,"
			 " 100, 1, '', '十号店', '张三', '农商行', '6222000000000010')",
			 &err),
		  "%s", err);
	g_autofree char *path = g_build_filename(h_tmpdir(), "notice-3.csv", NULL);
	const char *args[] = { "disclose", "--batch", "3", "-o", path, NULL };
	h_result r = h_runv(db, args);
	cr_assert_eq(r.status, 70, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "'S10'"), "%s", r.err);
	h_result_clear(&r);
	cr_assert_not(g_file_test(path, G_FILE_TEST_EXISTS));
}

/* ------------------------------------------------------------------------------------------ */
/* The XLSX for people: control sheet, autofilter, print setup (CONTROL.md, issue 16 point 10)   */

/* Every sheet of the workbook: its name, autofilter, orientation, fit, repeated rows, then its
 * rows as xlsx_dump writes them. */
static const char xlsx_sheets_dump[] =
	"import openpyxl, sys\n"
	"wb = openpyxl.load_workbook(sys.argv[1])\n"
	"for ws in wb.worksheets:\n"
	"    ps = ws.page_setup\n"
	/* fitToWidth absent is 1 (ECMA-376); fitToHeight 0 is "as many pages as it takes". */
	"    print('sheet|%s|%s|%s|%s|%s|%s|%s' % (ws.title, ws.auto_filter.ref, ps.orientation,\n"
	"          ws.sheet_properties.pageSetUpPr.fitToPage, ps.fitToWidth if ps.fitToWidth is not None else 1,\n"
	"          ps.fitToHeight, ws.print_title_rows))\n"
	"    for row in ws.iter_rows():\n"
	"        out = []\n"
	"        for c in row:\n"
	"            v = c.value\n"
	"            if v is None: out.append('')\n"
	"            elif isinstance(v, str): out.append('s:' + v)\n"
	"            else: out.append('n:%d:%s' % (round(v * 100), c.number_format))\n"
	"        print('\\t'.join(out))\n";

static char *read_xlsx_sheets(const char *path)
{
	const char *argv[] = { "/usr/bin/python3", "-c", xlsx_sheets_dump, path, NULL };
	char *out = NULL;
	cr_assert_eq(spawn_in(NULL, argv, &out), 0, "openpyxl cannot read %s", path);
	return out;
}

/* The control sheet's rows after the one beginning "sheet|控制信息|", one "项目\t内容" a line. */
static char *control_sheet(const char *dump)
{
	const char *at = strstr(dump, "sheet|控制信息|");
	cr_assert(at, "no sheet 控制信息 in:\n%s", dump);
	return g_strdup(strchr(at, '\n') + 1);
}

Test(export, the_xlsx_control_sheet_says_not_approved_then_who_approved_and_when)
{
	const char *db = seeded();
	g_autofree char *before = export_file(db, "before.xlsx", "--format", "xlsx", NULL);
	g_autofree char *dump = read_xlsx_sheets(before);
	cr_assert(g_str_has_prefix(dump, "sheet|批次1|A1:J5|landscape|True|1|0|$1:$1\n"),
		  "the first sheet: autofilter over header and rows, landscape, one page wide, header repeated:\n%s",
		  dump);
	g_autofree char *ctl = control_sheet(dump);
	cr_assert_str_eq(ctl,
			 "s:项目\ts:内容\n"
			 "s:批次号\tn:100:General\n"
			 "s:生成时间\ts:2018-06-20 02:00:00\n"
			 "s:本批摘要\ts:1111111111111111111111111111111111111111111111111111111111111111\n"
			 "s:上批摘要\ts:0000000000000000000000000000000000000000000000000000000000000000\n"
			 "s:店铺数\tn:400:General\n"
			 "s:订单数\tn:600:General\n"
			 "s:补贴金额(元)\tn:4574:0.00\n"
			 "s:大写金额\ts:人民币肆拾伍元柒角肆分\n"
			 "s:审核状态\ts:未审核\n"
			 "s:审核人\t\n"
			 "s:审核时间\t\n");
	cr_assert(strstr(dump, "sheet|控制信息|None|landscape|True|1|0|$1:$1\n"), "%s", dump);

	h_result r = h_run(db, "approve", "--batch", "1", "--reason", "checked against the bank list", NULL);
	cr_assert_eq(r.status, 0, "approve: exit %d\n%s%s", r.status, r.out, r.err);
	h_result_clear(&r);
	g_autofree char *after = export_file(db, "after.xlsx", "--format", "xlsx", "--detail");
	g_autofree char *dump2 = read_xlsx_sheets(after);
	cr_assert(g_str_has_prefix(dump2, "sheet|明细1|A1:K9|landscape|True|1|0|$1:$1\n"), "%s", dump2);
	g_autofree char *ctl2 = control_sheet(dump2);
	g_autofree char *who = h_sql(db, "SELECT db_role || ' / ' || os_user FROM approvals WHERE batch_id = 1");
	g_autofree char *when = h_sql(db, "SELECT to_char(approved_at AT TIME ZONE 'Asia/Shanghai',"
					  " 'YYYY-MM-DD HH24:MI:SS') FROM approvals WHERE batch_id = 1");
	g_autofree char *tail = g_strdup_printf("s:审核状态\ts:已审核\ns:审核人\ts:%s\ns:审核时间\ts:%s\n", who, when);
	cr_assert(g_str_has_suffix(ctl2, tail), "%s\nwanted it to end with\n%s", ctl2, tail);
	cr_assert(g_str_has_prefix(who, "postgres / ") || strstr(who, " / "), "%s", who);
	/* The detail's control sheet speaks of the batch as the summary does. */
	cr_assert(strstr(ctl2, "s:补贴金额(元)\tn:4574:0.00\ns:大写金额\ts:人民币肆拾伍元柒角肆分\n"), "%s", ctl2);
	/* Approved, the file is still the same bytes every time it is written. */
	g_autofree char *again = export_file(db, "again.xlsx", "--format", "xlsx", "--detail");
	assert_same_bytes(after, again);
}

/* The CSV is for machines: codes, not names; its 合计 row holds the capitals in 备注. */
Test(export, the_csv_detail_keeps_courier_and_status_codes)
{
	const char *db = seeded();
	g_autofree char *path = export_file(db, "detail.csv", "--detail", NULL, NULL);
	gsize len = 0;
	g_autofree char *bytes = h_read(path, &len);
	cr_assert(strstr(bytes, ",ZTO,75300000000512,") && strstr(bytes, ",c618,FUNDED\r\n") &&
			  strstr(bytes, ",c618,REVERSAL\r\n") && !strstr(bytes, "已拨付") && !strstr(bytes, "中通"),
		  "%s", bytes);
}

/* The finance bureau's workbook given back to ingest by mistake (an office keeps both in one
 * folder): refused whole, exit 65, saying it is a workbook and what to save instead; nothing is
 * stored. */
Test(export, the_workbook_given_to_ingest_is_refused_saying_what_it_is_and_nothing_is_stored)
{
	const char *db = seeded();
	g_autofree char *xlsx = export_file(db, "batch-1.xlsx", "--format", "xlsx", NULL);
	int64_t files = h_sql_int(db, "SELECT count(*) FROM files");
	int64_t lines = h_sql_int(db, "SELECT count(*) FROM lines");
	h_result r = h_run(db, "ingest", xlsx, NULL);
	cr_assert_eq(r.status, 65, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.err, "matches no profile"), "%s", r.err);
	cr_assert(strstr(r.err, "\nHINT: the file is a ZIP archive, as an Excel workbook (.xlsx) is: open it in Excel or"
				" WPS and save the sheet as CSV (UTF-8)"),
		  "%s", r.err);
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM files"), files);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines"), lines);
}
