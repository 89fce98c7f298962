/* test_settle_guard.c: a settlement's cost stays linear in its work, and a killed settlement does
 * not hold the settlement lock past its own life (issue 12, section 3).
 *
 * Plans: the server's auto_explain module (a superuser's PGOPTIONS for the run under test) sends
 * every statement's executed plan to the client as a WARNING, which the binary prints on stderr.
 * A plan is linear when nothing but an index look-up is run again for every row of another input:
 * the quadratic plan of a first night ran a HashAggregate over all the night's lines once per order,
 * and filtered every pair of orders in a nested loop's join filter. Counting the rows such repeated
 * nodes produce catches it on a few hundred orders, in well under a second, with no clock involved.
 * Registry: fixtures/small (C1 -> S1, C2 -> S2; pool "big" of 100,000.00). */
#include "db.h"
#include "harness.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"

/* Repeated work a linear plan may do, per line the settlement reads: generous, since a small
 * table (the pools, the shops) may rightly be scanned once per row of another; a quadratic plan
 * over N orders does about N*N/2. */
#define GUARD_REPEATED_ROWS_PER_LINE 10

static const char *setup(void)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	return db;
}

/* Runs `subsidy settle` (or the command given) with every statement's executed plan on its
 * stderr; asserts exit 0 and returns stderr (caller frees). */
static char *run_explained(const char *db, const char *command, const char *from, const char *to)
{
	char *argv[] = { (char *)g_getenv("SUBSIDY_BIN"), "--db", (char *)db, (char *)command,
			 from ? "--from" : NULL, (char *)from, "--to", (char *)to, NULL };
	g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "PGOPTIONS",
					      "-c session_preload_libraries=auto_explain"
					      " -c auto_explain.log_min_duration=0 -c auto_explain.log_analyze=on"
					      " -c auto_explain.log_timing=off -c auto_explain.log_level=warning",
					      TRUE);
	char *out = NULL, *err = NULL;
	int wait_status;
	GError *error = NULL;
	cr_assert(g_spawn_sync(NULL, argv, envp, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &wait_status, &error),
		  "%s", error ? error->message : "");
	cr_assert(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0, "%s: %s%s", command, out, err);
	cr_assert(strstr(err, "Query Text:") != NULL, "auto_explain printed no plan:\n%s", err);
	g_free(out);
	return err;
}

/* A plan node that reads a whole input each time it runs (not an index look-up). */
static gboolean rescans_input(const char *node)
{
	static const char *const kinds[] = { "Seq Scan", "CTE Scan", "WorkTable Scan", "Subquery Scan", "Materialize",
					     "Sort", "Incremental Sort", "HashAggregate", "GroupAggregate", "Unique",
					     "Hash", "Function Scan", "Append", "Result" };
	for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
		if (g_str_has_prefix(node, kinds[i]) &&
		    (node[strlen(kinds[i])] == ' ' || node[strlen(kinds[i])] == '\0'))
			return TRUE;
	return FALSE;
}

/* The rows that every plan in text produced by running a whole-input node more than once, plus
 * the rows join filters removed; *worst names the worst node. */
static int64_t repeated_rows(const char *text, char **worst)
{
	int64_t total = 0, worst_rows = 0;
	*worst = g_strdup("(none)");
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		const char *s = *l;
		while (*s == ' ' || *s == '\t')
			s++;
		if (g_str_has_prefix(s, "->"))
			s += 2;
		while (*s == ' ')
			s++;
		int64_t rows = 0;
		const char *removed = "Rows Removed by Join Filter: ";
		if (g_str_has_prefix(s, removed)) {
			rows = g_ascii_strtoll(s + strlen(removed), NULL, 10);
		} else {
			const char *actual = strstr(s, "(actual rows=");
			const char *cost = strstr(s, "  (cost=");
			if (!actual || !cost)
				continue;
			g_autofree char *node = g_strndup(s, cost - s);
			const char *loops_at = strstr(actual, "loops=");
			cr_assert(loops_at != NULL, "%s", s);
			int64_t r = g_ascii_strtoll(actual + strlen("(actual rows="), NULL, 10);
			int64_t loops = g_ascii_strtoll(loops_at + strlen("loops="), NULL, 10);
			if (loops <= 1 || !rescans_input(node))
				continue;
			rows = r * loops;
		}
		total += rows;
		if (rows > worst_rows) {
			worst_rows = rows;
			g_free(*worst);
			*worst = g_strdup(s);
		}
	}
	return total;
}

static char *settle_explained(const char *db)
{
	return run_explained(db, "settle", NULL, NULL);
}

static void assert_linear(const char *db, int64_t lines)
{
	g_autofree char *plans = settle_explained(db);
	g_autofree char *worst = NULL;
	int64_t repeated = repeated_rows(plans, &worst);
	cr_assert(repeated <= lines * GUARD_REPEATED_ROWS_PER_LINE,
		  "the settlement's plans repeat %" G_GINT64_FORMAT " rows of work for %" G_GINT64_FORMAT
		  " lines (a nested loop over the night's orders?); the worst:\n%s",
		  repeated, lines, worst);
}

/* Issue 12: right after ingest, as nightly does, in a database nobody has analysed, the planner
 * took the night's lines for one row and nested loops over them: 5,000 orders 2.7 s, 20,000 32 s,
 * 40,000 over 300 s. Then a second night on top of the first, before anything is analysed. */
/* A first night of 600 orders of two parcels each (a third of them a poverty shop's), ingested;
 * returns the lines. */
static int ingest_first_night(const char *db)
{
	g_autoptr(GString) csv = g_string_new(HEADER);
	int lines = 0;
	for (int i = 0; i < 600; i++, lines += 2) {
		const char *sender = i % 3 ? "C1" : "C2";
		g_string_append_printf(csv, "EMS,A%05d,N%05d,2018-06-05 10:%02d:00,%s,,1,7.%02d,,\n", i, i, i % 60, sender,
				       i % 100);
		g_string_append_printf(csv, "EMS,B%05d,N%05d,2018-06-05 11:%02d:00,%s,,1,9.00,,\n", i, i, i % 60, sender);
	}
	h_ingest_text(db, "night1.csv", csv->str, 0);
	return lines;
}

Test(settle_guard, a_first_and_a_second_night_settle_with_linear_plans)
{
	const char *db = setup();
	int lines = ingest_first_night(db);
	assert_linear(db, lines);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM orders"), 600);

	/* Night 2: a parcel more for half the orders, and as many new orders. */
	GString *csv = g_string_new(HEADER);
	for (int i = 0; i < 600; i += 2, lines += 2) {
		g_string_append_printf(csv, "EMS,C%05d,N%05d,2018-06-06 10:%02d:00,%s,,1,3.00,,\n", i, i, i % 60,
				       i % 3 ? "C1" : "C2");
		g_string_append_printf(csv, "EMS,D%05d,M%05d,2018-06-06 11:%02d:00,C2,,1,5.00,,\n", i, i, i % 60);
	}
	h_ingest_text(db, "night2.csv", csv->str, 0);
	g_string_free(csv, TRUE);
	assert_linear(db, lines);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM orders"), 900);
	h_result r = h_run(db, "verify", NULL);
	cr_assert_eq(r.status, 0, "verify: %s%s", r.out, r.err);
	h_result_clear(&r);
}

/* Right after a first night (nothing analysed, as an auditor would find it the next morning), a
 * replay of the month took the candidates, lines and postings for a row each and nested loops:
 * 20,000 orders 219 s, 50,000 never ended. Replay runs read-only under the auditor and cannot
 * ANALYZE; its plan must not depend on statistics. */
Test(settle_guard, a_replay_right_after_the_first_night_plans_linearly)
{
	const char *db = setup();
	int lines = ingest_first_night(db);
	g_free(settle_explained(db));
	g_autofree char *plans = run_explained(db, "replay", "2018-06-01", "2018-06-30");
	g_autofree char *worst = NULL;
	int64_t repeated = repeated_rows(plans, &worst);
	cr_assert(repeated <= lines * GUARD_REPEATED_ROWS_PER_LINE,
		  "the replay's plans repeat %" G_GINT64_FORMAT " rows of work for %d lines; the worst:\n%s", repeated,
		  lines, worst);
}

/* How long a killed run's backend may outlive it: the server checks that the client is still
 * there every second (client_connection_check_interval, set by db_connect); a few seconds more for
 * a loaded machine. */
#define GUARD_BACKEND_GONE_MS 10000

static char *backend_waiting_on_a_lock(const char *db)
{
	return h_sql(db, "SELECT max(pid)::text FROM pg_stat_activity WHERE datname = current_database()"
			 " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()");
}

/* Issue 12: a killed run's backend kept its query, and the settlement lock, running: PostgreSQL
 * notices a dead client only when it next writes to it. Here the settlement is made to wait inside
 * a statement (the test holds a lock on batches, which its first statement reads), holding the
 * settlement lock, and is SIGKILLed there. Its backend must end within seconds, and the next
 * settle must not exit 75 once the test lets go. */
Test(settle_guard, a_settlement_killed_inside_a_statement_lets_go_of_the_lock)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,K1,K1,2018-06-05 10:00:00,C1,,1,12.00,,\n", 0);
	PGconn *holder = PQconnectdb(db);
	cr_assert(PQstatus(holder) == CONNECTION_OK);
	PGresult *res = PQexec(holder, "BEGIN; LOCK TABLE batches IN ACCESS EXCLUSIVE MODE");
	cr_assert(PQresultStatus(res) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(res));
	PQclear(res);

	char *argv[] = { (char *)g_getenv("SUBSIDY_BIN"), "--db", (char *)db, "settle", NULL };
	GPid pid;
	cr_assert(g_spawn_async(NULL, argv, NULL,
				G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
				NULL, &pid, NULL));
	g_autofree char *backend = NULL;
	for (int ms = 0; !(backend = backend_waiting_on_a_lock(db)) && ms < GUARD_BACKEND_GONE_MS; ms += 50)
		g_usleep(50 * 1000);
	cr_assert(backend != NULL, "the settlement never waited on the test's lock");
	/* The settlement lock is the row of settlement_locks its other session holds. */
	static const char try_lock[] = "BEGIN; SELECT 1 FROM settlement_locks FOR UPDATE NOWAIT; ROLLBACK";
	cr_assert_not(h_exec(db, try_lock, NULL), "the waiting settlement holds the settlement lock");

	cr_assert_eq(kill(pid, SIGKILL), 0);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	g_spawn_close_pid(pid);
	g_autofree char *sql = g_strdup_printf("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", backend);
	int ms = 0;
	while (h_sql_int(db, sql) > 0 && ms < GUARD_BACKEND_GONE_MS) {
		g_usleep(50 * 1000);
		ms += 50;
	}
	cr_assert_eq(h_sql_int(db, sql), 0, "the killed settlement's backend %s still runs after %d ms", backend, ms);
	while (!h_exec(db, try_lock, NULL) && ms < GUARD_BACKEND_GONE_MS) {
		g_usleep(50 * 1000);
		ms += 50;
	}
	cr_assert(h_exec(db, try_lock, NULL), "the killed settlement's lock is still held after %d ms", ms);

	res = PQexec(holder, "ROLLBACK");
	PQclear(res);
	PQfinish(holder);
	g_autofree char *out = h_settle(db);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM postings"), 1, "%s", out);
}

/* A withdrawal, then the same bytes again, then a reclassification (CONTROL.md). The first two
 * settlements each seal a line state and a claim move for every line of the file. Sealed by
 * nested loop on estimates of a few rows, their anti-join compared every pair: 10,005 lines took
 * 18.8 s (ledger_seal_new); these 4,000 repeated 64 million rows of work (at 1,200 the planner
 * happened to hash). Autovacuum is kept off the tables read, so that no ANALYZE between the steps
 * hides it. */
Test(settle_guard, the_settlements_after_a_withdrawal_the_bytes_again_and_a_reclassification_plan_linearly)
{
	const char *db = setup();
	static const char *const unanalysed[] = { "line_acts", "claim_moves", "batch_seals", "lines", "waybills" };
	for (size_t i = 0; i < G_N_ELEMENTS(unanalysed); i++) {
		g_autofree char *error_text = NULL;
		g_autofree char *sql = g_strdup_printf("ALTER TABLE %s SET (autovacuum_enabled = off)", unanalysed[i]);
		cr_assert(h_exec(db, sql, &error_text), "%s: %s", sql, error_text);
	}
	g_autoptr(GString) csv = g_string_new(HEADER);
	int lines = 0;
	for (int i = 0; i < 4000; i++, lines++)
		g_string_append_printf(csv, "EMS,W%05d,N%05d,2018-06-05 10:%02d:00,C1,,1,7.00,,\n", i, i / 2, i % 60);
	h_ingest_text(db, "night1.csv", csv->str, 0);
	g_free(settle_explained(db));
	h_result r = h_run(db, "withdraw", "--file", "1", "--reason", "sent twice", NULL);
	cr_assert_eq(r.status, 0, "withdraw: %s%s", r.out, r.err);
	h_result_clear(&r);
	assert_linear(db, lines);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batch_seals WHERE tbl = 'line_acts'"), lines);
	h_ingest_text(db, "night1.csv", csv->str, 0);
	assert_linear(db, lines);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batch_seals WHERE tbl = 'claim_moves'"), 2 * lines);
	cr_assert_eq(h_sql_int(db, "SELECT sum(funded_fen) FROM postings"), 2000 * 700);
	/* Then every line reclassified: the cursor over the range's lines as the acts leave them joined
	 * each line to every line state by nested loop (acts.c reclassify_range): minutes at 100,000. */
	r = h_run(db, "reclassify", "--from", "2018-06-01", "--to", "2018-06-30", "--reason", "all again", NULL);
	cr_assert_eq(r.status, 0, "reclassify: %s%s", r.out, r.err);
	h_result_clear(&r);
	assert_linear(db, 2 * lines);
	cr_assert_eq(h_sql_int(db, "SELECT sum(funded_fen) FROM postings"), 2000 * 700);
}

/* The engine turns nested loops off for statements whose estimates it cannot trust, which adds
 * PostgreSQL's disable cost (10^10) to their plans: with JIT on, every such statement and every
 * trigger inside it was compiled by LLVM, 66 ms for a one-row catalogue look-up in a seal's guard,
 * more than half the integration suite's time. A session of the engine has JIT off, and such a
 * plan is not compiled; in the same session with JIT on (where the server has it) it is. */
Test(settle_guard, the_engine_session_compiles_no_plan_with_jit)
{
	const char *conninfo = setup();
	GError *error = NULL;
	db *d = db_connect(conninfo, "default", &error);
	cr_assert(d, "%s", error ? error->message : "");
	char *jit = NULL;
	cr_assert(db_scalar(d, "SHOW jit", 0, NULL, &jit, &error), "%s", error ? error->message : "");
	cr_assert_str_eq(jit, "off");
	g_free(jit);
	/* The look-up of the seals' guard (subsidy_bound, sql/004), which joins two catalogues. */
	static const char explain[] = "EXPLAIN (ANALYZE, TIMING OFF) SELECT NOT r.rolsuper"
				      " FROM pg_roles r, pg_class c WHERE r.rolname = current_user"
				      " AND c.oid = 'public.runs'::regclass";
	for (int on = 0; on < 2; on++) {
		cr_assert(db_exec(d, "BEGIN", &error) && db_exec(d, "SET LOCAL enable_nestloop = off", &error) &&
				  (!on || db_exec(d, "SET LOCAL jit = on", &error)),
			  "%s", error ? error->message : "");
		PGresult *res = db_query(d, explain, 0, NULL, &error);
		cr_assert(res, "%s", error ? error->message : "");
		g_autoptr(GString) plan = g_string_new("");
		for (int i = 0; i < PQntuples(res); i++)
			g_string_append_printf(plan, "%s\n", PQgetvalue(res, i, 0));
		PQclear(res);
		char *available = NULL;
		cr_assert(db_scalar(d, "SELECT pg_jit_available()::text", 0, NULL, &available, &error), "%s",
			  error ? error->message : "");
		gboolean compiled = strstr(plan->str, "JIT:") != NULL;
		if (!on)
			cr_assert(!compiled, "compiled with JIT off:\n%s", plan->str);
		else if (strcmp(available, "true") == 0)
			cr_assert(compiled, "not compiled with JIT on, so this test cannot tell:\n%s", plan->str);
		g_free(available);
		cr_assert(db_exec(d, "ROLLBACK", &error), "%s", error ? error->message : "");
	}
	db_close(d);
}
