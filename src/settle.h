/* settle.h: settlement: eligible lines become orders, orders get their entitlement from the
 * policy, the difference from what each order already holds is posted and funded from the budget
 * pools in funding-key order, and everything one settlement records is one hash-chained batch.
 *
 * The caller holds the settlement lock (db_lock_settlement). settle_run is one transaction:
 * killed at any point it leaves no trace and the next run does the same work. */
#ifndef SUBSIDY_SETTLE_H
#define SUBSIDY_SETTLE_H

#include "db.h"
#include "json.h"

#include <glib.h>
#include <stdint.h>

typedef struct {
	int batch_id;         /* 0 when there was nothing to record (no batch) */
	int orders;           /* distinct orders with a posting in the batch */
	int postings;
	int64_t posted_fen;   /* signed net funded by the batch */
	int64_t unfunded_fen; /* what all orders are owed and not funded, after it */
} settle_result;

gboolean settle_run(db *d, const char *os_user, settle_result *out, GError **error);

/* Writes CLI.md's settle object (`{"batch", "orders", "postings", "posted_fen", "unfunded_fen"}`;
 * batch null and zeros when nothing was recorded) as the next value in w. */
void settle_json(json_writer *w, const settle_result *r);
/* Prints the result as one line for a person on stdout. */
void settle_print_text(const settle_result *r);

/* The SQL text of the order key of a line: its order number, or for a line without one, its own
 * courier and waybill (an order of its own), in normal form: ident_order_key, which says how.
 * Used by ingest when it stores eligible lines, and by replay. */
char *settle_order_key(const char *order_no, const char *courier, const char *waybill_no);

#endif
