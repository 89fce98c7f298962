/* manifest.c: the streaming manifest reader; see manifest.h.
 *
 * Bytes flow one way: chunk (MANIFEST_CHUNK_BYTES from the file, hashed and handed to the raw
 * callback) -> physical line (ended by LF, CRLF or CR, alike: header detection reads its line with
 * the same function) -> UTF-8 (GIConv, lossily: a byte that does not decode becomes U+FFFD and
 * rejects its line, but libcsv still sees the line's commas and quotes) -> libcsv (strict, so a
 * closing quote followed by text is seen; a record may span physical lines inside quotes) -> fields
 * (trimmed, Excel's ="..." undone, at most MANIFEST_FIELD_BYTES_MAX each, at most
 * PROFILE_COLUMNS_MAX kept) -> the profile map -> a validated manifest_line. libcsv is fed one
 * decoded physical line at a time, its line end replaced by one LF, with LF as its only record
 * terminator: so a record ends exactly at the end of a physical line, and its line numbers and byte
 * range are those of its physical lines.
 *
 * No line is lost or merged (FORMATS.md: a defect inside one line rejects that line alone):
 * - a quote that closes and is followed by anything but a comma or the line's end is a defect of
 *   its record, which ends at that physical line's end, rejected;
 * - a record that spans physical lines (a quoted field with a line break) stands only when the
 *   bytes say so unambiguously: its quotes pair up cleanly and it has the header's number of
 *   fields. Otherwise its first line is rejected alone, and the lines it took are read again one
 *   by one, each ending at its own line end (a quote opened in them does not span lines): so no
 *   line's bytes are ever inside another line's field, and every byte is tokenised at most twice;
 * - a physical line longer than MANIFEST_RECORD_BYTES_MAX is rejected alone without being kept;
 * - the file is refused whole only for a quote still open at its end, or a record spanning lines
 *   past MANIFEST_RECORD_BYTES_MAX (a quote left open).
 * Every record (the header, a line, a row without an outcome) starts where the one before ended;
 * the physical lines are also counted from the raw bytes on their own, and manifest_tally_check
 * holds the lines a caller stored against both. */
#include "manifest.h"

#include "ident.h"
#include "money.h"
#include "status.h"
#include "text.h"

#include <csv.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

G_DEFINE_QUARK(subsidy-manifest-error-quark, manifest_error)

/* libcsv grows its field buffer by this much at a time. */
#define MANIFEST_CSV_BLOCK_BYTES 4096
/* U+FFFD, what a byte that does not decode (or a NUL) becomes. */
#define REPLACEMENT_CHAR "\xEF\xBF\xBD"
#define REPLACEMENT_BYTES (sizeof REPLACEMENT_CHAR - 1)
/* The pickup format of a pickup_time fixed by --set when the profile reads none from the file. */
#define PICKUP_FORMAT_DEFAULT "%Y-%m-%d %H:%M:%S"
/* libcsv's options: strict (a quote after a closing quote's spaces, or text after a closing quote, is
 * an error it stops at), and every LF ends a record, blank lines too. */
#define CSV_OPTIONS (CSV_STRICT | CSV_REPALL_NL)
/* libcsv's parser state inside a field (libcsv.c's FIELD_BEGUN; struct csv_parser is public, its
 * states are not): with .quoted, a quote still open. */
#define LIBCSV_FIELD_BEGUN 2

/* A record with every field at its longest fits the record limit, which holds whole chunks. */
G_STATIC_ASSERT((gint64)MANIFEST_FIELD_BYTES_MAX * PROFILE_COLUMNS_MAX <= MANIFEST_RECORD_BYTES_MAX);
G_STATIC_ASSERT(MANIFEST_CHUNK_BYTES <= MANIFEST_RECORD_BYTES_MAX);
G_STATIC_ASSERT(MANIFEST_CSV_BLOCK_BYTES <= MANIFEST_CHUNK_BYTES);
/* The named fields of manifest_line alias its field array one for one. */
G_STATIC_ASSERT(sizeof(((manifest_line *)0)->field) == PROFILE_FIELD_COUNT * sizeof(const char *));
G_STATIC_ASSERT(offsetof(manifest_line, destination) - offsetof(manifest_line, courier) ==
		PROFILE_DESTINATION * sizeof(const char *));

/* Why a record's quotes are a defect (the record is rejected for it). */
typedef enum {
	QUOTE_OK,
	QUOTE_TEXT_AFTER,  /* a closing quote followed by text, on the record's one line */
	QUOTE_SPAN_TEXT,   /* a quote left open at the first line's end closes later followed by text */
	QUOTE_SPAN_FIELDS, /* ... closes later, making the wrong number of fields */
	QUOTE_SPAN_LINE,   /* ... would take a line that could be a line of its own */
	QUOTE_UNCLOSED,    /* a quote left open at the end of a line read on its own */
} quote_defect;

/* The record being tokenised. */
typedef struct {
	uint64_t line_no;        /* its first physical line */
	uint64_t line_count;     /* its physical lines */
	uint64_t offset;         /* its first byte in the file */
	uint64_t len;            /* its bytes so far, line ends included */
	uint64_t first_len;      /* the bytes of its first physical line */
	gboolean open;           /* a physical line of it was fed and libcsv has not ended it */
	gboolean ended;          /* libcsv reported its end */
	gboolean overlong;       /* a physical line over MANIFEST_RECORD_BYTES_MAX, not tokenised */
	guint n_fields;          /* all of them, kept or not */
	gboolean nonblank;       /* some field is not empty */
	int64_t nul_at;          /* file offset of its first NUL byte, -1: none */
	int64_t bad_at;          /* file offset of its first byte that does not decode, -1: none */
	guint8 bad_byte;
	guint overlong_field;    /* 1-based index of its first field over MANIFEST_FIELD_BYTES_MAX, 0: none */
	gsize overlong_len;
	quote_defect quote;      /* its quotes, for the reason */
	guint quote_field;       /* 1-based: the field whose quote is the defect */
	uint64_t quote_line;     /* QUOTE_SPAN_*: the line where the quote closed (or the line it would take) */
	guint quote_fields;      /* QUOTE_SPAN_FIELDS: the fields it would make */
	char quote_after[8];     /* QUOTE_*TEXT*: the character after the closing quote (UTF-8) */
	GString *text;           /* the kept values, each NUL-terminated, then joined values */
	gsize start[PROFILE_COLUMNS_MAX];
	gsize len_of[PROFILE_COLUMNS_MAX];
} record;

/* One physical line, as read_line gives it. */
typedef struct {
	const guint8 *bytes; /* the line, its line end included; NULL when overlong (or at the end) */
	gsize len;           /* its bytes, line end included (all of them when overlong) */
	gsize content;       /* its bytes without its line end */
	uint64_t offset;     /* of its first byte in the file */
	gboolean overlong;   /* longer than MANIFEST_RECORD_BYTES_MAX: its bytes were not kept */
} physical_line;

struct manifest_reader {
	char *path;
	char *name;              /* base name, for messages */
	FILE *file;
	profile_map *map;
	manifest_raw_fn raw_fn;
	gpointer raw_user_data;

	guint8 *chunk;           /* MANIFEST_CHUNK_BYTES */
	gsize chunk_len, chunk_pos;
	uint64_t chunk_offset;   /* file offset of chunk[0] */
	gboolean at_eof;
	GChecksum *sha256;
	char *sha256_hex;        /* set at a clean end */
	uint64_t size;
	guint8 head[TEXT_FILE_KIND_BYTES]; /* the file's first bytes, to name what kind of file it is */
	gsize head_len;
	/* The physical lines of the raw bytes, counted on their own (not with read_line): the check
	 * that every line was read once. */
	uint64_t raw_line_ends;
	guint8 raw_last;         /* the last byte read, 0 before any */

	GByteArray *line;        /* a physical line that crosses a chunk's end */
	GByteArray *again;       /* physical lines to read again before the chunks (a record cut back) */
	gsize again_pos;
	uint64_t again_offset;   /* file offset of again->data[0] */
	uint64_t single_until;   /* lines up to this one are read one by one: a quote does not span lines */
	GByteArray *rec_raw;     /* the bytes of a record spanning physical lines, from its first */
	uint64_t physical_lines; /* read so far, header included */
	GIConv cd;
	gboolean utf8;           /* the file is UTF-8: checked by GLib, not iconv (see decode_line) */
	GString *decoded;        /* the physical line in UTF-8, then LF */
	struct csv_parser csv;
	gboolean csv_ready;
	record rec;

	/* Where the next record must start (every record starts where the one before ended). */
	uint64_t chain_line, chain_offset;
	gboolean chain_broken;
	uint64_t header_lines, header_bytes; /* the header and the blank lines above it */
	uint64_t quiet_lines, quiet_bytes;   /* in rows without an outcome: blank lines, the totals row */
	uint64_t lines_physical, lines_bytes; /* in the lines returned */

	GString *reason;
	GString *courier;        /* the line's courier code (ident_courier_code) */
	GString *waybill_no;     /* the line's waybill number in normal form (ident_normalize) */
	GString *order_no;       /* the line's order number in normal form */
	GString *fee_text;       /* a fee summed from several columns, as an amount */
	uint64_t lines;
	gboolean finished;       /* manifest_next returned FALSE */
	gboolean clean;          /* ... without error */

	uint64_t totals_line;    /* line of the totals row, 0: not seen */
	int64_t totals_fen;
	int64_t sum_fen;
};

static gboolean refuse(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Sets a STATUS_DATAERR error: the file is refused whole. Returns FALSE. */
static gboolean refuse(GError **error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *message = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, MANIFEST_ERROR, STATUS_DATAERR, message);
	return FALSE;
}

/* ---- bytes: chunks and physical lines ---- */

/* Counts the line ends of bytes the simplest way: LF, and CR not followed by LF. */
static void count_line_ends(manifest_reader *r, const guint8 *bytes, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		if (bytes[i] == '\n')
			r->raw_line_ends++;
		else if (r->raw_last == '\r')
			r->raw_line_ends++;
		r->raw_last = bytes[i];
	}
}

/* Reads the next chunk, hashes it and hands it to raw_fn; sets at_eof at the end. */
static gboolean read_chunk(manifest_reader *r, GError **error)
{
	g_assert(r->chunk_pos == r->chunk_len && !r->at_eof);
	r->chunk_offset += r->chunk_len;
	r->chunk_pos = 0;
	r->chunk_len = fread(r->chunk, 1, MANIFEST_CHUNK_BYTES, r->file);
	if (r->chunk_len == 0) {
		if (ferror(r->file)) {
			g_set_error(error, MANIFEST_ERROR, STATUS_NOINPUT, "cannot read '%s': %s", r->path,
				    g_strerror(errno));
			return FALSE;
		}
		r->at_eof = TRUE;
		/* A last line without a line end is a line; a CR at the very end is one line end. */
		if (r->raw_last == '\r' || (r->raw_last != '\n' && r->size > 0))
			r->raw_line_ends++;
		return TRUE;
	}
	g_checksum_update(r->sha256, r->chunk, r->chunk_len);
	if (r->size == 0) {
		r->head_len = MIN(r->chunk_len, sizeof r->head);
		memcpy(r->head, r->chunk, r->head_len);
	}
	r->size += r->chunk_len;
	count_line_ends(r, r->chunk, r->chunk_len);
	return !r->raw_fn || r->raw_fn(r->chunk, r->chunk_len, r->raw_user_data, error);
}

/* The first line end (LF or CR) in p[0..len), or NULL. */
static const guint8 *find_line_end(const guint8 *p, gsize len)
{
	const guint8 *lf = memchr(p, '\n', len);
	const guint8 *cr = memchr(p, '\r', lf ? (gsize)(lf - p) : len);
	return cr ? cr : lf;
}

/* The next physical line of the bytes to read again (whole lines, each ended as in the file). */
static void read_line_again(manifest_reader *r, physical_line *pl)
{
	const guint8 *p = r->again->data + r->again_pos;
	gsize avail = r->again->len - r->again_pos;
	const guint8 *end = find_line_end(p, avail);
	gsize content = end ? (gsize)(end - p) : avail;
	gsize take = content;
	if (end) {
		take++;
		if (*end == '\r' && take < avail && p[take] == '\n')
			take++;
	}
	pl->bytes = p;
	pl->len = take;
	pl->content = content;
	pl->offset = r->again_offset + r->again_pos;
	r->again_pos += take;
	if (r->again_pos == r->again->len) {
		/* Kept until the next call, which starts by emptying it. */
		r->again_offset += r->again_pos;
	}
}

/* What of the avail bytes at p (avail >= 1) belongs to the physical line being read: take bytes,
 * its content and line end; content, the bytes before a line end (or all taken, when none);
 * ended, when the line ends there. *after_cr: the line so far ends with a CR (the chunk before
 * ended with it), so an LF may only complete its line end; set when p's bytes end with the line's
 * CR, whose LF would be the next chunk's first byte. */
typedef struct {
	gsize take, content;
	gboolean ended;
} line_part;

static line_part part_of_line(const guint8 *p, gsize avail, gboolean *after_cr)
{
	g_assert(avail >= 1);
	line_part part = { 0 };
	if (*after_cr) {
		part.take = *p == '\n' ? 1 : 0;
		part.ended = TRUE;
		return part;
	}
	const guint8 *end = find_line_end(p, avail);
	part.take = end ? (gsize)(end - p) + 1 : avail;
	part.content = end ? part.take - 1 : part.take;
	if (end && *end == '\r') {
		if (part.take < avail) {
			if (p[part.take] == '\n')
				part.take++;
			part.ended = TRUE;
		} else {
			*after_cr = TRUE; /* is the next chunk's first byte its LF? */
		}
	} else if (end) {
		part.ended = TRUE;
	}
	/* Within the bytes given; a line that goes on takes them all. */
	g_assert(part.content <= part.take && part.take <= avail);
	g_assert(part.ended || part.take == avail);
	return part;
}

/* Reads the next physical line from the file's chunks (read_line's contract). */
static gboolean read_line_from_file(manifest_reader *r, physical_line *pl, GError **error)
{
	g_assert(r->again_pos == r->again->len); /* nothing left to read again */
	g_byte_array_set_size(r->line, 0);
	gsize total = 0, content = 0;
	gboolean after_cr = FALSE;
	line_part part = { 0 };
	while (!part.ended) {
		if (r->chunk_pos == r->chunk_len) {
			if (!r->at_eof && !read_chunk(r, error))
				return FALSE;
			if (r->at_eof)
				break;
		}
		const guint8 *p = r->chunk + r->chunk_pos;
		gsize avail = r->chunk_len - r->chunk_pos;
		if (total == 0)
			pl->offset = r->chunk_offset + r->chunk_pos;
		gboolean continues_cr = after_cr;
		part = part_of_line(p, avail, &after_cr);
		if (!continues_cr)
			content = total + part.content;
		r->chunk_pos += part.take;
		if (part.ended && total == 0) {
			/* The whole line is in the chunk: no copy. */
			pl->bytes = p;
			pl->len = part.take;
			pl->content = content;
			return TRUE;
		}
		if (total + part.take <= MANIFEST_RECORD_BYTES_MAX)
			g_byte_array_append(r->line, p, (guint)part.take);
		total += part.take;
	}
	if (total == 0)
		return TRUE; /* the end of the file */
	g_assert(content <= total);
	pl->len = total;
	pl->content = content;
	if (total > MANIFEST_RECORD_BYTES_MAX) {
		pl->overlong = TRUE;
		return TRUE;
	}
	g_assert(r->line->len == total);
	pl->bytes = r->line->data;
	return TRUE;
}

/* Reads the next physical line into *pl: ended by LF, CRLF or CR (a CR at a chunk's end waits for
 * the next chunk's first byte), or by the end of the file; pl->bytes is NULL (and pl->overlong
 * FALSE) at the end of the file. A line longer than MANIFEST_RECORD_BYTES_MAX is read to its end
 * but not kept: pl->overlong, with its length. pl->bytes is valid until the next call. */
static gboolean read_line(manifest_reader *r, physical_line *pl, GError **error)
{
	memset(pl, 0, sizeof *pl);
	if (r->again_pos > 0 && r->again_pos == r->again->len) {
		g_byte_array_set_size(r->again, 0);
		r->again_pos = 0;
	}
	if (r->again_pos < r->again->len)
		read_line_again(r, pl);
	else if (!read_line_from_file(r, pl, error))
		return FALSE;
	if (pl->len > 0)
		r->physical_lines++;
	/* A line has bytes, kept or too long to keep; the end of the file has none. */
	g_assert((pl->len > 0) == (pl->bytes != NULL || pl->overlong));
	g_assert(pl->content <= pl->len && (!pl->overlong || pl->len > MANIFEST_RECORD_BYTES_MAX));
	return TRUE;
}

/* ---- decoding ---- */

/* Makes room for need more bytes after used in out. */
static void reserve(GString *out, gsize used, gsize need)
{
	if (out->len - used < need)
		g_string_set_size(out, MAX(out->len * 2, used + need));
}

/* Notes a byte that does not decode (or a NUL) at file offset at, appends U+FFFD for it. */
static void replace_byte(manifest_reader *r, int64_t *first_at, int64_t at, guint8 byte, gsize *used)
{
	if (*first_at < 0) {
		*first_at = at;
		if (first_at == &r->rec.bad_at)
			r->rec.bad_byte = byte;
	}
	reserve(r->decoded, *used, REPLACEMENT_BYTES);
	memcpy(r->decoded->str + *used, REPLACEMENT_CHAR, REPLACEMENT_BYTES);
	*used += REPLACEMENT_BYTES;
}

/* Decodes raw[0..len) (a physical line without its line end, at file offset offset) into
 * r->decoded with the profile's encoding. A byte that does not decode and a NUL each become
 * U+FFFD and are noted in the record, which rejects the line; the rest decodes as usual, so the
 * CSV structure of the line is kept. UTF-8 is checked with GLib rather than converted: glibc's
 * iconv passes the four-byte forms of code points beyond U+10FFFF (F4 90 80 80 to F7 BF BF BF)
 * from UTF-8 to UTF-8 unchanged, and PostgreSQL refuses them, which would fail the whole file. */
static void decode_line(manifest_reader *r, const guint8 *raw, gsize len, uint64_t offset)
{
	GString *out = r->decoded;
	gsize used = 0;
	g_string_set_size(out, len + len / 2 + REPLACEMENT_BYTES + 1); /* GB18030's 2 bytes are 3 in UTF-8 */
	g_iconv(r->cd, NULL, NULL, NULL, NULL);
	const guint8 *p = raw, *end = raw + len;
	while (p < end) {
		const guint8 *nul = memchr(p, '\0', (size_t)(end - p));
		const guint8 *stop = nul ? nul : end;
		/* UTF-8: copied where GLib finds it valid; the other encodings through iconv. */
		while (p < stop && r->utf8) {
			const gchar *valid_end = NULL;
			gboolean whole = g_utf8_validate((const gchar *)p, (gssize)(stop - p), &valid_end);
			gsize n = (gsize)((const guint8 *)valid_end - p);
			reserve(out, used, n);
			memcpy(out->str + used, p, n);
			used += n;
			p += n;
			if (whole)
				break;
			replace_byte(r, &r->rec.bad_at, (int64_t)(offset + (uint64_t)(p - raw)), *p, &used);
			p++;
		}
		while (p < stop) {
			gchar *in = (gchar *)p;
			gsize in_left = (gsize)(stop - p);
			gchar *o = out->str + used;
			gsize o_left = out->len - used;
			gsize rc = g_iconv(r->cd, &in, &in_left, &o, &o_left);
			int e = errno;
			used = (gsize)(o - out->str);
			p = (const guint8 *)in;
			if (rc != (gsize)-1)
				break;
			if (e == E2BIG) {
				reserve(out, used, in_left * 2 + REPLACEMENT_BYTES);
				continue;
			}
			/* EILSEQ, or EINVAL: a sequence cut short by the line's end or a NUL. */
			replace_byte(r, &r->rec.bad_at, (int64_t)(offset + (uint64_t)(p - raw)), *p, &used);
			p++;
			g_iconv(r->cd, NULL, NULL, NULL, NULL);
		}
		g_assert(p == stop);
		if (nul) {
			replace_byte(r, &r->rec.nul_at, (int64_t)(offset + (uint64_t)(nul - raw)), 0, &used);
			p++;
		}
	}
	g_string_set_size(out, used);
}

/* ---- tokenising ---- */

static int is_lf(unsigned char c)
{
	return c == '\n';
}

/* Trims ASCII white space around v[0..*len). */
static const char *trim(const char *v, gsize *len)
{
	while (*len > 0 && g_ascii_isspace(v[0])) {
		v++;
		(*len)--;
	}
	while (*len > 0 && g_ascii_isspace(v[*len - 1]))
		(*len)--;
	return v;
}

/* libcsv's field callback: trims, undoes ="..." (Excel's keep-as-text), keeps the value when it
 * fits. libcsv gives `"=""75312345678901"""` as ="75312345678901", the same as the bare cell. */
static void on_field(void *s, size_t len, void *data)
{
	manifest_reader *r = data;
	record *rec = &r->rec;
	guint i = rec->n_fields++;
	gsize n = len;
	const char *v = trim(s ? s : "", &n);
	if (n > 0)
		rec->nonblank = TRUE;
	if (i >= PROFILE_COLUMNS_MAX)
		return; /* counted only: more fields than any header has, so the line is rejected */
	if (n > MANIFEST_FIELD_BYTES_MAX) {
		if (!rec->overlong_field) {
			rec->overlong_field = i + 1;
			rec->overlong_len = n;
		}
		n = 0;
	} else if (r->map->profile->excel_text && n >= 3 && v[0] == '=' && v[1] == '"' && v[n - 1] == '"') {
		n -= 3;
		v = trim(v + 2, &n);
	}
	rec->start[i] = rec->text->len;
	rec->len_of[i] = n;
	g_string_append_len(rec->text, v, (gssize)n);
	g_string_append_c(rec->text, '\0');
}

static void on_record(int c, void *data)
{
	manifest_reader *r = data;
	r->rec.ended = TRUE;
}

/* Gives s[0..len) to libcsv. A quote inside an unquoted field (ab"c, Excel's ="...") is text, as
 * libcsv's lenient mode reads it: strict mode stops at it, and that one byte is given leniently. A
 * closing quote followed by text is a defect of the record: noted, and the record ends there (the
 * rest of the line is not tokenised; the line is rejected). */
static void parse(manifest_reader *r, const char *s, gsize len)
{
	gsize at = 0;
	while (at < len) {
		at += csv_parse(&r->csv, s + at, len - at, on_field, on_record, r);
		if (at == len)
			break;
		if (csv_error(&r->csv) != CSV_EPARSE) /* only a failed allocation, else */
			g_error("libcsv: %s", csv_strerror(csv_error(&r->csv)));
		if (r->csv.quoted) {
			/* After a closing quote (and maybe spaces): text, or another quote. */
			record *rec = &r->rec;
			rec->quote = QUOTE_TEXT_AFTER;
			rec->quote_field = rec->n_fields + 1;
			gsize n = (gsize)(g_utf8_next_char(s + at) - (s + at));
			g_assert(n < sizeof rec->quote_after);
			memcpy(rec->quote_after, s + at, n);
			rec->quote_after[n] = '\0';
			csv_fini(&r->csv, on_field, on_record, r);
			g_assert(rec->ended);
			return;
		}
		csv_set_opts(&r->csv, CSV_OPTIONS & ~CSV_STRICT);
		size_t one = csv_parse(&r->csv, s + at, 1, on_field, on_record, r);
		g_assert(one == 1);
		csv_set_opts(&r->csv, CSV_OPTIONS);
		at++;
	}
}

/* Decodes one physical line and gives it to libcsv with one LF as its line end; alone (a line read
 * on its own), the record ends at the line's end, a quote open or not. */
static void feed(manifest_reader *r, const guint8 *raw, gsize content, uint64_t offset, gboolean alone)
{
	record *rec = &r->rec;
	decode_line(r, raw, content, offset);
	if (!alone) {
		g_string_append_c(r->decoded, '\n');
		parse(r, r->decoded->str, r->decoded->len);
		return;
	}
	parse(r, r->decoded->str, r->decoded->len);
	if (rec->ended)
		return;
	if (r->csv.quoted && r->csv.pstate == LIBCSV_FIELD_BEGUN) {
		rec->quote = QUOTE_UNCLOSED;
		rec->quote_field = rec->n_fields + 1;
	}
	csv_fini(&r->csv, on_field, on_record, r);
	rec->ended = TRUE; /* an empty line gives no row to csv_fini: a blank record */
}

/* Clears what tokenising found in the record (its place in the file stays). */
static void record_clear(record *rec)
{
	rec->ended = rec->nonblank = rec->overlong = FALSE;
	rec->n_fields = rec->overlong_field = rec->quote_field = rec->quote_fields = 0;
	rec->quote = QUOTE_OK;
	rec->quote_line = 0;
	rec->quote_after[0] = '\0';
	rec->nul_at = rec->bad_at = -1;
	g_string_truncate(rec->text, 0);
}

/* The record spans physical lines and is not one record (its quotes do not pair up cleanly, or it
 * has the wrong number of fields): its first line becomes a record alone, rejected, and the lines
 * after it are read again one by one, from the bytes kept. */
static void cut_back(manifest_reader *r, quote_defect why, guint open_field)
{
	record *rec = &r->rec;
	g_assert(rec->line_count > 1 && r->rec_raw->len == rec->len);
	uint64_t last_line = rec->line_no + rec->line_count - 1;
	uint64_t line_of_its_own = rec->quote_line;
	g_autofree char *after = g_strdup(rec->quote_after);
	guint fields = rec->n_fields;
	/* The lines after the first, then what was still to be read again. */
	GByteArray *again = g_byte_array_sized_new((guint)(rec->len - rec->first_len +
							   (r->again->len - r->again_pos)));
	g_byte_array_append(again, r->rec_raw->data + rec->first_len, (guint)(rec->len - rec->first_len));
	if (r->again->len > r->again_pos) /* an empty array's data is NULL: no offset from it */
		g_byte_array_append(again, r->again->data + r->again_pos, r->again->len - r->again_pos);
	g_byte_array_unref(r->again);
	r->again = again;
	r->again_pos = 0;
	r->again_offset = rec->offset + rec->first_len;
	r->physical_lines = rec->line_no;
	r->single_until = MAX(r->single_until, last_line);

	csv_fini(&r->csv, NULL, NULL, NULL);
	record_clear(rec);
	rec->len = rec->first_len;
	rec->line_count = 1;
	const guint8 *first = r->rec_raw->data;
	gsize content = rec->first_len;
	while (content > 0 && (first[content - 1] == '\n' || first[content - 1] == '\r'))
		content--;
	feed(r, first, content, rec->offset, TRUE);
	/* The first line's own reading says the quote is open at its end; the reason says why. */
	rec->quote = why;
	rec->quote_field = open_field;
	rec->quote_line = why == QUOTE_SPAN_LINE ? line_of_its_own : last_line;
	rec->quote_fields = fields;
	g_strlcpy(rec->quote_after, after, sizeof rec->quote_after);
}

/* The commas of a raw line: 0x2C is never part of a multi-byte character in UTF-8 or GB18030. */
static guint count_commas(const guint8 *p, gsize len)
{
	guint n = 0;
	for (const guint8 *c = p; (c = memchr(c, ',', len - (gsize)(c - p))) != NULL; c++)
		n++;
	return n;
}

/* A record spanning lines, ended (its quote closed), stands only when its quotes pair up, no line
 * it takes could be a line of its own (as many commas as the header has: line_of_its_own, 0 when
 * none) and its fields are the header's; else it is cut back (cut_back) to what its first line
 * holds, open_field (1-based) being the field whose quote was open at that line's end. */
static void judge_span(manifest_reader *r, guint open_field, uint64_t line_of_its_own)
{
	record *rec = &r->rec;
	g_assert(rec->ended && rec->line_count >= 2 && open_field >= 1);
	g_assert(line_of_its_own == 0 || line_of_its_own > rec->line_no);
	if (rec->quote == QUOTE_TEXT_AFTER) {
		cut_back(r, QUOTE_SPAN_TEXT, open_field);
	} else if (line_of_its_own) {
		rec->quote_line = line_of_its_own;
		cut_back(r, QUOTE_SPAN_LINE, open_field);
	} else if (rec->n_fields != r->map->n_header) {
		cut_back(r, QUOTE_SPAN_FIELDS, open_field);
	}
}

/* Reads physical lines until a record ends. *eof at the end of the file (no record). */
static gboolean read_record(manifest_reader *r, gboolean *eof, GError **error)
{
	record *rec = &r->rec;
	record_clear(rec);
	rec->open = FALSE;
	rec->line_count = 0;
	g_byte_array_set_size(r->rec_raw, 0);
	guint open_field = 0;         /* the field whose quote is open at the first line's end */
	uint64_t line_of_its_own = 0; /* the first line the record takes that could be a line alone */
	*eof = FALSE;
	while (!rec->ended) {
		physical_line pl;
		if (!read_line(r, &pl, error))
			return FALSE;
		if (!pl.bytes && !pl.overlong) {
			if (rec->open)
				return refuse(error,
					      "quote opened at line %" G_GUINT64_FORMAT " of '%s' is still open at its end",
					      rec->line_no, r->name);
			*eof = TRUE;
			return TRUE;
		}
		if (rec->open && (pl.overlong || rec->len + pl.len > MANIFEST_RECORD_BYTES_MAX))
			return refuse(error,
				      "record at line %" G_GUINT64_FORMAT " of '%s' is longer than %d bytes: "
				      "a quote left open?",
				      rec->line_no, r->name, MANIFEST_RECORD_BYTES_MAX);
		if (!rec->open) {
			rec->open = TRUE;
			rec->line_no = r->physical_lines;
			rec->offset = pl.offset;
			rec->len = 0;
			rec->first_len = pl.len;
		}
		g_assert(pl.offset == rec->offset + rec->len);
		rec->len += pl.len;
		rec->line_count++;
		if (pl.overlong) {
			/* A line alone, not tokenised: rejected for its length. */
			rec->overlong = rec->nonblank = rec->ended = TRUE;
			break;
		}
		gboolean alone = r->physical_lines <= r->single_until;
		feed(r, pl.bytes, pl.content, pl.offset, alone);
		if (rec->line_count == 1 && !rec->ended) {
			open_field = rec->n_fields + 1;
			g_byte_array_append(r->rec_raw, pl.bytes, (guint)pl.len);
			continue;
		}
		if (rec->line_count == 1)
			break;
		g_byte_array_append(r->rec_raw, pl.bytes, (guint)pl.len);
		if (!line_of_its_own && count_commas(pl.bytes, pl.content) + 1 >= r->map->n_header)
			line_of_its_own = r->physical_lines;
		if (!rec->ended)
			continue; /* still open: refused at the end of the file, or past the record limit */
		judge_span(r, open_field, line_of_its_own);
	}
	g_assert(rec->ended);
	rec->open = FALSE;
	return TRUE;
}

/* ---- validation ---- */

static void reject(manifest_reader *r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Records why the line is rejected, unless an earlier check already did: the first reason counts. */
static void reject(manifest_reader *r, const char *fmt, ...)
{
	if (r->reason->len > 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	g_string_vprintf(r->reason, fmt, ap);
	va_end(ap);
}

/* The kept, non-empty value of column i of the record, or NULL. */
static const char *column_value(const manifest_reader *r, guint i)
{
	const record *rec = &r->rec;
	if (i >= rec->n_fields || i >= PROFILE_COLUMNS_MAX || rec->len_of[i] == 0)
		return NULL;
	return rec->text->str + rec->start[i];
}

/* Excel's mark on a long number it re-saved: 1.23457E+11 (one digit, decimals, E+, exponent). */
static gboolean is_scientific(const char *s)
{
	if (!g_ascii_isdigit(*s++))
		return FALSE;
	if (*s == '.') {
		if (!g_ascii_isdigit(*++s))
			return FALSE;
		while (g_ascii_isdigit(*s))
			s++;
	}
	if ((*s != 'E' && *s != 'e') || s[1] != '+' || !g_ascii_isdigit(s[2]))
		return FALSE;
	for (s += 2; g_ascii_isdigit(*s); s++)
		;
	return *s == '\0';
}

/* Fills line->field from the record through the map: a constant, one column, or several columns'
 * non-empty values joined by one space (appended to the record's text). */
static void map_fields(manifest_reader *r, manifest_line *line)
{
	record *rec = &r->rec;
	gssize at[PROFILE_FIELD_COUNT];
	for (int f = 0; f < PROFILE_FIELD_COUNT; f++) {
		const profile_map_field *mf = &r->map->field[f];
		at[f] = -1;
		if (mf->fixed || mf->n_columns == 0 || r->map->profile->field[f].sum)
			continue; /* a sum is sum_fee's */
		if (mf->n_columns == 1) {
			const char *v = column_value(r, mf->column[0]);
			at[f] = v ? v - rec->text->str : -1;
			continue;
		}
		gsize start = rec->text->len;
		for (guint c = 0; c < mf->n_columns; c++) {
			const char *v = column_value(r, mf->column[c]);
			if (!v)
				continue;
			gsize v_at = (gsize)(v - rec->text->str); /* the space may move the text */
			if (rec->text->len > start)
				g_string_append_c(rec->text, ' ');
			g_string_append(rec->text, rec->text->str + v_at); /* GString copes with appending from itself */
		}
		if (rec->text->len > start) {
			at[f] = (gssize)start;
			g_string_append_c(rec->text, '\0');
		}
	}
	/* Pointers only now that the text has stopped growing. */
	for (int f = 0; f < PROFILE_FIELD_COUNT; f++) {
		if (r->map->field[f].fixed)
			line->field[f] = r->map->field[f].fixed;
		else
			line->field[f] = at[f] >= 0 ? rec->text->str + at[f] : NULL;
	}
}

/* Says which column a missing field comes from, for the reason: " (column '邮费(元)' is empty)". */
static void reject_missing(manifest_reader *r, profile_field f)
{
	const profile_map_field *mf = &r->map->field[f];
	if (mf->n_columns == 1)
		reject(r, "missing %s (column '%s' is empty)", profile_field_name(f),
		       r->map->header[mf->column[0]]);
	else
		reject(r, "missing %s", profile_field_name(f));
}

/* The normal form (ident.h) of a waybill or order number, kept in store; NULL when the field is
 * absent or has nothing visible. A waybill with nothing visible rejects the line (it is
 * required); an order number with nothing visible is no order number, as an empty cell is
 * (POLICY.md: a line without an order number is an order of its own), so that a cell holding
 * only a no-break or zero-width space neither rejects an honest line nor joins unrelated ones. */
static const char *normal_number(manifest_reader *r, profile_field f, const char *text, GString *store)
{
	g_assert(f == PROFILE_WAYBILL_NO || f == PROFILE_ORDER_NO);
	if (!text)
		return NULL;
	g_autofree char *normal = ident_normalize(text);
	g_assert(normal != NULL); /* fields are UTF-8: decode_line replaced what did not decode */
	if (!*normal) {
		if (f == PROFILE_WAYBILL_NO)
			reject(r, "%s has nothing visible (only spaces or invisible characters)", profile_field_name(f));
		return NULL;
	}
	g_string_assign(store, normal);
	return store->str;
}

/* POLICY.md check 2: courier, waybill and order numbers are compared, keyed and stored in one
 * normal form, so one parcel written `yt620`, `ＹＴ６２０` or `YT620` and a zero-width space is one
 * waybill, and `ord1` and `ORD1` one order (the line's bytes as received are the file's). A
 * courier is its code: a name of FORMATS.md's list (圆通) in any profile, or of the profile's own
 * [courier_names]; where the profile's courier column holds names (cainiao), any other value
 * rejects the line. */
static void normalise_identifiers(manifest_reader *r, manifest_line *line)
{
	const profile_map *m = r->map;
	const profile *p = m->profile;
	line->waybill_no = normal_number(r, PROFILE_WAYBILL_NO, line->waybill_no, r->waybill_no);
	line->order_no = normal_number(r, PROFILE_ORDER_NO, line->order_no, r->order_no);
	if (!line->courier)
		return;
	gboolean named = FALSE;
	g_autofree char *code = ident_courier_code(line->courier, &named);
	g_assert(code != NULL); /* UTF-8, as above; a [fixed] or --set value too (profile.c) */
	if (!*code) {
		reject(r, "courier has nothing visible (only spaces or invisible characters)");
		line->courier = NULL;
		return;
	}
	if (!named && p->courier_names) {
		const char *own = g_hash_table_lookup(p->courier_names, code); /* keyed in normal form */
		if (own) {
			g_free(code);
			code = g_strdup(own);
			named = TRUE;
		}
	}
	if (!named && p->courier_names && !m->field[PROFILE_COURIER].fixed)
		reject(r, "unknown courier '%s'", line->courier);
	g_string_assign(r->courier, code);
	line->courier = r->courier->str;
}

/* fee=A+B: the fee is the sum of its columns, each an amount, a blank one 0; all blank is no fee.
 * The line's fee text is the sum, as an amount (the cells are in the line's bytes). */
static void sum_fee(manifest_reader *r, manifest_line *line)
{
	const profile_map_field *mf = &r->map->field[PROFILE_FEE];
	int64_t sum = 0;
	gboolean any = FALSE;
	for (guint c = 0; c < mf->n_columns; c++) {
		const char *v = column_value(r, mf->column[c]);
		if (!v)
			continue;
		int64_t fen = 0;
		GError *e = NULL;
		if (!money_parse(v, &fen, &e)) {
			reject(r, "fee: column '%s': %s", r->map->header[mf->column[c]], e->message);
			g_error_free(e);
			return;
		}
		if (!money_add(sum, fen, &sum)) {
			reject(r, "fee: the sum of its columns overflows");
			return;
		}
		any = TRUE;
	}
	if (!any)
		return; /* missing fee */
	char text[MONEY_TEXT_MAX];
	g_string_assign(r->fee_text, money_format(sum, text));
	line->fee = r->fee_text->str;
}

/* Reads pickup_time with the profile's formats, the first that fits; a date without a time of day
 * is the start of that day, and the line says it is a date only. */
static void parse_pickup(manifest_reader *r, manifest_line *line)
{
	const profile *p = r->map->profile;
	static const char *const fallback[] = { PICKUP_FORMAT_DEFAULT, NULL };
	const char *const *formats = p->pickup_formats ? (const char *const *)p->pickup_formats : fallback;
	GError *first = NULL;
	for (const char *const *f = formats; *f; f++) {
		GError *e = NULL;
		gboolean has_time = FALSE, ok;
		if (strcmp(*f, PROFILE_FORMAT_EXCEL) == 0) {
			ok = chrono_parse_excel(line->pickup_time, &line->pickup, &has_time, &e);
			line->pickup_has_seconds = has_time;
		} else {
			ok = chrono_parse(line->pickup_time, *f, &line->pickup, &line->pickup_has_seconds, &e);
			has_time = strstr(*f, "%H") != NULL;
		}
		if (ok) {
			line->pickup_date_only = !has_time;
			g_clear_error(&first);
			return;
		}
		if (!first)
			first = e;
		else
			g_error_free(e);
	}
	if (formats[1]) {
		g_autofree char *all = g_strjoinv("', '", (char **)formats);
		reject(r, "pickup_time: %s (formats tried: '%s')", first->message, all);
	} else {
		reject(r, "pickup_time: %s", first->message);
	}
	g_error_free(first);
}

/* Rejects the record for what the reader found in its bytes: its length, its quotes, a NUL, a
 * byte not of the encoding, its field count, a field too long. */
static void check_record(manifest_reader *r)
{
	const record *rec = &r->rec;
	const profile_map *m = r->map;
	if (rec->overlong)
		reject(r, "line is %" G_GUINT64_FORMAT " bytes long, more than the limit of %d bytes", rec->len,
		       MANIFEST_RECORD_BYTES_MAX);
	switch (rec->quote) {
	case QUOTE_OK:
		break;
	case QUOTE_TEXT_AFTER:
		reject(r, "quote closing field %u is followed by '%s', not a comma or the line's end",
		       rec->quote_field, rec->quote_after);
		break;
	case QUOTE_SPAN_TEXT:
		reject(r, "quote opened in field %u does not close on its line; where it closes, on line %"
		       G_GUINT64_FORMAT ", it is followed by '%s', not a comma or the line's end: "
		       "the lines after it are read on their own", rec->quote_field, rec->quote_line, rec->quote_after);
		break;
	case QUOTE_SPAN_FIELDS:
		reject(r, "quote opened in field %u does not close on its line; read on to line %" G_GUINT64_FORMAT
		       ", it makes %u fields, the header has %u: the lines after it are read on their own",
		       rec->quote_field, rec->quote_line, rec->quote_fields, m->n_header);
		break;
	case QUOTE_SPAN_LINE:
		reject(r, "quote opened in field %u does not close on its line; it would take line %" G_GUINT64_FORMAT
		       ", which has the fields of a line of its own: the lines after it are read on their own",
		       rec->quote_field, rec->quote_line);
		break;
	case QUOTE_UNCLOSED:
		reject(r, "quote opened in field %u does not close on its line (read on its own: the quotes of the"
		       " lines around it do not pair up)", rec->quote_field);
		break;
	}
	if (rec->nul_at >= 0)
		reject(r, "NUL byte at offset %" G_GINT64_FORMAT, rec->nul_at);
	if (rec->bad_at >= 0)
		reject(r, "byte 0x%02X at offset %" G_GINT64_FORMAT " is not valid %s", rec->bad_byte,
		       rec->bad_at, m->profile->encoding);
	if (rec->n_fields != m->n_header)
		reject(r, "has %u fields, the header has %u", rec->n_fields, m->n_header);
	if (rec->overlong_field)
		reject(r, "field %u ('%s') is %zu bytes long, more than %d", rec->overlong_field,
		       rec->overlong_field <= m->n_header ? m->header[rec->overlong_field - 1] : "",
		       rec->overlong_len, MANIFEST_FIELD_BYTES_MAX);
	/* The negative space: a record broken in any of these ways is never a line. */
	gboolean broken = rec->overlong || rec->quote != QUOTE_OK || rec->nul_at >= 0 || rec->bad_at >= 0 ||
			  rec->n_fields != m->n_header || rec->overlong_field;
	g_assert(!broken || r->reason->len > 0);
	g_assert(rec->overlong_field == 0 || rec->overlong_len > MANIFEST_FIELD_BYTES_MAX);
}

/* Rejects the line for its values: a required field or both senders missing, a number in
 * scientific notation, a pickup time or a fee that does not parse. */
static void check_values(manifest_reader *r, manifest_line *line)
{
	const profile_map *m = r->map;
	if (m->profile->field[PROFILE_FEE].sum && !m->field[PROFILE_FEE].fixed)
		sum_fee(r, line);
	for (size_t i = 0; i < PROFILE_REQUIRED_COUNT; i++)
		if (!line->field[profile_required[i]])
			reject_missing(r, profile_required[i]);
	if (!line->sender_code && !line->sender_phone)
		reject(r, "missing sender_code and sender_phone (both empty)");

	normalise_identifiers(r, line);
	if (line->waybill_no && is_scientific(line->waybill_no))
		reject(r, "waybill_no '%s' is in scientific notation (the file was re-saved from Excel)",
		       line->waybill_no);
	if (line->order_no && is_scientific(line->order_no))
		reject(r, "order_no '%s' is in scientific notation (the file was re-saved from Excel)",
		       line->order_no);

	GError *e = NULL;
	if (line->pickup_time)
		parse_pickup(r, line);
	if (line->fee && !money_parse(line->fee, &line->fee_fen, &e)) {
		reject(r, "fee: %s", e->message);
		g_clear_error(&e);
	}
	/* weight_kg, category and destination are kept as received: no money depends on them (a
	 * category check reads the text as it is), so `0.86kg` rejects nothing. */
	g_assert(line->fee_fen >= 0);
	g_assert(r->reason->len > 0 || (line->fee && line->pickup_time && (line->sender_code || line->sender_phone)));
}

/* Check 1 of POLICY.md: the record as a line, typed, rejected with the first problem found. */
static void make_line(manifest_reader *r, manifest_line *line)
{
	const record *rec = &r->rec;
	g_assert(r->map && r->map->profile);
	memset(line, 0, sizeof *line);
	line->line_no = rec->line_no;
	line->line_count = rec->line_count;
	line->byte_offset = rec->offset;
	line->byte_len = rec->len;
	g_string_truncate(r->reason, 0);
	map_fields(r, line);
	check_record(r);
	check_values(r, line);
	line->rejected = r->reason->len > 0;
	line->reason = line->rejected ? r->reason->str : NULL;
	/* A line taken has every field check 1 requires; a line rejected says why. */
	g_assert(line->rejected || (line->courier && line->waybill_no && line->pickup_time && line->fee));
	g_assert(line->rejected == (line->reason != NULL));
}

/* ---- the control total (zto) ---- */

/* TRUE when the record is the profile's totals row: one of its label columns holds one of its
 * labels (合计, 总计, 合计：... as the profile lists them). */
static gboolean is_totals_row(const manifest_reader *r)
{
	const profile_map *m = r->map;
	if (!m->totals)
		return FALSE;
	for (guint i = 0; i < m->n_label_columns; i++) {
		const char *cell = column_value(r, m->label_column[i]);
		if (cell && g_strv_contains((const char *const *)m->profile->totals_labels, cell))
			return TRUE;
	}
	return FALSE;
}

/* Reads the amount in the totals column of the current record: a data line's or the totals row's. */
static gboolean totals_amount(manifest_reader *r, int64_t *fen, GError **error)
{
	const char *column = r->map->header[r->map->totals_column];
	const char *text = column_value(r, (guint)r->map->totals_column);
	GError *e = NULL;
	if (text && money_parse(text, fen, &e))
		return TRUE;
	refuse(error, "cannot check the totals of '%s': %s at line %" G_GUINT64_FORMAT " is not an amount\n%s",
	       r->name, column, r->rec.line_no, e ? e->message : "it is empty");
	g_clear_error(&e);
	return FALSE;
}

/* Takes the totals row: there is one, and it is the last row that is not blank. */
static gboolean take_totals(manifest_reader *r, GError **error)
{
	if (r->totals_line)
		return refuse(error,
			      "second totals row at line %" G_GUINT64_FORMAT " of '%s' (the first is at line %"
			      G_GUINT64_FORMAT ")",
			      r->rec.line_no, r->name, r->totals_line);
	r->totals_line = r->rec.line_no;
	return r->map->totals_column < 0 || totals_amount(r, &r->totals_fen, error);
}

/* Adds the current data line's amount to the sum the totals row must state, whatever the line's
 * outcome: an amount that cannot be read makes the check impossible and refuses the file. */
static gboolean add_to_sum(manifest_reader *r, GError **error)
{
	int64_t fen = 0;
	if (!totals_amount(r, &fen, error))
		return FALSE;
	if (!money_add(r->sum_fen, fen, &r->sum_fen))
		return refuse(error, "the amounts of '%s' overflow 64 bits at line %" G_GUINT64_FORMAT, r->name,
			      r->rec.line_no);
	return TRUE;
}

/* At the end of the file: the checks only the end can make, then the file's hash. */
static gboolean finish(manifest_reader *r, GError **error)
{
	const profile *p = r->map->profile;
	if (p->totals_required && !r->totals_line) {
		g_autofree char *labels = g_strjoinv("' or '", p->totals_labels);
		g_autofree char *where = p->totals_label_columns ? g_strjoinv("' or '", p->totals_label_columns) : NULL;
		if (where)
			return refuse(error, "no totals row ('%s' in column '%s') in '%s': file truncated?", labels,
				      where, r->name);
		return refuse(error, "no totals row ('%s' in the first column) at the end of '%s': file truncated?",
			      labels, r->name);
	}
	if (r->map->totals_column >= 0 && r->totals_line) {
		if (r->totals_fen != r->sum_fen) {
			char says[MONEY_TEXT_MAX], sum[MONEY_TEXT_MAX];
			return refuse(error,
				      "totals row at line %" G_GUINT64_FORMAT " of '%s' says %s, lines sum to %s: "
				      "file truncated or altered?",
				      r->totals_line, r->name, money_format(r->totals_fen, says),
				      money_format(r->sum_fen, sum));
		}
	}
	g_assert(r->at_eof && !r->rec.open && r->again_pos == r->again->len);
	r->sha256_hex = g_strdup(g_checksum_get_string(r->sha256));
	return TRUE;
}

/* ---- every physical line read once ---- */

/* Takes the record just read into the chain of records: it must start where the one before ended.
 * line: it is returned as a line (else it is a row without an outcome). */
static void chain(manifest_reader *r, gboolean line)
{
	const record *rec = &r->rec;
	if (rec->line_no != r->chain_line + 1 || rec->offset != r->chain_offset)
		r->chain_broken = TRUE;
	r->chain_line = rec->line_no + rec->line_count - 1;
	r->chain_offset = rec->offset + rec->len;
	if (line) {
		r->lines_physical += rec->line_count;
		r->lines_bytes += rec->len;
	} else {
		r->quiet_lines += rec->line_count;
		r->quiet_bytes += rec->len;
	}
}

void manifest_tally_add(manifest_tally *t, const manifest_line *line)
{
	if (t->lines > 0 && (line->line_no < t->next_line_no || line->byte_offset < t->next_byte_offset))
		t->overlaps++;
	t->lines++;
	t->physical_lines += line->line_count;
	t->bytes += line->byte_len;
	t->next_line_no = line->line_no + line->line_count;
	t->next_byte_offset = line->byte_offset + line->byte_len;
}

gboolean manifest_tally_check(const manifest_tally *t, const manifest_reader *r, GError **error)
{
	g_assert(r->finished && r->clean); /* called after a clean end only */
	uint64_t after_header = r->raw_line_ends - r->header_lines;
	uint64_t size_after = r->size - r->header_bytes;
	gboolean ok = !r->chain_broken && t->overlaps == 0 && t->lines == r->lines &&
		      r->chain_line == r->raw_line_ends && r->chain_offset == r->size &&
		      t->physical_lines + r->quiet_lines == after_header && t->bytes + r->quiet_bytes == size_after &&
		      t->physical_lines == r->lines_physical && t->bytes == r->lines_bytes;
	if (!ok)
		g_set_error(error, MANIFEST_ERROR, STATUS_SOFTWARE,
			    "the lines of '%s' do not cover it once: %" G_GUINT64_FORMAT " physical lines after the"
			    " header (%" G_GUINT64_FORMAT " bytes), %" G_GUINT64_FORMAT " in %" G_GUINT64_FORMAT
			    " lines taken (%" G_GUINT64_FORMAT " bytes, %" G_GUINT64_FORMAT " out of order), %"
			    G_GUINT64_FORMAT " in rows without an outcome (%" G_GUINT64_FORMAT " bytes)%s",
			    r->name, after_header, size_after, t->physical_lines, t->lines, t->bytes, t->overlaps,
			    r->quiet_lines, r->quiet_bytes, r->chain_broken ? ", a record not where the last ended" : "");
	return ok;
}

/* ---- the reader ---- */

void manifest_close(manifest_reader *r)
{
	if (!r)
		return;
	if (r->file)
		fclose(r->file);
	if (r->cd != (GIConv)-1)
		g_iconv_close(r->cd);
	if (r->csv_ready)
		csv_free(&r->csv);
	profile_map_free(r->map);
	g_checksum_free(r->sha256);
	g_free(r->sha256_hex);
	g_free(r->chunk);
	g_byte_array_unref(r->line);
	g_byte_array_unref(r->again);
	g_byte_array_unref(r->rec_raw);
	g_string_free(r->decoded, TRUE);
	g_string_free(r->rec.text, TRUE);
	g_string_free(r->reason, TRUE);
	g_string_free(r->courier, TRUE);
	g_string_free(r->waybill_no, TRUE);
	g_string_free(r->order_no, TRUE);
	g_string_free(r->fee_text, TRUE);
	g_free(r->path);
	g_free(r->name);
	g_free(r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(manifest_reader, manifest_close)

/* TRUE when a line holds only white space (before the header, such a line is skipped). */
static gboolean is_blank_bytes(const guint8 *bytes, gsize len)
{
	for (gsize i = 0; i < len; i++)
		if (!g_ascii_isspace(bytes[i]))
			return FALSE;
	return TRUE;
}

/* Does some profile allow rows above its header? */
static gboolean any_rows_above(const profile_set *ps, const profile *chosen)
{
	if (chosen)
		return chosen->rows_above_header;
	for (guint i = 0; i < profile_set_size(ps); i++)
		if (profile_set_nth(ps, i)->rows_above_header)
			return TRUE;
	return FALSE;
}

/* The first row did not match (first_error, taken): with a profile that allows rows above its
 * header (a title, a date range), the header is the first row that matches within the first
 * PROFILE_HEADER_ROWS_MAX; the rows above it are kept with the bytes, no outcome. When none
 * matches, the first row's refusal stands. Sets r->map, or fails with the error. */
static gboolean find_header_below(manifest_reader *r, const profile_set *ps, const profile *chosen,
				  const char *const *overrides, GError *first_error, physical_line *header,
				  GError **error)
{
	g_assert(!r->map && first_error);
	if (first_error->code != STATUS_DATAERR || !any_rows_above(ps, chosen) ||
	    strstr(first_error->message, PROFILE_AMBIGUOUS_TEXT)) {
		g_propagate_error(error, first_error);
		return FALSE;
	}
	physical_line pl;
	while (r->physical_lines < PROFILE_HEADER_ROWS_MAX) {
		if (!read_line(r, &pl, error)) {
			g_error_free(first_error);
			return FALSE;
		}
		if (pl.overlong)
			continue;
		if (!pl.bytes)
			break;
		if (is_blank_bytes(pl.bytes, pl.len))
			continue;
		GError *e = NULL;
		r->map = chosen ? profile_map_header(chosen, (const char *)pl.bytes, pl.content, overrides, r->name, NULL)
				: profile_set_detect_below(ps, (const char *)pl.bytes, pl.content, overrides, r->name, &e);
		if (r->map) {
			g_error_free(first_error);
			*header = pl;
			return TRUE;
		}
		if (e) { /* several profiles match this row equally */
			g_error_free(first_error);
			g_propagate_error(error, e);
			return FALSE;
		}
	}
	g_autofree char *below = g_strdup_printf("no row of the first %d matches either", PROFILE_HEADER_ROWS_MAX);
	char *message = text_message_add(first_error->message, "DETAIL", below);
	g_free(first_error->message);
	first_error->message = message;
	g_propagate_error(error, first_error);
	return FALSE;
}

/* The profile named profile_name in ps (*chosen), or none (NULL) when no name is given: the
 * header tells. Refuses a name ps does not have, listing those it has. */
static gboolean choose_profile(const profile_set *ps, const char *profile_name, const profile **chosen,
			       GError **error)
{
	*chosen = NULL;
	if (!profile_name)
		return TRUE;
	*chosen = profile_set_find(ps, profile_name);
	if (!*chosen) {
		g_autoptr(GString) names = g_string_new(NULL);
		for (guint i = 0; i < profile_set_size(ps); i++)
			g_string_append_printf(names, "%s%s", i ? ", " : "", profile_set_nth(ps, i)->name);
		g_set_error(error, MANIFEST_ERROR, STATUS_USAGE, "unknown profile '%s' (profiles: %s)", profile_name,
			    names->str);
		return FALSE;
	}
	g_assert(strcmp((*chosen)->name, profile_name) == 0);
	g_assert(profile_set_size(ps) >= 1);
	return TRUE;
}

/* A refusal of the header gains a hint when the file is no CSV text at all. */
static void hint_file_kind(const manifest_reader *r, GError *error)
{
	const char *hint = error && error->code == STATUS_DATAERR ? text_file_kind_hint(r->head, r->head_len) : NULL;
	if (!hint)
		return;
	char *message = text_message_add(error->message, "HINT", hint);
	g_free(error->message);
	error->message = message;
}

/* The header: the first line that is not blank, read as every line is (the same line ends),
 * mapped by the profile chosen or detected among ps's; or a row below it (find_header_below).
 * Sets r->map and where the lines after the header start. */
static gboolean read_header(manifest_reader *r, const profile_set *ps, const profile *chosen,
			    const char *const *overrides, GError **error)
{
	g_assert(r->map == NULL && r->physical_lines == 0);
	physical_line pl;
	do {
		if (!read_line(r, &pl, error))
			return FALSE;
		if (pl.overlong)
			return refuse(error, "line %" G_GUINT64_FORMAT " of '%s', where its header should be, is longer"
				      " than %d bytes", r->physical_lines, r->name, MANIFEST_RECORD_BYTES_MAX);
	} while (pl.bytes && is_blank_bytes(pl.bytes, pl.len));
	const char *raw = (const char *)pl.bytes;
	gsize len = pl.content;
	if (!raw) {
		if (r->size == 0)
			return refuse(error, "empty file '%s' (0 bytes)", r->name);
		return refuse(error, "no header row in '%s' (only blank lines)", r->name);
	}
	GError *first_error = NULL;
	r->map = chosen ? profile_map_header(chosen, raw, len, overrides, r->name, &first_error)
			: profile_set_detect(ps, raw, len, overrides, r->name, &first_error);
	if (!r->map && !find_header_below(r, ps, chosen, overrides, first_error, &pl, error)) {
		hint_file_kind(r, error ? *error : NULL);
		return FALSE;
	}
	r->header_lines = r->chain_line = r->physical_lines;
	r->header_bytes = r->chain_offset = pl.offset + pl.len;
	/* A header of the profile asked for, within the bytes read so far. */
	g_assert(r->map && (!chosen || r->map->profile == chosen));
	g_assert(r->header_lines >= 1 && r->header_bytes <= r->size);
	return TRUE;
}

manifest_reader *manifest_open(const char *path, const profile_set *ps, const char *profile_name,
			       const char *const *overrides, manifest_raw_fn raw_fn, gpointer raw_user_data,
			       GError **error)
{
	g_return_val_if_fail(path != NULL && ps != NULL, NULL);
	g_autoptr(manifest_reader) r = g_new0(manifest_reader, 1);
	r->path = g_strdup(path);
	r->name = g_path_get_basename(path);
	r->raw_fn = raw_fn;
	r->raw_user_data = raw_user_data;
	r->chunk = g_malloc(MANIFEST_CHUNK_BYTES);
	r->sha256 = g_checksum_new(G_CHECKSUM_SHA256);
	r->line = g_byte_array_new();
	r->again = g_byte_array_new();
	r->rec_raw = g_byte_array_new();
	r->decoded = g_string_new(NULL);
	r->rec.text = g_string_new(NULL);
	r->reason = g_string_new(NULL);
	r->courier = g_string_new(NULL);
	r->waybill_no = g_string_new(NULL);
	r->order_no = g_string_new(NULL);
	r->fee_text = g_string_new(NULL);
	r->cd = (GIConv)-1;

	const profile *chosen = NULL;
	if (!choose_profile(ps, profile_name, &chosen, error))
		return NULL;
	r->file = fopen(path, "rb");
	if (!r->file) {
		g_set_error(error, MANIFEST_ERROR, STATUS_NOINPUT, "cannot open '%s': %s", path,
			    g_strerror(errno));
		return NULL;
	}
	if (!read_header(r, ps, chosen, overrides, error))
		return NULL;

	r->cd = g_iconv_open("UTF-8", r->map->profile->encoding);
	g_assert(r->cd != (GIConv)-1); /* profile_load checked the encoding */
	r->utf8 = g_ascii_strcasecmp(r->map->profile->encoding, "UTF-8") == 0 ||
		  g_ascii_strcasecmp(r->map->profile->encoding, "UTF8") == 0;
	int rc = csv_init(&r->csv, CSV_OPTIONS);
	g_assert(rc == 0);
	r->csv_ready = TRUE;
	csv_set_term_func(&r->csv, is_lf);
	csv_set_blk_size(&r->csv, MANIFEST_CSV_BLOCK_BYTES);
	return g_steal_pointer(&r);
}

gboolean manifest_next(manifest_reader *r, manifest_line *line, GError **error)
{
	g_return_val_if_fail(r != NULL && line != NULL, FALSE);
	g_return_val_if_fail(!r->finished, FALSE);
	for (;;) {
		gboolean eof = FALSE;
		if (!read_record(r, &eof, error))
			break;
		if (eof) {
			finish(r, error);
			break;
		}
		if (!r->rec.nonblank) {
			chain(r, FALSE); /* a blank line, or only empty fields as Excel writes: no line */
			continue;
		}
		if (r->totals_line && r->map->profile->keep_after_totals) {
			chain(r, FALSE); /* 制表人：, a signature: kept with the bytes, no outcome */
			continue;
		}
		if (is_totals_row(r)) {
			if (!take_totals(r, error))
				break;
			chain(r, FALSE);
			continue;
		}
		if (r->totals_line) {
			refuse(error, "line %" G_GUINT64_FORMAT " of '%s' follows the totals row (line %"
			       G_GUINT64_FORMAT "), which must be the last",
			       r->rec.line_no, r->name, r->totals_line);
			break;
		}
		make_line(r, line);
		if (r->map->totals_column >= 0 && !add_to_sum(r, error))
			break;
		chain(r, TRUE);
		r->lines++;
		return TRUE;
	}
	r->finished = TRUE;
	r->clean = !error || !*error;
	return FALSE;
}

const profile_map *manifest_map(const manifest_reader *r)
{
	return r->map;
}

const char *manifest_profile_name(const manifest_reader *r)
{
	return r->map->profile->name;
}

const char *manifest_encoding(const manifest_reader *r)
{
	return r->map->profile->encoding;
}

uint64_t manifest_lines(const manifest_reader *r)
{
	return r->lines;
}

uint64_t manifest_size_bytes(const manifest_reader *r)
{
	return r->size;
}

const char *manifest_sha256(const manifest_reader *r)
{
	return r->sha256_hex;
}

gboolean manifest_totals(const manifest_reader *r, int64_t *totals_fen, int64_t *sum_fen)
{
	if (r->map->totals_column < 0 || !r->totals_line)
		return FALSE;
	*totals_fen = r->totals_fen;
	*sum_fen = r->sum_fen;
	return TRUE;
}
