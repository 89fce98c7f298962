/* fund.c: the budget's rules; see fund.h and POLICY.md ("The fund runs out"). */
#include "fund.h"

#include <stdlib.h>
#include <string.h>

static int pool_cmp(const void *a, const void *b)
{
	const fund_pool *x = a, *y = b;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return strcmp(x->pool_id, y->pool_id); /* bytewise: strcmp compares as unsigned char */
}

void fund_pools_sort(fund_pool *pools, size_t n)
{
	if (n > 1)
		qsort(pools, n, sizeof *pools, pool_cmp);
	for (size_t i = 1; i < n; i++)
		g_assert(pool_cmp(&pools[i - 1], &pools[i]) < 0); /* pool_ids are unique */
}

gboolean fund_draws_replay(GArray *draws, const char *pool_id, int64_t pool_amount_fen)
{
	g_assert(pool_amount_fen != 0); /* entries are never zero */
	if (pool_amount_fen < 0) {
		fund_draw *top = draws->len ? &g_array_index(draws, fund_draw, draws->len - 1) : NULL;
		if (top && strcmp(top->pool_id, pool_id) == 0) {
			top->net_fen -= pool_amount_fen;
		} else {
			fund_draw d = { pool_id, -pool_amount_fen };
			g_array_append_val(draws, d);
		}
		return TRUE;
	}
	int64_t back = pool_amount_fen;
	for (guint k = draws->len; k-- > 0 && back > 0;) {
		fund_draw *d = &g_array_index(draws, fund_draw, k);
		if (strcmp(d->pool_id, pool_id) != 0)
			continue;
		int64_t take = MIN(back, d->net_fen);
		d->net_fen -= take;
		back -= take;
	}
	return back == 0;
}

const char *fund_status_name(fund_status s)
{
	switch (s) {
	case FUND_FUNDED: return "FUNDED";
	case FUND_PARTIAL: return "PARTIAL";
	case FUND_BUDGET_EXHAUSTED: return "BUDGET_EXHAUSTED";
	case FUND_REVERSAL: return "REVERSAL";
	case FUND_NOTHING: return NULL;
	}
	g_assert_not_reached();
}

static fund_pool *pool_named(fund_pool *pools, size_t n, const char *pool_id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(pools[i].pool_id, pool_id) == 0)
			return &pools[i];
	return NULL;
}

static void add_entry(GArray *entries, const char *pool_id, int64_t amount_fen)
{
	g_assert(amount_fen != 0);
	fund_entry e = { pool_id, amount_fen };
	g_array_append_val(entries, e);
}

/* Returns refund_fen to the pools from the top of the draw stack down. */
static void give_back(fund_pool *pools, size_t n_pools, GArray *draws, int64_t refund_fen, GArray *entries)
{
	add_entry(entries, NULL, -refund_fen);
	int64_t left = refund_fen;
	for (guint k = draws->len; k-- > 0 && left > 0;) {
		fund_draw *d = &g_array_index(draws, fund_draw, k);
		int64_t back = MIN(left, d->net_fen);
		if (back == 0)
			continue;
		d->net_fen -= back;
		left -= back;
		fund_pool *p = pool_named(pools, n_pools, d->pool_id);
		/* A pool an order drew from is never removed from the registry, only superseded. */
		g_assert(p != NULL);
		p->left_fen += back;
		add_entry(entries, d->pool_id, back);
	}
	g_assert(left == 0); /* an order never gets back more than it drew */
}

/* Draws up to want_fen from the pools valid on day, in order; entries get one per pool drawn and
 * the payable last. */
static int64_t draw(fund_pool *pools, size_t n_pools, GArray *draws, chrono_day day, int64_t want_fen,
		    GArray *entries)
{
	int64_t got = 0;
	for (size_t i = 0; i < n_pools && got < want_fen; i++) {
		fund_pool *p = &pools[i];
		if (p->left_fen == 0 || day < p->valid_from || day > p->valid_to)
			continue;
		int64_t take = MIN(p->left_fen, want_fen - got);
		p->left_fen -= take;
		got += take;
		add_entry(entries, p->pool_id, -take);
		if (draws)
			fund_draws_replay(draws, p->pool_id, -take);
	}
	if (got > 0)
		add_entry(entries, NULL, got);
	return got;
}

fund_posting fund_post(fund_pool *pools, size_t n_pools, GArray *draws, chrono_day day, fund_order_state before,
		       int64_t new_fen, GArray *entries)
{
	g_assert(g_array_get_element_size(entries) == sizeof(fund_entry));
	g_array_set_size(entries, 0);
	g_assert(before.funded_fen >= 0 && before.unfunded_fen >= 0 && new_fen >= 0);
	g_assert(before.funded_fen + before.unfunded_fen == before.entitlement_fen);
	fund_posting out = { 0 };
	out.after.entitlement_fen = new_fen;
	if (new_fen < before.entitlement_fen) {
		int64_t fall = before.entitlement_fen - new_fen;
		int64_t cancel = MIN(fall, before.unfunded_fen);
		int64_t refund = fall - cancel;
		g_assert(refund <= before.funded_fen);
		out.status = FUND_REVERSAL;
		out.moved_fen = -refund;
		out.after.unfunded_fen = before.unfunded_fen - cancel;
		out.after.funded_fen = before.funded_fen - refund;
		if (refund > 0) {
			g_assert(draws != NULL);
			give_back(pools, n_pools, draws, refund, entries);
		}
	} else {
		int64_t want = new_fen - before.funded_fen;
		g_assert(want >= 0);
		int64_t got = draw(pools, n_pools, draws, day, want, entries);
		out.moved_fen = got;
		out.after.funded_fen = before.funded_fen + got;
		out.after.unfunded_fen = want - got;
		if (new_fen == before.entitlement_fen && got == 0)
			out.status = FUND_NOTHING; /* a retry that found no money: nothing changed */
		else
			out.status = got == want ? FUND_FUNDED : got == 0 ? FUND_BUDGET_EXHAUSTED : FUND_PARTIAL;
	}
	/* The posting's entries sum to zero and move what the posting says; the order adds up. */
	int64_t sum = 0, payable = 0;
	for (guint i = 0; i < entries->len; i++) {
		const fund_entry *e = &g_array_index(entries, fund_entry, i);
		sum += e->amount_fen;
		if (!e->pool_id)
			payable += e->amount_fen;
	}
	g_assert(sum == 0 && payable == out.moved_fen);
	g_assert(out.after.funded_fen + out.after.unfunded_fen == out.after.entitlement_fen);
	g_assert(out.after.funded_fen >= 0 && out.after.unfunded_fen >= 0);
	for (size_t i = 0; i < n_pools; i++)
		g_assert(pools[i].left_fen >= 0);
	return out;
}

size_t fund_plan(fund_order_state before, int64_t new_fen, fund_attempt out[FUND_ATTEMPTS_MAX])
{
	g_assert(before.funded_fen >= 0 && before.unfunded_fen >= 0 && new_fen >= 0);
	g_assert(before.funded_fen + before.unfunded_fen == before.entitlement_fen);
	size_t n = 0;
	if (new_fen < before.entitlement_fen) {
		out[n++] = (fund_attempt){ FUND_PASS_REVERSAL, before, new_fen };
		int64_t fall = before.entitlement_fen - new_fen;
		if (before.unfunded_fen > fall) {
			/* The reversal only cancels: funded as before, owed the rest (as fund_post does). */
			fund_order_state left = { new_fen, before.funded_fen, before.unfunded_fen - fall };
			out[n++] = (fund_attempt){ FUND_PASS_FORWARD, left, new_fen };
		}
	} else if (new_fen > before.entitlement_fen || before.unfunded_fen > 0) {
		out[n++] = (fund_attempt){ FUND_PASS_FORWARD, before, new_fen };
	}
	g_assert(n <= FUND_ATTEMPTS_MAX);
	for (size_t i = 0; i < n; i++)
		g_assert(out[i].before.funded_fen + out[i].before.unfunded_fen == out[i].before.entitlement_fen);
	return n;
}
