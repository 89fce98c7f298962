/* harness.c: integration test support; see harness.h. */
#include "harness.h"

#include <criterion/criterion.h>
#include <glib/gstdio.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *fresh_name;
static char *fresh_conninfo;
static char *tmpdir;

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

static void cleanup(void)
{
	if (fresh_name) {
		g_autofree char *sql = g_strdup_printf("DROP DATABASE IF EXISTS %s WITH (FORCE)", fresh_name);
		g_autofree char *ci = g_strdup_printf("%s dbname=postgres", g_getenv("SUBSIDY_TEST_ADMIN"));
		PGconn *c = PQconnectdb(ci);
		PQclear(PQexec(c, sql));
		PQfinish(c);
		g_clear_pointer(&fresh_name, g_free);
		g_clear_pointer(&fresh_conninfo, g_free);
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
	cr_assert(fresh_name == NULL, "one fresh database per test");
	fresh_name = g_strdup_printf("t_%d_%d", (int)getpid(), counter++);
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
	atexit(cleanup);
	fresh_conninfo = g_strdup_printf("%s dbname=%s", env("SUBSIDY_TEST_ADMIN"), fresh_name);
	return fresh_conninfo;
}

char *h_as_role(const char *db, const char *role)
{
	return g_strdup_printf("%s user=%s", db, role);
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

char *h_sql(const char *db, const char *sql)
{
	PGconn *c = connect_or_fail(db);
	PQclear(PQexec(c, "SET TimeZone = 'Asia/Shanghai'"));
	PGresult *r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
	cr_assert(PQntuples(r) == 1 && PQnfields(r) == 1, "%s: %d rows, %d columns; wanted one value", sql,
		  PQntuples(r), PQnfields(r));
	char *v = PQgetisnull(r, 0, 0) ? NULL : g_strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
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
	PGconn *c = connect_or_fail(db);
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	gboolean ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (error_text)
		*error_text = ok ? NULL : g_strdup(PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	return ok;
}

const char *h_tmpdir(void)
{
	if (!tmpdir) {
		GError *error = NULL;
		tmpdir = g_dir_make_tmp("subsidy-test-XXXXXX", &error);
		cr_assert(tmpdir != NULL, "cannot make a temporary directory: %s", error->message);
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
