/* fuzz/manifest.c: the manifest reader (manifest_open, manifest_next) with every built-in profile,
 * the path ingest takes from a file's bytes to lines: chunks, decoding, libcsv, the profile map,
 * validation, the totals row. No database: the file is a memfd, opened by its /proc path.
 *
 * Input: byte 0 chooses the profile (byte 0 % (profiles + 1): one of them by --profile, or the
 * last value, detection) and the --set overrides (byte 0 / (profiles + 1) % 3: none, courier, a
 * sender code); the rest is the file. Properties: the raw callback sees exactly the file, the size
 * and SHA-256 are the file's, lines come in file order inside the file, every string is UTF-8
 * without NUL (ingest stores them in PostgreSQL), a line that is not rejected has every field
 * check 1 needs and a fee that parses to its fee_fen, a rejected line says why. */
#define _GNU_SOURCE
#include "fuzz.h"

#include "manifest.h"
#include "money.h"

#include <sys/mman.h>
#include <unistd.h>

static profile_set *profiles;
static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	GError *e = NULL;
	profiles = profile_set_load(NULL, &e);
	if (!profiles)
		g_error("built-in profiles: %s", e->message);
	fd = memfd_create("manifest.csv", 0);
	if (fd < 0)
		g_error("memfd_create failed");
	g_snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	return 0;
}

static gboolean on_raw(const guint8 *bytes, gsize len, gpointer user_data, GError **error)
{
	g_byte_array_append(user_data, bytes, (guint)len);
	return TRUE;
}

static void check_text(const char *s, const char *what)
{
	FUZZ_CHECK(s == NULL || g_utf8_validate(s, -1, NULL), "%s is not UTF-8", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	guint n = profile_set_size(profiles);
	guint which = data[0] % (n + 1);
	const char *name = which < n ? profile_set_nth(profiles, which)->name : NULL;
	static const char *const set_courier[] = { "courier=ZTO", NULL };
	static const char *const set_sender[] = { "sender_code=ZT0001", NULL };
	const char *const *const sets[] = { NULL, set_courier, set_sender };
	const char *const *overrides = sets[data[0] / (n + 1) % 3];
	const guint8 *file = data + 1;
	size_t file_len = size - 1;
	FUZZ_CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, file, file_len, 0) == (ssize_t)file_len, "memfd write");

	g_autoptr(GByteArray) seen = g_byte_array_new();
	GError *e = NULL;
	manifest_reader *r = manifest_open(path, profiles, name, overrides, on_raw, seen, &e);
	if (!r) {
		/* The header is the profile module's. */
		FUZZ_CHECK_ERROR(e, e->domain == PROFILE_ERROR ? PROFILE_ERROR : MANIFEST_ERROR, TRUE);
		g_clear_error(&e);
		return 0;
	}
	const profile_map *m = manifest_map(r);
	FUZZ_CHECK(name == NULL || strcmp(manifest_profile_name(r), name) == 0, "profile");
	for (guint i = 0; i < m->n_header; i++)
		check_text(m->header[i], "a header column");

	manifest_line line;
	uint64_t next_offset = 0, lines = 0, prev_line_no = 1;
	while (manifest_next(r, &line, &e)) {
		lines++;
		FUZZ_CHECK(line.line_no > prev_line_no, "line %" G_GUINT64_FORMAT " after %" G_GUINT64_FORMAT,
			   line.line_no, prev_line_no);
		prev_line_no = line.line_no;
		FUZZ_CHECK(line.byte_offset >= next_offset && line.byte_len > 0 &&
				   line.byte_offset + line.byte_len <= file_len,
			   "bytes %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT, line.byte_offset, line.byte_len);
		next_offset = line.byte_offset + line.byte_len;
		for (int f = 0; f < PROFILE_FIELD_COUNT; f++) {
			check_text(line.field[f], profile_field_name(f));
			FUZZ_CHECK(line.field[f] == NULL || line.field[f][0] != '\0', "%s is empty, not NULL",
				   profile_field_name(f));
		}
		if (line.rejected) {
			FUZZ_CHECK(line.reason && line.reason[0], "rejected without a reason");
			check_text(line.reason, "the reason");
			continue;
		}
		FUZZ_CHECK(line.reason == NULL, "a reason for a line that is not rejected");
		FUZZ_CHECK(line.courier && line.waybill_no && line.pickup_time && line.fee &&
				   (line.sender_code || line.sender_phone),
			   "accepted without a required field");
		for (const char *c = line.courier; *c; c++)
			FUZZ_CHECK(!g_ascii_islower(*c), "courier '%s' not folded", line.courier);
		int64_t fen = -1;
		FUZZ_CHECK(money_parse(line.fee, &fen, NULL) && fen == line.fee_fen && fen >= 0, "fee '%s'", line.fee);
	}
	FUZZ_CHECK(manifest_lines(r) == lines, "manifest_lines");
	if (e) {
		FUZZ_CHECK_ERROR(e, MANIFEST_ERROR, TRUE);
		FUZZ_CHECK(manifest_sha256(r) == NULL, "a digest for a refused file");
		g_clear_error(&e);
	} else {
		FUZZ_CHECK(seen->len == file_len && memcmp(seen->data, file, file_len) == 0,
			   "the raw callback saw %u bytes, not the file's %zu", seen->len, file_len);
		FUZZ_CHECK(manifest_size_bytes(r) == file_len, "size");
		g_autofree char *sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, file, file_len);
		FUZZ_CHECK(manifest_sha256(r) && strcmp(manifest_sha256(r), sha) == 0, "sha256");
		int64_t totals, sum;
		if (manifest_totals(r, &totals, &sum))
			FUZZ_CHECK(totals == sum, "totals %" G_GINT64_FORMAT " != sum %" G_GINT64_FORMAT, totals, sum);
	}
	manifest_close(r);
	return 0;
}
