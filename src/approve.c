/* approve.c: four eyes; see approve.h.
 *
 * One transaction under the settlement lock (a payments load, which checks approvals, takes it
 * too): the role is checked, the batch's digest read, the chain's head read, the digest computed
 * here from the values the server fixes (its time, its roles) and the row written. The database
 * guard (sql/011) refuses any row that is not exactly that. */
#include "approve.h"

#include "fault.h"
#include "status.h"

#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK(subsidy-approve-error-quark, approve_error)

#define APPROVE_DIGEST_VERSION "subsidy-approval-v1"
#define APPROVE_INT_TEXT_MAX 16

void approve_digest(const char *programme, const char *prev_digest, const approve_row *row,
		    char out[APPROVE_DIGEST_HEX])
{
	g_assert(strlen(prev_digest) == APPROVE_DIGEST_HEX - 1 && row->approval_id >= 1);
	GString *text = g_string_new(NULL);
	db_copy_text(text, APPROVE_DIGEST_VERSION);
	db_copy_text(text, programme);
	db_copy_int(text, row->approval_id);
	db_copy_text(text, prev_digest);
	db_copy_int(text, row->batch_id);
	db_copy_text(text, row->batch_digest);
	db_copy_text(text, row->reason);
	db_copy_text(text, row->os_user);
	db_copy_text(text, row->db_role);
	db_copy_text(text, row->session_role);
	db_copy_text(text, row->approved_at);
	db_copy_row_end(text);
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(sum, (const guchar *)text->str, (gssize)text->len);
	g_string_free(text, TRUE);
	g_strlcpy(out, g_checksum_get_string(sum), APPROVE_DIGEST_HEX);
}

void approve_report_clear(approve_report *r)
{
	g_clear_pointer(&r->db_role, g_free);
	g_clear_pointer(&r->approved_at, g_free);
}

/* May the session approve? A superuser may; else a member of APPROVE_ROLE not of
 * APPROVE_ROLE_NOT. */
static gboolean check_role(db *d, GError **error)
{
	PGresult *res = db_query(d,
				 "SELECT current_user, r.rolsuper, pg_has_role(current_user, '" APPROVE_ROLE "', 'USAGE'),"
				 " pg_has_role(current_user, '" APPROVE_ROLE_NOT "', 'USAGE')"
				 " FROM pg_roles r WHERE r.rolname = current_user",
				 0, NULL, error);
	if (!res)
		return FALSE;
	g_assert(PQntuples(res) == 1);
	gboolean super = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	gboolean finance = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	gboolean engine = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	gboolean may = super || (finance && !engine);
	if (!may && !finance)
		g_set_error(error, APPROVE_ERROR, STATUS_NOPERM,
			    "permission denied: role '%s' may not approve a batch: it needs role " APPROVE_ROLE,
			    PQgetvalue(res, 0, 0));
	else if (!may)
		g_set_error(error, APPROVE_ERROR, STATUS_NOPERM,
			    "permission denied: role '%s' may not approve a batch: it is a member of " APPROVE_ROLE_NOT
			    ", which settles; approving needs role " APPROVE_ROLE " without " APPROVE_ROLE_NOT
			    " (four eyes)",
			    PQgetvalue(res, 0, 0));
	PQclear(res);
	return may;
}

/* The batch's digest into digest; STATUS_USAGE when there is no such batch or it is approved. */
static gboolean batch_to_approve(db *d, int batch_id, char digest[APPROVE_DIGEST_HEX], GError **error)
{
	char batch[APPROVE_INT_TEXT_MAX];
	g_snprintf(batch, sizeof batch, "%d", batch_id);
	const char *params[] = { db_programme(d), batch };
	PGresult *res = db_query(d,
				 "SELECT b.digest, a.approval_id, a.db_role, a.os_user,"
				 " to_char(a.approved_at, 'YYYY-MM-DD HH24:MI:SS'),"
				 " (SELECT max(batch_id) FROM batches WHERE programme = $1)"
				 " FROM (SELECT 1) one"
				 " LEFT JOIN batches b ON b.programme = $1 AND b.batch_id = $2::int"
				 " LEFT JOIN approvals a ON a.programme = $1 AND a.batch_id = $2::int",
				 2, params, error);
	if (!res)
		return FALSE;
	g_assert(PQntuples(res) == 1);
	gboolean ok = FALSE;
	if (PQgetisnull(res, 0, 0) && PQgetisnull(res, 0, 5))
		g_set_error(error, APPROVE_ERROR, STATUS_USAGE, "unknown batch %d: programme '%s' has no batches yet",
			    batch_id, db_programme(d));
	else if (PQgetisnull(res, 0, 0))
		g_set_error(error, APPROVE_ERROR, STATUS_USAGE, "unknown batch %d: the last batch of programme '%s' is %s",
			    batch_id, db_programme(d), PQgetvalue(res, 0, 5));
	else if (!PQgetisnull(res, 0, 1))
		g_set_error(error, APPROVE_ERROR, STATUS_USAGE,
			    "cannot approve batch %d twice: approval %s by %s (%s) at %s approved it", batch_id,
			    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
	else
		ok = TRUE;
	if (ok) {
		g_assert(strlen(PQgetvalue(res, 0, 0)) == APPROVE_DIGEST_HEX - 1); /* the schema's CHECK */
		g_strlcpy(digest, PQgetvalue(res, 0, 0), APPROVE_DIGEST_HEX);
	}
	PQclear(res);
	return ok;
}

static gboolean record(db *d, int batch_id, const char *reason, const char *os_user, approve_report *out,
		       GError **error)
{
	const char *p1[] = { db_programme(d) };
	/* The chain's head and what the server fixes: its roles and its time. */
	PGresult *res = db_query(d,
				 "SELECT (SELECT max(approval_id) FROM approvals WHERE programme = $1),"
				 " (SELECT digest FROM approvals WHERE programme = $1 ORDER BY approval_id DESC LIMIT 1),"
				 " current_user, session_user, " APPROVE_UTC_SQL("now()") ","
				 " to_char(now(), 'YYYY-MM-DD HH24:MI:SS')",
				 1, p1, error);
	if (!res)
		return FALSE;
	int last = PQgetisnull(res, 0, 0) ? 0 : atoi(PQgetvalue(res, 0, 0));
	char prev[APPROVE_DIGEST_HEX];
	g_strlcpy(prev, PQgetisnull(res, 0, 1) ? APPROVE_GENESIS : PQgetvalue(res, 0, 1), sizeof prev);
	approve_row row = { .approval_id = last + 1, .batch_id = batch_id, .batch_digest = out->batch_digest,
			    .reason = reason ? reason : "", .os_user = os_user, .db_role = PQgetvalue(res, 0, 2),
			    .session_role = PQgetvalue(res, 0, 3), .approved_at = PQgetvalue(res, 0, 4) };
	approve_digest(db_programme(d), prev, &row, out->digest);
	out->approval_id = row.approval_id;
	out->db_role = g_strdup(row.db_role);
	out->approved_at = g_strdup(PQgetvalue(res, 0, 5));
	PQclear(res);

	char id[APPROVE_INT_TEXT_MAX], batch[APPROVE_INT_TEXT_MAX];
	g_snprintf(id, sizeof id, "%d", out->approval_id);
	g_snprintf(batch, sizeof batch, "%d", batch_id);
	const char *params[] = { db_programme(d), id, batch, out->batch_digest, reason ? reason : "", os_user, prev,
				 out->digest };
	res = db_query(d,
		       "INSERT INTO approvals (programme, approval_id, batch_id, batch_digest, reason, os_user, db_role,"
		       " session_role, approved_at, prev_digest, digest) VALUES ($1, $2::int, $3::int, $4, $5, $6,"
		       " current_user, session_user, now(), $7, $8)",
		       G_N_ELEMENTS(params), params, error);
	if (!res)
		return FALSE;
	PQclear(res);
	return TRUE;
}

gboolean approve_batch(db *d, int batch_id, const char *reason, const char *os_user, approve_report *out,
		       GError **error)
{
	g_return_val_if_fail(out != NULL && os_user != NULL, FALSE);
	*out = (approve_report){ .batch_id = batch_id };
	if (reason && g_utf8_strlen(reason, -1) < APPROVE_REASON_CHARS_MIN) {
		g_set_error(error, APPROVE_ERROR, STATUS_USAGE,
			    "reason '%s' is too short: say why in at least %d characters, or give none", reason,
			    APPROVE_REASON_CHARS_MIN);
		return FALSE;
	}
	gboolean ok = db_begin(d, error) && check_role(d, error) && db_try_settlement_xact(d, error) &&
		      batch_to_approve(d, batch_id, out->batch_digest, error) &&
		      record(d, batch_id, reason, os_user, out, error);
	if (ok) {
		fault_point("approve:recorded");
		ok = db_commit(d, error);
	}
	if (!ok) {
		db_rollback(d);
		approve_report_clear(out);
		return FALSE;
	}
	fault_point("approve:committed");
	return TRUE;
}

gboolean approve_lookup(db *d, int batch_id, gboolean *approved, char **who, char **when, GError **error)
{
	*approved = FALSE;
	*who = *when = NULL;
	char batch[APPROVE_INT_TEXT_MAX];
	g_snprintf(batch, sizeof batch, "%d", batch_id);
	const char *params[] = { db_programme(d), batch };
	PGresult *res = db_query(d,
				 "SELECT db_role || ' / ' || os_user, to_char(approved_at, 'YYYY-MM-DD HH24:MI:SS')"
				 " FROM approvals WHERE programme = $1 AND batch_id = $2::int",
				 2, params, error);
	if (!res)
		return FALSE;
	if (PQntuples(res) == 1) {
		*approved = TRUE;
		*who = g_strdup(PQgetvalue(res, 0, 0));
		*when = g_strdup(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return TRUE;
}
