/* ingest.h: storing courier manifests: every line as received, with exactly one outcome.
 *
 * One transaction per file, under the settlement lock's key (so a settlement never sees half a
 * file and two ingests never race on a waybill): the file's bytes (in chunks), every line (its
 * place in those bytes, its parsed fields, its outcome and reason), the first line of every new
 * waybill, and the file's record with its counts, which the engine checks against the stored lines
 * before it commits. A file refused as a whole stores nothing. Lines move with COPY a chunk at a
 * time, with one duplicate look-up per chunk: memory is bounded by the chunk, not the file. */
#ifndef SUBSIDY_INGEST_H
#define SUBSIDY_INGEST_H

#include "chrono.h"
#include "db.h"
#include "json.h"
#include "policy.h"
#include "profile.h"
#include "registry.h"

#include <glib.h>
#include <stdint.h>

typedef struct {
	const profile_set *profiles;
	const char *profile_name;     /* --profile, or NULL: detected from the header */
	const char *const *overrides; /* --set FIELD=VALUE, NULL-terminated, or NULL */
	chrono_time now;              /* the moment of ingest (China time): later pickups are refused */
	int64_t run_id;               /* the runs row of this call */
	gboolean progress;            /* report progress on stderr */
	/* --dry-run: everything short of storing: the file is read, classified against the
	 * database inside its transaction, and the transaction is rolled back; no run, no file id
	 * from the sequence. The result gets preview and reasons. */
	gboolean dry_run;
} ingest_options;

/* Lines of a dry run's preview; reasons kept per outcome. */
#define INGEST_PREVIEW_LINES 5
#define INGEST_TOP_REASONS 3

typedef enum {
	INGEST_STORED,
	INGEST_SKIPPED, /* the same bytes were ingested before */
	INGEST_REFUSED, /* refused as a whole: nothing stored */
} ingest_status;

typedef struct {
	char *name;    /* the path as given */
	char *sha256;  /* NULL when the file could not be read */
	char *profile; /* NULL when none was chosen */
	ingest_status status;
	int exit_status;  /* for a refused file: STATUS_DATAERR, or STATUS_NOINPUT when unreadable */
	gboolean retry;   /* refused for now, not for what it holds: it could not be read, or it
			   * changed while it was read (still being written): try again later */
	int64_t file_id;  /* stored: the new file; skipped: the earlier one */
	int64_t lines;
	char *reason;     /* skipped or refused: why */
	int64_t outcomes[OUTCOME_COUNT];
	GPtrArray *reasons; /* of lines_reason: the most frequent of each outcome but ELIGIBLE, or NULL */
	GPtrArray *preview; /* dry run: the first lines as parsed, each a GStrv of LINES_COLUMNS, or NULL */
} ingest_file_result;

void ingest_file_result_clear(ingest_file_result *r);

/* Records a `runs` row of kind ('ingest' or 'nightly') for os_user, in its own transaction. */
gboolean ingest_begin_run(db *d, const char *kind, const char *os_user, int64_t *run_id, GError **error);

/* Ingests one file. A file refused as a whole, or that cannot be read, is a result (status
 * INGEST_REFUSED with its reason), not an error: FALSE is for failures of the engine or the
 * database, after which nothing of the file is stored. Checks 3-7 use the registry as known in the
 * file's transaction, read once the settlement lock's key is held (POLICY.md: as known when the
 * line is ingested): a registry load committed between two files counts for the second.
 *
 * What is not a regular file (a fifo, a device, a socket, a folder; a symbolic link is followed)
 * is refused with STATUS_NOINPUT before it is opened: reading a fifo would wait for a writer with
 * the settlement lock held, /dev/zero would never end. Standard input is read through
 * ingest_stdin_save. The name recorded and shown is path made fit for a person (text_shown). */
gboolean ingest_file(db *d, const char *path, const ingest_options *o, ingest_file_result *out, GError **error);

/* ingest_file of path, recorded and shown under name instead (standard input's copy as "stdin"). */
gboolean ingest_file_as(db *d, const char *path, const char *name, const ingest_options *o,
			ingest_file_result *out, GError **error);

/* The operands that mean standard input: "-" and "/dev/stdin". */
gboolean ingest_is_stdin(const char *operand);

/* The name under which standard input is recorded and shown. */
#define INGEST_STDIN_NAME "stdin"
/* The most bytes taken from standard input: it is copied to a temporary file first (a pipe can be
 * read once, and ingest reads a file twice: its digest, then its lines). A larger statement is
 * saved to a file and ingested by name. */
#define INGEST_STDIN_BYTES_MAX ((gint64)1 << 30)

/* Copies standard input, once, to a new private file ".../INGEST_STDIN_NAME" in a folder of its
 * own under the temporary directory (mode 0700). Returns its path (caller frees, and removes it
 * with ingest_stdin_remove); NULL with an error of code STATUS_DATAERR when it holds more than
 * INGEST_STDIN_BYTES_MAX bytes, STATUS_NOINPUT when it cannot be read, STATUS_SOFTWARE when the
 * copy cannot be written. */
char *ingest_stdin_save(GError **error);
void ingest_stdin_remove(const char *path);

/* "stored", "skipped", "refused" */
const char *ingest_status_name(ingest_status s);

/* Writes CLI.md's "files" array and "outcomes" totals as two keys of the open object in w. */
void ingest_json(json_writer *w, const ingest_file_result *results, size_t n);
/* Prints a person's summary: a line per file (under it, its most frequent reasons, and a dry run's
 * first lines) and the totals per outcome. */
void ingest_print_text(const ingest_file_result *results, size_t n);

/* Fills r->reasons of a stored file (after its commit). */
gboolean ingest_read_reasons(db *d, ingest_file_result *r, GError **error);

#endif
