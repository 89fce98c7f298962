/* cmd_init.c: `subsidy init [--roles]`: create or upgrade the schema from the numbered
 * migrations in sql/ (compiled into the binary), one transaction each, recorded in
 * schema_version. Roles are cluster-wide, so migrations only grant to them; `--roles` creates
 * them first (a superuser's step, once per cluster, safe to repeat). */
#include "assets.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INIT_ERROR init_error_quark()
G_DEFINE_QUARK(subsidy-init-error-quark, init_error)

static const char *const role_names[] = { "subsidy_engine", "subsidy_finance", "subsidy_auditor" };

static gboolean create_roles(db *d, GError **error)
{
	for (size_t i = 0; i < G_N_ELEMENTS(role_names); i++) {
		g_autofree char *sql = g_strdup_printf(
			"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN "
			"CREATE ROLE %s LOGIN; END IF; END $$",
			role_names[i], role_names[i]);
		if (!db_exec(d, sql, error)) {
			g_prefix_error(error, "cannot create role %s (init --roles needs a superuser): ", role_names[i]);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean roles_exist(db *d, GError **error)
{
	char *n = NULL;
	if (!db_scalar(d,
		       "SELECT count(*) FROM pg_roles WHERE rolname IN ('subsidy_engine', 'subsidy_finance', 'subsidy_auditor')",
		       0, NULL, &n, error))
		return FALSE;
	gboolean all = n && atoi(n) == (int)G_N_ELEMENTS(role_names);
	g_free(n);
	if (!all)
		g_set_error(error, INIT_ERROR, STATUS_USAGE,
			    "the roles subsidy_engine, subsidy_finance and subsidy_auditor do not exist in this cluster\n"
			    "run 'subsidy init --roles' once, as a superuser");
	return all;
}

/* Migrating is the schema owner's (or a superuser's): another role is refused before any work
 * with STATUS_NOPERM, as the database would refuse it halfway. On a database with no schema yet,
 * the first migration needs to create in its public schema: the database's owner may (PostgreSQL
 * 15 gives public to pg_database_owner), a superuser may; `--roles` needs a superuser (or a role
 * that may create roles). */
static gboolean check_owner(db *d, gboolean roles, GError **error)
{
	PGresult *res = db_query(d,
				 "SELECT current_user, pg_get_userbyid(relowner), pg_has_role(current_user, relowner, 'USAGE')"
				 " FROM pg_class WHERE oid = to_regclass('schema_version')",
				 0, NULL, error);
	if (!res)
		return FALSE;
	gboolean may = PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	if (!may)
		g_set_error(error, INIT_ERROR, STATUS_NOPERM,
			    "permission denied: role '%s' may not run 'subsidy init': it needs the schema's owner '%s'"
			    " or a superuser",
			    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	gboolean fresh = PQntuples(res) == 0;
	PQclear(res);
	if (!may)
		return FALSE;
	res = db_query(d,
		       "SELECT current_user, current_database(), pg_get_userbyid(d.datdba),"
		       " has_schema_privilege(current_user, 'public', 'CREATE'), r.rolsuper OR r.rolcreaterole"
		       " FROM pg_database d, pg_roles r WHERE d.datname = current_database() AND r.rolname = current_user",
		       0, NULL, error);
	if (!res)
		return FALSE;
	g_assert(PQntuples(res) == 1);
	if (roles && strcmp(PQgetvalue(res, 0, 4), "t") != 0) {
		g_set_error(error, INIT_ERROR, STATUS_NOPERM,
			    "permission denied: role '%s' may not run 'subsidy init --roles': it needs a superuser"
			    " (e.g. sudo -u postgres subsidy init --roles)",
			    PQgetvalue(res, 0, 0));
		may = FALSE;
	} else if (fresh && strcmp(PQgetvalue(res, 0, 3), "t") != 0) {
		g_set_error(error, INIT_ERROR, STATUS_NOPERM,
			    "permission denied: role '%s' may not run 'subsidy init' on database '%s', which has no"
			    " schema yet: it needs the database's owner '%s' or a superuser",
			    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
		may = FALSE;
	}
	PQclear(res);
	return may;
}

/* A superuser migrates as the schema's owner (the database's owner while there is no schema), so
 * that the owner can run every later `init` itself: the README's setup has the superuser run
 * `init --roles` once on a database made for an owner role, then the owner upgrade it. *owner
 * gets the role migrated as when it is not the session's (caller frees), else NULL. */
static gboolean become_owner(db *d, char **owner, GError **error)
{
	*owner = NULL;
	PGresult *res = db_query(d,
				 "SELECT coalesce((SELECT pg_get_userbyid(relowner) FROM pg_class"
				 " WHERE oid = to_regclass('schema_version')), pg_get_userbyid(d.datdba)),"
				 " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), current_user"
				 " FROM pg_database d WHERE d.datname = current_database()",
				 0, NULL, error);
	if (!res)
		return FALSE;
	g_assert(PQntuples(res) == 1);
	gboolean as_other = strcmp(PQgetvalue(res, 0, 1), "t") == 0 && strcmp(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 2)) != 0;
	g_autofree char *target = g_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!as_other)
		return TRUE;
	char *quoted = PQescapeIdentifier(db_conn(d), target, strlen(target));
	g_assert(quoted != NULL);
	g_autofree char *sql = g_strdup_printf("SET ROLE %s", quoted);
	PQfreemem(quoted);
	if (!db_exec(d, sql, error))
		return FALSE;
	*owner = g_steal_pointer(&target);
	return TRUE;
}

/* Applies every migration newer than the database's version; *applied counts them. */
static gboolean migrate(db *d, int *applied, GError **error)
{
	*applied = 0;
	if (!db_exec(d, "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, name text NOT NULL,"
			" applied_at timestamptz NOT NULL DEFAULT now(), applied_by text NOT NULL DEFAULT current_user)",
		     error))
		return FALSE;
	char *cur = NULL;
	if (!db_scalar(d, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL, &cur, error))
		return FALSE;
	int current = atoi(cur);
	g_free(cur);

	g_auto(GStrv) names = assets_list("sql");
	g_assert(names[0] != NULL);
	int known = 0;
	for (char **n = names; *n; n++)
		known = MAX(known, atoi(*n));
	if (current > known) {
		/* Bad usage, as every other command says it (cli_connect): no internal error. */
		g_set_error(error, INIT_ERROR, STATUS_USAGE,
			    "the database's schema version %d is newer than this subsidy knows (%d): upgrade subsidy",
			    current, known);
		return FALSE;
	}
	for (char **n = names; *n; n++) {
		int version = atoi(*n);
		g_assert(version > 0);
		if (version <= current)
			continue;
		g_autoptr(GBytes) sql = assets_get("sql", *n);
		g_assert(sql != NULL);
		/* The resource is NUL-terminated by glib-compile-resources. */
		const char *text = g_bytes_get_data(sql, NULL);
		char vbuf[16];
		g_snprintf(vbuf, sizeof vbuf, "%d", version);
		const char *params[] = { vbuf, *n };
		PGresult *res = NULL;
		if (!db_begin(d, error))
			return FALSE;
		if (!db_exec(d, text, error)) {
			g_prefix_error(error, "migration %s: ", *n);
			goto fail;
		}
		res = db_query(d, "INSERT INTO schema_version (version, name) VALUES ($1::int, $2)", 2, params, error);
		if (!res)
			goto fail;
		PQclear(res);
		if (!db_commit(d, error))
			goto fail;
		(*applied)++;
	}
	return TRUE;
fail:
	db_rollback(d);
	return FALSE;
}

int cmd_init(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	gboolean roles = FALSE;
	const GOptionEntry entries[] = {
		{ "roles", 0, 0, G_OPTION_ARG_NONE, &roles, "first create the engine, finance and auditor roles", NULL },
		{ NULL }
	};
	int parsed = cli_parse(ctx, cmd, entries, FALSE, &argc, &argv);
	if (parsed != STATUS_OK)
		return parsed;
	if (argc != 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);

	GError *error = NULL;
	db *d = cli_connect_unchecked(ctx, &error);
	if (!d)
		return cli_fail(error);
	int applied = 0;
	g_autofree char *owner = NULL;
	gboolean ok = check_owner(d, roles, &error) && db_lock_init(d, &error) && (!roles || create_roles(d, &error)) &&
		      roles_exist(d, &error) && become_owner(d, &owner, &error) && migrate(d, &applied, &error);
	db_close(d);
	if (!ok)
		return cli_fail(error);
	if (owner && applied > 0)
		printf("init: the schema belongs to the database's owner '%s', who runs 'subsidy init' from now on\n",
		       owner);
	if (applied > 0)
		printf("init: applied %d migration%s\n", applied, applied == 1 ? "" : "s");
	else
		printf("init: schema is up to date\n");
	return STATUS_OK;
}
