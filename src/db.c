/* db.c: libpq wrapper; see db.h. */
#include "db.h"

#include "status.h"
#include "text.h"

#include <string.h>

G_DEFINE_QUARK(subsidy-db-error-quark, db_error)

/* The advisory lock class of init, chosen to stay clear of other applications' keys in a shared
 * cluster. (The settlement lock is a row lock: see db.h.) */
#define DB_LOCK_CLASS_INIT 0x5ab7

/* A session ends with its client. PostgreSQL notices a client that died only when it next reads
 * from or writes to it, so a killed run's backend went on running its statement, holding the
 * settlement lock, for as long as the statement took (issue 12: hours on a big night).
 * - DB_CLIENT_CHECK_INTERVAL: during a statement the server polls the client's socket this often
 *   and cancels the statement, ending the session, once the client has gone (a killed process's
 *   socket is closed by the kernel at once). A poll a second costs nothing measurable.
 * - DB_TCP_KEEPALIVES_*: over TCP, a client host that vanished without closing its sockets
 *   (power, network) is declared gone after idle + interval * count = 2 minutes of silence, which
 *   the same poll then sees. Ignored on a Unix socket.
 * - DB_IDLE_TIMEOUT: a client alive but stopped (SIGSTOP, a suspended machine) between two
 *   statements, in a transaction or not, holds its locks and its snapshot; its session is ended
 *   after ten minutes of idleness. subsidy is never idle that long while it works: between two
 *   statements it only prices or formats one chunk of 10,000 orders, reads one chunk of a manifest
 *   or moves one file (milliseconds to seconds on a loaded machine), so 10 minutes is a margin of
 *   two orders of magnitude. (The settlement lock's own session is set up apart: see
 *   db_lock_settlement.) A session that reads beside another (db_twin_read) may wait for the
 *   other's statement: that wait is as long as one statement, which on the data this runs on is
 *   seconds.
 * No statement_timeout is set: a legitimate statement's time grows with the data (a go-live night
 * of a million lines, a verify over years of ledger), so no fixed bound both stops a runaway and
 * never cuts a night short; a statement whose client is gone is ended by the check above, and one
 * whose client lives is the client's to wait for or kill. */
#define DB_CLIENT_CHECK_INTERVAL "1s"
#define DB_TCP_KEEPALIVES_IDLE "60"
#define DB_TCP_KEEPALIVES_INTERVAL "10"
#define DB_TCP_KEEPALIVES_COUNT "6"
#define DB_IDLE_TIMEOUT "10min"
/* The settlement lock's row, made the first time a programme is locked, and the lock itself. */
#define DB_LOCK_ROW_SQL "INSERT INTO settlement_locks (programme) VALUES ($1) ON CONFLICT DO NOTHING"
#define DB_LOCK_SQL "SELECT 1 FROM settlement_locks WHERE programme = $1 FOR UPDATE"

struct db {
	PGconn *conn;
	char *conninfo;
	char *programme;
	char sqlstate[6];
	PGconn *lock_conn;          /* holds the settlement lock in its open transaction, or NULL */
	gboolean settlement_locked; /* this run holds the settlement lock (lock_conn) */
	gboolean copy_pending;      /* a COPY sent whole whose result is unread (db_copy_rows_deferred) */
};

static void set_pg_error(db *d, const PGresult *res, const char *what, GError **error)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	g_strlcpy(d->sqlstate, state ? state : "", sizeof d->sqlstate);
	if (!msg)
		msg = PQerrorMessage(d->conn);
	int code = STATUS_SOFTWARE;
	/* A FATAL error ends the session (the server shut down, an administrator ended it, a timeout):
	 * the database is gone for this run, even before libpq has seen the socket close. */
	const char *severity = res ? PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED) : NULL;
	gboolean ended = severity && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0);
	if (PQstatus(d->conn) != CONNECTION_OK || g_str_has_prefix(d->sqlstate, "08") || ended)
		code = STATUS_UNAVAILABLE;
	else if (strcmp(d->sqlstate, "55P03") == 0)
		code = STATUS_TEMPFAIL;
	else if (strcmp(d->sqlstate, "42501") == 0) /* insufficient_privilege, and 004's role guards */
		code = STATUS_NOPERM;
	g_autofree char *trimmed = g_strstrip(g_strdup(msg));
	if (state)
		g_set_error(error, DB_ERROR, code, "%s: %s (SQLSTATE %s)", what, trimmed, state);
	else
		g_set_error(error, DB_ERROR, code, "%s: %s", what, trimmed);
	/* PostgreSQL's own shape: the primary line, then DETAIL: and HINT: lines as the server gave them. */
	const char *const parts[][2] = { { "DETAIL", detail }, { "HINT", hint } };
	for (size_t i = 0; i < G_N_ELEMENTS(parts) && error && *error; i++) {
		if (!parts[i][1] || !*parts[i][1])
			continue;
		char *with = text_message_add((*error)->message, parts[i][0], parts[i][1]);
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
	d->conninfo = g_strdup(conninfo ? conninfo : "");
	d->programme = g_strdup(programme);
	PQsetClientEncoding(conn, "UTF8");
	const char *params[] = { programme };
	/* jit off: the engine turns nested loops off for statements whose estimates it cannot trust
	 * (ledger.c, settle.c, replay.c), which adds PostgreSQL's disable cost of 10^10 to their plans,
	 * and every such statement, and every trigger and function run inside it, passed
	 * jit_above_cost and was compiled: 66 ms for a one-row catalogue query in a seal's guard,
	 * 70-100 ms for each of the twenty seal statements of every settlement. */
	PGresult *res = PQexecParams(conn,
				     "SELECT set_config('TimeZone', 'Asia/Shanghai', false),"
				     " set_config('client_min_messages', 'warning', false),"
				     " set_config('DateStyle', 'ISO, YMD', false),"
				     " set_config('IntervalStyle', 'postgres', false),"
				     " set_config('subsidy.programme', $1, false),"
				     " set_config('client_connection_check_interval', '" DB_CLIENT_CHECK_INTERVAL "', false),"
				     " set_config('tcp_keepalives_idle', '" DB_TCP_KEEPALIVES_IDLE "', false),"
				     " set_config('tcp_keepalives_interval', '" DB_TCP_KEEPALIVES_INTERVAL "', false),"
				     " set_config('tcp_keepalives_count', '" DB_TCP_KEEPALIVES_COUNT "', false),"
				     " set_config('idle_in_transaction_session_timeout', '" DB_IDLE_TIMEOUT "', false),"
				     " set_config('idle_session_timeout', '" DB_IDLE_TIMEOUT "', false),"
				     " set_config('jit', 'off', false)",
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
	if (d->settlement_locked) {
		db_rollback(d);
		db_unlock_settlement(d);
	}
	PQfinish(d->conn);
	g_free(d->conninfo);
	g_free(d->programme);
	g_free(d);
}

PGconn *db_conn(db *d)
{
	/* Its state (PQtransactionStatus) is ACTIVE, not what the caller asks about, until a deferred
	 * COPY's result is read. */
	g_assert(!d->copy_pending);
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
	if (!db_copy_wait(d, error))
		return NULL;
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
	enum { SCALAR_VALUE, SCALAR_COLUMNS };
	g_assert(PQnfields(res) == SCALAR_COLUMNS);
	g_assert(PQntuples(res) <= 1);
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, SCALAR_VALUE))
		*out = g_strdup(PQgetvalue(res, 0, SCALAR_VALUE));
	PQclear(res);
	return TRUE;
}

gboolean db_begin(db *d, GError **error)
{
	return db_exec(d, "BEGIN", error);
}

gboolean db_begin_read(db *d, GError **error)
{
	g_assert(d != NULL);
	g_assert(PQtransactionStatus(d->conn) == PQTRANS_IDLE);
	return db_exec(d, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", error);
}

/* No second session: why is logged (G_MESSAGES_DEBUG) and freed, and the caller reads alone. */
static db *twin_not_had(db *twin, GError *why)
{
	db_close(twin);
	g_debug("a second session on this snapshot cannot be had, one reads alone: %s", why->message);
	g_error_free(why);
	return NULL;
}

db *db_twin_read(db *d, const char *before, GError **error)
{
	g_assert(d != NULL && !d->copy_pending);
	g_assert(PQtransactionStatus(d->conn) == PQTRANS_INTRANS);
	/* Connected first: a session that cannot be had (a connection limit) leaves d's transaction
	 * as it was. */
	GError *why = NULL;
	db *twin = db_connect(d->conninfo, d->programme, &why);
	if (!twin || (before && !db_exec(twin, before, &why)))
		return twin_not_had(twin, why);
	char *id = NULL;
	if (!db_scalar(d, "SELECT pg_export_snapshot()", 0, NULL, &id, error)) {
		db_close(twin);
		return NULL;
	}
	/* The server names snapshots in hexadecimal digits and dashes (0000000A-0000001B-1); SET
	 * TRANSACTION SNAPSHOT takes no parameter, so the name is checked before it is quoted. */
	g_assert(id && *id && strspn(id, "0123456789ABCDEF-") == strlen(id));
	g_autofree char *import = g_strdup_printf("SET TRANSACTION SNAPSHOT '%s'", id);
	g_free(id);
	if (db_begin_read(twin, &why) && db_exec(twin, import, &why))
		return twin;
	return twin_not_had(twin, why);
}

gboolean db_queue_send(db *d, const char *sql, int n_params, const char *const *params, GError **error)
{
	g_assert(!d->copy_pending);
	if (PQpipelineStatus(d->conn) == PQ_PIPELINE_OFF && !PQenterPipelineMode(d->conn)) {
		set_pg_error(d, NULL, "cannot queue statements", error);
		return FALSE;
	}
	if (!PQsendQueryParams(d->conn, sql, n_params, NULL, params, NULL, NULL, 0)) {
		set_pg_error(d, NULL, "cannot queue a statement", error);
		return FALSE;
	}
	return TRUE;
}

gboolean db_queue_flush(db *d, GError **error)
{
	g_assert(PQpipelineStatus(d->conn) != PQ_PIPELINE_OFF);
	/* A sync, which inside the caller's transaction ends no transaction: once the server has run
	 * what is queued it waits for the client as after any statement, so the session's idle
	 * timeout applies (after a mere flush request it would stay "active", holding its snapshot
	 * for as long as the client lives). */
	if (!PQpipelineSync(d->conn) || PQflush(d->conn) != 0) {
		set_pg_error(d, NULL, "cannot send the queued statements", error);
		return FALSE;
	}
	return TRUE;
}

PGresult *db_queue_result(db *d, GError **error)
{
	g_assert(PQpipelineStatus(d->conn) != PQ_PIPELINE_OFF);
	/* The syncs' own results (db_queue_flush) come between the statements'. */
	PGresult *res;
	while (PQresultStatus(res = PQgetResult(d->conn)) == PGRES_PIPELINE_SYNC)
		PQclear(res);
	ExecStatusType st = PQresultStatus(res);
	gboolean ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
	d->sqlstate[0] = '\0';
	if (!res)
		set_pg_error(d, NULL, "database error", error); /* nothing queued, or the session has gone */
	else if (st == PGRES_PIPELINE_ABORTED)
		g_set_error(error, DB_ERROR, STATUS_SOFTWARE, "database error: a statement queued before it failed");
	else if (!ok)
		set_pg_error(d, res, "database error", error);
	/* Each statement's results end with NULL (unless the session itself has gone). */
	if (res) {
		PGresult *end = PQgetResult(d->conn);
		g_assert(end == NULL || !ok);
		PQclear(end);
	}
	if (ok)
		return res;
	PQclear(res);
	return NULL;
}

gboolean db_commit(db *d, GError **error)
{
	return db_exec(d, "COMMIT", error);
}

void db_rollback(db *d)
{
	d->copy_pending = FALSE; /* its result, whatever it was, is drained by the ROLLBACK's PQexec */
	if (PQtransactionStatus(d->conn) != PQTRANS_IDLE) {
		PGresult *res = PQexec(d->conn, "ROLLBACK");
		PQclear(res);
	}
}

gboolean db_copy_begin(db *d, const char *copy_sql, GError **error)
{
	if (!db_copy_wait(d, error))
		return FALSE;
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

/* The result of the COPY just ended: FALSE with the server's error if it failed. */
static gboolean copy_result(db *d, GError **error)
{
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

/* Sends the end of the COPY in progress; in blocking mode this returns once every byte is sent,
 * not once the server is done. */
static gboolean send_copy_end(db *d, GError **error)
{
	if (PQputCopyEnd(d->conn, NULL) != 1) {
		set_pg_error(d, NULL, "COPY failed", error);
		return FALSE;
	}
	return TRUE;
}

gboolean db_copy_end(db *d, GError **error)
{
	g_assert(!d->copy_pending);
	return send_copy_end(d, error) && copy_result(d, error);
}

gboolean db_copy_between(db *from, const char *copy_out, db *to, const char *copy_in, GError **error)
{
	if (!db_copy_wait(from, error) || !db_copy_begin(to, copy_in, error))
		return FALSE;
	PGresult *res = PQexec(from->conn, copy_out);
	gboolean out = PQresultStatus(res) == PGRES_COPY_OUT, ok = out;
	if (!out)
		set_pg_error(from, res, "cannot start COPY", error);
	PQclear(res);
	int n = -1;
	char *buf = NULL;
	/* Read to the end even after a failed put, so that from can go on. */
	while (out && (n = PQgetCopyData(from->conn, &buf, 0)) > 0) {
		ok = ok && db_copy_put(to, buf, (size_t)n, error);
		PQfreemem(buf);
	}
	if (ok && n == -2) {
		set_pg_error(from, NULL, "COPY failed", error);
		ok = FALSE;
	}
	if (n == -1)
		ok = copy_result(from, ok ? error : NULL) && ok;
	if (ok)
		return db_copy_end(to, error);
	/* The COPY into to ends refused, and nothing of it stays. */
	if (PQputCopyEnd(to->conn, "the rows to copy could not be read") == 1)
		copy_result(to, NULL);
	return FALSE;
}

gboolean db_copy_rows(db *d, const char *copy_sql, GString *rows, GError **error)
{
	return db_copy_rows_deferred(d, copy_sql, rows, error) && db_copy_wait(d, error);
}

gboolean db_copy_rows_deferred(db *d, const char *copy_sql, GString *rows, GError **error)
{
	g_assert(d != NULL && copy_sql != NULL && rows != NULL);
	g_assert(rows->len == 0 || rows->str[rows->len - 1] == '\n');
	if (rows->len == 0)
		return TRUE;
	gboolean ok = db_copy_begin(d, copy_sql, error) && db_copy_put(d, rows->str, rows->len, error);
	g_string_truncate(rows, 0);
	if (!ok)
		return FALSE;
	if (!send_copy_end(d, error)) {
		copy_result(d, NULL);
		return FALSE;
	}
	d->copy_pending = TRUE;
	return TRUE;
}

gboolean db_copy_wait(db *d, GError **error)
{
	if (!d->copy_pending)
		return TRUE;
	d->copy_pending = FALSE;
	return copy_result(d, error);
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
	/* Runs of plain bytes are appended whole: a byte at a time was the largest part of a
	 * settlement's client time (perf: 13.6% of its samples, 1,000,000 lines). */
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *run = p;
		while (p < end && *p != '\\' && *p != '\t' && *p != '\n' && *p != '\r')
			p++;
		if (p > run)
			g_string_append_len(row, run, p - run);
		if (p == end)
			break;
		switch (*p++) {
		case '\\': g_string_append(row, "\\\\"); break;
		case '\t': g_string_append(row, "\\t"); break;
		case '\n': g_string_append(row, "\\n"); break;
		default: g_string_append(row, "\\r"); break;
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
	/* By hand: printf's machinery was a tenth of an ingest's client time (perf, 200,000 lines). */
	char digits[24];
	char *p = digits + sizeof digits;
	uint64_t u = value < 0 ? -(uint64_t)value : (uint64_t)value;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (value < 0)
		*--p = '-';
	g_string_append_len(row, p, digits + sizeof digits - p);
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

char *db_text_array(const char *const *items, size_t n)
{
	GString *a = g_string_new("{");
	for (size_t i = 0; i < n; i++) {
		if (i)
			g_string_append_c(a, ',');
		if (!items[i]) {
			g_string_append(a, "NULL");
			continue;
		}
		g_string_append_c(a, '"');
		for (const char *p = items[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				g_string_append_c(a, '\\');
			g_string_append_c(a, *p);
		}
		g_string_append_c(a, '"');
	}
	g_string_append_c(a, '}');
	g_assert(a->len >= 2 && a->str[0] == '{' && a->str[a->len - 1] == '}');
	return g_string_free(a, FALSE);
}

/* Runs one statement of the settlement lock on conn; the error says what a held lock and a role
 * that may not lock mean. */
static gboolean lock_statement(db *d, PGconn *conn, const char *sql, GError **error)
{
	/* On the run's own connection, its callers have read any deferred COPY's result first. */
	g_assert(conn != d->conn || !d->copy_pending);
	const char *params[] = { d->programme };
	PGresult *res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		PQclear(res);
		return TRUE;
	}
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state && strcmp(state, "55P03") == 0) {
		g_strlcpy(d->sqlstate, state, sizeof d->sqlstate);
		g_set_error(error, DB_ERROR, STATUS_TEMPFAIL,
			    "another run holds the settlement lock of programme '%s'; try later", d->programme);
	} else {
		PGconn *main = d->conn;
		d->conn = conn; /* set_pg_error reads the connection's state */
		set_pg_error(d, res, "cannot take the settlement lock", error);
		d->conn = main;
	}
	PQclear(res);
	return FALSE;
}

gboolean db_lock_settlement(db *d, GError **error)
{
	g_assert(!d->settlement_locked && d->lock_conn == NULL);
	PGconn *conn = PQconnectdb(d->conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		g_autofree char *msg = g_strstrip(g_strdup(PQerrorMessage(conn)));
		g_set_error(error, DB_ERROR, STATUS_UNAVAILABLE, "cannot connect for the settlement lock: %s", msg);
		PQfinish(conn);
		return FALSE;
	}
	/* The lock's session idles in its transaction for the whole run, so it gets no idle timeout
	 * (a long night would lose the lock in the middle); a killed run's session still ends at once,
	 * since an idle backend reads from its client and sees the socket close, and a vanished
	 * host's after the keepalives (db_connect). A run stopped (SIGSTOP) keeps the lock until it is
	 * continued or killed; its main session ends after DB_IDLE_TIMEOUT. */
	PGresult *res = PQexec(conn,
			       "SELECT set_config('tcp_keepalives_idle', '" DB_TCP_KEEPALIVES_IDLE "', false),"
			       " set_config('tcp_keepalives_interval', '" DB_TCP_KEEPALIVES_INTERVAL "', false),"
			       " set_config('tcp_keepalives_count', '" DB_TCP_KEEPALIVES_COUNT "', false)");
	gboolean begun = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	if (begun) {
		res = PQexec(conn, "BEGIN");
		begun = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
	}
	if (!begun || !lock_statement(d, conn, DB_LOCK_ROW_SQL, error) ||
	    !lock_statement(d, conn, DB_LOCK_SQL " NOWAIT", error)) {
		if (!begun)
			g_set_error(error, DB_ERROR, STATUS_UNAVAILABLE, "cannot begin the settlement lock's transaction");
		PQfinish(conn);
		return FALSE;
	}
	d->lock_conn = conn;
	d->settlement_locked = TRUE;
	return TRUE;
}

gboolean db_try_settlement_xact(db *d, GError **error)
{
	if (!db_copy_wait(d, error))
		return FALSE;
	g_assert(PQtransactionStatus(d->conn) == PQTRANS_INTRANS);
	return d->settlement_locked ||
	       (lock_statement(d, d->conn, DB_LOCK_ROW_SQL, error) &&
		lock_statement(d, d->conn, DB_LOCK_SQL " NOWAIT", error));
}

gboolean db_wait_settlement_xact(db *d, GError **error)
{
	if (!db_copy_wait(d, error))
		return FALSE;
	g_assert(PQtransactionStatus(d->conn) == PQTRANS_INTRANS);
	/* This run's own lock: its other connection holds the row, and waiting for it would wait
	 * forever. */
	if (d->settlement_locked)
		return TRUE;
	return lock_statement(d, d->conn, DB_LOCK_ROW_SQL, error) && lock_statement(d, d->conn, DB_LOCK_SQL, error);
}

/* The columns of the role check, by name. */
enum { ROLE_USER, ROLE_MAY, ROLE_COLUMNS };

gboolean db_role_may(db *d, const char *role, const char *role_or, gboolean *may, char **user, GError **error)
{
	g_assert(role != NULL);
	g_assert(may != NULL && user != NULL);
	*may = FALSE;
	*user = NULL;
	const char *params[] = { role, role_or ? role_or : role };
	PGresult *res = db_query(d,
				 "SELECT current_user, pg_has_role(current_user, $1, 'USAGE')"
				 " OR pg_has_role(current_user, $2, 'USAGE')",
				 2, params, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == ROLE_COLUMNS);
	g_assert(PQntuples(res) == 1);
	*may = strcmp(PQgetvalue(res, 0, ROLE_MAY), "t") == 0;
	*user = g_strdup(PQgetvalue(res, 0, ROLE_USER));
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
	if (!d->lock_conn)
		return;
	/* PQfinish does not wait for the server to end the session, and the lock lives until the
	 * server has: end the transaction first, so the next run (cron's, a test's) finds it free. */
	PGresult *res = PQexec(d->lock_conn, "ROLLBACK");
	PQclear(res);
	PQfinish(d->lock_conn);
	d->lock_conn = NULL;
	d->settlement_locked = FALSE;
}
