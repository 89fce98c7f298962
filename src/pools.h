/* pools.h: the read model of the budget: each pool in force with its amount and what is left of it
 * (pool_balances), in the order postings draw from them. One query for settlement (which draws),
 * nightly's summary, `status` and the report, so that all four see the pools alike. Reads only. */
#ifndef SUBSIDY_POOLS_H
#define SUBSIDY_POOLS_H

#include "chrono.h"
#include "db.h"

#include <glib.h>
#include <stdint.h>

/* A pool in force (its current version) and its balance. */
typedef struct {
	char *pool_id;
	char *name;
	chrono_day valid_from;
	chrono_day valid_to; /* inclusive; POLICY_OPEN_END when open */
	int priority;
	int64_t amount_fen;  /* the balance's amount: what the pool holds in all */
	int64_t left_fen;    /* amount less what postings drew, net of returns: 0 <= left <= amount */
} pools_balance;

/* A new empty array of pools_balance that frees what its elements hold. */
GArray *pools_new(void);

/* Appends to out (pools_new's, empty) every pool of programme in force, in drawing order: lowest
 * priority number first, equal priorities by pool_id bytewise, the order fund_pools_sort gives
 * (asserted). Reads in d's transaction when one is open, so a caller's snapshot holds: settlement's
 * and the readers'. Database errors as db.h; out then holds no pool. */
gboolean pools_read(db *d, const char *programme, GArray *out, GError **error);

#endif
