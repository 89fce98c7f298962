/* test_ingest.c: `subsidy ingest` end to end, through the binary and the database (FORMATS.md,
 * "Courier manifests"; POLICY.md, "Who is eligible"; CLI.md, `ingest --json` and exit codes).
 *
 * First the samples of fixtures/manifests/<profile>/ (one per profile, in its real bytes): each
 * ingests with exactly the outcomes of its golden file beside it (<name>.expected: `LINE_NO OUTCOME
 * [reason substring]` per data line, written by scripts/make-fixtures), its --json lists every
 * outcome, its files row counts add up, and its bytes are stored as received. Then every class of
 * bad input, each in its own test: the exit status, a message that says what and where, and that a
 * file refused as a whole left nothing behind while the other files of the call were stored.
 *
 * Registry: fixtures/small plus fixtures/manifests/registry (shop S5, sharing S3's phone, for
 * AMBIGUOUS_SHOP). The reader's own unit tests are tests/unit/test_manifest.c. */
#define _GNU_SOURCE /* memmem */
#include "harness.h"

#include <criterion/criterion.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MANIFESTS "fixtures/manifests"
#define CANONICAL_HEADER                                                                                       \
	"courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"
#define ZTO_HEADER "运单编号,揽件时间,发件客户编号,发件人电话,结算重量,结算金额,订单号,物品类型,目的地\n"
#define EMS_HEADER                                                                                             \
	"邮件号,收寄日期,收寄时间,寄件人客户代码,寄件人电话,重量(千克),邮费(元),保价费(元),订单号," \
	"内件品名,寄达省份\n"
/* The rest of a canonical line that is ELIGIBLE after "EMS,<waybill>": no order number, S1, in 618. */
#define GOOD_TAIL ",,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n"

/* POLICY.md's outcome names: part of the contract, every one present in --json. The last six are
 * the files row's `ineligible`. */
static const char *const outcome_names[] = { "ELIGIBLE", "DUPLICATE", "CONFLICT", "REJECTED",
					     "UNREGISTERED_SHOP", "AMBIGUOUS_SHOP", "NOT_REGISTERED_ON_DATE",
					     "OUTSIDE_POLICY_PERIOD", "NOT_IN_CAMPAIGN", "INELIGIBLE_PRODUCT" };
#define OUTCOMES G_N_ELEMENTS(outcome_names)
#define FIRST_INELIGIBLE 4

/* A chunk of lines the engine classifies and stores at a time (INGEST_CHUNK_LINES in src/ingest.c):
 * files longer than this have had lines sent to the database before their end is read. */
#define ENGINE_CHUNK_LINES 10000

static const char *setup(void)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_load_registry(db, MANIFESTS "/registry");
	return db;
}

/* ---- asking the database ---- */

/* text with ' doubled, for a literal in SQL; caller frees. */
static char *q(const char *text)
{
	g_auto(GStrv) parts = g_strsplit(text, "'", -1);
	return g_strjoinv("''", parts);
}

/* The name a file given as path is stored under (quoted for SQL): its absolute path. */
static char *q_stored(const char *path)
{
	g_autofree char *absolute = g_canonicalize_filename(path, NULL);
	return q(absolute);
}

/* What ingest stores, counted: "files lines waybills file_chunks file_digests". */
static char *stored(const char *db)
{
	return h_sql(db, "SELECT format('files %s lines %s waybills %s chunks %s digests %s',"
			 " (SELECT count(*) FROM files), (SELECT count(*) FROM lines), (SELECT count(*) FROM waybills),"
			 " (SELECT count(*) FROM file_chunks), (SELECT count(*) FROM file_digests))");
}

/* Every stored line as "LINE_NO OUTCOME REASON", one per row, in file and line order. */
static char *lines_of(const char *db)
{
	return h_sql(db, "SELECT string_agg(format('%s %s %s', line_no, outcome, reason), E'\\n'"
			 " ORDER BY file_id, line_no) FROM lines");
}

/* The rows a file given as path left: 0 for every table when it was refused. */
static void assert_nothing_stored_for(const char *db, const char *path)
{
	g_autofree char *name = q_stored(path);
	cr_assert_eq(h_sql_intf(db, "SELECT count(*) FROM files WHERE name = '%s'", name), 0, "%s has a files row",
		     path);
	/* Whatever file_id it would have had: every row of these belongs to a stored file. */
	static const char *const tables[] = { "lines", "waybills", "file_chunks", "file_digests" };
	for (size_t t = 0; t < G_N_ELEMENTS(tables); t++)
		cr_assert_eq(h_sql_intf(db, "SELECT count(*) FROM %s WHERE file_id NOT IN (SELECT file_id FROM files)",
				     tables[t]),
			     0, "%s of a file that was not stored", tables[t]);
}

/* ---- --json ---- */

/* The i-th object of "files" in ingest's --json, as text (caller frees). */
static char *json_file(const char *json, int i)
{
	const char *p = strstr(json, "\"files\":[");
	cr_assert_not_null(p, "no \"files\" in %s", json);
	for (int n = 0; n <= i; n++) {
		p = strstr(p + 1, "{\"name\":");
		cr_assert_not_null(p, "no file %d in %s", i, json);
	}
	const char *outcomes = strstr(p, "\"outcomes\":{");
	cr_assert_not_null(outcomes, "file %d has no outcomes in %s", i, json);
	const char *end = strchr(outcomes, '}');
	cr_assert(end && end[1] == '}', "file %d does not end after its outcomes in %s", i, json);
	return g_strndup(p, (gsize)(end + 2 - p));
}

/* The totals: the last "outcomes" object of the document (caller frees). */
static char *json_totals(const char *json)
{
	const char *p = g_strrstr(json, "\"outcomes\":{");
	cr_assert_not_null(p);
	const char *end = strchr(p, '}');
	cr_assert_not_null(end);
	cr_assert_str_eq(end, "}}\n", "the totals are not the document's last key: %s", json);
	return g_strndup(p, (gsize)(end + 1 - p));
}

/* The integer after "key": in text; the test fails when it is not there. */
static int64_t json_int(const char *text, const char *key)
{
	g_autofree char *k = g_strdup_printf("\"%s\":", key);
	const char *p = strstr(text, k);
	cr_assert_not_null(p, "no %s in %s", k, text);
	char *end = NULL;
	int64_t v = g_ascii_strtoll(p + strlen(k), &end, 10);
	cr_assert(end != p + strlen(k), "%s is not an integer in %s", k, text);
	return v;
}

static void assert_has(const char *text, const char *fragment)
{
	cr_assert(text && strstr(text, fragment), "'%s' not in:\n%s", fragment, text);
}

/* Every outcome name is a key of the object (zeros included), with the count given. */
static void assert_outcomes(const char *object, const int64_t want[OUTCOMES])
{
	const char *outcomes = strstr(object, "\"outcomes\":{");
	cr_assert_not_null(outcomes, "no outcomes in %s", object);
	for (size_t o = 0; o < OUTCOMES; o++)
		cr_assert_eq(json_int(outcomes, outcome_names[o]), want[o], "%s: %" G_GINT64_FORMAT ", wanted %"
			     G_GINT64_FORMAT " in %s", outcome_names[o], json_int(outcomes, outcome_names[o]),
			     want[o], outcomes);
}

/* ---- golden files ---- */

typedef struct {
	int line_no;
	char *outcome;
	char *reason; /* a substring of the stored reason, or NULL */
} golden_line;

static void golden_line_free(gpointer p)
{
	golden_line *g = p;
	g_free(g->outcome);
	g_free(g->reason);
	g_free(g);
}

/* The golden outcomes of path (x.csv: x.expected beside it). '#' lines are comments. */
static GPtrArray *golden_read(const char *path)
{
	g_autofree char *stem = g_strndup(path, strlen(path) - strlen(".csv"));
	g_autofree char *golden_path = g_strconcat(stem, ".expected", NULL);
	g_autofree char *text = h_read(golden_path, NULL);
	GPtrArray *golden = g_ptr_array_new_with_free_func(golden_line_free);
	g_auto(GStrv) rows = g_strsplit(text, "\n", -1);
	for (char **r = rows; *r; r++) {
		if (**r == '\0' || **r == '#')
			continue;
		g_auto(GStrv) part = g_strsplit(*r, " ", 3);
		cr_assert(part[0] && part[1], "%s: '%s' is not 'LINE_NO OUTCOME [reason]'", golden_path, *r);
		golden_line *g = g_new0(golden_line, 1);
		g->line_no = atoi(part[0]);
		g->outcome = g_strdup(part[1]);
		g->reason = part[2] ? g_strdup(part[2]) : NULL;
		g_ptr_array_add(golden, g);
	}
	return golden;
}

/* The golden counts per outcome (outcome_names' order). */
static void golden_counts(const GPtrArray *golden, int64_t counts[OUTCOMES])
{
	memset(counts, 0, OUTCOMES * sizeof counts[0]);
	for (guint i = 0; i < golden->len; i++) {
		const golden_line *g = golden->pdata[i];
		size_t o = 0;
		while (o < OUTCOMES && strcmp(outcome_names[o], g->outcome) != 0)
			o++;
		cr_assert(o < OUTCOMES, "golden line %d: '%s' is not an outcome", g->line_no, g->outcome);
		counts[o]++;
	}
}

/* The lines table of the file stored under path agrees with its golden file, line by line. */
static void assert_golden(const char *db, const char *path)
{
	g_autoptr(GPtrArray) golden = golden_read(path);
	g_autofree char *name = q_stored(path);
	/* Rows separated by \x1e, fields by \x1f: neither is in a reason. */
	g_autofree char *got = h_sqlf(db,
					"SELECT string_agg(format('%%s\x1f%%s\x1f%%s', line_no, outcome, reason), E'\\x1e'"
					" ORDER BY line_no) FROM lines JOIN files USING (file_id) WHERE name = '%s'",
					name);
	g_auto(GStrv) rows = got ? g_strsplit(got, "\x1e", -1) : g_new0(char *, 1);
	guint n = g_strv_length(rows);
	for (guint i = 0; i < MIN(n, golden->len); i++) {
		const golden_line *g = golden->pdata[i];
		g_auto(GStrv) f = g_strsplit(rows[i], "\x1f", 3);
		/* Without a reason in the golden file, a line has one exactly when it is not ELIGIBLE. */
		gboolean reason_ok = g->reason ? strstr(f[2], g->reason) != NULL
					       : (*f[2] != '\0') == (strcmp(f[1], "ELIGIBLE") != 0);
		cr_assert(atoi(f[0]) == g->line_no && strcmp(f[1], g->outcome) == 0 && reason_ok,
			  "%s: stored line %s %s '%s', golden says %d %s%s%s", path, f[0], f[1], f[2], g->line_no,
			  g->outcome, g->reason ? " " : "", g->reason ? g->reason : "");
	}
	cr_assert_eq(n, golden->len, "%s: %u lines stored, the golden file has %u", path, n, golden->len);
}

/* ---- the bytes as received ---- */

static char *hex(const char *bytes, gsize len)
{
	GString *s = g_string_sized_new(len * 2);
	for (gsize i = 0; i < len; i++)
		g_string_append_printf(s, "%02x", (guchar)bytes[i]);
	return g_string_free(s, FALSE);
}

/* file_chunks of the file stored under path: seq 0, 1, 2... each starting where the one before
 * ended, and together the file's bytes exactly (compared whole when small, by SHA-256 else). */
static void assert_bytes_stored(const char *db, const char *path)
{
	gsize len = 0;
	g_autofree char *bytes = h_read(path, &len);
	g_autofree char *name = q_stored(path);
	cr_assert_eq(h_sql_intf(db,
			     "SELECT count(*) FROM (SELECT seq, offset_bytes, row_number() OVER w - 1 AS n,"
			     " coalesce(sum(length(bytes)) OVER w - length(bytes), 0) AS at"
			     " FROM file_chunks JOIN files USING (file_id) WHERE name = '%s'"
			     " WINDOW w AS (ORDER BY seq)) c WHERE seq <> n OR offset_bytes <> at",
			     name),
		     0, "%s: its chunks are not consecutive", path);
	g_autofree char *sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)bytes, len);
	g_autofree char *got_sha = h_sqlf(db,
					    "SELECT encode(sha256(string_agg(bytes, ''::bytea ORDER BY seq)), 'hex')"
					    " FROM file_chunks JOIN files USING (file_id) WHERE name = '%s'",
					    name);
	cr_assert_str_eq(got_sha ? got_sha : "(no chunks)", sha, "%s: the stored bytes are not the file's", path);
	g_autofree char *row = h_sqlf(db, "SELECT format('%%s %%s', sha256, size_bytes) FROM files"
					    " WHERE name = '%s'", name);
	g_autofree char *want_row = g_strdup_printf("%s %zu", sha, len);
	cr_assert_str_eq(row, want_row, "%s: files.sha256 and size_bytes", path);
	if (len <= 64 * 1024) {
		g_autofree char *want = hex(bytes, len);
		g_autofree char *got = h_sqlf(db,
						"SELECT encode(string_agg(bytes, ''::bytea ORDER BY seq), 'hex')"
						" FROM file_chunks JOIN files USING (file_id) WHERE name = '%s'",
						name);
		cr_assert_str_eq(got, want, "%s: the stored bytes are not the file's", path);
	}
}

/* Line line_no of the file stored under path is raw[0..len) of the file, at the place where those
 * bytes are in it: substring(bytes from byte_offset + 1 for byte_len) of its reassembled chunks. */
static void assert_raw_line(const char *db, const char *path, int line_no, const char *raw, gsize len)
{
	gsize file_len = 0;
	g_autofree char *bytes = h_read(path, &file_len);
	const char *at = memmem(bytes, file_len, raw, len);
	cr_assert_not_null(at, "%s: the test's raw line %d is not in the file", path, line_no);
	g_autofree char *name = q_stored(path);
	g_autofree char *place = h_sqlf(db,
					  "SELECT format('%%s+%%s', byte_offset, byte_len) FROM lines"
					  " JOIN files USING (file_id) WHERE name = '%s' AND line_no = %d",
					  name, line_no);
	g_autofree char *want_place = g_strdup_printf("%td+%zu", at - bytes, len);
	cr_assert_str_eq(place, want_place, "%s:%d: byte_offset+byte_len", path, line_no);
	g_autofree char *got = h_sqlf(db,
					"SELECT encode(substring(c.bytes from (l.byte_offset + 1)::int for l.byte_len),"
					" 'hex') FROM lines l JOIN files f USING (file_id), LATERAL (SELECT"
					" string_agg(bytes, ''::bytea ORDER BY seq) AS bytes FROM file_chunks k"
					" WHERE k.file_id = f.file_id) c WHERE f.name = '%s' AND l.line_no = %d",
					name, line_no);
	g_autofree char *want = hex(raw, len);
	cr_assert_str_eq(got, want, "%s:%d: the stored bytes of the line", path, line_no);
}

/* UTF-8 text with LF line ends as an EMS statement writes it: GB18030, CRLF; caller frees. */
static char *gb18030_crlf(const char *utf8, gsize *len)
{
	g_auto(GStrv) rows = g_strsplit(utf8, "\n", -1);
	g_autofree char *crlf = g_strjoinv("\r\n", rows);
	GError *error = NULL;
	char *out = g_convert(crlf, -1, "GB18030", "UTF-8", NULL, len, &error);
	cr_assert_not_null(out, "%s", error ? error->message : "");
	return out;
}

/* ---- running ingest ---- */

static h_result ingest(const char *db, const char *const *args)
{
	GPtrArray *argv = g_ptr_array_new();
	g_ptr_array_add(argv, "ingest");
	g_ptr_array_add(argv, "--json");
	for (const char *const *a = args; *a; a++)
		g_ptr_array_add(argv, (gpointer)*a);
	g_ptr_array_add(argv, NULL);
	h_result r = h_runv(db, (const char *const *)argv->pdata);
	g_ptr_array_free(argv, TRUE);
	return r;
}

#define INGEST(db, ...) ingest((db), (const char *const[]){ __VA_ARGS__, NULL })

static void assert_exit(const h_result *r, int want)
{
	cr_assert_eq(r->status, want, "ingest: exit %d, wanted %d\nstdout: %s\nstderr: %s", r->status, want,
		     r->out, r->err);
}

static char *write_tmp(const char *name, const char *bytes, gssize len)
{
	return h_write(h_tmpdir(), name, bytes, len);
}

/* A small file that is stored: the other file of a call with a refused one. Its one line is
 * ELIGIBLE; tag makes its bytes (and waybill) its own. */
static char *good_file(const char *tag)
{
	g_autofree char *base = g_path_get_basename(tag);
	g_autofree char *name = g_strdup_printf("good-%s.csv", base);
	g_autofree char *text = g_strdup_printf(CANONICAL_HEADER "EMS,GOOD%06u" GOOD_TAIL, g_str_hash(tag) % 1000000);
	return write_tmp(name, text, -1);
}

/* Ingests bad (refused as a whole, exit want) and a good file after it in one call: the bad one is
 * refused with a reason holding message (in --json and on stderr), nothing of it is stored, the
 * good one is. */
static void assert_refused(const char *db, const char *bad, int want, const char *message)
{
	g_autofree char *good = good_file(bad);
	h_result r = INGEST(db, bad, good);
	assert_exit(&r, want);
	g_autofree char *f0 = json_file(r.out, 0), *f1 = json_file(r.out, 1);
	assert_has(f0, "\"status\":\"refused\"");
	cr_assert_eq(json_int(f0, "lines"), 0);
	assert_has(f0, message);
	assert_has(r.err, message);
	static const int64_t zeros[OUTCOMES] = { 0 };
	assert_outcomes(f0, zeros);
	assert_has(f1, "\"status\":\"stored\"");
	cr_assert_eq(json_int(f1, "lines"), 1);
	assert_nothing_stored_for(db, bad);
	g_autofree char *counts = stored(db);
	cr_assert_str_eq(counts, "files 1 lines 1 waybills 1 chunks 1 digests 1", "%s", counts);
	g_autofree char *good_name = q_stored(good);
	cr_assert_eq(h_sql_intf(db, "SELECT count(*) FROM lines JOIN files USING (file_id) WHERE name = '%s'"
				 " AND outcome = 'ELIGIBLE'", good_name), 1);
	h_result_clear(&r);
}

/* Ingests the sample path, alone, with exit 0; checks its golden outcomes, its --json (profile, status,
 * lines, every outcome), its files row (counts that add up) and its bytes. The caller checks what is
 * particular to the sample. */
static void assert_sample(const char *db, const char *path, const char *profile, const char *encoding)
{
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	assert_golden(db, path);

	g_autoptr(GPtrArray) golden = golden_read(path);
	int64_t want[OUTCOMES];
	golden_counts(golden, want);
	g_autofree char *file = json_file(r.out, 0), *totals = json_totals(r.out);
	g_autofree char *name = g_strdup_printf("\"name\":\"%s\"", path);
	g_autofree char *prof = g_strdup_printf("\"profile\":\"%s\"", profile);
	gsize len = 0;
	g_autofree char *bytes = h_read(path, &len);
	g_autofree char *sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)bytes, len);
	g_autofree char *sha_key = g_strdup_printf("\"sha256\":\"%s\"", sha);
	assert_has(file, name);
	assert_has(file, sha_key);
	assert_has(file, prof);
	assert_has(file, "\"status\":\"stored\"");
	assert_has(file, "\"reason\":null");
	cr_assert_eq(json_int(file, "lines"), (int64_t)golden->len);
	assert_outcomes(file, want);
	assert_outcomes(totals, want);

	int64_t ineligible = 0;
	for (size_t o = FIRST_INELIGIBLE; o < OUTCOMES; o++)
		ineligible += want[o];
	g_autofree char *pname = q_stored(path);
	g_autofree char *row = h_sqlf(db,
					"SELECT format('%%s %%s %%s lines %%s = %%s + %%s + %%s + %%s + %%s', profile,"
					" encoding, lines = eligible + ineligible + duplicate + conflict + rejected, lines,"
					" eligible, ineligible, duplicate, conflict, rejected) FROM files WHERE name = '%s'",
					pname);
	g_autofree char *want_row = g_strdup_printf("%s %s t lines %u = %" G_GINT64_FORMAT " + %" G_GINT64_FORMAT
						    " + %" G_GINT64_FORMAT " + %" G_GINT64_FORMAT " + %" G_GINT64_FORMAT,
						    profile, encoding, golden->len, want[0], ineligible, want[1], want[2],
						    want[3]);
	cr_assert_str_eq(row, want_row);
	assert_bytes_stored(db, path);
	h_result_clear(&r);
}

/* ==== the samples: every outcome of POLICY.md's "Who is eligible" ==== */

Test(ingest, canonical_sample_gets_its_golden_outcomes_and_is_stored_as_received)
{
	const char *db = setup();
	const char *path = MANIFESTS "/canonical/canonical.csv";
	assert_sample(db, path, "canonical", "UTF-8");
	/* A record with a quoted line end is lines 8-9: its bytes are both physical lines. */
	static const char record[] = "EMS,1100000000066,TB0007,2018-06-18 23:59:59,C1,,1.0,6.00,水果,"
				     "\"广东省\n深圳市\"\n";
	assert_raw_line(db, path, 8, record, strlen(record));
	static const char first[] = "EMS,1100000000011,TB0001,2018-06-03 09:15:00,C1,,1.0,12.00,水果,广东省\n";
	assert_raw_line(db, path, 2, first, strlen(first));
	cr_assert_null(h_sqlf(db, "SELECT totals_fen FROM files"));
}

Test(ingest, ems_sample_in_gb18030_with_crlf_gets_its_golden_outcomes_and_keeps_its_own_bytes)
{
	const char *db = setup();
	const char *path = MANIFESTS "/ems/ems.csv";
	assert_sample(db, path, "ems", "GB18030");
	/* Stored as received: GB18030 (𠮷 is four bytes of it) and CRLF, not the decoded UTF-8. */
	gsize len = 0;
	g_autofree char *line = gb18030_crlf("1100000001028,2018/6/3,9:06:00,C1,,1.0,6,0,JD0002,山兰米,海南省𠮷村\n",
					     &len);
	cr_assert(memmem(line, len, "\x95\x34\xb2\x35", 4), "𠮷 is 95 34 B2 35 in GB18030");
	assert_raw_line(db, path, 3, line, len);
	g_autofree char *dest = h_sql(db, "SELECT destination FROM lines WHERE line_no = 3");
	cr_assert_str_eq(dest, "海南省𠮷村", "the fields are decoded to UTF-8");
	/* The line whose bytes are not GB18030 keeps them. */
	g_autofree char *bad = h_sql(db, "SELECT position('\\xfffe'::bytea IN string_agg(bytes, ''::bytea"
					 " ORDER BY seq)) > 0 FROM file_chunks");
	cr_assert_str_eq(bad, "t");
}

Test(ingest, cainiao_sample_with_bom_and_crlf_gets_its_golden_outcomes_and_courier_codes)
{
	const char *db = setup();
	const char *path = MANIFESTS "/cainiao/cainiao.csv";
	assert_sample(db, path, "cainiao", "UTF-8");
	/* Offsets count from the file's first byte: the BOM counts. */
	static const char header[] = "运单号,快递公司,订单编号,揽收时间,商家编码,发件人手机,计费重量(kg),运费,"
				     "商品类目,目的省份\r\n";
	static const char line[] = "75300000002011,中通,PDD0001,2018-06-05 10:00:00,CN0003,,1.0,9.90元,土特产,江苏\r\n";
	assert_raw_line(db, path, 2, line, strlen(line));
	cr_assert_eq(h_sql_int(db, "SELECT byte_offset FROM lines WHERE line_no = 2"), 3 + (int64_t)strlen(header));
	g_autofree char *couriers = h_sql(db, "SELECT string_agg(DISTINCT courier, ',' ORDER BY courier) FROM lines"
					      " WHERE outcome = 'ELIGIBLE'");
	cr_assert_str_eq(couriers, "EMS,SF,YTO,ZTO", "中通, 圆通, 邮政, 顺丰 are stored as their codes");
}

Test(ingest, zto_sample_unwraps_waybills_checks_its_total_and_keeps_the_totals_row_with_the_bytes)
{
	const char *db = setup();
	const char *path = MANIFESTS "/zto/zto.csv";
	assert_sample(db, path, "zto", "UTF-8");
	static const char line[] = "\"=\"\"75300000003028\"\"\",2018-06-06 08:31,ZT0004,,1.1,￥13.20,TB3002,"
				   "水果,广西\n";
	assert_raw_line(db, path, 3, line, strlen(line));
	g_autofree char *waybills = h_sql(db, "SELECT string_agg(waybill_no, ',' ORDER BY line_no) FROM lines"
					      " WHERE line_no IN (2, 3)");
	cr_assert_str_eq(waybills, "75300000003011,75300000003028", "both forms of =\"...\" are unwrapped");
	/* The totals row: no line, its amount recorded; every data line's fee is in it. */
	cr_assert_eq(h_sql_int(db, "SELECT totals_fen FROM files"), 312491);
	cr_assert_eq(h_sql_int(db, "SELECT max(line_no) FROM lines"), 19, "the 合计 row is line 20");
	g_autofree char *seconds = h_sql(db, "SELECT string_agg(DISTINCT pickup_has_seconds::text, ',')"
					     " FROM lines");
	cr_assert_str_eq(seconds, "false");
}

Test(ingest, a_policy_listing_categories_makes_other_products_ineligible)
{
	const char *db = setup();
	h_load_registry(db, MANIFESTS "/categories");
	assert_sample(db, MANIFESTS "/categories/canonical.csv", "canonical", "UTF-8");
}

/* ==== duplicates and conflicts (check 2) ==== */

Test(ingest, duplicates_and_conflicts_across_files_compare_with_the_first_line_to_the_minute_without_seconds)
{
	const char *db = setup();
	const char *paths[] = { MANIFESTS "/across/1-canonical.csv", MANIFESTS "/across/2-zto.csv",
				MANIFESTS "/across/3-cainiao.csv", NULL };
	h_result r = ingest(db, paths);
	assert_exit(&r, 0);
	for (int i = 0; paths[i]; i++) {
		assert_golden(db, paths[i]);
		g_autofree char *f = json_file(r.out, i);
		assert_has(f, "\"status\":\"stored\"");
	}
	/* One waybill, one first line: the waybills row points at it. */
	g_autofree char *first = h_sql(db, "SELECT format('%s:%s', f.name, w.line_no) FROM waybills w JOIN files f"
					   " USING (file_id) WHERE waybill_no = '75300000004011'");
	g_autofree char *want = g_canonicalize_filename(MANIFESTS "/across/1-canonical.csv:2", NULL);
	cr_assert_str_eq(first, want);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM waybills"), 4);
	h_result_clear(&r);
}

Test(ingest, duplicates_and_conflicts_within_one_file_name_the_first_line_and_what_differs)
{
	const char *db = setup();
	g_autofree char *path = write_tmp("within.csv",
					  CANONICAL_HEADER
					  "EMS,W1,O1,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n"
					  "EMS,W1,O1,2018-06-05 10:00:00,C1,,9,12.00,水果,北京\n"
					  "EMS,W1,O2,2018-06-05 10:00:59,C2,13800000002,1,13.00,茶叶,广东\n"
					  "EMS,W1,O1,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n",
					  -1);
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	g_autofree char *got = lines_of(db);
	cr_assert_str_eq(got, "2 ELIGIBLE \n"
			      "3 DUPLICATE waybill first seen at within.csv:2\n"
			      "4 CONFLICT waybill first seen at within.csv:2; differs in order_no, pickup_time, fee,"
			      " sender_code, sender_phone, category\n"
			      "5 DUPLICATE waybill first seen at within.csv:2");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM waybills"), 1);
	h_result_clear(&r);
}

Test(ingest, a_waybill_first_seen_in_an_earlier_chunk_of_the_same_file_is_still_a_duplicate)
{
	const char *db = setup();
	GString *text = g_string_new(CANONICAL_HEADER);
	for (int i = 0; i < ENGINE_CHUNK_LINES + 5; i++)
		g_string_append_printf(text, "EMS,CH%08d,CO%08d,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n", i, i);
	g_string_append(text, "EMS,CH00000000,CO00000000,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n"
			      "EMS,CH00000001,CO00000001,2018-06-05 10:00:00,C1,,1,12.01,水果,广东\n");
	g_autofree char *path = write_tmp("chunks.csv", text->str, (gssize)text->len);
	g_string_free(text, TRUE);
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	int last = ENGINE_CHUNK_LINES + 5 + 2;
	g_autofree char *got = h_sqlf(db, "SELECT string_agg(format('%%s %%s %%s', line_no, outcome, reason),"
					    " E'\\n' ORDER BY line_no) FROM lines WHERE line_no >= %d", last);
	g_autofree char *want = g_strdup_printf("%d DUPLICATE waybill first seen at chunks.csv:2\n"
						"%d CONFLICT waybill first seen at chunks.csv:3; differs in fee",
						last, last + 1);
	cr_assert_str_eq(got, want);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE outcome = 'ELIGIBLE'"),
		     ENGINE_CHUNK_LINES + 5);
	h_result_clear(&r);
}

/* A chunk learns which of its waybills were claimed before it from the claims between its smallest
 * and largest key, or, when that range holds many more claims than the chunk has keys, key by key
 * (src/ingest.c, probe_claims). Both ways, claims inside the range that are not the chunk's own
 * change nothing, and a new waybill between old ones is claimed. */
Test(ingest, a_file_between_earlier_claims_finds_its_duplicates_whether_the_claims_are_few_or_many)
{
	const char *db = setup();
	GString *first = g_string_new(CANONICAL_HEADER);
	for (int i = 10; i <= 60; i += 2)
		g_string_append_printf(first, "EMS,W%02d" GOOD_TAIL, i);
	g_autofree char *one = write_tmp("one.csv", first->str, (gssize)first->len);
	g_string_free(first, TRUE);
	/* Few claims in range: W20..W24 holds W20, W22, W24. Many: W10..W60 holds all 26. */
	g_autofree char *few = write_tmp("few.csv",
					 CANONICAL_HEADER "EMS,W21" GOOD_TAIL "EMS,W20" GOOD_TAIL "EMS,W24" GOOD_TAIL,
					 -1);
	g_autofree char *many = write_tmp("many.csv",
					  CANONICAL_HEADER "EMS,W60" GOOD_TAIL "EMS,W33" GOOD_TAIL "EMS,W10" GOOD_TAIL,
					  -1);
	h_result r = INGEST(db, one, few, many);
	assert_exit(&r, 0);
	g_autofree char *got = h_sql(db, "SELECT string_agg(format('%s %s %s %s', f.name, l.waybill_no, l.outcome,"
					 " l.reason), E'\\n' ORDER BY l.file_id, l.line_no) FROM lines l JOIN files f"
					 " USING (file_id) WHERE f.name <> 'one.csv' AND f.name NOT LIKE '%/one.csv'");
	g_autofree char *want = g_strdup_printf("%s W21 ELIGIBLE \n"
						"%s W20 DUPLICATE waybill first seen at %s:7\n"
						"%s W24 DUPLICATE waybill first seen at %s:9\n"
						"%s W60 DUPLICATE waybill first seen at %s:27\n"
						"%s W33 ELIGIBLE \n"
						"%s W10 DUPLICATE waybill first seen at %s:2",
						few, few, one, few, one, many, one, many, many, one);
	cr_assert_str_eq(got, want);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM waybills"), 26 + 2);
	h_result_clear(&r);
}

Test(ingest, why_lists_every_line_of_a_duplicated_waybill_with_its_outcome_and_the_order)
{
	const char *db = setup();
	g_autofree char *one = write_tmp("why1.csv", CANONICAL_HEADER
					 "EMS,WHY1,TBWHY,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n", -1);
	g_autofree char *two = write_tmp("why2.csv", CANONICAL_HEADER
					 "EMS,WHY1,TBWHY,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n"
					 "EMS,WHY1,TBWHY,2018-06-05 10:00:00,C1,,1,15.00,水果,广东\n", -1);
	h_result r = INGEST(db, one, two);
	assert_exit(&r, 0);
	h_result_clear(&r);
	g_autofree char *settled = h_settle(db);
	r = h_run(db, "why", "WHY1", "--json", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	g_autofree char *want = g_strdup_printf(
		"{\"lines\":[{\"file\":\"%s\",\"line\":2,\"courier\":\"EMS\",\"outcome\":\"ELIGIBLE\",\"reason\":null},"
		"{\"file\":\"%s\",\"line\":2,\"courier\":\"EMS\",\"outcome\":\"DUPLICATE\","
		"\"reason\":\"waybill first seen at %s:2\"},"
		"{\"file\":\"%s\",\"line\":3,\"courier\":\"EMS\",\"outcome\":\"CONFLICT\","
		"\"reason\":\"waybill first seen at %s:2; differs in fee\"}],"
		"\"order\":{\"shop_id\":\"S1\",\"order_no\":\"TBWHY\",\"fee_fen\":1200,\"entitlement_fen\":600,"
		"\"posted_fen\":600}}\n",
		one, two, one, two, one);
	cr_assert_str_eq(r.out, want);
	h_result_clear(&r);
}

/* ==== bad input, one class per test ==== */

Test(ingest, a_utf8_file_forced_with_profile_ems_is_refused_65_saying_its_header_is_not_gb18030)
{
	const char *db = setup();
	g_autofree char *path = write_tmp("ems-utf8.csv", EMS_HEADER
					  "1100000000222,2018/6/3,9:05:33,EM0002,,1.2,15.00,2.00,JD1,茶叶,上海\n", -1);
	g_autofree char *good = good_file(path);
	h_result r = h_run(db, "ingest", "--json", "--profile", "ems", path, good, NULL);
	assert_exit(&r, 65);
	g_autofree char *f0 = json_file(r.out, 0), *f1 = json_file(r.out, 1);
	assert_has(f0, "\"status\":\"refused\"");
	assert_has(f0, "is not valid GB18030");
	assert_has(r.err, "header of 'ems-utf8.csv' is not valid GB18030");
	/* --profile is for the whole call: the good file lacks ems' columns. */
	assert_has(f1, "\"status\":\"refused\"");
	assert_has(f1, "lacks column '邮件号' (waybill_no)");
	assert_nothing_stored_for(db, path);
	g_autofree char *counts = stored(db);
	cr_assert_str_eq(counts, "files 0 lines 0 waybills 0 chunks 0 digests 0");
	h_result_clear(&r);
	/* Detected, the same header matches no profile. */
	assert_refused(db, path, 65, "header of 'ems-utf8.csv' matches no profile");
}

Test(ingest, gb18030_bytes_in_a_canonical_file_reject_those_lines_and_the_file_is_stored)
{
	const char *db = setup();
	gsize gb_len = 0;
	GError *error = NULL;
	g_autofree char *gb = g_convert("水果,广东", -1, "GB18030", "UTF-8", NULL, &gb_len, &error);
	cr_assert_not_null(gb);
	GString *text = g_string_new(CANONICAL_HEADER "EMS,GB1,O1,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n");
	g_string_append(text, "EMS,GB2,O2,2018-06-05 10:00:00,C1,,1,12.00,");
	gsize bad_at = text->len;
	g_string_append_len(text, gb, (gssize)gb_len);
	g_string_append(text, "\nEMS,GB3,O3,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n");
	g_autofree char *path = write_tmp("gb-in-utf8.csv", text->str, (gssize)text->len);
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	g_autofree char *f0 = json_file(r.out, 0);
	assert_has(f0, "\"status\":\"stored\"");
	g_autofree char *got = lines_of(db);
	/* 水 is CB AE in GB18030: a valid two-byte UTF-8 sequence (U+02EE); the next byte, B9, is not. */
	g_autofree char *want = g_strdup_printf("2 ELIGIBLE \n"
						"3 REJECTED byte 0xB9 at offset %zu is not valid UTF-8\n"
						"4 ELIGIBLE ",
						bad_at + 2);
	cr_assert_str_eq(got, want);
	assert_bytes_stored(db, path);
	g_string_free(text, TRUE);
	h_result_clear(&r);
}

Test(ingest, a_utf8_line_in_a_gb18030_file_is_rejected_where_its_bytes_do_not_decode)
{
	/* UTF-8 茶 is E8 8C B6: E8 8C is a GB18030 character, B6 followed by a comma is not. (An even
	 * run of UTF-8 bytes, like 水果's six, often decodes as other GB18030 characters: no check can
	 * tell those apart from a real statement's text.) */
	const char *db = setup();
	gsize len = 0;
	g_autofree char *head = gb18030_crlf(EMS_HEADER
					     "1100000007011,2018/6/5,10:00:00,C1,,1,12.00,0,JD1,山兰米,广东\n", &len);
	GString *bytes = g_string_new_len(head, (gssize)len);
	g_string_append(bytes, "1100000007028,2018/6/5,10:00:00,C1,,1,12.00,0,JD2,");
	gsize bad_at = bytes->len + 2;
	g_string_append(bytes, "茶,广东\r\n");
	g_autofree char *path = write_tmp("ems-with-utf8.csv", bytes->str, (gssize)bytes->len);
	g_string_free(bytes, TRUE);
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	g_autofree char *got = lines_of(db);
	g_autofree char *want = g_strdup_printf("2 ELIGIBLE \n"
						"3 REJECTED byte 0xB6 at offset %zu is not valid GB18030",
						bad_at);
	cr_assert_str_eq(got, want);
	assert_bytes_stored(db, path);
	h_result_clear(&r);
}

Test(ingest, a_utf8_sequence_beyond_unicode_rejects_its_line_and_the_file_is_stored)
{
	/* F4 90 80 80 has the form of UTF-8 but would be U+110000, past Unicode's end (PostgreSQL refuses
	 * it). F4 8F BF BF, U+10FFFF, is the last code point: valid. */
	const char *db = setup();
	static const char text[] = CANONICAL_HEADER "EMS,BEYOND1" GOOD_TAIL
				   "EMS,BEYOND2,,2018-06-05 10:00:00,C1,,1,12.00,水果,x\xf4\x90\x80\x80y\n"
				   "EMS,BEYOND3,,2018-06-05 10:00:00,C1,,1,12.00,水果,x\xf4\x8f\xbf\xbfy\n";
	g_autofree char *path = write_tmp("beyond-unicode.csv", text, -1);
	g_autofree char *good = good_file("after-beyond");
	h_result r = INGEST(db, path, good);
	assert_exit(&r, 0);
	g_autofree char *got = lines_of(db);
	size_t bad_at = (size_t)(strstr(text, "\xf4\x90") - text);
	g_autofree char *want = g_strdup_printf("2 ELIGIBLE \n3 REJECTED byte 0xF4 at offset %zu is not valid UTF-8\n"
						"4 ELIGIBLE \n2 ELIGIBLE ",
						bad_at);
	cr_assert_str_eq(got, want);
	assert_bytes_stored(db, path);
	h_result_clear(&r);
}

Test(ingest, a_file_whose_name_is_not_utf8_is_stored_under_its_name_made_valid)
{
	/* 中通 in GBK, as a file saved on a Chinese Windows is named: the database's text is UTF-8. */
	const char *db = setup();
	g_autofree char *path = write_tmp("zto-\xd6\xd0\xcd\xa8.csv", CANONICAL_HEADER "EMS,GBKNAME1" GOOD_TAIL
					  "EMS,GBKNAME1" GOOD_TAIL, -1);
	h_result r = h_run(db, "ingest", path, NULL);
	assert_exit(&r, 0);
	g_autofree char *valid = g_utf8_make_valid(path, -1), *valid_base = g_path_get_basename(valid);
	g_autofree char *name = h_sql(db, "SELECT name FROM files");
	cr_assert_str_eq(name, valid);
	g_autofree char *got = lines_of(db);
	g_autofree char *want = g_strdup_printf("2 ELIGIBLE \n3 DUPLICATE waybill first seen at %s:2", valid_base);
	cr_assert_str_eq(got, want);
	h_result_clear(&r);
}

Test(ingest, a_zto_file_without_its_totals_row_is_refused_65_as_truncated)
{
	const char *db = setup();
	gsize len = 0;
	g_autofree char *sample = h_read(MANIFESTS "/zto/zto.csv", &len);
	/* Cut right before the 合计 row. */
	const char *totals = g_strrstr(sample, "\n合计,");
	cr_assert_not_null(totals);
	g_autofree char *path = write_tmp("zto-truncated.csv", sample, totals + 1 - sample);
	assert_refused(db, path, 65, "no totals row ('合计' in the first column) at the end of 'zto-truncated.csv':"
				     " file truncated?");
}

Test(ingest, a_canonical_file_cut_mid_line_rejects_its_last_line_not_the_file)
{
	/* canonical has no control total: a cut shows only when it leaves a line that does not
	 * validate. Cut inside a field, the last line has too few fields, or half a character: that
	 * line is REJECTED and the file stored. (Cut inside the last field at a character boundary,
	 * the line looks whole and is ELIGIBLE: only zto's 合计 row can tell, see the test above.) */
	const char *db = setup();
	static const char line[] = "EMS,CUT1,O1,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n";
	static const char half[] = "EMS,CUT4,O4,2018-06-05 10:00:00,C1,,1,12.00,水果,";
	g_autofree char *fields = write_tmp("cut-fields.csv", CANONICAL_HEADER
					    "EMS,CUT1,O1,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n"
					    "EMS,CUT2,O2,2018-06-0", -1);
	g_autofree char *character = write_tmp("cut-character.csv", CANONICAL_HEADER
					       "EMS,CUT3,O3,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n"
					       "EMS,CUT4,O4,2018-06-05 10:00:00,C1,,1,12.00,水果,\xe5\xb9", -1);
	h_result r = INGEST(db, fields, character);
	assert_exit(&r, 0);
	g_autofree char *got = h_sql(db, "SELECT string_agg(format('%s %s %s %s', waybill_no, line_no, outcome,"
					 " reason), E'\\n' ORDER BY waybill_no) FROM lines");
	g_autofree char *want = g_strdup_printf("CUT1 2 ELIGIBLE \n"
						"CUT2 3 REJECTED has 4 fields, the header has 10\n"
						"CUT3 2 ELIGIBLE \n"
						"CUT4 3 REJECTED byte 0xE5 at offset %zu is not valid UTF-8",
						strlen(CANONICAL_HEADER) + strlen(line) + strlen(half));
	cr_assert_str_eq(got, want);
	for (int i = 0; i < 2; i++) {
		g_autofree char *f = json_file(r.out, i);
		assert_has(f, "\"status\":\"stored\"");
		assert_has(f, "\"lines\":2");
	}
	assert_bytes_stored(db, fields);
	assert_bytes_stored(db, character);
	/* The cut line's bytes are what is there, without a line end. */
	assert_raw_line(db, fields, 3, "EMS,CUT2,O2,2018-06-0", strlen("EMS,CUT2,O2,2018-06-0"));
	h_result_clear(&r);
}

Test(ingest, a_zto_total_off_by_one_fen_refuses_the_file_65_and_nothing_of_it_is_stored)
{
	/* Longer than a chunk, so lines, waybills and bytes of it were sent to the database before the
	 * totals row was read: all of it goes. */
	const char *db = setup();
	GString *text = g_string_new(ZTO_HEADER);
	for (int i = 0; i < ENGINE_CHUNK_LINES + 1; i++)
		g_string_append_printf(text, "=\"7539%010d\",2018-06-06 08:30,ZT0001,,1.1,￥7.50,TBZ%d,水果,海南省\n",
				       i, i);
	int totals_line = ENGINE_CHUNK_LINES + 3;
	g_string_append(text, "合计,,,,,\"￥75,007.49\",,,\n");
	g_autofree char *path = write_tmp("zto-off-by-one-fen.csv", text->str, (gssize)text->len);
	g_string_free(text, TRUE);
	g_autofree char *message = g_strdup_printf("totals row at line %d of 'zto-off-by-one-fen.csv' says"
						   " 75007.49, lines sum to 75007.50: file truncated or altered?",
						   totals_line);
	assert_refused(db, path, 65, message);
}

Test(ingest, a_header_missing_a_required_column_is_refused_65_naming_the_column)
{
	const char *db = setup();
	g_autofree char *path = write_tmp("no-fee.csv",
					  "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,"
					  "category,destination\n"
					  "EMS,NF1,O1,2018-06-05 10:00:00,C1,,1,水果,广东\n", -1);
	assert_refused(db, path, 65, "closest is 'canonical', which lacks column 'fee' (fee)");
	h_result r = h_run(db, "ingest", "--profile", "canonical", path, NULL);
	assert_exit(&r, 65);
	assert_has(r.err, "header of 'no-fee.csv' lacks column 'fee' (fee), required by profile 'canonical'");
	assert_has(r.out, "refused");
	assert_nothing_stored_for(db, path);
	h_result_clear(&r);
}

Test(ingest, the_same_file_twice_is_skipped_the_second_time_exit_0_adding_nothing)
{
	const char *db = setup();
	const char *path = MANIFESTS "/canonical/canonical.csv";
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	h_result_clear(&r);
	g_autofree char *before = stored(db);
	g_autofree char *file_id = h_sql(db, "SELECT file_id FROM files");
	/* Again, and the same bytes under another name, twice in one call. */
	gsize len = 0;
	g_autofree char *bytes = h_read(path, &len);
	g_autofree char *copy = write_tmp("renamed.csv", bytes, (gssize)len);
	r = INGEST(db, path, copy, copy);
	assert_exit(&r, 0);
	/* It names the stored file it repeats, by its absolute path, and when it was ingested. */
	g_autofree char *absolute = g_canonicalize_filename(path, NULL);
	g_autofree char *when = h_sql(db, "SELECT to_char(ingested_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS') FROM files");
	g_autofree char *reason = g_strdup_printf("\"reason\":\"already ingested as file %s ('%s', on %s)\"", file_id,
						  absolute, when);
	static const int64_t zeros[OUTCOMES] = { 0 };
	for (int i = 0; i < 3; i++) {
		g_autofree char *f = json_file(r.out, i);
		assert_has(f, "\"status\":\"skipped\"");
		assert_has(f, "\"lines\":0");
		assert_has(f, reason);
		assert_has(f, "\"profile\":\"canonical\"");
		assert_outcomes(f, zeros);
	}
	g_autofree char *totals = json_totals(r.out);
	assert_outcomes(totals, zeros);
	g_autofree char *after = stored(db);
	cr_assert_str_eq(after, before);
	h_result_clear(&r);
}

Test(ingest, an_empty_file_is_refused_65)
{
	const char *db = setup();
	g_autofree char *path = write_tmp("empty.csv", "", 0);
	assert_refused(db, path, 65, "empty file 'empty.csv' (0 bytes)");
}

Test(ingest, a_header_only_file_is_stored_with_0_lines_and_every_outcome_at_zero)
{
	const char *db = setup();
	g_autofree char *path = write_tmp("header-only.csv", CANONICAL_HEADER, -1);
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	g_autofree char *f = json_file(r.out, 0), *totals = json_totals(r.out);
	assert_has(f, "\"status\":\"stored\"");
	assert_has(f, "\"lines\":0");
	assert_has(f, "\"reason\":null");
	static const int64_t zeros[OUTCOMES] = { 0 };
	assert_outcomes(f, zeros);
	assert_outcomes(totals, zeros);
	g_autofree char *counts = stored(db);
	cr_assert_str_eq(counts, "files 1 lines 0 waybills 0 chunks 1 digests 1");
	cr_assert_eq(h_sql_int(db, "SELECT lines + eligible + ineligible + duplicate + conflict + rejected"
				   " FROM files"), 0);
	assert_bytes_stored(db, path);
	h_result_clear(&r);
}

Test(ingest, a_date_that_does_not_exist_is_rejected_in_ems)
{
	const char *db = setup();
	gsize len = 0;
	g_autofree char *bytes = gb18030_crlf(EMS_HEADER
					      "1100000009011,2018/2/30,10:00:00,C1,,1,12.00,0,JD1,山兰米,广东\n"
					      "1100000009028,2018/2/29,10:00:00,C1,,1,12.00,0,JD2,山兰米,广东\n"
					      "1100000009035,2016/2/29,10:00:00,C1,,1,12.00,0,JD3,山兰米,广东\n"
					      "1100000009042,2018/6/5,10:00:00,C1,,1,12.00,0,JD4,山兰米,广东\n", &len);
	g_autofree char *path = write_tmp("ems-dates.csv", bytes, (gssize)len);
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	g_autofree char *got = lines_of(db);
	/* 2016 was a leap year: its 29 February exists (and is in no promotion window). */
	cr_assert_str_eq(got, "2 REJECTED pickup_time: '2018/2/30 10:00:00' is not a date that exists\n"
			      "3 REJECTED pickup_time: '2018/2/29 10:00:00' is not a date that exists\n"
			      "4 NOT_IN_CAMPAIGN pickup 2016-02-29 10:00:00 is in no promotion window\n"
			      "5 ELIGIBLE ");
	g_autofree char *f = json_file(r.out, 0);
	cr_assert_eq(json_int(f, "REJECTED"), 2);
	h_result_clear(&r);
}

Test(ingest, a_time_of_24_00_00_is_rejected)
{
	const char *db = setup();
	g_autofree char *path = write_tmp("midnight.csv", CANONICAL_HEADER
					  "EMS,T1,O1,2018-06-05 24:00:00,C1,,1,12.00,水果,广东\n"
					  "EMS,T2,O2,2018-06-05 23:59:59,C1,,1,12.00,水果,广东\n"
					  "EMS,T3,O3,2018-06-06 00:00:00,C1,,1,12.00,水果,广东\n"
					  "EMS,T4,O4,2018-06-05 23:60:00,C1,,1,12.00,水果,广东\n", -1);
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	g_autofree char *got = lines_of(db);
	cr_assert_str_eq(got, "2 REJECTED pickup_time: '2018-06-05 24:00:00' is not a time of day"
			      " (00:00:00 to 23:59:59)\n"
			      "3 ELIGIBLE \n"
			      "4 ELIGIBLE \n"
			      "5 REJECTED pickup_time: '2018-06-05 23:60:00' is not a time of day"
			      " (00:00:00 to 23:59:59)");
	h_result_clear(&r);
}

/* Ingest sends a chunk's rows and reads the next chunk while the server stores them (src/db.h,
 * db_copy_rows_deferred). A store that fails is still the file's error, whichever table it is, and
 * it is reported before what the reader found after it: here the file also ends in an open quote,
 * which alone refuses it 65 (checked last, once the trigger is gone). Nothing of it stays. */
Test(ingest, a_store_that_fails_early_fails_the_file_with_the_servers_error_before_a_later_refusal)
{
	static const char *const tables[] = { "lines", "waybills", "file_chunks" };
	GString *text = g_string_new(CANONICAL_HEADER);
	/* The lines of the first chunk are the last rows sent before the open quote is read. */
	for (int i = 0; i < ENGINE_CHUNK_LINES + 5; i++)
		g_string_append_printf(text, "EMS,DF%08d,DO%08d,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n", i, i);
	g_string_append(text, "EMS,QUOTE,O,2018-06-05 10:00:00,C1,,1,12.00,水果,\"广东\n");
	g_autofree char *path = write_tmp("deferred.csv", text->str, (gssize)text->len);
	g_string_free(text, TRUE);
	for (size_t t = 0; t < G_N_ELEMENTS(tables); t++) {
		const char *db = setup();
		g_autofree char *trigger = g_strdup_printf(
			"CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
			" RAISE EXCEPTION 'no room in %s'; END $$;"
			" CREATE TRIGGER refuse BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION refuse()",
			tables[t], tables[t]);
		cr_assert(h_exec(db, trigger, NULL));
		h_result r = INGEST(db, path);
		cr_assert(r.status != 0 && r.status != 65, "%s: %d %s", tables[t], r.status, r.err);
		g_autofree char *message = g_strdup_printf("no room in %s", tables[t]);
		cr_assert(strstr(r.err, message), "%s: %s", tables[t], r.err);
		h_result_clear(&r);
		cr_assert_eq(h_sql_int(db, "SELECT (SELECT count(*) FROM files) + (SELECT count(*) FROM lines)"
					   " + (SELECT count(*) FROM waybills) + (SELECT count(*) FROM file_chunks)"),
			     0, "%s", tables[t]);
		cr_assert(h_exec(db, "DROP FUNCTION refuse() CASCADE", NULL));
		r = INGEST(db, path);
		assert_exit(&r, 65);
		h_result_clear(&r);
	}
}

Test(ingest, a_quote_still_open_at_the_end_refuses_the_file_65)
{
	/* Longer than a chunk: its first lines were sent to the database before the end was read. */
	const char *db = setup();
	GString *text = g_string_new(CANONICAL_HEADER);
	for (int i = 0; i < ENGINE_CHUNK_LINES + 1; i++)
		g_string_append_printf(text, "EMS,QU%08d,QO%08d,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n", i, i);
	int open_line = ENGINE_CHUNK_LINES + 3;
	g_string_append(text, "EMS,QUOTE,O,2018-06-05 10:00:00,C1,,1,12.00,水果,\"广东\n"
			      "EMS,X,O,2018-06-05 10:00:00\n");
	g_autofree char *path = write_tmp("open-quote.csv", text->str, (gssize)text->len);
	g_string_free(text, TRUE);
	g_autofree char *message = g_strdup_printf("quote opened at line %d of 'open-quote.csv' is still open"
						   " at its end", open_line);
	assert_refused(db, path, 65, message);
}

Test(ingest, a_nul_byte_rejects_its_line)
{
	const char *db = setup();
	static const char text[] = CANONICAL_HEADER "EMS,NUL1,O1,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n"
				   "EMS,NUL2,O2,2018-06-05 10:00:00,C1,,1,12.00,水\0果,广东\n"
				   "EMS,NUL3,O3,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n";
	g_autofree char *path = write_tmp("nul.csv", text, sizeof text - 1);
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	size_t nul_at = (size_t)((const char *)memchr(text, '\0', sizeof text - 1) - text);
	g_autofree char *got = lines_of(db);
	g_autofree char *want = g_strdup_printf("2 ELIGIBLE \n3 REJECTED NUL byte at offset %zu\n4 ELIGIBLE ",
						nul_at);
	cr_assert_str_eq(got, want);
	/* The NUL is kept with the file's bytes. */
	assert_bytes_stored(db, path);
	static const char line[] = "EMS,NUL2,O2,2018-06-05 10:00:00,C1,,1,12.00,水\0果,广东\n";
	assert_raw_line(db, path, 3, line, sizeof line - 1);
	h_result_clear(&r);
}

/* The most a process running ingest may hold (peak resident set, KiB) while it reads a file of 40
 * lines of a 1 MiB field: measured about 20 MiB, whatever the number of such lines; the file is
 * 40 MiB. Sanitizers keep freed memory in quarantine, so the bound is for the plain build. */
#define INGEST_RSS_MAX_KIB (32 * 1024)
#define BIG_LINES 40

Test(ingest, a_field_of_one_mebibyte_rejects_its_line_in_bounded_memory)
{
	const char *db = setup();
	GString *text = g_string_new(CANONICAL_HEADER "EMS,BIG0,O0,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n");
	g_autofree char *field = g_strnfill(1024 * 1024, 'x');
	for (int i = 1; i <= BIG_LINES; i++)
		g_string_append_printf(text, "EMS,BIG%d,O%d,2018-06-05 10:00:00,C1,,1,12.00,水果,%s\n", i, i, field);
	g_string_append(text, "EMS,BIG99,O99,2018-06-05 10:00:00,C1,,1,12.00,水果,广东\n");
	g_autofree char *path = write_tmp("big-fields.csv", text->str, (gssize)text->len);
	g_string_free(text, TRUE);
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	struct rusage usage;
	cr_assert_eq(getrusage(RUSAGE_CHILDREN, &usage), 0);
	g_autofree char *f = json_file(r.out, 0);
	cr_assert_eq(json_int(f, "lines"), BIG_LINES + 2);
	cr_assert_eq(json_int(f, "REJECTED"), BIG_LINES);
	cr_assert_eq(json_int(f, "ELIGIBLE"), 2);
	g_autofree char *reasons = h_sql(db, "SELECT string_agg(DISTINCT reason, ' | ') FROM lines"
					     " WHERE outcome = 'REJECTED'");
	cr_assert_str_eq(reasons, "field 10 ('destination') is 1048576 bytes long, more than 1024");
	/* The field is not kept in the line, but its bytes are with the file's. */
	cr_assert_null(h_sql(db, "SELECT destination FROM lines WHERE waybill_no = 'BIG1'"));
	cr_assert_eq(h_sql_int(db, "SELECT byte_len FROM lines WHERE waybill_no = 'BIG1'"),
		     (int64_t)strlen("EMS,BIG1,O1,2018-06-05 10:00:00,C1,,1,12.00,水果,\n") + 1024 * 1024);
	assert_bytes_stored(db, path);
	cr_assert_gt(h_sql_int(db, "SELECT count(*) FROM file_chunks"), 1, "a file this big is stored in pieces");
	const char *bin = g_getenv("SUBSIDY_BIN");
	if (bin && !strstr(bin, "/asan/"))
		cr_assert_lt(usage.ru_maxrss, INGEST_RSS_MAX_KIB, "ingest peaked at %ld KiB for a %d MiB file",
			     usage.ru_maxrss, BIG_LINES);
	h_result_clear(&r);
}

Test(ingest, a_line_of_ten_thousand_fields_is_rejected)
{
	const char *db = setup();
	GString *text = g_string_new(CANONICAL_HEADER "EMS,WIDE1" GOOD_TAIL "EMS,WIDE2");
	for (int i = 2; i < 10000; i++) /* EMS and WIDE2 are two */
		g_string_append(text, ",x");
	g_string_append(text, "\nEMS,WIDE3" GOOD_TAIL);
	g_autofree char *path = write_tmp("wide.csv", text->str, (gssize)text->len);
	g_string_free(text, TRUE);
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	g_autofree char *got = lines_of(db);
	cr_assert_str_eq(got, "2 ELIGIBLE \n3 REJECTED has 10000 fields, the header has 10\n4 ELIGIBLE ");
	assert_bytes_stored(db, path);
	h_result_clear(&r);
}

Test(ingest, a_file_that_cannot_be_opened_exits_66)
{
	const char *db = setup();
	g_autofree char *missing = g_build_filename(h_tmpdir(), "no-such-file.csv", NULL);
	g_autofree char *message = g_strdup_printf("cannot open '%s': No such file or directory", missing);
	assert_refused(db, missing, 66, message);
}

Test(ingest, a_directory_given_as_a_file_exits_66)
{
	const char *db = setup();
	g_autofree char *dir = g_build_filename(h_tmpdir(), "a-directory.csv", NULL);
	cr_assert_eq(g_mkdir(dir, 0700), 0);
	g_autofree char *message = g_strdup_printf("'%s' is not a regular file (it is a folder)", dir);
	assert_refused(db, dir, 66, message);
}

Test(ingest, one_refused_file_among_three_others_stored_exit_65_and_the_json_lists_all_three)
{
	const char *db = setup();
	g_autofree char *first = good_file("first"), *last = good_file("last");
	g_autofree char *bad = write_tmp("open.csv", CANONICAL_HEADER
					 "EMS,OPEN1,O1,2018-06-05 10:00:00,C1,,1,12.00,水果,\"广东\n", -1);
	h_result r = INGEST(db, first, bad, last);
	assert_exit(&r, 65);
	const char *names[] = { first, bad, last };
	const char *status[] = { "stored", "refused", "stored" };
	for (int i = 0; i < 3; i++) {
		g_autofree char *f = json_file(r.out, i);
		g_autofree char *name = g_strdup_printf("{\"name\":\"%s\"", names[i]);
		g_autofree char *st = g_strdup_printf("\"status\":\"%s\"", status[i]);
		cr_assert(g_str_has_prefix(f, name), "file %d of the JSON is not %s: %s", i, names[i], f);
		assert_has(f, st);
	}
	g_autofree char *refused = json_file(r.out, 1);
	assert_has(refused, "\"reason\":\"quote opened at line 2 of 'open.csv' is still open at its end\"");
	assert_has(r.err, "refused");
	int64_t want[OUTCOMES] = { 2 };
	g_autofree char *totals = json_totals(r.out);
	assert_outcomes(totals, want);
	assert_nothing_stored_for(db, bad);
	g_autofree char *counts = stored(db);
	cr_assert_str_eq(counts, "files 2 lines 2 waybills 2 chunks 2 digests 2");
	/* In the order given. */
	g_autofree char *order = h_sql(db, "SELECT string_agg(name, ',' ORDER BY file_id) FROM files");
	g_autofree char *want_order = g_strdup_printf("%s,%s", first, last);
	cr_assert_str_eq(order, want_order);
	h_result_clear(&r);
}

Test(ingest, set_sender_code_fixes_the_sender_of_a_file_without_a_sender_column)
{
	/* An EMS statement exported for one customer account: no sender column at all. */
	const char *db = setup();
	gsize len = 0;
	g_autofree char *bytes = gb18030_crlf("邮件号,收寄日期,收寄时间,重量(千克),邮费(元),保价费(元),订单号,"
					      "内件品名,寄达省份\n"
					      "1100000008011,2018/6/5,10:00:00,1,12.00,0,JD1,山兰米,广东\n"
					      "1100000008028,2018/6/5,10:00:00,1,20.00,0,JD2,山兰米,广东\n", &len);
	g_autofree char *path = write_tmp("ems-account-C1.csv", bytes, (gssize)len);
	/* Without --set it cannot name a sender. */
	h_result r = INGEST(db, path);
	assert_exit(&r, 65);
	assert_has(r.err, "lacks");
	assert_has(r.err, "寄件人客户代码");
	h_result_clear(&r);
	g_autofree char *before = stored(db);
	cr_assert_str_eq(before, "files 0 lines 0 waybills 0 chunks 0 digests 0");

	r = h_run(db, "ingest", "--json", "--set", "sender_code=C1", path, NULL);
	assert_exit(&r, 0);
	g_autofree char *f = json_file(r.out, 0);
	assert_has(f, "\"profile\":\"ems\"");
	cr_assert_eq(json_int(f, "ELIGIBLE"), 2);
	g_autofree char *got = h_sql(db, "SELECT string_agg(format('%s %s %s %s', line_no, courier, sender_code,"
					 " shop_id), E'\\n' ORDER BY line_no) FROM lines");
	cr_assert_str_eq(got, "2 EMS C1 S1\n3 EMS C1 S1");
	h_result_clear(&r);
}

Test(ingest, an_unknown_profile_exits_64_and_stores_nothing)
{
	const char *db = setup();
	const char *path = MANIFESTS "/canonical/canonical.csv";
	h_result r = h_run(db, "ingest", "--profile", "dhl", path, NULL);
	assert_exit(&r, 64);
	assert_has(r.err, "unknown profile 'dhl'");
	g_autofree char *counts = stored(db);
	cr_assert_str_eq(counts, "files 0 lines 0 waybills 0 chunks 0 digests 0");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM runs WHERE kind = 'ingest'"), 0);
	h_result_clear(&r);
}

/* POLICY.md check 2: a waybill is (courier, waybill_no), and a courier is its code, however a
 * file spells it; otherwise one parcel written `zto` in one file and `ZTO` in another would be
 * stored, and paid, twice. */
Test(ingest, a_courier_code_in_lower_case_is_the_same_courier)
{
	const char *db = setup();
	h_ingest_text(db, "lower.csv",
		      CANONICAL_HEADER "zto,75300000009001,TB9001,2018-06-05 10:00:00,CN0003,,1,7.50,,\n", 0);
	h_ingest_text(db, "upper.csv",
		      CANONICAL_HEADER "ZTO,75300000009001,TB9001,2018-06-05 10:00:00,CN0003,,1,7.50,,\n", 0);
	g_autofree char *outcomes = h_sql(db, "SELECT string_agg(courier || ' ' || outcome, ', ' ORDER BY file_id)"
					      " FROM lines WHERE waybill_no = '75300000009001'");
	cr_assert_str_eq(outcomes, "ZTO ELIGIBLE, ZTO DUPLICATE");
	/* And a senders file that writes the code in lower case matches the lines' code. */
	g_autofree char *senders = h_write(h_tmpdir(), "senders.csv",
					   "shop_id,courier,sender_code,valid_from,valid_to\nS1,sto,ST0001,2016-01-01,\n", -1);
	h_result r = h_run(db, "registry", "load", "senders", senders, NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	h_result_clear(&r);
	h_ingest_text(db, "sto.csv", CANONICAL_HEADER "Sto,STO1,TB9002,2018-06-05 10:00:00,ST0001,,1,7.50,,\n", 0);
	g_autofree char *sto = h_sql(db, "SELECT outcome || ' ' || shop_id FROM lines WHERE waybill_no = 'STO1'");
	cr_assert_str_eq(sto, "ELIGIBLE S1");
}

/* The bytes stored must be the bytes whose digest was checked for "seen before". The test stops
 * the run between the two reads (fault point ingest:hashed) and appends a line, as an upload still
 * being written would: the file is refused, nothing of it stored. */
Test(ingest, a_file_that_changes_while_it_is_read_is_refused)
{
	const char *db = setup();
	g_autofree char *path = h_write(h_tmpdir(), "growing.csv",
					CANONICAL_HEADER "EMS,G1,G1,2018-06-05 10:00:00,C1,,1,12.00,,\n", -1);
	char *argv[] = { (char *)g_getenv("SUBSIDY_BIN"), "--db", (char *)db, "ingest", "--json", path, NULL };
	g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "SUBSIDY_FAULT", "ingest:hashed/stop", TRUE);
	GPid pid;
	int out_fd;
	cr_assert(g_spawn_async_with_pipes(NULL, argv, envp, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, NULL,
					   &out_fd, NULL, NULL));
	int st;
	cr_assert_eq(waitpid(pid, &st, WUNTRACED), pid);
	cr_assert(WIFSTOPPED(st), "the run did not stop at ingest:hashed");
	FILE *f = fopen(path, "a");
	cr_assert(f != NULL);
	fputs("EMS,G2,G2,2018-06-05 10:01:00,C1,,1,9.00,,\n", f);
	fclose(f);
	kill(pid, SIGCONT);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	g_autoptr(GString) out = g_string_new(NULL);
	char buf[4096];
	for (ssize_t n; (n = read(out_fd, buf, sizeof buf)) > 0;)
		g_string_append_len(out, buf, n);
	close(out_fd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 65, "exit %d\n%s", WEXITSTATUS(st), out->str);
	assert_has(out->str, "changed while it was read");
	cr_assert_eq(h_sql_intf(db, "SELECT count(*) FROM files"), 0);
	cr_assert_eq(h_sql_intf(db, "SELECT count(*) FROM lines"), 0);
	cr_assert_eq(h_sql_intf(db, "SELECT count(*) FROM waybills"), 0);
}

/* ==== no line lost or merged (issue 12) ==== */

#define X_HEAD(w) "EMS," w ",,2018-06-05 10:00:00,C1,,1,12.00,水果,"

Test(ingest, text_after_a_closing_quote_rejects_that_line_alone_and_every_line_after_it_is_stored)
{
	const char *db = setup();
	static const char x1[] = X_HEAD("X1") "\"广东省,深圳\"市\n", x2[] = X_HEAD("X2") "海南\n",
			  x3[] = X_HEAD("X3") "\"江苏\"\"南京\"\"\"\n", x4[] = X_HEAD("X4") "海南\n";
	g_autofree char *text = g_strconcat(CANONICAL_HEADER, x1, x2, x3, x4, NULL);
	g_autofree char *path = write_tmp("quote-text.csv", text, -1);
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	g_autofree char *f = json_file(r.out, 0);
	cr_assert_eq(json_int(f, "lines"), 4);
	cr_assert_eq(json_int(f, "REJECTED"), 1);
	cr_assert_eq(json_int(f, "ELIGIBLE"), 3);
	g_autofree char *got = lines_of(db);
	cr_assert_str_eq(got, "2 REJECTED quote closing field 10 is followed by '市', not a comma or the line's end\n"
			      "3 ELIGIBLE \n4 ELIGIBLE \n5 ELIGIBLE ");
	g_autofree char *waybills = h_sql(db, "SELECT string_agg(waybill_no || ' ' || coalesce(destination, '-'),"
					      " ' | ' ORDER BY line_no) FROM lines");
	cr_assert_str_eq(waybills, "X1 广东省,深圳 | X2 海南 | X3 江苏\"南京\" | X4 海南");
	const char *raw[] = { x1, x2, x3, x4 };
	for (int i = 0; i < 4; i++)
		assert_raw_line(db, path, i + 2, raw[i], strlen(raw[i]));
	assert_bytes_stored(db, path);
	h_result_clear(&r);
}

Test(ingest, a_quote_over_lines_followed_by_text_rejects_its_first_line_and_the_next_lines_are_their_own)
{
	const char *db = setup();
	static const char m1[] = X_HEAD("M1") "\"广东省\n", m1b[] = "深圳\"市\n", m2[] = X_HEAD("M2") "\"海南\n",
			  m3[] = X_HEAD("M3") "海南\"\n", m4[] = X_HEAD("M4") "\"广东省\r\n深圳市\"\r\n";
	g_autofree char *text = g_strconcat(CANONICAL_HEADER, m1, m1b, m2, m3, m4, NULL);
	g_autofree char *path = write_tmp("quote-span.csv", text, -1);
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	g_autofree char *got = h_sql(db, "SELECT string_agg(format('%s %s %s', line_no, coalesce(waybill_no, '-'),"
					 " outcome), E'\\n' ORDER BY line_no) FROM lines");
	/* M1's quote closes on line 3 followed by 市; M2's would take M3's line, a line of its own. M4's
	 * address has a line break: one line of two physical lines. */
	cr_assert_str_eq(got, "2 M1 REJECTED\n3 - REJECTED\n4 M2 REJECTED\n5 M3 ELIGIBLE\n6 M4 ELIGIBLE");
	g_autofree char *reasons = h_sql(db, "SELECT string_agg(reason, E'\\n' ORDER BY line_no) FROM lines"
					     " WHERE line_no IN (2, 4)");
	assert_has(reasons, "quote opened in field 10 does not close on its line; where it closes, on line 3, it is"
			    " followed by '市'");
	assert_has(reasons, "it would take line 5, which has the fields of a line of its own");
	const char *raw[] = { m1, m1b, m2, m3, m4 };
	for (int i = 0; i < 5; i++)
		assert_raw_line(db, path, i + 2, raw[i], strlen(raw[i]));
	cr_assert_eq(h_sql_intf(db, "SELECT count(*) FROM lines"), 5);
	h_result_clear(&r);
}

/* text with its CRLF made LF, then every LF made eol; caller frees. */
static char *line_ends(const char *bytes, gsize len, const char *eol, gsize *out_len)
{
	GString *out = g_string_sized_new(len * 2);
	for (gsize i = 0; i < len; i++) {
		if (bytes[i] == '\r' && i + 1 < len && bytes[i + 1] == '\n')
			continue;
		if (bytes[i] == '\n')
			g_string_append(out, eol);
		else
			g_string_append_c(out, bytes[i]);
	}
	*out_len = out->len;
	return g_string_free(out, FALSE);
}

Test(ingest, every_profile_gets_its_golden_outcomes_with_lf_crlf_and_cr_line_ends)
{
	/* Excel's "CSV (Macintosh)" ends lines with CR alone: an ems file saved so was stored with 0
	 * lines and marked ingested. */
	const char *profiles[][2] = { { "canonical", "UTF-8" }, { "ems", "GB18030" }, { "cainiao", "UTF-8" },
				      { "zto", "UTF-8" } };
	const char *eols[][2] = { { "lf", "\n" }, { "crlf", "\r\n" }, { "cr", "\r" } };
	for (size_t p = 0; p < G_N_ELEMENTS(profiles); p++) {
		g_autofree char *csv = g_strdup_printf(MANIFESTS "/%s/%s.csv", profiles[p][0], profiles[p][0]);
		g_autofree char *expected = g_strdup_printf(MANIFESTS "/%s/%s.expected", profiles[p][0],
							    profiles[p][0]);
		gsize len = 0, golden_len = 0;
		g_autofree char *bytes = h_read(csv, &len);
		g_autofree char *golden = h_read(expected, &golden_len);
		for (size_t e = 0; e < G_N_ELEMENTS(eols); e++) {
			const char *db = setup();
			g_autofree char *dir = g_build_filename(h_tmpdir(), eols[e][0], NULL);
			g_mkdir_with_parents(dir, 0700);
			gsize n = 0;
			g_autofree char *text = line_ends(bytes, len, eols[e][1], &n);
			g_autofree char *name = g_strdup_printf("%s.csv", profiles[p][0]);
			g_autofree char *golden_name = g_strdup_printf("%s.expected", profiles[p][0]);
			g_autofree char *path = h_write(dir, name, text, (gssize)n);
			g_free(h_write(dir, golden_name, golden, (gssize)golden_len));
			assert_sample(db, path, profiles[p][0], profiles[p][1]);
		}
	}
}

Test(ingest, a_canonical_header_ending_in_cr_keeps_the_first_data_line)
{
	const char *db = setup();
	g_autofree char *header = g_strndup(CANONICAL_HEADER, strlen(CANONICAL_HEADER) - 1);
	static const char h1[] = X_HEAD("H1") "广东\n", h2[] = X_HEAD("H2") "广东\n";
	g_autofree char *text = g_strconcat(header, "\r", h1, h2, NULL);
	g_autofree char *path = write_tmp("header-cr.csv", text, -1);
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	g_autofree char *got = lines_of(db);
	cr_assert_str_eq(got, "2 ELIGIBLE \n3 ELIGIBLE ");
	assert_raw_line(db, path, 2, h1, strlen(h1));
	assert_raw_line(db, path, 3, h2, strlen(h2));
	h_result_clear(&r);
}

Test(ingest, an_unquoted_line_over_4_mib_rejects_that_line_alone)
{
	const char *db = setup();
	static const char l1[] = X_HEAD("L1") "广东\n", l3[] = X_HEAD("L3") "广东\n";
	GString *text = g_string_new(CANONICAL_HEADER);
	g_string_append(text, l1);
	gsize long_at = text->len;
	g_string_append(text, X_HEAD("L2"));
	while (text->len - long_at <= 4 * 1024 * 1024)
		g_string_append(text, "广东广东广东广东");
	g_string_append_c(text, '\n');
	gsize long_len = text->len - long_at;
	g_string_append(text, l3);
	g_autofree char *path = write_tmp("long-line.csv", text->str, (gssize)text->len);
	g_string_free(text, TRUE);
	h_result r = INGEST(db, path);
	assert_exit(&r, 0);
	g_autofree char *f = json_file(r.out, 0);
	cr_assert_eq(json_int(f, "lines"), 3);
	g_autofree char *got = lines_of(db);
	g_autofree char *want = g_strdup_printf("2 ELIGIBLE \n3 REJECTED line is %zu bytes long, more than the limit"
						" of 4194304 bytes\n4 ELIGIBLE ", long_len);
	cr_assert_str_eq(got, want);
	g_autofree char *place = h_sql(db, "SELECT format('%s+%s', byte_offset, byte_len) FROM lines WHERE line_no = 3");
	g_autofree char *want_place = g_strdup_printf("%zu+%zu", long_at, long_len);
	cr_assert_str_eq(place, want_place);
	assert_raw_line(db, path, 4, l3, strlen(l3));
	assert_bytes_stored(db, path);
	h_result_clear(&r);
}

/* Issue 12: checks 3-7 use the registry as known when the line is ingested. The run stops before
 * its second file (fault point ingest:hashed, met once per file), a shops load ends S1's
 * registration before that file's pickup day and commits, and the run goes on: the second file's
 * line is NOT_REGISTERED_ON_DATE, where a registry read once at the start made it ELIGIBLE. */
Test(ingest, a_registry_load_between_two_files_counts_for_the_second)
{
	const char *db = setup();
	g_autofree char *a = h_write(h_tmpdir(), "a.csv", CANONICAL_HEADER "EMS,RA1" GOOD_TAIL, -1);
	g_autofree char *b = h_write(h_tmpdir(), "b.csv", CANONICAL_HEADER "EMS,RB1" GOOD_TAIL, -1);
	char *argv[] = { (char *)g_getenv("SUBSIDY_BIN"), "--db", (char *)db, "ingest", a, b, NULL };
	g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "SUBSIDY_FAULT", "ingest:hashed@2/stop", TRUE);
	GPid pid;
	cr_assert(g_spawn_async_with_pipes(NULL, argv, envp, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
					   NULL, NULL, &pid, NULL, NULL, NULL, NULL));
	int st;
	cr_assert_eq(waitpid(pid, &st, WUNTRACED), pid);
	cr_assert(WIFSTOPPED(st), "the run did not stop before its second file");
	cr_assert_eq(h_sql_intf(db, "SELECT count(*) FROM files"), 1, "the first file is committed");
	g_autofree char *shops = h_read("fixtures/small/shops.csv", NULL);
	/* S1's row ends with an open registered_to: close it on 2018-06-03. */
	g_auto(GStrv) rows = g_strsplit(shops, "\n", -1);
	for (char **r = rows; *r; r++)
		if (g_str_has_prefix(*r, "S1,")) {
			char *closed = g_strconcat(*r, "2018-06-03", NULL);
			g_free(*r);
			*r = closed;
		}
	g_autofree char *changed = g_strjoinv("\n", rows);
	h_load_text(db, "shops", changed);
	kill(pid, SIGCONT);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ingest exit %d", WEXITSTATUS(st));
	g_autofree char *outcomes = h_sqlf(db, "SELECT string_agg(waybill_no || ' ' || outcome, ', ' ORDER BY waybill_no)"
						 " FROM lines");
	cr_assert_str_eq(outcomes, "RA1 ELIGIBLE, RB1 NOT_REGISTERED_ON_DATE");
}
