/* migrate.h: the schema's versions. The numbered migrations of sql/ (compiled into the binary,
 * assets.h) are applied one transaction each and recorded in schema_version; every command but
 * `init` first checks that the database's version is the newest this binary carries.
 *
 * Roles are cluster-wide, so migrations only grant to them; migrate_run with roles first creates
 * them (a superuser's step, once per cluster, safe to repeat). */
#ifndef SUBSIDY_MIGRATE_H
#define SUBSIDY_MIGRATE_H

#include "db.h"

#include <glib.h>

#define MIGRATE_ERROR migrate_error_quark()
GQuark migrate_error_quark(void);

/* The newest migration this binary carries (> 0). */
int migrate_known_version(void);

/* Checks that the database's schema is the one this binary's migrations make. STATUS_USAGE when
 * it has none or an older one (run `subsidy init`) or a newer one (upgrade subsidy); database
 * errors as db.h. */
gboolean migrate_check_version(db *d, GError **error);

/* What migrate_run did: the migrations applied, and the role it migrated as when that is not the
 * session's (a superuser migrates as the schema's owner), else NULL. */
typedef struct {
	int applied;
	char *owner;
} migrate_result;

void migrate_result_clear(migrate_result *r);

/* `subsidy init`: checks that the session's role may migrate (the schema's owner, or a superuser;
 * on a database with no schema yet, one that may create in its public schema; with roles, a
 * superuser), else STATUS_NOPERM before any work; takes the init lock; with roles creates the
 * engine, finance and auditor roles; checks they exist (else STATUS_USAGE); then applies every
 * migration newer than the database's version, each in its own transaction. A database newer
 * than this binary is STATUS_USAGE. */
gboolean migrate_run(db *d, gboolean roles, migrate_result *out, GError **error);

#endif
