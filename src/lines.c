/* lines.c: a stored file's lines, read back for a person; see lines.h. */
#include "lines.h"

#include "money.h"

#include <string.h>

/* Lines fetched from the cursor at a time. */
#define LINES_FETCH 5000

const char *const lines_column_names[LINES_COLUMNS] = {
	[LINES_LINE] = "line",
	[LINES_COURIER] = "courier",
	[LINES_WAYBILL_NO] = "waybill_no",
	[LINES_ORDER_NO] = "order_no",
	[LINES_PICKUP_TIME] = "pickup_time",
	[LINES_SENDER_CODE] = "sender_code",
	[LINES_SENDER_PHONE] = "sender_phone",
	[LINES_WEIGHT_KG] = "weight_kg",
	[LINES_FEE] = "fee",
	[LINES_CATEGORY] = "category",
	[LINES_DESTINATION] = "destination",
	[LINES_OUTCOME] = "outcome",
	[LINES_REASON] = "reason",
};

/* The columns of a file's record, by name. */
enum { FILE_NAME, FILE_PROFILE, FILE_LINES, FILE_INGESTED_AT, FILE_COLUMNS };

gboolean lines_file_read(db *d, int64_t file_id, lines_file *out, gboolean *found, GError **error)
{
	g_assert(file_id > 0);
	g_assert(out->name == NULL && found != NULL);
	char id[24];
	g_snprintf(id, sizeof id, "%" G_GINT64_FORMAT, (gint64)file_id);
	const char *params[] = { db_programme(d), id };
	PGresult *res = db_query(d,
				 "SELECT name, profile, lines, to_char(ingested_at, 'YYYY-MM-DD HH24:MI:SS')"
				 " FROM files WHERE programme = $1 AND file_id = $2::bigint",
				 2, params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == FILE_COLUMNS);
	g_assert(PQntuples(res) <= 1); /* file_id is the key */
	*found = PQntuples(res) == 1;
	if (*found) {
		out->name = g_strdup(PQgetvalue(res, 0, FILE_NAME));
		out->profile = g_strdup(PQgetvalue(res, 0, FILE_PROFILE));
		out->lines = g_ascii_strtoll(PQgetvalue(res, 0, FILE_LINES), NULL, 10);
		out->ingested_at = g_strdup(PQgetvalue(res, 0, FILE_INGESTED_AT));
		g_assert(out->lines >= 0);
	}
	PQclear(res);
	return TRUE;
}

void lines_file_clear(lines_file *f)
{
	g_free(f->name);
	g_free(f->profile);
	g_free(f->ingested_at);
	memset(f, 0, sizeof *f);
}

/* The pickup as a person reads it: a date when the statement gave only a date. */
#define PICKUP_SHOWN                                                                                  \
	"CASE WHEN pickup_date_only THEN to_char(pickup_time, 'YYYY-MM-DD')"                          \
	" ELSE to_char(pickup_time, 'YYYY-MM-DD HH24:MI:SS') END"

gboolean lines_each(db *d, int64_t file_id, const char *outcome, int64_t limit, lines_row_fn fn,
		    gpointer user_data, GError **error)
{
	char id[24], lim[24];
	g_snprintf(id, sizeof id, "%" G_GINT64_FORMAT, (gint64)file_id);
	g_snprintf(lim, sizeof lim, "%" G_GINT64_FORMAT, (gint64)(limit > 0 ? limit : G_MAXINT64));
	const char *params[] = { db_programme(d), id, outcome, lim };
	PGresult *res = db_query(d,
				 "DECLARE subsidy_lines NO SCROLL CURSOR FOR"
				 " SELECT line_no, courier, waybill_no, order_no, " PICKUP_SHOWN ", sender_code,"
				 " sender_phone, weight_kg, fee_fen, category, destination, outcome, reason"
				 " FROM lines WHERE programme = $1 AND file_id = $2::bigint"
				 " AND ($3::text IS NULL OR outcome = $3) ORDER BY line_no LIMIT $4::bigint",
				 4, params, error);
	if (!res)
		return FALSE;
	PQclear(res);
	gboolean ok = TRUE;
	for (int n = LINES_FETCH; ok && n == LINES_FETCH;) {
		res = db_query(d, "FETCH " G_STRINGIFY(LINES_FETCH) " FROM subsidy_lines", 0, NULL, error);
		if (!res)
			return FALSE;
		g_assert(PQnfields(res) == LINES_COLUMNS);
		n = PQntuples(res);
		for (int i = 0; ok && i < n; i++) {
			const char *values[LINES_COLUMNS];
			char fee[MONEY_TEXT_MAX];
			for (int c = 0; c < LINES_COLUMNS; c++)
				values[c] = PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
			if (values[LINES_FEE])
				values[LINES_FEE] = money_format(g_ascii_strtoll(values[LINES_FEE], NULL, 10), fee);
			ok = fn(values, user_data, error);
		}
		PQclear(res);
	}
	return db_exec(d, "CLOSE subsidy_lines", ok ? error : NULL) && ok;
}

void lines_reason_free(lines_reason *r)
{
	if (!r)
		return;
	g_free(r->outcome);
	g_free(r->reason);
	g_free(r);
}

GPtrArray *lines_top_reasons(db *d, int64_t file_id, guint per_outcome, GError **error)
{
	char id[24], top[16];
	g_snprintf(id, sizeof id, "%" G_GINT64_FORMAT, (gint64)file_id);
	g_snprintf(top, sizeof top, "%u", per_outcome);
	const char *params[] = { db_programme(d), id, top };
	enum { REASON_OUTCOME, REASON_LINES, REASON_FIRST_LINE, REASON_TEXT, REASON_COLUMNS };
	/* A kind of reason: the reason with what it quotes and the places it names (file:line) taken
	 * out, so that 500 lines whose pickup does not match the format are one kind. */
	PGresult *res = db_query(d,
				 "WITH k AS (SELECT outcome, regexp_replace(regexp_replace(reason, '''[^'']*''', '''''', 'g'),"
				 "   '[^ ;]+:[0-9]+', '', 'g') AS kind, count(*) AS n, min(line_no) AS first"
				 "  FROM lines WHERE programme = $1 AND file_id = $2::bigint AND outcome <> 'ELIGIBLE'"
				 "  GROUP BY 1, 2),"
				 " r AS (SELECT *, row_number() OVER (PARTITION BY outcome ORDER BY n DESC, first) AS rank FROM k)"
				 " SELECT r.outcome, r.n, r.first, l.reason FROM r"
				 " JOIN lines l ON l.file_id = $2::bigint AND l.line_no = r.first"
				 " WHERE r.rank <= $3::int ORDER BY r.outcome, r.rank",
				 3, params, error);
	if (!res)
		return NULL;
	g_assert(PQnfields(res) == REASON_COLUMNS);
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)lines_reason_free);
	for (int i = 0; i < PQntuples(res); i++) {
		lines_reason *r = g_new0(lines_reason, 1);
		r->outcome = g_strdup(PQgetvalue(res, i, REASON_OUTCOME));
		r->lines = g_ascii_strtoll(PQgetvalue(res, i, REASON_LINES), NULL, 10);
		r->first_line = g_ascii_strtoll(PQgetvalue(res, i, REASON_FIRST_LINE), NULL, 10);
		r->reason = g_strdup(PQgetvalue(res, i, REASON_TEXT));
		g_assert(r->lines >= 1 && r->first_line >= 1); /* a kind counts its lines, from the first */
		g_ptr_array_add(out, r);
	}
	PQclear(res);
	return out;
}
