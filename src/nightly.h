/* nightly.h: the cron entry point's work (CLI.md, `nightly`): under the settlement lock, ingest
 * every plain file of an inbox in bytewise name order, settle, write the finance bureau's file,
 * and move every file out of the inbox: stored and skipped files to the archive (a YYYY-MM-DD
 * folder per run, China time), files refused as a whole to INBOX/rejected with a NAME.reason.
 *
 * Order of work, so that a run killed at any point leaves nothing half done that the next run does
 * not finish: lock; for each file, its ingest transaction commits, then the file is moved (killed
 * in between, the next run skips it by its SHA-256 and moves it); settle commits; then every batch
 * with no export recorded in the database (sql/005_exports.sql) is exported to the export dir and
 * recorded, the new one included (killed before, the next run writes it); a batch whose recorded
 * file (or its .sha256) is missing is written again at the recorded path, never elsewhere, so a
 * new export dir gets new batches only. Temporary files of a killed export (".batch-N.csv.XXXXXX")
 * are removed from the export dir first. Moves never overwrite: a name already taken
 * gets a suffix, NAME.1, NAME.2... (a file whose very bytes are archived under its name that day
 * is only removed from the inbox). Files are ingested by their bare names: the database records
 * the name the courier gave a file, not a path in the inbox it leaves at once.
 *
 * What is not a plain file is never opened nor followed: a symbolic link, a fifo, a socket or a
 * device is refused (moved to rejected/ as it is, with its reason), a directory is left alone
 * (archive/, rejected/ and exports/ live there by default) unless it is a route (nightly_route). Names starting with '.' and names
 * ending in INBOX_PARTIAL_SUFFIXES (inbox.h) are uploads still in progress: left for a later run. A name
 * that is not UTF-8 or holds a control character is refused (the database keeps names as text).
 * A file that cannot be read, or changes while it is read (still being written), is left in the
 * inbox with a warning for the next run.
 *
 * The export and archive dirs may be outside the inbox or folders directly in it (the defaults),
 * never the inbox itself or deeper in it (its files would be taken for manifests, or its folder
 * warned about every night); the archive, export and rejected dirs are three different folders.
 * Anything else is bad usage (STATUS_USAGE), found before the lock is taken. */
#ifndef SUBSIDY_NIGHTLY_H
#define SUBSIDY_NIGHTLY_H

#include "db.h"
#include "ingest.h"
#include "profile.h"
#include "settle.h"

#include <glib.h>
#include <stdint.h>

#define NIGHTLY_ERROR nightly_error_quark()
GQuark nightly_error_quark(void);

/* The folders made inside the inbox when no other place is given. */
#define NIGHTLY_ARCHIVE_NAME "archive"
#define NIGHTLY_REJECTED_NAME "rejected"
#define NIGHTLY_EXPORTS_NAME "exports"

/* A route (CLI.md, "The inbox of `nightly`"): the files of the inbox folder name are ingested
 * with profile and the fixed fields overrides, archived to ARCHIVE/YYYY-MM-DD/name/ and refused
 * to INBOX/rejected/name/. A folder of the inbox that is no route and none of nightly's own is
 * left alone, logged and reported (nightly_report.unrouted). Files of a route folder are taken in
 * bytewise name order where the folder's name falls among the inbox's names; folders inside a
 * route folder are left alone too (one level). Their recorded name is "ROUTE/NAME". */
typedef struct {
	const char *name;
	const char *profile;
	const char *const *overrides; /* FIELD=VALUE, NULL-terminated */
} nightly_route;

typedef struct {
	const char *inbox;
	const char *profile_name;     /* --profile for the files directly in the inbox, or NULL */
	const char *const *overrides; /* --set for them, NULL-terminated, or NULL */
	const nightly_route *routes;
	guint n_routes;
	const char *archive_dir; /* NULL: INBOX/archive */
	const char *export_dir;  /* NULL: INBOX/exports */
	const profile_set *profiles;
	const char *os_user;
	gboolean progress;       /* ingest's progress on stderr */
} nightly_options;

/* One entry of the inbox that was ingested or refused. */
typedef struct {
	ingest_file_result ingest; /* name: the path in the inbox, as ingested */
	char *moved_to;            /* where the file is now; NULL when it could not be moved */
} nightly_file;

typedef struct {
	char *pool_id;
	int64_t amount_fen;
	int64_t left_fen;
} nightly_pool;

/* Why nightly wrote a finance bureau file. */
typedef enum {
	NIGHTLY_EXPORT_NEW,        /* the batch this run made */
	NIGHTLY_EXPORT_UNRECORDED, /* an earlier batch with no export recorded: a run stopped before it */
	NIGHTLY_EXPORT_AGAIN,      /* exported before, its file missing: written again where it was */
} nightly_export_kind;

typedef struct {
	int batch_id;
	char *path;
	nightly_export_kind kind;
} nightly_export;

typedef struct {
	char run_day[CHRONO_DAY_TEXT_MAX]; /* the archive folder's name */
	GArray *files;                     /* nightly_file, in the order taken */
	guint waiting;                     /* uploads in progress, left in the inbox */
	guint retry;                       /* files that could not be read whole (still being
					    * written, or unreadable): left in the inbox, warned */
	gboolean settled;
	settle_result settle;
	char *export_path;                 /* the new batch's file; NULL when settle made no batch */
	char *report_path;                 /* report.html as written by this run; NULL before it is */
	GPtrArray *exports;                /* every file exported by this run, oldest batch first */
	GArray *export_kinds;              /* nightly_export, beside exports */
	GArray *pools;                     /* nightly_pool, by priority: budget left after the run */
	char *archive_day;                 /* the run's archive folder (files of a route: in ROUTE/ in it) */
	GPtrArray *unrouted;               /* folders of the inbox no route names, left alone (names) */
	guint move_failures;               /* files left in the inbox because they could not be moved */
	char *head;                        /* the chain heads after the run (ledger_chain_heads); NULL: none */
	char *payments_head;
} nightly_report;

/* Before nightly_run; clear frees what the report holds (init it again to reuse it). */
void nightly_report_init(nightly_report *r);
void nightly_report_clear(nightly_report *r);

/* Does the whole night's work on d, which must not be in a transaction; out (initialised) gets
 * what was done, also when the run fails part way. FALSE when the lock is held (code
 * STATUS_TEMPFAIL, nothing changed), the inbox cannot be read (STATUS_NOINPUT), the database fails
 * (STATUS_UNAVAILABLE or STATUS_SOFTWARE), or a file could not be moved out of the inbox
 * (STATUS_SOFTWARE, after settling and exporting: nothing is lost, the next run moves it). A file
 * refused as a whole is not an error: see nightly_exit_status. */
gboolean nightly_run(db *d, const nightly_options *o, nightly_report *out, GError **error);

/* STATUS_FINDINGS when a file was refused as a whole or settlement held an order, else STATUS_OK. */
int nightly_exit_status(const nightly_report *r);

#endif
