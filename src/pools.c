/* pools.c: the pools in force and what is left of them; see pools.h. */
#include "pools.h"

#include "policy.h"

#include <string.h>

/* The columns of the query, by name. */
enum {
	POOL_ID,
	POOL_NAME,
	POOL_VALID_FROM,
	POOL_VALID_TO,
	POOL_PRIORITY,
	POOL_AMOUNT,
	POOL_LEFT,
	POOL_COLUMNS
};

/* COLLATE "C" compares bytes, as fund_pools_sort's strcmp does. */
static const char pools_sql[] =
	"SELECT p.pool_id, p.name, p.valid_from, p.valid_to, p.priority, b.amount_fen, b.amount_fen - b.drawn_fen"
	" FROM pools p JOIN pool_balances b ON b.programme = p.programme AND b.pool_id = p.pool_id"
	" WHERE p.programme = $1 AND p.superseded_at IS NULL ORDER BY p.priority, p.pool_id COLLATE \"C\"";

static void balance_clear(gpointer p)
{
	pools_balance *b = p;
	g_free(b->pool_id);
	g_free(b->name);
}

GArray *pools_new(void)
{
	GArray *a = g_array_new(FALSE, TRUE, sizeof(pools_balance));
	g_array_set_clear_func(a, balance_clear);
	return a;
}

/* An integer column that is never NULL. */
static int64_t int_at(const PGresult *res, int row, int column)
{
	g_assert(row < PQntuples(res) && column < PQnfields(res));
	g_assert(!PQgetisnull(res, row, column));
	return g_ascii_strtoll(PQgetvalue(res, row, column), NULL, 10);
}

/* A date column as the database prints it (ISO, db.h's DateStyle); NULL is open. */
static chrono_day day_at(const PGresult *res, int row, int column)
{
	if (PQgetisnull(res, row, column))
		return POLICY_OPEN_END;
	chrono_day day = 0;
	gboolean ok = chrono_parse_day(PQgetvalue(res, row, column), &day, NULL);
	g_assert(ok);
	return day;
}

/* Does a draw from a before b, as fund_pools_sort orders them? */
static gboolean draws_before(const pools_balance *a, const pools_balance *b)
{
	if (a->priority != b->priority)
		return a->priority < b->priority;
	return strcmp(a->pool_id, b->pool_id) < 0; /* pool_ids are unique */
}

gboolean pools_read(db *d, const char *programme, GArray *out, GError **error)
{
	g_assert(d != NULL && programme != NULL && out->len == 0);
	const char *params[] = { programme };
	PGresult *res = db_query(d, pools_sql, 1, params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == POOL_COLUMNS);
	for (int i = 0; i < PQntuples(res); i++) {
		pools_balance b = { 0 };
		b.pool_id = g_strdup(PQgetvalue(res, i, POOL_ID));
		b.name = g_strdup(PQgetvalue(res, i, POOL_NAME));
		b.valid_from = day_at(res, i, POOL_VALID_FROM);
		b.valid_to = day_at(res, i, POOL_VALID_TO);
		b.priority = (int)int_at(res, i, POOL_PRIORITY);
		b.amount_fen = int_at(res, i, POOL_AMOUNT);
		b.left_fen = int_at(res, i, POOL_LEFT);
		g_assert(!PQgetisnull(res, i, POOL_VALID_FROM) && b.valid_from <= b.valid_to);
		/* pool_never_below_zero and drawn_fen >= 0: left within 0..amount. */
		g_assert(b.left_fen >= 0 && b.left_fen <= b.amount_fen);
		g_assert(out->len == 0 || draws_before(&g_array_index(out, pools_balance, out->len - 1), &b));
		g_array_append_val(out, b);
	}
	g_assert(out->len == (guint)PQntuples(res));
	PQclear(res);
	return TRUE;
}
