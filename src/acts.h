/* acts.h: the correction acts of CONTROL.md: withdraw a file (W<n>), resolve a conflict (R<n>),
 * reclassify a date range (C<n>). Each is one row of `acts`, appended under the settlement lock,
 * chained (prev_digest, digest over ACTS_TEXT) and sealed by the next batch; what it does to lines
 * is written as line_acts and claim_moves rows (sql/010_acts.sql). No act moves money: the next
 * settlement calls acts_settle_touch, which prices again every order an act it has not seen
 * touched, and its postings carry the act's reference. */
#ifndef SUBSIDY_ACTS_H
#define SUBSIDY_ACTS_H

#include "db.h"
#include "registry.h"

#include <glib.h>
#include <stdint.h>

/* The canonical text of an acts row, as SQL over its columns: what its digest covers. */
#define ACTS_TEXT                                                                                                 \
	"format('act|%L|%s|%s|%s|%s|%L|%L|%L|%L|%s|%L|%L|%s|%s|%s|%s|%s', programme, act_seq, kind, act_no,"      \
	" to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), os_user, db_role,"        \
	" session_role, reason, file_id, courier, waybill_no, take_file_id, take_line_no, from_day, to_day,"      \
	" prev_digest)"
#define ACTS_DIGEST "encode(sha256(convert_to(" ACTS_TEXT ", 'UTF8')), 'hex')"

/* A reason must say something: at least this many characters, spaces around not counted. */
#define ACTS_REASON_MIN_CHARS 4

typedef struct {
	char *ref;        /* "W3" */
	int64_t file_id;  /* withdraw: the file; resolve: the line taken (0: the first line) */
	int line_no;
	int64_t lines;    /* lines whose state the act changed (withdraw, resolve) */
	int64_t claims;   /* waybill claims released or moved */
	char *note;       /* resolve: what the taken line now is */
} acts_result;

void acts_result_clear(acts_result *r);

/* `subsidy withdraw`: file is a file id or a SHA-256. Errors: ACTS_ERROR with STATUS_USAGE for an
 * unknown file, one already withdrawn, or a reason too short. */
gboolean acts_withdraw(db *d, const char *os_user, const char *file, const char *reason, acts_result *out,
		       GError **error);

/* `subsidy resolve`: take is "first" or "FILE_ID:LINE". */
gboolean acts_resolve(db *d, const char *os_user, const char *courier, const char *waybill, const char *take,
		      const char *reason, acts_result *out, GError **error);

/* `subsidy reclassify`: from and to are YYYY-MM-DD, from <= to. */
gboolean acts_reclassify(db *d, const char *os_user, const char *from, const char *to, const char *reason,
			 acts_result *out, GError **error);

/* For settle, inside its transaction, with settle_touched made: carries out the acts no
 * settlement has seen (a reclassification classifies its range now, with reg), adds every order
 * they touch to settle_touched, and fills the temporary table settle_corrections (shop_id,
 * order_key, correction) with the newest act's reference per order. *n gets the orders added. */
gboolean acts_settle_touch(db *d, const registry *reg, int64_t *n, GError **error);

#endif
