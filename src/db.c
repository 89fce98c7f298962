/* db.c: libpq wrapper; see db.h. */
#include "db.h"

#include "status.h"

#include <string.h>

G_DEFINE_QUARK(subsidy-db-error-quark, db_error)

/* Advisory lock classes, chosen to stay clear of other applications' keys in a shared cluster:
 * the settlement (keyed by the programme) and init. */
#define DB_LOCK_CLASS 0x5ab5
#define DB_LOCK_CLASS_INIT 0x5ab7

struct db {
	PGconn *conn;
	char *programme;
	char sqlstate[6];
	gboolean settlement_locked; /* this session holds the settlement lock */
};

static void set_pg_error(db *d, const PGresult *res, const char *what, GError **error)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	g_strlcpy(d->sqlstate, state ? state : "", sizeof d->sqlstate);
	if (!msg)
		msg = PQerrorMessage(d->conn);
	int code = STATUS_SOFTWARE;
	if (PQstatus(d->conn) != CONNECTION_OK || g_str_has_prefix(d->sqlstate, "08"))
		code = STATUS_UNAVAILABLE;
	else if (strcmp(d->sqlstate, "55P03") == 0)
		code = STATUS_TEMPFAIL;
	g_autofree char *trimmed = g_strstrip(g_strdup(msg));
	if (state)
		g_set_error(error, DB_ERROR, code, "%s: %s (SQLSTATE %s)", what, trimmed, state);
	else
		g_set_error(error, DB_ERROR, code, "%s: %s", what, trimmed);
	if (detail && error && *error) {
		char *with = g_strdup_printf("%s\n%s", (*error)->message, detail);
		g_free((*error)->message);
		(*error)->message = with;
	}
}

db *db_connect(const char *conninfo, const char *programme, GError **error)
{
	g_return_val_if_fail(programme != NULL, NULL);
	/* A string libpq cannot even parse is the user's mistake, not an unreachable database. */
	char *why = NULL;
	PQconninfoOption *parsed = PQconninfoParse(conninfo ? conninfo : "", &why);
	if (!parsed) {
		g_autofree char *msg = g_strstrip(g_strdup(why ? why : "out of memory"));
		/* The string itself is not repeated: it may hold a password. */
		g_set_error(error, DB_ERROR, STATUS_USAGE, "bad database connection string (--db, SUBSIDY_DB or db=): %s",
			    msg);
		PQfreemem(why);
		return NULL;
	}
	PQconninfoFree(parsed);
	PGconn *conn = PQconnectdb(conninfo ? conninfo : "");
	if (PQstatus(conn) != CONNECTION_OK) {
		g_autofree char *msg = g_strstrip(g_strdup(PQerrorMessage(conn)));
		char *nl = strchr(msg, '\n');
		if (nl)
			*nl = '\0';
		g_set_error(error, DB_ERROR, STATUS_UNAVAILABLE, "cannot connect to database '%s' on '%s': %s",
			    PQdb(conn) ? PQdb(conn) : "", PQhost(conn) ? PQhost(conn) : "(default)", msg);
		PQfinish(conn);
		return NULL;
	}
	db *d = g_new0(db, 1);
	d->conn = conn;
	d->programme = g_strdup(programme);
	PQsetClientEncoding(conn, "UTF8");
	const char *params[] = { programme };
	PGresult *res = PQexecParams(conn,
				     "SELECT set_config('TimeZone', 'Asia/Shanghai', false),"
				     " set_config('client_min_messages', 'warning', false),"
				     " set_config('DateStyle', 'ISO, YMD', false),"
				     " set_config('IntervalStyle', 'postgres', false),"
				     " set_config('subsidy.programme', $1, false)",
				     1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		set_pg_error(d, res, "cannot set up the session", error);
		PQclear(res);
		db_close(d);
		return NULL;
	}
	PQclear(res);
	return d;
}

void db_close(db *d)
{
	if (!d)
		return;
	/* PQfinish does not wait for the server to end the session, and a session's advisory lock
	 * lives until it does: release it first, so the next run (cron's, a test's) finds it free. */
	if (d->settlement_locked) {
		db_rollback(d);
		db_unlock_settlement(d);
	}
	PQfinish(d->conn);
	g_free(d->programme);
	g_free(d);
}

PGconn *db_conn(db *d)
{
	return d->conn;
}

const char *db_programme(const db *d)
{
	return d->programme;
}

const char *db_last_sqlstate(const db *d)
{
	return d->sqlstate;
}

PGresult *db_query(db *d, const char *sql, int n_params, const char *const *params, GError **error)
{
	PGresult *res = n_params > 0 ? PQexecParams(d->conn, sql, n_params, NULL, params, NULL, NULL, 0)
				     : PQexec(d->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		set_pg_error(d, res, "database error", error);
		PQclear(res);
		return NULL;
	}
	d->sqlstate[0] = '\0';
	return res;
}

gboolean db_exec(db *d, const char *sql, GError **error)
{
	PGresult *res = db_query(d, sql, 0, NULL, error);
	if (!res)
		return FALSE;
	PQclear(res);
	return TRUE;
}

gboolean db_scalar(db *d, const char *sql, int n_params, const char *const *params, char **out,
		   GError **error)
{
	*out = NULL;
	PGresult *res = db_query(d, sql, n_params, params, error);
	if (!res)
		return FALSE;
	g_assert(PQntuples(res) <= 1);
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		*out = g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return TRUE;
}

gboolean db_begin(db *d, GError **error)
{
	return db_exec(d, "BEGIN", error);
}

gboolean db_commit(db *d, GError **error)
{
	return db_exec(d, "COMMIT", error);
}

void db_rollback(db *d)
{
	if (PQtransactionStatus(d->conn) != PQTRANS_IDLE) {
		PGresult *res = PQexec(d->conn, "ROLLBACK");
		PQclear(res);
	}
}

gboolean db_copy_begin(db *d, const char *copy_sql, GError **error)
{
	PGresult *res = PQexec(d->conn, copy_sql);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		set_pg_error(d, res, "cannot start COPY", error);
		PQclear(res);
		return FALSE;
	}
	PQclear(res);
	return TRUE;
}

gboolean db_copy_put(db *d, const char *buf, size_t len, GError **error)
{
	g_assert(len <= INT32_MAX);
	if (len == 0)
		return TRUE;
	if (PQputCopyData(d->conn, buf, (int)len) != 1) {
		set_pg_error(d, NULL, "COPY failed", error);
		return FALSE;
	}
	return TRUE;
}

gboolean db_copy_end(db *d, GError **error)
{
	if (PQputCopyEnd(d->conn, NULL) != 1) {
		set_pg_error(d, NULL, "COPY failed", error);
		return FALSE;
	}
	gboolean ok = TRUE;
	PGresult *res;
	while ((res = PQgetResult(d->conn)) != NULL) {
		if (ok && PQresultStatus(res) != PGRES_COMMAND_OK) {
			set_pg_error(d, res, "COPY failed", error);
			ok = FALSE;
		}
		PQclear(res);
	}
	return ok;
}

static void copy_sep(GString *row)
{
	if (row->len > 0 && row->str[row->len - 1] != '\n')
		g_string_append_c(row, '\t');
}

void db_copy_textn(GString *row, const char *text, size_t len)
{
	copy_sep(row);
	if (!text) {
		g_string_append(row, "\\N");
		return;
	}
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		switch (c) {
		case '\\': g_string_append(row, "\\\\"); break;
		case '\t': g_string_append(row, "\\t"); break;
		case '\n': g_string_append(row, "\\n"); break;
		case '\r': g_string_append(row, "\\r"); break;
		default: g_string_append_c(row, c);
		}
	}
}

void db_copy_text(GString *row, const char *text)
{
	db_copy_textn(row, text, text ? strlen(text) : 0);
}

void db_copy_int(GString *row, int64_t value)
{
	copy_sep(row);
	g_string_append_printf(row, "%" G_GINT64_FORMAT, (gint64)value);
}

void db_copy_null(GString *row)
{
	copy_sep(row);
	g_string_append(row, "\\N");
}

void db_copy_bool(GString *row, gboolean value)
{
	copy_sep(row);
	g_string_append_c(row, value ? 't' : 'f');
}

void db_copy_bytea(GString *row, const unsigned char *bytes, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	copy_sep(row);
	g_string_append(row, "\\\\x");
	for (size_t i = 0; i < len; i++) {
		g_string_append_c(row, hex[bytes[i] >> 4]);
		g_string_append_c(row, hex[bytes[i] & 0xf]);
	}
}

void db_copy_row_end(GString *row)
{
	g_string_append_c(row, '\n');
}

gboolean db_lock_settlement(db *d, GError **error)
{
	const char *params[] = { d->programme };
	char *got = NULL;
	g_autofree char *sql = g_strdup_printf("SELECT pg_try_advisory_lock(%d, hashtext($1))", DB_LOCK_CLASS);
	if (!db_scalar(d, sql, 1, params, &got, error))
		return FALSE;
	gboolean held = got && strcmp(got, "t") == 0;
	g_free(got);
	if (!held) {
		g_set_error(error, DB_ERROR, STATUS_TEMPFAIL,
			    "another run holds the settlement lock of programme '%s'; try later", d->programme);
		return FALSE;
	}
	d->settlement_locked = TRUE;
	return TRUE;
}

gboolean db_wait_settlement_xact(db *d, GError **error)
{
	g_assert(PQtransactionStatus(d->conn) == PQTRANS_INTRANS);
	const char *params[] = { d->programme };
	g_autofree char *sql = g_strdup_printf("SELECT pg_advisory_xact_lock(%d, hashtext($1))", DB_LOCK_CLASS);
	PGresult *res = db_query(d, sql, 1, params, error);
	if (!res)
		return FALSE;
	PQclear(res);
	return TRUE;
}

gboolean db_lock_init(db *d, GError **error)
{
	g_autofree char *sql = g_strdup_printf("SELECT pg_advisory_lock(%d, 0)", DB_LOCK_CLASS_INIT);
	return db_exec(d, sql, error);
}

void db_unlock_settlement(db *d)
{
	const char *params[] = { d->programme };
	g_autofree char *sql = g_strdup_printf("SELECT pg_advisory_unlock(%d, hashtext($1))", DB_LOCK_CLASS);
	PGresult *res = PQexecParams(d->conn, sql, 1, NULL, params, NULL, NULL, 0);
	PQclear(res);
	d->settlement_locked = FALSE;
}
