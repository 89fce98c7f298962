/* manifest.c: the streaming manifest reader; see manifest.h.
 *
 * Bytes flow one way: chunk (MANIFEST_CHUNK_BYTES from the file, hashed and handed to the raw
 * callback) -> physical line (split at LF) -> UTF-8 (GIConv, lossily: a byte that does not decode
 * becomes U+FFFD and rejects its line, but libcsv still sees the line's commas and quotes) ->
 * libcsv (a record may span physical lines inside quotes) -> fields (trimmed, Excel's ="..."
 * undone, at most MANIFEST_FIELD_BYTES_MAX each, at most PROFILE_COLUMNS_MAX kept) -> the profile
 * map -> a validated manifest_line. libcsv is fed one decoded physical line at a time, its line end
 * replaced by one LF, with LF as its only record terminator: so a record ends exactly at the end of
 * a physical line, and its line number and byte range are those of its physical lines. */
#include "manifest.h"

#include "money.h"
#include "status.h"

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

/* A record with every field at its longest fits the record limit, which holds whole chunks. */
G_STATIC_ASSERT((gint64)MANIFEST_FIELD_BYTES_MAX * PROFILE_COLUMNS_MAX <= MANIFEST_RECORD_BYTES_MAX);
G_STATIC_ASSERT(MANIFEST_CHUNK_BYTES <= MANIFEST_RECORD_BYTES_MAX);
G_STATIC_ASSERT(MANIFEST_CSV_BLOCK_BYTES <= MANIFEST_CHUNK_BYTES);
/* The named fields of manifest_line alias its field array one for one. */
G_STATIC_ASSERT(sizeof(((manifest_line *)0)->field) == PROFILE_FIELD_COUNT * sizeof(const char *));
G_STATIC_ASSERT(offsetof(manifest_line, destination) - offsetof(manifest_line, courier) ==
		PROFILE_DESTINATION * sizeof(const char *));

/* The record being tokenised. */
typedef struct {
	uint64_t line_no;        /* its first physical line */
	uint64_t offset;         /* its first byte in the file */
	uint64_t len;            /* its bytes so far, line ends included */
	gboolean open;           /* a physical line of it was fed and libcsv has not ended it */
	gboolean ended;          /* libcsv reported its end */
	guint n_fields;          /* all of them, kept or not */
	gboolean nonblank;       /* some field is not empty */
	int64_t nul_at;          /* file offset of its first NUL byte, -1: none */
	int64_t bad_at;          /* file offset of its first byte that does not decode, -1: none */
	guint8 bad_byte;
	guint overlong_field;    /* 1-based index of its first field over MANIFEST_FIELD_BYTES_MAX, 0: none */
	gsize overlong_len;
	GString *text;           /* the kept values, each NUL-terminated, then joined values */
	gsize start[PROFILE_COLUMNS_MAX];
	gsize len_of[PROFILE_COLUMNS_MAX];
} record;

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

	GByteArray *line;        /* a physical line that crosses a chunk's end */
	uint64_t physical_lines; /* read so far, header included */
	GIConv cd;
	gboolean utf8;           /* the file is UTF-8: checked by GLib, not iconv (see decode_line) */
	GString *decoded;        /* the physical line in UTF-8, then LF */
	struct csv_parser csv;
	gboolean csv_ready;
	record rec;

	GString *reason;
	GString *courier;        /* the line's courier code, folded to upper case */
	uint64_t lines;
	gboolean finished;       /* manifest_next returned FALSE */

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
		return TRUE;
	}
	g_checksum_update(r->sha256, r->chunk, r->chunk_len);
	r->size += r->chunk_len;
	return !r->raw_fn || r->raw_fn(r->chunk, r->chunk_len, r->raw_user_data, error);
}

/* The line where the record being read starts, for messages. */
static uint64_t record_line_no(const manifest_reader *r)
{
	return r->rec.open ? r->rec.line_no : r->physical_lines + 1;
}

/* Sets *bytes and *len to the next physical line, its LF included when it has one, and *offset to
 * where it starts in the file; *bytes is NULL at the end of the file. *bytes is valid until the next
 * call. room is the most the line may hold (what is left of MANIFEST_RECORD_BYTES_MAX). */
static gboolean read_line(manifest_reader *r, gsize room, const guint8 **bytes, gsize *len, uint64_t *offset,
			  GError **error)
{
	g_byte_array_set_size(r->line, 0);
	*bytes = NULL;
	*len = 0;
	for (;;) {
		if (r->chunk_pos == r->chunk_len) {
			if (!r->at_eof && !read_chunk(r, error))
				return FALSE;
			if (r->at_eof)
				break;
		}
		if (r->line->len == 0)
			*offset = r->chunk_offset + r->chunk_pos;
		const guint8 *p = r->chunk + r->chunk_pos;
		gsize avail = r->chunk_len - r->chunk_pos;
		const guint8 *lf = memchr(p, '\n', avail);
		gsize take = lf ? (gsize)(lf - p) + 1 : avail;
		if (r->line->len + take > room)
			return refuse(error,
				      "record at line %" G_GUINT64_FORMAT " of '%s' is longer than %d bytes: "
				      "a quote left open?",
				      record_line_no(r), r->name, MANIFEST_RECORD_BYTES_MAX);
		r->chunk_pos += take;
		if (lf && r->line->len == 0) {
			/* The whole line is in the chunk: no copy. */
			*bytes = p;
			*len = take;
			break;
		}
		g_byte_array_append(r->line, p, (guint)take);
		if (lf)
			break;
	}
	if (!*bytes && r->line->len > 0) {
		*bytes = r->line->data;
		*len = r->line->len;
	}
	if (*bytes)
		r->physical_lines++;
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

/* Decodes one physical line and gives it to libcsv with one LF as its line end. */
static void feed(manifest_reader *r, const guint8 *raw, gsize len, uint64_t offset)
{
	gsize content = len;
	if (content > 0 && raw[content - 1] == '\n')
		content--;
	if (content > 0 && raw[content - 1] == '\r')
		content--;
	decode_line(r, raw, content, offset);
	g_string_append_c(r->decoded, '\n');
	size_t parsed = csv_parse(&r->csv, r->decoded->str, r->decoded->len, on_field, on_record, r);
	if (parsed != r->decoded->len) /* in libcsv's lenient mode only a failed allocation stops it */
		g_error("libcsv: %s", csv_strerror(csv_error(&r->csv)));
}

/* Reads physical lines until libcsv ends a record. *eof at the end of the file (no record). */
static gboolean read_record(manifest_reader *r, gboolean *eof, GError **error)
{
	record *rec = &r->rec;
	rec->open = rec->ended = rec->nonblank = FALSE;
	rec->n_fields = rec->overlong_field = 0;
	rec->nul_at = rec->bad_at = -1;
	g_string_truncate(rec->text, 0);
	*eof = FALSE;
	while (!rec->ended) {
		const guint8 *raw;
		gsize len;
		uint64_t offset = 0;
		gsize room = MANIFEST_RECORD_BYTES_MAX - (rec->open ? (gsize)rec->len : 0);
		if (!read_line(r, room, &raw, &len, &offset, error))
			return FALSE;
		if (!raw) {
			if (rec->open)
				return refuse(error,
					      "quote opened at line %" G_GUINT64_FORMAT " of '%s' is still open at its end",
					      rec->line_no, r->name);
			*eof = TRUE;
			return TRUE;
		}
		if (!rec->open) {
			rec->open = TRUE;
			rec->line_no = r->physical_lines;
			rec->offset = offset;
			rec->len = 0;
		}
		g_assert(offset == rec->offset + rec->len);
		rec->len += len;
		g_assert(rec->len <= MANIFEST_RECORD_BYTES_MAX);
		feed(r, raw, len, offset);
	}
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

/* Digits, optionally a point and digits: 1, 0.5, 12.25. */
static gboolean is_decimal(const char *s)
{
	if (!g_ascii_isdigit(*s))
		return FALSE;
	while (g_ascii_isdigit(*s))
		s++;
	if (*s == '.') {
		if (!g_ascii_isdigit(*++s))
			return FALSE;
		while (g_ascii_isdigit(*s))
			s++;
	}
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
		if (mf->fixed || mf->n_columns == 0)
			continue;
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

/* Check 1 of POLICY.md: the record as a line, typed, rejected with the first problem found. */
static void make_line(manifest_reader *r, manifest_line *line)
{
	const record *rec = &r->rec;
	const profile_map *m = r->map;
	const profile *p = m->profile;
	memset(line, 0, sizeof *line);
	line->line_no = rec->line_no;
	line->byte_offset = rec->offset;
	line->byte_len = rec->len;
	g_string_truncate(r->reason, 0);
	map_fields(r, line);

	if (rec->nul_at >= 0)
		reject(r, "NUL byte at offset %" G_GINT64_FORMAT, rec->nul_at);
	if (rec->bad_at >= 0)
		reject(r, "byte 0x%02X at offset %" G_GINT64_FORMAT " is not valid %s", rec->bad_byte,
		       rec->bad_at, p->encoding);
	if (rec->n_fields != m->n_header)
		reject(r, "has %u fields, the header has %u", rec->n_fields, m->n_header);
	if (rec->overlong_field)
		reject(r, "field %u ('%s') is %zu bytes long, more than %d", rec->overlong_field,
		       rec->overlong_field <= m->n_header ? m->header[rec->overlong_field - 1] : "",
		       rec->overlong_len, MANIFEST_FIELD_BYTES_MAX);

	const profile_field required[] = { PROFILE_COURIER, PROFILE_WAYBILL_NO, PROFILE_PICKUP_TIME,
					   PROFILE_FEE };
	for (size_t i = 0; i < G_N_ELEMENTS(required); i++)
		if (!line->field[required[i]])
			reject_missing(r, required[i]);
	if (!line->sender_code && !line->sender_phone)
		reject(r, "missing sender_code and sender_phone (both empty)");

	if (line->courier && p->courier_names && !m->field[PROFILE_COURIER].fixed) {
		const char *code = g_hash_table_lookup(p->courier_names, line->courier);
		if (code)
			line->courier = code;
		else
			reject(r, "unknown courier '%s'", line->courier);
	}
	/* Courier codes are compared as codes: "zto" and "ZTO" are one courier, so one waybill
	 * cannot be stored, and paid, once under each spelling. */
	if (line->courier) {
		g_string_assign(r->courier, line->courier);
		for (char *c = r->courier->str; *c; c++)
			*c = g_ascii_toupper(*c);
		line->courier = r->courier->str;
	}
	if (line->waybill_no && is_scientific(line->waybill_no))
		reject(r, "waybill_no '%s' is in scientific notation (the file was re-saved from Excel)",
		       line->waybill_no);
	if (line->order_no && is_scientific(line->order_no))
		reject(r, "order_no '%s' is in scientific notation (the file was re-saved from Excel)",
		       line->order_no);

	GError *e = NULL;
	if (line->pickup_time &&
	    !chrono_parse(line->pickup_time, p->pickup_format ? p->pickup_format : PICKUP_FORMAT_DEFAULT,
			  &line->pickup, &line->pickup_has_seconds, &e)) {
		reject(r, "pickup_time: %s", e->message);
		g_clear_error(&e);
	}
	if (line->fee && !money_parse(line->fee, &line->fee_fen, &e)) {
		reject(r, "fee: %s", e->message);
		g_clear_error(&e);
	}
	if (line->weight_kg && !is_decimal(line->weight_kg))
		reject(r, "weight_kg '%s' is not a number", line->weight_kg);

	line->rejected = r->reason->len > 0;
	line->reason = line->rejected ? r->reason->str : NULL;
}

/* ---- the control total (zto) ---- */

/* TRUE when the record is the profile's totals row (its first cell is totals_row). */
static gboolean is_totals_row(const manifest_reader *r)
{
	const char *first = column_value(r, 0);
	return r->map->totals_column >= 0 && first && strcmp(first, r->map->profile->totals_row) == 0;
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
	return totals_amount(r, &r->totals_fen, error);
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
	if (r->map->totals_column >= 0) {
		if (!r->totals_line)
			return refuse(error,
				      "no totals row ('%s' in the first column) at the end of '%s': file truncated?",
				      p->totals_row, r->name);
		if (r->totals_fen != r->sum_fen) {
			char says[MONEY_TEXT_MAX], sum[MONEY_TEXT_MAX];
			return refuse(error,
				      "totals row at line %" G_GUINT64_FORMAT " of '%s' says %s, lines sum to %s: "
				      "file truncated or altered?",
				      r->totals_line, r->name, money_format(r->totals_fen, says),
				      money_format(r->sum_fen, sum));
		}
	}
	g_assert(r->at_eof && !r->rec.open);
	r->sha256_hex = g_strdup(g_checksum_get_string(r->sha256));
	return TRUE;
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
	g_string_free(r->decoded, TRUE);
	g_string_free(r->rec.text, TRUE);
	g_string_free(r->reason, TRUE);
	g_string_free(r->courier, TRUE);
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
	r->decoded = g_string_new(NULL);
	r->rec.text = g_string_new(NULL);
	r->reason = g_string_new(NULL);
	r->courier = g_string_new(NULL);
	r->cd = (GIConv)-1;

	const profile *chosen = NULL;
	if (profile_name) {
		chosen = profile_set_find(ps, profile_name);
		if (!chosen) {
			g_autoptr(GString) names = g_string_new(NULL);
			for (guint i = 0; i < profile_set_size(ps); i++)
				g_string_append_printf(names, "%s%s", i ? ", " : "",
						       profile_set_nth(ps, i)->name);
			g_set_error(error, MANIFEST_ERROR, STATUS_USAGE, "unknown profile '%s' (profiles: %s)",
				    profile_name, names->str);
			return NULL;
		}
	}
	r->file = fopen(path, "rb");
	if (!r->file) {
		g_set_error(error, MANIFEST_ERROR, STATUS_NOINPUT, "cannot open '%s': %s", path,
			    g_strerror(errno));
		return NULL;
	}

	/* The header: the first line that is not blank. */
	const guint8 *raw;
	gsize len;
	uint64_t offset = 0;
	do {
		if (!read_line(r, MANIFEST_RECORD_BYTES_MAX, &raw, &len, &offset, error))
			return NULL;
	} while (raw && is_blank_bytes(raw, len));
	if (!raw) {
		if (r->size == 0)
			refuse(error, "empty file '%s' (0 bytes)", r->name);
		else
			refuse(error, "no header row in '%s' (only blank lines)", r->name);
		return NULL;
	}
	r->map = chosen ? profile_map_header(chosen, (const char *)raw, len, overrides, r->name, error)
			: profile_set_detect(ps, (const char *)raw, len, overrides, r->name, error);
	if (!r->map)
		return NULL;

	r->cd = g_iconv_open("UTF-8", r->map->profile->encoding);
	g_assert(r->cd != (GIConv)-1); /* profile_load checked the encoding */
	r->utf8 = g_ascii_strcasecmp(r->map->profile->encoding, "UTF-8") == 0 ||
		  g_ascii_strcasecmp(r->map->profile->encoding, "UTF8") == 0;
	int rc = csv_init(&r->csv, CSV_REPALL_NL); /* every LF ends a record, blank lines too */
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
		if (!r->rec.nonblank)
			continue; /* a blank line, or only empty fields as Excel writes: no line */
		if (is_totals_row(r)) {
			if (!take_totals(r, error))
				break;
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
		r->lines++;
		return TRUE;
	}
	r->finished = TRUE;
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
	if (r->map->totals_column < 0)
		return FALSE;
	*totals_fen = r->totals_fen;
	*sum_fen = r->sum_fen;
	return TRUE;
}

gboolean manifest_file_sha256(const char *path, char hex[MANIFEST_SHA256_HEX_MAX], uint64_t *size_bytes,
			      GError **error)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		g_set_error(error, MANIFEST_ERROR, STATUS_NOINPUT, "cannot open '%s': %s", path,
			    g_strerror(errno));
		return FALSE;
	}
	g_autoptr(GChecksum) sha = g_checksum_new(G_CHECKSUM_SHA256);
	g_autofree guint8 *chunk = g_malloc(MANIFEST_CHUNK_BYTES);
	uint64_t size = 0;
	size_t n;
	while ((n = fread(chunk, 1, MANIFEST_CHUNK_BYTES, f)) > 0) {
		g_checksum_update(sha, chunk, n);
		size += n;
	}
	gboolean ok = !ferror(f);
	if (!ok)
		g_set_error(error, MANIFEST_ERROR, STATUS_NOINPUT, "cannot read '%s': %s", path,
			    g_strerror(errno));
	fclose(f);
	if (!ok)
		return FALSE;
	g_strlcpy(hex, g_checksum_get_string(sha), MANIFEST_SHA256_HEX_MAX);
	if (size_bytes)
		*size_bytes = size;
	return TRUE;
}
