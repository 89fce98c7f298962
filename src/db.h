/* db.h: a thin libpq wrapper: connect, run statements, stream COPY, report errors with SQLSTATE.
 *
 * Every function that can fail takes GError **error last; the error's code is an exit_status
 * (STATUS_UNAVAILABLE when the server cannot be reached, STATUS_TEMPFAIL for a lock that is held,
 * STATUS_SOFTWARE otherwise) and its message carries the SQLSTATE. Results returned to the caller
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
 * Sets the session to UTF-8, China time (Asia/Shanghai), and the programme. A conninfo libpq
 * cannot parse is STATUS_USAGE; a database that does not answer, STATUS_UNAVAILABLE. */
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
gboolean db_commit(db *d, GError **error);
void db_rollback(db *d);

/* COPY ... FROM STDIN in text format: begin, put any number of buffers, end. */
gboolean db_copy_begin(db *d, const char *copy_sql, GError **error);
gboolean db_copy_put(db *d, const char *buf, size_t len, GError **error);
gboolean db_copy_end(db *d, GError **error);

/* Appending one field of a COPY text row. Each appends its separator first unless the row is
 * empty; db_copy_row_end appends the newline. NULL text is \N. */
void db_copy_text(GString *row, const char *text);
void db_copy_textn(GString *row, const char *text, size_t len);
void db_copy_int(GString *row, int64_t value);
void db_copy_null(GString *row);
void db_copy_bool(GString *row, gboolean value);
void db_copy_bytea(GString *row, const unsigned char *bytes, size_t len);
void db_copy_row_end(GString *row);

/* The settlement lock: one advisory lock key per programme. A settlement (settle, nightly,
 * payments load) takes it for its session and gives up at once when it is held:
 * db_lock_settlement is FALSE with STATUS_TEMPFAIL then. Writers that must not overlap a
 * settlement but may wait for one (an ingest's file, a registry load) take the same key for their
 * transaction with db_wait_settlement_xact. A session never conflicts with its own lock, so
 * nightly ingests while it holds the lock. Released with the session or db_unlock_settlement. */
gboolean db_lock_settlement(db *d, GError **error);
gboolean db_wait_settlement_xact(db *d, GError **error);
void db_unlock_settlement(db *d);

/* Serialises `subsidy init` runs on a cluster (another advisory lock class). */
gboolean db_lock_init(db *d, GError **error);

#endif
