/* db.h: a thin libpq wrapper: connect, run statements, stream COPY, report errors with SQLSTATE.
 *
 * Every function that can fail takes GError **error last; the error's code is an exit_status
 * (STATUS_UNAVAILABLE when the server cannot be reached, STATUS_TEMPFAIL for a lock that is held,
 * STATUS_NOPERM for SQLSTATE 42501, a role that may not, STATUS_SOFTWARE otherwise) and its message carries the SQLSTATE. Results returned to the caller
 * are the caller's to PQclear. */
#ifndef SUBSIDY_DB_H
#define SUBSIDY_DB_H

#include <glib.h>
#include <libpq-fe.h>
#include <stdint.h>

#define DB_ERROR db_error_quark()
GQuark db_error_quark(void);

typedef struct db db;

/* Connects with a libpq connection string or URI (NULL or "": libpq's defaults, PGHOST...).
 * Sets the session to UTF-8, China time (Asia/Shanghai), and the programme, and ties it to the
 * client's life: a statement whose client has gone is ended within a second or two, an idle
 * session after ten minutes (see db.c). A conninfo libpq cannot parse is STATUS_USAGE; a database
 * that does not answer, STATUS_UNAVAILABLE. */
db *db_connect(const char *conninfo, const char *programme, GError **error);
void db_close(db *d);
PGconn *db_conn(db *d);
const char *db_programme(const db *d);

/* The SQLSTATE of the last failed statement, "" if none. */
const char *db_last_sqlstate(const db *d);

/* Runs a statement that returns no rows we need. */
gboolean db_exec(db *d, const char *sql, GError **error);

/* Runs a statement with text parameters; returns its result (rows or none) or NULL on error. */
PGresult *db_query(db *d, const char *sql, int n_params, const char *const *params, GError **error);

/* Runs a query expected to return one row and one column; returns a new string (NULL value: NULL
 * with no error). */
gboolean db_scalar(db *d, const char *sql, int n_params, const char *const *params, char **out,
		   GError **error);

gboolean db_begin(db *d, GError **error);
/* Begins a read-only transaction on one snapshot (REPEATABLE READ READ ONLY): what a command that
 * only reads sees, every query of it at the same instant. End it with db_rollback. */
gboolean db_begin_read(db *d, GError **error);
gboolean db_commit(db *d, GError **error);
void db_rollback(db *d);

/* A second session of d's database, as d's user, in a read-only transaction that sees exactly
 * what d's open one (db_begin_read) sees: d's snapshot, exported and imported (SET TRANSACTION
 * SNAPSHOT), after the statement before (NULL: none), which it runs first outside any transaction
 * (a temporary table the transaction, read only, may not create). A command that reads one
 * instant can then read it on two server processes at once.
 * Close it (db_close) before d's transaction ends. NULL without an error when no second session
 * can be had (a connection limit): d's transaction is as it was, the reason is logged
 * (G_MESSAGES_DEBUG), and the caller reads alone. NULL with the error when d's export failed. */
db *db_twin_read(db *d, const char *before, GError **error);

/* Statements queued on a session (libpq's pipeline mode): the server runs them one after the
 * other, without waiting for the client, while the client does other work. db_queue_send each,
 * db_queue_flush, then db_queue_result for each in the order sent (a new result, or NULL with the
 * error of the statement, or of the one before it that failed); more may be queued and flushed
 * after results are read. A session that queued stays in pipeline mode: close it after. */
gboolean db_queue_send(db *d, const char *sql, int n_params, const char *const *params, GError **error);
gboolean db_queue_flush(db *d, GError **error);
PGresult *db_queue_result(db *d, GError **error);

/* Copies rows from one session to another: copy_out (COPY ... TO STDOUT) on from, streamed into
 * copy_in (COPY ... FROM STDIN) on to, a buffer at a time. */
gboolean db_copy_between(db *from, const char *copy_out, db *to, const char *copy_in, GError **error);

/* COPY ... FROM STDIN in text format: begin, put any number of buffers, end. */
gboolean db_copy_begin(db *d, const char *copy_sql, GError **error);
gboolean db_copy_put(db *d, const char *buf, size_t len, GError **error);
gboolean db_copy_end(db *d, GError **error);
/* One COPY of the rows in rows (text format, each ended by db_copy_row_end), then rows emptied for
 * the next chunk; nothing is sent when rows is empty. */
gboolean db_copy_rows(db *d, const char *copy_sql, GString *rows, GError **error);
/* db_copy_rows, but it returns once the rows are sent, not once the server has stored them, so
 * that the caller prepares its next rows while the server works (ingest: the next chunk is read and
 * parsed while the last one is stored). The COPY's result is read by db_copy_wait, which every
 * later statement on the connection calls first: its error, if any, is that statement's, and
 * nothing is ever sent after a failed COPY. A transaction's COMMIT is such a statement, so it can
 * never commit what a failed COPY left out. */
gboolean db_copy_rows_deferred(db *d, const char *copy_sql, GString *rows, GError **error);
/* Reads the result of the deferred COPY, if one is unread: FALSE with its error if it failed. */
gboolean db_copy_wait(db *d, GError **error);

/* Appending one field of a COPY text row. Each appends its separator first unless the row is
 * empty; db_copy_row_end appends the newline. NULL text is \N. */
void db_copy_text(GString *row, const char *text);
void db_copy_textn(GString *row, const char *text, size_t len);
void db_copy_int(GString *row, int64_t value);
void db_copy_null(GString *row);
void db_copy_bool(GString *row, gboolean value);
void db_copy_bytea(GString *row, const unsigned char *bytes, size_t len);
void db_copy_row_end(GString *row);

/* A text[] literal of n items, {"a","b",NULL}: each item quoted, its quotes and backslashes
 * escaped; a NULL item is SQL NULL. For passing a list as one text parameter ($1::text[]). */
char *db_text_array(const char *const *items, size_t n);

/* The settlement lock: a row lock on the programme's row of settlement_locks (sql/004). Locking a
 * row needs UPDATE on its table, which only the engine and finance roles have, so a role that may
 * only read cannot block the nightly (an advisory lock, which any role can take, could).
 *
 * A settlement (settle, nightly) holds it across its transactions: db_lock_settlement takes it on
 * a second connection of its own, in a transaction left open until db_unlock_settlement or
 * db_close, and gives up at once when it is held (FALSE with STATUS_TEMPFAIL). A killed run's
 * connections close with it, and the server ends the transaction and the lock.
 * A payments load takes it for its one transaction with db_try_settlement_xact (at once, or
 * STATUS_TEMPFAIL). Writers that must not overlap a settlement but may wait for one (an ingest's
 * file, a registry load) take it for their transaction with db_wait_settlement_xact. Both are
 * no-ops for a run that holds the lock itself (nightly ingests while it holds it).
 * A role that may not lock: STATUS_NOPERM. */
gboolean db_lock_settlement(db *d, GError **error);
gboolean db_try_settlement_xact(db *d, GError **error);
gboolean db_wait_settlement_xact(db *d, GError **error);
void db_unlock_settlement(db *d);

/* May the session's role act as role, or as role_or (NULL: role alone)? A member of either may,
 * and so may a superuser (pg_has_role says so for both). *may gets the answer and *user the
 * session's role (caller frees). */
gboolean db_role_may(db *d, const char *role, const char *role_or, gboolean *may, char **user, GError **error);

/* Serialises `subsidy init` runs on a cluster (another advisory lock class). */
gboolean db_lock_init(db *d, GError **error);

#endif
