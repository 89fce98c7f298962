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
	enum { ROLE_NAME, ROLE_SUPER, ROLE_FINANCE, ROLE_ENGINE, ROLE_COLUMNS };
	PGresult *res = db_query(d,
				 "SELECT current_user, r.rolsuper, pg_has_role(current_user, '" APPROVE_ROLE "', 'USAGE'),"
				 " pg_has_role(current_user, '" APPROVE_ROLE_NOT "', 'USAGE')"
				 " FROM pg_roles r WHERE r.rolname = current_user",
				 0, NULL, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == ROLE_COLUMNS);
	g_assert(PQntuples(res) == 1);
	gboolean super = strcmp(PQgetvalue(res, 0, ROLE_SUPER), "t") == 0;
	gboolean finance = strcmp(PQgetvalue(res, 0, ROLE_FINANCE), "t") == 0;
	gboolean engine = strcmp(PQgetvalue(res, 0, ROLE_ENGINE), "t") == 0;
	gboolean may = super || (finance && !engine);
	if (!may && !finance)
		g_set_error(error, APPROVE_ERROR, STATUS_NOPERM,
			    "permission denied: role '%s' may not approve a batch: it needs role " APPROVE_ROLE,
			    PQgetvalue(res, 0, ROLE_NAME));
	else if (!may)
		g_set_error(error, APPROVE_ERROR, STATUS_NOPERM,
			    "permission denied: role '%s' may not approve a batch: it is a member of " APPROVE_ROLE_NOT
			    ", which settles; approving needs role " APPROVE_ROLE " without " APPROVE_ROLE_NOT
			    " (four eyes)",
			    PQgetvalue(res, 0, ROLE_NAME));
	PQclear(res);
	return may;
}

/* The batch's digest into digest; STATUS_USAGE when there is no such batch or it is approved. */
static gboolean batch_to_approve(db *d, int batch_id, char digest[APPROVE_DIGEST_HEX], GError **error)
{
	char batch[APPROVE_INT_TEXT_MAX];
	g_snprintf(batch, sizeof batch, "%d", batch_id);
	const char *params[] = { db_programme(d), batch };
	enum { TO_DIGEST, TO_APPROVAL_ID, TO_DB_ROLE, TO_OS_USER, TO_APPROVED_AT, TO_LAST_BATCH, TO_COLUMNS };
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
	g_assert(PQnfields(res) == TO_COLUMNS);
	g_assert(PQntuples(res) == 1);
	gboolean ok = FALSE;
	if (PQgetisnull(res, 0, TO_DIGEST) && PQgetisnull(res, 0, TO_LAST_BATCH))
		g_set_error(error, APPROVE_ERROR, STATUS_USAGE, "unknown batch %d: programme '%s' has no batches yet",
			    batch_id, db_programme(d));
	else if (PQgetisnull(res, 0, TO_DIGEST))
		g_set_error(error, APPROVE_ERROR, STATUS_USAGE, "unknown batch %d: the last batch of programme '%s' is %s",
			    batch_id, db_programme(d), PQgetvalue(res, 0, TO_LAST_BATCH));
	else if (!PQgetisnull(res, 0, TO_APPROVAL_ID))
		g_set_error(error, APPROVE_ERROR, STATUS_USAGE,
			    "cannot approve batch %d twice: approval %s by %s (%s) at %s approved it", batch_id,
			    PQgetvalue(res, 0, TO_APPROVAL_ID), PQgetvalue(res, 0, TO_DB_ROLE),
			    PQgetvalue(res, 0, TO_OS_USER), PQgetvalue(res, 0, TO_APPROVED_AT));
	else
		ok = TRUE;
	if (ok) {
		g_assert(strlen(PQgetvalue(res, 0, TO_DIGEST)) == APPROVE_DIGEST_HEX - 1); /* the schema's CHECK */
		g_strlcpy(digest, PQgetvalue(res, 0, TO_DIGEST), APPROVE_DIGEST_HEX);
	}
	PQclear(res);
	return ok;
}

static gboolean record(db *d, int batch_id, const char *reason, const char *os_user, approve_report *out,
		       GError **error)
{
	const char *p1[] = { db_programme(d) };
	/* The chain's head and what the server fixes: its roles and its time. */
	enum { HEAD_ID, HEAD_DIGEST, HEAD_DB_ROLE, HEAD_SESSION_ROLE, HEAD_APPROVED_AT, HEAD_SHOWN_AT, HEAD_COLUMNS };
	PGresult *res = db_query(d,
				 "SELECT (SELECT max(approval_id) FROM approvals WHERE programme = $1),"
				 " (SELECT digest FROM approvals WHERE programme = $1 ORDER BY approval_id DESC LIMIT 1),"
				 " current_user, session_user, " APPROVE_UTC_SQL("now()") ","
				 " to_char(now(), 'YYYY-MM-DD HH24:MI:SS')",
				 1, p1, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == HEAD_COLUMNS);
	g_assert(PQntuples(res) == 1);
	int last = PQgetisnull(res, 0, HEAD_ID) ? 0 : atoi(PQgetvalue(res, 0, HEAD_ID));
	char prev[APPROVE_DIGEST_HEX];
	g_strlcpy(prev, PQgetisnull(res, 0, HEAD_DIGEST) ? APPROVE_GENESIS : PQgetvalue(res, 0, HEAD_DIGEST),
		  sizeof prev);
	approve_row row = { .approval_id = last + 1, .batch_id = batch_id, .batch_digest = out->batch_digest,
			    .reason = reason ? reason : "", .os_user = os_user,
			    .db_role = PQgetvalue(res, 0, HEAD_DB_ROLE),
			    .session_role = PQgetvalue(res, 0, HEAD_SESSION_ROLE),
			    .approved_at = PQgetvalue(res, 0, HEAD_APPROVED_AT) };
	approve_digest(db_programme(d), prev, &row, out->digest);
	out->approval_id = row.approval_id;
	out->db_role = g_strdup(row.db_role);
	out->approved_at = g_strdup(PQgetvalue(res, 0, HEAD_SHOWN_AT));
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
	/* The guard (sql/011) refuses a wrong row with an error: a row skipped in silence would be an
	 * approval reported and not kept. */
	g_assert(strcmp(PQcmdTuples(res), "1") == 0);
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
	enum { LOOKUP_WHO, LOOKUP_WHEN, LOOKUP_COLUMNS };
	PGresult *res = db_query(d,
				 "SELECT db_role || ' / ' || os_user, to_char(approved_at, 'YYYY-MM-DD HH24:MI:SS')"
				 " FROM approvals WHERE programme = $1 AND batch_id = $2::int",
				 2, params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == LOOKUP_COLUMNS);
	g_assert(PQntuples(res) <= 1); /* UNIQUE (programme, batch_id): a batch is approved once */
	if (PQntuples(res) == 1) {
		*approved = TRUE;
		*who = g_strdup(PQgetvalue(res, 0, LOOKUP_WHO));
		*when = g_strdup(PQgetvalue(res, 0, LOOKUP_WHEN));
	}
	PQclear(res);
	return TRUE;
}
