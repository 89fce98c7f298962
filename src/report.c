/* report.c: the programme report's figures, and their JSON; see report.h and REPORT.md. */
#include "report.h"

#include "json.h"
#include "outfile.h"
#include "pools.h"
#include "status.h"

#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK(subsidy-report-error-quark, report_error)

/* The scope of orders: $2 and $3 are the first and last order dates, either NULL (unbounded). */
#define ORDER_IN_SCOPE(o)                                                                                         \
	"(" o ".order_date >= coalesce($2::date, '-infinity'::date)"                                               \
	" AND " o ".order_date <= coalesce($3::date, 'infinity'::date))"

/* Every figure of an order in scope, in one pass over orders (each with its latest posting, the
 * last batch that posted for it, for its rate) and the registry now: one row per grouping set,
 * kind first, then the key and the numbers (orders, money, poverty orders, poverty money,
 * unfunded, orders that reach a poverty village):
 *   total (), village, campaign, courier (of the funding-key line), shop, household.
 * An order's money is its funded_fen: the net of its postings, reversals included (the order's
 * balance, which verify proves equal to the sum of its postings). No order is looked up alone. */
static const char orders_sql[] =
	"WITH pv AS (SELECT DISTINCT village FROM households WHERE programme = $1 AND superseded_at IS NULL),"
	/* First by shop, campaign and courier, in one pass the planner may run in parallel: a few rows
	 * per shop whatever the number of orders. reachable: poverty orders funded above zero. */
	" x AS (SELECT o.shop_id, o.campaign_id, o.fund_courier, count(*) AS n, sum(o.funded_fen) AS net,"
	"  count(*) FILTER (WHERE lp.rule = 'poverty') AS pn,"
	"  coalesce(sum(o.funded_fen) FILTER (WHERE lp.rule = 'poverty'), 0) AS pnet,"
	"  sum(o.unfunded_fen) AS unfunded,"
	"  count(*) FILTER (WHERE lp.rule = 'poverty' AND o.funded_fen > 0) AS reachable"
	"  FROM orders o"
	"  JOIN postings lp ON lp.programme = o.programme AND lp.batch_id = o.last_batch AND lp.shop_id = o.shop_id"
	"   AND lp.order_key = o.order_key"
	"  WHERE o.programme = $1 AND " ORDER_IN_SCOPE("o")
	"  GROUP BY o.shop_id, o.campaign_id, o.fund_courier),"
	" y AS (SELECT x.*, s.village, s.household_id,"
	"  CASE WHEN s.village IN (SELECT village FROM pv) THEN x.reachable ELSE 0 END AS reach"
	"  FROM x JOIN shops s ON s.programme = $1 AND s.shop_id = x.shop_id AND s.superseded_at IS NULL)"
	" SELECT CASE GROUPING(village, campaign_id, fund_courier, shop_id, household_id)"
	"  WHEN 31 THEN 'total' WHEN 15 THEN 'village' WHEN 23 THEN 'campaign' WHEN 27 THEN 'courier'"
	"  WHEN 29 THEN 'shop' ELSE 'household' END,"
	"  coalesce(village, campaign_id, fund_courier, shop_id, household_id),"
	"  sum(n), sum(net), sum(pn), sum(pnet), sum(unfunded), sum(reach)"
	" FROM y GROUP BY GROUPING SETS ((), (village), (campaign_id), (fund_courier), (shop_id), (household_id))";

/* The money of in-scope orders' postings whose (batch, shop) payment result is PAID (成功). Without
 * a range the order's scope is true and the planner drops the look-up. */
static const char paid_sql[] =
	"SELECT coalesce(sum(p.funded_fen), 0) FROM payments pay"
	" JOIN postings p ON p.programme = pay.programme AND p.batch_id = pay.batch_id AND p.shop_id = pay.shop_id"
	" WHERE pay.programme = $1 AND pay.status = 'PAID'"
	" AND (($2::date IS NULL AND $3::date IS NULL) OR EXISTS (SELECT 1 FROM orders o WHERE o.programme = $1"
	"  AND o.shop_id = p.shop_id AND o.order_key = p.order_key AND " ORDER_IN_SCOPE("o") "))";

static const char campaigns_sql[] =
	"SELECT campaign_id, name FROM campaigns WHERE programme = $1 AND superseded_at IS NULL";

/* Lines by courier and outcome whose pickup day is in scope; a line whose pickup time could not be
 * read only when no range is given. */
static const char lines_sql[] =
	"SELECT courier, outcome, count(*) FROM lines WHERE programme = $1"
	" AND (($2::date IS NULL AND $3::date IS NULL) OR (pickup_time::date >= coalesce($2::date, '-infinity'::date)"
	"  AND pickup_time::date <= coalesce($3::date, 'infinity'::date)))"
	" GROUP BY courier, outcome";

/* What the postings of in-scope orders drew from each pool, net of returns: a row per pool drawn
 * from ($2, $3 the range, as ORDER_IN_SCOPE). Without a range every posting's order is in scope,
 * so the entries alone tell. The pools themselves, with their amount and what is left, are
 * pools_read's. */
enum { DRAWN_POOL_ID, DRAWN_FEN, DRAWN_COLUMNS };
static const char drawn_sql_all[] =
	"SELECT pool_id, -sum(amount_fen) FROM entries WHERE programme = $1"
	" AND pool_id IS NOT NULL AND $2::date IS NULL AND $3::date IS NULL GROUP BY pool_id";
static const char drawn_sql_range[] =
	"SELECT e.pool_id, -sum(e.amount_fen) FROM entries e"
	" JOIN postings ps ON ps.programme = e.programme AND ps.batch_id = e.batch_id AND ps.seq = e.posting_seq"
	" JOIN orders o ON o.programme = ps.programme AND o.shop_id = ps.shop_id AND o.order_key = ps.order_key"
	" WHERE e.programme = $1 AND e.pool_id IS NOT NULL AND " ORDER_IN_SCOPE("o") " GROUP BY e.pool_id";

/* One point per China-time day on which a batch was made (the session's time zone is China's,
 * db.h): the pools loaded by the moment of that day's last batch, at the amounts they had then,
 * less what every batch up to it drew from them. */
static const char burn_sql[] =
	"WITH days AS (SELECT created_at::date AS day, max(batch_id) AS upto, max(created_at) AS at FROM batches"
	"  WHERE programme = $1 GROUP BY 1),"
	" draws AS (SELECT batch_id, -sum(amount_fen) AS drawn FROM entries WHERE programme = $1"
	"  AND pool_id IS NOT NULL GROUP BY batch_id)"
	" SELECT d.day::text,"
	"  coalesce((SELECT sum(p.amount_fen) FROM pools p WHERE p.programme = $1 AND p.recorded_at <= d.at"
	"   AND d.at < coalesce(p.superseded_at, 'infinity')), 0),"
	"  coalesce((SELECT sum(w.drawn) FROM draws w WHERE w.batch_id <= d.upto), 0)"
	" FROM days d ORDER BY d.day";

static const char head_sql[] =
	"SELECT to_char(now(), 'YYYY-MM-DD HH24:MI:SS'), b.batch_id, b.digest,"
	" to_char(b.created_at, 'YYYY-MM-DD HH24:MI:SS'),"
	" (SELECT coalesce(sum(amount_fen), 0) FROM pool_balances WHERE programme = $1),"
	" (SELECT coalesce(sum(amount_fen - drawn_fen), 0) FROM pool_balances WHERE programme = $1),"
	" (SELECT count(DISTINCT village) FROM households WHERE programme = $1 AND superseded_at IS NULL)"
	" FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT batch_id, digest, created_at FROM batches"
	"  WHERE programme = $1 ORDER BY batch_id DESC LIMIT 1) b ON true";

static int64_t num(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : g_ascii_strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static char *text_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : g_strdup(PQgetvalue(res, row, col));
}

/* Bytewise, NULL last: the order of REPORT.md's lists. */
static int compare_keys(const char *a, const char *b)
{
	if (!a || !b)
		return (a == NULL) - (b == NULL);
	return strcmp(a, b);
}

static int compare_villages(gconstpointer a, gconstpointer b)
{
	return compare_keys(((const report_village *)a)->village, ((const report_village *)b)->village);
}

static int compare_campaigns(gconstpointer a, gconstpointer b)
{
	return compare_keys(((const report_campaign *)a)->campaign_id, ((const report_campaign *)b)->campaign_id);
}

static int compare_couriers(gconstpointer a, gconstpointer b)
{
	return compare_keys(((const report_courier *)a)->courier, ((const report_courier *)b)->courier);
}

/* The courier's entry, made when new (couriers come from lines and from orders' funding keys). */
static report_courier *courier_entry(GArray *couriers, GHashTable *index, const char *courier)
{
	/* The hash table cannot hold a NULL key: the unreadable courier has its own name. */
	const char *key = courier ? courier : "\x01(null)";
	gpointer found;
	if (g_hash_table_lookup_extended(index, key, NULL, &found))
		return &g_array_index(couriers, report_courier, GPOINTER_TO_UINT(found));
	report_courier c = { 0 };
	c.courier = g_strdup(courier);
	g_array_append_val(couriers, c);
	g_hash_table_insert(index, g_strdup(key), GUINT_TO_POINTER(couriers->len - 1));
	return &g_array_index(couriers, report_courier, couriers->len - 1);
}

static void clear_village(gpointer p)
{
	g_free(((report_village *)p)->village);
}

static void clear_campaign(gpointer p)
{
	report_campaign *c = p;
	g_free(c->campaign_id);
	g_free(c->name);
}

static void clear_courier(gpointer p)
{
	g_free(((report_courier *)p)->courier);
}

static void clear_pool(gpointer p)
{
	report_pool *pool = p;
	g_free(pool->pool_id);
	g_free(pool->name);
}

static report *report_new(void)
{
	report *r = g_new0(report, 1);
	r->by_village = g_array_new(FALSE, TRUE, sizeof(report_village));
	g_array_set_clear_func(r->by_village, clear_village);
	r->by_campaign = g_array_new(FALSE, TRUE, sizeof(report_campaign));
	g_array_set_clear_func(r->by_campaign, clear_campaign);
	r->by_courier = g_array_new(FALSE, TRUE, sizeof(report_courier));
	g_array_set_clear_func(r->by_courier, clear_courier);
	r->pools = g_array_new(FALSE, TRUE, sizeof(report_pool));
	g_array_set_clear_func(r->pools, clear_pool);
	r->burn_down = g_array_new(FALSE, TRUE, sizeof(report_point));
	return r;
}

void report_free(report *r)
{
	if (!r)
		return;
	g_array_unref(r->by_village);
	g_array_unref(r->by_campaign);
	g_array_unref(r->by_courier);
	g_array_unref(r->pools);
	g_array_unref(r->burn_down);
	g_free(r->programme);
	g_free(r->last_digest);
	g_free(r);
}

/* orders_sql's columns. */
enum {
	ORDERS_KIND, ORDERS_KEY, ORDERS_COUNT, ORDERS_FEN, ORDERS_POOR_COUNT, ORDERS_POOR_FEN, ORDERS_UNFUNDED_FEN,
	ORDERS_REACH, ORDERS_COLUMNS
};

static void take_orders(report *r, const PGresult *res, GArray *couriers, GHashTable *index)
{
	g_assert(PQnfields(res) == ORDERS_COLUMNS);
	g_assert(r->by_village->len == 0 && r->by_campaign->len == 0 && r->orders == 0);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *kind = PQgetvalue(res, i, ORDERS_KIND);
		char *key = text_or_null(res, i, ORDERS_KEY);
		int64_t orders = num(res, i, ORDERS_COUNT), money = num(res, i, ORDERS_FEN),
			poor_orders = num(res, i, ORDERS_POOR_COUNT), poor_money = num(res, i, ORDERS_POOR_FEN),
			reach = num(res, i, ORDERS_REACH);
		if (strcmp(kind, "total") == 0) {
			r->orders = orders;
			r->posted_fen = money;
			r->unfunded_fen = num(res, i, ORDERS_UNFUNDED_FEN);
			r->poverty.orders = poor_orders;
			r->poverty.posted_fen = poor_money;
		} else if (strcmp(kind, "village") == 0) {
			if (reach > 0)
				r->poverty.villages_reached++;
			report_village v = { g_steal_pointer(&key), orders, money, poor_money };
			g_array_append_val(r->by_village, v);
		} else if (strcmp(kind, "campaign") == 0) {
			report_campaign c = { g_steal_pointer(&key), NULL, orders, money };
			g_array_append_val(r->by_campaign, c);
		} else if (strcmp(kind, "courier") == 0) {
			courier_entry(couriers, index, key)->posted_fen = money;
		} else if (strcmp(kind, "shop") == 0) {
			if (money > 0)
				r->shops_paid++;
		} else {
			g_assert(strcmp(kind, "household") == 0);
			if (key && reach > 0)
				r->poverty.households_paid++;
		}
		g_free(key);
	}
}

/* lines_sql's columns. */
enum { LINES_COURIER, LINES_OUTCOME, LINES_COUNT, LINES_COLUMNS };

static void take_lines(report *r, const PGresult *res, GArray *couriers, GHashTable *index)
{
	g_assert(PQnfields(res) == LINES_COLUMNS);
	for (int i = 0; i < PQntuples(res); i++) {
		policy_outcome o;
		gboolean known = policy_outcome_parse(PQgetvalue(res, i, LINES_OUTCOME), &o);
		g_assert(known); /* the lines table's CHECK allows these only */
		int64_t n = num(res, i, LINES_COUNT);
		g_assert(n > 0); /* a group has its lines */
		const char *courier = PQgetisnull(res, i, LINES_COURIER) ? NULL : PQgetvalue(res, i, LINES_COURIER);
		report_courier *c = courier_entry(couriers, index, courier);
		c->lines += n;
		c->outcomes[o] += n;
		if (o == OUTCOME_ELIGIBLE)
			c->eligible += n;
		r->outcomes[o] += n;
	}
}

/* head_sql's columns, and paid_sql's. */
enum {
	HEAD_MADE_AT, HEAD_BATCH, HEAD_DIGEST, HEAD_BATCH_AT, HEAD_POOLS_AMOUNT_FEN, HEAD_POOLS_LEFT_FEN,
	HEAD_VILLAGES, HEAD_COLUMNS
};
enum { PAID_FEN, PAID_COLUMNS };

/* Where the figures come from (head_sql's one row) and the money paid (paid_sql's one row). */
static void take_head(report *r, const PGresult *head, const PGresult *paid)
{
	g_assert(PQntuples(head) == 1 && PQnfields(head) == HEAD_COLUMNS);
	g_assert(PQntuples(paid) == 1 && PQnfields(paid) == PAID_COLUMNS);
	g_strlcpy(r->made_at, PQgetvalue(head, 0, HEAD_MADE_AT), sizeof r->made_at);
	r->last_batch = (int)num(head, 0, HEAD_BATCH);
	r->last_digest = text_or_null(head, 0, HEAD_DIGEST);
	g_strlcpy(r->last_batch_at, PQgetvalue(head, 0, HEAD_BATCH_AT), sizeof r->last_batch_at);
	r->pools_amount_fen = num(head, 0, HEAD_POOLS_AMOUNT_FEN);
	r->pools_left_fen = num(head, 0, HEAD_POOLS_LEFT_FEN);
	r->poverty.villages_total = num(head, 0, HEAD_VILLAGES);
	r->paid_fen = num(paid, 0, PAID_FEN);
	/* Every pool's left is within 0..amount (pool_balances' CHECKs), so is their sum. */
	g_assert(r->pools_left_fen >= 0 && r->pools_left_fen <= r->pools_amount_fen);
	g_assert((r->last_batch == 0) == (r->last_digest == NULL));
}

/* Each campaign of the report takes its name in the registry now (NULL when none). */
static void name_campaigns(report *r, const PGresult *names)
{
	enum { CAMPAIGN_ID, CAMPAIGN_NAME, CAMPAIGN_COLUMNS }; /* campaigns_sql's */
	g_assert(PQnfields(names) == CAMPAIGN_COLUMNS);
	g_autoptr(GHashTable) campaign_names = g_hash_table_new(g_str_hash, g_str_equal);
	for (int i = 0; i < PQntuples(names); i++)
		g_hash_table_insert(campaign_names, PQgetvalue(names, i, CAMPAIGN_ID),
				    PQgetvalue(names, i, CAMPAIGN_NAME));
	/* One current row per campaign. */
	g_assert(g_hash_table_size(campaign_names) == (guint)PQntuples(names));
	for (guint i = 0; i < r->by_campaign->len; i++) {
		report_campaign *c = &g_array_index(r->by_campaign, report_campaign, i);
		g_assert(c->name == NULL); /* named once */
		if (c->campaign_id)
			c->name = g_strdup(g_hash_table_lookup(campaign_names, c->campaign_id));
	}
}

static int compare_balances(gconstpointer a, gconstpointer b)
{
	return strcmp(((const pools_balance *)a)->pool_id, ((const pools_balance *)b)->pool_id);
}

/* Every pool now (balances, pools_read's), by pool_id bytewise, with what in-scope orders drew
 * from it (drawn, drawn_sql_*'s rows: 0 for a pool with none). */
static void take_pools(report *r, GArray *balances, const PGresult *drawn)
{
	g_assert(PQnfields(drawn) == DRAWN_COLUMNS && r->pools->len == 0);
	g_autoptr(GHashTable) drawn_by_pool = g_hash_table_new(g_str_hash, g_str_equal);
	for (int i = 0; i < PQntuples(drawn); i++)
		g_hash_table_insert(drawn_by_pool, PQgetvalue(drawn, i, DRAWN_POOL_ID), PQgetvalue(drawn, i, DRAWN_FEN));
	g_assert(g_hash_table_size(drawn_by_pool) == (guint)PQntuples(drawn)); /* GROUP BY pool_id */
	g_array_sort(balances, compare_balances);
	for (guint i = 0; i < balances->len; i++) {
		const pools_balance *b = &g_array_index(balances, pools_balance, i);
		const char *d = g_hash_table_lookup(drawn_by_pool, b->pool_id);
		report_pool p = { g_strdup(b->pool_id), g_strdup(b->name), b->amount_fen,
				  d ? g_ascii_strtoll(d, NULL, 10) : 0, b->left_fen };
		/* pool_never_below_zero: left within 0..amount. */
		g_assert(p.left_fen >= 0 && p.left_fen <= p.amount_fen);
		g_assert(i == 0 || compare_keys(g_array_index(r->pools, report_pool, i - 1).pool_id, p.pool_id) < 0);
		g_array_append_val(r->pools, p);
	}
}

/* REPORT.md's burn-down: one point per day a batch was made, by day. */
static void take_burn_down(report *r, const PGresult *burn)
{
	enum { BURN_DAY, BURN_TOTAL_FEN, BURN_DRAWN_FEN, BURN_COLUMNS }; /* burn_sql's */
	g_assert(PQnfields(burn) == BURN_COLUMNS && r->burn_down->len == 0);
	for (int i = 0; i < PQntuples(burn); i++) {
		report_point p = { 0 };
		g_strlcpy(p.date, PQgetvalue(burn, i, BURN_DAY), sizeof p.date);
		p.total_fen = num(burn, i, BURN_TOTAL_FEN);
		p.left_fen = p.total_fen - num(burn, i, BURN_DRAWN_FEN);
		/* The days only move forward, each once. */
		g_assert(i == 0 || strcmp(g_array_index(r->burn_down, report_point, i - 1).date, p.date) < 0);
		g_array_append_val(r->burn_down, p);
	}
}

report *report_compute(db *d, const char *from, const char *to, GError **error)
{
	g_return_val_if_fail(d != NULL, NULL);
	g_assert(PQtransactionStatus(db_conn(d)) == PQTRANS_IDLE);
	const char *params[] = { db_programme(d), from, to };
	PGresult *head = NULL, *orders = NULL, *paid = NULL, *names = NULL, *lines = NULL, *pools = NULL,
		 *burn = NULL;
	g_autoptr(GArray) balances = pools_new();
	/* Memory for the joins of a million orders in one report, this transaction only. */
	gboolean ok = db_begin_read(d, error) &&
		      db_exec(d, "SET LOCAL work_mem = '64MB'", error) &&
		      (head = db_query(d, head_sql, 1, params, error)) &&
		      (orders = db_query(d, orders_sql, 3, params, error)) &&
		      (paid = db_query(d, paid_sql, 3, params, error)) &&
		      (names = db_query(d, campaigns_sql, 1, params, error)) &&
		      (lines = db_query(d, lines_sql, 3, params, error)) &&
		      (pools = db_query(d, from || to ? drawn_sql_range : drawn_sql_all, 3, params, error)) &&
		      pools_read(d, params[0], balances, error) &&
		      (burn = db_query(d, burn_sql, 1, params, error));
	db_rollback(d);
	report *r = NULL;
	if (ok) {
		r = report_new();
		r->has_from = from != NULL;
		r->has_to = to != NULL;
		g_strlcpy(r->from, from ? from : "", sizeof r->from);
		g_strlcpy(r->to, to ? to : "", sizeof r->to);
		r->programme = g_strdup(db_programme(d));
		take_head(r, head, paid);
		g_autoptr(GHashTable) index = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
		take_orders(r, orders, r->by_courier, index);
		take_lines(r, lines, r->by_courier, index);
		name_campaigns(r, names);
		/* The sections of one UNION ALL come in no promised order: sorted here, bytewise. */
		g_array_sort(r->by_village, compare_villages);
		g_array_sort(r->by_campaign, compare_campaigns);
		g_array_sort(r->by_courier, compare_couriers);
		take_pools(r, balances, pools);
		take_burn_down(r, burn);
	}
	g_assert(ok == (r != NULL));
	PQclear(head);
	PQclear(orders);
	PQclear(paid);
	PQclear(names);
	PQclear(lines);
	PQclear(pools);
	PQclear(burn);
	return r;
}

/* ------------------------------------------------------------------------------------------ */
/* JSON                                                                                        */

static void key_int(json_writer *w, const char *key, int64_t value)
{
	json_key(w, key);
	json_int(w, value);
}

static void key_day(json_writer *w, const char *key, gboolean has, const char *day)
{
	json_key(w, key);
	json_string(w, has ? day : NULL);
}

/* REPORT.md's "poverty" object: a part of the whole. */
static void json_poverty(json_writer *w, const report *r)
{
	g_assert(r->poverty.orders >= 0 && r->poverty.orders <= r->orders);
	g_assert(r->poverty.villages_reached <= r->poverty.villages_total);
	json_key(w, "poverty");
	json_object_begin(w);
	key_int(w, "villages_total", r->poverty.villages_total);
	key_int(w, "villages_reached", r->poverty.villages_reached);
	key_int(w, "households_paid", r->poverty.households_paid);
	key_int(w, "orders", r->poverty.orders);
	key_int(w, "posted_fen", r->poverty.posted_fen);
	json_object_end(w);
}

/* "by_village": bytewise, each village once; every order in scope is in one village's row. */
static void json_by_village(json_writer *w, const report *r)
{
	int64_t orders = 0, posted_fen = 0;
	json_key(w, "by_village");
	json_array_begin(w);
	for (guint i = 0; i < r->by_village->len; i++) {
		const report_village *v = &g_array_index(r->by_village, report_village, i);
		g_assert(i == 0 || compare_villages(v - 1, v) < 0);
		orders += v->orders;
		posted_fen += v->posted_fen;
		json_object_begin(w);
		json_key(w, "village");
		json_string(w, v->village);
		key_int(w, "orders", v->orders);
		key_int(w, "posted_fen", v->posted_fen);
		key_int(w, "poverty_posted_fen", v->poverty_posted_fen);
		json_object_end(w);
	}
	json_array_end(w);
	g_assert(orders == r->orders && posted_fen == r->posted_fen);
}

/* "by_campaign": bytewise, NULL last, each once; every order in scope is in one campaign's row. */
static void json_by_campaign(json_writer *w, const report *r)
{
	int64_t orders = 0, posted_fen = 0;
	json_key(w, "by_campaign");
	json_array_begin(w);
	for (guint i = 0; i < r->by_campaign->len; i++) {
		const report_campaign *c = &g_array_index(r->by_campaign, report_campaign, i);
		g_assert(i == 0 || compare_campaigns(c - 1, c) < 0);
		orders += c->orders;
		posted_fen += c->posted_fen;
		json_object_begin(w);
		json_key(w, "campaign_id");
		json_string(w, c->campaign_id);
		key_int(w, "orders", c->orders);
		key_int(w, "posted_fen", c->posted_fen);
		json_object_end(w);
	}
	json_array_end(w);
	g_assert(orders == r->orders && posted_fen == r->posted_fen);
}

/* "by_courier": bytewise, NULL last, each once; the money of every order in scope is in the row
 * of its funding-key line's courier, every line in scope in its own courier's. */
static void json_by_courier(json_writer *w, const report *r)
{
	int64_t posted_fen = 0, lines = 0, outcomes = 0;
	json_key(w, "by_courier");
	json_array_begin(w);
	for (guint i = 0; i < r->by_courier->len; i++) {
		const report_courier *c = &g_array_index(r->by_courier, report_courier, i);
		g_assert(i == 0 || compare_couriers(c - 1, c) < 0);
		g_assert(c->eligible == c->outcomes[OUTCOME_ELIGIBLE]);
		posted_fen += c->posted_fen;
		lines += c->lines;
		json_object_begin(w);
		json_key(w, "courier");
		json_string(w, c->courier);
		key_int(w, "lines", c->lines);
		key_int(w, "eligible", c->eligible);
		key_int(w, "posted_fen", c->posted_fen);
		json_object_end(w);
	}
	json_array_end(w);
	for (int o = 0; o < OUTCOME_COUNT; o++)
		outcomes += r->outcomes[o];
	g_assert(posted_fen == r->posted_fen && lines == outcomes);
}

/* "pools": bytewise, each once, what is left within 0..amount. */
static void json_pools(json_writer *w, const report *r)
{
	json_key(w, "pools");
	json_array_begin(w);
	for (guint i = 0; i < r->pools->len; i++) {
		const report_pool *p = &g_array_index(r->pools, report_pool, i);
		g_assert(i == 0 || compare_keys(p[-1].pool_id, p->pool_id) < 0);
		g_assert(p->left_fen >= 0 && p->left_fen <= p->amount_fen);
		json_object_begin(w);
		json_key(w, "pool_id");
		json_string(w, p->pool_id);
		key_int(w, "amount_fen", p->amount_fen);
		key_int(w, "drawn_fen", p->drawn_fen);
		key_int(w, "left_fen", p->left_fen);
		json_object_end(w);
	}
	json_array_end(w);
}

/* "burn_down": one point a day, the days in order. */
static void json_burn_down(json_writer *w, const report *r)
{
	json_key(w, "burn_down");
	json_array_begin(w);
	for (guint i = 0; i < r->burn_down->len; i++) {
		const report_point *p = &g_array_index(r->burn_down, report_point, i);
		g_assert(i == 0 || strcmp(p[-1].date, p->date) < 0);
		g_assert(strlen(p->date) == CHRONO_DAY_TEXT_MAX - 1);
		json_object_begin(w);
		json_key(w, "date");
		json_string(w, p->date);
		key_int(w, "left_fen", p->left_fen);
		json_object_end(w);
	}
	json_array_end(w);
}

char *report_json(const report *r)
{
	g_assert(r != NULL);
	json_writer w;
	json_init(&w);
	json_object_begin(&w);
	key_day(&w, "from", r->has_from, r->from);
	key_day(&w, "to", r->has_to, r->to);
	key_int(&w, "orders", r->orders);
	key_int(&w, "shops_paid", r->shops_paid);
	key_int(&w, "posted_fen", r->posted_fen);
	key_int(&w, "paid_fen", r->paid_fen);
	key_int(&w, "unfunded_fen", r->unfunded_fen);
	json_poverty(&w, r);
	json_by_village(&w, r);
	json_by_campaign(&w, r);
	json_by_courier(&w, r);
	json_pools(&w, r);
	json_burn_down(&w, r);
	json_key(&w, "outcomes");
	json_object_begin(&w);
	for (int o = 0; o < OUTCOME_COUNT; o++) {
		g_assert(r->outcomes[o] >= 0);
		key_int(&w, policy_outcome_name(o), r->outcomes[o]);
	}
	json_object_end(&w);
	json_object_end(&w);
	return json_finish(&w);
}

/* ------------------------------------------------------------------------------------------ */
/* The page as a file                                                                          */

gboolean report_write_html(const report *r, const char *path, GError **error)
{
	g_assert(r && path);
	g_autofree char *page = report_html(r);
	g_assert(page != NULL);
	return outfile_write(path, page, strlen(page), error);
}
