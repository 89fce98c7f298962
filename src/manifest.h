/* manifest.h: reading a courier manifest, from the file's bytes to typed canonical lines, one record
 * at a time (FORMATS.md, "Courier manifests"; check 1 of POLICY.md's "Who is eligible").
 *
 * The reader streams: it holds one chunk of the file, the physical line being read and the record
 * being tokenised, never the whole file, so memory does not grow with the number of lines. A
 * physical line ends with LF, CRLF or CR (the header's too). Each physical line is decoded to UTF-8
 * with the profile's encoding before libcsv splits it (GB18030 is not self-synchronising; splitting
 * bytes at LF and CR is safe in both encodings, 0x0A and 0x0D are never trail bytes, nor are the
 * quote and the comma). A defect inside one line (text after a closing quote, a line over
 * MANIFEST_RECORD_BYTES_MAX, ...) rejects that line alone and reading resumes at the next physical
 * line: no line's bytes end up in another line's field (manifest.c says how a quote may span
 * lines). No database, no clock: fee_max, pickup in the future, duplicates and eligibility are the
 * caller's. Every error's code is an exit_status (status.h). */
#ifndef SUBSIDY_MANIFEST_H
#define SUBSIDY_MANIFEST_H

#include "chrono.h"
#include "profile.h"

#include <glib.h>
#include <stdint.h>

#define MANIFEST_ERROR manifest_error_quark()
GQuark manifest_error_quark(void);

/* Bytes read from the file at a time, and handed to the raw callback at a time. The fuzz build
 * makes it smaller, so that small inputs cross chunks. */
#ifndef MANIFEST_CHUNK_BYTES
#define MANIFEST_CHUNK_BYTES (64 * 1024)
#endif
/* Longest value of one field, after trimming. The longest real value (an address) is a few hundred
 * bytes; a longer one rejects its line and is not kept. */
#define MANIFEST_FIELD_BYTES_MAX 1024
/* Longest physical line, and longest record (all its physical lines). A longer physical line is
 * rejected alone (its bytes are read on, not kept); a quote still open past it is a quote left
 * open: the file is refused. It bounds the reader's memory. */
#define MANIFEST_RECORD_BYTES_MAX (4 * 1024 * 1024)

/* One record of the file, as a line for the engine. Strings are trimmed UTF-8 without NUL, NULL
 * when absent or empty; they point into storage owned by the reader (or its profile), valid until
 * the next manifest_next or manifest_close. A field is the text of the file (ems' pickup_time is
 * its date and time columns joined with a space), except courier, waybill_no and order_no, which
 * are in the normal form they are compared in (ident.h): the courier its code (圆通 and yto are
 * YTO), the numbers NFKC, upper case, without spaces or invisible characters. */
typedef struct {
	uint64_t line_no;     /* physical line where the record starts; the header is line 1 */
	uint64_t line_count;  /* its physical lines (more than 1: a quoted field with a line break) */
	uint64_t byte_offset; /* of the record's first byte, from the file's first byte (a BOM counts) */
	uint64_t byte_len;    /* of the record in the file, its line end(s) included */
	union {
		const char *field[PROFILE_FIELD_COUNT]; /* by profile_field */
		struct {
			const char *courier, *waybill_no, *order_no, *pickup_time, *sender_code, *sender_phone,
				*weight_kg, *fee, *category, *destination;
		};
	};
	int64_t fee_fen;             /* fee, parsed; meaningful when !rejected */
	chrono_time pickup;          /* pickup_time, parsed (China time); meaningful when !rejected */
	gboolean pickup_has_seconds; /* the profile's pickup format has seconds */
	gboolean pickup_date_only;   /* the pickup format has no time of day: pickup is that day's start */
	gboolean rejected;           /* fails check 1 (validation): the outcome is REJECTED */
	const char *reason;          /* why, naming the field and the problem; NULL when !rejected */
} manifest_line;

/* Receives the file's bytes exactly as read, in order, each byte once (header, blank lines and a
 * totals row included): their concatenation is the file. Called from manifest_open and
 * manifest_next before any line whose bytes a chunk holds is returned; bytes is valid during the
 * call only. Returning FALSE (with error set) stops the reader with that error. */
typedef gboolean (*manifest_raw_fn)(const guint8 *bytes, gsize len, gpointer user_data, GError **error);

typedef struct manifest_reader manifest_reader;

/* Opens path, reads its header row and chooses its profile: profile_name when not NULL (--profile;
 * unknown: STATUS_USAGE), else detected (profile_set_detect). overrides are --set "FIELD=VALUE"
 * pairs (NULL: none; a bad one is STATUS_USAGE). raw_fn (may be NULL) receives the file's bytes.
 * Errors: STATUS_NOINPUT when the file cannot be opened or read; STATUS_DATAERR when the file is
 * refused: empty (0 bytes), no header row, a header no profile or several match, a header lacking a
 * required column. raw_fn may have received the first chunk when it fails. ps must outlive the
 * reader. */
manifest_reader *manifest_open(const char *path, const profile_set *ps, const char *profile_name,
			       const char *const *overrides, manifest_raw_fn raw_fn, gpointer raw_user_data,
			       GError **error);

/* Reads the next line into *line. Returns TRUE with a line (rejected or not); FALSE at the end of
 * the file with no error; FALSE with an error (STATUS_DATAERR, STATUS_NOINPUT on a read error, or
 * raw_fn's) when the file must be refused whole, and then the caller throws away every line it
 * was given. Some refusals can only be known at the end (a quote still open, a totals row missing
 * or disagreeing), so the end of file is only clean when this returns FALSE without error.
 * Blank lines (every field empty) are no line and are skipped; a totals row is not a line either.
 * Do not call again after FALSE. */
gboolean manifest_next(manifest_reader *r, manifest_line *line, GError **error);

/* What a caller took of the lines it was given, to check before it commits that every physical
 * line after the header belongs to exactly one line taken or to a row that gets no outcome (blank
 * lines, a totals row): as the outcome counts are checked. Zero it, add every line taken. */
typedef struct {
	uint64_t lines;            /* lines added */
	uint64_t physical_lines;   /* the physical lines they span */
	uint64_t bytes;            /* their bytes */
	uint64_t next_line_no;     /* where the last one ended */
	uint64_t next_byte_offset;
	uint64_t overlaps;         /* lines that start before the one added before them ended */
} manifest_tally;

void manifest_tally_add(manifest_tally *t, const manifest_line *line);

/* Once manifest_next has returned FALSE without error: TRUE when the lines added, in the reader's
 * order, and the rows without an outcome together hold every physical line after the header (as
 * counted from the file's bytes on their own) and every byte once. Else FALSE with a
 * STATUS_SOFTWARE error: the engine lost or merged a line, nothing may be committed. */
gboolean manifest_tally_check(const manifest_tally *t, const manifest_reader *r, GError **error);

/* Closes the file and frees the reader (NULL is fine). */
void manifest_close(manifest_reader *r);

/* The profile chosen for the file, and its map (columns, overrides). */
const profile_map *manifest_map(const manifest_reader *r);
const char *manifest_profile_name(const manifest_reader *r);
const char *manifest_encoding(const manifest_reader *r);
/* Lines returned so far (a line of the file's count, totals row and blank lines aside). */
uint64_t manifest_lines(const manifest_reader *r);
/* Bytes read so far: the file's size once manifest_next has returned FALSE without error. */
uint64_t manifest_size_bytes(const manifest_reader *r);
/* SHA-256 of the file as lower-case hex, once manifest_next has returned FALSE without error;
 * NULL before. */
const char *manifest_sha256(const manifest_reader *r);
/* For a profile with a totals row, once manifest_next has returned FALSE without error: TRUE, the
 * amount the totals row states and the sum of the data lines, which are then equal. FALSE for a
 * profile without a totals row. */
gboolean manifest_totals(const manifest_reader *r, int64_t *totals_fen, int64_t *sum_fen);

#endif
