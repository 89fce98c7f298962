/* acts.c: the correction acts; see acts.h and CONTROL.md. Each command is one transaction under
 * the settlement lock: the act row, then what it does to lines and claims, set-wise. */
#include "acts.h"

#include "chrono.h"
#include "fault.h"
#include "ident.h"
#include "order.h"
#include "policy.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTS_ERROR acts_error_quark()
G_DEFINE_QUARK(subsidy-acts-error-quark, acts_error)

void acts_result_clear(acts_result *r)
{
	g_free(r->ref);
	g_free(r->note);
	memset(r, 0, sizeof *r);
}

static gboolean exec_params(db *d, const char *sql, int n, const char *const *params, int64_t *rows,
			    GError **error)
{
	PGresult *res = db_query(d, sql, n, params, error);
	if (!res)
		return FALSE;
	if (rows)
		*rows = g_ascii_strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return TRUE;
}

static gboolean reason_ok(const char *reason, GError **error)
{
	g_autofree char *trimmed = g_strstrip(g_strdup(reason ? reason : ""));
	if (!g_utf8_validate(trimmed, -1, NULL) || g_utf8_strlen(trimmed, -1) < ACTS_REASON_MIN_CHARS) {
		g_set_error(error, ACTS_ERROR, STATUS_USAGE,
			    "reason refused: --reason must say why in at least %d characters", ACTS_REASON_MIN_CHARS);
		return FALSE;
	}
	return TRUE;
}

/* Appends the act; *seq gets its place in the chain, out->ref its reference. Params after the
 * kind: file_id, courier, waybill_no, take_file_id, take_line_no, from_day, to_day (NULL: none). */
static gboolean record_act(db *d, const char *kind, const char *os_user, const char *reason,
			   const char *const fields[7], char **seq, acts_result *out, GError **error)
{
	enum { ACT_SEQ, ACT_REF, ACT_COLUMNS };
	const char *params[] = { db_programme(d), kind, os_user, reason, fields[0], fields[1], fields[2],
				 fields[3], fields[4], fields[5], fields[6] };
	PGresult *res = db_query(
		d,
		"WITH h AS (SELECT coalesce(max(act_seq), 0) + 1 AS act_seq, coalesce((SELECT digest FROM acts"
		"  WHERE programme = $1 ORDER BY act_seq DESC LIMIT 1), repeat('0', 64)) AS prev_digest"
		"  FROM acts WHERE programme = $1),"
		" r AS (SELECT $1::text AS programme, h.act_seq, $2::text AS kind, (SELECT coalesce(max(act_no), 0) + 1"
		"  FROM acts WHERE programme = $1 AND kind = $2) AS act_no, now() AS recorded_at, $3::text AS os_user,"
		"  current_user::text AS db_role, session_user::text AS session_role, btrim($4::text) AS reason,"
		"  $5::bigint AS file_id, $6::text AS courier, $7::text AS waybill_no, $8::bigint AS take_file_id,"
		"  $9::int AS take_line_no, $10::date AS from_day, $11::date AS to_day, h.prev_digest FROM h)"
		" INSERT INTO acts (programme, act_seq, kind, act_no, recorded_at, os_user, db_role, session_role, reason,"
		"  file_id, courier, waybill_no, take_file_id, take_line_no, from_day, to_day, prev_digest, digest)"
		" SELECT r.*, " ACTS_DIGEST " FROM r RETURNING act_seq, kind || act_no",
		G_N_ELEMENTS(params), params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == ACT_COLUMNS);
	g_assert(PQntuples(res) == 1);
	*seq = g_strdup(PQgetvalue(res, 0, ACT_SEQ));
	out->ref = g_strdup(PQgetvalue(res, 0, ACT_REF));
	PQclear(res);
	return TRUE;
}

/* The state every line of a set has now, as SQL selecting (file_id, line_no, outcome, reason,
 * shop_id, campaign_id, order_key, live) from lines_now(); counted: it counts toward its order. */
#define NOW_COLUMNS "n.file_id, n.line_no, n.outcome, n.reason, n.shop_id, n.campaign_id, n.order_key"
#define WAS_ORDER                                                                                                 \
	"CASE WHEN n.live AND n.outcome = 'ELIGIBLE' THEN n.shop_id END,"                                          \
	" CASE WHEN n.live AND n.outcome = 'ELIGIBLE' THEN n.order_key END"

static gboolean finish(db *d, const char *point, GError **error)
{
	fault_point(point);
	return db_commit(d, error);
}

/* ------------------------------------------------------------------------------------------ */

gboolean acts_withdraw(db *d, const char *os_user, const char *file, const char *reason, acts_result *out,
		       GError **error)
{
	memset(out, 0, sizeof *out);
	if (!reason_ok(reason, error))
		return FALSE;
	g_autofree char *key = g_ascii_strdown(file, -1);
	const char *p2[] = { db_programme(d), key };
	g_autofree char *file_id = NULL, *seq = NULL, *withdrawn = NULL;
	if (!db_begin(d, error))
		return FALSE;
	gboolean ok = db_wait_settlement_xact(d, error) &&
		      db_scalar(d,
				"SELECT string_agg(f.file_id::text || CASE WHEN a.act_seq IS NULL THEN '' ELSE"
				" ':W' || a.act_no END, ',' ORDER BY a.act_seq IS NOT NULL, f.file_id DESC)"
				" FROM files f LEFT JOIN acts a ON a.programme = f.programme AND a.kind = 'W'"
				"  AND a.file_id = f.file_id"
				" WHERE f.programme = $1 AND (f.file_id::text = $2 OR f.sha256 = $2)",
				2, p2, &withdrawn, error);
	if (ok && !withdrawn) {
		g_set_error(error, ACTS_ERROR, STATUS_USAGE, "withdraw refused: no file '%s' in programme '%s'", file,
			    db_programme(d));
		ok = FALSE;
	}
	if (ok) {
		/* The live file of that id or digest is the first listed (not withdrawn sorts first); a
		 * list of withdrawn ones only: nothing left to withdraw. */
		char *first = withdrawn, *end = strchr(first, ',');
		if (end)
			*end = '\0';
		char *colon = strchr(first, ':');
		if (colon) {
			g_set_error(error, ACTS_ERROR, STATUS_USAGE,
				    "withdraw refused: file %.*s is already withdrawn (%s)", (int)(colon - first), first,
				    colon + 1);
			ok = FALSE;
		} else {
			file_id = g_strdup(first);
		}
	}
	const char *fields[7] = { file_id, NULL, NULL, NULL, NULL, NULL, NULL };
	ok = ok && record_act(d, "W", os_user, reason, fields, &seq, out, error);
	const char *p3[] = { db_programme(d), seq, file_id };
	/* Every line of the file stops counting, keeping the outcome it has. */
	ok = ok && exec_params(d,
			       "INSERT INTO line_acts (programme, act_seq, file_id, line_no, outcome, reason, shop_id,"
			       " campaign_id, order_key, live, was_shop_id, was_order_key)"
			       " SELECT $1, $2::int, " NOW_COLUMNS ", FALSE, " WAS_ORDER
			       " FROM lines_now() n WHERE n.programme = $1 AND n.file_id = $3::bigint",
			       3, p3, &out->lines, error);
	fault_point("withdraw:lines");
	/* Its claims are released: those its lines hold now. */
	ok = ok && exec_params(d,
			       "INSERT INTO claim_moves (programme, courier, waybill_no, act_seq)"
			       " SELECT $1, w.courier, w.waybill_no, $2::int"
			       " FROM (SELECT DISTINCT courier, waybill_no FROM lines WHERE file_id = $3::bigint"
			       "  AND courier IS NOT NULL AND waybill_no IS NOT NULL) k"
			       " JOIN waybills w ON w.programme = $1 AND w.courier = k.courier AND w.waybill_no = k.waybill_no"
			       " LEFT JOIN LATERAL (SELECT m.file_id FROM claim_moves m WHERE m.programme = $1"
			       "  AND m.courier = w.courier AND m.waybill_no = w.waybill_no ORDER BY m.move_id DESC LIMIT 1) m"
			       "  ON TRUE"
			       " WHERE CASE WHEN m IS NULL THEN w.file_id ELSE m.file_id END = $3::bigint",
			       3, p3, &out->claims, error);
	ok = ok && finish(d, "withdraw:recorded", error);
	if (!ok)
		db_rollback(d);
	else
		out->file_id = g_ascii_strtoll(file_id, NULL, 10);
	fault_point("withdraw:committed");
	return ok;
}

/* ------------------------------------------------------------------------------------------ */

/* Checks 3-7 of POLICY.md for one stored line with the registry given (as ingest and replay
 * classify). Row columns: courier, sender_code, sender_phone, category, pickup (text), order_no,
 * waybill_no. Sets *shop_id, *campaign_id, *order_key (borrowed from reg, or new) and *reason. */
typedef struct {
	policy_outcome outcome;
	const char *shop_id;
	const char *campaign_id;
	char *order_key;
	char *reason;
} acts_class;

static gboolean classify(const registry *reg, const char *courier, const char *code, const char *phone,
			 const char *category, const char *pickup_text, const char *order_no, const char *waybill,
			 acts_class *out)
{
	memset(out, 0, sizeof *out);
	chrono_time pickup;
	if (!courier || !pickup_text || !chrono_parse_time(pickup_text, &pickup, NULL))
		return FALSE;
	chrono_day day = chrono_day_of(pickup);
	policy_line_facts facts = { 0 };
	const registry_shop *shop = NULL;
	facts.shop_match = registry_find_shop(reg, courier, code, phone, day, &shop);
	if (shop) {
		facts.registered_from = shop->registered_from;
		facts.registered_to = shop->registered_to;
		out->shop_id = shop->shop_id;
	}
	facts.policy = registry_policy_on(reg, day);
	facts.campaign_id = registry_campaign_at(reg, pickup);
	facts.category = category;
	facts.pickup = pickup;
	out->campaign_id = facts.campaign_id;
	out->outcome = policy_classify(&facts, &out->reason);
	if (out->outcome == OUTCOME_ELIGIBLE)
		out->order_key = order_key(order_no, courier, waybill);
	return TRUE;
}

static const char *val(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* --take: "first" (*file and *line 0: the waybill's first line) or FILE_ID:LINE of a data line. */
static gboolean parse_take(const char *take, int64_t *file, int *line, GError **error)
{
	g_assert(take);
	*file = 0;
	*line = 0;
	if (strcmp(take, "first") == 0)
		return TRUE;
	const char *colon = strchr(take, ':');
	g_autofree char *f = colon ? g_strndup(take, (gsize)(colon - take)) : NULL;
	gint64 v = 0;
	if (!colon || !g_ascii_string_to_signed(colon + 1, 10, 2, G_MAXINT, NULL, NULL) ||
	    !g_ascii_string_to_signed(f, 10, 1, G_MAXINT64, &v, NULL)) {
		g_set_error(error, ACTS_ERROR, STATUS_USAGE,
			    "resolve refused: --take '%s' is neither 'first' nor FILE_ID:LINE", take);
		return FALSE;
	}
	*file = v;
	*line = atoi(colon + 1);
	/* A data line, never the header: both parts named, or neither. */
	g_assert(*file > 0 && *line >= 2);
	return TRUE;
}

/* The waybill's first line (the one an ingest claimed it with) and the line holding its claim now
 * (NULL after a withdrawal released it). NULL with an error when there is no such waybill. */
enum { CLAIM_FIRST_FILE, CLAIM_FIRST_LINE, CLAIM_HOLDER_FILE, CLAIM_HOLDER_LINE, CLAIM_COLUMNS };
static PGresult *query_claim(db *d, const char *courier, const char *waybill, GError **error)
{
	const char *p3[] = { db_programme(d), courier, waybill };
	PGresult *claim = db_query(
		d,
		"SELECT coalesce(i.file_id, w.file_id), coalesce(i.line_no, w.line_no),"
		" CASE WHEN m.move_id IS NULL THEN w.file_id ELSE m.file_id END,"
		" CASE WHEN m.move_id IS NULL THEN w.line_no ELSE m.line_no END"
		" FROM waybills w LEFT JOIN LATERAL (SELECT * FROM claim_moves m WHERE m.programme = $1"
		"  AND m.courier = w.courier AND m.waybill_no = w.waybill_no ORDER BY m.move_id DESC LIMIT 1) m"
		"  ON TRUE"
		/* The first line is the one an ingest claimed the waybill with: its waybills
		 * row, or the latest line that took it again after a withdrawal released it. */
		" LEFT JOIN LATERAL (SELECT i.file_id, i.line_no FROM claim_moves i WHERE i.programme = $1"
		"  AND i.courier = w.courier AND i.waybill_no = w.waybill_no AND i.act_seq IS NULL"
		"  ORDER BY i.move_id DESC LIMIT 1) i ON TRUE"
		" WHERE w.programme = $1 AND w.courier = $2 AND w.waybill_no = $3",
		3, p3, error);
	if (!claim)
		return NULL;
	/* The waybills key is (programme, courier, waybill_no): one row or none. */
	g_assert(PQnfields(claim) == CLAIM_COLUMNS);
	g_assert(PQntuples(claim) <= 1);
	if (PQntuples(claim) == 0) {
		g_set_error(error, ACTS_ERROR, STATUS_USAGE, "resolve refused: no waybill '%s' of courier '%s'", waybill,
			    courier);
		g_clear_pointer(&claim, PQclear);
	}
	return claim;
}

/* The line to take, tf:tl, as classify reads it, its outcome and whether its file is withdrawn.
 * NULL with an error when it is not a line of the waybill, is of a withdrawn file, or (chosen by
 * --take FILE_ID:LINE) is not a CONFLICT line. */
enum {
	TAKEN_COURIER,
	TAKEN_SENDER_CODE,
	TAKEN_SENDER_PHONE,
	TAKEN_CATEGORY,
	TAKEN_PICKUP,
	TAKEN_ORDER_NO,
	TAKEN_WAYBILL_NO,
	TAKEN_OUTCOME,
	TAKEN_WITHDRAWN,
	TAKEN_COLUMNS
};
static PGresult *query_taken(db *d, const char *tf, const char *tl, const char *courier, const char *waybill,
			     gboolean chosen, GError **error)
{
	const char *p5[] = { db_programme(d), tf, tl, courier, waybill };
	PGresult *line = db_query(
		d,
		"SELECT l.courier, l.sender_code, l.sender_phone, l.category,"
		" to_char(l.pickup_time, 'YYYY-MM-DD HH24:MI:SS'), l.order_no, l.waybill_no, l.outcome,"
		" EXISTS (SELECT 1 FROM acts a WHERE a.programme = $1 AND a.kind = 'W' AND a.file_id = l.file_id)"
		" FROM lines l WHERE l.programme = $1 AND l.file_id = $2::bigint AND l.line_no = $3::int"
		" AND l.courier = $4 AND l.waybill_no = $5",
		5, p5, error);
	if (!line)
		return NULL;
	/* The lines key is (file_id, line_no): one row or none. */
	g_assert(PQnfields(line) == TAKEN_COLUMNS);
	g_assert(PQntuples(line) <= 1);
	if (PQntuples(line) == 0)
		g_set_error(error, ACTS_ERROR, STATUS_USAGE, "resolve refused: line %s:%s is not a line of waybill '%s'",
			    tf, tl, waybill);
	else if (chosen && strcmp(PQgetvalue(line, 0, TAKEN_OUTCOME), "CONFLICT") != 0)
		g_set_error(error, ACTS_ERROR, STATUS_USAGE, "resolve refused: line %s:%s is %s, not a CONFLICT line", tf,
			    tl, PQgetvalue(line, 0, TAKEN_OUTCOME));
	else if (PQgetvalue(line, 0, TAKEN_WITHDRAWN)[0] == 't')
		g_set_error(error, ACTS_ERROR, STATUS_USAGE, "resolve refused: line %s:%s is of a withdrawn file", tf, tl);
	else
		return line;
	PQclear(line);
	return NULL;
}

/* The holder of the claim (none after a withdrawal released it) stops counting, under act seq;
 * *n gets the lines changed. */
static gboolean release_holder(db *d, const char *seq, const PGresult *claim, int64_t *n, GError **error)
{
	g_assert(seq && PQntuples(claim) == 1);
	*n = 0;
	const char *holder_f = val(claim, 0, CLAIM_HOLDER_FILE);
	const char *holder_l = val(claim, 0, CLAIM_HOLDER_LINE);
	g_assert(!holder_f == !holder_l);
	if (!holder_f)
		return TRUE;
	const char *p4[] = { db_programme(d), seq, holder_f, holder_l };
	gboolean ok = exec_params(d,
				  "INSERT INTO line_acts (programme, act_seq, file_id, line_no, outcome, reason, shop_id,"
				  " campaign_id, order_key, live, was_shop_id, was_order_key)"
				  " SELECT $1, $2::int, " NOW_COLUMNS ", FALSE, " WAS_ORDER
				  " FROM lines_now() n WHERE n.programme = $1 AND n.file_id = $3::bigint AND n.line_no = $4::int",
				  4, p4, n, error);
	/* One line by the lines key, or none when the holder's state is no longer there. */
	g_assert(!ok || (*n >= 0 && *n <= 1));
	return ok;
}

/* The line taken, tf:tl, holds the claim and counts under act seq: with k's state when it was
 * chosen (k NULL: it could not be classified, CONFLICT), or taken back as first line (first) with
 * the outcome it was ingested with. */
static gboolean insert_taken(db *d, const char *seq, const char *tf, const char *tl, gboolean first,
			     const acts_class *k, int64_t *n, GError **error)
{
	g_assert(seq && tf && tl);
	g_assert(!first || !k); /* a first line taken back is not classified again */
	const char *outcome = k ? policy_outcome_name(k->outcome) : "CONFLICT";
	const char *p9[] = { db_programme(d), seq, tf, tl, outcome, k ? k->reason : NULL, k ? k->shop_id : NULL,
			     k ? k->campaign_id : NULL, k ? k->order_key : NULL };
	gboolean ok = exec_params(d,
				  !first ? "INSERT INTO line_acts (programme, act_seq, file_id, line_no, outcome, reason, shop_id,"
					   " campaign_id, order_key, live, was_shop_id, was_order_key)"
					   " VALUES ($1, $2::int, $3::bigint, $4::int, $5, $6, $7, $8, $9, TRUE, NULL, NULL)"
					 : "INSERT INTO line_acts (programme, act_seq, file_id, line_no, outcome, reason, shop_id,"
					   " campaign_id, order_key, live, was_shop_id, was_order_key)"
					   " SELECT $1, $2::int, l.file_id, l.line_no, l.outcome, l.reason, l.shop_id,"
					   " l.campaign_id, l.order_key, TRUE, NULL, NULL FROM lines l"
					   " WHERE l.file_id = $3::bigint AND l.line_no = $4::int",
				  !first ? (int)G_N_ELEMENTS(p9) : 4, p9, n, error);
	/* The line exists (query_taken found it): exactly one state is added. */
	g_assert(!ok || *n == 1);
	return ok;
}

/* The claim of courier/waybill moves to tf:tl under act seq: the holder stops counting, the line
 * taken counts, classified now when chosen (a first line taken back keeps the outcome it was
 * ingested with), and the claim's move is recorded. */
static gboolean move_claim(db *d, const char *seq, const char *courier, const char *waybill, const PGresult *claim,
			   const PGresult *line, const char *tf, const char *tl, gboolean chosen, acts_result *out,
			   GError **error)
{
	g_assert(seq && PQntuples(claim) == 1 && PQntuples(line) == 1);
	registry *reg = NULL;
	acts_class k = { 0 };
	gboolean ok = TRUE, classified = FALSE;
	if (chosen) {
		reg = registry_snapshot(d, NULL, error);
		ok = reg != NULL;
		classified = ok && classify(reg, val(line, 0, TAKEN_COURIER), val(line, 0, TAKEN_SENDER_CODE),
					    val(line, 0, TAKEN_SENDER_PHONE), val(line, 0, TAKEN_CATEGORY),
					    val(line, 0, TAKEN_PICKUP), val(line, 0, TAKEN_ORDER_NO),
					    val(line, 0, TAKEN_WAYBILL_NO), &k);
		out->note = g_strdup_printf("line %s:%s is now %s%s%s", tf, tl,
					    classified ? policy_outcome_name(k.outcome) : "CONFLICT", k.reason ? ": " : "",
					    k.reason ? k.reason : "");
	}
	int64_t n = 0;
	ok = ok && release_holder(d, seq, claim, &n, error);
	out->lines += n;
	fault_point("resolve:released");
	n = 0;
	ok = ok && insert_taken(d, seq, tf, tl, !chosen, classified ? &k : NULL, &n, error);
	out->lines += n;
	const char *p6[] = { db_programme(d), seq, courier, waybill, tf, tl };
	ok = ok && exec_params(d,
			       "INSERT INTO claim_moves (programme, courier, waybill_no, file_id, line_no, act_seq)"
			       " VALUES ($1, $3, $4, $5::bigint, $6::int, $2::int)",
			       G_N_ELEMENTS(p6), p6, &out->claims, error);
	/* One claim moves, and at most the holder and the line taken change. */
	g_assert(!ok || (out->claims == 1 && out->lines >= 1 && out->lines <= 2));
	g_free(k.reason);
	g_free(k.order_key);
	if (reg)
		registry_free(reg);
	return ok;
}

gboolean acts_resolve(db *d, const char *os_user, const char *courier_text, const char *waybill_text,
		      const char *take, const char *reason, acts_result *out, GError **error)
{
	g_assert(out && take);
	memset(out, 0, sizeof *out);
	if (!reason_ok(reason, error))
		return FALSE;
	g_autofree char *courier = ident_courier_code(courier_text, NULL);
	g_autofree char *waybill = ident_normalize(waybill_text);
	if (!courier || !*courier || !waybill || !*waybill) {
		g_set_error(error, ACTS_ERROR, STATUS_USAGE, "resolve refused: --courier and --waybill must name a parcel");
		return FALSE;
	}
	int64_t take_file = 0;
	int take_line = 0;
	if (!parse_take(take, &take_file, &take_line, error) || !db_begin(d, error))
		return FALSE;
	/* The waybill's first line, the line holding its claim now, and the line to take. */
	PGresult *claim = NULL, *line = NULL;
	gboolean ok = db_wait_settlement_xact(d, error) && (claim = query_claim(d, courier, waybill, error)) != NULL;
	char tf[24], tl[16];
	if (ok) {
		if (take_file == 0) {
			g_strlcpy(tf, PQgetvalue(claim, 0, CLAIM_FIRST_FILE), sizeof tf);
			g_strlcpy(tl, PQgetvalue(claim, 0, CLAIM_FIRST_LINE), sizeof tl);
		} else {
			g_snprintf(tf, sizeof tf, "%" G_GINT64_FORMAT, (gint64)take_file);
			g_snprintf(tl, sizeof tl, "%d", take_line);
		}
		ok = (line = query_taken(d, tf, tl, courier, waybill, take_file != 0, error)) != NULL;
	}
	gboolean moves = ok && (PQgetisnull(claim, 0, CLAIM_HOLDER_FILE) ||
				strcmp(PQgetvalue(claim, 0, CLAIM_HOLDER_FILE), tf) != 0 ||
				strcmp(PQgetvalue(claim, 0, CLAIM_HOLDER_LINE), tl) != 0);
	if (ok && take_file != 0 && !moves) {
		g_set_error(error, ACTS_ERROR, STATUS_USAGE, "resolve refused: line %s:%s holds the claim already", tf,
			    tl);
		ok = FALSE;
	}
	g_autofree char *seq = NULL;
	const char *fields[7] = { NULL, courier, waybill, take_file ? tf : NULL, take_file ? tl : NULL, NULL, NULL };
	ok = ok && record_act(d, "R", os_user, reason, fields, &seq, out, error);
	ok = ok && (!moves || move_claim(d, seq, courier, waybill, claim, line, tf, tl, take_file != 0, out, error));
	/* A resolve that changes nothing records the act and moves nothing. */
	g_assert(!ok || moves || (out->claims == 0 && out->lines == 0));
	PQclear(claim);
	PQclear(line);
	ok = ok && finish(d, "resolve:recorded", error);
	if (!ok)
		db_rollback(d);
	else {
		out->file_id = take_file;
		out->line_no = take_line;
	}
	fault_point("resolve:committed");
	return ok;
}

/* ------------------------------------------------------------------------------------------ */

gboolean acts_reclassify(db *d, const char *os_user, const char *from, const char *to, const char *reason,
			 acts_result *out, GError **error)
{
	memset(out, 0, sizeof *out);
	if (!reason_ok(reason, error))
		return FALSE;
	chrono_day f, t;
	if (!chrono_parse_day(from, &f, NULL) || !chrono_parse_day(to, &t, NULL)) {
		g_set_error(error, ACTS_ERROR, STATUS_USAGE, "reclassify refused: --from and --to are dates, YYYY-MM-DD");
		return FALSE;
	}
	if (t < f) {
		g_set_error(error, ACTS_ERROR, STATUS_USAGE, "reclassify refused: --from %s is after --to %s", from, to);
		return FALSE;
	}
	if (!db_begin(d, error))
		return FALSE;
	g_autofree char *seq = NULL;
	const char *fields[7] = { NULL, NULL, NULL, NULL, NULL, from, to };
	gboolean ok = db_wait_settlement_xact(d, error) && record_act(d, "C", os_user, reason, fields, &seq, out, error) &&
		      finish(d, "reclassify:recorded", error);
	if (!ok)
		db_rollback(d);
	fault_point("reclassify:committed");
	return ok;
}

/* ------------------------------------------------------------------------------------------ */

#define SETTLE_CLASSIFY_CHUNK 10000

/* The columns of reclassify_range's cursor. */
enum {
	RANGE_FILE_ID,
	RANGE_LINE_NO,
	RANGE_OUTCOME,
	RANGE_SHOP_ID,
	RANGE_CAMPAIGN_ID,
	RANGE_ORDER_KEY,
	RANGE_COURIER,
	RANGE_SENDER_CODE,
	RANGE_SENDER_PHONE,
	RANGE_CATEGORY,
	RANGE_PICKUP,
	RANGE_ORDER_NO,
	RANGE_WAYBILL_NO,
	RANGE_REASON,
	RANGE_COLUMNS
};

/* Line i of the reclassification cursor (RANGE_ columns) classified again with reg; a new state
 * for it (under act seq) added to copy when its outcome, shop, campaign, order or reason changed. */
static void reclassify_row(db *d, const registry *reg, const char *seq, const PGresult *res, int i, GString *copy)
{
	/* Only what checks 3-7 decided is decided again: never a line of checks 1-2, which
	 * would count a duplicate or a rejected line toward an order. */
	policy_outcome stored = OUTCOME_COUNT;
	gboolean known = policy_outcome_parse(PQgetvalue(res, i, RANGE_OUTCOME), &stored);
	g_assert(known && policy_outcome_is_classified(stored));
	acts_class k;
	if (!classify(reg, val(res, i, RANGE_COURIER), val(res, i, RANGE_SENDER_CODE),
		      val(res, i, RANGE_SENDER_PHONE), val(res, i, RANGE_CATEGORY), val(res, i, RANGE_PICKUP),
		      val(res, i, RANGE_ORDER_NO), val(res, i, RANGE_WAYBILL_NO), &k))
		return;
	g_assert(policy_outcome_is_classified(k.outcome)); /* checks 3-7 decide it again, nothing else */
	const char *outcome = policy_outcome_name(k.outcome);
	gboolean was_eligible = stored == OUTCOME_ELIGIBLE;
	gboolean same = k.outcome == stored && g_strcmp0(k.shop_id, val(res, i, RANGE_SHOP_ID)) == 0 &&
			g_strcmp0(k.campaign_id, val(res, i, RANGE_CAMPAIGN_ID)) == 0 &&
			g_strcmp0(k.order_key, val(res, i, RANGE_ORDER_KEY)) == 0 &&
			g_strcmp0(k.reason, val(res, i, RANGE_REASON)) == 0;
	if (!same) {
		db_copy_text(copy, db_programme(d));
		db_copy_text(copy, seq);
		db_copy_text(copy, PQgetvalue(res, i, RANGE_FILE_ID));
		db_copy_text(copy, PQgetvalue(res, i, RANGE_LINE_NO));
		db_copy_text(copy, outcome);
		db_copy_text(copy, k.reason);
		db_copy_text(copy, k.shop_id);
		db_copy_text(copy, k.campaign_id);
		db_copy_text(copy, k.order_key);
		db_copy_bool(copy, TRUE);
		db_copy_text(copy, was_eligible ? val(res, i, RANGE_SHOP_ID) : NULL);
		db_copy_text(copy, was_eligible ? val(res, i, RANGE_ORDER_KEY) : NULL);
		db_copy_row_end(copy);
	}
	g_free(k.reason);
	g_free(k.order_key);
}

/* A reclassification, carried out by the settlement: every live line of checks 3-7 picked up in
 * the range, classified with the registry as known now; the ones whose outcome, shop, campaign
 * or order changed get a new state. The cursor is planned without nested loops: right after a
 * night nothing is analysed, the planner took the range's lines for 2 rows and joined each to
 * every line state (a reclassification of 100,000 lines after a withdrawal ran for minutes in
 * its first FETCH; scripts/bench-acts). By hash, one pass over each. */
static gboolean reclassify_range(db *d, const registry *reg, const char *seq, const char *from, const char *to,
				 GError **error)
{
	const char *p3[] = { db_programme(d), from, to };
	g_autofree char *classified = policy_outcomes_sql(policy_outcome_is_classified);
	g_autofree char *declare = g_strdup_printf(
		"DECLARE acts_lines NO SCROLL CURSOR FOR SELECT n.file_id, n.line_no, n.outcome, n.shop_id,"
		" n.campaign_id, n.order_key, n.courier, n.sender_code, n.sender_phone, n.category,"
		" to_char(n.pickup_time, 'YYYY-MM-DD HH24:MI:SS'), n.order_no, n.waybill_no, n.reason"
		" FROM lines_now() n WHERE n.programme = $1 AND n.live AND n.outcome IN (%s)"
		" AND n.pickup_time >= $2::date AND n.pickup_time < $3::date + 1",
		classified);
	if (!db_exec(d, "SET LOCAL enable_nestloop = off", error) || !exec_params(d, declare, 3, p3, NULL, error) ||
	    !db_exec(d, "SET LOCAL enable_nestloop = on", error))
		return FALSE;
	g_autoptr(GString) copy = g_string_new(NULL);
	for (;;) {
		PGresult *res = db_query(d, "FETCH " G_STRINGIFY(SETTLE_CLASSIFY_CHUNK) " FROM acts_lines", 0, NULL, error);
		if (!res)
			return FALSE;
		g_assert(PQnfields(res) == RANGE_COLUMNS);
		int n = PQntuples(res);
		for (int i = 0; i < n; i++)
			reclassify_row(d, reg, seq, res, i, copy);
		PQclear(res);
		if (!db_copy_rows(d,
				  "COPY line_acts (programme, act_seq, file_id, line_no, outcome, reason, shop_id,"
				  " campaign_id, order_key, live, was_shop_id, was_order_key) FROM STDIN",
				  copy, error))
			return FALSE;
		if (n < SETTLE_CLASSIFY_CHUNK)
			break;
	}
	return db_exec(d, "CLOSE acts_lines", error);
}

gboolean acts_settle_touch(db *d, const registry *reg, int64_t *n, GError **error)
{
	*n = 0;
	const char *p1[] = { db_programme(d) };
	if (!db_exec(d, "CREATE TEMP TABLE settle_corrections (shop_id text, order_key text, correction text,"
			" PRIMARY KEY (shop_id, order_key)) ON COMMIT DROP",
		     error))
		return FALSE;
	g_autofree char *seen = NULL;
	if (!db_scalar(d, "SELECT coalesce((SELECT acts_seen FROM settle_marks WHERE programme = $1), 0)", 1, p1,
		       &seen, error))
		return FALSE;
	const char *p2[] = { db_programme(d), seen };
	enum { PENDING_SEQ, PENDING_KIND, PENDING_FROM, PENDING_TO, PENDING_COLUMNS };
	PGresult *pending = db_query(d,
				     "SELECT act_seq, kind, from_day::text, to_day::text FROM acts WHERE programme = $1"
				     " AND act_seq > $2::int ORDER BY act_seq",
				     2, p2, error);
	if (!pending)
		return FALSE;
	g_assert(PQnfields(pending) == PENDING_COLUMNS);
	int np = PQntuples(pending);
	gboolean ok = TRUE;
	for (int i = 0; i < np && ok; i++) {
		if (strcmp(PQgetvalue(pending, i, PENDING_KIND), "C") != 0)
			continue;
		ok = reclassify_range(d, reg, PQgetvalue(pending, i, PENDING_SEQ), PQgetvalue(pending, i, PENDING_FROM),
				      PQgetvalue(pending, i, PENDING_TO), error);
	}
	PQclear(pending);
	if (!ok || np == 0)
		return ok;
	int64_t added = 0, marked = 0;
	ok = exec_params(d,
			 "INSERT INTO settle_corrections SELECT DISTINCT ON (shop_id, order_key) shop_id, order_key, ref"
			 " FROM (SELECT s.shop_id, s.order_key, s.act_seq, a.kind || a.act_no AS ref FROM ("
			 "  SELECT shop_id, order_key, act_seq FROM line_acts WHERE programme = $1 AND act_seq > $2::int"
			 "   AND outcome = 'ELIGIBLE' AND live"
			 "  UNION ALL SELECT was_shop_id, was_order_key, act_seq FROM line_acts WHERE programme = $1"
			 "   AND act_seq > $2::int AND was_shop_id IS NOT NULL) s"
			 " JOIN acts a ON a.programme = $1 AND a.act_seq = s.act_seq) x"
			 " ORDER BY shop_id, order_key, act_seq DESC",
			 2, p2, NULL, error) &&
	     exec_params(d,
			 "INSERT INTO settle_touched SELECT shop_id, order_key FROM settle_corrections ON CONFLICT DO NOTHING",
			 0, NULL, &added, error) &&
	     exec_params(d,
			 "INSERT INTO settle_marks (programme, registry_seen_at, acts_seen) SELECT $1, now(), max(act_seq)"
			 " FROM acts WHERE programme = $1 ON CONFLICT (programme) DO UPDATE SET acts_seen = EXCLUDED.acts_seen",
			 1, p1, &marked, error);
	/* The mark moves past the acts taken: else the next settlement would take them again. */
	g_assert(!ok || marked == 1);
	*n = added;
	return ok;
}
