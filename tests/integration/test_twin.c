/* test_twin.c: db.c's second session on one snapshot (db_twin_read), the statements queued on it
 * (db_queue_*), and the copy of rows between two sessions (db_copy_between), which verify and
 * replay build on: the twin sees what its first session sees and nothing committed since; a
 * queued statement's error is its own, and those queued after it say so; a session ended by the
 * server is the database gone (exit 69), not an internal error. */
#include "db.h"
#include "harness.h"
#include "status.h"

#include <criterion/criterion.h>
#include <string.h>

#define OK(call) cr_assert((call), "%s", error ? error->message : "(no error)")

static int64_t count_on(db *d, const char *sql)
{
	GError *error = NULL;
	char *v = NULL;
	OK(db_scalar(d, sql, 0, NULL, &v, &error));
	int64_t n = g_ascii_strtoll(v, NULL, 10);
	g_free(v);
	return n;
}

/* A row committed by a third session after the first session's snapshot: the twin does not see
 * it, a fresh session does; the first session's temporary rows reach the twin only by a copy. */
Test(twin, the_second_session_sees_the_first_sessions_instant_and_its_copied_rows)
{
	const char *conninfo = h_fresh_db();
	cr_assert(h_exec(conninfo, "CREATE TABLE probe (n int); INSERT INTO probe VALUES (1)", NULL));
	GError *error = NULL;
	db *d = db_connect(conninfo, "default", &error);
	OK(d);
	OK(db_exec(d, "CREATE TEMP TABLE mine (n int)", &error));
	OK(db_begin_read(d, &error));
	cr_assert_eq(count_on(d, "SELECT count(*) FROM probe"), 1);
	OK(db_exec(d, "INSERT INTO mine SELECT generate_series(1, 25000)", &error));
	cr_assert(h_exec(conninfo, "INSERT INTO probe VALUES (2)", NULL));
	db *twin = db_twin_read(d, "CREATE TEMP TABLE mine (n int)", &error);
	OK(twin);
	cr_assert_eq(count_on(twin, "SELECT count(*) FROM probe"), 1, "the twin sees a row committed after the snapshot");
	cr_assert_eq(h_sql_int(conninfo, "SELECT count(*) FROM probe"), 2);
	cr_assert_eq(count_on(twin, "SELECT count(*) FROM mine"), 0);
	OK(db_copy_between(d, "COPY mine TO STDOUT", twin, "COPY mine FROM STDIN", &error));
	cr_assert_eq(count_on(twin, "SELECT sum(n) FROM mine"), 25000 * 25001 / 2);
	/* Once what is queued has run, the twin waits for its client as after any statement (idle in
	 * its transaction, so the idle timeout applies), not "active" as after a mere flush. */
	char *pid = NULL;
	OK(db_scalar(twin, "SELECT pg_backend_pid()::text", 0, NULL, &pid, &error));
	g_autofree char *state = g_strdup_printf("SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
						 " AND state = 'idle in transaction'", pid);
	g_free(pid);
	OK(db_queue_send(twin, "SELECT 1", 0, NULL, &error));
	OK(db_queue_flush(twin, &error));
	PGresult *res = db_queue_result(twin, &error);
	OK(res);
	PQclear(res);
	int64_t idle = 0;
	for (int tries = 0; tries < 50 && !idle; tries++) {
		idle = h_sql_int(conninfo, state);
		if (!idle)
			g_usleep(20000);
	}
	cr_assert_eq(idle, 1, "the twin is not idle in its transaction after its queue ran");
	db_close(twin); /* it stays in pipeline mode */
	/* A copy whose source fails is an error that names it, and the copy into the other session
	 * ends refused (each transaction is then aborted, as after any failed statement). */
	twin = db_twin_read(d, "CREATE TEMP TABLE mine (n int)", &error);
	OK(twin);
	cr_assert(!db_copy_between(d, "COPY nothing_here TO STDOUT", twin, "COPY mine FROM STDIN", &error));
	cr_assert(error && strstr(error->message, "nothing_here"), "%s", error ? error->message : "");
	g_clear_error(&error);
	cr_assert(!db_exec(twin, "SELECT 1", &error) && strstr(error->message, "aborted"), "%s",
		  error ? error->message : "(no error)");
	g_clear_error(&error);
	db_close(twin);
	db_close(d);
}

/* Three statements queued, the second failing: the first's rows, the second's own error, then
 * the third refused as queued after a failure. */
Test(twin, a_queued_statement_fails_alone_and_those_after_it_say_so)
{
	const char *conninfo = h_fresh_db();
	GError *error = NULL;
	db *d = db_connect(conninfo, "default", &error);
	OK(d);
	OK(db_begin_read(d, &error));
	OK(db_queue_send(d, "SELECT 41 + 1", 0, NULL, &error));
	OK(db_queue_send(d, "SELECT 1 / 0", 0, NULL, &error));
	OK(db_queue_send(d, "SELECT 2", 0, NULL, &error));
	OK(db_queue_flush(d, &error));
	PGresult *res = db_queue_result(d, &error);
	OK(res);
	cr_assert_str_eq(PQgetvalue(res, 0, 0), "42");
	PQclear(res);
	cr_assert_null(db_queue_result(d, &error));
	cr_assert(error && strstr(error->message, "division by zero") && error->code == STATUS_SOFTWARE, "%s",
		  error ? error->message : "");
	g_clear_error(&error);
	cr_assert_null(db_queue_result(d, &error));
	cr_assert(error && strstr(error->message, "queued before it failed"), "%s", error ? error->message : "");
	g_clear_error(&error);
	db_close(d);
}

/* The server ends the twin in the middle of a queue: its error is the database's absence. */
Test(twin, a_session_the_server_ends_is_the_database_gone)
{
	const char *conninfo = h_fresh_db();
	GError *error = NULL;
	db *d = db_connect(conninfo, "default", &error);
	OK(d);
	OK(db_begin_read(d, &error));
	db *twin = db_twin_read(d, NULL, &error);
	OK(twin);
	char *pid = NULL;
	OK(db_scalar(twin, "SELECT pg_backend_pid()::text", 0, NULL, &pid, &error));
	g_autofree char *end = g_strdup_printf("SELECT pg_terminate_backend(%s, 5000)", pid);
	g_free(pid);
	OK(db_queue_send(twin, "SELECT pg_sleep(0.5)", 0, NULL, &error));
	OK(db_queue_flush(twin, &error));
	cr_assert(h_exec(conninfo, end, NULL));
	cr_assert_null(db_queue_result(twin, &error));
	cr_assert(error && error->code == STATUS_UNAVAILABLE, "exit %d: %s", error ? error->code : 0,
		  error ? error->message : "");
	g_clear_error(&error);
	db_close(twin);
	db_close(d);
}
