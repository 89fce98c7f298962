/* registry_load.h: loading a registry file (FORMATS.md, "Registry files") as new versions.
 *
 * A whole CSV file is validated and stored in one transaction: identical rows change nothing, a
 * changed row becomes version n+1 and the old one is marked superseded at the load's time, rows
 * absent from the file are left alone. A file with any bad row is refused whole, every bad line
 * named. Snapshots of what was loaded are registry.h. */
#ifndef SUBSIDY_REGISTRY_LOAD_H
#define SUBSIDY_REGISTRY_LOAD_H

#include "db.h"
#include "registry.h"

#include <glib.h>

typedef struct {
	int new_rows;        /* keys not known before: version 1 */
	int changed_rows;    /* keys known with other values: a new version */
	int unchanged_rows;  /* identical to the current version: nothing stored */
	GPtrArray *warnings; /* char *: what the person loading should know, not refusals */
} registry_counts;

/* Frees what registry_load put in counts (the warnings); counts itself is the caller's. */
void registry_counts_clear(registry_counts *counts);

/* TRUE for the six kinds: policies, shops, senders, households, campaigns, budgets. */
gboolean registry_kind_known(const char *kind);

/* Loads the CSV file at path (UTF-8, a BOM dropped, LF or CRLF, header row) as the registry data
 * of kind for db_programme(d), in one transaction that also records a `runs` row (os_user) and a
 * `registry_loads` row (counts, the file's SHA-256). budgets go to `pools` and `pool_balances`.
 * Errors: STATUS_USAGE for an unknown kind, STATUS_NOINPUT when the file cannot be read,
 * STATUS_DATAERR when any row is refused (the message lists every refused line as
 * "path:LINE: reason", nothing is stored), a database error's status otherwise. On success *out
 * holds the counts and warnings (clear it with registry_counts_clear). d must not be inside a
 * transaction. */
gboolean registry_load(db *d, const char *kind, const char *path, const char *os_user, registry_counts *out,
		       GError **error);

/* What registry_load checks of a file before it reads the database, on its bytes (len of them, a
 * NUL after them not needed), with no database: UTF-8, a BOM, CSV, the header of kind, every field,
 * ranges, duplicate keys, and for policies overlaps within the file. name stands for the file in
 * messages. TRUE with *rows (may be NULL) the data rows; else STATUS_USAGE for an unknown kind,
 * STATUS_DATAERR listing every refused line as registry_load does. For fuzzing and tests. */
gboolean registry_check_bytes(const char *kind, const char *name, const char *bytes, size_t len, int *rows,
			      GError **error);

#endif
