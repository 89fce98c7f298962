/* test_manifest.c: the manifest reader against FORMATS.md's "Courier manifests" and check 1 of
 * POLICY.md. First the shipped samples (fixtures/manifests/samples/, byte for byte as in
 * shared/samples), read with the profile they must be detected as; then one test per bad-input
 * class: a file refused whole, or one line rejected and the lines around it still read. Small files
 * are written to a temporary directory per test. Tests run from the repository root. */
#include "filehash.h"
#include "manifest.h"
#include "money.h"
#include "status.h"

#include <criterion/criterion.h>
#include <glib/gstdio.h>
#include <string.h>

#define SAMPLES "fixtures/manifests/samples"
#define CANONICAL_HEADER                                                                                       \
	"courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"
#define ZTO_HEADER "运单编号,揽件时间,发件客户编号,发件人电话,结算重量,结算金额,订单号,物品类型,目的地\n"

static char *tmp_dir;
static profile_set *profiles;

static void setup(void)
{
	GError *error = NULL;
	tmp_dir = g_dir_make_tmp("test-manifest-XXXXXX", &error);
	cr_assert_not_null(tmp_dir, "%s", error ? error->message : "");
	profiles = profile_set_load(NULL, &error);
	cr_assert_not_null(profiles, "%s", error ? error->message : "");
}

static void teardown(void)
{
	GDir *d = g_dir_open(tmp_dir, 0, NULL);
	for (const char *name; d && (name = g_dir_read_name(d));) {
		g_autofree char *path = g_build_filename(tmp_dir, name, NULL);
		g_remove(path);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(tmp_dir);
	g_free(tmp_dir);
	profile_set_free(profiles);
}

TestSuite(manifest, .init = setup, .fini = teardown);

/* A line as the test keeps it: manifest_line's strings are only valid until the next read. */
typedef struct {
	manifest_line line;
	char *field[PROFILE_FIELD_COUNT];
	char *reason;
} kept_line;

static void kept_line_free(gpointer data)
{
	kept_line *k = data;
	for (int f = 0; f < PROFILE_FIELD_COUNT; f++)
		g_free(k->field[f]);
	g_free(k->reason);
	g_free(k);
}

/* What reading a whole file gave. */
typedef struct {
	GPtrArray *lines; /* of kept_line */
	GError *error;    /* the file refused (at open or while reading), or NULL */
	gboolean opened;
	char *profile;
	char *sha256;
	uint64_t size;
	gboolean has_totals;
	int64_t totals_fen, sum_fen;
	GByteArray *raw; /* what the raw callback received */
} result;

static void result_free(result *res)
{
	g_ptr_array_free(res->lines, TRUE);
	if (res->error)
		g_error_free(res->error);
	g_free(res->profile);
	g_free(res->sha256);
	g_byte_array_unref(res->raw);
	g_free(res);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(result, result_free)

static gboolean keep_raw(const guint8 *bytes, gsize len, gpointer user_data, GError **error)
{
	g_byte_array_append(user_data, bytes, (guint)len);
	return TRUE;
}

/* Reads path to its end with profile (NULL: detect) and overrides. */
static result *read_with(const char *path, const char *profile_name, const char *const *overrides)
{
	result *res = g_new0(result, 1);
	res->lines = g_ptr_array_new_with_free_func(kept_line_free);
	res->raw = g_byte_array_new();
	manifest_reader *r =
		manifest_open(path, profiles, profile_name, overrides, keep_raw, res->raw, &res->error);
	if (!r)
		return res;
	res->opened = TRUE;
	res->profile = g_strdup(manifest_profile_name(r));
	manifest_line line;
	while (manifest_next(r, &line, &res->error)) {
		kept_line *k = g_new0(kept_line, 1);
		k->line = line;
		for (int f = 0; f < PROFILE_FIELD_COUNT; f++)
			k->field[f] = g_strdup(line.field[f]);
		k->reason = g_strdup(line.reason);
		cr_assert_eq(line.rejected, line.reason != NULL);
		g_ptr_array_add(res->lines, k);
	}
	cr_assert_eq(manifest_lines(r), res->lines->len);
	if (!res->error) {
		res->sha256 = g_strdup(manifest_sha256(r));
		cr_assert_not_null(res->sha256);
	}
	res->size = manifest_size_bytes(r);
	res->has_totals = manifest_totals(r, &res->totals_fen, &res->sum_fen);
	manifest_close(r);
	return res;
}

static result *read_file(const char *path)
{
	return read_with(path, NULL, NULL);
}

/* Writes len bytes (-1: a string) to tmp_dir/name; returns the path (caller frees). */
static char *write_bytes(const char *name, const char *bytes, gssize len)
{
	char *path = g_build_filename(tmp_dir, name, NULL);
	GError *error = NULL;
	cr_assert(g_file_set_contents(path, bytes, len < 0 ? (gssize)strlen(bytes) : len, &error), "%s",
		  error ? error->message : "");
	return path;
}

/* Writes UTF-8 text to tmp_dir/name in GB18030. */
static char *write_gb18030(const char *name, const char *utf8)
{
	gsize len = 0;
	g_autofree char *bytes = g_convert(utf8, -1, "GB18030", "UTF-8", NULL, &len, NULL);
	cr_assert_not_null(bytes);
	return write_bytes(name, bytes, (gssize)len);
}

static const kept_line *line_at(const result *res, guint i)
{
	cr_assert_lt(i, res->lines->len, "only %u lines", res->lines->len);
	return res->lines->pdata[i];
}

/* The file was read to its end, no refusal, with n lines. */
static void assert_read(const result *res, guint n)
{
	cr_assert(res->opened && !res->error, "refused: %s", res->error ? res->error->message : "");
	cr_assert_eq(res->lines->len, n, "%u lines, expected %u", res->lines->len, n);
}

/* The file was refused whole with a data error whose message says why. */
static void assert_refused(const result *res, const char *why)
{
	cr_assert_not_null(res->error, "file not refused, expected: %s", why);
	cr_assert_eq(res->error->code, STATUS_DATAERR, "code %d: %s", res->error->code, res->error->message);
	cr_assert(strstr(res->error->message, why), "message does not say '%s': %s", why, res->error->message);
}

static void assert_ok(const kept_line *k)
{
	cr_assert_not(k->line.rejected, "line %" G_GUINT64_FORMAT " rejected: %s", k->line.line_no, k->reason);
}

static void assert_rejected(const kept_line *k, const char *why)
{
	cr_assert(k->line.rejected, "line %" G_GUINT64_FORMAT " not rejected, expected: %s", k->line.line_no,
		  why);
	cr_assert(strstr(k->reason, why), "reason does not say '%s': %s", why, k->reason);
}

static chrono_time at(const char *text)
{
	chrono_time t = 0;
	cr_assert(chrono_parse_time(text, &t, NULL), "bad time %s", text);
	return t;
}

/* The canonical file with the given data lines after its header. */
static result *read_canonical(const char *lines)
{
	g_autofree char *text = g_strconcat(CANONICAL_HEADER, lines, NULL);
	g_autofree char *path = write_bytes("c.csv", text, -1);
	return read_file(path);
}

/* ---- the shipped samples ---- */

Test(manifest, sample_ems_gb18030_crlf)
{
	g_autoptr(result) res = read_file(SAMPLES "/ems.csv");
	assert_read(res, 2);
	cr_assert_str_eq(res->profile, "ems");
	const kept_line *k = line_at(res, 0);
	assert_ok(k);
	cr_assert_eq(k->line.line_no, 2);
	cr_assert_str_eq(k->field[PROFILE_COURIER], "EMS");
	cr_assert_str_eq(k->field[PROFILE_WAYBILL_NO], "1100000000222");
	cr_assert_str_eq(k->field[PROFILE_PICKUP_TIME], "2018/6/3 9:05:33");
	cr_assert_eq(k->line.pickup, at("2018-06-03 09:05:33"));
	cr_assert(k->line.pickup_has_seconds);
	cr_assert_eq(k->line.fee_fen, 1500);
	cr_assert_str_eq(k->field[PROFILE_FEE], "15.00");
	cr_assert_str_eq(k->field[PROFILE_SENDER_CODE], "EM0002");
	cr_assert_null(k->field[PROFILE_SENDER_PHONE]);
	cr_assert_str_eq(k->field[PROFILE_WEIGHT_KG], "1.2");
	cr_assert_str_eq(k->field[PROFILE_ORDER_NO], "JD200000000001");
	cr_assert_str_eq(k->field[PROFILE_CATEGORY], "茶叶");
	cr_assert_str_eq(k->field[PROFILE_DESTINATION], "上海");
	const kept_line *k2 = line_at(res, 1);
	assert_ok(k2);
	cr_assert_eq(k2->line.line_no, 3);
	cr_assert_eq(k2->line.pickup, at("2018-11-11 23:59:59"));
	cr_assert_eq(k2->line.fee_fen, 600);
	cr_assert_str_eq(k2->field[PROFILE_CATEGORY], "水果");
	cr_assert_not(res->has_totals);
}

Test(manifest, sample_cainiao_bom_crlf_maps_courier_names)
{
	g_autoptr(result) res = read_file(SAMPLES "/cainiao.csv");
	assert_read(res, 2);
	cr_assert_str_eq(res->profile, "cainiao");
	const kept_line *k = line_at(res, 0);
	assert_ok(k);
	cr_assert_str_eq(k->field[PROFILE_COURIER], "ZTO"); /* 中通 */
	cr_assert_str_eq(k->field[PROFILE_WAYBILL_NO], "75300000000345");
	cr_assert_eq(k->line.fee_fen, 990); /* 9.90元 */
	cr_assert_eq(k->line.pickup, at("2018-06-05 10:00:00"));
	cr_assert_str_eq(k->field[PROFILE_CATEGORY], "土特产");
	const kept_line *k2 = line_at(res, 1);
	assert_ok(k2);
	cr_assert_str_eq(k2->field[PROFILE_COURIER], "YTO"); /* 圆通 */
	cr_assert_str_eq(k2->field[PROFILE_SENDER_PHONE], "+86 138-0000-0003");
	cr_assert_str_eq(k2->field[PROFILE_WEIGHT_KG], "3.2");
	cr_assert_eq(k2->line.fee_fen, 2200);
}

Test(manifest, sample_zto_unwraps_waybills_and_checks_the_total)
{
	g_autoptr(result) res = read_file(SAMPLES "/zto.csv");
	assert_read(res, 2); /* the 合计 row is not a line */
	cr_assert_str_eq(res->profile, "zto");
	const kept_line *k = line_at(res, 0);
	assert_ok(k);
	cr_assert_str_eq(k->field[PROFILE_COURIER], "ZTO");
	cr_assert_str_eq(k->field[PROFILE_WAYBILL_NO], "75300000000512");
	cr_assert_str_eq(k->field[PROFILE_PICKUP_TIME], "2018-06-06 08:30");
	cr_assert_eq(k->line.pickup, at("2018-06-06 08:30:00"));
	cr_assert_not(k->line.pickup_has_seconds);
	cr_assert_eq(k->line.fee_fen, 750);
	cr_assert_null(k->field[PROFILE_SENDER_PHONE]);
	cr_assert_str_eq(line_at(res, 1)->field[PROFILE_WAYBILL_NO], "75300000000529");
	cr_assert_str_eq(line_at(res, 1)->field[PROFILE_DESTINATION], "广西");
	cr_assert(res->has_totals);
	cr_assert_eq(res->totals_fen, 2070);
	cr_assert_eq(res->sum_fen, 2070);
}

Test(manifest, sample_canonical)
{
	g_autoptr(result) res = read_file(SAMPLES "/canonical.csv");
	assert_read(res, 3);
	cr_assert_str_eq(res->profile, "canonical");
	for (guint i = 0; i < 3; i++)
		assert_ok(line_at(res, i));
	cr_assert_str_eq(line_at(res, 0)->field[PROFILE_COURIER], "ZTO");
	cr_assert_str_eq(line_at(res, 1)->field[PROFILE_WAYBILL_NO], "YT6200000000123");
	const kept_line *k = line_at(res, 2);
	cr_assert_eq(k->line.fee_fen, 123450); /* "￥1,234.50", quoted for its comma */
	cr_assert_null(k->field[PROFILE_ORDER_NO]);
	cr_assert_null(k->field[PROFILE_SENDER_CODE]);
	cr_assert_str_eq(k->field[PROFILE_SENDER_PHONE], "13800000002");
}

Test(manifest, explicit_profile_reads_a_sample)
{
	g_autoptr(result) res = read_with(SAMPLES "/ems.csv", "ems", NULL);
	assert_read(res, 2);
	cr_assert_str_eq(res->profile, "ems");
}

Test(manifest, raw_bytes_hash_size_and_line_ranges_are_the_files)
{
	const char *samples[] = { "ems.csv", "cainiao.csv", "zto.csv", "canonical.csv" };
	for (size_t s = 0; s < G_N_ELEMENTS(samples); s++) {
		g_autofree char *path = g_build_filename(SAMPLES, samples[s], NULL);
		g_autofree char *bytes = NULL;
		gsize len = 0;
		cr_assert(g_file_get_contents(path, &bytes, &len, NULL));
		g_autoptr(result) res = read_file(path);
		assert_read(res, res->lines->len);
		cr_assert_eq(res->raw->len, len, "%s: raw callback got %u of %zu bytes", path, res->raw->len,
			     len);
		cr_assert(memcmp(res->raw->data, bytes, len) == 0);
		cr_assert_eq(res->size, len);
		g_autofree char *sha =
			g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)bytes, len);
		cr_assert_str_eq(res->sha256, sha);
		char hex[FILEHASH_HEX_MAX];
		uint64_t size = 0;
		cr_assert(filehash_sha256(path, hex, &size, NULL));
		cr_assert_str_eq(hex, sha);
		cr_assert_eq(size, len);
		/* Each line's range is one physical line of the file, its line end included. */
		for (guint i = 0; i < res->lines->len; i++) {
			const manifest_line *l = &line_at(res, i)->line;
			cr_assert_leq(l->byte_offset + l->byte_len, len);
			cr_assert_eq(bytes[l->byte_offset + l->byte_len - 1], '\n');
			cr_assert(l->byte_offset == 0 || bytes[l->byte_offset - 1] == '\n');
			cr_assert_null(memchr(bytes + l->byte_offset, '\n', l->byte_len - 1));
		}
	}
	/* ems line 2 is the second physical line: its bytes start after the header's CRLF */
	g_autoptr(result) ems = read_file(SAMPLES "/ems.csv");
	cr_assert_eq(line_at(ems, 0)->line.byte_offset, 108);
	cr_assert_eq(line_at(ems, 0)->line.byte_len, 80);
}

static gboolean refuse_raw(const guint8 *bytes, gsize len, gpointer user_data, GError **error)
{
	g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSPC, "storage full");
	return FALSE;
}

Test(manifest, raw_callback_failure_stops_the_reader_with_its_error)
{
	GError *error = NULL;
	manifest_reader *r = manifest_open(SAMPLES "/ems.csv", profiles, NULL, NULL, refuse_raw, NULL, &error);
	cr_assert_null(r);
	cr_assert(g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOSPC));
	g_error_free(error);
}

/* ---- files refused whole ---- */

Test(manifest, missing_file_is_no_input)
{
	g_autofree char *path = g_build_filename(tmp_dir, "absent.csv", NULL);
	g_autoptr(result) res = read_file(path);
	cr_assert_not(res->opened);
	cr_assert(g_error_matches(res->error, MANIFEST_ERROR, STATUS_NOINPUT), "%s", res->error->message);
	cr_assert(strstr(res->error->message, "cannot open"), "%s", res->error->message);
}

Test(manifest, empty_file_is_refused)
{
	g_autofree char *path = write_bytes("empty.csv", "", 0);
	g_autoptr(result) res = read_file(path);
	cr_assert_not(res->opened);
	assert_refused(res, "empty file 'empty.csv'");
}

Test(manifest, file_of_blank_lines_has_no_header)
{
	g_autofree char *path = write_bytes("blank.csv", "\r\n  \n\n", -1);
	g_autoptr(result) res = read_file(path);
	assert_refused(res, "no header row in 'blank.csv'");
}

Test(manifest, header_only_file_has_no_lines)
{
	g_autofree char *path = write_bytes("h.csv", CANONICAL_HEADER, -1);
	g_autoptr(result) res = read_file(path);
	assert_read(res, 0);
	cr_assert_str_eq(res->profile, "canonical");
	cr_assert_eq(res->size, strlen(CANONICAL_HEADER));
}

Test(manifest, header_matching_no_profile_is_refused_listing_them)
{
	g_autofree char *path = write_bytes("x.csv", "运单号,快递公司,金额\n1,中通,2\n", -1);
	g_autoptr(result) res = read_file(path);
	cr_assert_not(res->opened);
	assert_refused(res, "header of 'x.csv' matches no profile (tried cainiao, canonical, ems, zto)");
	assert_refused(res, "closest is 'cainiao', which lacks column '揽收时间' (pickup_time), column '运费' (fee)");
}

Test(manifest, header_missing_a_required_column_is_refused_naming_it)
{
	g_autofree char *path =
		write_gb18030("ems.csv", "邮件号,收寄日期,收寄时间,寄件人客户代码,寄件人电话,重量(千克),"
					 "保价费(元),订单号,内件品名,寄达省份\r\n"
					 "1100000000222,2018/6/3,9:05:33,EM0002,,1.2,2.00,JD1,茶叶,上海\r\n");
	g_autoptr(result) res = read_with(path, "ems", NULL);
	cr_assert_not(res->opened);
	assert_refused(res, "lacks column '邮费(元)' (fee), required by profile 'ems'");
}

Test(manifest, unknown_profile_name_is_a_usage_error)
{
	g_autoptr(result) res = read_with(SAMPLES "/ems.csv", "sf", NULL);
	cr_assert_not(res->opened);
	cr_assert_eq(res->error->code, STATUS_USAGE);
	cr_assert(strstr(res->error->message, "unknown profile 'sf' (profiles: cainiao, canonical, ems, zto)"),
		  "%s", res->error->message);
}

Test(manifest, quote_open_at_the_end_is_refused)
{
	g_autoptr(result) res = read_canonical("ZTO,753001,,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,广东\n"
					       "ZTO,753002,,2018-06-03 09:15:00,ZT1,,1.5,\"12.00,水果,广东\n"
					       "ZTO,753003,,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,广东\n");
	assert_refused(res, "quote opened at line 3 of 'c.csv' is still open at its end");
}

Test(manifest, record_longer_than_the_limit_is_refused)
{
	/* A quote left open near the start would make the rest of the file one record: refused once
	 * it passes MANIFEST_RECORD_BYTES_MAX, with the memory it needs bounded by that. */
	g_autoptr(GString) text = g_string_new(CANONICAL_HEADER "ZTO,\"753001,,2018-06-03 09:15:00\n");
	while (text->len <= MANIFEST_RECORD_BYTES_MAX + 1024)
		g_string_append(text, "ZTO,753002,,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,广东\n");
	g_autofree char *path = write_bytes("long.csv", text->str, (gssize)text->len);
	g_autoptr(result) res = read_file(path);
	assert_refused(res, "record at line 2 of 'long.csv' is longer than");
}

/* ---- zto's control total ---- */

#define ZTO_LINE_1 "=\"75300000000512\",2018-06-06 08:30,ZT0004,,1.1,￥7.50,TB400000000001,水果,海南省\n"
#define ZTO_LINE_2 "=\"75300000000529\",2018-06-06 08:31,ZT0004,,2.4,￥13.20,TB400000000002,水果,广西\n"

static result *read_zto(const char *body)
{
	g_autofree char *text = g_strconcat(ZTO_HEADER, body, NULL);
	g_autofree char *path = write_bytes("zto.csv", text, -1);
	return read_file(path);
}

Test(manifest, zto_without_totals_row_is_refused_as_truncated)
{
	g_autoptr(result) res = read_zto(ZTO_LINE_1 ZTO_LINE_2);
	assert_refused(res,
		       "no totals row ('合计' in the first column) at the end of 'zto.csv': file truncated?");
}

Test(manifest, zto_totals_off_by_one_fen_is_refused)
{
	g_autoptr(result) res = read_zto(ZTO_LINE_1 ZTO_LINE_2 "合计,,,,,￥20.71,,,\n");
	assert_refused(
		res,
		"totals row at line 4 of 'zto.csv' says 20.71, lines sum to 20.70: file truncated or altered?");
}

Test(manifest, zto_totals_count_rejected_lines_too)
{
	/* line 3's pickup does not exist, so it is rejected, but its amount is still in the total */
	g_autoptr(result) res =
		read_zto(ZTO_LINE_1 "=\"75300000000529\",2018-02-30 08:31,ZT0004,,2.4,￥13.20,TB4,水果,\n"
				    "合计,,,,,￥20.70,,,\n\n");
	assert_read(res, 2);
	assert_rejected(line_at(res, 1), "not a date that exists");
	cr_assert_eq(res->sum_fen, 2070);
}

Test(manifest, zto_line_after_the_totals_row_is_refused)
{
	g_autoptr(result) res = read_zto(ZTO_LINE_1 "合计,,,,,￥7.50,,,\n" ZTO_LINE_2);
	assert_refused(res, "line 4 of 'zto.csv' follows the totals row (line 3)");
}

Test(manifest, zto_amount_that_cannot_be_read_refuses_the_file)
{
	g_autoptr(result) res =
		read_zto(ZTO_LINE_1 "=\"75300000000529\",2018-06-06 08:31,ZT0004,,2.4,￥13.2.0,TB4,水果,\n"
				    "合计,,,,,￥20.70,,,\n");
	assert_refused(res, "cannot check the totals of 'zto.csv': 结算金额 at line 3 is not an amount");
}

Test(manifest, zto_csv_quoted_excel_cell_is_unwrapped)
{
	g_autoptr(result) res =
		read_zto("\"=\"\"75312345678901\"\"\",2018-06-06 08:30,ZT0004,,1.1,￥7.50,TB1,水果,海南省\n"
			 "合计,,,,,￥7.50,,,\n");
	assert_read(res, 1);
	assert_ok(line_at(res, 0));
	cr_assert_str_eq(line_at(res, 0)->field[PROFILE_WAYBILL_NO], "75312345678901");
}

/* ---- one line rejected, the others read ---- */

Test(manifest, line_in_another_encoding_is_rejected_naming_the_offset)
{
	/* 茶叶 in GB18030 (B2 E8 D2 B6) under the UTF-8 canonical profile: B2 cannot start UTF-8 */
	const char line2[] = "ZTO,753001,,2018-06-03 09:15:00,ZT1,,1.5,12.00,\xB2\xE8\xD2\xB6,gd\n";
	g_autofree char *text = g_strconcat(CANONICAL_HEADER, line2,
					    "ZTO,753002,,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,gd\n", NULL);
	g_autofree char *path = write_bytes("c.csv", text, -1);
	g_autoptr(result) res = read_file(path);
	assert_read(res, 2);
	uint64_t offset = strlen(CANONICAL_HEADER) + (uint64_t)(strstr(line2, "\xB2") - line2);
	g_autofree char *why =
		g_strdup_printf("byte 0xB2 at offset %" G_GUINT64_FORMAT " is not valid UTF-8", offset);
	assert_rejected(line_at(res, 0), why);
	assert_ok(line_at(res, 1));
	cr_assert_str_eq(line_at(res, 1)->field[PROFILE_CATEGORY], "水果");
	/* the line's strings are still valid UTF-8: the bad bytes became U+FFFD */
	cr_assert(g_utf8_validate(line_at(res, 0)->field[PROFILE_CATEGORY], -1, NULL));
}

Test(manifest, bytes_that_are_not_gb18030_reject_their_line)
{
	g_autofree char *good =
		g_convert("1100000000222,2018/6/3,9:05:33,EM0002,,1.2,15.00,2.00,JD1,茶叶,上海\r\n", -1,
			  "GB18030", "UTF-8", NULL, NULL, NULL);
	gsize header_len = 0;
	g_autofree char *header =
		g_convert("邮件号,收寄日期,收寄时间,寄件人客户代码,寄件人电话,重量(千克),邮费(元),"
			  "保价费(元),订单号,内件品名,寄达省份\r\n",
			  -1, "GB18030", "UTF-8", NULL, &header_len, NULL);
	/* 0x81 0x20: a GB18030 lead byte followed by a byte that cannot trail it */
	g_autofree char *text =
		g_strconcat(header, "1100000000239,2018/6/3,9:05:33,EM0002,,1.2,15.00,2.00,JD2,\x81 x,上海\r\n",
			    good, NULL);
	g_autofree char *path = write_bytes("ems.csv", text, -1);
	g_autoptr(result) res = read_file(path);
	assert_read(res, 2);
	cr_assert_str_eq(res->profile, "ems");
	assert_rejected(line_at(res, 0), "is not valid GB18030");
	assert_ok(line_at(res, 1));
	cr_assert_str_eq(line_at(res, 1)->field[PROFILE_CATEGORY], "茶叶");
}

Test(manifest, nul_byte_rejects_its_line)
{
	const char text[] = CANONICAL_HEADER "ZTO,753001,,2018-06-03 09:15:00,ZT1,,1.5,12.00,水\0果,gd\n"
					     "ZTO,753002,,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,gd\n";
	g_autofree char *path = write_bytes("c.csv", text, sizeof text - 1);
	g_autoptr(result) res = read_file(path);
	assert_read(res, 2);
	assert_rejected(line_at(res, 0), "NUL byte at offset");
	assert_ok(line_at(res, 1));
}

Test(manifest, field_of_one_mebibyte_rejects_its_line)
{
	g_autoptr(GString) text =
		g_string_new(CANONICAL_HEADER "ZTO,753001,,2018-06-03 09:15:00,ZT1,,1.5,12.00,");
	for (int i = 0; i < 1024 * 1024; i++)
		g_string_append_c(text, 'x');
	g_string_append(text, ",gd\nZTO,753002,,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,gd\n");
	g_autofree char *path = write_bytes("c.csv", text->str, (gssize)text->len);
	g_autoptr(result) res = read_file(path);
	assert_read(res, 2);
	assert_rejected(line_at(res, 0), "field 9 ('category') is 1048576 bytes long, more than 1024");
	cr_assert_null(line_at(res, 0)->field[PROFILE_CATEGORY]);
	assert_ok(line_at(res, 1));
	cr_assert_eq(line_at(res, 1)->line.line_no, 3);
}

Test(manifest, field_at_the_limit_is_kept)
{
	g_autofree char *category = g_strnfill(MANIFEST_FIELD_BYTES_MAX, 'x');
	g_autofree char *lines =
		g_strdup_printf("ZTO,753001,,2018-06-03 09:15:00,ZT1,,1.5,12.00,%s,gd\n", category);
	g_autoptr(result) res = read_canonical(lines);
	assert_read(res, 1);
	assert_ok(line_at(res, 0));
	cr_assert_str_eq(line_at(res, 0)->field[PROFILE_CATEGORY], category);
}

Test(manifest, ten_thousand_fields_reject_their_line)
{
	g_autoptr(GString) text = g_string_new(CANONICAL_HEADER "ZTO,753001");
	for (int i = 3; i <= 10000; i++) /* fields 3 to 10000 */
		g_string_append(text, ",a");
	g_string_append(text, "\nZTO,753002,,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,gd\n");
	g_autofree char *path = write_bytes("c.csv", text->str, (gssize)text->len);
	g_autoptr(result) res = read_file(path);
	assert_read(res, 2);
	assert_rejected(line_at(res, 0), "has 10000 fields, the header has 10");
	assert_ok(line_at(res, 1));
}

Test(manifest, too_few_fields_reject_the_line)
{
	g_autoptr(result) res = read_canonical("ZTO,753001,,2018-06-03 09:15:00,ZT1,,1.5,12.00\n");
	assert_read(res, 1);
	assert_rejected(line_at(res, 0), "has 8 fields, the header has 10");
}

Test(manifest, quoted_field_with_comma_quote_and_newline_is_one_field)
{
	g_autoptr(result) res = read_canonical(
		"ZTO,753001,,2018-06-03 09:15:00,ZT1,,1.5,12.00,\"水果, \"\"精选\"\"\r\n礼盒\",gd\r\n"
		"ZTO,753002,,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,gd\n");
	assert_read(res, 2);
	const kept_line *k = line_at(res, 0);
	assert_ok(k);
	cr_assert_str_eq(k->field[PROFILE_CATEGORY], "水果, \"精选\"\n礼盒");
	cr_assert_str_eq(k->field[PROFILE_DESTINATION], "gd");
	cr_assert_eq(k->line.line_no, 2);
	cr_assert_eq(k->line.byte_offset, strlen(CANONICAL_HEADER));
	cr_assert_eq(
		k->line.byte_len,
		strlen("ZTO,753001,,2018-06-03 09:15:00,ZT1,,1.5,12.00,\"水果, \"\"精选\"\"\r\n礼盒\",gd\r\n"));
	cr_assert_eq(line_at(res, 1)->line.line_no, 4); /* the record took physical lines 2 and 3 */
}

Test(manifest, crlf_and_lf_read_the_same)
{
	const char *line = "ZTO,753001,TB1,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,gd";
	g_autofree char *lf = g_strconcat(CANONICAL_HEADER, line, "\n", line, "\n", NULL);
	g_autofree char *crlf_header = g_strndup(CANONICAL_HEADER, strlen(CANONICAL_HEADER) - 1);
	g_autofree char *crlf = g_strconcat(crlf_header, "\r\n", line, "\r\n", line, "\r\n", NULL);
	g_autofree char *lf_path = write_bytes("lf.csv", lf, -1);
	g_autofree char *crlf_path = write_bytes("crlf.csv", crlf, -1);
	g_autoptr(result) a = read_file(lf_path);
	g_autoptr(result) b = read_file(crlf_path);
	assert_read(a, 2);
	assert_read(b, 2);
	for (guint i = 0; i < 2; i++) {
		assert_ok(line_at(a, i));
		assert_ok(line_at(b, i));
		for (int f = 0; f < PROFILE_FIELD_COUNT; f++)
			cr_assert_str_eq(line_at(a, i)->field[f] ? line_at(a, i)->field[f] : "(null)",
					 line_at(b, i)->field[f] ? line_at(b, i)->field[f] : "(null)");
		cr_assert_eq(line_at(a, i)->line.byte_len + 1, line_at(b, i)->line.byte_len);
	}
	cr_assert_str_eq(line_at(b, 1)->field[PROFILE_DESTINATION], "gd"); /* no CR left on the last field */
}

Test(manifest, last_line_without_line_end_is_read)
{
	g_autoptr(result) res = read_canonical("ZTO,753001,,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,gd");
	assert_read(res, 1);
	assert_ok(line_at(res, 0));
	cr_assert_str_eq(line_at(res, 0)->field[PROFILE_DESTINATION], "gd");
	cr_assert_eq(line_at(res, 0)->line.byte_len,
		     strlen("ZTO,753001,,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,gd"));
}

Test(manifest, utf8_bom_is_dropped)
{
	g_autofree char *text = g_strconcat("\xEF\xBB\xBF", CANONICAL_HEADER,
					    "ZTO,753001,,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,gd\n", NULL);
	g_autofree char *path = write_bytes("bom.csv", text, -1);
	g_autoptr(result) res = read_file(path);
	assert_read(res, 1);
	cr_assert_str_eq(res->profile, "canonical");
	assert_ok(line_at(res, 0));
	cr_assert_eq(line_at(res, 0)->line.byte_offset, 3 + strlen(CANONICAL_HEADER));
}

Test(manifest, blank_lines_are_no_lines)
{
	g_autoptr(result) res = read_canonical("\n"
					       "ZTO,753001,,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,gd\n"
					       ",,,,,,,,,\r\n"
					       "   \n"
					       " , ,,,,,,,,\n"
					       "ZTO,753002,,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,gd\n\n");
	assert_read(res, 2);
	cr_assert_eq(line_at(res, 0)->line.line_no, 3);
	cr_assert_eq(line_at(res, 1)->line.line_no, 7);
}

Test(manifest, surrounding_spaces_are_trimmed)
{
	g_autoptr(result) res =
		read_canonical(" ZTO , 753001 ,,\" 2018-06-03 09:15:00 \",ZT1,,1.5,\t12.00 ,水果,gd\n");
	assert_read(res, 1);
	const kept_line *k = line_at(res, 0);
	assert_ok(k);
	cr_assert_str_eq(k->field[PROFILE_COURIER], "ZTO");
	cr_assert_str_eq(k->field[PROFILE_WAYBILL_NO], "753001");
	cr_assert_str_eq(k->field[PROFILE_PICKUP_TIME], "2018-06-03 09:15:00");
	cr_assert_str_eq(k->field[PROFILE_FEE], "12.00");
}

/* ---- validation (check 1): the field and the problem ---- */

Test(manifest, pickup_on_a_day_that_does_not_exist_is_rejected)
{
	g_autofree char *path = write_gb18030(
		"ems.csv", "邮件号,收寄日期,收寄时间,寄件人客户代码,寄件人电话,重量(千克),邮费(元),"
			   "保价费(元),订单号,内件品名,寄达省份\r\n"
			   "1100000000222,2018/2/30,9:05:33,EM0002,,1.2,15.00,2.00,JD1,茶叶,上海\r\n");
	g_autoptr(result) res = read_file(path);
	assert_read(res, 1);
	assert_rejected(line_at(res, 0), "pickup_time: '2018/2/30 9:05:33' is not a date that exists");
}

Test(manifest, pickup_at_24_00_00_is_rejected)
{
	g_autoptr(result) res = read_canonical("ZTO,753001,,2018-06-03 24:00:00,ZT1,,1.5,12.00,水果,gd\n");
	assert_read(res, 1);
	assert_rejected(line_at(res, 0), "pickup_time: '2018-06-03 24:00:00' is not a time of day");
}

Test(manifest, pickup_in_another_format_is_rejected)
{
	g_autoptr(result) res = read_canonical("ZTO,753001,,2018/06/03 10:00:00,ZT1,,1.5,12.00,水果,gd\n");
	assert_read(res, 1);
	assert_rejected(line_at(res, 0), "does not match the format '%Y-%m-%d %H:%M:%S'");
}

Test(manifest, fee_that_does_not_parse_is_rejected_with_moneys_reason)
{
	g_autoptr(result) res = read_canonical("ZTO,753001,,2018-06-03 10:00:00,ZT1,,1.5,12.3.4,水果,gd\n"
					       "ZTO,753002,,2018-06-03 10:00:00,ZT1,,1.5,-5.00,水果,gd\n");
	assert_read(res, 2);
	assert_rejected(line_at(res, 0), "fee: cannot parse amount '12.3.4'");
	assert_rejected(line_at(res, 1), "fee: cannot parse amount '-5.00'");
}

Test(manifest, missing_required_fields_are_rejected)
{
	g_autoptr(result) res = read_canonical(",753001,,2018-06-03 10:00:00,ZT1,,1.5,12.00,水果,gd\n"
					       "ZTO,,,2018-06-03 10:00:00,ZT1,,1.5,12.00,水果,gd\n"
					       "ZTO,753003,,,ZT1,,1.5,12.00,水果,gd\n"
					       "ZTO,753004,,2018-06-03 10:00:00,ZT1,,1.5,,水果,gd\n"
					       "ZTO,753005,,2018-06-03 10:00:00,,,1.5,12.00,水果,gd\n");
	assert_read(res, 5);
	assert_rejected(line_at(res, 0), "missing courier (column 'courier' is empty)");
	assert_rejected(line_at(res, 1), "missing waybill_no");
	assert_rejected(line_at(res, 2), "missing pickup_time");
	assert_rejected(line_at(res, 3), "missing fee");
	assert_rejected(line_at(res, 4), "missing sender_code and sender_phone");
}

Test(manifest, scientific_notation_numbers_are_rejected)
{
	g_autoptr(result) res =
		read_canonical("ZTO,7.53E+13,,2018-06-03 10:00:00,ZT1,,1.5,12.00,水果,gd\n"
			       "ZTO,753002,1.23457E+11,2018-06-03 10:00:00,ZT1,,1.5,12.00,水果,gd\n"
			       "ZTO,7E5ABC,TB1E+5,2018-06-03 10:00:00,ZT1,,1.5,12.00,水果,gd\n");
	assert_read(res, 3);
	assert_rejected(line_at(res, 0), "waybill_no '7.53E+13' is in scientific notation");
	assert_rejected(line_at(res, 1), "order_no '1.23457E+11' is in scientific notation");
	assert_ok(line_at(res, 2)); /* letters in a number are not Excel's mark */
}

Test(manifest, unknown_courier_name_is_rejected)
{
	g_autofree char *path = write_bytes(
		"cn.csv",
		"\xEF\xBB\xBF运单号,快递公司,订单编号,揽收时间,商家编码,发件人手机,计费重量(kg),运费,商品类目,目的省份\r\n"
		"DB100,德邦,PDD1,2018-06-05 10:00:00,CN0003,,1.0,9.90,土特产,江苏\r\n"
		"EA100,邮政,PDD2,2018-06-05 10:00:00,CN0003,,1.0,9.90,土特产,江苏\r\n",
		-1);
	g_autoptr(result) res = read_file(path);
	assert_read(res, 2);
	assert_rejected(line_at(res, 0), "unknown courier '德邦'");
	assert_ok(line_at(res, 1));
	cr_assert_str_eq(line_at(res, 1)->field[PROFILE_COURIER], "EMS");
}

/* FORMATS.md: no money depends on the weight, so it is kept as received and rejects nothing. */
Test(manifest, weight_that_is_not_a_number_is_kept_as_received)
{
	g_autoptr(result) res = read_canonical("ZTO,753001,,2018-06-03 10:00:00,ZT1,,1.5kg,12.00,水果,gd\n"
					       "ZTO,753002,,2018-06-03 10:00:00,ZT1,,,12.00,水果,gd\n");
	assert_read(res, 2);
	assert_ok(line_at(res, 0));
	cr_assert_str_eq(line_at(res, 0)->field[PROFILE_WEIGHT_KG], "1.5kg");
	assert_ok(line_at(res, 1)); /* weight is not required */
}

Test(manifest, first_problem_is_the_reason)
{
	g_autoptr(result) res = read_canonical("ZTO,,,2018-02-30 10:00:00,ZT1,,1.5,abc,水果,gd\n");
	assert_read(res, 1);
	cr_assert_str_eq(line_at(res, 0)->reason, "missing waybill_no (column 'waybill_no' is empty)");
}

/* ---- --set overrides ---- */

Test(manifest, set_fixes_a_field_for_every_line)
{
	g_autofree char *path = write_bytes("s.csv",
					    "courier,waybill_no,pickup_time,fee\n"
					    "ZTO,753001,2018-06-03 10:00:00,12.00\n"
					    "ZTO,753002,2018-06-03 10:00:00,8.00\n",
					    -1);
	const char *overrides[] = { "sender_code=SHOP-7", "courier=YTO", NULL };
	g_autoptr(result) res = read_with(path, NULL, overrides);
	assert_read(res, 2);
	cr_assert_str_eq(res->profile, "canonical");
	for (guint i = 0; i < 2; i++) {
		assert_ok(line_at(res, i));
		cr_assert_str_eq(line_at(res, i)->field[PROFILE_SENDER_CODE], "SHOP-7");
		cr_assert_str_eq(line_at(res, i)->field[PROFILE_COURIER], "YTO");
	}
}

Test(manifest, set_of_an_unknown_field_is_a_usage_error)
{
	const char *overrides[] = { "shop=S1", NULL };
	g_autoptr(result) res = read_with(SAMPLES "/canonical.csv", NULL, overrides);
	cr_assert_not(res->opened);
	cr_assert_eq(res->error->code, STATUS_USAGE);
}

Test(manifest, header_without_sender_needs_set)
{
	g_autofree char *path = write_bytes(
		"s.csv", "courier,waybill_no,pickup_time,fee\nZTO,753001,2018-06-03 10:00:00,12.00\n", -1);
	g_autoptr(result) res = read_with(path, "canonical", NULL);
	cr_assert_not(res->opened);
	assert_refused(res, "column 'sender_code' (sender_code) or column 'sender_phone' (sender_phone)");
}

/* ---- a user profile: a date without time of day ---- */

Test(manifest, date_only_pickup_is_the_start_of_the_day)
{
	g_autofree char *dir = g_build_filename(tmp_dir, "profiles", NULL);
	cr_assert_eq(g_mkdir(dir, 0700), 0);
	g_autofree char *profile_path = g_build_filename(dir, "daily.profile", NULL);
	cr_assert(g_file_set_contents(
		profile_path,
		"[profile]\nname=daily\nencoding=UTF-8\nheader=单号,日期,金额,客户\n"
		"pickup_format=%Y%m%d\n[fields]\nwaybill_no=单号\npickup_time=日期\nfee=金额\n"
		"sender_code=客户\n[fixed]\ncourier=SF\n",
		-1, NULL));
	const char *dirs[] = { dir, NULL };
	GError *error = NULL;
	profile_set *mine = profile_set_load(dirs, &error);
	cr_assert_not_null(mine, "%s", error ? error->message : "");
	profile_set_free(profiles);
	profiles = mine;
	g_autofree char *path = write_bytes("d.csv", "单号,日期,金额,客户\nSF1,20180618,5,C1\n", -1);
	g_autoptr(result) res = read_file(path);
	g_remove(profile_path);
	g_rmdir(dir);
	assert_read(res, 1);
	cr_assert_str_eq(res->profile, "daily");
	assert_ok(line_at(res, 0));
	cr_assert_eq(line_at(res, 0)->line.pickup, at("2018-06-18 00:00:00"));
	cr_assert_str_eq(line_at(res, 0)->field[PROFILE_COURIER], "SF");
}

/* ---- streaming ---- */

Test(manifest, lines_across_many_chunks_are_read_whole)
{
	/* Enough lines that records cross chunk ends, each checked against what was written. */
	g_autoptr(GString) text = g_string_new(CANONICAL_HEADER);
	const guint n = 5000;
	for (guint i = 0; i < n; i++)
		g_string_append_printf(text,
				       "ZTO,%u,TB%u,2018-06-03 10:00:00,ZT1,,1.5,%u.%02u,水果,\"广东, 深圳\"\n",
				       753000000 + i, i, i, i % 100);
	cr_assert_gt(text->len, 4 * MANIFEST_CHUNK_BYTES);
	g_autofree char *path = write_bytes("big.csv", text->str, (gssize)text->len);
	g_autoptr(result) res = read_file(path);
	assert_read(res, n);
	for (guint i = 0; i < n; i++) {
		const kept_line *k = line_at(res, i);
		assert_ok(k);
		g_autofree char *waybill = g_strdup_printf("%u", 753000000 + i);
		cr_assert_str_eq(k->field[PROFILE_WAYBILL_NO], waybill);
		cr_assert_eq(k->line.fee_fen, (int64_t)i * 100 + i % 100);
		cr_assert_eq(k->line.line_no, i + 2);
		cr_assert(memcmp(text->str + k->line.byte_offset, "ZTO,", 4) == 0);
		cr_assert_str_eq(k->field[PROFILE_DESTINATION], "广东, 深圳");
	}
	cr_assert_eq(res->raw->len, text->len);
}

/* ==== no line lost or merged (issue 12): quotes, line ends, over-long lines ==== */

#define LINE_HEAD(w) "EMS," w ",,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,"

/* Every line's byte range in text is its own physical lines, and together with the rows that get
 * no outcome they are the file after its header: no byte is in two lines, none is in no line. */
static void assert_ranges(const result *res, const char *text, gsize len, guint header_lines)
{
	uint64_t next_line = header_lines + 1;
	for (guint i = 0; i < res->lines->len; i++) {
		const manifest_line *l = &line_at(res, i)->line;
		cr_assert_geq(l->line_no, next_line, "line %u starts at %" G_GUINT64_FORMAT, i, l->line_no);
		cr_assert_geq(l->line_count, 1);
		cr_assert_leq(l->byte_offset + l->byte_len, len);
		char last = text[l->byte_offset + l->byte_len - 1];
		cr_assert(l->byte_offset + l->byte_len == len || last == '\n' || last == '\r',
			  "line %" G_GUINT64_FORMAT " does not end at a line end", l->line_no);
		next_line = l->line_no + l->line_count;
	}
}

Test(manifest, text_after_a_closing_quote_rejects_that_line_alone)
{
	/* The file: X1's destination must not swallow X2 and X3. */
	const char *body = LINE_HEAD("X1") "\"广东省,深圳\"市\n" LINE_HEAD("X2") "海南\n"
			   LINE_HEAD("X3") "\"江苏\"\"南京\"\"\"\n" LINE_HEAD("X4") "海南\n";
	g_autoptr(result) res = read_canonical(body);
	assert_read(res, 4);
	assert_rejected(line_at(res, 0), "quote closing field 10 is followed by '市', not a comma or the line's end");
	cr_assert_str_eq(line_at(res, 0)->field[PROFILE_WAYBILL_NO], "X1");
	const char *waybills[] = { "X1", "X2", "X3", "X4" };
	for (guint i = 0; i < 4; i++) {
		cr_assert_eq(line_at(res, i)->line.line_no, i + 2);
		cr_assert_eq(line_at(res, i)->line.line_count, 1);
		cr_assert_str_eq(line_at(res, i)->field[PROFILE_WAYBILL_NO], waybills[i]);
		if (i > 0)
			assert_ok(line_at(res, i));
	}
	cr_assert_str_eq(line_at(res, 2)->field[PROFILE_DESTINATION], "江苏\"南京\"");
	g_autofree char *text = g_strconcat(CANONICAL_HEADER, body, NULL);
	assert_ranges(res, text, strlen(text), 1);
	cr_assert_eq(line_at(res, 1)->line.byte_offset,
		     strlen(CANONICAL_HEADER) + strlen(LINE_HEAD("X1") "\"广东省,深圳\"市\n"));
}

Test(manifest, text_after_a_closing_quote_without_a_later_quote_rejects_that_line_alone)
{
	g_autoptr(result) res = read_canonical(LINE_HEAD("X1") "\"广东省,深圳\"市\n" LINE_HEAD("X2") "海南\n");
	assert_read(res, 2);
	assert_rejected(line_at(res, 0), "is followed by '市'");
	assert_ok(line_at(res, 1));
	cr_assert_eq(line_at(res, 1)->line.line_no, 3);
}

Test(manifest, quote_edge_cases_inside_one_line)
{
	g_autoptr(result) res = read_canonical(
		LINE_HEAD("Q1") "ab\"c\n"          /* a quote inside an unquoted field is text */
		LINE_HEAD("Q2") "\"\"\n"           /* empty quoted */
		LINE_HEAD("Q3") "\"\"\"\"\n"       /* one escaped quote */
		LINE_HEAD("Q4") "\"\"x\n"          /* empty quoted, then text: a defect */
		LINE_HEAD("Q5") "\"gd\"  \n"       /* spaces after the closing quote are fine */
		LINE_HEAD("Q6") "\"gd\" x\n"       /* but not text after them */
		LINE_HEAD("Q7") "=\"75\"\n"        /* Excel's keep-as-text, a quote inside a field */
		"EMS,\"Q8\"X,,2018-06-03 09:15:00,ZT1,,1.5,12.00,水果,gd\n");
	assert_read(res, 8);
	assert_ok(line_at(res, 0));
	cr_assert_str_eq(line_at(res, 0)->field[PROFILE_DESTINATION], "ab\"c");
	assert_ok(line_at(res, 1));
	cr_assert_null(line_at(res, 1)->field[PROFILE_DESTINATION]);
	assert_ok(line_at(res, 2));
	cr_assert_str_eq(line_at(res, 2)->field[PROFILE_DESTINATION], "\"");
	assert_rejected(line_at(res, 3), "quote closing field 10 is followed by 'x'");
	assert_ok(line_at(res, 4));
	cr_assert_str_eq(line_at(res, 4)->field[PROFILE_DESTINATION], "gd");
	assert_rejected(line_at(res, 5), "quote closing field 10 is followed by 'x'");
	assert_ok(line_at(res, 6));
	assert_rejected(line_at(res, 7), "quote closing field 2 is followed by 'X'");
	for (guint i = 0; i < 8; i++)
		cr_assert_eq(line_at(res, i)->line.line_no, i + 2);
}

Test(manifest, quoted_field_over_lines_followed_by_text_rejects_its_first_line_and_reads_the_next)
{
	const char *body = LINE_HEAD("M1") "\"广东省\n深圳\"市\n" LINE_HEAD("M2") "gd\n";
	g_autoptr(result) res = read_canonical(body);
	assert_read(res, 3);
	assert_rejected(line_at(res, 0), "quote opened in field 10 does not close on its line");
	assert_rejected(line_at(res, 0), "line 3");
	cr_assert_eq(line_at(res, 0)->line.line_no, 2);
	cr_assert_eq(line_at(res, 0)->line.line_count, 1);
	cr_assert_eq(line_at(res, 0)->line.byte_len, strlen(LINE_HEAD("M1") "\"广东省\n"));
	cr_assert_eq(line_at(res, 1)->line.line_no, 3);
	assert_rejected(line_at(res, 1), "has 1 fields");
	cr_assert_eq(line_at(res, 2)->line.line_no, 4);
	assert_ok(line_at(res, 2));
	g_autofree char *text = g_strconcat(CANONICAL_HEADER, body, NULL);
	assert_ranges(res, text, strlen(text), 1);
}

Test(manifest, quote_left_open_and_closed_by_a_later_lines_quote_merges_nothing)
{
	/* M1's quote is never closed; M3's opening quote would close it, followed by 江. M2 and M3 are
	 * their own lines, not text of M1's destination. */
	const char *body = LINE_HEAD("M1") "\"广东\n" LINE_HEAD("M2") "海南\n" LINE_HEAD("M3") "\"江苏\"\n"
			   LINE_HEAD("M4") "海南\n";
	g_autoptr(result) res = read_canonical(body);
	assert_read(res, 4);
	assert_rejected(line_at(res, 0), "quote opened in field 10 does not close on its line");
	cr_assert_null(strstr(line_at(res, 0)->field[PROFILE_DESTINATION], "M2"));
	for (guint i = 0; i < 4; i++) {
		cr_assert_eq(line_at(res, i)->line.line_no, i + 2);
		cr_assert_eq(line_at(res, i)->line.line_count, 1);
	}
	assert_ok(line_at(res, 1));
	cr_assert_str_eq(line_at(res, 1)->field[PROFILE_WAYBILL_NO], "M2");
	/* M3 was part of the span whose quotes did not pair up: read alone, its quotes pair up */
	assert_ok(line_at(res, 2));
	cr_assert_str_eq(line_at(res, 2)->field[PROFILE_DESTINATION], "江苏");
	assert_ok(line_at(res, 3));
}

Test(manifest, quote_spanning_lines_that_makes_the_wrong_number_of_fields_merges_nothing)
{
	const char *body = LINE_HEAD("M1") "\"广东\n深圳\",x\n" LINE_HEAD("M3") "海南\n";
	g_autoptr(result) res = read_canonical(body);
	assert_read(res, 3);
	assert_rejected(line_at(res, 0), "read on to line 3, it makes 11 fields, the header has 10");
	assert_rejected(line_at(res, 1), "has 2 fields");
	assert_ok(line_at(res, 2));
	cr_assert_eq(line_at(res, 2)->line.line_no, 4);
}

Test(manifest, quote_spanning_a_line_that_could_be_a_line_of_its_own_merges_nothing)
{
	/* Closing M1's quote at the end of M2's line makes one record of 10 fields, M2's text in M1's
	 * destination: M2's line has the commas of a line of its own, so the span is not unambiguous. */
	const char *body = LINE_HEAD("M1") "\"广东\n" LINE_HEAD("M2") "海南\"\n" LINE_HEAD("M3") "海南\n";
	g_autoptr(result) res = read_canonical(body);
	assert_read(res, 3);
	assert_rejected(line_at(res, 0), "it would take line 3, which has the fields of a line of its own");
	cr_assert_eq(line_at(res, 1)->line.line_no, 3);
	assert_ok(line_at(res, 1));
	cr_assert_str_eq(line_at(res, 1)->field[PROFILE_DESTINATION], "海南\"");
	assert_ok(line_at(res, 2));
}

Test(manifest, quote_at_the_very_end_of_the_file_is_refused)
{
	g_autoptr(result) res = read_canonical(LINE_HEAD("E1") "gd\n" LINE_HEAD("E2") "\"");
	assert_refused(res, "quote opened at line 3 of 'c.csv' is still open at its end");
}

/* The file text with every LF replaced by eol; caller frees. */
static char *with_line_ends(const char *lf_text, gsize len, const char *eol, gsize *out_len)
{
	GString *out = g_string_sized_new(len * 2);
	for (gsize i = 0; i < len; i++) {
		if (lf_text[i] == '\n')
			g_string_append(out, eol);
		else
			g_string_append_c(out, lf_text[i]);
	}
	*out_len = out->len;
	return g_string_free(out, FALSE);
}

/* The file with its CRLF made LF; caller frees. */
static char *lf_only(const char *bytes, gsize len, gsize *out_len)
{
	GString *out = g_string_sized_new(len);
	for (gsize i = 0; i < len; i++)
		if (!(bytes[i] == '\r' && i + 1 < len && bytes[i + 1] == '\n'))
			g_string_append_c(out, bytes[i]);
	*out_len = out->len;
	return g_string_free(out, FALSE);
}

Test(manifest, every_profile_reads_the_same_lines_with_lf_crlf_and_cr_line_ends)
{
	const char *samples[] = { "fixtures/manifests/canonical/canonical.csv", "fixtures/manifests/ems/ems.csv",
				  "fixtures/manifests/cainiao/cainiao.csv", "fixtures/manifests/zto/zto.csv" };
	const char *profile[] = { "canonical", "ems", "cainiao", "zto" };
	const char *eols[] = { "\n", "\r\n", "\r" };
	for (size_t s = 0; s < G_N_ELEMENTS(samples); s++) {
		g_autofree char *bytes = NULL;
		gsize len = 0, lf_len = 0;
		cr_assert(g_file_get_contents(samples[s], &bytes, &len, NULL));
		g_autofree char *lf = lf_only(bytes, len, &lf_len);
		g_autoptr(result) want = NULL;
		for (size_t e = 0; e < G_N_ELEMENTS(eols); e++) {
			gsize n = 0;
			g_autofree char *text = with_line_ends(lf, lf_len, eols[e], &n);
			g_autofree char *path = write_bytes("eol.csv", text, (gssize)n);
			g_autoptr(result) got = read_file(path);
			cr_assert(got->opened && !got->error, "%s with %zu-byte line ends: %s", samples[s],
				  strlen(eols[e]), got->error ? got->error->message : "");
			cr_assert_str_eq(got->profile, profile[s]);
			cr_assert_gt(got->lines->len, 1);
			assert_ranges(got, text, n, 1);
			if (!want) {
				want = g_steal_pointer(&got);
				continue;
			}
			cr_assert_eq(got->lines->len, want->lines->len, "%s, line end %zu: %u lines, LF gives %u",
				     samples[s], e, got->lines->len, want->lines->len);
			for (guint i = 0; i < got->lines->len; i++) {
				const kept_line *a = line_at(want, i), *b = line_at(got, i);
				cr_assert_eq(a->line.line_no, b->line.line_no);
				cr_assert_eq(a->line.line_count, b->line.line_count);
				cr_assert_eq(a->line.rejected, b->line.rejected, "%s:%" G_GUINT64_FORMAT, samples[s],
					     a->line.line_no);
				cr_assert_eq(b->line.byte_len, a->line.byte_len + (strlen(eols[e]) - 1) * a->line.line_count);
				for (int f = 0; f < PROFILE_FIELD_COUNT; f++)
					cr_assert_str_eq(a->field[f] ? a->field[f] : "(null)",
							 b->field[f] ? b->field[f] : "(null)");
			}
		}
	}
}

Test(manifest, cr_only_ems_file_reads_every_line)
{
	g_autofree char *utf8 = g_strconcat(
		"邮件号,收寄日期,收寄时间,寄件人客户代码,寄件人电话,重量(千克),邮费(元),保价费(元),订单号,内件品名,寄达省份\r",
		"1100000000222,2018/6/3,9:05:33,EM0002,,1.2,10.00,0,JD1,茶叶,上海\r",
		"1100000000223,2018/6/3,9:05:33,EM0002,,1.2,10.00,0,JD2,茶叶,\"广东省,深圳\"市\r",
		"1100000000224,2018/6/3,9:05:33,EM0002,,1.2,10.00,0,JD3,茶叶,\"广东省\r深圳市\"\r", NULL);
	g_autofree char *path = write_gb18030("ems.csv", utf8);
	g_autoptr(result) res = read_file(path);
	assert_read(res, 3);
	cr_assert_str_eq(res->profile, "ems");
	assert_ok(line_at(res, 0));
	cr_assert_eq(line_at(res, 0)->line.line_no, 2);
	assert_rejected(line_at(res, 1), "followed by '市'");
	cr_assert_eq(line_at(res, 1)->line.line_no, 3);
	assert_ok(line_at(res, 2));
	cr_assert_eq(line_at(res, 2)->line.line_no, 4);
	cr_assert_eq(line_at(res, 2)->line.line_count, 2);
	cr_assert_str_eq(line_at(res, 2)->field[PROFILE_DESTINATION], "广东省\n深圳市");
}

Test(manifest, header_ending_in_cr_keeps_the_first_data_line)
{
	g_autofree char *header = g_strndup(CANONICAL_HEADER, strlen(CANONICAL_HEADER) - 1);
	g_autofree char *text = g_strconcat(header, "\r", LINE_HEAD("H1") "gd\n", LINE_HEAD("H2") "gd\n", NULL);
	g_autofree char *path = write_bytes("cr.csv", text, -1);
	g_autoptr(result) res = read_file(path);
	assert_read(res, 2);
	cr_assert_str_eq(line_at(res, 0)->field[PROFILE_WAYBILL_NO], "H1");
	cr_assert_eq(line_at(res, 0)->line.line_no, 2);
	cr_assert_eq(line_at(res, 0)->line.byte_offset, strlen(CANONICAL_HEADER));
	cr_assert_eq(line_at(res, 1)->line.line_no, 3);
}

Test(manifest, mixed_line_ends_and_a_cr_inside_quotes)
{
	const char *body = LINE_HEAD("R1") "gd\r\n" LINE_HEAD("R2") "gd\r" LINE_HEAD("R3") "\"a\rb\"\n"
			   "\r\r\n" LINE_HEAD("R4") "gd";
	g_autofree char *text = g_strconcat(CANONICAL_HEADER, body, NULL);
	g_autofree char *path = write_bytes("mixed.csv", text, -1);
	g_autoptr(result) res = read_file(path);
	assert_read(res, 4);
	const guint line_no[] = { 2, 3, 4, 8 };
	for (guint i = 0; i < 4; i++) {
		assert_ok(line_at(res, i));
		cr_assert_eq(line_at(res, i)->line.line_no, line_no[i], "line %u is at %" G_GUINT64_FORMAT, i,
			     line_at(res, i)->line.line_no);
	}
	cr_assert_str_eq(line_at(res, 2)->field[PROFILE_DESTINATION], "a\nb");
	cr_assert_eq(line_at(res, 2)->line.line_count, 2);
	assert_ranges(res, text, strlen(text), 1);
}

Test(manifest, gb18030_bytes_around_quotes)
{
	/* 深 in GB18030 is C9 EE; 0x22 is never a trail byte: the quote next to it is a quote. A lead byte
	 * cut short by a quote rejects its line for the byte, and the quote still closes the field. */
	g_autofree char *utf8 = g_strconcat(
		"邮件号,收寄日期,收寄时间,寄件人客户代码,寄件人电话,重量(千克),邮费(元),保价费(元),订单号,内件品名,寄达省份\r\n",
		"1100000000222,2018/6/3,9:05:33,EM0002,,1.2,10.00,0,JD1,茶叶,\"深\"\"圳\"\"\"\r\n", NULL);
	gsize len = 0;
	g_autofree char *gb = g_convert(utf8, -1, "GB18030", "UTF-8", NULL, &len, NULL);
	g_autoptr(GString) text = g_string_new_len(gb, (gssize)len);
	g_string_append(text, "1100000000223,2018/6/3,9:05:33,EM0002,,1.2,10.00,0,JD2,x,\"\x81\",y\r\n");
	g_string_append(text, "1100000000224,2018/6/3,9:05:33,EM0002,,1.2,10.00,0,JD3,x,y\r\n");
	g_autofree char *path = write_bytes("ems.csv", text->str, (gssize)text->len);
	g_autoptr(result) res = read_file(path);
	assert_read(res, 3);
	assert_ok(line_at(res, 0));
	cr_assert_str_eq(line_at(res, 0)->field[PROFILE_DESTINATION], "深\"圳\"");
	assert_rejected(line_at(res, 1), "byte 0x81");
	cr_assert_eq(line_at(res, 1)->line.line_no, 3);
	assert_ok(line_at(res, 2));
	cr_assert_eq(line_at(res, 2)->line.line_no, 4);
}

Test(manifest, nul_next_to_quotes_rejects_its_line_alone)
{
	static const char body[] = LINE_HEAD("N1") "\"g\0d\"\n" LINE_HEAD("N2") "\"gd\"\0\n" LINE_HEAD("N3") "gd\n";
	g_autoptr(GString) text = g_string_new(CANONICAL_HEADER);
	g_string_append_len(text, body, sizeof body - 1);
	g_autofree char *path = write_bytes("nul.csv", text->str, (gssize)text->len);
	g_autoptr(result) res = read_file(path);
	assert_read(res, 3);
	assert_rejected(line_at(res, 0), "NUL byte at offset");
	assert_rejected(line_at(res, 1), ""); /* U+FFFD after the closing quote, or the NUL: either way rejected */
	assert_ok(line_at(res, 2));
	cr_assert_eq(line_at(res, 2)->line.line_no, 4);
}

Test(manifest, unquoted_line_over_the_limit_rejects_that_line_alone)
{
	g_autoptr(GString) text = g_string_new(CANONICAL_HEADER LINE_HEAD("L1") "gd\n" LINE_HEAD("L2"));
	gsize long_at = text->len - strlen(LINE_HEAD("L2"));
	while (text->len - long_at <= MANIFEST_RECORD_BYTES_MAX + 100)
		g_string_append(text, "广东广东广东广东");
	g_string_append(text, "\n" LINE_HEAD("L3") "gd\n");
	g_autofree char *path = write_bytes("long.csv", text->str, (gssize)text->len);
	g_autoptr(result) res = read_file(path);
	assert_read(res, 3);
	assert_ok(line_at(res, 0));
	const kept_line *k = line_at(res, 1);
	assert_rejected(k, "line is ");
	assert_rejected(k, "more than the limit of 4194304 bytes");
	cr_assert_eq(k->line.line_no, 3);
	cr_assert_eq(k->line.byte_offset, long_at);
	cr_assert_eq(k->line.byte_len, text->len - long_at - strlen(LINE_HEAD("L3") "gd\n"));
	assert_ok(line_at(res, 2));
	cr_assert_eq(line_at(res, 2)->line.line_no, 4);
	assert_ranges(res, text->str, text->len, 1);
}

Test(manifest, unquoted_line_over_the_limit_at_the_end_without_a_line_end)
{
	g_autoptr(GString) text = g_string_new(CANONICAL_HEADER LINE_HEAD("L1") "gd\r");
	gsize long_at = text->len;
	while (text->len - long_at <= MANIFEST_RECORD_BYTES_MAX)
		g_string_append(text, "a\"b,");
	g_autofree char *path = write_bytes("long.csv", text->str, (gssize)text->len);
	g_autoptr(result) res = read_file(path);
	assert_read(res, 2);
	assert_rejected(line_at(res, 1), "more than the limit of 4194304 bytes");
	cr_assert_eq(line_at(res, 1)->line.byte_len, text->len - long_at);
}

Test(manifest, tally_of_the_lines_taken_must_cover_the_file)
{
	const char *body = LINE_HEAD("T1") "gd\n\n" LINE_HEAD("T2") "\"广东\n深圳\"\n,,,,,,,,,\n" LINE_HEAD("T3") "gd";
	g_autofree char *text = g_strconcat(CANONICAL_HEADER, body, NULL);
	g_autofree char *path = write_bytes("t.csv", text, -1);
	for (int skip = -1; skip < 3; skip++) {
		GError *error = NULL;
		manifest_reader *r = manifest_open(path, profiles, NULL, NULL, NULL, NULL, &error);
		cr_assert_not_null(r);
		manifest_tally tally = { 0 };
		manifest_line line;
		int i = 0;
		while (manifest_next(r, &line, &error))
			if (i++ != skip)
				manifest_tally_add(&tally, &line);
		cr_assert_null(error);
		gboolean ok = manifest_tally_check(&tally, r, &error);
		if (skip < 0) {
			cr_assert(ok, "%s", error ? error->message : "");
		} else {
			cr_assert_not(ok, "line %d left out and the tally did not see it", skip);
			cr_assert_eq(error->code, STATUS_SOFTWARE);
			g_clear_error(&error);
		}
		manifest_close(r);
	}
}

/* A field joined from several columns (ems' pickup_time: date and time) whose joining space grows
 * the record's text: the second column's value was read from the text's old, freed buffer
 * (fuzz/regressions/manifest/ems-join-realloc; ASan reports the use after free, and without it
 * the time can come out garbled). One file per length of the order number, so that in one of them
 * the first line fills the text exactly to where the space needs more room. */
Test(manifest, joined_field_is_whole_whatever_the_record_length)
{
	for (int n = 1; n <= 300; n++) {
		g_autofree char *order = g_strnfill((gsize)n, '7');
		g_autofree char *text = g_strdup_printf(
			"邮件号,收寄日期,收寄时间,寄件人客户代码,寄件人电话,重量(千克),邮费(元),保价费(元),订单号,"
			"内件品名,寄达省份\r\n1100000000222,2018/6/3,9:05:33,EM0002,,1.2,15.00,2.00,%s,tea,SH\r\n",
			order);
		g_autofree char *path = write_gb18030("ems.csv", text);
		g_autoptr(result) res = read_file(path);
		cr_assert_null(res->error, "%s", res->error ? res->error->message : "");
		assert_read(res, 1);
		assert_ok(line_at(res, 0));
		cr_assert_str_eq(line_at(res, 0)->field[PROFILE_PICKUP_TIME], "2018/6/3 9:05:33", "order number of %d",
				 n);
	}
}

/* ---- what a profile can say (FORMATS.md): a YTO customer statement, as an office gets it ---- */

/* A GB18030 statement per customer account: a title and a date range above the header, a date
 * only (or Excel's serial day), the fee over two columns, a weight with its unit, a totals row
 * labelled in either of two columns, then who made it. No sender column: --set sender_code. */
static const char yto_profile[] =
	"[profile]\n"
	"name=yto\n"
	"encoding=GB18030\n"
	"header=运单号,揽收日期,运费,附加费,重量,目的地,订单号\n"
	"rows_above_header=true\n"
	"pickup_format=%Y-%m-%d,excel\n"
	"totals_row=合计,总计,合计：\n"
	"totals_label_column=运单号,揽收日期\n"
	"rows_after_totals=keep\n"
	"[fields]\n"
	"waybill_no=运单号\npickup_time=揽收日期\nfee=运费+附加费\nweight_kg=重量\ndestination=目的地\n"
	"order_no=订单号\n"
	"[fixed]\n"
	"courier=YTO\n";
static const char *const yto_set[] = { "sender_code=LFYT0001", NULL };
#define YTO_HEADER "运单号,揽收日期,运费,附加费,重量,目的地,订单号\r\n"

/* Reads utf8 (written in encoding) as name with the built-in profiles and profile_text. */
static result *read_own(const char *profile_text, const char *encoding, const char *utf8, const char *profile_name,
			const char *const *overrides)
{
	g_autofree char *dir = g_build_filename(tmp_dir, "profiles", NULL);
	cr_assert_eq(g_mkdir(dir, 0700), 0);
	g_auto(GStrv) name_line = g_regex_split_simple("name=([a-z]+)", profile_text, 0, 0);
	g_autofree char *file = g_strconcat(name_line[1], ".profile", NULL);
	g_autofree char *profile_path = g_build_filename(dir, file, NULL);
	cr_assert(g_file_set_contents(profile_path, profile_text, -1, NULL));
	GError *error = NULL;
	const char *dirs[] = { dir, NULL };
	profile_set *own = profile_set_load(dirs, &error);
	cr_assert_not_null(own, "%s", error ? error->message : "");
	g_autofree char *path = NULL;
	if (strcmp(encoding, "UTF-8") == 0) {
		path = write_bytes("statement.csv", utf8, -1);
	} else {
		gsize len = 0;
		g_autofree char *bytes = g_convert(utf8, -1, encoding, "UTF-8", NULL, &len, NULL);
		cr_assert_not_null(bytes);
		path = write_bytes("statement.csv", bytes, (gssize)len);
	}
	profile_set *builtin = profiles;
	profiles = own;
	result *res = read_with(path, profile_name, overrides);
	profiles = builtin;
	profile_set_free(own);
	g_remove(profile_path);
	g_rmdir(dir);
	return res;
}

/* text with from replaced by to; caller frees. */
static char *replaced_text(const char *text, const char *from, const char *to)
{
	cr_assert(strstr(text, from), "'%s' not in the text", from);
	g_auto(GStrv) parts = g_strsplit(text, from, -1);
	return g_strjoinv(to, parts);
}

static result *read_yto(const char *utf8)
{
	return read_own(yto_profile, "GB18030", utf8, NULL, yto_set);
}

Test(manifest, profile_title_rows_above_the_header_get_no_outcome)
{
	g_autoptr(result) res = read_yto("圆通速递客户对账单\r\n"
					 "账期：2022-01-01 至 2022-01-31,,,,,,\r\n"
					 "\r\n" YTO_HEADER
					 "YT1001,2022-01-03,2.40,1.00,0.86kg,河北,\r\n");
	assert_read(res, 1);
	cr_assert_str_eq(res->profile, "yto");
	const kept_line *k = line_at(res, 0);
	assert_ok(k);
	cr_assert_eq(k->line.line_no, 5);
	/* every byte still handed on: the title rows are kept with the file */
	g_autofree char *file_path = g_build_filename(tmp_dir, "statement.csv", NULL);
	g_autofree char *bytes = NULL;
	gsize len = 0;
	cr_assert(g_file_get_contents(file_path, &bytes, &len, NULL));
	cr_assert_eq(res->raw->len, len);
	cr_assert_eq(memcmp(res->raw->data, bytes, len), 0);
}

Test(manifest, profile_without_rows_above_header_still_refuses_a_title_row)
{
	g_autofree char *path = write_bytes("t.csv", "a title\n" CANONICAL_HEADER, -1);
	g_autoptr(result) titled = read_file(path);
	assert_refused(titled, "matches no profile");
}

Test(manifest, profile_no_header_within_the_first_rows_is_refused_saying_so)
{
	GString *text = g_string_new(NULL);
	for (int i = 0; i < PROFILE_HEADER_ROWS_MAX; i++)
		g_string_append_printf(text, "title %d\r\n", i);
	g_string_append(text, YTO_HEADER "YT1001,2022-01-03,2.40,1.00,1,河北,\r\n");
	g_autoptr(result) res = read_yto(text->str);
	g_string_free(text, TRUE);
	assert_refused(res, "\nDETAIL: ");
	assert_refused(res, "; no row of the first 20 matches either");
}

Test(manifest, profile_fee_is_the_sum_of_its_columns_blank_as_zero)
{
	g_autoptr(result) res = read_yto(YTO_HEADER "YT1001,2022-01-03,2.40,1.00,1,河北,\r\n"
						    "YT1002,2022-01-03,2.40,,1,河北,\r\n"
						    "YT1003,2022-01-03,,,1,河北,\r\n"
						    "YT1004,2022-01-03,2.40,abc,1,河北,\r\n");
	assert_read(res, 4);
	assert_ok(line_at(res, 0));
	cr_assert_eq(line_at(res, 0)->line.fee_fen, 340);
	cr_assert_str_eq(line_at(res, 0)->field[PROFILE_FEE], "3.40");
	assert_ok(line_at(res, 1));
	cr_assert_eq(line_at(res, 1)->line.fee_fen, 240);
	assert_rejected(line_at(res, 2), "missing fee");
	assert_rejected(line_at(res, 3), "fee: column '附加费'");
}

Test(manifest, profile_dates_as_text_or_excel_serials_and_date_only)
{
	g_autoptr(result) res = read_yto(YTO_HEADER "YT1001,2022-01-03,2.40,,1,河北,\r\n"
						    "YT1002,44562,2.40,,1,河北,\r\n"
						    "YT1003,44562.5,2.40,,1,河北,\r\n"
						    "YT1004,2022/01/03,2.40,,1,河北,\r\n");
	assert_read(res, 4);
	assert_ok(line_at(res, 0));
	cr_assert_eq(line_at(res, 0)->line.pickup, at("2022-01-03 00:00:00"));
	cr_assert(line_at(res, 0)->line.pickup_date_only);
	assert_ok(line_at(res, 1));
	cr_assert_eq(line_at(res, 1)->line.pickup, at("2022-01-01 00:00:00"));
	cr_assert(line_at(res, 1)->line.pickup_date_only);
	assert_ok(line_at(res, 2));
	cr_assert_eq(line_at(res, 2)->line.pickup, at("2022-01-01 12:00:00"));
	cr_assert_not(line_at(res, 2)->line.pickup_date_only);
	assert_rejected(line_at(res, 3), "formats tried: '%Y-%m-%d', 'excel'");
}

Test(manifest, profile_totals_row_by_any_label_in_any_named_column_then_rows_after_it)
{
	const char *totals[] = { "合计,,4.80,,,,\r\n", ",总计,4.80,,,,\r\n", "合计：,,4.80,,,,\r\n" };
	for (size_t i = 0; i < G_N_ELEMENTS(totals); i++) {
		g_autofree char *text = g_strconcat(YTO_HEADER "YT1001,2022-01-03,2.40,,0.86kg,河北,\r\n"
							       "YT1002,2022-01-03,2.40,,1,河北,\r\n",
						    totals[i], "\r\n制表人：张三,,,,,,\r\n", NULL);
		g_autoptr(result) res = read_yto(text);
		assert_read(res, 2);
		assert_ok(line_at(res, 0));
		cr_assert_str_eq(line_at(res, 0)->field[PROFILE_WEIGHT_KG], "0.86kg");
		cr_assert_str_eq(line_at(res, 0)->field[PROFILE_SENDER_CODE], "LFYT0001");
		cr_assert_not(res->has_totals, "no totals_column: nothing to check");
	}
}

Test(manifest, profile_required_totals_row_missing_refuses_the_file)
{
	g_autofree char *own = replaced_text(yto_profile, "rows_after_totals=keep\n", "totals_required=true\n");
	g_autoptr(result) res = read_own(own, "GB18030", YTO_HEADER "YT1001,2022-01-03,2.40,,1,河北,\r\n", NULL,
					 yto_set);
	assert_refused(res, "no totals row ('合计' or '总计' or '合计：' in column '运单号' or '揽收日期')");
}

Test(manifest, profile_header_in_another_encoding_says_so)
{
	/* a UTF-8 file given to the GB18030 profile, chosen or detected */
	const char *text = YTO_HEADER "YT1001,2022-01-03,2.40,,1,河北,\r\n";
	g_autoptr(result) chosen = read_own(yto_profile, "UTF-8", text, "yto", yto_set);
	assert_refused(chosen, "\nHINT: read as UTF-8 it would match profile 'yto', whose encoding is GB18030");
	g_autoptr(result) detected = read_own(yto_profile, "UTF-8", text, NULL, yto_set);
	assert_refused(detected, "read as UTF-8 it would match profile 'yto', whose encoding is GB18030");
}

/* A file that is no CSV text (a workbook, "Unicode Text", a compressed or printed statement) is
 * refused as every file whose header matches no profile is, with a hint saying what it is and
 * what to save instead; a text file that matches nothing gets no such hint. */
Test(manifest, a_file_that_is_no_csv_text_is_refused_with_a_hint_saying_what_it_is)
{
	static const struct {
		const char *name;
		const char *bytes;
		gsize len;
		const char *hint;
	} files[] = {
		{ "book.xlsx", "PK\x03\x04\x14\x00\x06\x00", 8, "\nHINT: the file is a ZIP archive, as an Excel workbook" },
		{ "book.xls", "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00", 10, "\nHINT: the file is an Excel 97-2003 workbook" },
		{ "unicode.txt", "\xFF\xFE" "c\0o\0u\0r\0\n\0", 12, "\nHINT: the file is UTF-16 text (Excel's \"Unicode Text\")" },
		{ "be.csv", "\xFE\xFF\0c\0o\0u\0r\0\n", 12, "\nHINT: the file is UTF-16 text" },
		{ "nobom.csv", "c\0o\0u\0r\0\n\0", 10, "\nHINT: the file looks like UTF-16 text" },
		{ "a.csv.gz", "\x1F\x8B\x08\x00\x00\x00\x00\x00", 8, "\nHINT: the file is gzip-compressed" },
		{ "statement.pdf", "%PDF-1.4\n%\xE2\xE3\n", 14, "\nHINT: the file is a PDF document" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree char *path = write_bytes(files[i].name, files[i].bytes, (gssize)files[i].len);
		g_autoptr(result) res = read_file(path);
		assert_refused(res, "matches no profile");
		assert_refused(res, files[i].hint);
		/* PostgreSQL's shape: the hint is the last line, after the detail. */
		cr_assert(strstr(res->error->message, "\nDETAIL: ") < strstr(res->error->message, "\nHINT: "), "%s",
			  res->error->message);
	}
	g_autofree char *text = write_bytes("text.csv", "a,b,c\n1,2,3\n", -1);
	g_autoptr(result) res = read_file(text);
	assert_refused(res, "matches no profile");
	cr_assert_null(strstr(res->error->message, "HINT"), "%s", res->error->message);
}
