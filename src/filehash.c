/* filehash.c: a file's SHA-256 and size; see filehash.h. */
#include "filehash.h"

#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

G_DEFINE_QUARK(subsidy-filehash-error-quark, filehash_error)

gboolean filehash_sha256(const char *path, char hex[FILEHASH_HEX_MAX], uint64_t *size_bytes, GError **error)
{
	g_assert(path != NULL && hex != NULL);
	FILE *f = fopen(path, "rb");
	if (!f) {
		g_set_error(error, FILEHASH_ERROR, STATUS_NOINPUT, "cannot open '%s': %s", path, g_strerror(errno));
		return FALSE;
	}
	g_autoptr(GChecksum) sha = g_checksum_new(G_CHECKSUM_SHA256);
	g_autofree guint8 *chunk = g_malloc(FILEHASH_CHUNK_BYTES);
	uint64_t size = 0;
	size_t n;
	while ((n = fread(chunk, 1, FILEHASH_CHUNK_BYTES, f)) > 0) {
		g_checksum_update(sha, chunk, n);
		size += n;
	}
	gboolean ok = !ferror(f);
	if (!ok)
		g_set_error(error, FILEHASH_ERROR, STATUS_NOINPUT, "cannot read '%s': %s", path, g_strerror(errno));
	fclose(f);
	if (!ok)
		return FALSE;
	const char *digest = g_checksum_get_string(sha);
	g_assert(strlen(digest) == FILEHASH_HEX_MAX - 1);
	g_strlcpy(hex, digest, FILEHASH_HEX_MAX);
	if (size_bytes)
		*size_bytes = size;
	return TRUE;
}
