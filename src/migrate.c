/* migrate.c: the schema's versions; see migrate.h. */
#include "migrate.h"

#include "assets.h"
#include "status.h"

#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK(subsidy-migrate-error-quark, migrate_error)

static const char *const role_names[] = { "subsidy_engine", "subsidy_finance", "subsidy_auditor" };

int migrate_known_version(void)
{
	g_auto(GStrv) names = assets_list("sql");
	g_assert(names != NULL && names[0] != NULL);
	int known = 0;
	for (char **n = names; *n; n++)
		known = MAX(known, atoi(*n));
	g_assert(known > 0);
	return known;
}

/* The database's schema version: 0 when schema_version is empty, -1 when there is none. */
static gboolean schema_version(db *d, int *have, GError **error)
{
	g_assert(have != NULL);
	*have = -1;
	char *v = NULL;
	if (!db_scalar(d, "SELECT to_regclass('schema_version') IS NOT NULL", 0, NULL, &v, error))
		return FALSE;
	g_assert(v != NULL);
	gboolean made = strcmp(v, "t") == 0;
	g_clear_pointer(&v, g_free);
	if (!made)
		return TRUE;
	if (!db_scalar(d, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL, &v, error))
		return FALSE;
	g_assert(v != NULL);
	*have = atoi(v);
	g_free(v);
	g_assert(*have >= 0);
	return TRUE;
}

gboolean migrate_check_version(db *d, GError **error)
{
	g_assert(d != NULL);
	int have = -1;
	if (!schema_version(d, &have, error))
		return FALSE;
	int known = migrate_known_version();
	g_assert(have >= -1 && known > 0);
	if (have == known)
		return TRUE;
	g_set_error(error, MIGRATE_ERROR, STATUS_USAGE,
		    have < 0	   ? "database '%s' has no subsidy schema\nHINT: run 'subsidy init' first"
		    : have < known ? "database '%s' has schema version %d, this subsidy needs %d\nHINT: run 'subsidy init'"
				   : "database '%s' has schema version %d, newer than this subsidy knows (%d)\n"
				     "HINT: upgrade subsidy",
		    PQdb(db_conn(d)), have, known);
	return FALSE;
}

void migrate_result_clear(migrate_result *r)
{
	g_free(r->owner);
	memset(r, 0, sizeof *r);
}

static gboolean create_roles(db *d, GError **error)
{
	for (size_t i = 0; i < G_N_ELEMENTS(role_names); i++) {
		/* The names go into the statement as they are: plain identifiers only. */
		g_assert(strspn(role_names[i], "abcdefghijklmnopqrstuvwxyz_") == strlen(role_names[i]));
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
	g_assert(n != NULL); /* count(*) */
	g_assert(atoi(n) >= 0 && atoi(n) <= (int)G_N_ELEMENTS(role_names)); /* role names are unique */
	gboolean all = atoi(n) == (int)G_N_ELEMENTS(role_names);
	g_free(n);
	if (!all)
		g_set_error(error, MIGRATE_ERROR, STATUS_USAGE,
			    "the roles subsidy_engine, subsidy_finance and subsidy_auditor do not exist in this cluster\n"
			    "HINT: run 'subsidy init --roles' once, as a superuser");
	return all;
}

/* The columns of the schema owner's check, and of the database's. */
enum { OWNER_USER, OWNER_OWNER, OWNER_MAY, OWNER_COLUMNS };
enum { DATABASE_USER, DATABASE_NAME, DATABASE_OWNER, DATABASE_MAY_CREATE, DATABASE_MAY_CREATE_ROLES, DATABASE_COLUMNS };

/* Migrating is the schema owner's (or a superuser's): another role is refused with STATUS_NOPERM,
 * as the database would refuse it halfway. *fresh: the database has no schema yet. */
static gboolean check_schema_owner(db *d, gboolean *fresh, GError **error)
{
	g_assert(fresh != NULL);
	PGresult *res = db_query(d,
				 "SELECT current_user, pg_get_userbyid(relowner), pg_has_role(current_user, relowner, 'USAGE')"
				 " FROM pg_class WHERE oid = to_regclass('schema_version')",
				 0, NULL, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == OWNER_COLUMNS);
	g_assert(PQntuples(res) <= 1);
	*fresh = PQntuples(res) == 0;
	gboolean may = *fresh || strcmp(PQgetvalue(res, 0, OWNER_MAY), "t") == 0;
	if (!may)
		g_set_error(error, MIGRATE_ERROR, STATUS_NOPERM,
			    "permission denied: role '%s' may not run 'subsidy init': it needs the schema's owner '%s'"
			    " or a superuser",
			    PQgetvalue(res, 0, OWNER_USER), PQgetvalue(res, 0, OWNER_OWNER));
	PQclear(res);
	return may;
}

/* On a database with no schema yet, the first migration needs to create in its public schema: the
 * database's owner may (PostgreSQL 15 gives public to pg_database_owner), a superuser may; `--roles`
 * needs a superuser (or a role that may create roles). */
static gboolean check_owner(db *d, gboolean roles, GError **error)
{
	gboolean fresh = FALSE;
	if (!check_schema_owner(d, &fresh, error))
		return FALSE;
	PGresult *res = db_query(d,
				 "SELECT current_user, current_database(), pg_get_userbyid(d.datdba),"
				 " has_schema_privilege(current_user, 'public', 'CREATE'), r.rolsuper OR r.rolcreaterole"
				 " FROM pg_database d, pg_roles r WHERE d.datname = current_database() AND r.rolname = current_user",
				 0, NULL, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == DATABASE_COLUMNS);
	g_assert(PQntuples(res) == 1);
	gboolean may = TRUE;
	if (roles && strcmp(PQgetvalue(res, 0, DATABASE_MAY_CREATE_ROLES), "t") != 0) {
		g_set_error(error, MIGRATE_ERROR, STATUS_NOPERM,
			    "permission denied: role '%s' may not run 'subsidy init --roles': it needs a superuser\n"
			    "HINT: e.g. sudo -u postgres subsidy init --roles",
			    PQgetvalue(res, 0, DATABASE_USER));
		may = FALSE;
	} else if (fresh && strcmp(PQgetvalue(res, 0, DATABASE_MAY_CREATE), "t") != 0) {
		g_set_error(error, MIGRATE_ERROR, STATUS_NOPERM,
			    "permission denied: role '%s' may not run 'subsidy init' on database '%s', which has no"
			    " schema yet: it needs the database's owner '%s' or a superuser",
			    PQgetvalue(res, 0, DATABASE_USER), PQgetvalue(res, 0, DATABASE_NAME),
			    PQgetvalue(res, 0, DATABASE_OWNER));
		may = FALSE;
	}
	PQclear(res);
	return may;
}

/* The columns of the owner to migrate as. */
enum { TARGET_OWNER, TARGET_SUPERUSER, TARGET_USER, TARGET_COLUMNS };

/* A superuser migrates as the schema's owner (the database's owner while there is no schema), so
 * that the owner can run every later `init` itself: the README's setup has the superuser run
 * `init --roles` once on a database made for an owner role, then the owner upgrade it. *owner
 * gets the role migrated as when it is not the session's (caller frees), else NULL. */
static gboolean become_owner(db *d, char **owner, GError **error)
{
	g_assert(owner != NULL && *owner == NULL);
	PGresult *res = db_query(d,
				 "SELECT coalesce((SELECT pg_get_userbyid(relowner) FROM pg_class"
				 " WHERE oid = to_regclass('schema_version')), pg_get_userbyid(d.datdba)),"
				 " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), current_user"
				 " FROM pg_database d WHERE d.datname = current_database()",
				 0, NULL, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == TARGET_COLUMNS);
	g_assert(PQntuples(res) == 1);
	gboolean as_other = strcmp(PQgetvalue(res, 0, TARGET_SUPERUSER), "t") == 0 &&
			    strcmp(PQgetvalue(res, 0, TARGET_OWNER), PQgetvalue(res, 0, TARGET_USER)) != 0;
	g_autofree char *target = g_strdup(PQgetvalue(res, 0, TARGET_OWNER));
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

/* Applies the migration named name (its file name in sql/) as version, in one transaction with
 * its row of schema_version. */
static gboolean apply_one(db *d, int version, const char *name, GError **error)
{
	g_assert(version > 0);
	g_assert(PQtransactionStatus(db_conn(d)) == PQTRANS_IDLE); /* one transaction each */
	g_autoptr(GBytes) sql = assets_get("sql", name);
	g_assert(sql != NULL);
	/* The resource is NUL-terminated by glib-compile-resources. */
	const char *text = g_bytes_get_data(sql, NULL);
	char vbuf[16];
	g_snprintf(vbuf, sizeof vbuf, "%d", version);
	const char *params[] = { vbuf, name };
	PGresult *res = NULL;
	if (!db_begin(d, error))
		return FALSE;
	if (!db_exec(d, text, error)) {
		g_prefix_error(error, "migration %s: ", name);
		goto fail;
	}
	res = db_query(d, "INSERT INTO schema_version (version, name) VALUES ($1::int, $2)", 2, params, error);
	if (!res)
		goto fail;
	PQclear(res);
	if (!db_commit(d, error))
		goto fail;
	return TRUE;
fail:
	db_rollback(d);
	return FALSE;
}

/* Applies every migration newer than the database's version; *applied counts them. */
static gboolean migrate(db *d, int *applied, GError **error)
{
	*applied = 0;
	if (!db_exec(d, "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, name text NOT NULL,"
			" applied_at timestamptz NOT NULL DEFAULT now(), applied_by text NOT NULL DEFAULT current_user)",
		     error))
		return FALSE;
	int current = -1;
	if (!schema_version(d, &current, error))
		return FALSE;
	g_assert(current >= 0); /* made just now if it was not there */
	int known = migrate_known_version();
	if (current > known) {
		/* Bad usage, as every other command says it (migrate_check_version): no internal error. */
		g_set_error(error, MIGRATE_ERROR, STATUS_USAGE,
			    "the database's schema version %d is newer than this subsidy knows (%d): upgrade subsidy",
			    current, known);
		return FALSE;
	}
	g_auto(GStrv) names = assets_list("sql");
	for (char **n = names; *n; n++) {
		int version = atoi(*n);
		g_assert(version > 0);
		if (version <= current)
			continue;
		if (!apply_one(d, version, *n, error))
			return FALSE;
		(*applied)++;
	}
	g_assert(*applied <= known - current);
	return TRUE;
}

gboolean migrate_run(db *d, gboolean roles, migrate_result *out, GError **error)
{
	g_assert(d != NULL);
	g_assert(out->applied == 0 && out->owner == NULL);
	return check_owner(d, roles, error) && db_lock_init(d, error) && (!roles || create_roles(d, error)) &&
	       roles_exist(d, error) && become_owner(d, &out->owner, error) && migrate(d, &out->applied, error);
}
