/* nightly.c: the cron entry point's work, step by step; see nightly.h. Each inbox file's checks and
 * moves are inbox.c's, the log runlog.c's.
 *
 * Kill points (fault.h), in the order a run meets them: "nightly:locked"; per inbox entry taken,
 * "nightly:ingested" (after its ingest committed or refused it, before it moves; entries refused
 * here count too), "nightly:reason-written" (a refused entry: its NAME.reason is written, the
 * entry not yet moved), "nightly:moved"; "nightly:settled"; "nightly:exported" after each file
 * exported. With ingest's and settle's own points and "NAME@N", a test reaches every step. */
#include "nightly.h"

#include "chrono.h"
#include "export.h"
#include "fault.h"
#include "filehash.h"
#include "inbox.h"
#include "ledger.h"
#include "money.h"
#include "outfile.h"
#include "pools.h"
#include "registry.h"
#include "report.h"
#include "runlog.h"
#include "status.h"
#include "text.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

G_DEFINE_QUARK(subsidy-nightly-error-quark, nightly_error)

/* The finance bureau's file of batch N in the export dir. */
#define NIGHTLY_EXPORT_NAME "batch-%d.csv"

static void nightly_file_clear(gpointer p)
{
	nightly_file *f = p;
	ingest_file_result_clear(&f->ingest);
	g_free(f->moved_to);
}

static void nightly_pool_clear(gpointer p)
{
	g_free(((nightly_pool *)p)->pool_id);
}

static void nightly_export_clear(gpointer p)
{
	g_free(((nightly_export *)p)->path);
}

void nightly_report_init(nightly_report *r)
{
	memset(r, 0, sizeof *r);
	r->files = g_array_new(FALSE, TRUE, sizeof(nightly_file));
	g_array_set_clear_func(r->files, nightly_file_clear);
	r->exports = g_ptr_array_new_with_free_func(g_free);
	r->export_kinds = g_array_new(FALSE, TRUE, sizeof(nightly_export));
	g_array_set_clear_func(r->export_kinds, nightly_export_clear);
	r->pools = g_array_new(FALSE, TRUE, sizeof(nightly_pool));
	g_array_set_clear_func(r->pools, nightly_pool_clear);
	r->unrouted = g_ptr_array_new_with_free_func(g_free);
}

void nightly_report_clear(nightly_report *r)
{
	g_array_free(r->files, TRUE);
	g_array_free(r->pools, TRUE);
	g_ptr_array_free(r->exports, TRUE);
	g_array_free(r->export_kinds, TRUE);
	g_ptr_array_free(r->unrouted, TRUE);
	g_free(r->archive_day);
	g_free(r->export_path);
	g_free(r->report_path);
	settle_result_clear(&r->settle);
	g_free(r->head);
	g_free(r->payments_head);
	memset(r, 0, sizeof *r);
}

int nightly_exit_status(const nightly_report *r)
{
	for (guint i = 0; i < r->files->len; i++)
		if (g_array_index(r->files, nightly_file, i).ingest.status == INGEST_REFUSED)
			return STATUS_FINDINGS;
	return r->settle.held ? STATUS_FINDINGS : STATUS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* The inbox                                                                                   */

typedef struct {
	db *d;
	const nightly_options *o;
	nightly_report *out;
	char *inbox;          /* these four absolute */
	char *archive_root;   /* the archive dir */
	char *archive_day;    /* its folder for this run */
	char *rejected_dir;
	char *export_dir;
	struct stat own_dirs[2]; /* the archive and export dirs, to know them in the inbox */
	gboolean own_known[2];
	ingest_options io;
} run_ctx;

/* A directory of ours inside the inbox (archive/, rejected/, exports/ or the dirs given)? */
static gboolean own_dir(const run_ctx *c, const char *name, const struct stat *st)
{
	if (strcmp(name, NIGHTLY_ARCHIVE_NAME) == 0 || strcmp(name, NIGHTLY_REJECTED_NAME) == 0 ||
	    strcmp(name, NIGHTLY_EXPORTS_NAME) == 0)
		return TRUE;
	for (int i = 0; i < 2; i++)
		if (c->own_known[i] && c->own_dirs[i].st_dev == st->st_dev && c->own_dirs[i].st_ino == st->st_ino)
			return TRUE;
	return FALSE;
}

static void log_ingested(const char *name, const ingest_file_result *r)
{
	if (r->status == INGEST_REFUSED) {
		runlog(LOG_WARNING, "refused '%s': %s", name, r->reason);
		return;
	}
	if (r->status == INGEST_SKIPPED) {
		runlog(LOG_INFO, "skipped '%s': %s", name, r->reason);
		return;
	}
	g_autoptr(GString) counts = g_string_new(NULL);
	for (int o = 0; o < OUTCOME_COUNT; o++)
		if (r->outcomes[o])
			g_string_append_printf(counts, "%s %s %" G_GINT64_FORMAT, counts->len ? "," : ":",
					       policy_outcome_name(o), (gint64)r->outcomes[o]);
	runlog(LOG_INFO, "stored '%s' (%s): %" G_GINT64_FORMAT " lines%s", name, r->profile, (gint64)r->lines,
		    counts->str);
}

/* Ingests (or refuses) the inbox entry name and moves it out of the inbox. The working directory
 * is the inbox: the file is ingested by its bare name, so the database records the name the
 * courier gave it (shown by `why` and in the reasons of later duplicates), not a path the file
 * leaves at once. FALSE only when the engine or the database failed: the run stops. A file that
 * cannot be moved is counted in move_failures and stays for the next run. */
static gboolean take_entry(run_ctx *c, const nightly_route *route, const char *name, const struct stat *st,
			   GError **error)
{
	g_autofree char *rel = route ? g_build_filename(route->name, name, NULL) : g_strdup(name);
	g_autofree char *path = g_build_filename(c->inbox, rel, NULL);
	g_autofree char *shown = text_shown(rel);
	g_autofree char *refusal = inbox_refusal(name, shown, st);
	g_autofree char *rejected_dir = route ? g_build_filename(c->rejected_dir, route->name, NULL)
					      : g_strdup(c->rejected_dir);
	g_autofree char *archive_dir = route ? g_build_filename(c->archive_day, route->name, NULL)
					     : g_strdup(c->archive_day);
	ingest_options io = c->io;
	io.profile_name = route ? route->profile : c->o->profile_name;
	io.overrides = route ? route->overrides : c->o->overrides;
	nightly_file f = { 0 };
	if (refusal) {
		f.ingest.name = g_strdup(shown);
		f.ingest.status = INGEST_REFUSED;
		f.ingest.exit_status = STATUS_DATAERR;
		f.ingest.reason = g_steal_pointer(&refusal);
	} else if (!ingest_file(c->d, rel, &io, &f.ingest, error)) {
		ingest_file_result_clear(&f.ingest);
		return FALSE;
	} else if (f.ingest.status == INGEST_REFUSED && f.ingest.exit_status == STATUS_NOINPUT && !inbox_exists(path)) {
		runlog(LOG_WARNING, "'%s' went away while it was read: nothing of it is stored", shown);
		ingest_file_result_clear(&f.ingest);
		return TRUE;
	} else if (f.ingest.status == INGEST_REFUSED && f.ingest.retry) {
		/* Nothing wrong in the file itself: refusing it for good would lose it. */
		runlog(LOG_WARNING, "left '%s' in the inbox for the next run: %s", shown, f.ingest.reason);
		c->out->retry++;
		ingest_file_result_clear(&f.ingest);
		return TRUE;
	}
	log_ingested(shown, &f.ingest);
	fault_point("nightly:ingested");

	GError *e = NULL;
	g_autofree char *advice = f.ingest.status == INGEST_REFUSED
					  ? inbox_advice(f.ingest.reason, route ? route->name : NULL,
							 route ? route->profile : NULL)
					  : NULL;
	g_autofree char *reason = advice ? text_message_add(f.ingest.reason, "HINT", advice) : NULL;
	if (f.ingest.status == INGEST_REFUSED)
		f.moved_to = inbox_reject(path, rejected_dir, name, S_ISREG(st->st_mode),
					  reason ? reason : f.ingest.reason, &e);
	else
		f.moved_to = inbox_archive(path, archive_dir, name, f.ingest.sha256, &e);
	if (!f.moved_to) {
		runlog(LOG_ERR, "%s; it stays in the inbox for the next run", e->message);
		g_error_free(e);
		c->out->move_failures++;
	}
	g_array_append_val(c->out->files, f);
	fault_point("nightly:moved");
	return TRUE;
}

static const nightly_route *route_named(const run_ctx *c, const char *name)
{
	for (guint i = 0; i < c->o->n_routes; i++)
		if (strcmp(c->o->routes[i].name, name) == 0)
			return &c->o->routes[i];
	return NULL;
}

static gboolean take_folder(run_ctx *c, const nightly_route *route, GError **error);

/* Takes names of the folder route (NULL: the inbox itself), which is the working directory's
 * ROUTE or the working directory. */
static gboolean take_names(run_ctx *c, const nightly_route *route, GPtrArray *names, GError **error)
{
	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];
		g_autofree char *rel = route ? g_build_filename(route->name, name, NULL) : g_strdup(name);
		g_autofree char *shown = text_shown(rel);
		if (inbox_in_progress(name)) {
			c->out->waiting++;
			runlog(LOG_INFO, "left '%s' in the inbox: an upload in progress, by its name", shown);
			continue;
		}
		g_autofree char *path = g_build_filename(c->inbox, rel, NULL);
		struct stat st;
		if (lstat(path, &st) != 0) {
			int e = errno;
			if (e == ENOENT)
				continue; /* gone since the listing: not ours to miss */
			g_set_error(error, NIGHTLY_ERROR, STATUS_NOINPUT, "cannot look at '%s': %s", path,
				    g_strerror(e));
			return FALSE;
		}
		if (S_ISDIR(st.st_mode)) {
			const nightly_route *folder = route ? NULL : route_named(c, name);
			if (!route && own_dir(c, name, &st)) {
				/* archive/, rejected/, exports/ or the dirs given: ours */
			} else if (folder) {
				if (!take_folder(c, folder, error))
					return FALSE;
			} else if (route) {
				runlog(LOG_WARNING, "skipped folder '%s': a route folder holds files only, left alone", shown);
			} else {
				runlog(LOG_WARNING, "skipped folder '%s': no route names it, left alone (a [route %s]"
					    " group in the config file would make it one)", shown, shown);
				g_ptr_array_add(c->out->unrouted, g_strdup(shown));
			}
			continue;
		}
		if (!take_entry(c, route, name, &st, error))
			return FALSE;
	}
	return TRUE;
}

/* Takes the files of the route folder INBOX/ROUTE, in bytewise name order. A folder that cannot
 * be read is warned about and left for the next run, as a file that cannot be read is. */
static gboolean take_folder(run_ctx *c, const nightly_route *route, GError **error)
{
	g_autofree char *dir = g_build_filename(c->inbox, route->name, NULL);
	GError *why = NULL;
	g_autoptr(GPtrArray) names = inbox_list(dir, &why);
	if (!names) {
		runlog(LOG_WARNING, "left route folder '%s' for the next run: %s", route->name, why->message);
		g_error_free(why);
		c->out->retry++;
		return TRUE;
	}
	return take_names(c, route, names, error);
}

/* Takes the entries names (list_inbox's) of the inbox in their order, working in it (see
 * take_entry). */
static gboolean take_inbox(run_ctx *c, GPtrArray *names, GError **error)
{
	int back = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (chdir(c->inbox) != 0) {
		int e = errno;
		g_set_error(error, NIGHTLY_ERROR, STATUS_NOINPUT, "cannot enter inbox '%s': %s", c->inbox,
			    g_strerror(e));
		if (back >= 0)
			close(back);
		return FALSE;
	}
	gboolean ok = take_names(c, NULL, names, error);
	if (back >= 0) {
		if (fchdir(back) != 0)
			runlog(LOG_WARNING, "cannot return to the working directory: %s", g_strerror(errno));
		close(back);
	}
	return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Settle, export, report                                                                      */

/* Is name a temporary file of an export of ours, ".batch-N.csv.XXXXXX" or
 * ".batch-N.csv.sha256.XXXXXX" (outfile.h), the same of batch-N.xlsx, or of the report,
 * ".report.html.XXXXXX"? */
static gboolean export_temp_name(const char *name)
{
	size_t n = strlen(name);
	if (name[0] != '.' || n < 2 + OUTFILE_TEMP_RANDOM_CHARS)
		return FALSE;
	g_autofree char *target = g_strndup(name + 1, n - 2 - OUTFILE_TEMP_RANDOM_CHARS);
	return outfile_is_temp_of(name, target) &&
	       g_regex_match_simple("^(batch-[0-9]+\\.(csv|xlsx)(\\.sha256)?|report\\.html)$", target, 0, 0);
}

/* Removes the temporary files a killed export left in the export dir (SIGKILL cannot be caught).
 * Under the settlement lock no other nightly writes there. */
static void remove_stale_temps(run_ctx *c)
{
	GDir *dir = g_dir_open(c->export_dir, 0, NULL);
	if (!dir)
		return; /* not made yet: nothing stale */
	for (const char *name; (name = g_dir_read_name(dir));) {
		if (!export_temp_name(name))
			continue;
		g_autofree char *path = g_build_filename(c->export_dir, name, NULL);
		struct stat st;
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (g_unlink(path) == 0)
			runlog(LOG_INFO, "removed '%s': a temporary file of an export that was stopped", path);
		else
			runlog(LOG_WARNING, "cannot remove '%s': %s", path, g_strerror(errno));
	}
	g_dir_close(dir);
}

/* Records that batch's file is at path, with the SHA-256 of its bytes now. */
static gboolean record_export(run_ctx *c, int batch, const char *path, gboolean again, const char *first_sha,
			      GError **error)
{
	char hex[FILEHASH_HEX_MAX];
	GError *why = NULL;
	if (!filehash_sha256(path, hex, NULL, &why)) {
		g_set_error(error, NIGHTLY_ERROR, STATUS_SOFTWARE, "cannot read back '%s': %s", path, why->message);
		g_error_free(why);
		return FALSE;
	}
	/* An export is a function of its batch: written again, it must be the same bytes. */
	if (first_sha && strcmp(hex, first_sha) != 0) {
		g_set_error(error, NIGHTLY_ERROR, STATUS_SOFTWARE,
			    "batch %d written again to '%s' is not the file exported first\n"
			    "DETAIL: SHA-256 %s, first %s\nHINT: run 'subsidy verify'", batch, path, hex, first_sha);
		return FALSE;
	}
	char batch_text[16], run_text[24];
	g_snprintf(batch_text, sizeof batch_text, "%d", batch);
	g_snprintf(run_text, sizeof run_text, "%" G_GINT64_FORMAT, (gint64)c->io.run_id);
	const char *params[] = { db_programme(c->d), batch_text, run_text, path, hex, again ? "t" : "f" };
	PGresult *res = db_query(c->d,
				 "INSERT INTO exports (programme, batch_id, run_id, path, sha256, written_again)"
				 " VALUES ($1, $2::int, $3::bigint, $4, $5, $6::boolean)",
				 G_N_ELEMENTS(params), params, error);
	if (!res)
		return FALSE;
	PQclear(res);
	return TRUE;
}

/* Beside the CSV (for machines), batch-N.xlsx and its .sha256 for the people of finance, who
 * open it in Excel or WPS: bank accounts as text, statuses and couriers in Chinese, and the
 * control sheet (CONTROL.md), which says whether the batch is approved as it is when written. Not
 * recorded in exports: its control sheet changes once finance approves the batch. */
static char *people_path(const char *csv_path)
{
	g_autofree char *stem = g_str_has_suffix(csv_path, ".csv") ? g_strndup(csv_path, strlen(csv_path) - 4)
								   : g_strdup(csv_path);
	return g_strconcat(stem, ".xlsx", NULL);
}

static gboolean export_for_people(run_ctx *c, int batch, const char *csv_path, GError **error)
{
	g_autofree char *path = people_path(csv_path);
	export_options xo = EXPORT_OPTIONS_DEFAULT;
	xo.format = EXPORT_FORMAT_XLSX;
	if (!export_batch(c->d, batch, &xo, path, error))
		return FALSE;
	runlog(LOG_INFO, "wrote batch %d for finance to open to '%s'", batch, path);
	return TRUE;
}

/* Exports every batch with no export recorded (the one just made, and any whose run stopped after
 * it settled) to the export dir, and writes again, where it was, the recorded file of any batch
 * that is missing; records each file written (sql/005_exports.sql). */
enum { EXPORT_BATCH, EXPORT_PATH, EXPORT_SHA256, EXPORT_COLUMNS };

static gboolean export_batches(run_ctx *c, GError **error)
{
	remove_stale_temps(c);
	const char *p1[] = { db_programme(c->d) };
	PGresult *res = db_query(c->d,
				 "SELECT b.batch_id, e.path, e.sha256 FROM batches b LEFT JOIN LATERAL"
				 " (SELECT path, sha256 FROM exports x WHERE x.programme = b.programme"
				 " AND x.batch_id = b.batch_id ORDER BY export_id LIMIT 1) e ON true"
				 " WHERE b.programme = $1 ORDER BY b.batch_id",
				 1, p1, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == EXPORT_COLUMNS);
	const export_options eo = EXPORT_OPTIONS_DEFAULT;
	gboolean ok = TRUE;
	for (int i = 0; ok && i < PQntuples(res); i++) {
		int batch = atoi(PQgetvalue(res, i, EXPORT_BATCH));
		gboolean recorded = !PQgetisnull(res, i, EXPORT_PATH);
		g_assert(batch > 0 && recorded == !PQgetisnull(res, i, EXPORT_SHA256));
		g_autofree char *name = g_strdup_printf(NIGHTLY_EXPORT_NAME, batch);
		g_autofree char *path = recorded ? g_strdup(PQgetvalue(res, i, EXPORT_PATH))
						 : g_build_filename(c->export_dir, name, NULL);
		g_autofree char *sha = g_strconcat(path, EXPORT_SHA256_SUFFIX, NULL);
		g_autofree char *dir = g_path_get_dirname(path);
		if (recorded && inbox_exists(path) && inbox_exists(sha)) {
			/* A run stopped between the two files, or someone removed the XLSX. */
			g_autofree char *xlsx = people_path(path);
			g_autofree char *xlsx_sha = g_strconcat(xlsx, EXPORT_SHA256_SUFFIX, NULL);
			if (!inbox_exists(xlsx) || !inbox_exists(xlsx_sha))
				ok = export_for_people(c, batch, path, error);
			continue;
		}
		nightly_export_kind kind = recorded			   ? NIGHTLY_EXPORT_AGAIN
					   : batch == c->out->settle.batch_id ? NIGHTLY_EXPORT_NEW
									      : NIGHTLY_EXPORT_UNRECORDED;
		ok = inbox_make_dir(dir, error) && export_batch(c->d, batch, &eo, path, error) &&
		     record_export(c, batch, path, recorded, recorded ? PQgetvalue(res, i, EXPORT_SHA256) : NULL, error) &&
		     export_for_people(c, batch, path, error);
		if (!ok)
			break;
		switch (kind) {
		case NIGHTLY_EXPORT_NEW: runlog(LOG_INFO, "exported batch %d to '%s'", batch, path); break;
		case NIGHTLY_EXPORT_UNRECORDED:
			runlog(LOG_INFO, "exported batch %d to '%s': no export of it was recorded (a run stopped"
				    " after it settled)", batch, path);
			break;
		case NIGHTLY_EXPORT_AGAIN:
			runlog(LOG_WARNING, "wrote batch %d again to '%s', where it was exported: the file was"
				    " missing", batch, path);
			break;
		}
		if (kind == NIGHTLY_EXPORT_NEW)
			c->out->export_path = g_strdup(path);
		nightly_export e = { batch, g_strdup(path), kind };
		g_array_append_val(c->out->export_kinds, e);
		g_ptr_array_add(c->out->exports, g_steal_pointer(&path));
		fault_point("nightly:exported");
	}
	PQclear(res);
	return ok;
}

/* The programme to date as a page beside the exports (REPORT.md), written again every night. */
static gboolean write_report(run_ctx *c, GError **error)
{
	g_autofree char *path = g_build_filename(c->export_dir, REPORT_NIGHTLY_NAME, NULL);
	g_autoptr(report) r = report_compute(c->d, NULL, NULL, error);
	if (!r || !inbox_make_dir(c->export_dir, error) || !report_write_html(r, path, error))
		return FALSE;
	runlog(LOG_INFO, "wrote the programme report to '%s'", path);
	g_free(c->out->report_path);
	c->out->report_path = g_strdup(path);
	return TRUE;
}

/* The pools with what is left in them, in the order postings draw from them (pools_read). */
static gboolean read_pools(run_ctx *c, GError **error)
{
	g_assert(c->out->pools->len == 0);
	g_autoptr(GArray) read = pools_new();
	if (!pools_read(c->d, db_programme(c->d), read, error))
		return FALSE;
	for (guint i = 0; i < read->len; i++) {
		const pools_balance *b = &g_array_index(read, pools_balance, i);
		nightly_pool p = { g_strdup(b->pool_id), b->amount_fen, b->left_fen };
		g_assert(p.left_fen >= 0 && p.left_fen <= p.amount_fen); /* pool_never_below_zero */
		g_array_append_val(c->out->pools, p);
	}
	g_assert(c->out->pools->len == read->len);
	return TRUE;
}

/* How deep dir is inside the folder st is: 0 the folder itself, 1 directly in it...; -1 not inside.
 * Each existing ancestor of dir's absolute path is compared by device and inode, so a link to
 * the inbox on the way is seen through. */
static int depth_inside(const char *dir, const struct stat *st)
{
	g_autofree char *p = g_strdup(dir);
	for (int depth = 0;; depth++) {
		struct stat here;
		if (stat(p, &here) == 0 && here.st_dev == st->st_dev && here.st_ino == st->st_ino)
			return depth;
		g_autofree char *up = g_path_get_dirname(p);
		if (strcmp(up, p) == 0)
			return -1;
		g_free(p);
		p = g_steal_pointer(&up);
	}
}

static gboolean same_dir(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	return strcmp(a, b) == 0;
}

/* The folders' rules (nightly.h): STATUS_USAGE when broken. */
static gboolean check_dirs(const run_ctx *c, GError **error)
{
	const struct {
		const char *what, *dir;
	} own[] = { { "export dir", c->export_dir }, { "archive dir", c->archive_root } };
	for (size_t i = 0; i < G_N_ELEMENTS(own); i++)
		if (!g_utf8_validate(own[i].dir, -1, NULL)) {
			g_autofree char *shown = text_shown(own[i].dir);
			g_set_error(error, NIGHTLY_ERROR, STATUS_USAGE,
				    "the %s '%s' is not a UTF-8 path: the database records where files go", own[i].what,
				    shown);
			return FALSE;
		}
	struct stat inbox;
	if (stat(c->inbox, &inbox) != 0)
		return TRUE; /* reading it will say why */
	for (size_t i = 0; i < G_N_ELEMENTS(own); i++) {
		int depth = depth_inside(own[i].dir, &inbox);
		if (depth == 0 || depth >= 2) {
			g_set_error(error, NIGHTLY_ERROR, STATUS_USAGE,
				    "the %s '%s' is %s '%s': nightly would take its files for courier files;"
				    " give a folder outside the inbox, or one directly in it", own[i].what, own[i].dir,
				    depth == 0 ? "the inbox" : "inside a folder of the inbox", c->inbox);
			return FALSE;
		}
		if (same_dir(own[i].dir, c->rejected_dir)) {
			g_set_error(error, NIGHTLY_ERROR, STATUS_USAGE,
				    "the %s '%s' is the rejected folder: refused files would mix with it", own[i].what,
				    own[i].dir);
			return FALSE;
		}
	}
	if (same_dir(c->export_dir, c->archive_root)) {
		g_set_error(error, NIGHTLY_ERROR, STATUS_USAGE,
			    "the export dir and the archive dir are the same folder '%s': give each its own",
			    c->export_dir);
		return FALSE;
	}
	return TRUE;
}

static void note_own_dir(run_ctx *c, int i, const char *dir)
{
	c->own_known[i] = stat(dir, &c->own_dirs[i]) == 0;
}

static gboolean run_locked(run_ctx *c, GError **error)
{
	const nightly_options *o = c->o;
	runlog(LOG_INFO, "started on inbox '%s' (archive '%s', exports '%s')", c->inbox, c->archive_root,
		    c->export_dir);
	c->io.profiles = o->profiles;
	c->io.now = chrono_now();
	c->io.progress = o->progress;
	g_autoptr(GPtrArray) names = inbox_list(c->inbox, error);
	if (!names || !ingest_begin_run(c->d, "nightly", o->os_user, &c->io.run_id, error))
		return FALSE;
	if (!take_inbox(c, names, error))
		return FALSE;

	if (!settle_run(c->d, o->os_user, &c->out->settle, error))
		return FALSE;
	c->out->settled = TRUE;
	const settle_result *s = &c->out->settle;
	char posted[MONEY_TEXT_MAX], unfunded[MONEY_TEXT_MAX];
	if (s->batch_id)
		runlog(LOG_INFO,
			    "settled batch %d: %d postings for %d orders, %s yuan posted, %s yuan owed and not funded",
			    s->batch_id, s->postings, s->orders, money_format(s->posted_fen, posted),
			    money_format(s->unfunded_fen, unfunded));
	else
		runlog(LOG_INFO, "settled: nothing to record, no batch");
	fault_point("nightly:settled");

	if (!export_batches(c, error) || !read_pools(c, error) || !write_report(c, error) ||
	    !ledger_chain_heads(c->d, &c->out->head, &c->out->payments_head, error))
		return FALSE;
	if (c->out->move_failures) {
		g_set_error(error, NIGHTLY_ERROR, STATUS_SOFTWARE,
			    "%u files could not be moved out of the inbox (see above); the next run moves them",
			    c->out->move_failures);
		return FALSE;
	}
	return TRUE;
}

gboolean nightly_run(db *d, const nightly_options *o, nightly_report *out, GError **error)
{
	g_return_val_if_fail(d != NULL && o != NULL && o->inbox != NULL && out != NULL && out->files != NULL, FALSE);
	g_assert(PQtransactionStatus(db_conn(d)) == PQTRANS_IDLE);
	run_ctx c = { 0 };
	c.d = d;
	c.o = o;
	c.out = out;
	chrono_format_day(chrono_day_of(chrono_now()), out->run_day);
	c.inbox = g_canonicalize_filename(o->inbox, NULL);
	c.archive_root = o->archive_dir ? g_canonicalize_filename(o->archive_dir, NULL)
				       : g_build_filename(c.inbox, NIGHTLY_ARCHIVE_NAME, NULL);
	c.archive_day = g_build_filename(c.archive_root, out->run_day, NULL);
	out->archive_day = g_strdup(c.archive_day);
	c.rejected_dir = g_build_filename(c.inbox, NIGHTLY_REJECTED_NAME, NULL);
	c.export_dir = o->export_dir ? g_canonicalize_filename(o->export_dir, NULL)
				     : g_build_filename(c.inbox, NIGHTLY_EXPORTS_NAME, NULL);
	note_own_dir(&c, 0, c.archive_root);
	note_own_dir(&c, 1, c.export_dir);

	gboolean ok = check_dirs(&c, error) && db_lock_settlement(d, error);
	if (ok) {
		fault_point("nightly:locked");
		ok = run_locked(&c, error);
		db_unlock_settlement(d);
	}
	g_free(c.inbox);
	g_free(c.archive_root);
	g_free(c.archive_day);
	g_free(c.rejected_dir);
	g_free(c.export_dir);
	return ok;
}
