/* replay.c: the auditor's recomputation; see replay.h.
 *
 * The range's candidate orders go first to a scratch table, replay_cand. Each side of the
 * comparison is then a cursor over the candidates' rows, sorted bytewise by (shop_id, order_key):
 * the recomputed side (the lines as recomputation has them), the stored side (the lines as stored:
 * for the date of an order that lost every line, and for pending; current only, as recorded it is
 * the recomputed side), the ledger side (per order its latest posting and what its postings
 * funded; on a second session that shares the snapshot, when one can be had) and, current, the
 * changed lines. The client merges them by order, folds an order's
 * lines with the order module (its fee, date and number, as settlement folds them), prices it
 * with the policy functions, and reports what differs. The database only selects and sorts rows.
 *
 * as-recorded: the recomputed side is the stored lines; each order is priced with the registry
 * as known when the last batch was made. Every settlement prices again every order whose
 * entitlement a registry change since the batch before may move (POLICY.md: the entitlement
 * follows the registry as known at each settlement) and posts any difference, so after the last
 * batch the ledger must hold exactly what that registry gives for every order it took in. A
 * settlement that recorded no batch changed no entitlement, so the last batch's registry still
 * gives the same amounts. Snapshots are cached by registry state.
 *
 * current: every line whose stored outcome is ELIGIBLE or one of checks 3-7 is classified again
 * with today's registry, client-side; the lines whose eligibility or shop changed go to a
 * temporary table, and the recomputed side is the stored lines with those replaced. */
#include "replay.h"

#include "money.h"
#include "order.h"
#include "policy.h"
#include "registry.h"
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_ERROR replay_error_quark()
G_DEFINE_QUARK(subsidy-replay-error-quark, replay_error)

/* Rows fetched per round from each cursor (the lines, the postings, the changes): the memory
 * bound of a replay. */
#define REPLAY_CHUNK_ROWS 10000
/* The server's work_mem for the candidates' UNION (see FILL_CAND's comment). */
#define REPLAY_CAND_WORK_MEM "64MB"
/* Registry snapshots kept at once (as-recorded); the least recently used goes first. Batches
 * made with one registry state share a snapshot, so this is rarely reached. */
#define REPLAY_SNAPSHOTS_MAX 16
/* Changed lines named in a cause; the rest are counted. */
#define REPLAY_NOTES_MAX 3
/* Flush the COPY of reclassified lines past this size even inside a chunk. */
#define REPLAY_COPY_FLUSH_BYTES (1 << 20)

G_STATIC_ASSERT(REPLAY_SNAPSHOTS_MAX >= 1 && REPLAY_NOTES_MAX >= 1);

static const char *const replay_registry_names[] = {
	[REPLAY_AS_RECORDED] = "as-recorded",
	[REPLAY_CURRENT] = "current",
};

gboolean replay_registry_parse(const char *text, replay_registry *out)
{
	for (size_t i = 0; text && i < G_N_ELEMENTS(replay_registry_names); i++) {
		if (strcmp(text, replay_registry_names[i]) == 0) {
			*out = (replay_registry)i;
			return TRUE;
		}
	}
	return FALSE;
}

const char *replay_registry_name(replay_registry r)
{
	g_assert((size_t)r < G_N_ELEMENTS(replay_registry_names));
	return replay_registry_names[r];
}

/* A batch as replay needs it. */
typedef struct {
	int batch_id;
	int64_t files_upto;
	char *created_at;     /* the database's text, an instant registry_snapshot understands */
	char *registry_state; /* the last registry change known at created_at, "" for none */
} replay_batch;

typedef struct {
	db *d;
	db *twin;               /* a second session on d's snapshot, for the ledger side; NULL: none */
	replay_registry mode;
	gboolean progress;
	chrono_day from, to;    /* the range of order dates compared */
	GArray *batches;        /* replay_batch, by batch_id */
	GHashTable *snapshots;  /* registry_state -> registry * */
	GQueue *recent;         /* registry_state keys of snapshots, most recently used first */
	registry *current;      /* today's registry (current mode) */
	replay_summary sum;
} replay_ctx;

static void batch_clear(gpointer p)
{
	replay_batch *b = p;
	g_free(b->created_at);
	g_free(b->registry_state);
}

/* ------------------------------------------------------------------------------------------ */
/* Batches and the registry each one was made with */

static const char *const registry_tables[] = { "policies", "shops", "senders", "households", "campaigns", "pools" };

/* Columns of load_batches' query. */
enum { BATCH_ID, BATCH_FILES_UPTO, BATCH_CREATED_AT, BATCH_REGISTRY_STATE, BATCH_COLUMNS };

static gboolean load_batches(replay_ctx *c, GError **error)
{
	/* Every instant the registry changed: a version recorded or superseded. Two batches with
	 * the same last change before them saw the same registry. */
	GString *sql = g_string_new("WITH changes AS (");
	for (size_t i = 0; i < G_N_ELEMENTS(registry_tables); i++)
		g_string_append_printf(sql,
				       "%sSELECT recorded_at AS t FROM %s WHERE programme = $1"
				       " UNION SELECT superseded_at FROM %s WHERE programme = $1 AND superseded_at IS NOT NULL",
				       i ? " UNION " : "", registry_tables[i], registry_tables[i]);
	/* The last batch alone: as recorded, every order is priced with its registry. */
	g_string_append(sql, ") SELECT b.batch_id, b.files_upto, b.created_at::text,"
			     " coalesce((SELECT max(t) FROM changes WHERE t <= b.created_at)::text, '')"
			     " FROM batches b WHERE b.programme = $1 ORDER BY b.batch_id DESC LIMIT 1");
	const char *p1[] = { db_programme(c->d) };
	PGresult *res = db_query(c->d, sql->str, 1, p1, error);
	g_string_free(sql, TRUE);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == BATCH_COLUMNS);
	g_assert(PQntuples(res) <= 1); /* LIMIT 1 */
	for (int i = 0; i < PQntuples(res); i++) {
		replay_batch b = { 0 };
		b.batch_id = atoi(PQgetvalue(res, i, BATCH_ID));
		b.files_upto = g_ascii_strtoll(PQgetvalue(res, i, BATCH_FILES_UPTO), NULL, 10);
		b.created_at = g_strdup(PQgetvalue(res, i, BATCH_CREATED_AT));
		b.registry_state = g_strdup(PQgetvalue(res, i, BATCH_REGISTRY_STATE));
		g_assert(b.batch_id > 0 && b.files_upto >= 0);
		g_array_append_val(c->batches, b);
	}
	PQclear(res);
	if (c->batches->len > 0) {
		const replay_batch *last = &g_array_index(c->batches, replay_batch, c->batches->len - 1);
		c->sum.last_batch = last->batch_id;
		c->sum.files_upto = last->files_upto;
	}
	return TRUE;
}

/* The registry as known when batch b was made, from the cache or the database. */
static const registry *snapshot_of(replay_ctx *c, const replay_batch *b, GError **error)
{
	registry *r = g_hash_table_lookup(c->snapshots, b->registry_state);
	if (r) {
		GList *link = g_queue_find_custom(c->recent, b->registry_state, (GCompareFunc)strcmp);
		g_assert(link != NULL);
		g_queue_unlink(c->recent, link);
		g_queue_push_head_link(c->recent, link);
		return r;
	}
	if (g_hash_table_size(c->snapshots) >= REPLAY_SNAPSHOTS_MAX) {
		char *oldest = g_queue_pop_tail(c->recent);
		g_assert(oldest != NULL);
		g_hash_table_remove(c->snapshots, oldest);
	}
	r = registry_snapshot(c->d, b->created_at, error);
	if (!r) {
		g_prefix_error(error, "registry as known at batch %d: ", b->batch_id);
		return NULL;
	}
	char *key = g_strdup(b->registry_state);
	g_hash_table_insert(c->snapshots, key, r);
	g_queue_push_head(c->recent, key);
	c->sum.snapshots++;
	return r;
}

/* ------------------------------------------------------------------------------------------ */
/* Pricing: what settlement does, with the same functions */

typedef struct {
	const registry_shop *shop;  /* NULL: the shop is not in the registry */
	const policy_version *pv;   /* NULL: no version in force on the order date */
	gboolean poor;
	policy_entitlement ent;     /* zero without a shop or a version, as settlement prices it */
} pricing;

static gboolean price(const registry *r, const char *shop_id, chrono_day day, int64_t fee_fen, pricing *out,
		      GError **error)
{
	memset(out, 0, sizeof *out);
	out->ent.rule = POLICY_RULE_STANDARD;
	out->shop = registry_shop_by_id(r, shop_id);
	out->pv = registry_policy_on(r, day);
	if (!out->shop || !out->pv)
		return TRUE;
	out->poor = registry_is_poor(r, out->shop, day);
	return policy_entitle(out->pv, fee_fen, out->poor, &out->ent, error);
}

/* ------------------------------------------------------------------------------------------ */
/* current: the lines classified again with today's registry */

static const char create_changes[] =
	"CREATE TEMP TABLE replay_changes (file_id bigint, line_no integer, old_eligible boolean,"
	" old_shop text COLLATE \"C\", old_key text COLLATE \"C\", new_eligible boolean, new_shop text COLLATE \"C\","
	" new_key text COLLATE \"C\", order_no text COLLATE \"C\", fee_fen bigint,"
	" pickup_time timestamp, note_out text, note_in text, PRIMARY KEY (file_id, line_no))";
static const char create_cand[] =
	"CREATE TEMP TABLE replay_cand (shop_id text COLLATE \"C\", order_key text COLLATE \"C\")";
static const char copy_changes[] =
	"COPY replay_changes (file_id, line_no, old_eligible, old_shop, old_key, new_eligible, new_shop, new_key,"
	" order_no, fee_fen, pickup_time, note_out, note_in) FROM STDIN";

/* Columns of the replay_lines cursor. */
enum { L_FILE, L_LINE, L_NAME, L_OUTCOME, L_SHOP, L_KEY, L_COURIER, L_WAYBILL, L_ORDER_NO, L_PICKUP, L_CODE,
       L_PHONE, L_CATEGORY, L_FEE, L_COLUMNS };

static const char *value(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* Classifies one stored line with today's registry; appends it to copy when its eligibility or
 * its shop is not what is stored. */
static void reclassify_line(replay_ctx *c, const PGresult *res, int i, GString *copy)
{
	policy_outcome was;
	gboolean known = policy_outcome_parse(PQgetvalue(res, i, L_OUTCOME), &was);
	g_assert(known); /* the cursor selects only outcome names */
	const char *courier = value(res, i, L_COURIER), *pickup_text = value(res, i, L_PICKUP);
	chrono_time pickup;
	/* A line that passed validation has these; one without them keeps its stored outcome. */
	if (!courier || !pickup_text || PQgetisnull(res, i, L_FEE) || !chrono_parse_time(pickup_text, &pickup, NULL))
		return;
	chrono_day day = chrono_day_of(pickup);
	policy_line_facts facts = { 0 };
	const registry_shop *shop = NULL;
	facts.shop_match = registry_find_shop(c->current, courier, value(res, i, L_CODE), value(res, i, L_PHONE), day,
					      &shop);
	if (shop) {
		facts.registered_from = shop->registered_from;
		facts.registered_to = shop->registered_to;
	}
	facts.policy = registry_policy_on(c->current, day);
	facts.campaign_id = registry_campaign_at(c->current, pickup);
	facts.category = value(res, i, L_CATEGORY);
	facts.pickup = pickup;
	policy_outcome now = policy_classify(&facts, NULL);

	gboolean old_eligible = was == OUTCOME_ELIGIBLE, new_eligible = now == OUTCOME_ELIGIBLE;
	const char *old_shop = value(res, i, L_SHOP);
	const char *new_shop = new_eligible ? shop->shop_id : NULL;
	g_assert(!old_eligible || old_shop != NULL);
	if (old_eligible == new_eligible && (!old_eligible || strcmp(old_shop, new_shop) == 0))
		return;
	c->sum.lines_reclassified++;

	/* Files are named as given to ingest; a cause names the file as a person knows it. */
	g_autofree char *name = g_path_get_basename(PQgetvalue(res, i, L_NAME));
	const char *line_no = PQgetvalue(res, i, L_LINE);
	g_autofree char *new_key = new_eligible ? order_key(value(res, i, L_ORDER_NO), courier,
								   value(res, i, L_WAYBILL))
						: NULL;
	g_autofree char *note_out = NULL, *note_in = NULL;
	if (old_eligible)
		note_out = new_eligible ? g_strdup_printf("line %s:%s now belongs to shop %s", name, line_no, new_shop)
					: g_strdup_printf("line %s:%s is now %s", name, line_no, policy_outcome_name(now));
	if (new_eligible)
		note_in = old_eligible ? g_strdup_printf("line %s:%s moved here from shop %s", name, line_no, old_shop)
				       : g_strdup_printf("line %s:%s is now ELIGIBLE (was %s)", name, line_no,
							 policy_outcome_name(was));
	db_copy_text(copy, PQgetvalue(res, i, L_FILE));
	db_copy_text(copy, line_no);
	db_copy_bool(copy, old_eligible);
	db_copy_text(copy, old_eligible ? old_shop : NULL);
	db_copy_text(copy, old_eligible ? value(res, i, L_KEY) : NULL);
	db_copy_bool(copy, new_eligible);
	db_copy_text(copy, new_shop);
	db_copy_text(copy, new_key);
	db_copy_text(copy, value(res, i, L_ORDER_NO));
	db_copy_text(copy, PQgetvalue(res, i, L_FEE));
	db_copy_text(copy, pickup_text);
	db_copy_text(copy, note_out);
	db_copy_text(copy, note_in);
	db_copy_row_end(copy);
}

static gboolean flush_copy(replay_ctx *c, GString *copy, GError **error)
{
	return db_copy_rows(c->d, copy_changes, copy, error);
}

static gboolean reclassify(replay_ctx *c, GError **error)
{
	/* The lines checks 3-7 decided (policy_outcome_is_classified): ELIGIBLE and the six registry
	 * outcomes. */
	GString *sql = g_string_new(
		"DECLARE replay_lines NO SCROLL CURSOR FOR SELECT l.file_id, l.line_no, f.name, l.outcome, l.shop_id,"
		" l.order_key, l.courier, l.waybill_no, l.order_no, to_char(l.pickup_time, 'YYYY-MM-DD HH24:MI:SS'),"
		" l.sender_code, l.sender_phone, l.category, l.fee_fen FROM lines_now() l JOIN files f USING (file_id)"
		" WHERE l.programme = $1 AND l.live AND l.outcome IN (");
	g_autofree char *classified = policy_outcomes_sql(policy_outcome_is_classified);
	g_string_append_printf(sql, "%s)", classified);
	const char *p1[] = { db_programme(c->d) };
	PGresult *res = db_query(c->d, sql->str, 1, p1, error);
	g_string_free(sql, TRUE);
	if (!res)
		return FALSE;
	PQclear(res);
	g_autoptr(GString) copy = g_string_sized_new(REPLAY_COPY_FLUSH_BYTES);
	for (;;) {
		res = db_query(c->d, "FETCH " G_STRINGIFY(REPLAY_CHUNK_ROWS) " FROM replay_lines", 0, NULL, error);
		if (!res)
			return FALSE;
		g_assert(PQnfields(res) == L_COLUMNS);
		int n = PQntuples(res);
		for (int i = 0; i < n; i++) {
			reclassify_line(c, res, i, copy);
			if (copy->len >= REPLAY_COPY_FLUSH_BYTES && !flush_copy(c, copy, error)) {
				PQclear(res);
				return FALSE;
			}
		}
		PQclear(res);
		if (!flush_copy(c, copy, error))
			return FALSE;
		if (n < REPLAY_CHUNK_ROWS)
			break;
	}
	return db_exec(c->d, "CLOSE replay_lines", error);
}

/* ------------------------------------------------------------------------------------------ */
/* The comparison: each candidate order's sides, merged by order from sorted cursors */

/* STORED_LINES: the lines as stored; CURRENT_LINES: the same with replay_changes' reclassified
 * lines in place of the stored ones. */
#define STORED_LINES                                                                                              \
	"SELECT shop_id, order_key, order_no, fee_fen, pickup_time, file_id FROM lines_counted()"                   \
	" WHERE programme = $1"

#define CURRENT_LINES                                                                                             \
	"SELECT l.shop_id, l.order_key, l.order_no, l.fee_fen, l.pickup_time, l.file_id FROM lines_counted() l"     \
	" WHERE l.programme = $1 AND NOT EXISTS (SELECT 1 FROM replay_changes c"                                  \
	"  WHERE c.file_id = l.file_id AND c.line_no = l.line_no)"                                               \
	" UNION ALL SELECT new_shop, new_key, order_no, fee_fen, pickup_time, file_id FROM replay_changes"        \
	" WHERE new_eligible"

/* The orders with a line picked up in the range. An order dated in the range has one (its
 * earliest), so every order that can be in the range is a candidate, and only candidates are
 * read: a day's replay does not read the whole history. */
#define IN_RANGE(lines)                                                                                           \
	"SELECT shop_id, order_key FROM (" lines ") i WHERE pickup_time >= $2::date AND pickup_time < $3::date + 1"

/* replay_cand: the candidate orders (with a line, stored or recomputed, or a posting dated in the
 * range), filled first and analysed. An order's date is its recomputed one, else (no eligible
 * line now) its stored one, else its latest posting's: compare_order dates it and keeps it when
 * in the range. The candidates are a table, not a CTE, so that the planner knows how many there
 * are: as a CTE it took a month's 514,263 orders (1,000,000 lines) for a few thousand and, once
 * autovacuum had analysed `lines`, grouped their lines by a hash that spilled to disk in 641
 * batches. The fill's UNION gains from memory (1.8 s in 4 MB, 1.1 s in 64 MB, EXPLAIN ANALYZE);
 * the cursors' sorts do not (the month's lines: 2.3 s in 4 MB, 2.7 s in 64 MB), so the fill alone
 * has more. */
#define FILL_CAND(cand)                                                                                           \
	"INSERT INTO replay_cand " cand " UNION SELECT shop_id, order_key FROM postings WHERE programme = $1"       \
	" AND order_date BETWEEN $2::date AND $3::date"

static const char fill_cand_as_recorded[] = FILL_CAND(IN_RANGE(STORED_LINES));
static const char fill_cand_current[] = FILL_CAND(IN_RANGE(CURRENT_LINES) " UNION " IN_RANGE(STORED_LINES));

/* Every cursor of the comparison is one side of it, sorted bytewise by (shop_id, order_key), its
 * first two columns, and holds only candidates. The client merges them by order, as settlement
 * reads its lines: the database sorts, and the order module folds an order's lines. */

/* A side's lines, each once: the recomputed side (replay_rec) and, current, the stored one
 * (replay_sto; as recorded it is the recomputed one). */
#define LINES_CURSOR(name, lines)                                                                                 \
	"DECLARE " name " NO SCROLL CURSOR FOR SELECT s.shop_id, s.order_key, s.order_no, s.fee_fen, s.pickup_time," \
	" s.file_id FROM (" lines ") s JOIN replay_cand cand ON cand.shop_id = s.shop_id"                         \
	" AND cand.order_key = s.order_key ORDER BY s.shop_id COLLATE \"C\", s.order_key COLLATE \"C\""
enum { LN_SHOP, LN_KEY, LN_ORDER_NO, LN_FEE, LN_PICKUP, LN_FILE, LN_COLUMNS };

/* The ledger side, one row per order: its latest posting (by batch, then seq), and the sum its
 * postings funded. postings' keys are bytewise (COLLATE "C"). The window is ordered as the
 * DISTINCT ON is, over the whole partition, so the postings are sorted once, not twice (514,263
 * postings: 0.87 s, then 0.64 s, EXPLAIN ANALYZE). */
#define LEDGER_CURSOR                                                                                             \
	"DECLARE replay_led NO SCROLL CURSOR FOR SELECT DISTINCT ON (p.shop_id, p.order_key) p.shop_id,"          \
	" p.order_key, p.order_no, p.batch_id, p.seq, p.fee_fen, to_char(p.order_date, 'YYYY-MM-DD'), p.rule,"    \
	" p.rate_bp, p.policy_id, p.policy_version, p.entitlement_fen, p.unfunded_fen,"                          \
	" sum(p.funded_fen) OVER (PARTITION BY p.shop_id, p.order_key ORDER BY p.batch_id DESC, p.seq DESC"      \
	"  ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"                                             \
	" FROM postings p JOIN replay_cand cand ON cand.shop_id = p.shop_id AND cand.order_key = p.order_key"     \
	" WHERE p.programme = $1 ORDER BY p.shop_id, p.order_key, p.batch_id DESC, p.seq DESC"
enum { P_SHOP, P_KEY, P_ORDER_NO, P_BATCH, P_SEQ, P_FEE, P_DATE, P_RULE, P_RATE, P_POLICY, P_VERSION, P_ENT,
       P_UNFUNDED, P_FUNDED, P_COLUMNS };

/* current: the changed lines, named per order they left (note_out) or joined (note_in). */
#define CHANGES_CURSOR                                                                                            \
	"DECLARE replay_chg NO SCROLL CURSOR FOR SELECT x.shop_id, x.order_key, count(*), array_to_string("       \
	"(array_agg(x.note ORDER BY x.file_id, x.line_no))[1:" G_STRINGIFY(REPLAY_NOTES_MAX) "], '; ') FROM ("    \
	" SELECT old_shop AS shop_id, old_key AS order_key, file_id, line_no, note_out AS note FROM replay_changes" \
	"  WHERE old_eligible"                                                                                    \
	" UNION ALL SELECT new_shop, new_key, file_id, line_no, note_in FROM replay_changes WHERE new_eligible"    \
	") x JOIN replay_cand cand ON cand.shop_id = x.shop_id AND cand.order_key = x.order_key"                  \
	" GROUP BY x.shop_id, x.order_key ORDER BY x.shop_id COLLATE \"C\", x.order_key COLLATE \"C\""
enum { CH_SHOP, CH_KEY, CH_N, CH_NOTES, CH_COLUMNS };

static const char lines_rec_as_recorded[] = LINES_CURSOR("replay_rec", STORED_LINES);
static const char lines_rec_current[] = LINES_CURSOR("replay_rec", CURRENT_LINES);
static const char lines_sto_current[] = LINES_CURSOR("replay_sto", STORED_LINES);
static const char ledger_cursor[] = LEDGER_CURSOR;
static const char changes_cursor[] = CHANGES_CURSOR;

/* One side: a cursor read a chunk at a time, on the replay's session or on its twin. */
typedef struct {
	db *twin;           /* the side's cursor is the twin's, its next chunk fetched ahead; NULL: d's */
	const char *fetch;  /* the FETCH of a chunk */
	int columns;
	PGresult *res;      /* the chunk being read; NULL once the cursor is done (or never opened) */
	int row;            /* res's row the side is at */
	gboolean last;      /* no chunk after res */
} side;

/* Reads the side's next chunk; one with no rows ends the side. */
static gboolean side_next_chunk(replay_ctx *c, side *s, GError **error)
{
	PQclear(s->res);
	s->res = NULL;
	s->row = 0;
	if (s->last)
		return TRUE;
	PGresult *res = s->twin ? db_queue_result(s->twin, error) : db_query(c->d, s->fetch, 0, NULL, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == s->columns);
	s->last = PQntuples(res) < REPLAY_CHUNK_ROWS;
	/* The twin fetches the next chunk while this one is compared. */
	if (s->twin && !s->last &&
	    !(db_queue_send(s->twin, s->fetch, 0, NULL, error) && db_queue_flush(s->twin, error))) {
		PQclear(res);
		return FALSE;
	}
	if (PQntuples(res) > 0)
		s->res = res;
	else
		PQclear(res);
	return TRUE;
}

/* Declares the side's cursor, which takes the programme as $1 unless by_programme is FALSE, and
 * reads its first chunk. */
static gboolean side_open(replay_ctx *c, side *s, const char *declare, gboolean by_programme, const char *fetch,
			  int columns, GError **error)
{
	memset(s, 0, sizeof *s);
	s->fetch = fetch;
	s->columns = columns;
	const char *p1[] = { db_programme(c->d) };
	PGresult *res = db_query(c->d, declare, by_programme ? 1 : 0, p1, error);
	if (!res)
		return FALSE;
	PQclear(res);
	return side_next_chunk(c, s, error);
}

/* Declares the side's cursor on the twin, with the programme as $1, and queues the fetch of its
 * first chunk, without waiting: the twin sorts while this session opens the other sides.
 * side_twin_opened reads the declaration's result and that chunk. */
static gboolean side_twin_open(replay_ctx *c, side *s, const char *declare, const char *fetch, int columns,
			       GError **error)
{
	memset(s, 0, sizeof *s);
	s->twin = c->twin;
	s->fetch = fetch;
	s->columns = columns;
	const char *p1[] = { db_programme(c->d) };
	return db_queue_send(c->twin, declare, 1, p1, error) && db_queue_send(c->twin, fetch, 0, NULL, error) &&
	       db_queue_flush(c->twin, error);
}

static gboolean side_twin_opened(replay_ctx *c, side *s, GError **error)
{
	PGresult *declared = db_queue_result(s->twin, error);
	if (!declared)
		return FALSE;
	PQclear(declared);
	return side_next_chunk(c, s, error);
}

/* A side that is not read (as recorded: the stored lines and the changes). */
static void side_none(side *s)
{
	memset(s, 0, sizeof *s);
	s->last = TRUE;
}

static gboolean side_advance(replay_ctx *c, side *s, GError **error)
{
	g_assert(s->res != NULL);
	if (++s->row < PQntuples(s->res))
		return TRUE;
	return side_next_chunk(c, s, error);
}

static const char *side_text(const side *s, int col)
{
	g_assert(s->res != NULL && col < s->columns);
	return PQgetisnull(s->res, s->row, col) ? NULL : PQgetvalue(s->res, s->row, col);
}

static int64_t side_int(const side *s, int col)
{
	const char *t = side_text(s, col);
	return t ? g_ascii_strtoll(t, NULL, 10) : 0;
}

/* Orders compare by shop, then key, bytewise: the cursors' order. */
static int key_cmp(const char *shop_a, const char *key_a, const char *shop_b, const char *key_b)
{
	int by_shop = strcmp(shop_a, shop_b);
	return by_shop != 0 ? by_shop : strcmp(key_a, key_b);
}

/* Is the side at a row of the order (shop, key)? */
static gboolean side_at(const side *s, const char *shop, const char *key)
{
	return s->res && key_cmp(side_text(s, 0), side_text(s, 1), shop, key) == 0;
}

/* One candidate order as the comparison sees it. has_rec is rec.lines > 0, has_sto likewise. */
typedef struct {
	const char *shop_id, *order_key;
	order_acc rec;          /* the recomputed side's lines: none when no line of the order is eligible now */
	int64_t rec_last;       /* the newest file of those lines, 0 for none */
	order_acc sto;          /* current: the stored lines (as recorded, rec is) */
	int64_t sto_last;
	const side *led;        /* at the order's latest posting; NULL: the order has none */
	const side *chg;        /* at the order's changed lines (current); NULL: none */
} replay_order;

/* Folds the line the side is at into acc. Replay prices, it does not fund: a line's courier and
 * waybill, which only the funding key reads, are not fetched, and every line gets the same. */
static gboolean fold_line(const side *s, const replay_order *o, order_acc *acc, int64_t *last_file, GError **error)
{
	order_line l = { 0 };
	l.order_no = side_text(s, LN_ORDER_NO);
	l.fee_fen = side_int(s, LN_FEE);
	l.courier = l.waybill_no = "";
	const char *pickup = side_text(s, LN_PICKUP);
	GError *perr = NULL;
	/* lines_counted() holds ELIGIBLE lines, which have a fee and a pickup time (lines' CHECK). */
	if (!pickup || !chrono_parse_time(pickup, &l.pickup, &perr)) {
		g_set_error(error, REPLAY_ERROR, STATUS_SOFTWARE, "order '%s' of shop '%s': a line's pickup time cannot be read: %s",
			    o->order_key, o->shop_id, perr ? perr->message : "none");
		g_clear_error(&perr);
		return FALSE;
	}
	order_acc_add(acc, &l);
	*last_file = MAX(*last_file, side_int(s, LN_FILE));
	return TRUE;
}

/* Folds every line of the order the side is at, and moves the side past them. */
static gboolean fold_lines(replay_ctx *c, side *s, const replay_order *o, order_acc *acc, int64_t *last_file,
			   GError **error)
{
	while (side_at(s, o->shop_id, o->order_key))
		if (!fold_line(s, o, acc, last_file, error) || !side_advance(c, s, error))
			return FALSE;
	return TRUE;
}

static const char *led_text(const replay_order *o, int col)
{
	g_assert(o->led != NULL);
	return side_text(o->led, col);
}

static int64_t led_int(const replay_order *o, int col)
{
	return o->led ? side_int(o->led, col) : 0;
}

static void cause_part(GString *cause, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void cause_part(GString *cause, const char *fmt, ...)
{
	if (cause->len > 0)
		g_string_append(cause, "; ");
	va_list ap;
	va_start(ap, fmt);
	g_string_append_vprintf(cause, fmt, ap);
	va_end(ap);
}

/* Why the ledger and the recomputation differ for order o: each rule or registry fact that is not
 * the same on both sides. now names the registry the recomputation used. */
static char *cause_of(const replay_order *o, const pricing *pr, chrono_day day, int64_t fee, int64_t ledger_fen,
		      const char *now)
{
	GString *cause = g_string_new(NULL);
	gboolean has_rec = o->rec.lines > 0, has_led = o->led != NULL;
	int64_t led_ent = led_int(o, P_ENT);
	char a[MONEY_TEXT_MAX], b[MONEY_TEXT_MAX], e[MONEY_TEXT_MAX];
	char day_text[CHRONO_DAY_TEXT_MAX];
	chrono_format_day(day, day_text);

	if (has_led && led_ent != ledger_fen)
		cause_part(cause,
			   "the ledger does not add up: batch %s posting %s records an entitlement of %s yuan, the"
			   " order's postings funded %s and left %s unfunded",
			   led_text(o, P_BATCH), led_text(o, P_SEQ), money_format(led_ent, e),
			   money_format(led_int(o, P_FUNDED), a), money_format(led_int(o, P_UNFUNDED), b));
	int64_t changed = o->chg ? side_int(o->chg, CH_N) : 0;
	if (changed > 0) {
		cause_part(cause, "%s", side_text(o->chg, CH_NOTES));
		if (changed > REPLAY_NOTES_MAX)
			cause_part(cause, "and %" G_GINT64_FORMAT " more lines", (gint64)(changed - REPLAY_NOTES_MAX));
	}
	if (!has_rec && ledger_fen != 0 && changed == 0)
		cause_part(cause, "the order has no eligible line");
	if (has_rec && !has_led && pr->ent.amount_fen != 0 && changed == 0)
		cause_part(cause, "no posting for the order");
	if (has_rec && has_led) {
		const char *led_rule = led_text(o, P_RULE);
		const char *rule = policy_rule_name(pr->ent.rule);
		const char *household = pr->shop && pr->shop->household_id ? pr->shop->household_id : NULL;
		if (!pr->shop)
			cause_part(cause, "shop %s is not in the registry %s", o->shop_id, now);
		else if (!pr->pv)
			cause_part(cause, "policy version: %s v%s in the ledger, none in force on %s %s",
				   led_text(o, P_POLICY), led_text(o, P_VERSION), day_text, now);
		else if (strcmp(led_rule, rule) != 0)
			cause_part(cause, "poverty status on %s: %s in the ledger, %s %s (%s%s)", day_text,
				   strcmp(led_rule, policy_rule_name(POLICY_RULE_POVERTY)) == 0 ? "poor" : "not poor",
				   pr->poor ? "poor" : "not poor", now, household ? "household " : "no household",
				   household ? household : "");
		if (pr->pv && (strcmp(led_text(o, P_POLICY), pr->pv->policy_id) != 0 ||
			       led_int(o, P_VERSION) != pr->pv->version))
			cause_part(cause, "policy version: %s v%s in the ledger, %s v%d %s", led_text(o, P_POLICY),
				   led_text(o, P_VERSION), pr->pv->policy_id, pr->pv->version, now);
		else if (pr->pv && strcmp(led_rule, rule) == 0 && led_int(o, P_RATE) != pr->ent.rate_bp)
			cause_part(cause, "rate: %s bp in the ledger, %d bp by policy %s v%d", led_text(o, P_RATE),
				   pr->ent.rate_bp, pr->pv->policy_id, pr->pv->version);
		/* Changed lines explain a changed date and fee; otherwise they are causes themselves. */
		if (changed == 0 && strcmp(led_text(o, P_DATE), day_text) != 0)
			cause_part(cause, "order date: %s in the ledger, %s from the lines", led_text(o, P_DATE), day_text);
		int64_t led_fee = led_int(o, P_FEE);
		if (changed == 0 && fee != led_fee)
			cause_part(cause, "fee: %s yuan in the ledger, %s from the lines", money_format(led_fee, a),
				   money_format(fee, b));
	}
	if (cause->len == 0)
		g_string_append(cause, "ledger differs from its lines");
	return g_string_free(cause, FALSE);
}

/* What order o is entitled to (*pr; zero when none of its lines is eligible now) with the registry
 * the mode says, and *now how that registry is named in a cause (caller frees). */
static gboolean recompute(replay_ctx *c, const replay_order *o, chrono_day day, int64_t fee, pricing *pr,
			  char **now, GError **error)
{
	g_assert(*now == NULL);
	memset(pr, 0, sizeof *pr);
	if (o->rec.lines > 0) {
		const registry *r = c->current;
		if (c->mode == REPLAY_AS_RECORDED) {
			g_assert(c->batches->len > 0); /* not pending: the last batch took in its newest line */
			const replay_batch *b = &g_array_index(c->batches, replay_batch, c->batches->len - 1);
			if (!(r = snapshot_of(c, b, error)))
				return FALSE;
			*now = g_strdup_printf("as known at batch %d", b->batch_id);
		}
		if (!price(r, o->shop_id, day, fee, pr, error)) {
			g_prefix_error(error, "order '%s' of shop '%s': ", o->order_key, o->shop_id);
			return FALSE;
		}
	}
	if (!*now)
		*now = g_strdup(c->mode == REPLAY_CURRENT ? "now" : "as recorded");
	/* An entitlement is a part of the fee, never below zero (policy_entitle). */
	g_assert(pr->ent.amount_fen >= 0 && pr->ent.amount_fen <= fee);
	return TRUE;
}

/* Compares order o; a difference goes to the sink. */
static gboolean compare_order(replay_ctx *c, const replay_order *o, replay_sink sink, gpointer user_data,
			      GError **error)
{
	gboolean has_rec = o->rec.lines > 0;
	/* Dated by its lines as recomputed, else as stored, else by its latest posting. */
	chrono_day day;
	if (has_rec) {
		day = order_acc_date(&o->rec);
	} else if (o->sto.lines > 0) {
		day = order_acc_date(&o->sto);
	} else {
		g_assert(o->led != NULL); /* a candidate without lines has a posting */
		gboolean ok = chrono_parse_day(led_text(o, P_DATE), &day, NULL);
		g_assert(ok); /* to_char of a date */
	}
	if (day < c->from || day > c->to)
		return TRUE; /* a line in the range, but the order is dated before it */
	int64_t fee = 0;
	if (has_rec && !order_acc_fee(&o->rec, &fee)) {
		g_set_error(error, REPLAY_ERROR, STATUS_SOFTWARE,
			    "order '%s' of shop '%s': its fees add up to more than 64-bit arithmetic holds", o->order_key,
			    o->shop_id);
		return FALSE;
	}
	int64_t newest = MAX(o->rec_last, o->sto_last);
	if (c->sum.last_batch == 0 || newest > c->sum.files_upto) {
		c->sum.pending++;
		return TRUE;
	}
	c->sum.orders++;
	pricing pr;
	g_autofree char *now = NULL;
	if (!recompute(c, o, day, fee, &pr, &now, error))
		return FALSE;
	int64_t ledger_fen = led_int(o, P_FUNDED) + led_int(o, P_UNFUNDED);
	int64_t led_ent = led_int(o, P_ENT);
	if (ledger_fen == pr.ent.amount_fen && led_ent == ledger_fen)
		return TRUE;

	/* The order's number: its lines' smallest (order_acc), else its posting's. */
	const char *order_no = o->rec.order_no ? o->rec.order_no : o->sto.order_no;
	if (!order_no && o->led)
		order_no = led_text(o, P_ORDER_NO);
	g_autofree char *cause = cause_of(o, &pr, day, fee, ledger_fen, now);
	replay_difference diff = {
		.shop_id = o->shop_id,
		.order_key = o->order_key,
		.order_no = order_no ? order_no : "",
		.order_date = day,
		.ledger_fen = ledger_fen,
		.recomputed_fen = pr.ent.amount_fen,
		.cause = cause,
	};
	c->sum.differences++;
	c->sum.ledger_fen += ledger_fen;
	c->sum.recomputed_fen += pr.ent.amount_fen;
	/* A difference is of an order compared, never of a pending one. */
	g_assert(c->sum.differences <= c->sum.orders);
	return sink(&diff, user_data, error);
}

/* The sides, in the order merge_orders reads them. */
enum { SIDE_REC, SIDE_STO, SIDE_LED, SIDE_CHG, SIDES };

/* Merges the sides by order and compares each order. */
static gboolean merge_orders(replay_ctx *c, side *sides, replay_sink sink, gpointer user_data, GError **error)
{
	g_autoptr(GString) shop = g_string_new(NULL);
	g_autoptr(GString) key = g_string_new(NULL);
	gboolean ok = TRUE, first = TRUE;
	int64_t merged = 0;
	while (ok) {
		/* The next order: the smallest at the head of any side. */
		const side *head = NULL;
		for (int k = 0; k < SIDES; k++)
			if (sides[k].res && (!head || key_cmp(side_text(&sides[k], 0), side_text(&sides[k], 1),
							      side_text(head, 0), side_text(head, 1)) < 0))
				head = &sides[k];
		if (!head)
			break;
		/* Each side is sorted: an order's rows come together, once. */
		g_assert(first || key_cmp(shop->str, key->str, side_text(head, 0), side_text(head, 1)) < 0);
		first = FALSE;
		g_string_assign(shop, side_text(head, 0));
		g_string_assign(key, side_text(head, 1));

		replay_order o = { .shop_id = shop->str, .order_key = key->str };
		order_acc_init(&o.rec);
		order_acc_init(&o.sto);
		ok = fold_lines(c, &sides[SIDE_REC], &o, &o.rec, &o.rec_last, error) &&
		     fold_lines(c, &sides[SIDE_STO], &o, &o.sto, &o.sto_last, error);
		if (ok) {
			o.led = side_at(&sides[SIDE_LED], shop->str, key->str) ? &sides[SIDE_LED] : NULL;
			o.chg = side_at(&sides[SIDE_CHG], shop->str, key->str) ? &sides[SIDE_CHG] : NULL;
			/* An order is a candidate: it has lines or a posting. */
			g_assert(o.rec.lines > 0 || o.sto.lines > 0 || o.led != NULL);
			ok = compare_order(c, &o, sink, user_data, error) &&
			     (!o.led || side_advance(c, &sides[SIDE_LED], error)) &&
			     (!o.chg || side_advance(c, &sides[SIDE_CHG], error));
		}
		order_acc_clear(&o.rec);
		order_acc_clear(&o.sto);
		if (c->progress && ++merged % REPLAY_CHUNK_ROWS == 0)
			fprintf(stderr, "\rreplay: %" G_GINT64_FORMAT " orders compared, %" G_GINT64_FORMAT " pending",
				(gint64)c->sum.orders, (gint64)c->sum.pending);
	}
	if (c->progress)
		fprintf(stderr, "\n");
	return ok;
}

/* Each side of the comparison joins the candidates with the lines or the postings. Right after a
 * settlement (a first night, a go-live) nothing the settlement wrote has statistics yet: the
 * planner takes each side for a row or two and nests loops, which made a replay of 20,000 orders
 * take 219 s against 0.9 s once analysed, and 50,000 never end. Replay runs under the auditor in a
 * read-only transaction, so it can neither ANALYZE the ledger's tables (only its own scratch
 * table, replay_cand) nor wait for autovacuum: its plan must not depend on their statistics.
 * Without nested loops every join is a hash or merge join, linear in what it reads whatever the
 * estimates; a replay of a short range over a long history then reads the history once instead of
 * probing it by index, which is the price of never being quadratic. */
static const char replay_plan_settings[] = "SET LOCAL enable_nestloop = off";

/* A second session on the same snapshot, given the candidates, reads the ledger side: it sorts the
 * postings while this session sorts the lines (1,000,000 lines, June: 1.8 s and 2.2 s; in
 * alternate runs replay took 4.5-5.8 s instead of 5.6-7.0). It is opened once the candidates are
 * known, not left idle in its transaction while they are found; this session may wait for its
 * FETCH, as long as one statement takes. Without one (a connection limit), this session reads
 * every side. */
static gboolean open_twin(replay_ctx *c, GError **error)
{
	GError *failed = NULL;
	c->twin = db_twin_read(c->d, create_cand, &failed);
	if (failed) {
		g_propagate_error(error, failed);
		return FALSE;
	}
	return !c->twin || (db_exec(c->twin, replay_plan_settings, error) &&
	       db_copy_between(c->d, "COPY replay_cand TO STDOUT", c->twin, "COPY replay_cand FROM STDIN", error) &&
	       db_exec(c->twin, "ANALYZE replay_cand", error));
}

static gboolean compare(replay_ctx *c, chrono_day from, chrono_day to, replay_sink sink, gpointer user_data,
			GError **error)
{
	char from_text[CHRONO_DAY_TEXT_MAX], to_text[CHRONO_DAY_TEXT_MAX];
	chrono_format_day(from, from_text);
	chrono_format_day(to, to_text);
	const char *p3[] = { db_programme(c->d), from_text, to_text };
	gboolean current = c->mode == REPLAY_CURRENT;
	PGresult *res = NULL;
	if (!db_exec(c->d, "SET LOCAL work_mem = '" REPLAY_CAND_WORK_MEM "'", error) ||
	    !(res = db_query(c->d, current ? fill_cand_current : fill_cand_as_recorded, 3, p3, error)))
		return FALSE;
	PQclear(res);
	if (!db_exec(c->d, "SET LOCAL work_mem TO DEFAULT", error) || !db_exec(c->d, "ANALYZE replay_cand", error))
		return FALSE;
	if (!open_twin(c, error))
		return FALSE;

	/* The range is in the candidates now: the cursors take the programme alone. */
	side sides[SIDES];
	for (int k = 0; k < SIDES; k++)
		side_none(&sides[k]);
#define FETCH_FROM(cursor) "FETCH " G_STRINGIFY(REPLAY_CHUNK_ROWS) " FROM " cursor
	gboolean ok = (!c->twin || side_twin_open(c, &sides[SIDE_LED], ledger_cursor, FETCH_FROM("replay_led"),
						   P_COLUMNS, error)) &&
		      side_open(c, &sides[SIDE_REC], current ? lines_rec_current : lines_rec_as_recorded, TRUE,
				FETCH_FROM("replay_rec"), LN_COLUMNS, error) &&
		      (!current || side_open(c, &sides[SIDE_STO], lines_sto_current, TRUE, FETCH_FROM("replay_sto"),
					     LN_COLUMNS, error)) &&
		      (c->twin ? side_twin_opened(c, &sides[SIDE_LED], error)
			       : side_open(c, &sides[SIDE_LED], ledger_cursor, TRUE, FETCH_FROM("replay_led"), P_COLUMNS,
					   error)) &&
		      (!current || side_open(c, &sides[SIDE_CHG], changes_cursor, FALSE, FETCH_FROM("replay_chg"), CH_COLUMNS,
					     error)) &&
		      merge_orders(c, sides, sink, user_data, error);
#undef FETCH_FROM
	/* The cursors end with the read-only transaction. */
	for (int k = 0; k < SIDES; k++)
		PQclear(sides[k].res);
	return ok;
}

/* ------------------------------------------------------------------------------------------ */

static gboolean replay_in_txn(replay_ctx *c, chrono_day from, chrono_day to, replay_sink sink, gpointer user_data,
			      GError **error)
{
	if (!load_batches(c, error))
		return FALSE;
	if (c->mode == REPLAY_CURRENT) {
		c->current = registry_snapshot(c->d, NULL, error);
		if (!c->current)
			return FALSE;
		c->sum.snapshots++;
		if (!reclassify(c, error))
			return FALSE;
	}
	return compare(c, from, to, sink, user_data, error);
}

gboolean replay_run(db *d, chrono_day from, chrono_day to, replay_registry mode, gboolean progress,
		    replay_sink sink, gpointer user_data, replay_summary *out, GError **error)
{
	g_return_val_if_fail(d != NULL && sink != NULL && out != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
	g_assert(from <= to);
	g_assert(PQtransactionStatus(db_conn(d)) == PQTRANS_IDLE);

	replay_ctx c = { 0 };
	c.d = d;
	c.mode = mode;
	c.progress = progress;
	c.from = from;
	c.to = to;
	c.batches = g_array_new(FALSE, TRUE, sizeof(replay_batch));
	g_array_set_clear_func(c.batches, batch_clear);
	c.snapshots = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)registry_free);
	c.recent = g_queue_new();

	/* The scratch tables are made before the read-only transaction (which may not create one)
	 * and are the session's own: they change nothing anyone else sees. */
	gboolean changes = mode == REPLAY_CURRENT;
	gboolean ok = db_exec(d, create_cand, error) &&
		      (!changes || db_exec(d, create_changes, error)) &&
		      db_begin_read(d, error) &&
		      db_exec(d, replay_plan_settings, error) &&
		      replay_in_txn(&c, from, to, sink, user_data, error);
	db_close(c.twin); /* its cursor, candidates and queue go with it */
	db_rollback(d); /* read only: nothing to keep */
	db_exec(d, "DROP TABLE IF EXISTS replay_cand", NULL);
	if (changes)
		db_exec(d, "DROP TABLE IF EXISTS replay_changes", NULL);
	if (ok)
		*out = c.sum;

	if (c.current)
		registry_free(c.current);
	g_queue_free(c.recent); /* its keys are the hash table's */
	g_hash_table_destroy(c.snapshots);
	g_array_free(c.batches, TRUE);
	return ok;
}
