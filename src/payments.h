/* payments.h: the treasury's payment results (FORMATS.md "Treasury payment results"), loaded and
 * reconciled against what each batch exported.
 *
 * A file is read whole (UTF-8, BOM allowed, or GB18030) and refused whole when any line does not
 * parse. Each parsed line then either applies (a payments row; a PAID one also moves the shop's
 * payable to the treasury in the ledger), repeats what is applied already (ignored, counted), or is
 * a finding (recorded with its line and reason, never applied). One transaction per file, one runs
 * row and one payment_loads row, hash-chained like batches. */
#ifndef SUBSIDY_PAYMENTS_H
#define SUBSIDY_PAYMENTS_H

#include "chrono.h"
#include "db.h"
#include "ledger.h"

#include <glib.h>
#include <stdint.h>

#define PAYMENTS_ERROR payments_error_quark()
GQuark payments_error_quark(void);

/* A payments file larger than this is refused: a result per shop per batch stays far below. */
#define PAYMENTS_FILE_BYTES_MAX (64 * 1024 * 1024)

/* A line that is not applied, and why. */
typedef struct {
	int line_no;
	int batch_id;
	char *shop_id;
	char *amount_text; /* as written in the file */
	char *reason;
} payments_finding;

typedef struct {
	char *file;              /* as given */
	int load_id;
	int applied;             /* results applied by this load */
	int already_applied;     /* lines identical to a result applied before (or earlier in the file) */
	int64_t paid_fen;        /* applied PAID amounts */
	int64_t failed_fen;      /* applied FAILED amounts */
	GPtrArray *findings;     /* payments_finding *, in line order */
	char digest[LEDGER_DIGEST_HEX]; /* the load's: the payments chain's head is P<load_id>:<digest> */
} payments_report;

/* Loads the results in path; os_user is recorded with the run. Fills *report (clear it with
 * payments_report_clear). Errors: STATUS_NOINPUT when path cannot be read, STATUS_DATAERR when it
 * does not parse (the message lists the lines and why; nothing is stored), STATUS_TEMPFAIL when a
 * settlement holds the lock, database errors as db.h. Findings are no error: they are in the
 * report (and in payment_findings). Needs an idle connection: it runs its own transaction. */
gboolean payments_load(db *d, const char *path, const char *os_user, payments_report *report, GError **error);
void payments_report_clear(payments_report *report);

/* What payments_load checks of a file before it reads the database, on its bytes (len of them),
 * with no database: encoding, CSV, header, every line. name stands for the file in messages. TRUE
 * with *n_lines (may be NULL) the result lines; else STATUS_DATAERR as payments_load refuses. For
 * fuzzing and tests. */
/* 支付时间 as FORMATS.md allows it (2018-06-20 10:00:00, 2018-06-20 10:00, 2018/6/20 10:00,
 * 2018-06-20: the start of the day) into *out; FALSE when it is none of them. */
gboolean payments_parse_time(const char *text, chrono_time *out);

gboolean payments_check_bytes(const char *name, const char *bytes, size_t len, int *n_lines, GError **error);

#endif
