/* ingest.c: storing manifests; see ingest.h. */
#include "ingest.h"

#include "fault.h"
#include "ident.h"
#include "lines.h"
#include "filehash.h"
#include "manifest.h"
#include "money.h"
#include "order.h"
#include "status.h"
#include "text.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#define INGEST_ERROR ingest_error_quark()
G_DEFINE_QUARK(subsidy-ingest-error-quark, ingest_error)

/* Lines classified and stored per round trip: the memory bound of an ingest. */
#define INGEST_CHUNK_LINES 10000
/* The file's raw bytes are stored in pieces of about this size. */
#define INGEST_RAW_PIECE_BYTES (1024 * 1024)
G_STATIC_ASSERT(INGEST_RAW_PIECE_BYTES >= MANIFEST_CHUNK_BYTES);

/* One line of the chunk being classified; strings live in the chunk's string arena. */
typedef struct {
	uint64_t line_no, byte_offset, byte_len;
	const char *field[PROFILE_FIELD_COUNT];
	int64_t fee_fen;
	chrono_time pickup;
	gboolean pickup_has_seconds;
	gboolean pickup_date_only;
	gboolean typed; /* the reader parsed its fee and pickup */
	gboolean valid; /* passed check 1 */
	policy_outcome outcome;
	const char *reason;
	const char *shop_id;
	const char *campaign_id;
	const char *order_key;
} chunk_line;

/* What duplicate detection compares: the first line of a waybill. */
typedef struct {
	const char *order_no, *sender_code, *sender_phone, *category;
	chrono_time pickup;
	gboolean pickup_has_seconds;
	int64_t fee_fen;
	const char *file;  /* where it is: "file.csv" and its line, written out only for a later line */
	uint64_t line_no;
} first_line;

typedef struct {
	db *d;
	registry *reg;       /* as known inside this file's transaction, under the lock */
	const ingest_options *o;
	const char *path;
	const char *name;    /* path as UTF-8, for the files row (see ingest_file) */
	const char *base;    /* the file's base name as UTF-8, for reasons */
	int64_t file_id;
	GArray *lines;       /* chunk_line */
	GStringChunk *arena; /* the chunk's strings */
	GHashTable *firsts;  /* "courier\x1fwaybill" -> first_line * (owned), this chunk's view */
	GString *raw;        /* raw bytes not yet stored */
	int64_t raw_offset;  /* file offset of raw's first byte */
	int raw_seq;
	GString *copy;
	int64_t outcomes[OUTCOME_COUNT];
	int64_t lines_total; /* lines given an outcome */
	uint64_t lines_read; /* lines the reader returned */
} ingest_ctx;

void ingest_file_result_clear(ingest_file_result *r)
{
	g_free(r->name);
	g_free(r->sha256);
	g_free(r->profile);
	g_free(r->reason);
	if (r->reasons)
		g_ptr_array_unref(r->reasons);
	if (r->preview)
		g_ptr_array_unref(r->preview);
	memset(r, 0, sizeof *r);
}

const char *ingest_status_name(ingest_status s)
{
	switch (s) {
	case INGEST_STORED: return "stored";
	case INGEST_SKIPPED: return "skipped";
	case INGEST_REFUSED: return "refused";
	}
	g_assert_not_reached();
}

gboolean ingest_begin_run(db *d, const char *kind, const char *os_user, int64_t *run_id, GError **error)
{
	const char *params[] = { db_programme(d), kind, os_user };
	char *v = NULL;
	if (!db_scalar(d, "INSERT INTO runs (programme, kind, os_user) VALUES ($1, $2, $3) RETURNING run_id", 3,
		       params, &v, error))
		return FALSE;
	*run_id = g_ascii_strtoll(v, NULL, 10);
	g_free(v);
	return TRUE;
}


static gboolean store_raw(ingest_ctx *c, gboolean final, GError **error)
{
	if (c->raw->len == 0 || (!final && c->raw->len < INGEST_RAW_PIECE_BYTES))
		return TRUE;
	g_autoptr(GString) row = g_string_sized_new(c->raw->len * 2 + 64);
	db_copy_int(row, c->file_id);
	db_copy_int(row, c->raw_seq++);
	db_copy_int(row, c->raw_offset);
	db_copy_bytea(row, (const guchar *)c->raw->str, c->raw->len);
	db_copy_row_end(row);
	c->raw_offset += (int64_t)c->raw->len;
	g_string_truncate(c->raw, 0);
	return db_copy_rows_deferred(c->d, "COPY file_chunks (file_id, seq, offset_bytes, bytes) FROM STDIN", row,
				     error);
}

/* The manifest reader hands us the file's bytes; they are stored in pieces. COPY cannot run
 * while another COPY is open, and the reader calls this only between lines, so it is safe. */
static gboolean on_raw(const guint8 *bytes, gsize len, gpointer user_data, GError **error)
{
	ingest_ctx *c = user_data;
	g_string_append_len(c->raw, (const char *)bytes, (gssize)len);
	return TRUE;
}

static char *waybill_key(const char *courier, const char *waybill_no)
{
	return g_strconcat(courier, "\x1f", waybill_no, NULL);
}

static gboolean same_text(const char *a, const char *b)
{
	return g_strcmp0(a && *a ? a : NULL, b && *b ? b : NULL) == 0;
}

/* POLICY.md check 2: which fields of a later line differ from the first line of its waybill
 * ("" when none: a duplicate). */
static char *differences(const chunk_line *l, const first_line *f)
{
	GString *d = g_string_new(NULL);
	if (!same_text(l->field[PROFILE_ORDER_NO], f->order_no))
		g_string_append(d, ", order_no");
	chrono_time a = l->pickup, b = f->pickup;
	if (!l->pickup_has_seconds || !f->pickup_has_seconds) {
		a -= a % 60;
		b -= b % 60;
	}
	if (a != b)
		g_string_append(d, ", pickup_time");
	if (l->fee_fen != f->fee_fen)
		g_string_append(d, ", fee");
	if (!same_text(l->field[PROFILE_SENDER_CODE], f->sender_code))
		g_string_append(d, ", sender_code");
	g_autofree char *p1 = ident_phone(l->field[PROFILE_SENDER_PHONE]);
	g_autofree char *p2 = ident_phone(f->sender_phone);
	if (strcmp(p1, p2) != 0)
		g_string_append(d, ", sender_phone");
	if (!same_text(l->field[PROFILE_CATEGORY], f->category))
		g_string_append(d, ", category");
	return g_string_free(d, FALSE);
}

/* Checks of POLICY.md check 1 that need the registry or the clock: fee_max, a pickup later than
 * the moment of ingest. */
static void validate_more(ingest_ctx *c, chunk_line *l)
{
	char when[CHRONO_TIME_TEXT_MAX];
	if (l->pickup > c->o->now) {
		chrono_format_time(l->pickup, when);
		g_autofree char *why = g_strdup_printf("pickup_time %s is later than the moment of ingest", when);
		l->valid = FALSE;
		l->reason = g_string_chunk_insert(c->arena, why);
		return;
	}
	const policy_version *pv = registry_policy_on(c->reg, chrono_day_of(l->pickup));
	int64_t fee_max = pv ? pv->fee_max_fen : POLICY_FEE_MAX_DEFAULT_FEN;
	if (l->fee_fen > fee_max) {
		char max[MONEY_TEXT_MAX];
		g_autofree char *why = g_strdup_printf("fee '%s' is above the policy's fee_max %s",
						       l->field[PROFILE_FEE], money_format(fee_max, max));
		l->valid = FALSE;
		l->reason = g_string_chunk_insert(c->arena, why);
	}
}

/* Checks 3-7 for a new waybill. */
static void classify(ingest_ctx *c, chunk_line *l)
{
	chrono_day day = chrono_day_of(l->pickup);
	const registry_shop *shop = NULL;
	policy_line_facts facts = { 0 };
	facts.shop_match = registry_find_shop(c->reg, l->field[PROFILE_COURIER], l->field[PROFILE_SENDER_CODE],
					      l->field[PROFILE_SENDER_PHONE], day, &shop);
	if (shop) {
		facts.registered_from = shop->registered_from;
		facts.registered_to = shop->registered_to;
		l->shop_id = shop->shop_id;
	}
	facts.policy = registry_policy_on(c->reg, day);
	facts.campaign_id = registry_campaign_at(c->reg, l->pickup);
	facts.category = l->field[PROFILE_CATEGORY];
	facts.pickup = l->pickup;
	l->campaign_id = facts.campaign_id;
	char *reason = NULL;
	l->outcome = policy_classify(&facts, &reason);
	if (reason) {
		l->reason = g_string_chunk_insert(c->arena, reason);
		g_free(reason);
	}
	if (l->outcome == OUTCOME_ELIGIBLE) {
		g_autofree char *key = order_key(l->field[PROFILE_ORDER_NO], l->field[PROFILE_COURIER],
							l->field[PROFILE_WAYBILL_NO]);
		l->order_key = g_string_chunk_insert(c->arena, key);
	}
}

/* The chunk's distinct waybills of valid lines, each with its first line in the chunk, in chunk
 * order: what the chunk may claim. */
typedef struct {
	GPtrArray *courier, *waybill_no; /* const char * into the arena */
	GArray *line_no;		  /* uint64_t */
} chunk_keys;

static void chunk_keys_collect(ingest_ctx *c, chunk_keys *k)
{
	k->courier = g_ptr_array_new();
	k->waybill_no = g_ptr_array_new();
	k->line_no = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint i = 0; i < c->lines->len; i++) {
		chunk_line *l = &g_array_index(c->lines, chunk_line, i);
		if (!l->valid)
			continue;
		char *key = waybill_key(l->field[PROFILE_COURIER], l->field[PROFILE_WAYBILL_NO]);
		if (!g_hash_table_add(seen, key))
			continue;
		g_ptr_array_add(k->courier, (gpointer)l->field[PROFILE_COURIER]);
		g_ptr_array_add(k->waybill_no, (gpointer)l->field[PROFILE_WAYBILL_NO]);
		g_array_append_val(k->line_no, l->line_no);
	}
}

static void chunk_keys_clear(chunk_keys *k)
{
	g_ptr_array_free(k->courier, TRUE);
	g_ptr_array_free(k->waybill_no, TRUE);
	g_array_free(k->line_no, TRUE);
}

/* Rows a range probe may return per courier before the exact probe is used instead, per key of
 * the chunk. */
#define INGEST_PROBE_ROWS_PER_KEY 2

/* Which of the chunk's keys were claimed before it (by an earlier chunk or file): into *claimed
 * ("courier\x1fwaybill", owned), with courier[] and waybill_no[] the chunk's keys as text[]
 * literals. A probe per key (an index descent each, what made INSERT ... ON CONFLICT cost twice a
 * plain insert) is needed only when the keys are scattered: waybill numbers run in sequence per
 * courier, so first the claims between each courier's smallest and largest key in the chunk are
 * read (one descent per courier, and nothing to read for a new range); the exact probe runs only
 * when such a range holds more claims than INGEST_PROBE_ROWS_PER_KEY per key. The range is the
 * index's own: min and max are taken bytewise (COLLATE "C"), as waybills.waybill_no compares since
 * migration 014, whatever the server's locale (under en-US, 'A_1' < 'AB', bytewise 'AB' < 'A_1',
 * and a range taken one way and read the other missed the claims in it). */
static gboolean probe_claims(ingest_ctx *c, const char *couriers, const char *waybills, guint n_keys,
			     GHashTable *claimed, GError **error)
{
	enum { CLAIM_COURIER, CLAIM_WAYBILL_NO, CLAIM_COLUMNS }; /* both queries' */
	g_assert(n_keys > 0 && g_hash_table_size(claimed) == 0);
	char cap[24];
	g_snprintf(cap, sizeof cap, "%u", n_keys * INGEST_PROBE_ROWS_PER_KEY + 1);
	const char *p4[] = { db_programme(c->d), couriers, waybills, cap };
	PGresult *res = db_query(c->d,
				 "WITH r AS (SELECT courier, min(waybill_no COLLATE \"C\") AS lo, max(waybill_no COLLATE \"C\") AS hi"
				 "  FROM unnest($2::text[], $3::text[]) AS k (courier, waybill_no) GROUP BY courier)"
				 " SELECT r.courier, w.waybill_no FROM r CROSS JOIN LATERAL (SELECT w.waybill_no FROM waybills w"
				 "  WHERE w.programme = $1 AND w.courier = r.courier AND w.waybill_no >= r.lo"
				 "  AND w.waybill_no <= r.hi LIMIT $4::int) w",
				 4, p4, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == CLAIM_COLUMNS);
	g_autoptr(GHashTable) per_courier = g_hash_table_new(g_str_hash, g_str_equal);
	gboolean scattered = FALSE;
	for (int i = 0; i < PQntuples(res) && !scattered; i++) {
		const char *courier = PQgetvalue(res, i, CLAIM_COURIER);
		guint n = GPOINTER_TO_UINT(g_hash_table_lookup(per_courier, courier)) + 1;
		g_hash_table_insert(per_courier, (gpointer)courier, GUINT_TO_POINTER(n));
		scattered = n > n_keys * INGEST_PROBE_ROWS_PER_KEY;
		g_hash_table_add(claimed, waybill_key(courier, PQgetvalue(res, i, CLAIM_WAYBILL_NO)));
	}
	g_hash_table_remove_all(per_courier);
	PQclear(res);
	if (!scattered)
		return TRUE; /* claimed holds every claim in the ranges: the chunk's keys among them */
	g_hash_table_remove_all(claimed);
	const char *p3[] = { db_programme(c->d), couriers, waybills };
	res = db_query(c->d,
		       "SELECT w.courier, w.waybill_no FROM unnest($2::text[], $3::text[]) AS k (courier, waybill_no)"
		       " JOIN waybills w ON w.programme = $1 AND w.courier = k.courier AND w.waybill_no = k.waybill_no",
		       3, p3, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == CLAIM_COLUMNS);
	for (int i = 0; i < PQntuples(res); i++)
		g_hash_table_add(claimed,
				 waybill_key(PQgetvalue(res, i, CLAIM_COURIER), PQgetvalue(res, i, CLAIM_WAYBILL_NO)));
	/* Each of the chunk's keys (distinct) is claimed once at most (waybills' key). */
	g_assert(g_hash_table_size(claimed) == (guint)PQntuples(res) && g_hash_table_size(claimed) <= n_keys);
	PQclear(res);
	return TRUE;
}

/* The chunk's keys that were claimed before it, with the chunk's first line of each. */
typedef struct {
	GPtrArray *courier, *waybill_no; /* const char *, into the arena */
	GPtrArray *line_no;              /* char *, owned */
} old_claims;

static void old_claims_init(old_claims *o)
{
	o->courier = g_ptr_array_new();
	o->waybill_no = g_ptr_array_new();
	o->line_no = g_ptr_array_new_with_free_func(g_free);
}

static void old_claims_clear(old_claims *o)
{
	g_ptr_array_free(o->courier, TRUE);
	g_ptr_array_free(o->waybill_no, TRUE);
	g_ptr_array_free(o->line_no, TRUE);
}

/* Claims each of the chunk's keys that claimed does not hold (for its first line in the chunk), by
 * COPY into waybills; *fresh gets them, *old the others. */
static gboolean claim_new(ingest_ctx *c, const chunk_keys *k, GHashTable *claimed, GHashTable *fresh,
			  old_claims *old, GError **error)
{
	const char *programme = db_programme(c->d);
	g_autoptr(GString) rows = g_string_new(NULL);
	for (guint i = 0; i < k->courier->len; i++) {
		const char *courier = g_ptr_array_index(k->courier, i), *waybill = g_ptr_array_index(k->waybill_no, i);
		uint64_t line_no = g_array_index(k->line_no, uint64_t, i);
		char *key = waybill_key(courier, waybill);
		if (g_hash_table_contains(claimed, key)) {
			g_free(key);
			g_ptr_array_add(old->courier, (gpointer)courier);
			g_ptr_array_add(old->waybill_no, (gpointer)waybill);
			g_ptr_array_add(old->line_no, g_strdup_printf("%" G_GUINT64_FORMAT, line_no));
			continue;
		}
		gboolean added = g_hash_table_add(fresh, key);
		g_assert(added); /* the chunk's keys are distinct */
		db_copy_text(rows, programme);
		db_copy_text(rows, courier);
		db_copy_text(rows, waybill);
		db_copy_int(rows, c->file_id);
		db_copy_int(rows, (int64_t)line_no);
		db_copy_row_end(rows);
	}
	g_assert(g_hash_table_size(fresh) + old->courier->len == k->courier->len);
	return db_copy_rows_deferred(c->d, "COPY waybills (programme, courier, waybill_no, file_id, line_no)"
				     " FROM STDIN", rows, error);
}

/* A claim a withdrawal released (acts.h) is taken by this chunk's first line of the waybill, as a
 * new one: those move from *old to *fresh. */
static gboolean retake_released(ingest_ctx *c, old_claims *old, GHashTable *fresh, GError **error)
{
	g_autofree char *couriers = db_text_array((const char *const *)old->courier->pdata, old->courier->len);
	g_autofree char *waybills = db_text_array((const char *const *)old->waybill_no->pdata, old->waybill_no->len);
	g_autofree char *lines = db_text_array((const char *const *)old->line_no->pdata, old->line_no->len);
	char file_id[24];
	g_snprintf(file_id, sizeof file_id, "%" G_GINT64_FORMAT, (gint64)c->file_id);
	const char *p5[] = { db_programme(c->d), couriers, waybills, file_id, lines };
	PGresult *res = db_query(c->d,
		       "INSERT INTO claim_moves (programme, courier, waybill_no, file_id, line_no)"
		       " SELECT $1, k.courier, k.waybill_no, $4::bigint, k.line_no"
		       " FROM unnest($2::text[], $3::text[], $5::bigint[]) AS k (courier, waybill_no, line_no)"
		       " JOIN LATERAL (SELECT m.file_id FROM claim_moves m WHERE m.programme = $1"
		       "  AND m.courier = k.courier AND m.waybill_no = k.waybill_no ORDER BY m.move_id DESC LIMIT 1) m"
		       "  ON m.file_id IS NULL RETURNING courier, waybill_no",
		       5, p5, error);
	if (!res)
		return FALSE;
	enum { RETAKEN_COURIER, RETAKEN_WAYBILL_NO, RETAKEN_COLUMNS };
	g_assert(PQnfields(res) == RETAKEN_COLUMNS);
	int retaken = PQntuples(res);
	g_assert((guint)retaken <= old->courier->len); /* one move at most for each old claim */
	for (int i = 0; i < retaken; i++)
		g_hash_table_add(fresh, waybill_key(PQgetvalue(res, i, RETAKEN_COURIER),
						    PQgetvalue(res, i, RETAKEN_WAYBILL_NO)));
	PQclear(res);
	guint kept = 0;
	for (guint i = 0; retaken > 0 && i < old->courier->len; i++) {
		g_autofree char *key = waybill_key(old->courier->pdata[i], old->waybill_no->pdata[i]);
		if (g_hash_table_contains(fresh, key))
			continue;
		old->courier->pdata[kept] = old->courier->pdata[i];
		old->waybill_no->pdata[kept++] = old->waybill_no->pdata[i];
	}
	if (retaken > 0) {
		g_assert(kept + (guint)retaken == old->courier->len);
		g_ptr_array_set_size(old->courier, kept);
		g_ptr_array_set_size(old->waybill_no, kept);
	}
	return TRUE;
}

/* What did the line holding each of the *old claims say? Into c->firsts. */
static gboolean learn_firsts(ingest_ctx *c, const old_claims *old, GError **error)
{
	enum {
		FIRST_COURIER, FIRST_WAYBILL_NO, FIRST_ORDER_NO, FIRST_PICKUP, FIRST_PICKUP_HAS_SECONDS, FIRST_FEE_FEN,
		FIRST_SENDER_CODE, FIRST_SENDER_PHONE, FIRST_CATEGORY, FIRST_FILE_NAME, FIRST_LINE_NO, FIRST_COLUMNS
	};
	g_autofree char *couriers = db_text_array((const char *const *)old->courier->pdata, old->courier->len);
	g_autofree char *waybills = db_text_array((const char *const *)old->waybill_no->pdata, old->waybill_no->len);
	const char *p3[] = { db_programme(c->d), couriers, waybills };
	PGresult *res = db_query(c->d,
		       "SELECT k.courier, k.waybill_no, l.order_no, l.pickup_time, l.pickup_has_seconds,"
		       " l.fee_fen, l.sender_code, l.sender_phone, l.category, coalesce(f.name, ''), l.line_no"
		       " FROM unnest($2::text[], $3::text[]) AS k (courier, waybill_no)"
		       " JOIN waybills w ON w.programme = $1 AND w.courier = k.courier AND w.waybill_no = k.waybill_no"
		       " LEFT JOIN LATERAL (SELECT m.file_id, m.line_no FROM claim_moves m WHERE m.programme = $1"
		       "  AND m.courier = w.courier AND m.waybill_no = w.waybill_no ORDER BY m.move_id DESC LIMIT 1) m ON TRUE"
		       " JOIN lines l ON l.file_id = coalesce(m.file_id, w.file_id) AND l.line_no = coalesce(m.line_no, w.line_no)"
		       " LEFT JOIN files f ON f.file_id = l.file_id",
		       3, p3, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == FIRST_COLUMNS);
	for (int i = 0; i < PQntuples(res); i++) {
		first_line *f = g_new0(first_line, 1);
#define TEXT(col) (PQgetisnull(res, i, col) ? NULL : g_string_chunk_insert(c->arena, PQgetvalue(res, i, col)))
		f->order_no = TEXT(FIRST_ORDER_NO);
		gboolean parsed = chrono_parse_time(PQgetvalue(res, i, FIRST_PICKUP), &f->pickup, NULL);
		g_assert(parsed);
		f->pickup_has_seconds = strcmp(PQgetvalue(res, i, FIRST_PICKUP_HAS_SECONDS), "t") == 0;
		f->fee_fen = g_ascii_strtoll(PQgetvalue(res, i, FIRST_FEE_FEN), NULL, 10);
		f->sender_code = TEXT(FIRST_SENDER_CODE);
		f->sender_phone = TEXT(FIRST_SENDER_PHONE);
		f->category = TEXT(FIRST_CATEGORY);
#undef TEXT
		const char *name = PQgetvalue(res, i, FIRST_FILE_NAME), *fname = *name ? name : c->base;
		f->file = g_string_chunk_insert(c->arena, fname);
		f->line_no = g_ascii_strtoull(PQgetvalue(res, i, FIRST_LINE_NO), NULL, 10);
		g_assert(f->line_no >= 2); /* the lines table's CHECK: line 1 is a header */
		const char *courier = PQgetvalue(res, i, FIRST_COURIER);
		g_hash_table_insert(c->firsts, waybill_key(courier, PQgetvalue(res, i, FIRST_WAYBILL_NO)), f);
	}
	/* Every claim held is held by a stored line. */
	g_assert(PQntuples(res) == (int)old->courier->len);
	PQclear(res);
	return TRUE;
}

/* Claims the chunk's new waybills (each for its first line in the chunk) and learns what the first
 * line of each of the others said. The claims are plain rows of waybills, written by COPY: its
 * primary key is what makes a claim exactly-once (a key the probe missed would fail the COPY and
 * with it the file, never be claimed twice), and ingests of a programme take turns under the
 * settlement lock. *fresh gets the new keys. */
static gboolean claim_waybills(ingest_ctx *c, GHashTable *fresh, GError **error)
{
	chunk_keys k;
	chunk_keys_collect(c, &k);
	g_assert(g_hash_table_size(fresh) == 0);
	g_autoptr(GHashTable) claimed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	old_claims old;
	old_claims_init(&old);
	gboolean ok = TRUE;
	if (k.courier->len > 0) {
		g_autofree char *couriers = db_text_array((const char *const *)k.courier->pdata, k.courier->len);
		g_autofree char *waybills = db_text_array((const char *const *)k.waybill_no->pdata, k.waybill_no->len);
		ok = probe_claims(c, couriers, waybills, k.courier->len, claimed, error) &&
		     claim_new(c, &k, claimed, fresh, &old, error) &&
		     (old.courier->len == 0 || retake_released(c, &old, fresh, error)) &&
		     (old.courier->len == 0 || learn_firsts(c, &old, error));
	}
	g_assert(!ok || g_hash_table_size(fresh) + old.courier->len == k.courier->len);
	old_claims_clear(&old);
	chunk_keys_clear(&k);
	return ok;
}

static const char copy_lines[] =
	"COPY lines (file_id, line_no, programme, byte_offset, byte_len, courier, waybill_no, order_no, pickup_time,"
	" pickup_has_seconds, sender_code, sender_phone, weight_kg, fee_fen, category, destination, outcome, reason,"
	" shop_id, campaign_id, order_key, pickup_date_only) FROM STDIN";

/* POLICY.md check 2, then checks 3-7 for a waybill's first line: l's outcome. key is l's waybill;
 * fresh holds the waybills this chunk claimed. */
static void judge_line(ingest_ctx *c, chunk_line *l, GHashTable *fresh)
{
	g_assert(l->valid && l->typed);
	g_autofree char *key = waybill_key(l->field[PROFILE_COURIER], l->field[PROFILE_WAYBILL_NO]);
	first_line *f = g_hash_table_lookup(c->firsts, key);
	if (f) {
		g_autofree char *diff = differences(l, f);
		g_autofree char *why =
			*diff ? g_strdup_printf("waybill first seen at %s:%" G_GUINT64_FORMAT "; differs in %s", f->file,
						f->line_no, diff + 2)
			      : g_strdup_printf("waybill first seen at %s:%" G_GUINT64_FORMAT, f->file, f->line_no);
		l->outcome = *diff ? OUTCOME_CONFLICT : OUTCOME_DUPLICATE;
		l->reason = g_string_chunk_insert(c->arena, why);
		return;
	}
	first_line *n = g_new0(first_line, 1);
	n->order_no = l->field[PROFILE_ORDER_NO];
	n->sender_code = l->field[PROFILE_SENDER_CODE];
	n->sender_phone = l->field[PROFILE_SENDER_PHONE];
	n->category = l->field[PROFILE_CATEGORY];
	n->pickup = l->pickup;
	n->pickup_has_seconds = l->pickup_has_seconds;
	n->fee_fen = l->fee_fen;
	n->file = c->base;
	n->line_no = l->line_no;
	/* Exactly once: only a waybill this chunk claimed is classified as a first line. */
	g_assert(g_hash_table_contains(fresh, key));
	g_hash_table_insert(c->firsts, g_steal_pointer(&key), n);
	classify(c, l);
	g_assert(l->outcome != OUTCOME_DUPLICATE && l->outcome != OUTCOME_CONFLICT && l->outcome != OUTCOME_REJECTED);
}

/* Line l's row of copy_lines. */
static void copy_line(ingest_ctx *c, const chunk_line *l)
{
	g_assert(l->outcome != OUTCOME_ELIGIBLE || (l->order_key && l->shop_id && l->typed));
	g_assert((l->outcome == OUTCOME_REJECTED) == !l->valid);
	GString *r = c->copy;
	db_copy_int(r, c->file_id);
	db_copy_int(r, (int64_t)l->line_no);
	db_copy_text(r, db_programme(c->d));
	db_copy_int(r, (int64_t)l->byte_offset);
	db_copy_int(r, (int64_t)l->byte_len);
	for (int f = PROFILE_COURIER; f <= PROFILE_ORDER_NO; f++)
		db_copy_text(r, l->field[f]);
	if (!l->typed) {
		db_copy_null(r);
		db_copy_null(r);
	} else {
		char when[CHRONO_TIME_TEXT_MAX];
		chrono_format_time(l->pickup, when);
		db_copy_text(r, when);
		db_copy_bool(r, l->pickup_has_seconds);
	}
	db_copy_text(r, l->field[PROFILE_SENDER_CODE]);
	db_copy_text(r, l->field[PROFILE_SENDER_PHONE]);
	db_copy_text(r, l->field[PROFILE_WEIGHT_KG]);
	if (l->typed)
		db_copy_int(r, l->fee_fen);
	else
		db_copy_null(r);
	db_copy_text(r, l->field[PROFILE_CATEGORY]);
	db_copy_text(r, l->field[PROFILE_DESTINATION]);
	db_copy_text(r, policy_outcome_name(l->outcome));
	db_copy_text(r, l->outcome == OUTCOME_ELIGIBLE ? NULL : l->reason ? l->reason : "");
	db_copy_text(r, l->shop_id);
	db_copy_text(r, l->campaign_id);
	db_copy_text(r, l->outcome == OUTCOME_ELIGIBLE ? l->order_key : NULL);
	db_copy_bool(r, l->typed && l->pickup_date_only);
	db_copy_row_end(r);
}

/* Classifies the chunk's lines in order and stores them. */
static gboolean flush_chunk(ingest_ctx *c, GError **error)
{
	if (!store_raw(c, TRUE, error))
		return FALSE;
	if (c->lines->len == 0)
		return TRUE;
	for (guint i = 0; i < c->lines->len; i++) {
		chunk_line *l = &g_array_index(c->lines, chunk_line, i);
		if (l->valid)
			validate_more(c, l);
	}
	g_autoptr(GHashTable) fresh = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (!claim_waybills(c, fresh, error))
		return FALSE;
	int64_t before = c->lines_total;
	for (guint i = 0; i < c->lines->len; i++) {
		chunk_line *l = &g_array_index(c->lines, chunk_line, i);
		if (!l->valid)
			l->outcome = OUTCOME_REJECTED;
		else
			judge_line(c, l, fresh);
		c->outcomes[l->outcome]++;
		c->lines_total++;
		copy_line(c, l);
	}
	/* Every line of the chunk has its one outcome. */
	g_assert(c->lines_total - before == (int64_t)c->lines->len);
	if (!db_copy_rows_deferred(c->d, copy_lines, c->copy, error))
		return FALSE;
	g_array_set_size(c->lines, 0);
	g_hash_table_remove_all(c->firsts);
	g_string_chunk_clear(c->arena);
	fault_point("ingest:chunk");
	if (c->o->progress)
		fprintf(stderr, "\ringest: %s: %" G_GINT64_FORMAT " lines", c->base, (gint64)c->lines_total);
	return TRUE;
}

static void take_line(ingest_ctx *c, const manifest_line *m)
{
	chunk_line l = { 0 };
	l.line_no = m->line_no;
	l.byte_offset = m->byte_offset;
	l.byte_len = m->byte_len;
	for (int f = 0; f < PROFILE_FIELD_COUNT; f++)
		l.field[f] = m->field[f] ? g_string_chunk_insert(c->arena, m->field[f]) : NULL;
	l.valid = l.typed = !m->rejected;
	if (l.valid) {
		l.fee_fen = m->fee_fen;
		l.pickup = m->pickup;
		l.pickup_has_seconds = m->pickup_has_seconds;
		l.pickup_date_only = m->pickup_date_only;
	} else {
		/* A line the reader rejected keeps its text fields, no typed value. */
		l.reason = g_string_chunk_insert(c->arena, m->reason);
	}
	g_array_append_val(c->lines, l);
}

/* The engine's own check before it commits: every line it read has exactly one outcome, and the
 * outcomes add up to the lines. (The files row's trigger then checks the stored lines against
 * these counts, outcome by outcome: see sql/001, files_counts_match.) */
static gboolean check_counts(ingest_ctx *c, GError **error)
{
	int64_t sum = 0;
	for (int o = 0; o < OUTCOME_COUNT; o++)
		sum += c->outcomes[o];
	if (sum != c->lines_total || c->lines_total != (int64_t)c->lines_read) {
		g_set_error(error, INGEST_ERROR, STATUS_SOFTWARE,
			    "'%s': %" G_GINT64_FORMAT " lines read but %" G_GINT64_FORMAT " outcomes: nothing committed",
			    c->path, (gint64)c->lines_read, (gint64)sum);
		return FALSE;
	}
	return TRUE;
}

static gboolean record_file(ingest_ctx *c, manifest_reader *m, GError **error)
{
	int64_t ineligible = 0;
	for (int o = 0; o < OUTCOME_COUNT; o++)
		if (policy_outcome_is_ineligible((policy_outcome)o))
			ineligible += c->outcomes[o];
	int64_t totals = 0, sum = 0;
	gboolean has_totals = manifest_totals(m, &totals, &sum);
	char v[10][24];
	const int64_t nums[] = { c->file_id, c->o->run_id, (int64_t)manifest_size_bytes(m), c->lines_total,
				 c->outcomes[OUTCOME_ELIGIBLE], ineligible, c->outcomes[OUTCOME_DUPLICATE],
				 c->outcomes[OUTCOME_CONFLICT], c->outcomes[OUTCOME_REJECTED], totals };
	for (int i = 0; i < 10; i++)
		g_snprintf(v[i], sizeof v[i], "%" G_GINT64_FORMAT, (gint64)nums[i]);
	const char *params[] = { v[0], db_programme(c->d), v[1], c->name, manifest_sha256(m), manifest_profile_name(m),
				 manifest_encoding(m), v[2], v[3], v[4], v[5], v[6], v[7], v[8],
				 has_totals ? v[9] : NULL };
	PGresult *res = db_query(c->d,
				 "WITH f AS (INSERT INTO files (file_id, programme, run_id, name, sha256, profile, encoding,"
				 " size_bytes, lines, eligible, ineligible, duplicate, conflict, rejected, totals_fen)"
				 " VALUES ($1::bigint, $2, $3::bigint, $4, $5, $6, $7, $8::bigint, $9::int, $10::int,"
				 " $11::int, $12::int, $13::int, $14::int, $15::bigint) RETURNING file_id, programme, sha256)"
				 " INSERT INTO file_digests (programme, sha256, file_id) SELECT programme, sha256, file_id FROM f",
				 G_N_ELEMENTS(params), params, error);
	if (!res)
		return FALSE;
	PQclear(res);
	return TRUE;
}

static gboolean keep_preview_line(const char *const *values, gpointer user_data, GError **error)
{
	GPtrArray *preview = user_data;
	char **row = g_new0(char *, LINES_COLUMNS + 1);
	for (int i = 0; i < LINES_COLUMNS; i++)
		row[i] = g_strdup(values[i] ? values[i] : "");
	g_ptr_array_add(preview, row);
	return TRUE;
}

/* A dry run, before its rollback: the first lines as parsed and the most frequent reasons, read
 * from what the transaction stored. */
static gboolean dry_run_report(ingest_ctx *c, ingest_file_result *out, GError **error)
{
	out->preview = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	if (!lines_each(c->d, c->file_id, NULL, INGEST_PREVIEW_LINES, keep_preview_line, out->preview, error))
		return FALSE;
	out->reasons = lines_top_reasons(c->d, c->file_id, INGEST_TOP_REASONS, error);
	return out->reasons != NULL;
}

gboolean ingest_read_reasons(db *d, ingest_file_result *r, GError **error)
{
	g_assert(r->status == INGEST_STORED && !r->reasons);
	r->reasons = lines_top_reasons(d, r->file_id, INGEST_TOP_REASONS, error);
	return r->reasons != NULL;
}

static void refuse(ingest_file_result *out, GError *why)
{
	out->status = INGEST_REFUSED;
	out->exit_status = why->code == STATUS_NOINPUT ? STATUS_NOINPUT : STATUS_DATAERR;
	out->retry = why->code == STATUS_NOINPUT;
	out->reason = g_strdup(why->message);
	out->lines = 0;
	memset(out->outcomes, 0, sizeof out->outcomes);
	g_error_free(why);
}

/* Is the error one that refuses the file (its data), rather than one of the engine? */
static gboolean is_refusal(const GError *e)
{
	return e->domain != DB_ERROR && (e->code == STATUS_DATAERR || e->code == STATUS_NOINPUT);
}

gboolean ingest_is_stdin(const char *operand)
{
	return strcmp(operand, "-") == 0 || strcmp(operand, "/dev/stdin") == 0;
}

/* Bytes copied from standard input at a time. */
#define INGEST_STDIN_COPY_BYTES (64 * 1024)

char *ingest_stdin_save(GError **error)
{
	GError *e = NULL;
	g_autofree char *dir = g_dir_make_tmp("subsidy-stdin-XXXXXX", &e);
	if (!dir) {
		g_set_error(error, INGEST_ERROR, STATUS_SOFTWARE, "cannot keep standard input: %s", e->message);
		g_error_free(e);
		return NULL;
	}
	char *path = g_build_filename(dir, INGEST_STDIN_NAME, NULL);
	int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	g_autofree char *buf = g_malloc(INGEST_STDIN_COPY_BYTES);
	gint64 total = 0;
	ssize_t n = 0;
	int err = out < 0 ? errno : 0;
	gboolean write_failed = out < 0;
	while (!write_failed && (n = read(STDIN_FILENO, buf, INGEST_STDIN_COPY_BYTES)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		total += n;
		if (total > INGEST_STDIN_BYTES_MAX)
			break;
		for (ssize_t done = 0, w; !write_failed && done < n; done += w)
			if ((w = write(out, buf + done, (size_t)(n - done))) < 0) {
				err = errno;
				write_failed = TRUE;
			}
	}
	if (out >= 0 && close(out) != 0 && !err) {
		err = errno;
		write_failed = TRUE;
	}
	if (write_failed)
		g_set_error(error, INGEST_ERROR, STATUS_SOFTWARE, "cannot keep standard input in '%s': %s", path,
			    g_strerror(err));
	else if (n < 0)
		g_set_error(error, INGEST_ERROR, STATUS_NOINPUT, "cannot read standard input: %s", g_strerror(err));
	else if (total > INGEST_STDIN_BYTES_MAX)
		g_set_error(error, INGEST_ERROR, STATUS_DATAERR,
			    "standard input holds more than %" G_GINT64_FORMAT " bytes: save it to a file and ingest"
			    " that", INGEST_STDIN_BYTES_MAX);
	else
		return path;
	ingest_stdin_remove(path);
	g_free(path);
	return NULL;
}

void ingest_stdin_remove(const char *path)
{
	g_unlink(path);
	g_autofree char *dir = g_path_get_dirname(path);
	g_rmdir(dir);
}

/* Refuses (STATUS_NOINPUT) what exists and is not a regular file, without opening it. What does
 * not exist is left to the reader, which says so. */
static gboolean regular_or_absent(const char *path, const char *shown, GError **error)
{
	struct stat st;
	if (stat(path, &st) != 0 || S_ISREG(st.st_mode))
		return TRUE;
	const char *kind = S_ISFIFO(st.st_mode)				? "a fifo"
			   : S_ISSOCK(st.st_mode)			? "a socket"
			   : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
			   : S_ISDIR(st.st_mode)			? "a folder"
									: "not a plain file";
	g_set_error(error, INGEST_ERROR, STATUS_NOINPUT,
		    "'%s' is not a regular file (it is %s): refused without reading it; save it to a file, or give"
		    " '-' to read standard input", shown, kind);
	return FALSE;
}

gboolean ingest_file(db *d, const char *path, const ingest_options *o, ingest_file_result *out, GError **error)
{
	return ingest_file_as(d, path, NULL, o, out, error);
}

/* Skips a file whose bytes were ingested before and not withdrawn: *seen, out says which file it
 * was, and the transaction is rolled back. */
static gboolean seen_before(db *d, const char *sha, ingest_file_result *out, gboolean *seen, GError **error)
{
	const char *p2[] = { db_programme(d), sha };
	g_autofree char *v = NULL;
	if (!db_scalar(d,
		       "SELECT file_id FROM file_digests d WHERE programme = $1 AND sha256 = $2 AND NOT EXISTS"
		       " (SELECT 1 FROM acts a WHERE a.programme = $1 AND a.kind = 'W' AND a.file_id = d.file_id)",
		       2, p2, &v, error))
		return FALSE;
	*seen = v != NULL;
	if (!v)
		return TRUE;
	out->status = INGEST_SKIPPED;
	out->file_id = g_ascii_strtoll(v, NULL, 10);
	g_assert(out->file_id >= 1);
	enum { FILE_PROFILE, FILE_NAME, FILE_INGESTED_AT, FILE_COLUMNS };
	const char *p1[] = { v };
	PGresult *res = db_query(d,
				 "SELECT profile, name, to_char(ingested_at, 'YYYY-MM-DD HH24:MI:SS')"
				 " FROM files WHERE file_id = $1::bigint",
				 1, p1, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == FILE_COLUMNS);
	g_assert(PQntuples(res) == 1);
	out->reason = g_strdup_printf("already ingested as file %s ('%s', on %s)", v, PQgetvalue(res, 0, FILE_NAME),
				      PQgetvalue(res, 0, FILE_INGESTED_AT));
	out->profile = g_strdup(PQgetvalue(res, 0, FILE_PROFILE));
	PQclear(res);
	db_rollback(d);
	return TRUE;
}

/* Reads, classifies and stores every line of m, a chunk at a time. TRUE with *why set: the file
 * is refused (*retry: a later run may take it whole). */
static gboolean store_lines(ingest_ctx *c, manifest_reader *m, const char *sha, GError **why, gboolean *retry,
			    GError **error)
{
	manifest_line line;
	manifest_tally tally = { 0 };
	while (manifest_next(m, &line, why)) {
		take_line(c, &line);
		manifest_tally_add(&tally, &line);
		c->lines_read++;
		if (c->lines->len >= INGEST_CHUNK_LINES && !flush_chunk(c, error))
			return FALSE;
		if (!store_raw(c, FALSE, error))
			return FALSE;
	}
	/* A store that failed is the run's error, before anything the reader found after it. */
	if (!db_copy_wait(c->d, error))
		return FALSE;
	if (*why)
		return TRUE;
	/* The bytes read must be the ones whose digest was checked for "seen before": a file still
	 * being written (an upload in progress) is refused, and taken whole by a later run. */
	if (strcmp(manifest_sha256(m), sha) != 0) {
		*why = g_error_new(INGEST_ERROR, STATUS_DATAERR, "'%s' changed while it was read: try again once it is "
				   "complete", c->base);
		*retry = TRUE;
		return TRUE;
	}
	g_assert(c->lines_read == manifest_lines(m));
	/* The last chunk's store is read before the counts are checked: a store that failed is the
	 * run's error, not a count it left short. */
	return flush_chunk(c, error) && db_copy_wait(c->d, error) && check_counts(c, error) &&
	       manifest_tally_check(&tally, m, error);
}

/* Every line stored and counted: the file's record and the commit (a dry run: its report, and
 * everything rolled back). */
static gboolean commit_file(ingest_ctx *c, manifest_reader *m, ingest_file_result *out, GError **error)
{
	g_assert(c->lines_total == (int64_t)c->lines_read && c->lines->len == 0);
	int64_t counted = 0;
	for (int o = 0; o < OUTCOME_COUNT; o++)
		counted += c->outcomes[o];
	g_assert(counted == c->lines_total); /* the outcome counts, before commit */
	if (c->o->dry_run) {
		if (!dry_run_report(c, out, error))
			return FALSE;
		db_rollback(c->d);
	} else {
		g_assert(c->file_id >= 1);
		if (!record_file(c, m, error))
			return FALSE;
		fault_point("ingest:before-commit");
		if (!db_commit(c->d, error))
			return FALSE;
		fault_point("ingest:committed");
		if (c->o->progress)
			fprintf(stderr, "\n");
		out->file_id = c->file_id;
	}
	out->status = INGEST_STORED; /* for a dry run, would be */
	out->lines = c->lines_total;
	memcpy(out->outcomes, c->outcomes, sizeof out->outcomes);
	return TRUE;
}

/* A refusal ends the file with nothing stored, and is no error of the run; any other error is. */
static gboolean refused(ingest_ctx *c, manifest_reader *m, GError *why, gboolean retry, ingest_file_result *out,
			GError **error)
{
	g_assert(why != NULL);
	if (!is_refusal(why)) {
		g_propagate_error(error, why);
		return FALSE;
	}
	db_rollback(c->d);
	if (!out->profile && m)
		out->profile = g_strdup(manifest_profile_name(m));
	refuse(out, why);
	out->retry = out->retry || retry;
	return TRUE;
}

/* The file, in its own transaction under the settlement lock's key: a settlement never sees half
 * a file and ingests of the same programme take turns. */
static gboolean ingest_in_txn(ingest_ctx *c, const char *sha, ingest_file_result *out, GError **error)
{
	gboolean seen = FALSE;
	if (!db_begin(c->d, error) || !db_wait_settlement_xact(c->d, error) ||
	    !seen_before(c->d, sha, out, &seen, error))
		return FALSE;
	if (seen)
		return TRUE;
	/* Checks 3-7 use the registry as known when the line is ingested: read inside the lock, so a
	 * registry load (which takes the same key) committed before this file, even during this run,
	 * is seen, and none can commit while the file is classified. */
	c->reg = registry_snapshot(c->d, NULL, error);
	if (!c->reg)
		return FALSE;
	/* A dry run takes no number from the sequence (the database stays as it was): file 0, which
	 * no stored file has, and everything it writes is rolled back. */
	g_autofree char *v = c->o->dry_run ? g_strdup("0") : NULL;
	if (!v && !db_scalar(c->d, "SELECT nextval(pg_get_serial_sequence('files', 'file_id'))", 0, NULL, &v, error))
		return FALSE;
	c->file_id = g_ascii_strtoll(v, NULL, 10);
	GError *why = NULL;
	gboolean retry = FALSE, ok;
	manifest_reader *m = manifest_open(c->path, c->o->profiles, c->o->profile_name, c->o->overrides, on_raw, c, &why);
	if (!m) {
		ok = refused(c, m, why, retry, out, error);
	} else {
		out->profile = g_strdup(manifest_profile_name(m));
		ok = store_lines(c, m, sha, &why, &retry, error);
		if (ok)
			ok = why ? refused(c, m, why, retry, out, error) : commit_file(c, m, out, error);
	}
	manifest_close(m);
	return ok;
}

gboolean ingest_file_as(db *d, const char *path, const char *shown_as, const ingest_options *o,
			ingest_file_result *out, GError **error)
{
	memset(out, 0, sizeof *out);
	/* The database's text is UTF-8 and a file name need not be (one saved on a Chinese Windows is
	 * GBK), nor free of line breaks: the name stored, shown, and the one in reasons, have such
	 * bytes replaced. */
	g_autofree char *name = text_shown(shown_as ? shown_as : path);
	g_autofree char *base = g_path_get_basename(name);
	out->name = g_strdup(name);
	/* Stored under its absolute path, so that "already ingested as ..." says which file it was. */
	g_autofree char *absolute = g_canonicalize_filename(path, NULL);
	g_autofree char *stored_name = shown_as ? g_strdup(name) : text_shown(absolute);
	char sha[FILEHASH_HEX_MAX];
	uint64_t size = 0;
	GError *why = NULL;
	if (!regular_or_absent(path, name, &why)) {
		refuse(out, why);
		out->retry = FALSE; /* what it is, not a moment's trouble */
		return TRUE;
	}
	if (!filehash_sha256(path, sha, &size, &why)) {
		refuse(out, why);
		return TRUE;
	}
	out->sha256 = g_strdup(sha);
	fault_point("ingest:hashed");

	ingest_ctx c = { 0 };
	c.d = d;
	c.o = o;
	c.path = path;
	c.name = stored_name;
	c.base = base;
	c.lines = g_array_sized_new(FALSE, TRUE, sizeof(chunk_line), INGEST_CHUNK_LINES);
	c.arena = g_string_chunk_new(64 * 1024);
	c.firsts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	c.raw = g_string_sized_new(INGEST_RAW_PIECE_BYTES + MANIFEST_CHUNK_BYTES);
	c.copy = g_string_sized_new(INGEST_RAW_PIECE_BYTES);
	gboolean ok = ingest_in_txn(&c, sha, out, error);
	if (!ok)
		db_rollback(d);
	if (c.reg)
		registry_free(c.reg);
	g_array_free(c.lines, TRUE);
	g_string_chunk_free(c.arena);
	g_hash_table_destroy(c.firsts);
	g_string_free(c.raw, TRUE);
	g_string_free(c.copy, TRUE);
	return ok;
}

/* A file's reasons (lines_reason *) as its "reasons" array. */
static void json_reasons(json_writer *w, const GPtrArray *reasons)
{
	json_key(w, "reasons");
	json_array_begin(w);
	for (guint i = 0; i < reasons->len; i++) {
		const lines_reason *lr = reasons->pdata[i];
		json_object_begin(w);
		json_key(w, "outcome");
		json_string(w, lr->outcome);
		json_key(w, "lines");
		json_int(w, lr->lines);
		json_key(w, "first_line");
		json_int(w, lr->first_line);
		json_key(w, "reason");
		json_string(w, lr->reason);
		json_object_end(w);
	}
	json_array_end(w);
}

/* A dry run's first lines (char **, LINES_COLUMNS each) as its "preview" array. */
static void json_preview(json_writer *w, const GPtrArray *preview)
{
	json_key(w, "preview");
	json_array_begin(w);
	for (guint i = 0; i < preview->len; i++) {
		char **row = preview->pdata[i];
		json_object_begin(w);
		for (int c = 0; c < LINES_COLUMNS; c++) {
			json_key(w, lines_column_names[c]);
			if (c == LINES_LINE)
				json_int(w, g_ascii_strtoll(row[c], NULL, 10));
			else
				json_string(w, *row[c] ? row[c] : NULL);
		}
		json_object_end(w);
	}
	json_array_end(w);
}

void ingest_json(json_writer *w, const ingest_file_result *results, size_t n)
{
	int64_t totals[OUTCOME_COUNT] = { 0 };
	json_key(w, "files");
	json_array_begin(w);
	for (size_t i = 0; i < n; i++) {
		const ingest_file_result *r = &results[i];
		json_object_begin(w);
		json_key(w, "name");
		json_string(w, r->name);
		json_key(w, "sha256");
		json_string(w, r->sha256);
		json_key(w, "profile");
		json_string(w, r->profile);
		json_key(w, "status");
		json_string(w, ingest_status_name(r->status));
		json_key(w, "lines");
		json_int(w, r->lines);
		json_key(w, "reason");
		json_string(w, r->reason);
		json_key(w, "file_id");
		if (r->status == INGEST_STORED && !r->preview)
			json_int(w, r->file_id);
		else
			json_null(w);
		if (r->reasons)
			json_reasons(w, r->reasons);
		if (r->preview)
			json_preview(w, r->preview);
		json_key(w, "outcomes");
		json_object_begin(w);
		for (int o = 0; o < OUTCOME_COUNT; o++) {
			json_key(w, policy_outcome_name(o));
			json_int(w, r->outcomes[o]);
			totals[o] += r->outcomes[o];
		}
		json_object_end(w);
		json_object_end(w);
	}
	json_array_end(w);
	json_key(w, "outcomes");
	json_object_begin(w);
	for (int o = 0; o < OUTCOME_COUNT; o++) {
		json_key(w, policy_outcome_name(o));
		json_int(w, totals[o]);
	}
	json_object_end(w);
}

/* A dry run's first lines, each with its parsed fields, outcome and reason. */
static void print_preview(const ingest_file_result *r)
{
	if (!r->preview)
		return;
	printf("  first lines as parsed:\n");
	for (guint i = 0; i < r->preview->len; i++) {
		char **row = r->preview->pdata[i];
		printf("    line %s:", row[LINES_LINE]);
		for (int c = LINES_COURIER; c <= LINES_DESTINATION; c++)
			if (*row[c])
				printf(" %s=%s", lines_column_names[c], row[c]);
		printf(" -> %s%s%s\n", row[LINES_OUTCOME], *row[LINES_REASON] ? ": " : "", row[LINES_REASON]);
	}
}

/* The most frequent reasons of each outcome but ELIGIBLE, under the file's counts. */
static void print_reasons(const ingest_file_result *r)
{
	if (!r->reasons || r->reasons->len == 0)
		return;
	printf("  most frequent reasons (lines, the first of them):\n");
	for (guint i = 0; i < r->reasons->len; i++) {
		const lines_reason *lr = r->reasons->pdata[i];
		printf("    %-22s %6" G_GINT64_FORMAT "  line %" G_GINT64_FORMAT ": %s\n", lr->outcome,
		       (gint64)lr->lines, (gint64)lr->first_line, lr->reason);
	}
}

void ingest_print_text(const ingest_file_result *results, size_t n)
{
	int64_t totals[OUTCOME_COUNT] = { 0 };
	for (size_t i = 0; i < n; i++) {
		const ingest_file_result *r = &results[i];
		if (r->status == INGEST_STORED) {
			printf("%s %s (%s): %" G_GINT64_FORMAT " lines:", r->preview ? "would store" : "stored  ", r->name,
			       r->profile, (gint64)r->lines);
			for (int o = 0; o < OUTCOME_COUNT; o++)
				if (r->outcomes[o])
					printf(" %s %" G_GINT64_FORMAT, policy_outcome_name(o), (gint64)r->outcomes[o]);
			printf("\n");
			print_preview(r);
			print_reasons(r);
		} else {
			printf("%-8s %s: %s\n", ingest_status_name(r->status), r->name, r->reason);
		}
		for (int o = 0; o < OUTCOME_COUNT; o++)
			totals[o] += r->outcomes[o];
	}
	printf("total:");
	for (int o = 0; o < OUTCOME_COUNT; o++)
		printf(" %s %" G_GINT64_FORMAT, policy_outcome_name(o), (gint64)totals[o]);
	printf("\n");
}
