/* fund.h: the budget's rules as pure functions (POLICY.md, "The fund runs out"): which pools pay
 * an order and in what order, what a posting's status is, how a reversal cancels the unfunded
 * part first and returns money to the pools in the reverse order it was drawn. No I/O, no
 * database: settlement loads pools and draw histories, calls these, and writes what they decide.
 *
 * Every amount is integer fen. The invariants, asserted on every call: a posting's entries sum to
 * zero; no pool goes below zero; after a posting, what the order holds funded plus unfunded is its
 * new entitlement. */
#ifndef SUBSIDY_FUND_H
#define SUBSIDY_FUND_H

#include "chrono.h"

#include <glib.h>
#include <stdint.h>

/* A budget pool as settlement sees it: its validity (inclusive days; valid_to may be
 * POLICY_OPEN_END) and the money left in it. pool_id is borrowed. */
typedef struct {
	const char *pool_id;
	int priority;
	chrono_day valid_from;
	chrono_day valid_to;
	int64_t left_fen;
} fund_pool;

/* Sorts pools in the order postings draw from them: lowest priority number first, equal
 * priorities by pool_id bytewise. */
void fund_pools_sort(fund_pool *pools, size_t n);

/* What one order drew from one pool and has not had back. An order's draws form a stack, oldest
 * first: a reversal returns money from the top. pool_id is borrowed. */
typedef struct {
	const char *pool_id;
	int64_t net_fen;
} fund_draw;

/* Replays one pool entry of an order's history onto its draw stack (entries in the order they
 * were made): a negative amount (money out of the pool) pushes a draw, a positive one (money
 * back) takes from that pool's latest draws first. FALSE when a return exceeds what the order
 * drew from that pool: a history that does not add up. */
gboolean fund_draws_replay(GArray *draws, const char *pool_id, int64_t pool_amount_fen);

typedef enum {
	FUND_NOTHING,          /* a retry that found no money: nothing to record */
	FUND_FUNDED,
	FUND_PARTIAL,
	FUND_BUDGET_EXHAUSTED,
	FUND_REVERSAL,
} fund_status;

/* "FUNDED", "PARTIAL", "BUDGET_EXHAUSTED", "REVERSAL" (the contract's names); NULL for NOTHING. */
const char *fund_status_name(fund_status s);

/* One side of a posting's double entry: pool_id NULL is the shop's payable account. Amounts are
 * as the ledger books them: drawn from a pool is negative on the pool and positive on the
 * payable; a return the reverse. */
typedef struct {
	const char *pool_id;
	int64_t amount_fen;
} fund_entry;

/* An order's state before a posting: its entitlement, and of it what was funded and what is
 * still owed (funded_fen + unfunded_fen == entitlement_fen). */
typedef struct {
	int64_t entitlement_fen;
	int64_t funded_fen;
	int64_t unfunded_fen;
} fund_order_state;

typedef struct {
	fund_status status;
	int64_t moved_fen;    /* to the shop, signed */
	fund_order_state after;
} fund_posting;

/* Funds an order whose entitlement becomes new_fen, on its order date day, from pools (sorted by
 * fund_pools_sort; their left_fen is updated). When new_fen is below the entitlement, the
 * posting is a reversal: it cancels the unfunded amount first, then returns money to the pools
 * from the top of draws (updated) down. Otherwise it draws what the order is owed, new_fen less
 * what was funded, from the pools valid on day, in order, until they run out (and pushes what it
 * drew onto draws, when given). entries (a GArray of fund_entry) is emptied and gets the
 * posting's double entries, pools in the order touched, the payable where it falls. A reversal
 * that leaves the order owed money funds none: the caller retries it (fund_post again at the same
 * new_fen) with the other retries, in funding-key order. draws may be NULL when new_fen is not
 * below the entitlement. */
fund_posting fund_post(fund_pool *pools, size_t n_pools, GArray *draws, chrono_day day, fund_order_state before,
		       int64_t new_fen, GArray *entries);

/* The parts of a settlement's funding, in the order POLICY.md gives: reversals first, then new
 * differences and retries together in funding-key order. */
typedef enum {
	FUND_PASS_REVERSAL = 0,
	FUND_PASS_FORWARD = 1,
} fund_pass;

/* One posting settlement tries for an order: fund_post(pools, ..., before, new_fen, ...) in its
 * pass, in funding-key order within the pass. */
typedef struct {
	fund_pass pass;
	fund_order_state before;
	int64_t new_fen;
} fund_attempt;

#define FUND_ATTEMPTS_MAX 2

/* The postings to try for an order whose entitlement becomes new_fen (POLICY.md: "A settlement
 * records a posting only where an entitlement changed or money was funded"): none when nothing
 * changed and nothing is owed; a reversal when the entitlement falls, and when that reversal
 * leaves the order owed money (it cancels only part of what was unfunded), a retry of the rest
 * with the other retries, presenting the order as the reversal leaves it; otherwise one posting
 * forward (a new difference, or a retry of what is owed). Returns how many are in out. */
size_t fund_plan(fund_order_state before, int64_t new_fen, fund_attempt out[FUND_ATTEMPTS_MAX]);

#endif
