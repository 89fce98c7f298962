/* replay.c: the auditor's recomputation; see replay.h.
 *
 * One query does the comparing, server-side, over the range's candidate orders (put first in a
 * scratch table, replay_cand), and streams its rows through a cursor in
 * (shop_id, order_key) order: per order, its recomputed side (the lines grouped into orders),
 * its stored side (the lines as stored: for the date of an order that lost every line, and for
 * pending), and its ledger side (its postings: what they funded, the latest one's entitlement,
 * unfunded amount, rule and policy). The client prices the recomputed side with the policy
 * functions and reports what differs.
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

/* Orders (and lines, when reclassifying) fetched per round: the memory bound of a replay. */
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
	"CREATE TEMP TABLE replay_changes (file_id bigint, line_no integer, old_eligible boolean, old_shop text,"
	" old_key text, new_eligible boolean, new_shop text, new_key text, order_no text, fee_fen bigint,"
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
/* The comparison */

/* The lines grouped into orders, for the candidate orders only: each order's lines' fees and
 * pickup times as lists (the order module sums and dates them, as settlement does), and its
 * newest file. */
#define ORDERS_OF(lines)                                                                                          \
	"SELECT s.shop_id, s.order_key, min(s.order_no) AS order_no, string_agg(s.fee_fen::text, ',') AS fees,"    \
	" string_agg(to_char(s.pickup_time, 'YYYY-MM-DD HH24:MI:SS'), ',') AS pickups,"                           \
	" max(s.file_id) AS last_file FROM (" lines ") s"                                                         \
	" JOIN replay_cand cand ON cand.shop_id = s.shop_id AND cand.order_key = s.order_key"                      \
	" GROUP BY s.shop_id, s.order_key"

/* The orders with a line picked up in the range. An order dated in the range has one (its
 * earliest), so every order that can be in the range is a candidate, and only candidates are
 * aggregated: a day's replay does not group the whole history. */
#define IN_RANGE(lines)                                                                                           \
	"SELECT shop_id, order_key FROM (" lines ") i WHERE pickup_time >= $2::date AND pickup_time < $3::date + 1"

#define STORED_LINES                                                                                              \
	"SELECT shop_id, order_key, order_no, fee_fen, pickup_time, file_id FROM lines_counted()"                   \
	" WHERE programme = $1"

#define CURRENT_LINES                                                                                             \
	"SELECT l.shop_id, l.order_key, l.order_no, l.fee_fen, l.pickup_time, l.file_id FROM lines_counted() l"     \
	" WHERE l.programme = $1 AND NOT EXISTS (SELECT 1 FROM replay_changes c"                                  \
	"  WHERE c.file_id = l.file_id AND c.line_no = l.line_no)"                                               \
	" UNION ALL SELECT new_shop, new_key, order_no, fee_fen, pickup_time, file_id FROM replay_changes"        \
	" WHERE new_eligible"

/* The changed lines, named per order they left (note_out) or joined (note_in). */
#define CURRENT_CHANGES                                                                                           \
	"SELECT shop_id, order_key, count(*) AS n, array_to_string((array_agg(note ORDER BY file_id, line_no))"   \
	"[1:" G_STRINGIFY(REPLAY_NOTES_MAX) "], '; ') AS notes FROM ("                                            \
	" SELECT old_shop AS shop_id, old_key AS order_key, file_id, line_no, note_out AS note FROM replay_changes" \
	"  WHERE old_eligible"                                                                                    \
	" UNION ALL SELECT new_shop, new_key, file_id, line_no, note_in FROM replay_changes WHERE new_eligible"    \
	") x GROUP BY shop_id, order_key"

#define NO_CHANGES                                                                                                \
	"SELECT NULL::text AS shop_id, NULL::text AS order_key, 0::bigint AS n, NULL::text AS notes WHERE false"

/* replay_cand: the candidate orders (with a line, stored or recomputed, or a posting dated in the
 * range), filled first (FILL_CAND) and analysed; rec: the recomputed side; sto: the stored side;
 * led: the ledger side; chg: changed lines. An order's date is its recomputed one, else (no
 * eligible line now) its stored one, else its latest posting's: compare_order dates it
 * (order_date) and keeps it when in the range.
 *
 * The candidates are a table, not a CTE, so that the planner knows how many there are: as a CTE
 * it took a month's 514,263 orders (1,000,000 lines) for a few thousand and, once autovacuum had
 * analysed `lines`, grouped their lines by a hash that spilled to disk in 641 batches. The
 * month's `subsidy replay` took 9.9-10.0 s there, and 8.2-8.3 s with the table; right after a
 * settlement, before any statistics, both take 8.3-8.8 s (make bench): the plan no longer depends
 * on them. Of the statements (EXPLAIN ANALYZE), the fill's UNION is the one that gains from memory
 * (1.8 s in 4 MB, 1.1 s in 64 MB); the comparison does not (5.8 s in 4 MB, 6.2 s in 64 MB), so
 * the fill alone has more. led's window is ordered as its DISTINCT ON is, over the whole
 * partition, so the postings are sorted once, not twice (514,263 postings: 0.87 s, then 0.64 s,
 * EXPLAIN ANALYZE). */
#define FILL_CAND(cand)                                                                                           \
	"INSERT INTO replay_cand " cand " UNION SELECT shop_id, order_key FROM postings WHERE programme = $1"       \
	" AND order_date BETWEEN $2::date AND $3::date"
#define COMPARE(rec, sto, chg)                                                                                    \
	"DECLARE replay_orders NO SCROLL CURSOR FOR"                                                              \
	" WITH rec AS (" rec "), sto AS (" sto "),"                                                              \
	" led AS (SELECT DISTINCT ON (p.shop_id, p.order_key) p.shop_id, p.order_key, p.order_no, p.batch_id,"    \
	"  p.seq, p.fee_fen, p.order_date, p.rule, p.rate_bp, p.policy_id, p.policy_version, p.entitlement_fen,"   \
	"  p.unfunded_fen, sum(p.funded_fen) OVER (PARTITION BY p.shop_id, p.order_key"                           \
	"  ORDER BY p.batch_id DESC, p.seq DESC ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"         \
	"  AS funded_sum"                                                                                         \
	"  FROM postings p JOIN replay_cand cand ON cand.shop_id = p.shop_id AND cand.order_key = p.order_key"    \
	"  WHERE p.programme = $1 ORDER BY p.shop_id, p.order_key, p.batch_id DESC, p.seq DESC),"                 \
	" chg AS (" chg "),"                                                                                      \
	" j AS (SELECT k.shop_id, k.order_key, coalesce(r.order_no, s.order_no, l.order_no, '') AS order_no,"     \
	"  s.pickups AS sto_pickups, r.shop_id IS NOT NULL AS has_rec, r.fees AS rec_fees,"                       \
	"  r.pickups AS rec_pickups, r.last_file AS rec_last,"                                                   \
	"  s.last_file AS sto_last, l.shop_id IS NOT NULL AS has_led, l.funded_sum, l.unfunded_fen,"              \
	"  l.entitlement_fen, l.rule, l.rate_bp, l.policy_id, l.policy_version, l.fee_fen AS led_fee,"            \
	"  to_char(l.order_date, 'YYYY-MM-DD') AS led_date, l.batch_id, l.seq, coalesce(c.n, 0) AS chg_n, c.notes" \
	"  FROM replay_cand k LEFT JOIN rec r ON r.shop_id = k.shop_id AND r.order_key = k.order_key"            \
	"  LEFT JOIN sto s ON s.shop_id = k.shop_id AND s.order_key = k.order_key"                               \
	"  LEFT JOIN led l ON l.shop_id = k.shop_id AND l.order_key = k.order_key"                               \
	"  LEFT JOIN chg c ON c.shop_id = k.shop_id AND c.order_key = k.order_key)"                              \
	" SELECT shop_id, order_key, order_no, sto_pickups, has_rec, rec_fees, rec_pickups,"                      \
	"  rec_last, sto_last, has_led, funded_sum, unfunded_fen, entitlement_fen, rule, rate_bp, policy_id,"      \
	"  policy_version, led_fee, led_date, batch_id, seq, chg_n, notes"                                        \
	" FROM j ORDER BY shop_id COLLATE \"C\", order_key COLLATE \"C\""

static const char fill_cand_as_recorded[] = FILL_CAND(IN_RANGE(STORED_LINES));
static const char fill_cand_current[] = FILL_CAND(IN_RANGE(CURRENT_LINES) " UNION " IN_RANGE(STORED_LINES));
static const char compare_as_recorded[] = COMPARE(ORDERS_OF(STORED_LINES), "SELECT * FROM rec", NO_CHANGES);
static const char compare_current[] =
	COMPARE(ORDERS_OF(CURRENT_LINES), ORDERS_OF(STORED_LINES), CURRENT_CHANGES);

/* Columns of the replay_orders cursor. */
enum { O_SHOP, O_KEY, O_ORDER_NO, O_STO_PICKUPS, O_HAS_REC, O_REC_FEES, O_REC_PICKUPS, O_REC_LAST, O_STO_LAST, O_HAS_LED,
       O_LED_FUNDED, O_LED_UNFUNDED, O_LED_ENT, O_LED_RULE, O_LED_RATE, O_LED_POLICY, O_LED_VERSION, O_LED_FEE,
       O_LED_DATE, O_LED_BATCH, O_LED_SEQ, O_CHG_N, O_CHG_NOTES, O_COLUMNS };

static int64_t int_at(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : g_ascii_strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static gboolean bool_at(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
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

/* Why the ledger and the recomputation differ for the order at row i: each rule or registry
 * fact that is not the same on both sides. now names the registry the recomputation used. */
static char *cause_of(const PGresult *res, int i, const pricing *pr, chrono_day day, int64_t fee,
		      int64_t ledger_fen, const char *now)
{
	GString *cause = g_string_new(NULL);
	gboolean has_rec = bool_at(res, i, O_HAS_REC), has_led = bool_at(res, i, O_HAS_LED);
	int64_t led_ent = int_at(res, i, O_LED_ENT);
	char a[MONEY_TEXT_MAX], b[MONEY_TEXT_MAX], e[MONEY_TEXT_MAX];
	char day_text[CHRONO_DAY_TEXT_MAX];
	chrono_format_day(day, day_text);

	if (has_led && led_ent != ledger_fen)
		cause_part(cause,
			   "the ledger does not add up: batch %s posting %s records an entitlement of %s yuan, the"
			   " order's postings funded %s and left %s unfunded",
			   PQgetvalue(res, i, O_LED_BATCH), PQgetvalue(res, i, O_LED_SEQ), money_format(led_ent, e),
			   money_format(int_at(res, i, O_LED_FUNDED), a), money_format(int_at(res, i, O_LED_UNFUNDED), b));
	int64_t changed = int_at(res, i, O_CHG_N);
	if (changed > 0) {
		cause_part(cause, "%s", PQgetvalue(res, i, O_CHG_NOTES));
		if (changed > REPLAY_NOTES_MAX)
			cause_part(cause, "and %" G_GINT64_FORMAT " more lines", (gint64)(changed - REPLAY_NOTES_MAX));
	}
	if (!has_rec && ledger_fen != 0 && changed == 0)
		cause_part(cause, "the order has no eligible line");
	if (has_rec && !has_led && pr->ent.amount_fen != 0 && changed == 0)
		cause_part(cause, "no posting for the order");
	if (has_rec && has_led) {
		const char *led_rule = PQgetvalue(res, i, O_LED_RULE);
		const char *rule = policy_rule_name(pr->ent.rule);
		const char *household = pr->shop && pr->shop->household_id ? pr->shop->household_id : NULL;
		if (!pr->shop)
			cause_part(cause, "shop %s is not in the registry %s", PQgetvalue(res, i, O_SHOP), now);
		else if (!pr->pv)
			cause_part(cause, "policy version: %s v%s in the ledger, none in force on %s %s",
				   PQgetvalue(res, i, O_LED_POLICY), PQgetvalue(res, i, O_LED_VERSION), day_text, now);
		else if (strcmp(led_rule, rule) != 0)
			cause_part(cause, "poverty status on %s: %s in the ledger, %s %s (%s%s)", day_text,
				   strcmp(led_rule, policy_rule_name(POLICY_RULE_POVERTY)) == 0 ? "poor" : "not poor",
				   pr->poor ? "poor" : "not poor", now, household ? "household " : "no household",
				   household ? household : "");
		if (pr->pv && (strcmp(PQgetvalue(res, i, O_LED_POLICY), pr->pv->policy_id) != 0 ||
			       int_at(res, i, O_LED_VERSION) != pr->pv->version))
			cause_part(cause, "policy version: %s v%s in the ledger, %s v%d %s",
				   PQgetvalue(res, i, O_LED_POLICY), PQgetvalue(res, i, O_LED_VERSION), pr->pv->policy_id,
				   pr->pv->version, now);
		else if (pr->pv && strcmp(led_rule, rule) == 0 && int_at(res, i, O_LED_RATE) != pr->ent.rate_bp)
			cause_part(cause, "rate: %s bp in the ledger, %d bp by policy %s v%d", PQgetvalue(res, i, O_LED_RATE),
				   pr->ent.rate_bp, pr->pv->policy_id, pr->pv->version);
		/* Changed lines explain a changed date and fee; otherwise they are causes themselves. */
		if (changed == 0 && strcmp(PQgetvalue(res, i, O_LED_DATE), day_text) != 0)
			cause_part(cause, "order date: %s in the ledger, %s from the lines", PQgetvalue(res, i, O_LED_DATE),
				   day_text);
		int64_t led_fee = int_at(res, i, O_LED_FEE);
		if (changed == 0 && fee != led_fee)
			cause_part(cause, "fee: %s yuan in the ledger, %s from the lines", money_format(led_fee, a),
				   money_format(fee, b));
	}
	if (cause->len == 0)
		g_string_append(cause, "ledger differs from its lines");
	return g_string_free(cause, FALSE);
}

/* An order's lines from the comparison's lists (string_agg of the fees and of the pickup times,
 * which hold no comma): fees may be NULL (only the dates are needed), pickups NULL for no line.
 * FALSE when a list does not read. Lines get no courier or waybill: only the fee and date
 * functions see them. */
static gboolean lines_of(const char *fees, const char *pickups, GArray *lines)
{
	if (!pickups)
		return fees == NULL;
	g_auto(GStrv) times = g_strsplit(pickups, ",", -1);
	g_auto(GStrv) amounts = fees ? g_strsplit(fees, ",", -1) : NULL;
	guint n = g_strv_length(times);
	if (n == 0 || (amounts && g_strv_length(amounts) != n))
		return FALSE;
	for (guint k = 0; k < n; k++) {
		order_line l = { 0 };
		if (!chrono_parse_time(times[k], &l.pickup, NULL))
			return FALSE;
		if (amounts && !g_ascii_string_to_signed(amounts[k], 10, 0, INT64_MAX, &l.fee_fen, NULL))
			return FALSE;
		g_array_append_val(lines, l);
	}
	return TRUE;
}

/* The order at row i: its lines, as the recomputation has them (else, none eligible now, as
 * stored), and its date: its lines', or with none, its posting's. */
static gboolean order_lines_and_day(const PGresult *res, int i, GArray *lines, chrono_day *day, GError **error)
{
	g_assert(lines->len == 0);
	gboolean has_rec = bool_at(res, i, O_HAS_REC);
	const char *pickups = has_rec ? PQgetvalue(res, i, O_REC_PICKUPS) : value(res, i, O_STO_PICKUPS);
	if (!lines_of(has_rec ? PQgetvalue(res, i, O_REC_FEES) : NULL, pickups, lines)) {
		g_set_error(error, REPLAY_ERROR, STATUS_SOFTWARE,
			    "order '%s' of shop '%s': its lines' fees or pickup times cannot be read: '%s'",
			    PQgetvalue(res, i, O_KEY), PQgetvalue(res, i, O_SHOP), pickups ? pickups : "");
		return FALSE;
	}
	/* Recomputed lines are never an empty list: lines_of refuses one. */
	g_assert(!has_rec || lines->len > 0);
	if (lines->len > 0) {
		*day = order_date((const order_line *)(const void *)lines->data, lines->len);
	} else {
		g_assert(bool_at(res, i, O_HAS_LED)); /* a candidate without lines has a posting */
		gboolean ok = chrono_parse_day(PQgetvalue(res, i, O_LED_DATE), day, NULL);
		g_assert(ok); /* to_char of a date */
	}
	return TRUE;
}

/* What the order at row i is entitled to (*pr; zero when none of its lines is eligible now) with
 * the registry the mode says, and *now how that registry is named in a cause (caller frees). */
static gboolean recompute(replay_ctx *c, const PGresult *res, int i, chrono_day day, int64_t fee, pricing *pr,
			  char **now, GError **error)
{
	g_assert(*now == NULL);
	memset(pr, 0, sizeof *pr);
	const char *shop_id = PQgetvalue(res, i, O_SHOP);
	if (bool_at(res, i, O_HAS_REC)) {
		const registry *r = c->current;
		if (c->mode == REPLAY_AS_RECORDED) {
			g_assert(c->batches->len > 0); /* not pending: the last batch took in its newest line */
			const replay_batch *b = &g_array_index(c->batches, replay_batch, c->batches->len - 1);
			if (!(r = snapshot_of(c, b, error)))
				return FALSE;
			*now = g_strdup_printf("as known at batch %d", b->batch_id);
		}
		if (!price(r, shop_id, day, fee, pr, error)) {
			g_prefix_error(error, "order '%s' of shop '%s': ", PQgetvalue(res, i, O_KEY), shop_id);
			return FALSE;
		}
	}
	if (!*now)
		*now = g_strdup(c->mode == REPLAY_CURRENT ? "now" : "as recorded");
	/* An entitlement is a part of the fee, never below zero (policy_entitle). */
	g_assert(pr->ent.amount_fen >= 0 && pr->ent.amount_fen <= fee);
	return TRUE;
}

/* Compares the order at row i; a difference goes to the sink. */
static gboolean compare_order(replay_ctx *c, const PGresult *res, int i, replay_sink sink, gpointer user_data,
			      GError **error)
{
	g_assert(i >= 0 && i < PQntuples(res));
	const char *shop_id = PQgetvalue(res, i, O_SHOP);
	g_autoptr(GArray) lines = g_array_new(FALSE, TRUE, sizeof(order_line));
	chrono_day day;
	if (!order_lines_and_day(res, i, lines, &day, error))
		return FALSE;
	if (day < c->from || day > c->to)
		return TRUE; /* a line in the range, but the order is dated before it */
	int64_t fee = 0;
	if (bool_at(res, i, O_HAS_REC) && !order_fee_sum((const order_line *)(const void *)lines->data, lines->len, &fee)) {
		g_set_error(error, REPLAY_ERROR, STATUS_SOFTWARE,
			    "order '%s' of shop '%s': its fees add up to more than 64-bit arithmetic holds",
			    PQgetvalue(res, i, O_KEY), shop_id);
		return FALSE;
	}
	int64_t newest = MAX(int_at(res, i, O_REC_LAST), int_at(res, i, O_STO_LAST));
	if (c->sum.last_batch == 0 || newest > c->sum.files_upto) {
		c->sum.pending++;
		return TRUE;
	}
	c->sum.orders++;
	pricing pr;
	g_autofree char *now = NULL;
	if (!recompute(c, res, i, day, fee, &pr, &now, error))
		return FALSE;
	int64_t ledger_fen = bool_at(res, i, O_HAS_LED) ? int_at(res, i, O_LED_FUNDED) + int_at(res, i, O_LED_UNFUNDED)
							 : 0;
	int64_t led_ent = bool_at(res, i, O_HAS_LED) ? int_at(res, i, O_LED_ENT) : 0;
	if (ledger_fen == pr.ent.amount_fen && led_ent == ledger_fen)
		return TRUE;

	g_autofree char *cause = cause_of(res, i, &pr, day, fee, ledger_fen, now);
	replay_difference diff = {
		.shop_id = shop_id,
		.order_key = PQgetvalue(res, i, O_KEY),
		.order_no = PQgetvalue(res, i, O_ORDER_NO),
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

static gboolean compare(replay_ctx *c, chrono_day from, chrono_day to, replay_sink sink, gpointer user_data,
			GError **error)
{
	char from_text[CHRONO_DAY_TEXT_MAX], to_text[CHRONO_DAY_TEXT_MAX];
	chrono_format_day(from, from_text);
	chrono_format_day(to, to_text);
	const char *p3[] = { db_programme(c->d), from_text, to_text };
	PGresult *res = NULL;
	if (!db_exec(c->d, "SET LOCAL work_mem = '" REPLAY_CAND_WORK_MEM "'", error) ||
	    !(res = db_query(c->d, c->mode == REPLAY_CURRENT ? fill_cand_current : fill_cand_as_recorded, 3, p3,
			     error)))
		return FALSE;
	PQclear(res);
	if (!db_exec(c->d, "SET LOCAL work_mem TO DEFAULT", error) || !db_exec(c->d, "ANALYZE replay_cand", error))
		return FALSE;
	/* The range is in the candidates now: the comparison takes the programme alone. */
	res = db_query(c->d, c->mode == REPLAY_CURRENT ? compare_current : compare_as_recorded, 1, p3, error);
	if (!res)
		return FALSE;
	PQclear(res);
	for (;;) {
		res = db_query(c->d, "FETCH " G_STRINGIFY(REPLAY_CHUNK_ROWS) " FROM replay_orders", 0, NULL, error);
		if (!res)
			return FALSE;
		g_assert(PQnfields(res) == O_COLUMNS);
		int n = PQntuples(res);
		for (int i = 0; i < n; i++) {
			if (!compare_order(c, res, i, sink, user_data, error)) {
				PQclear(res);
				return FALSE;
			}
		}
		PQclear(res);
		if (c->progress)
			fprintf(stderr, "\rreplay: %" G_GINT64_FORMAT " orders compared, %" G_GINT64_FORMAT " pending",
				(gint64)c->sum.orders, (gint64)c->sum.pending);
		if (n < REPLAY_CHUNK_ROWS)
			break;
	}
	if (c->progress)
		fprintf(stderr, "\n");
	return db_exec(c->d, "CLOSE replay_orders", error);
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

/* The comparison joins the lines, the postings and the candidates of a range. Right after a
 * settlement (a first night, a go-live) nothing the settlement wrote has statistics yet: the
 * planner takes each side for a row or two and nests loops, which made a replay of 20,000 orders
 * take 219 s against 0.9 s once analysed, and 50,000 never end. Replay runs under the auditor in a
 * read-only transaction, so it can neither ANALYZE the ledger's tables (only its own scratch
 * table, replay_cand) nor wait for autovacuum: its plan must not depend on their statistics.
 * Without nested loops every join is a hash or merge join, linear in what it reads whatever the
 * estimates; a replay of a short range over a long history then reads the history once instead of
 * probing it by index, which is the price of never being quadratic. */
static const char replay_plan_settings[] = "SET LOCAL enable_nestloop = off";

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
