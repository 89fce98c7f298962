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

/* An order settlement could not price (its arithmetic does not fit 64 bits: a stored fee far
 * beyond any fee_max). It is held: no posting, its state as before; the rest of the batch settles,
 * and the order is kept in settle_held and priced again at every settlement until it can be. */
typedef struct {
	char *shop_id;
	char *order_no; /* "" for an order without a number */
	char *order_key;
	char *reason;
} settle_held;

typedef struct {
	int batch_id;         /* 0 when there was nothing to record (no batch) */
	int orders;           /* distinct orders with a posting in the batch */
	int postings;
	int64_t posted_fen;   /* signed net funded by the batch */
	int64_t unfunded_fen; /* what all orders are owed and not funded, after it */
	GPtrArray *held;      /* settle_held, by (shop_id, order_key); NULL when none */
} settle_result;

/* Settles every order whose entitlement may have changed since the last settlement: orders with
 * new eligible lines, orders still owed unfunded money, and orders whose shop, household or policy
 * version was recorded or superseded in the registry since the last settlement (POLICY.md:
 * the entitlement follows the registry as known at each settlement). out is filled on success;
 * settle_result_clear frees what it holds. */
gboolean settle_run(db *d, const char *os_user, settle_result *out, GError **error);
void settle_result_clear(settle_result *r);

/* Writes CLI.md's settle object (`{"batch", "orders", "postings", "posted_fen", "unfunded_fen"}`;
 * batch null and zeros when nothing was recorded) as the next value in w; when orders were held,
 * a last key `"held": [{"shop_id", "order_no", "reason"}]`. */
void settle_json(json_writer *w, const settle_result *r);
/* Prints the result as one line for a person on stdout. */
void settle_print_text(const settle_result *r);
/* Prints one line per held order on stderr, names escaped: what a person must see. */
void settle_print_held(const settle_result *r);

#endif
