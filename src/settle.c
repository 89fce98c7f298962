/* settle.c: settlement; see settle.h and POLICY.md ("How much", "The fund runs out").
 *
 * The work moves through temporary tables, a chunk at a time, so memory is bounded by a chunk and
 * there is no round trip per order:
 *   1. settle_touched: orders with eligible lines newer than the last batch, and settle_lines, all
 *      their eligible lines (each work table analysed once filled: see analyse_work);
 *   2. settle_work: every touched order re-aggregated from all its lines and priced by the policy
 *      module (the same pure function replay calls), plus every order still owed unfunded money;
 *   3. funding: the work that needs a posting, reversals first, then by funding key, drawn from
 *      the pools in priority order; postings and their double entries go out by COPY;
 *   4. orders, pool balances and what the batch pays each shop are updated set-wise, then the
 *      batch row with its digest closes the chain. */
#include "settle.h"

#include "acts.h"
#include "chrono.h"
#include "fault.h"
#include "fund.h"
#include "ident.h"
#include "ledger.h"
#include "money.h"
#include "policy.h"
#include "registry.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETTLE_ERROR settle_error_quark()
G_DEFINE_QUARK(subsidy-settle-error-quark, settle_error)

/* Orders fetched and priced per round: the memory bound of a settlement. */
#define SETTLE_CHUNK_ROWS 10000
/* Flush a COPY buffer past this size even inside a chunk. */
#define SETTLE_COPY_FLUSH_BYTES (1 << 20)

char *settle_order_key(const char *order_no, const char *courier, const char *waybill_no)
{
	return ident_order_key(order_no, courier, waybill_no);
}

typedef struct {
	db *d;
	const char *programme;
	int batch_id;
	int64_t files_prev;
	int64_t files_upto;
	registry *reg;
	GArray *pools;       /* fund_pool, in fund_pools_sort's order; pool ids interned */
	GHashTable *draws;   /* "shop\x1forder" -> GArray of fund_draw, drawn first to last */
	GArray *txn_entries; /* fund_entry: the posting being written */
	GString *postings;   /* COPY buffers */
	GString *entries;
	GString *updates;
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
	if (buf->len == 0)
		return TRUE;
	gboolean ok = db_copy_begin(c->d, copy_sql, error) && db_copy_put(c->d, buf->str, buf->len, error) &&
		      db_copy_end(c->d, error);
	g_string_truncate(buf, 0);
	return ok;
}

static const char copy_work[] =
	"COPY settle_work (shop_id, order_key, order_no, fee_fen, order_date, fund_pickup, fund_courier,"
	" fund_waybill, campaign_id, rule, rate_bp, policy_id, policy_version, new_fen, old_fen, old_funded_fen,"
	" old_unfunded_fen) FROM STDIN";
static const char copy_postings[] =
	"COPY postings (programme, batch_id, seq, shop_id, order_key, order_no, status, fee_fen, order_date, rule,"
	" rate_bp, policy_id, policy_version, campaign_id, entitlement_fen, previous_fen, funded_fen, unfunded_fen,"
	" fund_pickup, fund_courier, fund_waybill, correction) FROM STDIN";
static const char copy_entries[] =
	"COPY entries (programme, txn, entry_seq, account, amount_fen, batch_id, posting_seq, pool_id, shop_id)"
	" FROM STDIN";
static const char copy_updates[] =
	"COPY settle_updates (shop_id, order_key, seq, funded_fen, unfunded_fen) FROM STDIN";

/* The work tables are filled in this transaction and autovacuum never sees a temporary table:
 * without statistics the planner takes each for a handful of rows and joins them by nested loops,
 * which made a first night's settlement quadratic in its orders (20,000 orders: 46 s; issue 12).
 * ANALYZE of a work table samples at most 30,000 rows (default_statistics_target 100) of the columns
 * named, those that the later statements join, group or filter on, so its cost is bounded whatever
 * the night's size. `lines` itself is never analysed here (on a big table that costs): it may be
 * unanalysed, or analysed before tonight's rows, or know nothing of a new programme, so the two
 * statements that read it each join it with an analysed work table on an indexed key, and no
 * estimate of `lines` can make them quadratic. */
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
 * changed, which is rare). The mark moves to this settlement's time. */
static gboolean touch_registry_changes(settle_ctx *c, int64_t *n, GError **error)
{
	const char *p1[] = { c->programme };
	char *since = NULL;
	if (!db_scalar(c->d, "SELECT registry_seen_at::text FROM settle_marks WHERE programme = $1", 1, p1, &since,
		       error))
		return FALSE;
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
	if (ok && PQntuples(shops) > 0) {
		g_autofree char *ids = column_array(shops, 0);
		const char *p[] = { c->programme, ids };
		ok = touch(c,
			   "INSERT INTO settle_touched SELECT shop_id, order_key FROM orders"
			   " WHERE programme = $1 AND shop_id = ANY ($2::text[]) ON CONFLICT DO NOTHING",
			   2, p, n, error);
	}
	if (ok && PQntuples(policies) > 0) {
		g_autofree char *from = column_array(policies, 0), *to = column_array(policies, 1);
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

/* Step 1: the orders to price: those with eligible lines newer than the last batch, those still
 * owed unfunded money (a retry funds the entitlement as it stands now, POLICY.md), those held by
 * an earlier settlement (sql/009_settle_held.sql), and those a registry change since the last
 * settlement may move. */
static gboolean touch_orders(settle_ctx *c, GError **error)
{
	char prev[24], upto[24];
	g_snprintf(prev, sizeof prev, "%" G_GINT64_FORMAT, (gint64)c->files_prev);
	g_snprintf(upto, sizeof upto, "%" G_GINT64_FORMAT, (gint64)c->files_upto);
	const char *p3[] = { c->programme, prev, upto };
	const char *p1[] = { c->programme };
	int64_t by_lines = 0, retried = 0, by_registry = 0, by_acts = 0;
	gboolean ok = touch(c,
			    "INSERT INTO settle_touched SELECT DISTINCT shop_id, order_key FROM lines"
			    " WHERE programme = $1 AND outcome = 'ELIGIBLE' AND file_id > $2::bigint"
			    " AND file_id <= $3::bigint",
			    3, p3, &by_lines, error) &&
		      touch(c,
			    "INSERT INTO settle_touched SELECT shop_id, order_key FROM orders"
			    " WHERE programme = $1 AND unfunded_fen > 0 ON CONFLICT DO NOTHING",
			    1, p1, &retried, error) &&
		      touch(c,
			    "INSERT INTO settle_touched SELECT shop_id, order_key FROM settle_held"
			    " WHERE programme = $1 ON CONFLICT DO NOTHING",
			    1, p1, &retried, error) &&
		      touch_registry_changes(c, &by_registry, error) && acts_settle_touch(c->d, c->reg, &by_acts, error);
	g_assert(!ok || (by_lines >= 0 && retried >= 0 && by_registry >= 0 && by_acts >= 0));
	return ok;
}

/* Holds the order at row i of the settle_orders cursor: no posting and its state as before; the
 * reason goes to the result (and so to the person running the settlement). */
static void hold_order(settle_ctx *c, const PGresult *res, int i, const char *reason)
{
	settle_held *h = g_new0(settle_held, 1);
	h->shop_id = g_strdup(PQgetvalue(res, i, 0));
	h->order_key = g_strdup(PQgetvalue(res, i, 1));
	h->order_no = g_strdup(PQgetisnull(res, i, 2) ? "" : PQgetvalue(res, i, 2));
	h->reason = g_strdup(reason);
	if (!c->res.held)
		c->res.held = g_ptr_array_new_with_free_func(settle_held_free);
	g_ptr_array_add(c->res.held, h);
}

/* Prices the order at row i of the settle_orders cursor with the registry as known now and
 * appends it to the settle_work COPY. An order whose arithmetic does not fit (a fee sum beyond
 * 64 bits, or a rate applied to it) is held, not an error: one order never stops a batch. FALSE
 * only for a stored value that cannot be read, which is a broken database. */
static gboolean price_order(settle_ctx *c, const PGresult *res, int i, GString *work, GError **error)
{
	const char *shop_id = PQgetvalue(res, i, 0);
	chrono_time pickup;
	GError *perr = NULL;
	if (!chrono_parse_time(PQgetvalue(res, i, 4), &pickup, &perr)) {
		g_propagate_prefixed_error(error, perr, "order '%s' of shop '%s': ", PQgetvalue(res, i, 1), shop_id);
		return FALSE;
	}
	int64_t fee_fen = 0;
	if (!g_ascii_string_to_signed(PQgetvalue(res, i, 3), 10, 0, INT64_MAX, &fee_fen, NULL)) {
		g_autofree char *why = g_strdup_printf("its fees add up to %s fen, beyond 64-bit arithmetic",
						       PQgetvalue(res, i, 3));
		hold_order(c, res, i, why);
		return TRUE;
	}
	chrono_day order_day = chrono_day_of(pickup);
	const policy_version *pv = registry_policy_on(c->reg, order_day);
	const registry_shop *shop = registry_shop_by_id(c->reg, shop_id);
	policy_entitlement ent = { 0 };
	ent.rule = POLICY_RULE_STANDARD;
	/* A shop or policy version the registry as known now does not have (redefined since the
	 * lines were classified) entitles the order to nothing; replay --registry current says why. */
	if (pv && shop && !policy_entitle(pv, fee_fen, registry_is_poor(c->reg, shop, order_day), &ent, &perr)) {
		hold_order(c, res, i, perr->message);
		g_error_free(perr);
		return TRUE;
	}
	g_assert(ent.amount_fen >= 0);
	char day[CHRONO_DAY_TEXT_MAX];
	chrono_format_day(order_day, day);
	db_copy_text(work, shop_id);
	db_copy_text(work, PQgetvalue(res, i, 1));
	db_copy_text(work, PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2));
	db_copy_int(work, fee_fen);
	db_copy_text(work, day);
	db_copy_text(work, PQgetvalue(res, i, 4));
	db_copy_text(work, PQgetvalue(res, i, 5));
	db_copy_text(work, PQgetvalue(res, i, 6));
	db_copy_text(work, PQgetisnull(res, i, 7) ? NULL : PQgetvalue(res, i, 7));
	db_copy_text(work, policy_rule_name(ent.rule));
	db_copy_int(work, ent.rate_bp);
	db_copy_text(work, pv ? pv->policy_id : "");
	db_copy_int(work, pv ? pv->version : 0);
	db_copy_int(work, ent.amount_fen);
	db_copy_text(work, PQgetvalue(res, i, 8));
	db_copy_text(work, PQgetvalue(res, i, 9));
	db_copy_text(work, PQgetvalue(res, i, 10));
	db_copy_row_end(work);
	return TRUE;
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

/* Step 2: price every touched order. */
static gboolean price_orders(settle_ctx *c, GError **error)
{
	char upto[24];
	g_snprintf(upto, sizeof upto, "%" G_GINT64_FORMAT, (gint64)c->files_upto);
	if (!db_exec(c->d,
		     "CREATE TEMP TABLE settle_touched (shop_id text, order_key text, PRIMARY KEY (shop_id, order_key))"
		     " ON COMMIT DROP;"
		     "CREATE TEMP TABLE settle_work (shop_id text, order_key text, order_no text, fee_fen bigint,"
		     " order_date date, fund_pickup timestamp, fund_courier text, fund_waybill text, campaign_id text,"
		     " rule text, rate_bp integer, policy_id text, policy_version integer, new_fen bigint,"
		     " old_fen bigint, old_funded_fen bigint, old_unfunded_fen bigint, PRIMARY KEY (shop_id, order_key))"
		     " ON COMMIT DROP;"
		     "CREATE TEMP TABLE settle_updates (shop_id text, order_key text, seq integer, funded_fen bigint,"
		     " unfunded_fen bigint, PRIMARY KEY (shop_id, order_key, seq)) ON COMMIT DROP;"
		     "CREATE TEMP TABLE settle_lines (shop_id text, order_key text, order_no text, fee_fen bigint,"
		     " pickup_time timestamp, courier text, waybill_no text, campaign_id text) ON COMMIT DROP",
		     error))
		return FALSE;
	if (!touch_orders(c, error))
		return FALSE;
	/* The touched orders' lines, in a table of their own with statistics (see analyse_work). */
	const char *p2[] = { c->programme, upto };
	if (!analyse_work(c, "settle_touched", error) ||
	    !exec_params(c->d,
			 "INSERT INTO settle_lines SELECT l.shop_id, l.order_key, l.order_no, l.fee_fen, l.pickup_time,"
			 " l.courier, l.waybill_no, l.campaign_id FROM lines_counted() l"
			 " JOIN settle_touched t USING (shop_id, order_key) WHERE l.programme = $1 AND l.file_id <= $2::bigint",
			 2, p2, error) ||
	    !analyse_work(c, "settle_lines (shop_id, order_key)", error) ||
	    /* An order that lost every line to an act (acts.h) is priced as holding nothing. */
	    !exec_params(c->d,
			 "INSERT INTO settle_lines SELECT o.shop_id, o.order_key, o.order_no, 0, o.fund_pickup,"
			 " o.fund_courier, o.fund_waybill, o.campaign_id FROM settle_corrections t JOIN orders o"
			 " ON o.programme = $1 AND o.shop_id = t.shop_id AND o.order_key = t.order_key"
			 " WHERE NOT EXISTS (SELECT 1 FROM settle_lines s WHERE s.shop_id = t.shop_id"
			 "  AND s.order_key = t.order_key)",
			 1, p2, error))
		return FALSE;
	if (!exec_params(c->d,
			 "DECLARE settle_orders NO SCROLL CURSOR FOR"
			 " WITH agg AS (SELECT shop_id, order_key, min(order_no) AS order_no, sum(fee_fen) AS fee_fen"
			 "   FROM settle_lines GROUP BY shop_id, order_key),"
			 " fk AS (SELECT DISTINCT ON (shop_id, order_key) shop_id, order_key, pickup_time, courier,"
			 "   waybill_no, campaign_id FROM settle_lines"
			 "   ORDER BY shop_id, order_key, pickup_time, courier COLLATE \"C\", waybill_no COLLATE \"C\")"
			 " SELECT a.shop_id, a.order_key, a.order_no, a.fee_fen, fk.pickup_time, fk.courier, fk.waybill_no,"
			 "   fk.campaign_id, coalesce(o.entitlement_fen, 0), coalesce(o.funded_fen, 0),"
			 "   coalesce(o.unfunded_fen, 0)"
			 " FROM agg a JOIN fk USING (shop_id, order_key)"
			 " LEFT JOIN orders o ON o.programme = $1 AND o.shop_id = a.shop_id AND o.order_key = a.order_key",
			 1, p2, error))
		return FALSE;

	g_autoptr(GString) work = g_string_sized_new(SETTLE_COPY_FLUSH_BYTES);
	for (;;) {
		PGresult *res = db_query(c->d, "FETCH " G_STRINGIFY(SETTLE_CHUNK_ROWS) " FROM settle_orders", 0, NULL,
					 error);
		if (!res)
			return FALSE;
		int n = PQntuples(res);
		gboolean ok = TRUE;
		for (int i = 0; i < n && ok; i++)
			ok = price_order(c, res, i, work, error);
		PQclear(res);
		if (!ok || !flush(c, work, copy_work, error))
			return FALSE;
		if (n < SETTLE_CHUNK_ROWS)
			break;
	}
	return db_exec(c->d, "CLOSE settle_orders", error) && record_held(c, error);
}

/* The pools as they stand, in the order postings draw from them. Pool ids are interned: a
 * programme has a handful, and the draw stacks and entries borrow them. */
static gboolean load_pools(settle_ctx *c, GError **error)
{
	const char *p1[] = { c->programme };
	PGresult *res = db_query(c->d,
				 "SELECT p.pool_id, p.valid_from, p.valid_to, b.amount_fen - b.drawn_fen, p.priority FROM pools p"
				 " JOIN pool_balances b ON b.programme = p.programme AND b.pool_id = p.pool_id"
				 " WHERE p.programme = $1 AND p.superseded_at IS NULL",
				 1, p1, error);
	if (!res)
		return FALSE;
	for (int i = 0; i < PQntuples(res); i++) {
		fund_pool fp = { 0 };
		fp.pool_id = g_intern_string(PQgetvalue(res, i, 0));
		gboolean ok = chrono_parse_day(PQgetvalue(res, i, 1), &fp.valid_from, NULL);
		if (PQgetisnull(res, i, 2))
			fp.valid_to = POLICY_OPEN_END;
		else
			ok = ok && chrono_parse_day(PQgetvalue(res, i, 2), &fp.valid_to, NULL);
		g_assert(ok); /* dates as the database prints them */
		fp.left_fen = g_ascii_strtoll(PQgetvalue(res, i, 3), NULL, 10);
		fp.priority = atoi(PQgetvalue(res, i, 4));
		g_assert(fp.left_fen >= 0); /* pool_never_below_zero */
		g_array_append_val(c->pools, fp);
	}
	PQclear(res);
	fund_pools_sort((fund_pool *)(void *)c->pools->data, c->pools->len);
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
static gboolean load_reversal_draws(settle_ctx *c, GError **error)
{
	const char *p1[] = { c->programme };
	PGresult *res = db_query(c->d,
				 "SELECT p.shop_id, p.order_key, e.pool_id, e.amount_fen"
				 " FROM settle_work w"
				 " JOIN postings p ON p.programme = $1 AND p.shop_id = w.shop_id AND p.order_key = w.order_key"
				 " JOIN entries e ON e.programme = $1 AND e.batch_id = p.batch_id AND e.posting_seq = p.seq"
				 "   AND e.pool_id IS NOT NULL"
				 " WHERE w.new_fen < w.old_fen"
				 " ORDER BY p.shop_id, p.order_key, p.batch_id, p.seq, e.entry_seq",
				 1, p1, error);
	if (!res)
		return FALSE;
	gboolean ok = TRUE;
	for (int i = 0; i < PQntuples(res) && ok; i++) {
		char *key = draw_key(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
		GArray *a = g_hash_table_lookup(c->draws, key);
		if (!a) {
			a = g_array_new(FALSE, FALSE, sizeof(fund_draw));
			g_hash_table_insert(c->draws, key, a);
		} else {
			g_free(key);
		}
		const char *pool_id = g_intern_string(PQgetvalue(res, i, 2));
		ok = fund_draws_replay(a, pool_id, g_ascii_strtoll(PQgetvalue(res, i, 3), NULL, 10));
		if (!ok)
			g_set_error(error, SETTLE_ERROR, STATUS_SOFTWARE,
				    "order '%s' of shop '%s' got more back from pool '%s' than it drew: the ledger does"
				    " not add up (run 'subsidy verify')",
				    PQgetvalue(res, i, 1), PQgetvalue(res, i, 0), pool_id);
	}
	PQclear(res);
	return ok;
}

static void add_entry(settle_ctx *c, const char *txn, int entry_seq, const char *account, int64_t amount_fen,
		      const char *pool_id, const char *shop_id)
{
	g_assert(amount_fen != 0);
	GString *e = c->entries;
	db_copy_text(e, c->programme);
	db_copy_text(e, txn);
	db_copy_int(e, entry_seq);
	db_copy_text(e, account);
	db_copy_int(e, amount_fen);
	db_copy_int(e, c->batch_id);
	db_copy_int(e, c->seq);
	db_copy_text(e, pool_id);
	db_copy_text(e, shop_id);
	db_copy_row_end(e);
}

/* The parts of a settlement's funding, in the order POLICY.md gives: reversals first, then new
 * differences and retries together in funding-key order. An order whose reversal only cancelled
 * part of what it was owed is still owed the rest: it is retried in the second part, like any
 * order waiting for money, as a second posting of the batch. */
typedef enum {
	FUND_PASS_REVERSAL = 0,
	FUND_PASS_DIFFERENCE = 1,
	FUND_PASS_RETRY_AFTER_REVERSAL = 2,
} fund_pass;

/* Funds one order's difference; appends its posting, entries and new state. Row columns as the
 * settle_fund cursor selects them. */
static void fund_order(settle_ctx *c, PGresult *res, int i)
{
	const char *shop_id = PQgetvalue(res, i, 0);
	const char *order_key = PQgetvalue(res, i, 1);
	chrono_day order_day;
	gboolean ok = chrono_parse_day(PQgetvalue(res, i, 4), &order_day, NULL);
	g_assert(ok);
	int64_t new_fen = g_ascii_strtoll(PQgetvalue(res, i, 13), NULL, 10);
	int64_t old_fen = g_ascii_strtoll(PQgetvalue(res, i, 14), NULL, 10);
	int64_t funded_before = g_ascii_strtoll(PQgetvalue(res, i, 15), NULL, 10);
	int64_t unfunded_before = g_ascii_strtoll(PQgetvalue(res, i, 16), NULL, 10);
	fund_pass pass = (fund_pass)atoi(PQgetvalue(res, i, 17));
	g_assert(funded_before + unfunded_before == old_fen);

	fund_order_state before = { old_fen, funded_before, unfunded_before };
	GArray *draws = NULL;
	if (new_fen < old_fen) {
		g_autofree char *key = draw_key(shop_id, order_key);
		draws = g_hash_table_lookup(c->draws, key);
		/* Every order whose entitlement falls had its draws loaded, if it drew anything. */
		g_assert(draws != NULL || funded_before == 0);
	}
	fund_posting post = fund_post((fund_pool *)(void *)c->pools->data, c->pools->len, draws, order_day, before,
				      new_fen, c->txn_entries);
	if (post.status == FUND_NOTHING)
		return; /* a retry that found no money: nothing changed, nothing to record */
	c->seq++;
	g_autofree char *txn = g_strdup_printf("b%d.p%d", c->batch_id, c->seq);
	for (guint k = 0; k < c->txn_entries->len; k++) {
		const fund_entry *e = &g_array_index(c->txn_entries, fund_entry, k);
		g_autofree char *account = e->pool_id ? ledger_pool_account(e->pool_id) : ledger_payable_account(shop_id);
		add_entry(c, txn, (int)k + 1, account, e->amount_fen, e->pool_id, e->pool_id ? NULL : shop_id);
	}
	const char *status = fund_status_name(post.status);
	int64_t moved = post.moved_fen, unfunded = post.after.unfunded_fen;

	GString *p = c->postings;
	db_copy_text(p, c->programme);
	db_copy_int(p, c->batch_id);
	db_copy_int(p, c->seq);
	db_copy_text(p, shop_id);
	db_copy_text(p, order_key);
	db_copy_text(p, PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2));
	db_copy_text(p, status);
	db_copy_text(p, PQgetvalue(res, i, 3));  /* fee_fen */
	db_copy_text(p, PQgetvalue(res, i, 4));  /* order_date */
	db_copy_text(p, PQgetvalue(res, i, 9));  /* rule */
	db_copy_text(p, PQgetvalue(res, i, 10)); /* rate_bp */
	db_copy_text(p, PQgetvalue(res, i, 11)); /* policy_id */
	db_copy_text(p, PQgetvalue(res, i, 12)); /* policy_version */
	db_copy_text(p, PQgetisnull(res, i, 8) ? NULL : PQgetvalue(res, i, 8));
	db_copy_int(p, new_fen);
	db_copy_int(p, old_fen);
	db_copy_int(p, moved);
	db_copy_int(p, unfunded);
	db_copy_text(p, PQgetvalue(res, i, 5));
	db_copy_text(p, PQgetvalue(res, i, 6));
	db_copy_text(p, PQgetvalue(res, i, 7));
	db_copy_text(p, PQgetisnull(res, i, 18) ? NULL : PQgetvalue(res, i, 18)); /* correction */
	db_copy_row_end(p);

	GString *u = c->updates;
	db_copy_text(u, shop_id);
	db_copy_text(u, order_key);
	db_copy_int(u, c->seq);
	db_copy_int(u, new_fen - unfunded);
	db_copy_int(u, unfunded);
	db_copy_row_end(u);

	c->res.postings++;
	if (pass != FUND_PASS_RETRY_AFTER_REVERSAL) /* its reversal counted the order already */
		c->res.orders++;
	c->res.posted_fen += moved;
}

static gboolean flush_all(settle_ctx *c, GError **error)
{
	return flush(c, c->postings, copy_postings, error) && flush(c, c->entries, copy_entries, error) &&
	       flush(c, c->updates, copy_updates, error);
}

/* Step 3: fund, reversals first, then in funding-key order. */
static gboolean fund_orders(settle_ctx *c, GError **error)
{
	if (!load_pools(c, error) || !load_reversal_draws(c, error))
		return FALSE;
	/* The retry after a reversal presents the order as the reversal leaves it: entitlement
	 * unchanged from now on, funded as before, owed what the reversal did not cancel. */
#define SETTLE_FUND_COLUMNS "shop_id, order_key, order_no, fee_fen, order_date, fund_pickup, fund_courier," \
			    " fund_waybill, campaign_id, rule, rate_bp, policy_id, policy_version"
	if (!db_exec(c->d,
		     "DECLARE settle_fund NO SCROLL CURSOR FOR SELECT w.*, k.correction FROM ("
		     " SELECT " SETTLE_FUND_COLUMNS ", new_fen, old_fen, old_funded_fen, old_unfunded_fen, 0 AS pass"
		     "  FROM settle_work WHERE new_fen < old_fen"
		     " UNION ALL SELECT " SETTLE_FUND_COLUMNS ", new_fen, old_fen, old_funded_fen, old_unfunded_fen, 1"
		     "  FROM settle_work WHERE new_fen > old_fen OR (new_fen = old_fen AND old_unfunded_fen > 0)"
		     " UNION ALL SELECT " SETTLE_FUND_COLUMNS ", new_fen, new_fen, old_funded_fen,"
		     "  old_unfunded_fen - (old_fen - new_fen), 2"
		     "  FROM settle_work WHERE new_fen < old_fen AND old_unfunded_fen > old_fen - new_fen) w"
		     " LEFT JOIN settle_corrections k USING (shop_id, order_key)"
		     " ORDER BY pass = 0 DESC, fund_pickup, fund_courier COLLATE \"C\", fund_waybill COLLATE \"C\"",
		     error))
		return FALSE;
#undef SETTLE_FUND_COLUMNS
	for (;;) {
		PGresult *res = db_query(c->d, "FETCH " G_STRINGIFY(SETTLE_CHUNK_ROWS) " FROM settle_fund", 0, NULL,
					 error);
		if (!res)
			return FALSE;
		int n = PQntuples(res);
		for (int i = 0; i < n; i++)
			fund_order(c, res, i);
		PQclear(res);
		if (!flush_all(c, error))
			return FALSE;
		if (n < SETTLE_CHUNK_ROWS)
			break;
	}
	return db_exec(c->d, "CLOSE settle_fund", error);
}

/* Step 4: orders' state, pool balances, what the batch pays each shop. */
static gboolean record_state(settle_ctx *c, gboolean *failed_waiting, GError **error)
{
	char batch[16];
	g_snprintf(batch, sizeof batch, "%d", c->batch_id);
	const char *p2[] = { c->programme, batch };
	if (!exec_params(c->d,
			 "INSERT INTO orders AS o (programme, shop_id, order_key, order_no, fee_fen, order_date,"
			 " entitlement_fen, funded_fen, unfunded_fen, fund_pickup, fund_courier, fund_waybill, campaign_id,"
			 " rule, rate_bp, policy_id, policy_version, last_batch)"
			 " SELECT $1, w.shop_id, w.order_key, w.order_no, w.fee_fen, w.order_date,"
			 "  CASE WHEN u.shop_id IS NULL THEN w.old_fen ELSE w.new_fen END,"
			 "  coalesce(u.funded_fen, w.old_funded_fen), coalesce(u.unfunded_fen, w.old_unfunded_fen),"
			 "  w.fund_pickup, w.fund_courier, w.fund_waybill, w.campaign_id, w.rule, w.rate_bp, w.policy_id,"
			 "  w.policy_version, CASE WHEN u.shop_id IS NULL THEN NULL ELSE $2::int END"
			 " FROM settle_work w LEFT JOIN (SELECT DISTINCT ON (shop_id, order_key) * FROM settle_updates"
			 "  ORDER BY shop_id, order_key, seq DESC) u USING (shop_id, order_key)"
			 " ON CONFLICT (programme, shop_id, order_key) DO UPDATE SET order_no = EXCLUDED.order_no,"
			 "  fee_fen = EXCLUDED.fee_fen, order_date = EXCLUDED.order_date,"
			 "  entitlement_fen = EXCLUDED.entitlement_fen, funded_fen = EXCLUDED.funded_fen,"
			 "  unfunded_fen = EXCLUDED.unfunded_fen, fund_pickup = EXCLUDED.fund_pickup,"
			 "  fund_courier = EXCLUDED.fund_courier, fund_waybill = EXCLUDED.fund_waybill,"
			 "  campaign_id = EXCLUDED.campaign_id, rule = EXCLUDED.rule, rate_bp = EXCLUDED.rate_bp,"
			 "  policy_id = EXCLUDED.policy_id, policy_version = EXCLUDED.policy_version,"
			 "  last_batch = coalesce(EXCLUDED.last_batch, o.last_batch)",
			 2, p2, error))
		return FALSE;
	if (!exec_params(c->d,
			 "UPDATE pool_balances b SET drawn_fen = b.drawn_fen + d.drawn, drawn_batch = $2::int FROM"
			 " (SELECT pool_id, -sum(amount_fen) AS drawn FROM entries WHERE programme = $1"
			 "  AND batch_id = $2::int AND pool_id IS NOT NULL GROUP BY pool_id) d"
			 " WHERE b.programme = $1 AND b.pool_id = d.pool_id",
			 2, p2, error))
		return FALSE;
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

static gboolean close_batch(settle_ctx *c, const char *os_user, GError **error)
{
	const char *p1[] = { c->programme };
	char *v = NULL;
	if (!db_scalar(c->d, "SELECT coalesce(sum(unfunded_fen), 0) FROM orders WHERE programme = $1", 1, p1, &v,
		       error))
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
	if (!price_orders(c, error) ||
	    !analyse_work(c, "settle_work (shop_id, order_key, new_fen, old_fen, old_unfunded_fen)", error))
		return FALSE;
	fault_point("settle:priced");
	if (!fund_orders(c, error) || !analyse_work(c, "settle_updates (shop_id, order_key)", error))
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
		if (!db_scalar(c->d, "SELECT coalesce(sum(unfunded_fen), 0) FROM orders WHERE programme = $1", 1, p1,
			       &v, error))
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

gboolean settle_run(db *d, const char *os_user, settle_result *out, GError **error)
{
	settle_ctx c = { 0 };
	c.d = d;
	c.programme = db_programme(d);
	c.pools = g_array_new(FALSE, TRUE, sizeof(fund_pool));
	c.draws = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, draws_free);
	c.txn_entries = g_array_new(FALSE, FALSE, sizeof(fund_entry));
	c.postings = g_string_sized_new(SETTLE_COPY_FLUSH_BYTES);
	c.entries = g_string_sized_new(SETTLE_COPY_FLUSH_BYTES);
	c.updates = g_string_sized_new(SETTLE_COPY_FLUSH_BYTES);

	/* One snapshot for the whole settlement: the registry it prices with, the pools it draws and
	 * the payee details it fixes all agree. */
	gboolean ok = db_exec(d, "BEGIN ISOLATION LEVEL REPEATABLE READ", error) && settle_in_txn(&c, os_user, error);
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
	g_array_free(c.txn_entries, TRUE);
	g_string_free(c.postings, TRUE);
	g_string_free(c.entries, TRUE);
	g_string_free(c.updates, TRUE);
	return ok;
}
