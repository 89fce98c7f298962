/* lines.h: reading a stored file's lines back for a person: `subsidy lines`, `ingest --dry-run`'s
 * first lines, and the most frequent reasons `ingest` prints under its counts.
 *
 * Reads only. A line is shown with its parsed fields as stored: the pickup as a date when the
 * statement gave a date only (FORMATS.md: no invented 00:00:00), the fee in yuan. */
#ifndef SUBSIDY_LINES_H
#define SUBSIDY_LINES_H

#include "db.h"

#include <glib.h>
#include <stdint.h>

/* The columns of a line as shown, in order (CSV header, JSON keys). */
enum {
	LINES_LINE,
	LINES_COURIER,
	LINES_WAYBILL_NO,
	LINES_ORDER_NO,
	LINES_PICKUP_TIME,
	LINES_SENDER_CODE,
	LINES_SENDER_PHONE,
	LINES_WEIGHT_KG,
	LINES_FEE,
	LINES_CATEGORY,
	LINES_DESTINATION,
	LINES_OUTCOME,
	LINES_REASON,
	LINES_COLUMNS
};
extern const char *const lines_column_names[LINES_COLUMNS];

/* A stored file's record, as `lines` heads its lines with. */
typedef struct {
	char *name;
	char *profile;
	int64_t lines;
	char *ingested_at; /* China time, "YYYY-MM-DD HH:MM:SS" */
} lines_file;

/* Reads the record of file_id (of the session's programme); *found is FALSE when there is none.
 * out is the caller's to clear. */
gboolean lines_file_read(db *d, int64_t file_id, lines_file *out, gboolean *found, GError **error);
void lines_file_clear(lines_file *f);

/* Receives one line: values[LINES_COLUMNS], NULL where absent. FALSE (with error) stops. */
typedef gboolean (*lines_row_fn)(const char *const *values, gpointer user_data, GError **error);

/* Calls fn for each line of file_id (of the session's programme), in line order, only those of
 * outcome when not NULL, at most limit when limit > 0. Must run inside a transaction (it reads
 * with a cursor, a batch at a time, so memory does not grow with the file). */
gboolean lines_each(db *d, int64_t file_id, const char *outcome, int64_t limit, lines_row_fn fn,
		    gpointer user_data, GError **error);

/* One kind of reason of one outcome: reasons alike but for the values they quote ('...') and the
 * places they name (file.csv:12) are one kind. */
typedef struct {
	char *outcome;
	int64_t lines;      /* lines of this kind */
	int64_t first_line; /* the first of them */
	char *reason;       /* the first one's reason, as stored */
} lines_reason;

void lines_reason_free(lines_reason *r);

/* The per_outcome most frequent kinds of reason of each outcome other than ELIGIBLE in file_id,
 * most lines first (then the earliest), outcomes in the order of their names. A GPtrArray of
 * lines_reason (frees them). */
GPtrArray *lines_top_reasons(db *d, int64_t file_id, guint per_outcome, GError **error);

#endif
