/* settle.c: settlement; see settle.h and POLICY.md ("How much", "The fund runs out").
 *
 * The money rules are the pure modules' (order: fee, date, funding key; policy: the entitlement;
 * fund: what to post and how it is funded); SQL only moves and sorts rows. Two streamed passes,
 * a chunk at a time, so memory is bounded by a chunk and there is no round trip per order:
 *   1. settle_touched, built in one place (touch_orders): the orders to price this settlement;
 *   2. pricing: one pass over the touched orders' eligible lines, grouped by the database
 *      (sorted by order), each order folded (order_acc) and priced (policy_entitle) in C; what
 *      it must post (fund_plan) goes to settle_fund with the bytes of its funding order, an order
 *      with nothing to post straight to settle_state, its new state;
 *   3. funding: settle_fund in funding order (the database sorts by C's bytes), each attempt
 *      funded by fund_post; postings (write_posting) and their double entries go out by COPY,
 *      and the order's new state to settle_state;
 *   4. orders (from settle_state), pool balances (what the pools lent, from C) and what the
 *      batch pays each shop are updated set-wise, then the batch row with its digest closes the
 *      chain. */
#include "settle.h"

#include "acts.h"
#include "chrono.h"
#include "fault.h"
#include "fund.h"
#include "ledger.h"
#include "money.h"
#include "order.h"
#include "policy.h"
#include "pools.h"
#include "registry.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETTLE_ERROR settle_error_quark()
G_DEFINE_QUARK(subsidy-settle-error-quark, settle_error)

/* Lines (pricing) and attempts (funding) fetched per round: with the COPY buffers, flushed every
 * round, the memory bound of a settlement. */
#define SETTLE_CHUNK_ROWS 10000
/* The lines of the touched orders are read by one pass over the programme's eligible lines when
 * the touched orders are at least 1/SETTLE_SCAN_SHARE of them (choose_lines_plan). */
#define SETTLE_SCAN_SHARE 4
/* The server's work_mem for a settlement's sorts (settle_plan_settings). */
#define SETTLE_SORT_MEM_MB 64
/* The COPY buffers' first size: about what a round of SETTLE_CHUNK_ROWS writes. */
#define SETTLE_COPY_FLUSH_BYTES (1 << 20)

typedef struct {
	db *d;
	const char *programme;
	int batch_id;
	int64_t files_prev;
	int64_t files_upto;
	registry *reg;
	GArray *pools;       /* fund_pool, in fund_pools_sort's order; pool ids interned */
	GArray *pools_start; /* int64_t: each pool's left_fen before the batch */
	GArray *pools_used;  /* gboolean: the batch has an entry on the pool */
	GHashTable *draws;   /* "shop\x1forder" -> GArray of fund_draw, drawn first to last */
	GArray *txn_entries; /* fund_entry: the posting being written */
	GByteArray *key;     /* scratch: a funding order's bytes */
	GString *fund;       /* COPY buffers */
	GString *state;
	ledger_writer *ledger; /* the batch's postings and entries */
	int64_t touched;     /* orders in settle_touched */
	int64_t priced;      /* orders the pricing pass has seen */
	int64_t states;      /* rows of settle_state: orders with a new state */
	int64_t states_known; /* those of them that orders already holds */
	int seq;
	settle_result res;
} settle_ctx;

static void draws_free(gpointer p)
{
	g_array_free(p, TRUE);
}

static void settle_held_free(gpointer p)
{
	settle_held *h = p;
	g_free(h->shop_id);
	g_free(h->order_no);
	g_free(h->order_key);
	g_free(h->reason);
	g_free(h);
}

void settle_result_clear(settle_result *r)
{
	if (r->held)
		g_ptr_array_free(r->held, TRUE);
	r->held = NULL;
}

static gboolean exec_params(db *d, const char *sql, int n, const char *const *params, GError **error)
{
	PGresult *res = db_query(d, sql, n, params, error);
	if (!res)
		return FALSE;
	PQclear(res);
	return TRUE;
}

static gboolean flush(settle_ctx *c, GString *buf, const char *copy_sql, GError **error)
{
	return db_copy_rows(c->d, copy_sql, buf, error);
}

/* An order's columns as settlement writes them (settle_fund, settle_state, orders), in the
 * order of settle_row's texts. */
#define SETTLE_ORDER_COLUMNS "shop_id, order_key, order_no, fee_fen, order_date, fund_pickup, fund_courier," \
			     " fund_waybill, campaign_id, rule, rate_bp, policy_id, policy_version"
enum { R_SHOP, R_KEY, R_ORDER_NO, R_FEE, R_DATE, R_PICKUP, R_COURIER, R_WAYBILL, R_CAMPAIGN, R_RULE, R_RATE,
       R_POLICY, R_VERSION, R_COUNT };

/* One priced order, as the texts of SETTLE_ORDER_COLUMNS (NULL for SQL NULL). */
typedef struct {
	const char *col[R_COUNT];
} settle_row;

/* settle_touched's key compares bytewise, as the keys of lines and orders do (sql/014): its index
 * is built by one sort, which under the server's collation (C.UTF-8 here, compared by strcoll) took
 * 0.94 s for a first night's 514,263 orders, and 0.70-0.81 s bytewise; and a probing settlement
 * then reads the touched orders in the order of the indexes it probes. */
static const char create_work[] =
	"CREATE TEMP TABLE settle_touched (shop_id text COLLATE \"C\", order_key text COLLATE \"C\") ON COMMIT DROP;"
	"CREATE TEMP TABLE settle_fund (fund_order bytea, shop_id text, order_key text, order_no text, fee_fen bigint,"
	" order_date date, fund_pickup timestamp, fund_courier text, fund_waybill text, campaign_id text, rule text,"
	" rate_bp integer, policy_id text, policy_version integer, new_fen bigint, before_fen bigint,"
	" before_funded_fen bigint, before_unfunded_fen bigint, after_reversal boolean, last boolean, known boolean)"
	" ON COMMIT DROP;"
	"CREATE TEMP TABLE settle_state (shop_id text, order_key text, order_no text, fee_fen bigint, order_date date,"
	" fund_pickup timestamp, fund_courier text, fund_waybill text, campaign_id text, rule text, rate_bp integer,"
	" policy_id text, policy_version integer, entitlement_fen bigint, funded_fen bigint, unfunded_fen bigint,"
	" last_batch integer, known boolean) ON COMMIT DROP";
static const char copy_fund[] =
	"COPY settle_fund (fund_order, " SETTLE_ORDER_COLUMNS ", new_fen, before_fen, before_funded_fen,"
	" before_unfunded_fen, after_reversal, last, known) FROM STDIN";
static const char copy_state[] =
	"COPY settle_state (" SETTLE_ORDER_COLUMNS ", entitlement_fen, funded_fen, unfunded_fen, last_batch, known)"
	" FROM STDIN";

/* The work tables are filled in this transaction and autovacuum never sees a temporary table:
 * without statistics the planner takes each for a handful of rows and joins them by nested loops,
 * which made a first night's settlement quadratic in its orders (20,000 orders: 46 s; issue 12).
 * ANALYZE of a work table samples at most 30,000 rows (default_statistics_target 100) of the columns
 * named, those that the later statements join, group or filter on, so its cost is bounded whatever
 * the night's size. `lines` itself is never analysed here (on a big table that costs): it may be
 * unanalysed, or analysed before tonight's rows, or know nothing of a new programme, so the
 * statement that reads the touched orders' lines joins it with an analysed work table on an
 * indexed key, and no estimate of `lines` can make it quadratic (choose_lines_plan picks between
 * probing and one pass). */
static gboolean analyse_work(settle_ctx *c, const char *table_and_columns, GError **error)
{
	g_autofree char *sql = g_strconcat("ANALYZE ", table_and_columns, NULL);
	return db_exec(c->d, sql, error);
}

/* The registry tables whose changes move an order's entitlement (POLICY.md, "How much": the
 * shop and its owner household decide the poverty status, the policy version the rates). Senders
 * and campaigns decide line outcomes, which follow a registry change only through `reclassify`;
 * pools decide funding, not entitlement. */
static const char touch_changed_shops[] =
	"SELECT shop_id FROM shops WHERE programme = $1"
	" AND (recorded_at > $2::timestamptz OR superseded_at > $2::timestamptz)"
	" UNION SELECT s.shop_id FROM shops s JOIN households h ON h.programme = s.programme"
	"  AND h.household_id = s.household_id"
	" WHERE s.programme = $1 AND s.superseded_at IS NULL"
	"  AND (h.recorded_at > $2::timestamptz OR h.superseded_at > $2::timestamptz)";
static const char touch_changed_policies[] =
	"SELECT valid_from::text, valid_to::text FROM policies WHERE programme = $1"
	" AND (recorded_at > $2::timestamptz OR superseded_at > $2::timestamptz)";
/* Their columns, by name. */
enum { CHANGED_SHOP_ID, CHANGED_SHOP_COLUMNS };
enum { CHANGED_FROM, CHANGED_TO, CHANGED_POLICY_COLUMNS };

/* Runs an INSERT INTO settle_touched; adds the rows it inserted to *n. */
static gboolean touch(settle_ctx *c, const char *sql, int n_params, const char *const *params, int64_t *n,
		      GError **error)
{
	PGresult *res = db_query(c->d, sql, n_params, params, error);
	if (!res)
		return FALSE;
	*n += g_ascii_strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return TRUE;
}

/* A text[] literal of column col of res (db_text_array), NULLs kept. */
static char *column_array(const PGresult *res, int col)
{
	int n = PQntuples(res);
	g_autofree const char **items = g_new0(const char *, (gsize)n + 1);
	for (int i = 0; i < n; i++)
		items[i] = PQgetisnull(res, i, col) ? NULL : PQgetvalue(res, i, col);
	return db_text_array(items, (size_t)n);
}

/* The orders already settled whose entitlement a registry change since the last settlement may
 * move: every order of a shop whose version or whose household's version was recorded or
 * superseded since, and every order dated in the range of a policy version recorded or superseded
 * since (the old version's range and the new one's). Without a mark (the first settlement, or the
 * first after an upgrade), every order. Registry loads wait for the settlement lock and take
 * their time once they hold it, so every change committed after the last settlement has a later
 * time than its mark (sql/007_settle_marks.sql). Only the changed registry rows are read, then
 * the orders they name through the orders' key (or one pass over orders when a policy version
 * changed, which is rare). The mark moves to this settlement's time. *changed: whether any such
 * change was found (its orders may have been touched already, by lines). */
static gboolean touch_registry_changes(settle_ctx *c, int64_t *n, gboolean *changed, GError **error)
{
	const char *p1[] = { c->programme };
	char *since = NULL;
	if (!db_scalar(c->d, "SELECT registry_seen_at::text FROM settle_marks WHERE programme = $1", 1, p1, &since,
		       error))
		return FALSE;
	*changed = since == NULL;
	if (!since)
		return touch(c,
			     "INSERT INTO settle_touched SELECT shop_id, order_key FROM orders WHERE programme = $1"
			     " ON CONFLICT DO NOTHING",
			     1, p1, n, error) &&
		       exec_params(c->d, "INSERT INTO settle_marks (programme, registry_seen_at) VALUES ($1, now())", 1,
				   p1, error);
	const char *p2[] = { c->programme, since };
	PGresult *shops = db_query(c->d, touch_changed_shops, 2, p2, error);
	PGresult *policies = shops ? db_query(c->d, touch_changed_policies, 2, p2, error) : NULL;
	gboolean ok = policies != NULL;
	g_assert(!ok || (PQnfields(shops) == CHANGED_SHOP_COLUMNS && PQnfields(policies) == CHANGED_POLICY_COLUMNS));
	*changed = ok && (PQntuples(shops) > 0 || PQntuples(policies) > 0);
	if (ok && PQntuples(shops) > 0) {
		g_autofree char *ids = column_array(shops, CHANGED_SHOP_ID);
		const char *p[] = { c->programme, ids };
		ok = touch(c,
			   "INSERT INTO settle_touched SELECT shop_id, order_key FROM orders"
			   " WHERE programme = $1 AND shop_id = ANY ($2::text[]) ON CONFLICT DO NOTHING",
			   2, p, n, error);
	}
	if (ok && PQntuples(policies) > 0) {
		g_autofree char *from = column_array(policies, CHANGED_FROM), *to = column_array(policies, CHANGED_TO);
		const char *p[] = { c->programme, from, to };
		ok = touch(c,
			   "INSERT INTO settle_touched SELECT o.shop_id, o.order_key FROM orders o"
			   " WHERE o.programme = $1 AND EXISTS (SELECT 1 FROM unnest($2::date[], $3::date[]) r (f, t)"
			   "  WHERE o.order_date >= r.f AND (r.t IS NULL OR o.order_date <= r.t))"
			   " ON CONFLICT DO NOTHING",
			   3, p, n, error);
	}
	PQclear(shops);
	PQclear(policies);
	g_free(since);
	return ok && exec_params(c->d,
				 "INSERT INTO settle_marks (programme, registry_seen_at) VALUES ($1, now())"
				 " ON CONFLICT (programme) DO UPDATE SET registry_seen_at = EXCLUDED.registry_seen_at",
				 1, p1, error);
}

/* Whether this settlement's retries of unfunded amounts may fund anything. A retry funds only
 * from money left in a pool (POLICY.md), and a retry that funds nothing posts nothing ("a
 * settlement records a posting only where an entitlement changed or money was funded"), so when
 * every pool is empty and nothing tonight can give money back, pricing every waiting order again
 * changes nothing, and costs as much as the whole history of waiting orders (every night after the
 * fund ran out: 504,000 of them after the bench's first night, 12 s). Money comes back only from a
 * reversal of funded money, and an entitlement can only fall through a registry change, an act,
 * an order held before, or a new line earlier than its order's date (a later line only adds its
 * fee on the same order date, and the rate's rounding and the cap never fall as the fee grows).
 * Any of those (for a new line: of an order funded something), or a pool with money left, and
 * every waiting order is retried. */
static gboolean retries_may_fund(settle_ctx *c, gboolean registry_changed, gboolean *may, GError **error)
{
	*may = TRUE;
	if (registry_changed)
		return TRUE;
	g_autoptr(GArray) pools = pools_new();
	if (!pools_read(c->d, c->programme, pools, error))
		return FALSE;
	for (guint i = 0; i < pools->len; i++)
		if (g_array_index(pools, pools_balance, i).left_fen > 0)
			return TRUE;
	char prev[24], upto[24];
	g_snprintf(prev, sizeof prev, "%" G_GINT64_FORMAT, (gint64)c->files_prev);
	g_snprintf(upto, sizeof upto, "%" G_GINT64_FORMAT, (gint64)c->files_upto);
	const char *p3[] = { c->programme, prev, upto };
	char *v = NULL;
	if (!db_scalar(c->d,
		       "SELECT EXISTS (SELECT 1 FROM settle_corrections) OR EXISTS (SELECT 1 FROM settle_held"
		       "  WHERE programme = $1)"
		       " OR EXISTS (SELECT 1 FROM lines l JOIN orders o ON o.programme = $1 AND o.shop_id = l.shop_id"
		       "  AND o.order_key = l.order_key WHERE l.programme = $1 AND l.outcome = 'ELIGIBLE'"
		       "  AND l.file_id > $2::bigint AND l.file_id <= $3::bigint AND l.pickup_time < o.order_date"
		       "  AND o.funded_fen > 0)",
		       3, p3, &v, error))
		return FALSE;
	*may = strcmp(v, "t") == 0;
	g_free(v);
	return TRUE;
}

/* Step 1, the one place that decides which orders this settlement prices (settle_touched):
 * those with eligible lines newer than the last batch, those held by an earlier settlement
 * (sql/009_settle_held.sql), those a registry change since the last settlement may move, those
 * an act moved, and those still owed unfunded money when a retry may fund them (a retry funds the
 * entitlement as it stands now, POLICY.md; retries_may_fund). Another cause of re-pricing adds
 * its INSERT INTO settle_touched here, and to retries_may_fund when it may lower an entitlement. */
static gboolean touch_orders(settle_ctx *c, GError **error)
{
	char prev[24], upto[24];
	g_snprintf(prev, sizeof prev, "%" G_GINT64_FORMAT, (gint64)c->files_prev);
	g_snprintf(upto, sizeof upto, "%" G_GINT64_FORMAT, (gint64)c->files_upto);
	const char *p3[] = { c->programme, prev, upto };
	const char *p1[] = { c->programme };
	int64_t by_lines = 0, held = 0, by_registry = 0, by_acts = 0, retried = 0;
	gboolean registry_changed = FALSE, retry = TRUE;
	/* The night's orders by hash, into a table with no index yet; its key is built once, after
	 * (the later causes need it: each skips an order touched already). Sorting the lines by
	 * order and inserting each order into the key as it comes took 8.2 s of a first night of
	 * 1,000,000 lines (514,263 orders, EXPLAIN ANALYZE; the sort spills, the key's inserts are
	 * random); by hash, then the key built by one sort, 3.6 s. */
	gboolean ok = db_exec(c->d, "SET LOCAL enable_sort = off", error) &&
		      touch(c,
			    "INSERT INTO settle_touched SELECT DISTINCT shop_id, order_key FROM lines"
			    " WHERE programme = $1 AND outcome = 'ELIGIBLE' AND file_id > $2::bigint"
			    " AND file_id <= $3::bigint",
			    3, p3, &by_lines, error) &&
		      db_exec(c->d, "SET LOCAL enable_sort = on", error) &&
		      db_exec(c->d, "ALTER TABLE settle_touched ADD PRIMARY KEY (shop_id, order_key)", error) &&
		      touch(c,
			    "INSERT INTO settle_touched SELECT shop_id, order_key FROM settle_held"
			    " WHERE programme = $1 ON CONFLICT DO NOTHING",
			    1, p1, &held, error) &&
		      touch_registry_changes(c, &by_registry, &registry_changed, error) &&
		      acts_settle_touch(c->d, c->reg, &by_acts, error) &&
		      retries_may_fund(c, registry_changed, &retry, error);
	if (ok && !retry)
		g_debug("settle: the orders waiting for money not retried: no pool has money left and none can"
			" come back");
	if (ok && retry) {
		ok = touch(c,
			   "INSERT INTO settle_touched SELECT shop_id, order_key FROM orders"
			   " WHERE programme = $1 AND unfunded_fen > 0 ON CONFLICT DO NOTHING",
			   1, p1, &retried, error);
		if (ok)
			g_debug("settle: the orders waiting for money retried: %" G_GINT64_FORMAT
				" not touched otherwise", (gint64)retried);
	}
	g_assert(!ok || (by_lines >= 0 && held >= 0 && by_registry >= 0 && by_acts >= 0 && retried >= 0));
	c->touched = by_lines + held + by_registry + by_acts + retried;
	return ok;
}

/* Keeps settle_held to the orders this settlement held: every held order was touched and priced
 * again, so one it could price now leaves the list. */
static gboolean record_held(settle_ctx *c, GError **error)
{
	const char *p1[] = { c->programme };
	if (!exec_params(c->d, "DELETE FROM settle_held WHERE programme = $1", 1, p1, error))
		return FALSE;
	if (!c->res.held)
		return TRUE;
	g_autoptr(GString) copy = g_string_new(NULL);
	for (guint i = 0; i < c->res.held->len; i++) {
		const settle_held *h = g_ptr_array_index(c->res.held, i);
		g_assert(h->shop_id && h->order_key && h->reason);
		db_copy_text(copy, c->programme);
		db_copy_text(copy, h->shop_id);
		db_copy_text(copy, h->order_key);
		db_copy_text(copy, h->reason);
		db_copy_row_end(copy);
	}
	return flush(c, copy, "COPY settle_held (programme, shop_id, order_key, reason) FROM STDIN", error);
}

/* Holds an order: no posting and its state as before; the reason goes to the result (and so to
 * the person running the settlement). */
static void hold_order(settle_ctx *c, const char *shop_id, const char *order_key, const char *order_no,
		       const char *reason)
{
	settle_held *h = g_new0(settle_held, 1);
	h->shop_id = g_strdup(shop_id);
	h->order_key = g_strdup(order_key);
	h->order_no = g_strdup(order_no ? order_no : "");
	h->reason = g_strdup(reason);
	if (!c->res.held)
		c->res.held = g_ptr_array_new_with_free_func(settle_held_free);
	g_ptr_array_add(c->res.held, h);
}

static void copy_row(GString *buf, const settle_row *r)
{
	for (int k = 0; k < R_COUNT; k++)
		db_copy_text(buf, r->col[k]);
}

/* An order's new state, for settle_state (and so for orders). posted: the batch recorded a
 * posting for it (its last_batch becomes this batch; otherwise it keeps the one it had); known:
 * orders holds it already (record_orders updates it, or inserts it). */
static void write_order_state(settle_ctx *c, const settle_row *r, fund_order_state s, gboolean posted,
			      gboolean known)
{
	g_assert(s.funded_fen + s.unfunded_fen == s.entitlement_fen);
	g_assert(s.funded_fen >= 0 && s.unfunded_fen >= 0);
	copy_row(c->state, r);
	c->states++;
	db_copy_int(c->state, s.entitlement_fen);
	db_copy_int(c->state, s.funded_fen);
	db_copy_int(c->state, s.unfunded_fen);
	if (posted)
		db_copy_int(c->state, c->batch_id);
	else
		db_copy_null(c->state);
	db_copy_bool(c->state, known);
	c->states_known += known;
	db_copy_row_end(c->state);
}

/* One posting to try, for settle_fund: sorted by its pass, then the order's funding key. */
static void write_attempt(settle_ctx *c, const settle_row *r, const order_fund_key *fk, const fund_attempt *a,
			  gboolean after_reversal, gboolean last, gboolean known)
{
	g_byte_array_set_size(c->key, 0);
	guint8 pass = (guint8)a->pass;
	g_byte_array_append(c->key, &pass, 1);
	order_fund_key_encode(fk, c->key);
	db_copy_bytea(c->fund, c->key->data, c->key->len);
	copy_row(c->fund, r);
	db_copy_int(c->fund, a->new_fen);
	db_copy_int(c->fund, a->before.entitlement_fen);
	db_copy_int(c->fund, a->before.funded_fen);
	db_copy_int(c->fund, a->before.unfunded_fen);
	db_copy_bool(c->fund, after_reversal);
	db_copy_bool(c->fund, last);
	db_copy_bool(c->fund, known);
	db_copy_row_end(c->fund);
}

/* An order of the pricing pass: its lines folded so far, and what it held before (known: orders
 * has a row for it; a new order holds nothing). */
typedef struct {
	char *shop_id;
	char *order_key;
	order_acc acc;
	fund_order_state before;
	gboolean known;
} settle_order;

static void settle_order_clear(settle_order *o)
{
	g_free(o->shop_id);
	g_free(o->order_key);
	order_acc_clear(&o->acc);
	memset(o, 0, sizeof *o);
}

/* Prices a folded order with the registry as known now: what it must post goes to settle_fund,
 * its state (when it has nothing to post) to settle_state. An order whose arithmetic does not fit
 * (a fee sum beyond 64 bits, or a rate applied to it) is held, not an error: one order never stops
 * a batch. */
static void price_order(settle_ctx *c, settle_order *o)
{
	const order_acc *a = &o->acc;
	int64_t fee_fen = 0;
	if (!order_acc_fee(a, &fee_fen)) {
		g_autofree char *why = g_strdup_printf("its fees add up to more than %" G_GINT64_FORMAT
						       " fen, beyond 64-bit arithmetic", (gint64)INT64_MAX);
		hold_order(c, o->shop_id, o->order_key, a->order_no, why);
		return;
	}
	chrono_day order_day = order_acc_date(a);
	const policy_version *pv = registry_policy_on(c->reg, order_day);
	const registry_shop *shop = registry_shop_by_id(c->reg, o->shop_id);
	policy_entitlement ent = { 0 };
	ent.rule = POLICY_RULE_STANDARD;
	GError *perr = NULL;
	/* A shop or policy version the registry as known now does not have (redefined since the
	 * lines were classified) entitles the order to nothing; replay --registry current says why. */
	if (pv && shop && !policy_entitle(pv, fee_fen, registry_is_poor(c->reg, shop, order_day), &ent, &perr)) {
		hold_order(c, o->shop_id, o->order_key, a->order_no, perr->message);
		g_error_free(perr);
		return;
	}
	g_assert(ent.amount_fen >= 0);

	char fee[24], day[CHRONO_DAY_TEXT_MAX], pickup[CHRONO_TIME_TEXT_MAX], rate[16], version[16];
	g_snprintf(fee, sizeof fee, "%" G_GINT64_FORMAT, (gint64)fee_fen);
	chrono_format_day(order_day, day);
	chrono_format_time(a->fund.pickup, pickup);
	g_snprintf(rate, sizeof rate, "%d", (int)ent.rate_bp);
	g_snprintf(version, sizeof version, "%d", pv ? pv->version : 0);
	settle_row r = { { [R_SHOP] = o->shop_id, [R_KEY] = o->order_key, [R_ORDER_NO] = a->order_no, [R_FEE] = fee,
			   [R_DATE] = day, [R_PICKUP] = pickup, [R_COURIER] = a->fund.courier,
			   [R_WAYBILL] = a->fund.waybill_no, [R_CAMPAIGN] = a->fund_campaign_id,
			   [R_RULE] = policy_rule_name(ent.rule), [R_RATE] = rate, [R_POLICY] = pv ? pv->policy_id : "",
			   [R_VERSION] = version } };
	fund_attempt plan[FUND_ATTEMPTS_MAX];
	size_t n = fund_plan(o->before, ent.amount_fen, plan);
	if (n == 0) {
		/* Nothing to post; the order's fee, date or rule may still have moved (a zero fee line). */
		g_assert(ent.amount_fen == o->before.entitlement_fen && o->before.unfunded_fen == 0);
		write_order_state(c, &r, o->before, FALSE, o->known);
	}
	for (size_t k = 0; k < n; k++)
		write_attempt(c, &r, &a->fund, &plan[k], k > 0, k + 1 == n, o->known);
}

/* Columns of the settle_lines cursor. */
enum { L_SHOP, L_KEY, L_ORDER_NO, L_FEE, L_PICKUP, L_COURIER, L_WAYBILL, L_CAMPAIGN, L_OLD_FEN, L_OLD_FUNDED,
       L_OLD_UNFUNDED, L_COLUMNS };

static int64_t int_or_zero(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : g_ascii_strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static const char *text_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* How the touched orders' lines are read. `lines` has no statistics the planner can trust (see
 * analyse_work), so the plan is chosen here, from a share that is known (the programme's eligible
 * lines are counted in files):
 * - a night that touches a few orders of a long history probes each touched order's lines
 *   through order_lines_counted() (sql/017, 018), LATERAL, by nested loops: 20 orders of 1,000,000
 *   stored lines in milliseconds, where a join with lines_counted() read every eligible line
 *   (0.36 s, growing with the history);
 * - a night that touches most of them reads the programme's lines once and joins them by hash,
 *   twice as fast as probing (a first night: 100,000 orders of 200,000 lines, 1.0 s against
 *   0.54 s, EXPLAIN ANALYZE).
 * The orders whose lines all stopped counting (settle_corrections) are found by the same plan:
 * one anti-join when scanning, a probe per order otherwise. */
static const char lines_scan[] =
	" FROM settle_touched t JOIN lines_counted() l ON l.programme = $1"
	"  AND l.shop_id = t.shop_id AND l.order_key = t.order_key AND l.file_id <= $2::bigint";
static const char lines_probe[] =
	" FROM settle_touched t JOIN LATERAL order_lines_counted($1, t.shop_id, t.order_key) l"
	"  ON l.file_id <= $2::bigint";
static const char none_counted_scan[] =
	" WHERE NOT EXISTS (SELECT 1 FROM lines_counted() l WHERE l.programme = $1"
	"  AND l.shop_id = k.shop_id AND l.order_key = k.order_key AND l.file_id <= $2::bigint)";
static const char none_counted_probe[] =
	" WHERE NOT EXISTS (SELECT 1 FROM order_lines_counted($1, k.shop_id, k.order_key) l"
	"  WHERE l.file_id <= $2::bigint)";

static gboolean choose_lines_plan(settle_ctx *c, gboolean *scan, GError **error)
{
	char upto[24];
	g_snprintf(upto, sizeof upto, "%" G_GINT64_FORMAT, (gint64)c->files_upto);
	const char *p2[] = { c->programme, upto };
	char *v = NULL;
	if (!db_scalar(c->d, "SELECT coalesce(sum(eligible), 0) FROM files WHERE programme = $1 AND file_id <= $2::bigint",
		       2, p2, &v, error))
		return FALSE;
	int64_t eligible = g_ascii_strtoll(v, NULL, 10);
	g_free(v);
	g_assert(c->touched >= 0 && eligible >= 0);
	*scan = c->touched * SETTLE_SCAN_SHARE >= eligible;
	if (c->touched == 0)
		g_debug("settle: no order touched (%" G_GINT64_FORMAT " eligible lines stored)", (gint64)eligible);
	else
		g_debug("settle: the lines of %" G_GINT64_FORMAT " touched orders read %s (%" G_GINT64_FORMAT
			" eligible lines stored)", (gint64)c->touched, *scan ? "in one pass" : "by probing each order",
			(gint64)eligible);
	if (*scan)
		return db_exec(c->d, "SET LOCAL enable_nestloop = off", error);
	/* Probing: nested loops, each inner side an index scan keyed by the order (lines_order,
	 * line_acts_order, orders_pkey) or by the line (lines_pkey, line_acts_line, sql/018). The
	 * statistics may be stale: `lines` analysed when a handful of orders held all its lines (an
	 * order would then look like half the table), `line_acts` while it was empty. The planner
	 * would then read a whole table once per touched order, or hash it whole for a handful of
	 * lines. The touched orders are read in key order (settle_touched_pkey, not a bitmap), so
	 * that the probes walk each index forwards: 90,172 orders of 514,263, 1.35 s against 2.6 s
	 * (EXPLAIN ANALYZE). */
	return db_exec(c->d, "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off;"
			     " SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off", error);
}

/* Gives the planner back the settings choose_lines_plan took from it: the session's own (RESET),
 * which are the server's unless the operator set them for the connection (PGOPTIONS). */
static gboolean restore_plan_settings(settle_ctx *c, GError **error)
{
	return db_exec(c->d, "RESET enable_nestloop; RESET enable_seqscan; RESET enable_bitmapscan;"
			     " RESET enable_hashjoin; RESET enable_mergejoin", error);
}

/* The cursor settle_lines over the touched orders' eligible lines, grouped by order (sorted
 * bytewise by shop and key). */
static gboolean open_lines(settle_ctx *c, GError **error)
{
	char upto[24];
	g_snprintf(upto, sizeof upto, "%" G_GINT64_FORMAT, (gint64)c->files_upto);
	const char *p2[] = { c->programme, upto };
	g_assert(c->files_upto >= c->files_prev && c->touched >= 0);
	gboolean scan = FALSE;
	if (!analyse_work(c, "settle_touched", error) || !choose_lines_plan(c, &scan, error))
		return FALSE;
	g_autofree char *sql = g_strconcat(
		"DECLARE settle_lines NO SCROLL CURSOR FOR SELECT * FROM ("
		" SELECT l.shop_id, l.order_key, l.order_no, l.fee_fen, l.pickup_time, l.courier, l.waybill_no,"
		"  l.campaign_id, o.entitlement_fen, o.funded_fen, o.unfunded_fen",
		scan ? lines_scan : lines_probe,
		" LEFT JOIN orders o ON o.programme = $1 AND o.shop_id = t.shop_id AND o.order_key = t.order_key"
		/* An order that lost every line to an act (acts.h) is priced as holding nothing: one
		 * line of fee 0 with its funding key as it was. */
		" UNION ALL SELECT o.shop_id, o.order_key, o.order_no, 0, o.fund_pickup, o.fund_courier,"
		"  o.fund_waybill, o.campaign_id, o.entitlement_fen, o.funded_fen, o.unfunded_fen"
		" FROM settle_corrections k JOIN orders o ON o.programme = $1 AND o.shop_id = k.shop_id"
		"  AND o.order_key = k.order_key",
		scan ? none_counted_scan : none_counted_probe,
		") u ORDER BY u.shop_id COLLATE \"C\", u.order_key COLLATE \"C\"", NULL);
	return exec_params(c->d, sql, 2, p2, error) && restore_plan_settings(c, error);
}

/* Folds row i of settle_lines into cur, pricing the order before it when row i starts another. */
static gboolean fold_line(settle_ctx *c, settle_order *cur, const PGresult *res, int i, GError **error)
{
	const char *shop_id = PQgetvalue(res, i, L_SHOP), *key = PQgetvalue(res, i, L_KEY);
	if (!cur->shop_id || strcmp(cur->shop_id, shop_id) != 0 || strcmp(cur->order_key, key) != 0) {
		if (cur->shop_id) {
			/* Sorted bytewise: an order's lines come together, once. */
			int by_shop = strcmp(cur->shop_id, shop_id);
			g_assert(by_shop < 0 || (by_shop == 0 && strcmp(cur->order_key, key) < 0));
			price_order(c, cur);
			settle_order_clear(cur);
		}
		cur->shop_id = g_strdup(shop_id);
		cur->order_key = g_strdup(key);
		c->priced++;
		order_acc_init(&cur->acc);
		cur->before.entitlement_fen = int_or_zero(res, i, L_OLD_FEN);
		cur->before.funded_fen = int_or_zero(res, i, L_OLD_FUNDED);
		cur->before.unfunded_fen = int_or_zero(res, i, L_OLD_UNFUNDED);
		cur->known = !PQgetisnull(res, i, L_OLD_FEN);
		g_assert(cur->before.funded_fen + cur->before.unfunded_fen == cur->before.entitlement_fen);
		g_assert(cur->known || cur->before.entitlement_fen == 0);
	}
	order_line l = { 0 };
	l.order_no = text_or_null(res, i, L_ORDER_NO);
	l.courier = PQgetvalue(res, i, L_COURIER);
	l.waybill_no = PQgetvalue(res, i, L_WAYBILL);
	l.campaign_id = text_or_null(res, i, L_CAMPAIGN);
	l.fee_fen = g_ascii_strtoll(PQgetvalue(res, i, L_FEE), NULL, 10);
	g_assert(l.fee_fen >= 0); /* lines.fee_fen's CHECK */
	GError *perr = NULL;
	if (!chrono_parse_time(PQgetvalue(res, i, L_PICKUP), &l.pickup, &perr)) {
		g_propagate_prefixed_error(error, perr, "order '%s' of shop '%s': ", key, shop_id);
		return FALSE;
	}
	order_acc_add(&cur->acc, &l);
	return TRUE;
}

/* The next chunk of a cursor of this settlement: a result of n columns, or NULL with *error. */
static PGresult *fetch_chunk(settle_ctx *c, const char *fetch, int n, GError **error)
{
	PGresult *res = db_query(c->d, fetch, 0, NULL, error);
	g_assert(!res || PQnfields(res) == n);
	return res;
}

/* Steps 2 and 3 read a cursor a chunk at a time and write what each chunk gives by COPY. The
 * next chunk is fetched before the last one's rows are sent, and the last COPY of a round is sent
 * deferred (db_copy_rows_deferred): the server stores those rows while the client works through
 * the next chunk, instead of each waiting for the other. The next statement (the FETCH, or the
 * CLOSE after the last round) reads its result first. */
static gboolean flush_pricing(settle_ctx *c, GError **error)
{
	return flush(c, c->state, copy_state, error) && db_copy_rows_deferred(c->d, copy_fund, c->fund, error);
}

/* Step 2: price every touched order, in one pass over their eligible lines, which the database
 * groups by sorting them by order. */
static gboolean price_orders(settle_ctx *c, GError **error)
{
	static const char fetch[] = "FETCH " G_STRINGIFY(SETTLE_CHUNK_ROWS) " FROM settle_lines";
	if (!open_lines(c, error))
		return FALSE;
	settle_order cur = { 0 };
	int64_t rows = 0;
	PGresult *res = fetch_chunk(c, fetch, L_COLUMNS, error);
	gboolean ok = res != NULL;
	while (ok) {
		int n = PQntuples(res);
		for (int i = 0; i < n && ok; i++)
			ok = fold_line(c, &cur, res, i, error);
		rows += n;
		PQclear(res);
		res = NULL;
		if (!ok || n < SETTLE_CHUNK_ROWS)
			break;
		ok = (res = fetch_chunk(c, fetch, L_COLUMNS, error)) != NULL && flush_pricing(c, error);
	}
	PQclear(res);
	/* Only touched orders are read, each once (settle_touched's key). */
	g_assert(!ok || (c->priced <= c->touched && c->priced <= rows));
	if (ok && cur.shop_id)
		price_order(c, &cur);
	settle_order_clear(&cur);
	return ok && flush_pricing(c, error) && db_exec(c->d, "CLOSE settle_lines", error) && record_held(c, error);
}

/* The pools as they stand (pools_read), in the order postings draw from them. Pool ids are
 * interned: a programme has a handful, and the draw stacks and entries borrow them. */
static gboolean load_pools(settle_ctx *c, GError **error)
{
	g_assert(c->pools->len == 0);
	g_autoptr(GArray) read = pools_new();
	if (!pools_read(c->d, c->programme, read, error))
		return FALSE;
	for (guint i = 0; i < read->len; i++) {
		const pools_balance *b = &g_array_index(read, pools_balance, i);
		fund_pool fp = { g_intern_string(b->pool_id), b->priority, b->valid_from, b->valid_to, b->left_fen };
		g_assert(fp.left_fen >= 0); /* pool_never_below_zero */
		g_array_append_val(c->pools, fp);
	}
	/* Already in this order (pools_read): sorting again asserts the ids are unique. */
	fund_pools_sort((fund_pool *)(void *)c->pools->data, c->pools->len);
	for (guint i = 0; i < c->pools->len; i++) {
		int64_t left = g_array_index(c->pools, fund_pool, i).left_fen;
		gboolean used = FALSE;
		g_assert(strcmp(g_array_index(c->pools, fund_pool, i).pool_id,
				g_array_index(read, pools_balance, i).pool_id) == 0);
		g_array_append_val(c->pools_start, left);
		g_array_append_val(c->pools_used, used);
	}
	return TRUE;
}

static char *draw_key(const char *shop_id, const char *order_key)
{
	return g_strconcat(shop_id, "\x1f", order_key, NULL);
}

/* What each order whose entitlement falls has drawn from each pool and not yet had back, as a stack
 * of draws, oldest first (POLICY.md: a reversal returns money "in the reverse order it was drawn").
 * The order's pool entries are replayed in the order they were made: a draw pushes, a return takes
 * from the latest draws of its pool first, as fund_order returns. Grouping by pool alone would lose
 * the order of two pools drawn by one posting (by priority, not by pool_id) and of a pool drawn
 * again after another. */
enum { DRAW_SHOP, DRAW_KEY, DRAW_POOL, DRAW_AMOUNT, DRAW_COLUMNS };

static gboolean load_reversal_draws(settle_ctx *c, GError **error)
{
	const char *p1[] = { c->programme };
	PGresult *res = db_query(c->d,
				 "SELECT p.shop_id, p.order_key, e.pool_id, e.amount_fen"
				 " FROM settle_fund w"
				 " JOIN postings p ON p.programme = $1 AND p.shop_id = w.shop_id AND p.order_key = w.order_key"
				 " JOIN entries e ON e.programme = $1 AND e.batch_id = p.batch_id AND e.posting_seq = p.seq"
				 "   AND e.pool_id IS NOT NULL"
				 " WHERE w.new_fen < w.before_fen"
				 " ORDER BY p.shop_id, p.order_key, p.batch_id, p.seq, e.entry_seq",
				 1, p1, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == DRAW_COLUMNS);
	gboolean ok = TRUE;
	for (int i = 0; i < PQntuples(res) && ok; i++) {
		char *key = draw_key(PQgetvalue(res, i, DRAW_SHOP), PQgetvalue(res, i, DRAW_KEY));
		GArray *a = g_hash_table_lookup(c->draws, key);
		if (!a) {
			a = g_array_new(FALSE, FALSE, sizeof(fund_draw));
			g_hash_table_insert(c->draws, key, a);
		} else {
			g_free(key);
		}
		const char *pool_id = g_intern_string(PQgetvalue(res, i, DRAW_POOL));
		ok = fund_draws_replay(a, pool_id, g_ascii_strtoll(PQgetvalue(res, i, DRAW_AMOUNT), NULL, 10));
		if (!ok)
			g_set_error(error, SETTLE_ERROR, STATUS_SOFTWARE,
				    "order '%s' of shop '%s' got more back from pool '%s' than it drew: the ledger does"
				    " not add up\nHINT: run 'subsidy verify'",
				    PQgetvalue(res, i, DRAW_KEY), PQgetvalue(res, i, DRAW_SHOP), pool_id);
	}
	PQclear(res);
	return ok;
}

static void mark_pool_used(settle_ctx *c, const char *pool_id)
{
	const fund_pool *pools = (const fund_pool *)(const void *)c->pools->data;
	for (guint i = 0; i < c->pools->len; i++) {
		if (pools[i].pool_id == pool_id) { /* interned */
			g_array_index(c->pools_used, gboolean, i) = TRUE;
			return;
		}
	}
	g_assert_not_reached(); /* fund_post draws only from the pools it is given */
}

/* The entries of posting c->seq (fund_post's, in c->txn_entries): a pool's account or the shop's
 * payable, each leg named by whose account it is. */
static void write_entries(settle_ctx *c, const char *shop_id)
{
	guint n = c->txn_entries->len;
	g_assert(n != 1); /* a leg has its other side */
	if (n == 0)
		return; /* nothing moved (BUDGET_EXHAUSTED) */
	g_autoptr(GPtrArray) accounts = g_ptr_array_new_with_free_func(g_free);
	g_autofree ledger_leg *legs = g_new0(ledger_leg, n);
	for (guint k = 0; k < n; k++) {
		const fund_entry *e = &g_array_index(c->txn_entries, fund_entry, k);
		char *account = e->pool_id ? ledger_pool_account(e->pool_id) : ledger_payable_account(shop_id);
		g_ptr_array_add(accounts, account);
		legs[k] = (ledger_leg){ account, e->amount_fen, e->pool_id, e->pool_id ? NULL : shop_id };
		if (e->pool_id)
			mark_pool_used(c, e->pool_id);
	}
	g_autofree char *txn = g_strdup_printf("b%d.p%d", c->batch_id, c->seq);
	ledger_write_txn(c->ledger, txn, c->seq, legs, n);
}

/* The posting of an order (its texts r), numbered c->seq: what fund_post decided, and the order's
 * entitlement before and after. */
static void write_posting(settle_ctx *c, const settle_row *r, const fund_posting *post, int64_t new_fen,
			  int64_t previous_fen, const char *correction)
{
	const char *const *o = r->col;
	ledger_posting p = { .seq = c->seq, .shop_id = o[R_SHOP], .order_key = o[R_KEY], .order_no = o[R_ORDER_NO],
			     .status = fund_status_name(post->status), .fee_fen = o[R_FEE], .order_date = o[R_DATE],
			     .rule = o[R_RULE], .rate_bp = o[R_RATE], .policy_id = o[R_POLICY],
			     .policy_version = o[R_VERSION], .campaign_id = o[R_CAMPAIGN], .entitlement_fen = new_fen,
			     .previous_fen = previous_fen, .funded_fen = post->moved_fen,
			     .unfunded_fen = post->after.unfunded_fen, .fund_pickup = o[R_PICKUP],
			     .fund_courier = o[R_COURIER], .fund_waybill = o[R_WAYBILL], .correction = correction };
	ledger_write_posting(c->ledger, &p);
}

/* Columns of the settle_funding cursor after the order's (SETTLE_ORDER_COLUMNS). */
enum {
	F_NEW = R_COUNT,
	F_BEFORE_FEN,
	F_BEFORE_FUNDED,
	F_BEFORE_UNFUNDED,
	F_AFTER_REVERSAL,
	F_LAST,
	F_KNOWN,
	F_CORRECTION,
	F_COLUMNS
};


/* Funds one attempt (a settle_fund row, in funding order); appends its posting, its entries and,
 * for the order's last attempt, its new state. */
static void fund_order(settle_ctx *c, PGresult *res, int i)
{
	settle_row r;
	for (int k = 0; k < R_COUNT; k++)
		r.col[k] = text_or_null(res, i, k);
	const char *shop_id = r.col[R_SHOP];
	chrono_day order_day;
	gboolean ok = chrono_parse_day(r.col[R_DATE], &order_day, NULL);
	g_assert(ok);
	int64_t new_fen = g_ascii_strtoll(PQgetvalue(res, i, F_NEW), NULL, 10);
	fund_order_state before = { g_ascii_strtoll(PQgetvalue(res, i, F_BEFORE_FEN), NULL, 10),
				    g_ascii_strtoll(PQgetvalue(res, i, F_BEFORE_FUNDED), NULL, 10),
				    g_ascii_strtoll(PQgetvalue(res, i, F_BEFORE_UNFUNDED), NULL, 10) };
	gboolean after_reversal = PQgetvalue(res, i, F_AFTER_REVERSAL)[0] == 't';
	gboolean last = PQgetvalue(res, i, F_LAST)[0] == 't';
	gboolean known = PQgetvalue(res, i, F_KNOWN)[0] == 't';
	g_assert(before.funded_fen + before.unfunded_fen == before.entitlement_fen);
	g_assert(!after_reversal || last);

	GArray *draws = NULL;
	if (new_fen < before.entitlement_fen) {
		g_autofree char *key = draw_key(shop_id, r.col[R_KEY]);
		draws = g_hash_table_lookup(c->draws, key);
		/* Every order whose entitlement falls had its draws loaded, if it drew anything. */
		g_assert(draws != NULL || before.funded_fen == 0);
	}
	fund_posting post = fund_post((fund_pool *)(void *)c->pools->data, c->pools->len, draws, order_day, before,
				      new_fen, c->txn_entries);
	gboolean posted = post.status != FUND_NOTHING;
	/* No pool below zero after a draw, and the order's money adds up after the posting. */
	for (guint k = 0; k < c->pools->len; k++)
		g_assert(g_array_index(c->pools, fund_pool, k).left_fen >= 0);
	g_assert(post.after.funded_fen + post.after.unfunded_fen == post.after.entitlement_fen);
	if (posted) {
		c->seq++;
		write_entries(c, shop_id);
		write_posting(c, &r, &post, new_fen, before.entitlement_fen, text_or_null(res, i, F_CORRECTION));
		c->res.postings++;
		if (!after_reversal) /* its reversal counted the order already */
			c->res.orders++;
		c->res.posted_fen += post.moved_fen;
	} else {
		g_assert(post.after.entitlement_fen == before.entitlement_fen &&
			 post.after.funded_fen == before.funded_fen);
	}
	/* After a reversal the order has a posting in the batch whatever its retry finds. */
	if (last)
		write_order_state(c, &r, post.after, posted || after_reversal, known);
}

/* The round's order states, postings and entries, the ledger's last COPY deferred (see
 * flush_pricing). Their order does not matter: settle_state is a work table, and orders are
 * written from it by one statement after every posting (the orders guard checks one against the
 * other then, record_orders). */
static gboolean flush_all(settle_ctx *c, GError **error)
{
	return flush(c, c->state, copy_state, error) && ledger_writer_flush_deferred(c->ledger, error);
}

/* Step 3: fund, in the order of the bytes price_order gave each attempt: reversals first, then by
 * funding key. */
static gboolean fund_orders(settle_ctx *c, GError **error)
{
	static const char fetch[] = "FETCH " G_STRINGIFY(SETTLE_CHUNK_ROWS) " FROM settle_funding";
	if (!load_pools(c, error) || !load_reversal_draws(c, error))
		return FALSE;
	if (!db_exec(c->d,
		     "DECLARE settle_funding NO SCROLL CURSOR FOR SELECT " SETTLE_ORDER_COLUMNS ", new_fen, before_fen,"
		     " before_funded_fen, before_unfunded_fen, after_reversal, last, known, k.correction"
		     " FROM settle_fund LEFT JOIN settle_corrections k USING (shop_id, order_key) ORDER BY fund_order",
		     error))
		return FALSE;
	PGresult *res = fetch_chunk(c, fetch, F_COLUMNS, error);
	gboolean ok = res != NULL;
	while (ok) {
		int n = PQntuples(res);
		for (int i = 0; i < n; i++)
			fund_order(c, res, i);
		PQclear(res);
		res = NULL;
		if (n < SETTLE_CHUNK_ROWS)
			break;
		ok = (res = fetch_chunk(c, fetch, F_COLUMNS, error)) != NULL && flush_all(c, error);
	}
	PQclear(res);
	return ok && flush_all(c, error) && db_exec(c->d, "CLOSE settle_funding", error);
}

/* What the batch took from each pool and gave back, net, as fund_post left the pools: the pools
 * it has an entry on get drawn_fen moved by that and drawn_batch set to it. */
static gboolean record_pools(settle_ctx *c, GError **error)
{
	const fund_pool *pools = (const fund_pool *)(const void *)c->pools->data;
	g_autoptr(GPtrArray) ids = g_ptr_array_new();
	g_autoptr(GString) drawn = g_string_new("{");
	for (guint i = 0; i < c->pools->len; i++) {
		if (!g_array_index(c->pools_used, gboolean, i))
			continue;
		int64_t d = g_array_index(c->pools_start, int64_t, i) - pools[i].left_fen;
		g_string_append_printf(drawn, "%s%" G_GINT64_FORMAT, ids->len ? "," : "", (gint64)d);
		g_ptr_array_add(ids, (gpointer)pools[i].pool_id);
	}
	g_string_append_c(drawn, '}');
	if (ids->len == 0)
		return TRUE;
	g_autofree char *id_list = db_text_array((const char *const *)ids->pdata, ids->len);
	char batch[16];
	g_snprintf(batch, sizeof batch, "%d", c->batch_id);
	const char *p[] = { c->programme, batch, id_list, drawn->str };
	return exec_params(c->d,
			   "UPDATE pool_balances b SET drawn_fen = b.drawn_fen + d.drawn, drawn_batch = $2::int"
			   " FROM unnest($3::text[], $4::bigint[]) d (pool_id, drawn)"
			   " WHERE b.programme = $1 AND b.pool_id = d.pool_id",
			   4, p, error);
}

/* Every order priced takes its new state from settle_state: the orders already held by one
 * UPDATE, the new ones by one INSERT (the orders guard checks each statement's rows against the
 * batch's postings, all written by now). Two statements, not one INSERT ... ON CONFLICT: a first
 * night's orders are all new, and an upsert makes each insert probe the key first and insert
 * speculatively; on 154,260 new orders the upsert took 1.06 s, the plain insert about half of it
 * (settle's statement log, same machine). Which order is new was seen when its lines were read
 * (settle_order.known). The new orders go in as settle_state holds them (mostly in funding
 * order), not sorted by key first: sorting the wide rows costs more than the key's random inserts
 * save (INSERT of 514,263 orders with their indexes: 2.46-2.51 s sorted, 1.64-1.65 s not; of
 * 5,142,630: 27.7 s sorted, 19.7 s not). The price is a less dense key: orders_pkey takes 38 MB
 * for those 514,263 orders, against 24 MB filled in key order (the database, 724 MiB against
 * 711 MiB after 1,000,000 lines). */
static gboolean record_orders(settle_ctx *c, GError **error)
{
	const char *p1[] = { c->programme };
	g_assert(c->states <= c->priced);
	/* The UPDATE joins settle_state with orders: by the key's index for a few known orders among
	 * many, by hash for many (analyse_work). */
	if (!analyse_work(c, "settle_state (shop_id, order_key, known)", error))
		return FALSE;
	PGresult *res = db_query(c->d,
				 "UPDATE orders AS o SET order_no = s.order_no, fee_fen = s.fee_fen,"
				 "  order_date = s.order_date, entitlement_fen = s.entitlement_fen,"
				 "  funded_fen = s.funded_fen, unfunded_fen = s.unfunded_fen, fund_pickup = s.fund_pickup,"
				 "  fund_courier = s.fund_courier, fund_waybill = s.fund_waybill,"
				 "  campaign_id = s.campaign_id, rule = s.rule, rate_bp = s.rate_bp,"
				 "  policy_id = s.policy_id, policy_version = s.policy_version,"
				 "  last_batch = coalesce(s.last_batch, o.last_batch)"
				 " FROM settle_state s WHERE s.known AND o.programme = $1 AND o.shop_id = s.shop_id"
				 "  AND o.order_key = s.order_key",
				 1, p1, error);
	if (!res)
		return FALSE;
	int64_t updated = g_ascii_strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	res = db_query(c->d,
		       "INSERT INTO orders (programme, " SETTLE_ORDER_COLUMNS ", entitlement_fen, funded_fen,"
		       " unfunded_fen, last_batch)"
		       " SELECT $1, " SETTLE_ORDER_COLUMNS ", entitlement_fen, funded_fen, unfunded_fen, last_batch"
		       " FROM settle_state s WHERE NOT s.known",
		       1, p1, error);
	if (!res)
		return FALSE;
	int64_t inserted = g_ascii_strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	/* One state per order, each written once (settle_state holds an order once: its last attempt,
	 * or its pricing when it had nothing to post), and each known order found. */
	g_assert(updated == c->states_known && inserted == c->states - c->states_known);
	return TRUE;
}

/* What the batch pays each shop; *failed_waiting: a shop's failed payment is carried in it. */
static gboolean record_shops(settle_ctx *c, gboolean *failed_waiting, GError **error)
{
	char batch[16];
	g_snprintf(batch, sizeof batch, "%d", c->batch_id);
	const char *p2[] = { c->programme, batch };
	g_assert(c->batch_id >= 1);
	/* What the batch pays each shop: its net for the batch plus what is carried in, i.e.
	 * everything it was ever funded, less what was paid and what awaits a payment result.
	 * A failed payment is carried (and named in the remark) until a batch made after the
	 * result was loaded takes the shop in. */
	if (!exec_params(c->d,
			 "INSERT INTO batch_shops (programme, batch_id, shop_id, net_fen, carried_fen, amount_fen, orders,"
			 " remark, shop_name, account_name, bank_name, bank_account)"
			 " WITH net AS (SELECT shop_id, sum(funded_fen) AS net_fen,"
			 "   count(DISTINCT order_key) FILTER (WHERE funded_fen <> 0) AS orders"
			 "   FROM postings WHERE programme = $1 AND batch_id = $2::int GROUP BY shop_id),"
			 " failed AS (SELECT p.shop_id, string_agg(p.batch_id::text, ',' ORDER BY p.batch_id) AS batches"
			 "   FROM payments p JOIN payment_loads pl USING (programme, load_id)"
			 "   WHERE p.programme = $1 AND p.status = 'FAILED' AND NOT EXISTS"
			 "   (SELECT 1 FROM batch_shops l WHERE l.programme = $1 AND l.shop_id = p.shop_id"
			 "    AND l.batch_id > pl.batches_upto) GROUP BY p.shop_id),"
			 " shops_in AS (SELECT shop_id FROM net UNION SELECT shop_id FROM failed),"
			 " before AS (SELECT shop_id, sum(net_fen) AS funded FROM batch_shops WHERE programme = $1"
			 "   GROUP BY shop_id),"
			 " paid AS (SELECT shop_id, sum(amount_fen) AS paid FROM payments WHERE programme = $1"
			 "   AND status = 'PAID' GROUP BY shop_id),"
			 " awaiting AS (SELECT b.shop_id, sum(b.amount_fen) AS awaiting FROM batch_shops b"
			 "   WHERE b.programme = $1 AND b.amount_fen > 0 AND NOT EXISTS (SELECT 1 FROM payments p"
			 "   WHERE p.programme = $1 AND p.batch_id = b.batch_id AND p.shop_id = b.shop_id)"
			 "   GROUP BY b.shop_id),"
			 " carry AS (SELECT s.shop_id, coalesce(n.net_fen, 0) AS net_fen,"
			 "   coalesce(bf.funded, 0) - coalesce(pd.paid, 0) - coalesce(aw.awaiting, 0) AS carried_fen,"
			 "   coalesce(n.orders, 0) AS orders, f.batches"
			 "   FROM shops_in s LEFT JOIN net n USING (shop_id) LEFT JOIN failed f USING (shop_id)"
			 "   LEFT JOIN before bf USING (shop_id) LEFT JOIN paid pd USING (shop_id)"
			 "   LEFT JOIN awaiting aw USING (shop_id))"
			 " SELECT $1, $2::int, c.shop_id, c.net_fen, c.carried_fen, c.net_fen + c.carried_fen, c.orders,"
			 "  CASE WHEN c.batches IS NULL THEN '' ELSE '补发:批次' || c.batches END,"
			 "  s.shop_name, s.account_name, s.bank_name, s.bank_account"
			 " FROM carry c JOIN shops s ON s.programme = $1 AND s.shop_id = c.shop_id"
			 "  AND s.superseded_at IS NULL",
			 2, p2, error))
		return FALSE;
	char *n = NULL;
	if (!db_scalar(c->d, "SELECT count(*) FROM batch_shops WHERE programme = $1 AND batch_id = $2::int"
			     " AND remark <> ''", 2, p2, &n, error))
		return FALSE;
	*failed_waiting = atoi(n) > 0;
	g_free(n);
	return TRUE;
}


/* Step 4: orders' state, pool balances, what the batch pays each shop. */
static gboolean record_state(settle_ctx *c, gboolean *failed_waiting, GError **error)
{
	return record_orders(c, error) && record_pools(c, error) && record_shops(c, failed_waiting, error);
}

/* What the orders are owed and not funded: only those owing anything are read (orders_unfunded), not
 * every order (0.18 s of a night of 20 lines, over 514,263 orders). */
static const char unfunded_sum[] =
	"SELECT coalesce(sum(unfunded_fen), 0) FROM orders WHERE programme = $1 AND unfunded_fen > 0";

static gboolean close_batch(settle_ctx *c, const char *os_user, GError **error)
{
	const char *p1[] = { c->programme };
	char *v = NULL;
	if (!db_scalar(c->d, unfunded_sum, 1, p1, &v, error))
		return FALSE;
	c->res.unfunded_fen = g_ascii_strtoll(v, NULL, 10);
	g_free(v);
	char batch[16];
	g_snprintf(batch, sizeof batch, "%d", c->batch_id);

	ledger_batch_header h = { 0 };
	h.version = LEDGER_DIGEST_VERSION;
	h.batch_id = c->batch_id;
	h.files_upto = c->files_upto;
	h.orders = c->res.orders;
	h.postings = c->res.postings;
	h.posted_fen = c->res.posted_fen;
	h.unfunded_fen = c->res.unfunded_fen;
	if (!db_scalar(c->d, "SELECT now()::timestamptz::text", 0, NULL, &v, error))
		return FALSE;
	g_strlcpy(h.created_at, v, sizeof h.created_at);
	g_free(v);
	if (!db_scalar(c->d, "SELECT digest FROM batches WHERE programme = $1 ORDER BY batch_id DESC LIMIT 1", 1,
		       p1, &v, error))
		return FALSE;
	g_strlcpy(h.prev_digest, v ? v : LEDGER_GENESIS, sizeof h.prev_digest);
	g_free(v);
	/* The batch's own run first, so that the batch seals it with everything else not sealed yet. */
	const char *run_params[] = { c->programme, os_user };
	g_autofree char *run_id = NULL;
	if (!db_scalar(c->d, "INSERT INTO runs (programme, kind, os_user) VALUES ($1, 'settle', $2) RETURNING run_id", 2,
		       run_params, &run_id, error))
		return FALSE;
	if (!ledger_seal_new(c->d, c->batch_id, error))
		return FALSE;
	char digest[LEDGER_DIGEST_HEX];
	if (!ledger_batch_digest(c->d, &h, digest, error))
		return FALSE;

	char version[8], upto[24], orders[16], postings[16], posted[24], unfunded[24];
	g_snprintf(version, sizeof version, "%d", h.version);
	g_snprintf(upto, sizeof upto, "%" G_GINT64_FORMAT, (gint64)h.files_upto);
	g_snprintf(orders, sizeof orders, "%d", h.orders);
	g_snprintf(postings, sizeof postings, "%d", h.postings);
	g_snprintf(posted, sizeof posted, "%" G_GINT64_FORMAT, (gint64)h.posted_fen);
	g_snprintf(unfunded, sizeof unfunded, "%" G_GINT64_FORMAT, (gint64)h.unfunded_fen);
	const char *params[] = { c->programme, batch, run_id, h.created_at, upto, orders, postings, posted,
				 unfunded, h.prev_digest, digest, version };
	return exec_params(c->d,
			   "INSERT INTO batches (programme, batch_id, run_id, created_at, files_upto, orders, postings,"
			   " posted_fen, unfunded_fen, prev_digest, digest, digest_version)"
			   " VALUES ($1, $2::int, $3::bigint, $4::timestamptz, $5::bigint, $6::int, $7::int, $8::bigint,"
			   " $9::bigint, $10, $11, $12::smallint)",
			   G_N_ELEMENTS(params), params, error);
}

static gboolean settle_in_txn(settle_ctx *c, const char *os_user, GError **error)
{
	const char *p1[] = { c->programme };
	char *v = NULL;
	if (!db_scalar(c->d, "SELECT coalesce(max(batch_id), 0) + 1 FROM batches WHERE programme = $1", 1, p1, &v,
		       error))
		return FALSE;
	c->batch_id = atoi(v);
	g_free(v);
	g_assert(c->batch_id >= 1 && c->ledger == NULL);
	c->ledger = ledger_writer_new(c->d, c->batch_id);
	if (!db_scalar(c->d, "SELECT coalesce(max(files_upto), 0) FROM batches WHERE programme = $1", 1, p1, &v,
		       error))
		return FALSE;
	c->files_prev = g_ascii_strtoll(v, NULL, 10);
	g_free(v);
	if (!db_scalar(c->d, "SELECT coalesce(max(file_id), 0) FROM files WHERE programme = $1", 1, p1, &v, error))
		return FALSE;
	c->files_upto = g_ascii_strtoll(v, NULL, 10);
	g_free(v);

	c->reg = registry_snapshot(c->d, NULL, error);
	if (!c->reg)
		return FALSE;
	gboolean failed_waiting = FALSE;
	if (!db_exec(c->d, create_work, error) || !touch_orders(c, error) || !price_orders(c, error) ||
	    !analyse_work(c, "settle_fund (shop_id, order_key, new_fen, before_fen)", error))
		return FALSE;
	fault_point("settle:priced");
	if (!fund_orders(c, error))
		return FALSE;
	fault_point("settle:funded");
	if (!record_state(c, &failed_waiting, error))
		return FALSE;
	fault_point("settle:recorded");
	if (c->res.postings == 0 && !failed_waiting) {
		/* Nothing to record: no batch. Orders' state may still have moved (a line with a
		 * zero fee), and that is committed with no money involved. */
		c->batch_id = 0;
		c->res.batch_id = 0;
		if (!db_scalar(c->d, unfunded_sum, 1, p1, &v, error))
			return FALSE;
		c->res.unfunded_fen = g_ascii_strtoll(v, NULL, 10);
		g_free(v);
		return TRUE;
	}
	c->res.batch_id = c->batch_id;
	return close_batch(c, os_user, error);
}

void settle_json(json_writer *w, const settle_result *r)
{
	gboolean made = r->batch_id != 0;
	json_object_begin(w);
	json_key(w, "batch");
	if (made)
		json_int(w, r->batch_id);
	else
		json_null(w);
	json_key(w, "orders");
	json_int(w, r->orders);
	json_key(w, "postings");
	json_int(w, r->postings);
	json_key(w, "posted_fen");
	json_int(w, r->posted_fen);
	json_key(w, "unfunded_fen");
	json_int(w, made ? r->unfunded_fen : 0);
	if (r->held) {
		json_key(w, "held");
		json_array_begin(w);
		for (guint i = 0; i < r->held->len; i++) {
			const settle_held *h = g_ptr_array_index(r->held, i);
			json_object_begin(w);
			json_key(w, "shop_id");
			json_string(w, h->shop_id);
			json_key(w, "order_no");
			json_string(w, h->order_no);
			json_key(w, "reason");
			json_string(w, h->reason);
			json_object_end(w);
		}
		json_array_end(w);
	}
	json_object_end(w);
}

void settle_print_held(const settle_result *r)
{
	for (guint i = 0; r->held && i < r->held->len; i++) {
		const settle_held *h = g_ptr_array_index(r->held, i);
		g_autofree char *shop = g_strescape(h->shop_id, NULL), *no = g_strescape(h->order_no, NULL);
		g_autofree char *key = g_strescape(h->order_key, NULL);
		fprintf(stderr, "subsidy: order '%s' of shop '%s' held, not settled: %s\n", *no ? no : key, shop,
			h->reason);
	}
}

void settle_print_text(const settle_result *r)
{
	char posted[MONEY_TEXT_MAX], unfunded[MONEY_TEXT_MAX];
	money_format(r->posted_fen, posted);
	money_format(r->unfunded_fen, unfunded);
	if (r->batch_id)
		printf("settle: batch %d: %d postings for %d orders, %s yuan posted; %s yuan owed and not funded\n",
		       r->batch_id, r->postings, r->orders, posted, unfunded);
	else
		printf("settle: nothing to record, no batch; %s yuan owed and not funded\n", unfunded);
}

/* The server's memory for the two sorts that group lines by order and attempts by funding order:
 * at the default 4 MB both spill to disk from about 20,000 orders (the lines of 100,000 orders,
 * 200,000 lines, joined by hash: 0.93 s sorted on disk, 0.54 s in memory, EXPLAIN ANALYZE). The
 * client's memory is not affected: it is bounded by a chunk. */
static const char settle_plan_settings[] = "SET LOCAL work_mem = '" G_STRINGIFY(SETTLE_SORT_MEM_MB) "MB'";

gboolean settle_run(db *d, const char *os_user, settle_result *out, GError **error)
{
	settle_ctx c = { 0 };
	c.d = d;
	c.programme = db_programme(d);
	c.pools = g_array_new(FALSE, TRUE, sizeof(fund_pool));
	c.draws = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, draws_free);
	c.pools_start = g_array_new(FALSE, TRUE, sizeof(int64_t));
	c.pools_used = g_array_new(FALSE, TRUE, sizeof(gboolean));
	c.txn_entries = g_array_new(FALSE, FALSE, sizeof(fund_entry));
	c.key = g_byte_array_new();
	c.fund = g_string_sized_new(SETTLE_COPY_FLUSH_BYTES);
	c.state = g_string_sized_new(SETTLE_COPY_FLUSH_BYTES);

	/* One snapshot for the whole settlement: the registry it prices with, the pools it draws and
	 * the payee details it fixes all agree. */
	gboolean ok = db_exec(d, "BEGIN ISOLATION LEVEL REPEATABLE READ", error) &&
		      db_exec(d, settle_plan_settings, error) && settle_in_txn(&c, os_user, error);
	fault_point("settle:before-commit");
	ok = ok && db_commit(d, error);
	fault_point("settle:committed");
	if (!ok) {
		db_rollback(d);
		settle_result_clear(&c.res);
	} else {
		*out = c.res;
	}

	if (c.reg)
		registry_free(c.reg);
	g_array_free(c.pools, TRUE);
	g_hash_table_destroy(c.draws);
	g_array_free(c.pools_start, TRUE);
	g_array_free(c.pools_used, TRUE);
	g_array_free(c.txn_entries, TRUE);
	g_byte_array_free(c.key, TRUE);
	g_string_free(c.fund, TRUE);
	g_string_free(c.state, TRUE);
	ledger_writer_free(c.ledger);
	return ok;
}
