/* approve.h: four eyes (CONTROL.md "Approve a batch"). A batch is payable only once a person of
 * finance has approved it; the approval records the batch's digest, who (system user, database
 * role, session role), when and an optional reason, in an append-only table hash-chained like the
 * payment loads (sql/011_approvals.sql): verify recomputes every link with approve_digest. */
#ifndef SUBSIDY_APPROVE_H
#define SUBSIDY_APPROVE_H

#include "db.h"

#include <glib.h>
#include <stdint.h>

#define APPROVE_ERROR approve_error_quark()
GQuark approve_error_quark(void);

#define APPROVE_DIGEST_HEX 65 /* 64 hex digits and NUL */
#define APPROVE_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
/* A reason, when given, is at least this many characters (CONTROL.md). */
#define APPROVE_REASON_CHARS_MIN 4
/* The role that approves, and the one that may not (the role that settles). */
#define APPROVE_ROLE "subsidy_finance"
#define APPROVE_ROLE_NOT "subsidy_engine"

/* One approval as the digest sees it; the strings are the database's text. */
typedef struct {
	int approval_id;
	int batch_id;
	const char *batch_digest;
	const char *reason;       /* "" when none was given */
	const char *os_user;
	const char *db_role;
	const char *session_role;
	const char *approved_at;  /* UTC, "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (APPROVE_UTC_SQL) */
} approve_row;

/* How the database writes approved_at for the digest: the column in UTC to the microsecond. */
#define APPROVE_UTC_SQL(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* The digest of an approval: SHA-256 of the COPY text form of (version, programme, approval_id,
 * prev_digest, batch_id, batch_digest, reason, os_user, db_role, session_role, approved_at). */
void approve_digest(const char *programme, const char *prev_digest, const approve_row *row,
		    char out[APPROVE_DIGEST_HEX]);

typedef struct {
	int approval_id;
	int batch_id;
	char batch_digest[APPROVE_DIGEST_HEX];
	char digest[APPROVE_DIGEST_HEX]; /* the chain's head is A<approval_id>:<digest> */
	char *db_role;
	char *approved_at;               /* China time, "YYYY-MM-DD HH:MM:SS" */
} approve_report;

/* Approves batch_id of db_programme(d) as os_user, with reason (NULL: none). Errors:
 * STATUS_USAGE for an unknown batch, one approved already, or a reason shorter than
 * APPROVE_REASON_CHARS_MIN; STATUS_NOPERM when the session's role is not a member of
 * APPROVE_ROLE, or is a member of APPROVE_ROLE_NOT (superusers may); STATUS_TEMPFAIL when a
 * settlement holds the lock; database errors as db.h. d must be idle. */
gboolean approve_batch(db *d, int batch_id, const char *reason, const char *os_user, approve_report *out,
		       GError **error);
void approve_report_clear(approve_report *r);

/* Whether batch_id is approved, in the current snapshot: *approved, and then *who ("ROLE /
 * USER": database role, system user) and *when (China time, "YYYY-MM-DD HH:MM:SS"); both NULL
 * when not approved. FALSE only on a database error.
 */
gboolean approve_lookup(db *d, int batch_id, gboolean *approved, char **who, char **when, GError **error);

#endif
