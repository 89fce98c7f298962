/* harness.h: what integration tests share: a fresh database per test (cloned from the migrated
 * template that scripts/check prepares), running the built binary, and asking the database.
 *
 * Environment (set by scripts/check): SUBSIDY_TEST_ADMIN, a superuser's connection string
 * without dbname; SUBSIDY_TEMPLATE, the migrated template database; SUBSIDY_BIN, the binary. */
#ifndef SUBSIDY_HARNESS_H
#define SUBSIDY_HARNESS_H

#include <glib.h>
#include <stdint.h>

typedef struct {
	int status;  /* exit status, or 128+signal */
	char *out;
	char *err;
} h_result;

/* A new database cloned from the template, dropped when the test process exits; returns its
 * connection string (owned by the harness). A test may make several. */
const char *h_fresh_db(void);

/* The connection string of db as another role (e.g. "subsidy_auditor"); caller frees. */
char *h_as_role(const char *db, const char *role);

/* A login role with the auditor's rights that may open one connection only (CONNECTION LIMIT 1),
 * named for this test process; returns its name (caller frees). Roles are the cluster's: drop it
 * with h_drop_role before any assertion that may fail. */
char *h_lone_auditor(const char *db);
void h_drop_role(const char *db, const char *role);

/* Runs the binary with --db db (NULL: no --db) and the NULL-terminated arguments. */
h_result h_run(const char *db, ...) G_GNUC_NULL_TERMINATED;
h_result h_runv(const char *db, const char *const *args);
void h_result_clear(h_result *r);

/* A single value from a query (NULL for SQL NULL), in China time; the test fails on a database
 * error. h_sql and h_exec keep one session per db for the test (h_exec's reset after each
 * statement), so a database the test uses as a template must be let go first: h_disconnect. */
char *h_sql(const char *db, const char *sql);
int64_t h_sql_int(const char *db, const char *sql);
/* The same, with the query formatted printf-style. */
char *h_sqlf(const char *db, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
int64_t h_sql_intf(const char *db, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Runs a statement; returns FALSE with the message in *error_text (may be NULL) on failure. */
gboolean h_exec(const char *db, const char *sql, char **error_text);
/* Closes the sessions h_sql and h_exec keep for db (the next call opens another). */
void h_disconnect(const char *db);

/* A temporary directory removed when the test process exits. */
const char *h_tmpdir(void);
/* Writes bytes to dir/name; returns the path (caller frees). */
char *h_write(const char *dir, const char *name, const char *bytes, gssize len);
/* Reads a whole file; caller frees. */
char *h_read(const char *path, gsize *len);

/* The repository root (tests run from there) joined with a relative path; caller frees. */
char *h_path(const char *relative);

/* Starts two runs of the binary with --db db and the NULL-terminated arguments at the same moment
 * and waits for both; their exit statuses go to codes. */
void h_run_together(const char *db, int codes[2], ...) G_GNUC_NULL_TERMINATED;

/* A new connection to db (as the admin) holding the settlement lock of programme 'default' as a
 * run holds it (sql/004: its row of settlement_locks, in an open transaction); PQfinish releases
 * it. The caller includes libpq-fe.h. */
struct pg_conn *h_hold_settlement_lock(const char *db);

/* Waits (a few seconds at most) until no other session is connected to db: after a test kills
 * the binary, its server backend may still hold the settlement lock for a moment, and a rerun
 * would rightly exit 75. */
void h_wait_sessions_gone(const char *db);

/* Runs the binary on db with args (NULL-terminated) and SUBSIDY_FAULT=point: it must die of
 * SIGKILL there (the fault points of src/fault.h); then waits until its session is gone. */
void h_run_killed(const char *db, const char *point, const char *const *args);
#define H_RUN_KILLED(db, point, ...)                                                                           \
	do {                                                                                                      \
		const char *args_[] = { __VA_ARGS__, NULL };                                                      \
		h_run_killed(db, point, args_);                                                                   \
	} while (0)

/* The parameters of a test run once per index 0..n-1 (n at most H_INDEX_MAX): each index a test of
 * its own, which the runner runs in parallel (the kill points). */
#define H_INDEX_MAX 64
#define H_INDEX_PARAMETERS(n)                                                                                  \
	do {                                                                                                      \
		static int indices_[H_INDEX_MAX];                                                                 \
		_Static_assert((n) <= H_INDEX_MAX, "too many indices");                                          \
		for (int i_ = 0; i_ < (int)(n); i_++)                                                             \
			indices_[i_] = i_;                                                                        \
		return cr_make_param_array(int, indices_, (n));                                                   \
	} while (0)

/* A dump of the ledger's content (postings, entries, what batches pay, orders, pool balances,
 * payments) and of the files and lines ingested, every column but the times and digests of record,
 * one line per row in a fixed order: two databases with the same dump hold the same ledger entry
 * for entry. Files appear by name and rank in ingest order, never by file_id (a sequence: a killed
 * transaction burns values), so a run interrupted and finished dumps as an uninterrupted one. */
char *h_ledger_dump(const char *db);

/* Writes text to KIND.csv in the test's temporary directory and loads it as registry data of that
 * kind; asserts exit 0. */
void h_load_text(const char *db, const char *kind, const char *text);

/* Writes text to a file in the test's temporary directory and ingests it; asserts the exit. */
void h_ingest_text(const char *db, const char *name, const char *text, int want_status);

/* Runs settle --json; asserts exit 0; returns stdout, trimmed (caller frees). */
char *h_settle(const char *db);
/* h_settle with settle's diagnostics on (G_MESSAGES_DEBUG=all): *said gets them (stderr, to free). */
char *h_settle_said(const char *db, char **said);

/* Loads every fixture registry file of dir (policies, shops, senders, households, campaigns,
 * budgets, those present) into db; asserts each load exits 0. */
void h_load_registry(const char *db, const char *dir);

/* Approves (subsidy approve, as db's role) every batch not approved yet: payment results apply
 * only to approved batches (CONTROL.md "Approve a batch"); asserts each exits 0. */
void h_approve_all(const char *db);

/* The postings of the order numbered order_no, in batch order, as "funded:status:correction,..."
 * (correction '-' when none); NULL when it has none. Caller frees. */
char *h_postings_of(const char *db, const char *order_no);
/* Asserts h_postings_of(db, order_no) is want ("(none)" for none). */
void h_assert_postings(const char *db, const char *order_no, const char *want);
/* Runs the binary with args (NULL-terminated); asserts exit status want and, when must_have is not
 * NULL, that stdout or stderr holds it. H_RUN takes the args inline. */
void h_assert_run(const char *db, int want, const char *must_have, const char *const *args);
#define H_RUN(db, want, must_have, ...)                                                                          \
	do {                                                                                                      \
		const char *args_[] = { __VA_ARGS__, NULL };                                                      \
		h_assert_run(db, want, must_have, args_);                                                         \
	} while (0)
/* replay of 2018 with --registry registry, then verify: both exit 0; and h_assert_lines_counted_keyed. */
void h_assert_replay_and_verify_clean(const char *db, const char *registry);
/* order_lines_counted(programme, shop, key) (sql/017, what a small night's settlement reads) holds,
 * for every order any line or line act names, the rows lines_counted() holds for it: no more, no
 * fewer, none changed. */
void h_assert_lines_counted_keyed(const char *db);

#endif
