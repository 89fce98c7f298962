/* why.c: the read model of `subsidy why`; see why.h. */
#include "why.h"

#include "order.h"
#include "status.h"

#include <string.h>

G_DEFINE_QUARK(subsidy-why-error-quark, why_error)

/* The waybill's order ($1 the programme, $2 the waybill): that of its first line that counts now
 * (lines_counted: acts applied), else, when none counts any more (its file withdrawn), that of its
 * first line stored ELIGIBLE. */
#define ORDER_OF                                                                                              \
	"WITH o AS (SELECT shop_id, order_key FROM (SELECT shop_id, order_key, file_id, line_no, 0 AS pref"   \
	" FROM lines_counted() WHERE programme = $1 AND waybill_no = $2 UNION ALL SELECT shop_id, order_key," \
	" file_id, line_no, 1 FROM lines WHERE programme = $1 AND waybill_no = $2 AND outcome = 'ELIGIBLE') x" \
	" ORDER BY pref, file_id, line_no LIMIT 1)"

/* The columns of each query, by name. */
enum {
	LINE_FILE,
	LINE_NO,
	LINE_COURIER,
	LINE_OUTCOME,
	LINE_REASON,
	LINE_PICKUP,
	LINE_FEE,
	LINE_ACT,
	LINE_COLUMNS
};
enum { ORDER_SHOP_ID, ORDER_NO, ORDER_FEES, ORDER_ENTITLEMENT, ORDER_POSTED, ORDER_LINES, ORDER_COLUMNS };
enum {
	POSTING_BATCH,
	POSTING_SEQ,
	POSTING_STATUS,
	POSTING_FUNDED,
	POSTING_ENTITLEMENT,
	POSTING_UNFUNDED,
	POSTING_RULE,
	POSTING_RATE_BP,
	POSTING_CORRECTION,
	POSTING_COLUMNS
};

/* An integer column that is never NULL. */
static int64_t int_at(const PGresult *res, int row, int column)
{
	g_assert(row < PQntuples(res) && column < PQnfields(res));
	g_assert(!PQgetisnull(res, row, column));
	return g_ascii_strtoll(PQgetvalue(res, row, column), NULL, 10);
}

/* A text column; NULL stays NULL. */
static char *text_at(const PGresult *res, int row, int column)
{
	g_assert(row < PQntuples(res) && column < PQnfields(res));
	return PQgetisnull(res, row, column) ? NULL : g_strdup(PQgetvalue(res, row, column));
}

static void line_clear(gpointer p)
{
	why_line *l = p;
	g_free(l->file);
	g_free(l->courier);
	g_free(l->outcome);
	g_free(l->reason);
	g_free(l->pickup);
	g_free(l->act);
}

static void posting_clear(gpointer p)
{
	why_posting *s = p;
	g_free(s->status);
	g_free(s->rule);
	g_free(s->correction);
}

/* Every line that carried the waybill, with the act that touched it (CONTROL.md). */
static gboolean read_lines(db *d, const char *const *params, GArray *lines, GError **error)
{
	g_assert(lines->len == 0);
	PGresult *res = db_query(d,
				 "SELECT f.name, l.line_no, l.courier, l.outcome, coalesce(l.reason, ''),"
				 " coalesce(CASE WHEN d.pickup_date_only THEN l.pickup_time::date::text ELSE l.pickup_time::text END, ''),"
				 " l.fee_fen,"
				 " CASE WHEN a.act_seq IS NULL THEN '' ELSE format('%s%s%s: %s (by %s as %s, %s)', a.kind,"
				 "  a.act_no, CASE WHEN a.kind = 'W' THEN ' withdrew its file' WHEN l.live THEN ' holds the claim'"
				 "  ELSE ' the claim went to another line' END, a.reason, a.os_user, a.db_role,"
				 "  to_char(a.recorded_at, 'YYYY-MM-DD HH24:MI:SS')) END"
				 " FROM lines_now() l JOIN lines d ON d.file_id = l.file_id AND d.line_no = l.line_no"
				 " JOIN files f ON f.file_id = l.file_id"
				 " LEFT JOIN acts a ON a.programme = l.programme AND a.act_seq = l.act_seq"
				 " WHERE l.programme = $1 AND l.waybill_no = $2"
				 " ORDER BY l.file_id, l.line_no",
				 2, params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == LINE_COLUMNS);
	for (int i = 0; i < PQntuples(res); i++) {
		why_line l = { 0 };
		l.file = text_at(res, i, LINE_FILE);
		l.line_no = int_at(res, i, LINE_NO);
		l.courier = text_at(res, i, LINE_COURIER);
		l.outcome = text_at(res, i, LINE_OUTCOME);
		l.reason = text_at(res, i, LINE_REASON);
		l.pickup = text_at(res, i, LINE_PICKUP);
		l.has_fee = !PQgetisnull(res, i, LINE_FEE);
		l.fee_fen = l.has_fee ? int_at(res, i, LINE_FEE) : 0;
		l.act = text_at(res, i, LINE_ACT);
		g_assert(l.file && l.outcome && l.reason && l.pickup && l.act);
		g_array_append_val(lines, l);
	}
	g_assert(lines->len == (guint)PQntuples(res));
	PQclear(res);
	return TRUE;
}

/* The order's fee (order_fee_sum) from its lines' fees as a comma-separated list; FALSE when the
 * list does not read or the sum does not fit 64 bits. */
static gboolean order_fee_of(const char *fees, int64_t *fee_fen)
{
	g_assert(fees != NULL);
	g_auto(GStrv) items = g_strsplit(fees, ",", -1);
	guint n = g_strv_length(items);
	if (n == 0)
		return FALSE;
	g_autofree order_line *lines = g_new0(order_line, n);
	for (guint i = 0; i < n; i++)
		if (!g_ascii_string_to_signed(items[i], 10, 0, INT64_MAX, &lines[i].fee_fen, NULL))
			return FALSE;
	if (!order_fee_sum(lines, n, fee_fen))
		return FALSE;
	g_assert(*fee_fen >= 0); /* a sum of fees of 0 or more */
	return TRUE;
}

/* The waybill's order, when it has one (*has), with what the ledger holds of it. */
static gboolean read_order(db *d, const char *const *params, why_order *o, gboolean *has, GError **error)
{
	g_assert(!*has && o->shop_id == NULL);
	PGresult *res = db_query(d,
				 ORDER_OF " SELECT o.shop_id, min(l.order_no), coalesce(string_agg(l.fee_fen::text, ','), '0'),"
				 " (SELECT entitlement_fen FROM orders r WHERE r.programme = $1 AND r.shop_id = o.shop_id"
				 "   AND r.order_key = o.order_key),"
				 " (SELECT coalesce(sum(funded_fen), 0) FROM postings p WHERE p.programme = $1"
				 "   AND p.shop_id = o.shop_id AND p.order_key = o.order_key), count(l.line_no)"
				 /* The lines that count now: a withdrawn or moved line no longer does. */
				 " FROM o LEFT JOIN lines_counted() l ON l.programme = $1 AND l.shop_id = o.shop_id"
				 "  AND l.order_key = o.order_key"
				 " GROUP BY o.shop_id, o.order_key",
				 2, params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == ORDER_COLUMNS);
	g_assert(PQntuples(res) <= 1); /* LIMIT 1 */
	*has = PQntuples(res) == 1;
	gboolean ok = TRUE;
	if (*has) {
		o->shop_id = text_at(res, 0, ORDER_SHOP_ID);
		o->order_no = text_at(res, 0, ORDER_NO);
		o->settled = !PQgetisnull(res, 0, ORDER_ENTITLEMENT);
		o->entitlement_fen = o->settled ? int_at(res, 0, ORDER_ENTITLEMENT) : 0;
		o->posted_fen = int_at(res, 0, ORDER_POSTED);
		o->lines = int_at(res, 0, ORDER_LINES);
		ok = order_fee_of(PQgetvalue(res, 0, ORDER_FEES), &o->fee_fen);
		if (!ok)
			g_set_error(error, WHY_ERROR, STATUS_SOFTWARE,
				    "cannot add up the fees of the order of waybill '%s': beyond 64-bit arithmetic",
				    params[1]);
	}
	PQclear(res);
	return ok;
}

/* Every posting of the waybill's order, by batch and seq. */
static gboolean read_postings(db *d, const char *const *params, GArray *postings, GError **error)
{
	g_assert(postings->len == 0);
	PGresult *res = db_query(d,
				 ORDER_OF " SELECT p.batch_id, p.seq, p.status, p.funded_fen, p.entitlement_fen,"
				 " p.unfunded_fen, p.rule, p.rate_bp, coalesce(' ' || p.correction, '') FROM o JOIN postings p"
				 " ON p.programme = $1 AND p.shop_id = o.shop_id AND p.order_key = o.order_key"
				 " ORDER BY p.batch_id, p.seq",
				 2, params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == POSTING_COLUMNS);
	for (int i = 0; i < PQntuples(res); i++) {
		why_posting s = { 0 };
		s.batch_id = (int)int_at(res, i, POSTING_BATCH);
		s.seq = (int)int_at(res, i, POSTING_SEQ);
		s.status = text_at(res, i, POSTING_STATUS);
		s.funded_fen = int_at(res, i, POSTING_FUNDED);
		s.entitlement_fen = int_at(res, i, POSTING_ENTITLEMENT);
		s.unfunded_fen = int_at(res, i, POSTING_UNFUNDED);
		s.rule = text_at(res, i, POSTING_RULE);
		s.rate_bp = (int)int_at(res, i, POSTING_RATE_BP);
		s.correction = text_at(res, i, POSTING_CORRECTION);
		g_assert(s.status && s.rule && s.correction && s.seq >= 1);
		g_array_append_val(postings, s);
	}
	PQclear(res);
	return TRUE;
}

gboolean why_read(db *d, const char *waybill, why_report *out, GError **error)
{
	g_assert(waybill != NULL && *waybill);
	g_assert(out->lines == NULL && !out->has_order);
	out->lines = g_array_new(FALSE, TRUE, sizeof(why_line));
	g_array_set_clear_func(out->lines, line_clear);
	out->order.postings = g_array_new(FALSE, TRUE, sizeof(why_posting));
	g_array_set_clear_func(out->order.postings, posting_clear);
	const char *params[] = { db_programme(d), waybill };
	gboolean ok = db_begin_read(d, error) && read_lines(d, params, out->lines, error) &&
		      read_order(d, params, &out->order, &out->has_order, error) &&
		      (!out->has_order || read_postings(d, params, out->order.postings, error));
	db_rollback(d);
	g_assert(ok || !error || *error);
	return ok;
}

void why_report_clear(why_report *r)
{
	if (r->lines)
		g_array_free(r->lines, TRUE);
	if (r->order.postings)
		g_array_free(r->order.postings, TRUE);
	g_free(r->order.shop_id);
	g_free(r->order.order_no);
	memset(r, 0, sizeof *r);
}
