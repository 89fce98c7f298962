/* test_order.c: POLICY.md, "How much" and "The fund runs out", rule by rule, on the pure order
 * functions: which order a line belongs to, an order's fee, its order date and its funding key
 * (and the bytes the database sorts postings by), the fold over lines arriving in pieces agreeing
 * with the functions over all of them, and a randomized property test. */
#include "fund.h"
#include "order.h"
#include "policy.h"

#include <criterion/criterion.h>
#include <string.h>

static chrono_time at(const char *text)
{
	chrono_time t;
	cr_assert(chrono_parse_time(text, &t, NULL), "%s", text);
	return t;
}

static chrono_day day(const char *text)
{
	chrono_day d;
	cr_assert(chrono_parse_day(text, &d, NULL), "%s", text);
	return d;
}

static order_line line(const char *order_no, int64_t fee_fen, const char *pickup, const char *courier,
		       const char *waybill_no)
{
	order_line l = { order_no, fee_fen, at(pickup), courier, waybill_no, NULL };
	return l;
}

/* "An order is (shop, order_no). A line without an order number is an order of its own."
 * Numbers are compared in one normal form (check 2). */
Test(order, an_order_is_its_number_in_normal_form_and_a_line_without_one_is_its_own)
{
	g_autofree char *a = order_key("A-100", "SF", "1"), *b = order_key("ａ－１００", "EMS", "2");
	g_autofree char *c = order_key(" a-100\xe2\x80\x8b", "YTO", "3");
	cr_assert_str_eq(a, b, "full-width and case fold to one order");
	cr_assert_str_eq(a, c, "spaces and invisible characters are removed");
	g_autofree char *none1 = order_key(NULL, "SF", "1"), *none2 = order_key(NULL, "SF", "2");
	g_autofree char *empty = order_key("\xe2\x80\x8b", "SF", "1");
	cr_assert_str_neq(none1, none2, "two lines without a number are two orders");
	cr_assert_str_eq(none1, empty, "a number with nothing visible is no number");
	g_autofree char *named = order_key("SF:1", "SF", "9");
	cr_assert_str_neq(none1, named, "an order number never names a waybill's own order");
}

/* "An order's fee is the sum of the fees of all its eligible lines." 8.00+8.00+8.00 is one order
 * of 24.00; a fee of 0.00 is valid and adds nothing. */
Test(order, the_fee_is_the_sum_of_the_lines_fees)
{
	order_line ls[] = { line("o", 800, "2018-06-18 10:00:00", "SF", "1"), line("o", 800, "2018-06-18 11:00:00", "SF", "2"),
			    line("o", 800, "2018-06-19 09:00:00", "EMS", "3"), line("o", 0, "2018-06-19 09:00:00", "EMS", "4") };
	int64_t fee = -1;
	cr_assert(order_fee_sum(ls, G_N_ELEMENTS(ls), &fee));
	cr_assert_eq(fee, 2400);
	cr_assert(order_fee_sum(ls + 3, 1, &fee));
	cr_assert_eq(fee, 0);
}

/* A sum beyond 64 bits is reported, never wrapped (settlement holds such an order). */
Test(order, a_fee_sum_beyond_64_bits_is_reported_not_wrapped)
{
	order_line ls[] = { line("o", INT64_MAX, "2018-06-18 10:00:00", "SF", "1"),
			    line("o", 1, "2018-06-18 10:00:00", "SF", "2") };
	int64_t fee = 7;
	cr_assert_not(order_fee_sum(ls, 2, &fee));
	cr_assert_eq(fee, 7, "nothing written on overflow");
	order_acc a;
	order_acc_init(&a);
	order_acc_add(&a, &ls[0]);
	cr_assert(order_acc_fee(&a, &fee) && fee == INT64_MAX);
	order_acc_add(&a, &ls[1]);
	order_acc_add(&a, &ls[1]);
	cr_assert_not(order_acc_fee(&a, &fee), "the overflow sticks, whatever comes after");
	order_acc_clear(&a);
}

/* "The order date is the earliest pickup time among its eligible lines, in China time": a parcel
 * picked up at 23:59:59 dates the order to that day, whatever order the lines come in. */
Test(order, the_order_date_is_the_day_of_the_earliest_pickup)
{
	order_line ls[] = { line("o", 100, "2018-06-19 00:00:00", "SF", "1"), line("o", 100, "2018-06-18 23:59:59", "SF", "2"),
			    line("o", 100, "2018-11-11 08:00:00", "SF", "3") };
	cr_assert_eq(order_date(ls, 3), day("2018-06-18"));
	cr_assert_eq(order_date(ls, 1), day("2018-06-19"));
	cr_assert_eq(order_date(ls + 2, 1), day("2018-11-11"));
}

/* "the funding key: the smallest (pickup_time, courier, waybill_no) over the order's eligible
 * lines, text compared bytewise": pickup first, then courier, then waybill; "10" before "9" and
 * "SF" before "sf" (bytes, not numbers or a locale). */
Test(order, the_funding_key_is_the_smallest_pickup_courier_waybill_bytewise)
{
	order_line by_time[] = { line("o", 1, "2018-06-18 10:00:01", "EMS", "1"), line("o", 1, "2018-06-18 10:00:00", "SF", "9") };
	cr_assert_str_eq(order_funding_line(by_time, 2)->waybill_no, "9", "the earliest pickup wins over the courier");
	order_line by_courier[] = { line("o", 1, "2018-06-18 10:00:00", "sf", "1"), line("o", 1, "2018-06-18 10:00:00", "SF", "2"),
				    line("o", 1, "2018-06-18 10:00:00", "YTO", "3") };
	cr_assert_str_eq(order_funding_line(by_courier, 3)->courier, "SF", "bytewise: upper case first");
	order_line by_waybill[] = { line("o", 1, "2018-06-18 10:00:00", "SF", "9"), line("o", 1, "2018-06-18 10:00:00", "SF", "10"),
				    line("o", 1, "2018-06-18 10:00:00", "SF", "中1") };
	cr_assert_str_eq(order_funding_line(by_waybill, 3)->waybill_no, "10", "bytewise, not as numbers");

	order_fund_key a = { at("2018-06-18 10:00:00"), "SF", "1" }, b = { at("2018-06-18 10:00:00"), "SF", "1" };
	cr_assert_eq(order_fund_key_cmp(&a, &b), 0);
	order_fund_key c = { at("2018-06-18 10:00:00"), "S", "Z" };
	cr_assert_lt(order_fund_key_cmp(&c, &a), 0, "a courier that is a prefix of another comes first");
	cr_assert_gt(order_fund_key_cmp(&a, &c), 0);
}

/* The funding key's line also names the posting's campaign; the fold keeps it, and its own
 * copies of every text, while the caller's rows come and go. */
Test(order, the_fold_keeps_the_funding_line_campaign_and_its_own_copies)
{
	order_acc a;
	order_acc_init(&a);
	char courier[8] = "SF", waybill[8] = "2", campaign[8] = "618", no[8] = "B-1";
	order_line l = { no, 500, at("2018-06-18 10:00:00"), courier, waybill, campaign };
	order_acc_add(&a, &l);
	strcpy(courier, "XX");
	strcpy(waybill, "XX");
	strcpy(campaign, "XX");
	strcpy(no, "XX");
	order_line later = line("A-1", 700, "2018-06-19 10:00:00", "EMS", "1");
	order_acc_add(&a, &later);
	order_line none = line(NULL, 0, "2018-06-20 10:00:00", "EMS", "3");
	order_acc_add(&a, &none);
	cr_assert_str_eq(a.fund.courier, "SF");
	cr_assert_str_eq(a.fund.waybill_no, "2");
	cr_assert_str_eq(a.fund_campaign_id, "618");
	cr_assert_str_eq(a.order_no, "A-1", "the smallest number bytewise names the order");
	int64_t fee;
	cr_assert(order_acc_fee(&a, &fee) && fee == 1200);
	cr_assert_eq(order_acc_date(&a), day("2018-06-18"));
	cr_assert_eq(a.lines, 3);
	order_acc_clear(&a);
}

static int bytes_cmp(const GByteArray *x, const GByteArray *y)
{
	int c = memcmp(x->data, y->data, MIN(x->len, y->len));
	if (c != 0)
		return c;
	return x->len == y->len ? 0 : x->len < y->len ? -1 : 1;
}

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

/* The bytes the database sorts postings by are in funding-key order, also before 1970 and for
 * texts that are prefixes of each other. */
Test(order, the_encoded_funding_key_sorts_bytewise_in_funding_order)
{
	order_fund_key keys[] = {
		{ -86400 * 400, "SF", "1" },		{ -1, "SF", "1" },	 { 0, "SF", "1" },
		{ 1, "", "" },				{ 1, "S", "" },		 { 1, "S", "F" },
		{ 1, "SF", "" },			{ 1, "SF", "1" },	 { 1, "SF", "10" },
		{ 1, "SF", "9" },			{ 1, "SFX", "" },	 { 1, "sf", "1" },
		{ 1, "\xe4\xb8\xad", "1" },		{ INT64_MAX / 2, "A", "1" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
		for (size_t j = 0; j < G_N_ELEMENTS(keys); j++) {
			g_autoptr(GByteArray) x = g_byte_array_new(), y = g_byte_array_new();
			order_fund_key_encode(&keys[i], x);
			order_fund_key_encode(&keys[j], y);
			cr_assert_eq(sign(bytes_cmp(x, y)), sign(order_fund_key_cmp(&keys[i], &keys[j])), "keys %zu and %zu", i, j);
			cr_assert_eq(sign(order_fund_key_cmp(&keys[i], &keys[j])), sign((int)i - (int)j), "keys %zu and %zu", i, j);
		}
	}
}

/* POLICY.md's budget example, with the funding order coming from the orders' lines: three
 * standard orders entitled 10.00 each, arriving in another order than their funding keys; a 15.00
 * pool pays the earliest in full, the next in part, the last nothing. */
Test(order, the_budget_example_funds_in_funding_key_order)
{
	order_line o1[] = { line("late", 2000, "2018-06-18 12:00:00", "SF", "3") };
	order_line o2[] = { line("early", 2500, "2018-06-18 11:00:00", "SF", "2"), line("early", 500, "2018-06-18 09:00:00", "SF", "5") };
	order_line o3[] = { line("mid", 4000, "2018-06-18 10:00:00", "EMS", "4") };
	struct {
		const order_line *lines;
		size_t n;
		const char *name;
	} orders[] = { { o1, 1, "late" }, { o2, 2, "early" }, { o3, 1, "mid" } };
	/* sort by funding key (three: by insertion) */
	for (size_t i = 1; i < 3; i++)
		for (size_t j = i; j > 0; j--) {
			const order_line *x = order_funding_line(orders[j].lines, orders[j].n);
			const order_line *y = order_funding_line(orders[j - 1].lines, orders[j - 1].n);
			order_fund_key kx = { x->pickup, x->courier, x->waybill_no }, ky = { y->pickup, y->courier, y->waybill_no };
			if (order_fund_key_cmp(&kx, &ky) < 0) {
				__typeof__(orders[0]) t = orders[j];
				orders[j] = orders[j - 1];
				orders[j - 1] = t;
			}
		}
	cr_assert_str_eq(orders[0].name, "early");
	cr_assert_str_eq(orders[1].name, "mid");
	cr_assert_str_eq(orders[2].name, "late");
	policy_version pv = { 0 };
	pv.policy_id = "p";
	pv.version = 1;
	pv.valid_to = POLICY_OPEN_END;
	pv.standard_rate_bp = 5000;
	pv.standard_cap_fen = 1000;
	pv.poverty_rate_bp = 8000;
	pv.poverty_cap_fen = POLICY_NO_CAP;
	pv.fee_max_fen = POLICY_FEE_MAX_DEFAULT_FEN;
	fund_pool pool = { "pool", 1, day("2018-01-01"), POLICY_OPEN_END, 1500 };
	g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(fund_entry));
	static const fund_status want[] = { FUND_FUNDED, FUND_PARTIAL, FUND_BUDGET_EXHAUSTED };
	static const int64_t moved[] = { 1000, 500, 0 };
	for (size_t i = 0; i < 3; i++) {
		int64_t fee;
		cr_assert(order_fee_sum(orders[i].lines, orders[i].n, &fee));
		policy_entitlement ent;
		cr_assert(policy_entitle(&pv, fee, FALSE, &ent, NULL));
		cr_assert_eq(ent.amount_fen, 1000);
		fund_order_state none = { 0, 0, 0 };
		fund_posting p = fund_post(&pool, 1, NULL, order_date(orders[i].lines, orders[i].n), none, ent.amount_fen, entries);
		cr_assert_eq(p.status, want[i], "order %s", orders[i].name);
		cr_assert_eq(p.moved_fen, moved[i], "order %s", orders[i].name);
	}
}

/* Random orders of random lines, fed whole and in random pieces in random orders: the fold agrees
 * with the functions over the array, none depends on the lines' order, the fee is the plain sum,
 * the date the day of the smallest pickup, the funding line no greater than any line, and the
 * encoded keys sort as the keys do. */
Test(order, random_orders_agree_in_any_order_and_any_pieces)
{
	GRand *rand = g_rand_new_with_seed(1111);
	static const char *const couriers[] = { "SF", "sf", "S", "EMS", "YTO", "\xe4\xb8\xad" };
	static const char *const nos[] = { NULL, "A", "a", "B-1", "\xe4\xb8\xad" };
	enum { ROUNDS = 2000, LINES_MAX = 12 };
	char waybills[LINES_MAX][16];
	g_autoptr(GByteArray) prev = g_byte_array_new();
	order_fund_key prev_key = { 0 };
	for (int r = 0; r < ROUNDS; r++) {
		size_t n = (size_t)g_rand_int_range(rand, 1, LINES_MAX + 1);
		order_line ls[LINES_MAX];
		int64_t fee_want = 0;
		chrono_time base = at("2018-06-18 00:00:00") + g_rand_int_range(rand, -86400 * 3, 86400 * 3);
		for (size_t i = 0; i < n; i++) {
			g_snprintf(waybills[i], sizeof waybills[i], "%zu-%u", i, g_rand_int_range(rand, 0, 100));
			ls[i].order_no = nos[g_rand_int_range(rand, 0, G_N_ELEMENTS(nos))];
			ls[i].fee_fen = g_rand_int_range(rand, 0, 200001);
			ls[i].pickup = base + g_rand_int_range(rand, 0, 3) * g_rand_int_range(rand, 0, 86400);
			ls[i].courier = couriers[g_rand_int_range(rand, 0, G_N_ELEMENTS(couriers))];
			ls[i].waybill_no = waybills[i];
			ls[i].campaign_id = g_rand_boolean(rand) ? "618" : NULL;
			fee_want += ls[i].fee_fen;
		}
		int64_t fee = -1;
		cr_assert(order_fee_sum(ls, n, &fee));
		cr_assert_eq(fee, fee_want);
		const order_line *f = order_funding_line(ls, n);
		order_fund_key fk = { f->pickup, f->courier, f->waybill_no };
		chrono_time first = ls[0].pickup;
		const char *no_want = NULL;
		for (size_t i = 0; i < n; i++) {
			order_fund_key k = { ls[i].pickup, ls[i].courier, ls[i].waybill_no };
			cr_assert_leq(order_fund_key_cmp(&fk, &k), 0);
			first = MIN(first, ls[i].pickup);
			if (ls[i].order_no && (!no_want || strcmp(ls[i].order_no, no_want) < 0))
				no_want = ls[i].order_no;
		}
		cr_assert_eq(order_date(ls, n), chrono_day_of(first));

		/* shuffled, folded in pieces: the same */
		for (size_t i = n; i > 1; i--) {
			size_t j = (size_t)g_rand_int_range(rand, 0, (gint32)i);
			order_line t = ls[i - 1];
			ls[i - 1] = ls[j];
			ls[j] = t;
		}
		order_acc a;
		order_acc_init(&a);
		for (size_t i = 0; i < n; i++)
			order_acc_add(&a, &ls[i]);
		int64_t acc_fee = -1;
		cr_assert(order_acc_fee(&a, &acc_fee));
		cr_assert_eq(acc_fee, fee);
		cr_assert_eq(order_acc_date(&a), order_date(ls, n));
		cr_assert_eq(order_fund_key_cmp(&a.fund, &fk), 0);
		cr_assert_eq(a.lines, n);
		cr_assert(no_want ? a.order_no && strcmp(a.order_no, no_want) == 0 : a.order_no == NULL);
		const order_line *f2 = order_funding_line(ls, n);
		cr_assert(f2->campaign_id ? a.fund_campaign_id && strcmp(a.fund_campaign_id, f2->campaign_id) == 0
					  : a.fund_campaign_id == NULL);

		/* the encoded key sorts against the previous order's as the keys do */
		g_autoptr(GByteArray) enc = g_byte_array_new();
		order_fund_key_encode(&a.fund, enc);
		if (r > 0)
			cr_assert_eq(sign(bytes_cmp(prev, enc)), sign(order_fund_key_cmp(&prev_key, &a.fund)));
		g_byte_array_set_size(prev, 0);
		g_byte_array_append(prev, enc->data, enc->len);
		g_free((char *)prev_key.courier);
		g_free((char *)prev_key.waybill_no);
		prev_key.pickup = a.fund.pickup;
		prev_key.courier = g_strdup(a.fund.courier);
		prev_key.waybill_no = g_strdup(a.fund.waybill_no);
		order_acc_clear(&a);
	}
	g_free((char *)prev_key.courier);
	g_free((char *)prev_key.waybill_no);
	g_rand_free(rand);
}
