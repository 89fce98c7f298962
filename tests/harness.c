/* harness.c: integration test support; see harness.h. */
#include "harness.h"

#include <criterion/criterion.h>
#include <glib/gstdio.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static GPtrArray *fresh_names;     /* databases this test process made */
static GPtrArray *fresh_conninfos;
static char *tmpdir;
/* One connection per conninfo for the whole test, not one per call: h_sql's sessions (China time)
 * and h_exec's (the server's defaults, reset after every statement) apart. */
static GHashTable *sql_conns;  /* conninfo -> PGconn * */
static GHashTable *exec_conns; /* conninfo -> PGconn * */

static const char *env(const char *name)
{
	const char *v = g_getenv(name);
	cr_assert(v != NULL && *v, "%s is not set: run the tests through scripts/check (make check)", name);
	return v;
}

static PGconn *connect_or_fail(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	cr_assert(PQstatus(c) == CONNECTION_OK, "cannot connect to '%s': %s", conninfo, PQerrorMessage(c));
	return c;
}

static void finish_conn(gpointer c)
{
	PQfinish(c);
}

/* The cached connection of conninfo in *cache, made (and for h_sql set to China time) or remade
 * when it is missing or broken (a test may have dropped its database with FORCE). */
static PGconn *cached_conn(GHashTable **cache, const char *conninfo, gboolean china_time)
{
	if (!*cache)
		*cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, finish_conn);
	PGconn *c = g_hash_table_lookup(*cache, conninfo);
	if (c && PQstatus(c) == CONNECTION_OK)
		return c;
	c = connect_or_fail(conninfo);
	if (china_time)
		PQclear(PQexec(c, "SET TimeZone = 'Asia/Shanghai'"));
	g_hash_table_replace(*cache, g_strdup(conninfo), c);
	return c;
}

void h_disconnect(const char *db)
{
	if (sql_conns)
		g_hash_table_remove(sql_conns, db);
	if (exec_conns)
		g_hash_table_remove(exec_conns, db);
}

static void disconnect_all(void)
{
	g_clear_pointer(&sql_conns, g_hash_table_unref);
	g_clear_pointer(&exec_conns, g_hash_table_unref);
}

static void cleanup(void)
{
	disconnect_all();
	if (fresh_names) {
		g_autofree char *ci = g_strdup_printf("%s dbname=postgres", g_getenv("SUBSIDY_TEST_ADMIN"));
		PGconn *c = PQconnectdb(ci);
		for (guint i = 0; i < fresh_names->len; i++) {
			g_autofree char *sql = g_strdup_printf("DROP DATABASE IF EXISTS %s WITH (FORCE)",
							       (char *)fresh_names->pdata[i]);
			PQclear(PQexec(c, sql));
		}
		PQfinish(c);
		g_clear_pointer(&fresh_names, g_ptr_array_unref);
		g_clear_pointer(&fresh_conninfos, g_ptr_array_unref);
	}
	if (tmpdir) {
		g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "harness: cannot remove %s\n", tmpdir);
		g_clear_pointer(&tmpdir, g_free);
	}
}

const char *h_fresh_db(void)
{
	static int counter;
	if (!fresh_names) {
		fresh_names = g_ptr_array_new_with_free_func(g_free);
		fresh_conninfos = g_ptr_array_new_with_free_func(g_free);
		atexit(cleanup);
	}
	char *fresh_name = g_strdup_printf("t_%d_%d", (int)getpid(), counter++);
	g_ptr_array_add(fresh_names, fresh_name);
	g_autofree char *sql = g_strdup_printf("CREATE DATABASE %s TEMPLATE %s", fresh_name, env("SUBSIDY_TEMPLATE"));
	/* The template may be busy for a moment while another test clones it. */
	for (int attempt = 0;; attempt++) {
		g_autofree char *ci = g_strdup_printf("%s dbname=postgres", env("SUBSIDY_TEST_ADMIN"));
		PGconn *c = connect_or_fail(ci);
		PGresult *r = PQexec(c, sql);
		ExecStatusType st = PQresultStatus(r);
		g_autofree char *msg = g_strdup(PQresultErrorMessage(r));
		PQclear(r);
		PQfinish(c);
		if (st == PGRES_COMMAND_OK)
			break;
		cr_assert(attempt < 200 && strstr(msg, "being accessed by other users"), "%s: %s", sql, msg);
		g_usleep(50 * 1000);
	}
	char *conninfo = g_strdup_printf("%s dbname=%s", env("SUBSIDY_TEST_ADMIN"), fresh_name);
	g_ptr_array_add(fresh_conninfos, conninfo);
	return conninfo;
}

char *h_as_role(const char *db, const char *role)
{
	return g_strdup_printf("%s user=%s", db, role);
}

char *h_lone_auditor(const char *db)
{
	char *role = g_strdup_printf("t_%d_lone", (int)getpid());
	g_autofree char *make = g_strdup_printf("DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN CONNECTION LIMIT 1"
						" IN ROLE subsidy_auditor", role, role);
	cr_assert(h_exec(db, make, NULL), "cannot create role %s", role);
	return role;
}

void h_drop_role(const char *db, const char *role)
{
	g_autofree char *drop = g_strdup_printf("DROP ROLE %s", role);
	cr_assert(h_exec(db, drop, NULL), "cannot drop role %s", role);
}

h_result h_runv(const char *db, const char *const *args)
{
	GPtrArray *argv = g_ptr_array_new();
	g_ptr_array_add(argv, (gpointer)env("SUBSIDY_BIN"));
	if (db) {
		g_ptr_array_add(argv, "--db");
		g_ptr_array_add(argv, (gpointer)db);
	}
	for (const char *const *a = args; *a; a++)
		g_ptr_array_add(argv, (gpointer)*a);
	g_ptr_array_add(argv, NULL);
	h_result r = { 0 };
	int wait_status = 0;
	GError *error = NULL;
	gboolean ok = g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &r.out, &r.err,
				   &wait_status, &error);
	cr_assert(ok, "cannot run %s: %s", env("SUBSIDY_BIN"), error ? error->message : "?");
	g_ptr_array_free(argv, TRUE);
	if (WIFEXITED(wait_status))
		r.status = WEXITSTATUS(wait_status);
	else if (WIFSIGNALED(wait_status))
		r.status = 128 + WTERMSIG(wait_status);
	return r;
}

h_result h_run(const char *db, ...)
{
	GPtrArray *args = g_ptr_array_new();
	va_list ap;
	va_start(ap, db);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
		g_ptr_array_add(args, (gpointer)a);
	va_end(ap);
	g_ptr_array_add(args, NULL);
	h_result r = h_runv(db, (const char *const *)args->pdata);
	g_ptr_array_free(args, TRUE);
	return r;
}

void h_result_clear(h_result *r)
{
	g_clear_pointer(&r->out, g_free);
	g_clear_pointer(&r->err, g_free);
}

char *h_sqlf(const char *db, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *sql = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return h_sql(db, sql);
}

int64_t h_sql_intf(const char *db, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *sql = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return h_sql_int(db, sql);
}

char *h_sql(const char *db, const char *sql)
{
	PGconn *c = cached_conn(&sql_conns, db, TRUE);
	PGresult *r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
	cr_assert(PQntuples(r) == 1 && PQnfields(r) == 1, "%s: %d rows, %d columns; wanted one value", sql,
		  PQntuples(r), PQnfields(r));
	char *v = PQgetisnull(r, 0, 0) ? NULL : g_strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

int64_t h_sql_int(const char *db, const char *sql)
{
	g_autofree char *v = h_sql(db, sql);
	cr_assert(v != NULL, "%s: NULL, wanted a number", sql);
	return g_ascii_strtoll(v, NULL, 10);
}

gboolean h_exec(const char *db, const char *sql, char **error_text)
{
	PGconn *c = cached_conn(&exec_conns, db, FALSE);
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	gboolean ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (error_text)
		*error_text = ok ? NULL : g_strdup(PQresultErrorMessage(r));
	PQclear(r);
	/* What the statement left (a transaction it failed inside, SET session_replication_role, a
	 * role) must not reach the next one, as it could not when each call had its own session. */
	if (PQstatus(c) == CONNECTION_OK) {
		if (PQtransactionStatus(c) != PQTRANS_IDLE)
			PQclear(PQexec(c, "ROLLBACK"));
		PQclear(PQexec(c, "DISCARD ALL"));
	}
	return ok;
}

const char *h_tmpdir(void)
{
	if (!tmpdir) {
		GError *error = NULL;
		tmpdir = g_dir_make_tmp("subsidy-test-XXXXXX", &error);
		cr_assert(tmpdir != NULL, "cannot make a temporary directory: %s", error->message);
		if (!fresh_names)
			atexit(cleanup);
	}
	return tmpdir;
}

char *h_write(const char *dir, const char *name, const char *bytes, gssize len)
{
	char *path = g_build_filename(dir, name, NULL);
	GError *error = NULL;
	cr_assert(g_file_set_contents(path, bytes, len, &error), "cannot write %s: %s", path,
		  error ? error->message : "?");
	return path;
}

char *h_read(const char *path, gsize *len)
{
	char *bytes = NULL;
	GError *error = NULL;
	cr_assert(g_file_get_contents(path, &bytes, len, &error), "cannot read %s: %s", path,
		  error ? error->message : "?");
	return bytes;
}

char *h_path(const char *relative)
{
	g_autofree char *cwd = g_get_current_dir();
	return g_build_filename(cwd, relative, NULL);
}

void h_load_registry(const char *db, const char *dir)
{
	static const char *const kinds[] = { "policies", "shops", "households", "senders", "campaigns", "budgets" };
	for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
		g_autofree char *name = g_strconcat(kinds[i], ".csv", NULL);
		g_autofree char *path = g_build_filename(dir, name, NULL);
		if (!g_file_test(path, G_FILE_TEST_EXISTS))
			continue;
		h_result r = h_run(db, "registry", "load", kinds[i], path, NULL);
		cr_assert_eq(r.status, 0, "registry load %s %s: exit %d\n%s%s", kinds[i], path, r.status, r.out, r.err);
		h_result_clear(&r);
	}
}

void h_approve_all(const char *db)
{
	g_autofree char *list = h_sql(db, "SELECT coalesce(string_agg(batch_id::text, ',' ORDER BY batch_id), '')"
					  " FROM batches b WHERE NOT EXISTS (SELECT 1 FROM approvals a"
					  " WHERE a.programme = b.programme AND a.batch_id = b.batch_id)");
	g_auto(GStrv) batches = g_strsplit(list, ",", -1);
	for (char **b = batches; *b && **b; b++) {
		h_result r = h_run(db, "approve", "--batch", *b, NULL);
		cr_assert_eq(r.status, 0, "approve --batch %s: exit %d\n%s%s", *b, r.status, r.out, r.err);
		h_result_clear(&r);
	}
}

char *h_ledger_dump(const char *db)
{
	static const char *const parts[] = {
		/* files_upto as the number of files up to it: file ids come from a sequence, and a
		 * transaction killed or rolled back burns its values. */
		"SELECT coalesce(string_agg(format('batch %s files_upto #%s %s %s %s %s', batch_id,"
		" (SELECT count(*) FROM files f WHERE f.programme = b.programme AND f.file_id <= b.files_upto),"
		" orders, postings, posted_fen, unfunded_fen), E'\\n' ORDER BY batch_id), '') FROM batches b",
		"SELECT coalesce(string_agg(format('posting %s', (p.*)::text), E'\\n' ORDER BY batch_id, seq), '')"
		" FROM postings p",
		"SELECT coalesce(string_agg(format('entry %s', (e.*)::text), E'\\n' ORDER BY txn COLLATE \"C\","
		" entry_seq), '') FROM entries e",
		"SELECT coalesce(string_agg(format('shop %s', (b.*)::text), E'\\n' ORDER BY batch_id, shop_id"
		" COLLATE \"C\"), '') FROM batch_shops b",
		"SELECT coalesce(string_agg(format('order %s', (o.*)::text), E'\\n' ORDER BY shop_id COLLATE \"C\","
		" order_key COLLATE \"C\"), '') FROM orders o",
		"SELECT coalesce(string_agg(format('pool %s', (b.*)::text), E'\\n' ORDER BY pool_id COLLATE \"C\"), '')"
		" FROM pool_balances b",
		/* Files by their rank in ingest order (#1, #2...) and name, never by their id. */
		"WITH f AS (SELECT *, row_number() OVER (ORDER BY file_id) AS n FROM files)"
		" SELECT coalesce(string_agg(format('file #%s %s %s %s %s %s %s %s %s %s %s %s %s', n, name, sha256,"
		" profile, encoding, size_bytes, lines, eligible, ineligible, duplicate, conflict, rejected, totals_fen),"
		" E'\\n' ORDER BY n), '') FROM f",
		"WITH f AS (SELECT file_id, name, row_number() OVER (ORDER BY file_id) AS n FROM files)"
		" SELECT coalesce(string_agg(format('line #%s %s %s %s %s %s', f.n, f.name, l.line_no, l.outcome, l.reason,"
		" l.order_key), E'\\n' ORDER BY f.n, l.line_no), '') FROM lines l JOIN f USING (file_id)",
	};
	GString *dump = g_string_new(NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(parts); i++) {
		g_autofree char *v = h_sql(db, parts[i]);
		g_string_append(dump, v ? v : "");
		g_string_append_c(dump, '\n');
	}
	return g_string_free(dump, FALSE);
}

void h_run_together(const char *db, int codes[2], ...)
{
	GPtrArray *argv = g_ptr_array_new();
	g_ptr_array_add(argv, (gpointer)env("SUBSIDY_BIN"));
	g_ptr_array_add(argv, "--db");
	g_ptr_array_add(argv, (gpointer)db);
	va_list ap;
	va_start(ap, codes);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
		g_ptr_array_add(argv, (gpointer)a);
	va_end(ap);
	g_ptr_array_add(argv, NULL);
	GPid pids[2];
	for (int i = 0; i < 2; i++)
		cr_assert(g_spawn_async(NULL, (char **)argv->pdata, NULL,
					G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
					NULL, NULL, &pids[i], NULL));
	for (int i = 0; i < 2; i++) {
		int st;
		cr_assert(waitpid(pids[i], &st, 0) == pids[i]);
		codes[i] = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	}
	g_ptr_array_free(argv, TRUE);
}

PGconn *h_hold_settlement_lock(const char *db)
{
	PGconn *holder = PQconnectdb(db);
	cr_assert(PQstatus(holder) == CONNECTION_OK, "%s", PQerrorMessage(holder));
	static const char *const steps[] = {
		"INSERT INTO settlement_locks (programme) VALUES ('default') ON CONFLICT DO NOTHING", "BEGIN",
		"SELECT 1 FROM settlement_locks WHERE programme = 'default' FOR UPDATE"
	};
	for (size_t i = 0; i < G_N_ELEMENTS(steps); i++) {
		PGresult *res = PQexec(holder, steps[i]);
		ExecStatusType st = PQresultStatus(res);
		cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", steps[i], PQresultErrorMessage(res));
		PQclear(res);
	}
	return holder;
}

void h_wait_sessions_gone(const char *db)
{
	/* 50 ms at a time, 10 s at most: a backend whose client died exits at its next read. */
	disconnect_all(); /* the test's own sessions are not the killed run's */
	for (int attempt = 0; attempt < 200; attempt++) {
		if (h_sql_int(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
				  " AND pid <> pg_backend_pid()") == 0)
			return;
		g_usleep(50 * 1000);
	}
	cr_assert_fail("sessions of a killed run are still connected to '%s' after 10 s", db);
}

void h_load_text(const char *db, const char *kind, const char *text)
{
	g_autofree char *name = g_strconcat(kind, ".csv", NULL);
	g_autofree char *path = h_write(h_tmpdir(), name, text, -1);
	h_result r = h_run(db, "registry", "load", kind, path, NULL);
	cr_assert_eq(r.status, 0, "registry load %s: exit %d\n%s%s", kind, r.status, r.out, r.err);
	h_result_clear(&r);
}

void h_ingest_text(const char *db, const char *name, const char *text, int want_status)
{
	g_autofree char *path = h_write(h_tmpdir(), name, text, -1);
	h_result r = h_run(db, "ingest", path, NULL);
	cr_assert_eq(r.status, want_status, "ingest %s: exit %d, wanted %d\n%s%s", name, r.status, want_status, r.out,
		     r.err);
	h_result_clear(&r);
}

char *h_settle(const char *db)
{
	h_result r = h_run(db, "settle", "--json", NULL);
	cr_assert_eq(r.status, 0, "settle: exit %d\n%s%s", r.status, r.out, r.err);
	char *out = g_strstrip(r.out);
	g_free(r.err);
	return out;
}

char *h_settle_said(const char *db, char **said)
{
	g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
	h_result r = h_run(db, "settle", "--json", NULL);
	g_unsetenv("G_MESSAGES_DEBUG");
	cr_assert_eq(r.status, 0, "settle: exit %d\n%s%s", r.status, r.out, r.err);
	*said = r.err;
	return g_strstrip(r.out);
}

char *h_postings_of(const char *db, const char *order_no)
{
	return h_sqlf(db,
		      "SELECT string_agg(funded_fen || ':' || status || ':' || coalesce(correction, '-'), ','"
		      " ORDER BY batch_id, seq) FROM postings WHERE order_no = '%s'",
		      order_no);
}

void h_assert_postings(const char *db, const char *order_no, const char *want)
{
	g_autofree char *got = h_postings_of(db, order_no);
	cr_assert_str_eq(got ? got : "(none)", want, "order %s: postings %s, wanted %s", order_no, got, want);
}

void h_assert_run(const char *db, int want, const char *must_have, const char *const *args)
{
	h_result r = h_runv(db, args);
	cr_assert_eq(r.status, want, "%s: exit %d, wanted %d\n%s%s", args[0], r.status, want, r.out, r.err);
	if (must_have)
		cr_assert(strstr(r.out, must_have) || strstr(r.err, must_have), "%s: no '%s' in\n%s%s", args[0],
			  must_have, r.out, r.err);
	h_result_clear(&r);
}

void h_assert_replay_and_verify_clean(const char *db, const char *registry)
{
	H_RUN(db, 0, NULL, "replay", "--from", "2018-01-01", "--to", "2018-12-31", "--registry", registry);
	H_RUN(db, 0, NULL, "verify");
	h_assert_lines_counted_keyed(db);
}

void h_assert_lines_counted_keyed(const char *db)
{
	static const char differ[] =
		"WITH k AS (SELECT programme, shop_id, order_key FROM lines WHERE order_key IS NOT NULL"
		"  UNION SELECT programme, shop_id, order_key FROM line_acts WHERE order_key IS NOT NULL),"
		" whole AS (SELECT * FROM lines_counted()),"
		" keyed AS (SELECT l.* FROM k CROSS JOIN LATERAL order_lines_counted(k.programme, k.shop_id, k.order_key) l)"
		" SELECT (SELECT count(*) FROM (TABLE whole EXCEPT ALL TABLE keyed) x)"
		"  + (SELECT count(*) FROM (TABLE keyed EXCEPT ALL TABLE whole) y)";
	cr_assert_eq(h_sql_int(db, differ), 0, "order_lines_counted() and lines_counted() differ on %" G_GINT64_FORMAT
		     " rows", (gint64)h_sql_int(db, differ));
}

void h_run_killed(const char *db, const char *point, const char *const *args)
{
	g_setenv("SUBSIDY_FAULT", point, TRUE);
	h_result r = h_runv(db, args);
	g_unsetenv("SUBSIDY_FAULT");
	cr_assert_eq(r.status, 128 + 9, "%s: exit %d, wanted SIGKILL\n%s%s", point, r.status, r.out, r.err);
	h_result_clear(&r);
	h_wait_sessions_gone(db);
}
