/* test_fund.c: POLICY.md, "The fund runs out", rule by rule, on the pure funding functions: the
 * order pools are drawn in, the budget example, pools valid by date, reversals cancelling the
 * unfunded part first and returning money in the reverse order it was drawn, and a randomized
 * property test over long random histories. */
#include "fund.h"
#include "policy.h"

#include <criterion/criterion.h>
#include <string.h>

static chrono_day day(int y, int m, int d)
{
	chrono_day out;
	cr_assert(chrono_day_from_ymd(y, m, d, &out));
	return out;
}

static fund_pool pool(const char *id, int priority, int64_t left_fen)
{
	fund_pool p = { id, priority, day(2016, 1, 1), POLICY_OPEN_END, left_fen };
	return p;
}

static fund_order_state owed(int64_t entitlement, int64_t funded)
{
	fund_order_state s = { entitlement, funded, entitlement - funded };
	return s;
}

Test(fund, pools_are_drawn_lowest_priority_first_then_by_pool_id_bytewise)
{
	fund_pool pools[] = { pool("b", 2, 1), pool("Z", 1, 1), pool("a", 2, 1), pool("中", 1, 1), pool("B", 2, 1) };
	fund_pools_sort(pools, G_N_ELEMENTS(pools));
	const char *want[] = { "Z", "中", "B", "a", "b" };
	for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
		cr_assert_str_eq(pools[i].pool_id, want[i], "position %zu", i);
}

/* "pool of 15.00 yuan; three standard orders entitled 10.00, 10.00, 10.00 (in funding order) →
 * posted 10.00 (FUNDED), 5.00 (PARTIAL, 5.00 unfunded), 0.00 (BUDGET_EXHAUSTED, 10.00 unfunded).
 * A 20.00 pool loaded later pays 5.00 to the second and 10.00 to the third, in that order." */
Test(fund, the_budget_example_of_policy_md)
{
	g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(fund_entry));
	fund_pool pools[2] = { pool("first", 1, 1500) };
	chrono_day d = day(2018, 6, 5);
	fund_posting a = fund_post(pools, 1, NULL, d, owed(0, 0), 1000, entries);
	fund_posting b = fund_post(pools, 1, NULL, d, owed(0, 0), 1000, entries);
	fund_posting c = fund_post(pools, 1, NULL, d, owed(0, 0), 1000, entries);
	cr_assert(a.status == FUND_FUNDED && a.moved_fen == 1000 && a.after.unfunded_fen == 0);
	cr_assert(b.status == FUND_PARTIAL && b.moved_fen == 500 && b.after.unfunded_fen == 500);
	cr_assert(c.status == FUND_BUDGET_EXHAUSTED && c.moved_fen == 0 && c.after.unfunded_fen == 1000);
	cr_assert_eq(entries->len, 0, "nothing drawn, no entry");
	cr_assert_eq(pools[0].left_fen, 0);

	pools[1] = pool("later", 2, 2000);
	fund_posting b2 = fund_post(pools, 2, NULL, d, b.after, 1000, entries);
	fund_posting c2 = fund_post(pools, 2, NULL, d, c.after, 1000, entries);
	cr_assert(b2.status == FUND_FUNDED && b2.moved_fen == 500 && b2.after.funded_fen == 1000);
	cr_assert(c2.status == FUND_FUNDED && c2.moved_fen == 1000 && c2.after.unfunded_fen == 0);
	cr_assert_eq(pools[1].left_fen, 500);
	/* The last posting's entries: the pool's debit, then the payable's credit. */
	cr_assert_eq(entries->len, 2);
	cr_assert_str_eq(g_array_index(entries, fund_entry, 0).pool_id, "later");
	cr_assert_eq(g_array_index(entries, fund_entry, 0).amount_fen, -1000);
	cr_assert_null(g_array_index(entries, fund_entry, 1).pool_id);
	cr_assert_eq(g_array_index(entries, fund_entry, 1).amount_fen, 1000);
}

Test(fund, a_retry_that_finds_no_money_records_nothing)
{
	g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(fund_entry));
	fund_pool pools[] = { pool("p", 1, 0) };
	fund_posting r = fund_post(pools, 1, NULL, day(2018, 6, 5), owed(1000, 500), 1000, entries);
	cr_assert_eq(r.status, FUND_NOTHING);
	cr_assert_null(fund_status_name(r.status));
	cr_assert_eq(r.after.unfunded_fen, 500);
}

Test(fund, a_posting_draws_only_from_pools_valid_on_its_order_date)
{
	g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(fund_entry));
	fund_pool pools[] = { pool("june", 1, 10000), pool("all", 2, 300) };
	pools[0].valid_from = day(2018, 6, 1);
	pools[0].valid_to = day(2018, 6, 30);
	fund_posting may = fund_post(pools, 2, NULL, day(2018, 5, 31), owed(0, 0), 1000, entries);
	cr_assert(may.status == FUND_PARTIAL && may.moved_fen == 300, "only 'all' covers May 31");
	fund_posting june = fund_post(pools, 2, NULL, day(2018, 6, 30), owed(0, 0), 1000, entries);
	cr_assert(june.status == FUND_FUNDED && pools[0].left_fen == 9000, "'june' includes its last day");
	fund_posting july = fund_post(pools, 2, NULL, day(2018, 7, 1), owed(0, 0), 1000, entries);
	cr_assert_eq(july.status, FUND_BUDGET_EXHAUSTED);
}

Test(fund, a_reversal_cancels_the_unfunded_amount_first)
{
	g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(fund_entry));
	g_autoptr(GArray) draws = g_array_new(FALSE, FALSE, sizeof(fund_draw));
	fund_pool pools[] = { pool("p", 1, 0) };
	cr_assert(fund_draws_replay(draws, "p", -1000));
	/* Entitled to 16.00, 10.00 funded, 6.00 owed; now entitled to 12.00: 4.00 less owed. */
	fund_posting r = fund_post(pools, 1, draws, day(2018, 6, 5), owed(1600, 1000), 1200, entries);
	cr_assert(r.status == FUND_REVERSAL && r.moved_fen == 0 && r.after.unfunded_fen == 200);
	cr_assert_eq(entries->len, 0);
	/* Now 9.00: the 2.00 owed is cancelled and 1.00 goes back to the pool. */
	fund_posting s = fund_post(pools, 1, draws, day(2018, 6, 5), r.after, 900, entries);
	cr_assert(s.status == FUND_REVERSAL && s.moved_fen == -100 && s.after.unfunded_fen == 0);
	cr_assert_eq(s.after.funded_fen, 900);
	cr_assert_eq(pools[0].left_fen, 100);
}

Test(fund, a_reversal_returns_money_in_the_reverse_order_it_was_drawn)
{
	g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(fund_entry));
	g_autoptr(GArray) draws = g_array_new(FALSE, FALSE, sizeof(fund_draw));
	fund_pool pools[] = { pool("A", 1, 500), pool("B", 2, 10000) };
	fund_posting a = fund_post(pools, 2, draws, day(2018, 6, 5), owed(0, 0), 1000, entries);
	cr_assert_eq(a.moved_fen, 1000); /* 5.00 from A, then 5.00 from B */
	fund_posting r = fund_post(pools, 2, draws, day(2018, 6, 5), a.after, 300, entries);
	cr_assert(r.status == FUND_REVERSAL && r.moved_fen == -700);
	/* B was drawn last: it gets its 5.00 back first, then A 2.00. */
	cr_assert_eq(entries->len, 3);
	cr_assert(g_array_index(entries, fund_entry, 0).pool_id == NULL &&
		  g_array_index(entries, fund_entry, 0).amount_fen == -700);
	cr_assert_str_eq(g_array_index(entries, fund_entry, 1).pool_id, "B");
	cr_assert_eq(g_array_index(entries, fund_entry, 1).amount_fen, 500);
	cr_assert_str_eq(g_array_index(entries, fund_entry, 2).pool_id, "A");
	cr_assert_eq(g_array_index(entries, fund_entry, 2).amount_fen, 200);
	cr_assert(pools[0].left_fen == 200 && pools[1].left_fen == 10000);
}

Test(fund, a_draw_history_replays_into_a_stack_of_draws)
{
	g_autoptr(GArray) draws = g_array_new(FALSE, FALSE, sizeof(fund_draw));
	cr_assert(fund_draws_replay(draws, "A", -500));
	cr_assert(fund_draws_replay(draws, "B", -500));
	cr_assert(fund_draws_replay(draws, "A", -300)); /* a top-up drew A again, after B */
	cr_assert(fund_draws_replay(draws, "A", 400));  /* a return to A: its latest draw first */
	cr_assert_eq(draws->len, 3);
	cr_assert_eq(g_array_index(draws, fund_draw, 0).net_fen, 400);
	cr_assert_eq(g_array_index(draws, fund_draw, 1).net_fen, 500);
	cr_assert_eq(g_array_index(draws, fund_draw, 2).net_fen, 0);
	cr_assert_not(fund_draws_replay(draws, "B", 501), "more back than drawn does not add up");
}

/* Long random histories of entitlement changes over random pools: after every posting the
 * orders add up, the pools never go below zero, money is conserved (left in the pools plus funded
 * to the orders is what the pools were given), and no order waits while a pool valid on its date
 * has money. fund_post asserts its own invariants as well. */
Test(fund, random_histories_conserve_money_and_never_overdraw)
{
	enum { ORDERS = 12, POOLS = 4, STEPS = 4000 };
	GRand *rand = g_rand_new_with_seed(618);
	static const char *const ids[POOLS] = { "p0", "p1", "p2", "p3" };
	for (int round = 0; round < 50; round++) {
		fund_pool pools[POOLS];
		int64_t given = 0;
		for (int p = 0; p < POOLS; p++) {
			pools[p] = pool(ids[p], g_rand_int_range(rand, 1, 3), g_rand_int_range(rand, 0, 5000));
			pools[p].valid_from = day(2018, 1, 1) + g_rand_int_range(rand, 0, 100);
			pools[p].valid_to = pools[p].valid_from + g_rand_int_range(rand, 0, 300);
			given += pools[p].left_fen;
		}
		fund_pools_sort(pools, POOLS);
		fund_order_state orders[ORDERS] = { 0 };
		chrono_day days[ORDERS];
		GArray *draws[ORDERS];
		for (int o = 0; o < ORDERS; o++) {
			days[o] = day(2018, 1, 1) + g_rand_int_range(rand, 0, 365);
			draws[o] = g_array_new(FALSE, FALSE, sizeof(fund_draw));
		}
		g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(fund_entry));
		for (int step = 0; step < STEPS / 50; step++) {
			int o = g_rand_int_range(rand, 0, ORDERS);
			int64_t target = g_rand_boolean(rand) ? orders[o].entitlement_fen : g_rand_int_range(rand, 0, 3000);
			if (g_rand_int_range(rand, 0, 10) == 0) { /* a pool topped up */
				int p = g_rand_int_range(rand, 0, POOLS);
				int64_t more = g_rand_int_range(rand, 0, 2000);
				pools[p].left_fen += more;
				given += more;
			}
			fund_posting post = fund_post(pools, POOLS, draws[o], days[o], orders[o], target, entries);
			if (post.status != FUND_NOTHING)
				orders[o] = post.after;
			/* A reversal leaves any remaining unfunded amount to a retry, as settle does. */
			if (post.status == FUND_REVERSAL && orders[o].unfunded_fen > 0) {
				post = fund_post(pools, POOLS, draws[o], days[o], orders[o], orders[o].entitlement_fen, entries);
				if (post.status != FUND_NOTHING)
					orders[o] = post.after;
			}
			int64_t left = 0, funded = 0;
			for (int p = 0; p < POOLS; p++) {
				cr_assert_geq(pools[p].left_fen, 0);
				left += pools[p].left_fen;
			}
			for (int k = 0; k < ORDERS; k++) {
				cr_assert_eq(orders[k].funded_fen + orders[k].unfunded_fen, orders[k].entitlement_fen);
				funded += orders[k].funded_fen;
				int64_t drawn = 0;
				for (guint d = 0; d < draws[k]->len; d++)
					drawn += g_array_index(draws[k], fund_draw, d).net_fen;
				cr_assert_eq(drawn, orders[k].funded_fen, "round %d step %d: order %d's draws", round, step, k);
			}
			cr_assert_eq(left + funded, given, "round %d step %d: money is conserved", round, step);
			if (orders[o].unfunded_fen > 0)
				for (int p = 0; p < POOLS; p++)
					cr_assert(!(days[o] >= pools[p].valid_from && days[o] <= pools[p].valid_to &&
						    pools[p].left_fen > 0),
						  "round %d step %d: order %d waits while %s has money", round, step, o,
						  pools[p].pool_id);
		}
		for (int o = 0; o < ORDERS; o++)
			g_array_free(draws[o], TRUE);
	}
	g_rand_free(rand);
}

/* "A settlement records a posting only where an entitlement changed or money was funded";
 * "Reversals come first; then new differences and retries together". */
Test(fund, the_plan_of_an_order_reversals_first_then_differences_and_retries)
{
	fund_attempt a[FUND_ATTEMPTS_MAX];
	cr_assert_eq(fund_plan(owed(1000, 1000), 1000, a), 0, "nothing changed, nothing owed: nothing to try");
	cr_assert_eq(fund_plan(owed(0, 0), 0, a), 0);

	cr_assert_eq(fund_plan(owed(600, 600), 1000, a), 1, "a top-up");
	cr_assert(a[0].pass == FUND_PASS_FORWARD && a[0].new_fen == 1000 && a[0].before.entitlement_fen == 600);
	cr_assert_eq(fund_plan(owed(1000, 400), 1000, a), 1, "a retry of what is owed");
	cr_assert(a[0].pass == FUND_PASS_FORWARD && a[0].before.unfunded_fen == 600);

	cr_assert_eq(fund_plan(owed(1000, 1000), 600, a), 1, "a reversal of funded money");
	cr_assert(a[0].pass == FUND_PASS_REVERSAL && a[0].new_fen == 600);
	cr_assert_eq(fund_plan(owed(1000, 700), 600, a), 1, "the fall cancels all that was owed: nothing to retry");
	cr_assert(a[0].pass == FUND_PASS_REVERSAL);
	cr_assert_eq(fund_plan(owed(1000, 300), 600, a), 2, "a fall smaller than what is owed leaves some owed");
	cr_assert(a[0].pass == FUND_PASS_REVERSAL && a[1].pass == FUND_PASS_FORWARD);
	cr_assert(a[1].before.entitlement_fen == 600 && a[1].before.funded_fen == 300 && a[1].before.unfunded_fen == 300);
	cr_assert_eq(a[1].new_fen, 600);

	/* The retry presents the order exactly as the reversal leaves it. */
	fund_pool pools[1] = { pool("p", 1, 0) };
	g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(fund_entry));
	g_autoptr(GArray) draws = g_array_new(FALSE, FALSE, sizeof(fund_draw));
	fund_order_state before = { 1000, 100, 900 };
	cr_assert_eq(fund_plan(before, 600, a), 2);
	fund_posting rev = fund_post(pools, 1, draws, day(2018, 6, 5), a[0].before, a[0].new_fen, entries);
	cr_assert_eq(rev.status, FUND_REVERSAL);
	cr_assert(memcmp(&rev.after, &a[1].before, sizeof rev.after) == 0);
	cr_assert(a[1].before.funded_fen == 100 && a[1].before.unfunded_fen == 500);
}
