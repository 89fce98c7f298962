/* filehash.h: a file's SHA-256 and size, read in chunks: how ingest and nightly know a file was
 * seen before reading its lines, and how export checks the file it wrote. */
#ifndef SUBSIDY_FILEHASH_H
#define SUBSIDY_FILEHASH_H

#include <glib.h>
#include <stdint.h>

/* 64 lower-case hex digits and the NUL. */
#define FILEHASH_HEX_MAX 65
/* Bytes read at a time: memory stays this, whatever the file's size. */
#define FILEHASH_CHUNK_BYTES (64 * 1024)

#define FILEHASH_ERROR (filehash_error_quark())
GQuark filehash_error_quark(void);

/* The SHA-256 (lower-case hex) and, when size_bytes is not NULL, the size of the file at path.
 * STATUS_NOINPUT when it cannot be opened or read. */
gboolean filehash_sha256(const char *path, char hex[FILEHASH_HEX_MAX], uint64_t *size_bytes, GError **error);

#endif
