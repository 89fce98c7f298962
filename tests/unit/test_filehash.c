/* test_filehash.c: a file's SHA-256 and size (filehash.h), against known digests, across the
 * chunk boundary, and for a file that is not there. */
#include "filehash.h"
#include "status.h"

#include <criterion/criterion.h>
#include <glib/gstdio.h>
#include <string.h>

static char *written(const char *name, const char *bytes, gsize len)
{
	g_autofree char *dir = g_dir_make_tmp("filehash-XXXXXX", NULL);
	cr_assert_not_null(dir);
	char *path = g_build_filename(dir, name, NULL);
	cr_assert(g_file_set_contents(path, bytes, (gssize)len, NULL));
	return path;
}

Test(filehash, known_digests_and_sizes)
{
	static const struct {
		const char *bytes, *sha256;
	} cases[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *path = written("f", cases[i].bytes, strlen(cases[i].bytes));
		char hex[FILEHASH_HEX_MAX];
		uint64_t size = 99;
		cr_assert(filehash_sha256(path, hex, &size, NULL));
		cr_assert_str_eq(hex, cases[i].sha256);
		cr_assert_eq(size, strlen(cases[i].bytes));
	}
}

/* Three chunks and a bit: the digest is GLib's of the whole, the size every byte. */
Test(filehash, a_file_over_several_chunks_is_hashed_whole)
{
	gsize len = 3 * FILEHASH_CHUNK_BYTES + 7;
	g_autofree char *bytes = g_malloc(len);
	for (gsize i = 0; i < len; i++)
		bytes[i] = (char)(i * 31 + 7);
	g_autofree char *path = written("big", bytes, len);
	g_autofree char *want = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)bytes, len);
	char hex[FILEHASH_HEX_MAX];
	uint64_t size = 0;
	cr_assert(filehash_sha256(path, hex, &size, NULL));
	cr_assert_str_eq(hex, want);
	cr_assert_eq(size, len);
}

Test(filehash, a_missing_file_is_no_input_named)
{
	char hex[FILEHASH_HEX_MAX];
	GError *error = NULL;
	cr_assert_not(filehash_sha256("/nonexistent/subsidy/x.csv", hex, NULL, &error));
	cr_assert(g_error_matches(error, FILEHASH_ERROR, STATUS_NOINPUT));
	cr_assert(strstr(error->message, "'/nonexistent/subsidy/x.csv'"), "%s", error->message);
	g_error_free(error);
}
