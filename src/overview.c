/* overview.c: the programme at a glance; see overview.h. */
#include "overview.h"

#include "pools.h"

#include <stdlib.h>
#include <string.h>

/* The columns of each query, by name. */
enum { OUTCOME_NAME, OUTCOME_LINES, OUTCOME_COLUMNS };
enum {
	TOTAL_POSTED,
	TOTAL_UNFUNDED,
	TOTAL_PAID,
	TOTAL_LAST_BATCH,
	TOTAL_LAST_MADE,
	TOTAL_OPEN_CONFLICTS,
	TOTAL_WITHDRAWALS,
	TOTAL_RESOLUTIONS,
	TOTAL_RECLASSIFICATIONS,
	TOTAL_ACTS_NOT_SETTLED,
	TOTAL_UNAPPROVED,
	TOTAL_COLUMNS
};
enum { REISSUED_FEN, REISSUED_SHOPS, REISSUED_COLUMNS };

/* An integer column that is never NULL. */
static int64_t int_at(const PGresult *res, int row, int column)
{
	g_assert(row < PQntuples(res) && column < PQnfields(res));
	g_assert(!PQgetisnull(res, row, column));
	return g_ascii_strtoll(PQgetvalue(res, row, column), NULL, 10);
}

static void pool_clear(gpointer p)
{
	overview_pool *pool = p;
	g_free(pool->pool_id);
	g_free(pool->name);
}

/* The pools in force, with what is left of them, in funding order (pools_read). */
static gboolean read_pools(db *d, const char *const *params, GArray *pools, GError **error)
{
	g_assert(pools->len == 0);
	g_autoptr(GArray) read = pools_new();
	if (!pools_read(d, params[0], read, error))
		return FALSE;
	for (guint i = 0; i < read->len; i++) {
		const pools_balance *b = &g_array_index(read, pools_balance, i);
		overview_pool p = { g_strdup(b->pool_id), g_strdup(b->name), b->amount_fen, b->left_fen };
		g_assert(p.left_fen >= 0 && p.left_fen <= p.amount_fen); /* pool_never_below_zero, drawn_fen >= 0 */
		g_array_append_val(pools, p);
	}
	g_assert(pools->len == read->len);
	return TRUE;
}

/* The lines stored with each outcome. */
static gboolean read_outcomes(db *d, const char *const *params, int64_t counts[OUTCOME_COUNT], GError **error)
{
	PGresult *res = db_query(d, "SELECT outcome, count(*) FROM lines WHERE programme = $1 GROUP BY outcome", 1,
				 params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == OUTCOME_COLUMNS);
	g_assert(PQntuples(res) <= OUTCOME_COUNT);
	for (int i = 0; i < PQntuples(res); i++) {
		policy_outcome o;
		gboolean known = policy_outcome_parse(PQgetvalue(res, i, OUTCOME_NAME), &o);
		g_assert(known); /* the table's CHECK names the outcomes of policy.h */
		g_assert(counts[o] == 0); /* GROUP BY outcome: once each */
		counts[o] = int_at(res, i, OUTCOME_LINES);
	}
	PQclear(res);
	return TRUE;
}

/* Batches no one of finance approved yet (CONTROL.md "Approve a batch"), from "1,2,3". */
static void unapproved_of(const char *list, GArray *out)
{
	g_auto(GStrv) items = g_strsplit(list, ",", -1);
	for (char **u = items; *u && **u; u++) {
		int batch = atoi(*u);
		g_assert(batch > 0);
		g_assert(out->len == 0 || batch > g_array_index(out, int, out->len - 1)); /* ascending */
		g_array_append_val(out, batch);
	}
}

/* What was posted, owed and paid, the last batch, the corrections, the batches not approved. */
#define TOTALS_SQL                                                                                         \
	"SELECT (SELECT coalesce(sum(posted_fen), 0) FROM batches WHERE programme = $1),"                   \
	" (SELECT coalesce(sum(unfunded_fen), 0) FROM orders WHERE programme = $1"                          \
	"  AND unfunded_fen > 0),"                                                                          \
	" (SELECT coalesce(sum(amount_fen), 0) FROM payments WHERE programme = $1 AND status = 'PAID'),"    \
	" (SELECT max(batch_id) FROM batches WHERE programme = $1),"                                        \
	" (SELECT max(created_at)::text FROM batches WHERE programme = $1),"                                \
	/* CONTROL.md: conflicts no resolution since their file closed, and the acts. */                    \
	" (SELECT count(*) FROM lines_now() n JOIN files f USING (file_id) WHERE n.programme = $1"          \
	"  AND n.outcome = 'CONFLICT' AND n.live AND NOT EXISTS (SELECT 1 FROM acts a"                      \
	"  WHERE a.programme = $1 AND a.kind = 'R' AND a.courier = n.courier"                               \
	"  AND a.waybill_no = n.waybill_no AND a.recorded_at >= f.ingested_at)),"                           \
	" a.withdrawals, a.resolutions, a.reclassifications, a.not_settled,"                                \
	" (SELECT coalesce(string_agg(b.batch_id::text, ',' ORDER BY b.batch_id), '')"                     \
	"  FROM batches b WHERE b.programme = $1 AND NOT EXISTS (SELECT 1 FROM approvals a"                 \
	"  WHERE a.programme = b.programme AND a.batch_id = b.batch_id))"                                   \
	" FROM (SELECT count(*) FILTER (WHERE kind = 'W') AS withdrawals,"                                  \
	"  count(*) FILTER (WHERE kind = 'R') AS resolutions, count(*) FILTER (WHERE kind = 'C')"           \
	"  AS reclassifications, count(*) FILTER (WHERE act_seq > coalesce((SELECT acts_seen"                \
	"  FROM settle_marks m WHERE m.programme = $1), 0)) AS not_settled FROM acts WHERE programme = $1) a"

static gboolean read_totals(db *d, const char *const *params, overview *o, GError **error)
{
	PGresult *res = db_query(d, TOTALS_SQL, 1, params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == TOTAL_COLUMNS);
	g_assert(PQntuples(res) == 1);
	o->posted_fen = int_at(res, 0, TOTAL_POSTED);
	o->unfunded_fen = int_at(res, 0, TOTAL_UNFUNDED);
	o->paid_fen = int_at(res, 0, TOTAL_PAID);
	o->has_batch = !PQgetisnull(res, 0, TOTAL_LAST_BATCH);
	o->last_batch = o->has_batch ? (int)int_at(res, 0, TOTAL_LAST_BATCH) : 0;
	o->last_batch_made = o->has_batch ? g_strdup(PQgetvalue(res, 0, TOTAL_LAST_MADE)) : NULL;
	o->open_conflicts = int_at(res, 0, TOTAL_OPEN_CONFLICTS);
	o->withdrawals = int_at(res, 0, TOTAL_WITHDRAWALS);
	o->resolutions = int_at(res, 0, TOTAL_RESOLUTIONS);
	o->reclassifications = int_at(res, 0, TOTAL_RECLASSIFICATIONS);
	o->acts_not_settled = int_at(res, 0, TOTAL_ACTS_NOT_SETTLED);
	unapproved_of(PQgetvalue(res, 0, TOTAL_UNAPPROVED), o->unapproved);
	PQclear(res);
	g_assert(o->unapproved->len == 0 || o->has_batch);
	g_assert(o->acts_not_settled <= o->withdrawals + o->resolutions + o->reclassifications);
	return TRUE;
}

gboolean overview_read(db *d, overview *out, GError **error)
{
	g_assert(out->pools == NULL && out->unapproved == NULL);
	out->pools = g_array_new(FALSE, TRUE, sizeof(overview_pool));
	g_array_set_clear_func(out->pools, pool_clear);
	out->unapproved = g_array_new(FALSE, TRUE, sizeof(int));
	const char *params[] = { db_programme(d) };
	gboolean ok = db_begin_read(d, error) && read_pools(d, params, out->pools, error) &&
		      read_outcomes(d, params, out->outcomes, error) && read_totals(d, params, out, error);
	db_rollback(d);
	g_assert(ok || !error || *error);
	return ok;
}

void overview_clear(overview *o)
{
	if (o->pools)
		g_array_free(o->pools, TRUE);
	if (o->unapproved)
		g_array_free(o->unapproved, TRUE);
	g_free(o->last_batch_made);
	memset(o, 0, sizeof *o);
}

gboolean overview_reissued(db *d, int batch_id, int64_t *fen, int *shops, GError **error)
{
	g_assert(batch_id >= 0);
	*fen = 0;
	*shops = 0;
	if (!batch_id)
		return TRUE;
	char batch_text[16];
	g_snprintf(batch_text, sizeof batch_text, "%d", batch_id);
	const char *params[] = { db_programme(d), batch_text };
	PGresult *res = db_query(d,
				 "SELECT coalesce(sum(carried_fen), 0), count(*) FROM batch_shops"
				 " WHERE programme = $1 AND batch_id = $2::int AND carried_fen > 0",
				 2, params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == REISSUED_COLUMNS);
	g_assert(PQntuples(res) == 1);
	*fen = int_at(res, 0, REISSUED_FEN);
	*shops = (int)int_at(res, 0, REISSUED_SHOPS);
	PQclear(res);
	g_assert(*fen >= 0 && (*shops > 0 || *fen == 0));
	return TRUE;
}
