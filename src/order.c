/* order.c: what an order is; see order.h and POLICY.md ("How much", "The fund runs out"). */
#include "order.h"

#include "ident.h"
#include "money.h"

#include <string.h>

char *order_key(const char *order_no, const char *courier, const char *waybill_no)
{
	return ident_order_key(order_no, courier, waybill_no);
}

int order_fund_key_cmp(const order_fund_key *a, const order_fund_key *b)
{
	g_assert(a->courier && a->waybill_no && b->courier && b->waybill_no);
	if (a->pickup != b->pickup)
		return a->pickup < b->pickup ? -1 : 1;
	int c = strcmp(a->courier, b->courier); /* bytewise: strcmp compares as unsigned char */
	if (c != 0)
		return c;
	return strcmp(a->waybill_no, b->waybill_no);
}

void order_fund_key_encode(const order_fund_key *k, GByteArray *out)
{
	g_assert(k->courier && k->waybill_no);
	uint64_t t = (uint64_t)k->pickup ^ ((uint64_t)1 << 63);
	guint8 be[8];
	for (int i = 0; i < 8; i++)
		be[i] = (guint8)(t >> (56 - 8 * i));
	static const guint8 end = 0;
	g_byte_array_append(out, be, sizeof be);
	g_byte_array_append(out, (const guint8 *)k->courier, (guint)strlen(k->courier));
	g_byte_array_append(out, &end, 1);
	g_byte_array_append(out, (const guint8 *)k->waybill_no, (guint)strlen(k->waybill_no));
	g_byte_array_append(out, &end, 1);
}

void order_acc_init(order_acc *a)
{
	memset(a, 0, sizeof *a);
}

void order_acc_clear(order_acc *a)
{
	g_free(a->order_no);
	g_free((char *)a->fund.courier);
	g_free((char *)a->fund.waybill_no);
	g_free(a->fund_campaign_id);
	memset(a, 0, sizeof *a);
}

void order_acc_add(order_acc *a, const order_line *l)
{
	g_assert(l->fee_fen >= 0); /* lines_fee_fen_check */
	g_assert(l->courier && l->waybill_no);
	if (!a->fee_overflow && !money_add(a->fee_fen, l->fee_fen, &a->fee_fen))
		a->fee_overflow = TRUE;
	if (l->order_no && (!a->order_no || strcmp(l->order_no, a->order_no) < 0)) {
		g_free(a->order_no);
		a->order_no = g_strdup(l->order_no);
	}
	order_fund_key k = { l->pickup, l->courier, l->waybill_no };
	if (a->lines == 0 || order_fund_key_cmp(&k, &a->fund) < 0) {
		g_free((char *)a->fund.courier);
		g_free((char *)a->fund.waybill_no);
		g_free(a->fund_campaign_id);
		a->fund.pickup = l->pickup;
		a->fund.courier = g_strdup(l->courier);
		a->fund.waybill_no = g_strdup(l->waybill_no);
		a->fund_campaign_id = g_strdup(l->campaign_id);
	}
	a->lines++;
	g_assert(a->fee_overflow || a->fee_fen >= l->fee_fen);
}

gboolean order_acc_fee(const order_acc *a, int64_t *fee_fen)
{
	g_assert(a->lines > 0);
	if (a->fee_overflow)
		return FALSE;
	g_assert(a->fee_fen >= 0);
	*fee_fen = a->fee_fen;
	return TRUE;
}

chrono_day order_acc_date(const order_acc *a)
{
	g_assert(a->lines > 0);
	/* The funding key starts with the earliest pickup: the order date is its day. */
	return chrono_day_of(a->fund.pickup);
}

gboolean order_fee_sum(const order_line *lines, size_t n, int64_t *fee_fen)
{
	g_assert(n >= 1);
	int64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		g_assert(lines[i].fee_fen >= 0);
		if (!money_add(sum, lines[i].fee_fen, &sum))
			return FALSE;
	}
	*fee_fen = sum;
	return TRUE;
}

chrono_day order_date(const order_line *lines, size_t n)
{
	g_assert(n >= 1);
	chrono_time first = lines[0].pickup;
	for (size_t i = 1; i < n; i++)
		first = MIN(first, lines[i].pickup);
	return chrono_day_of(first);
}

const order_line *order_funding_line(const order_line *lines, size_t n)
{
	g_assert(n >= 1);
	const order_line *best = &lines[0];
	for (size_t i = 1; i < n; i++) {
		order_fund_key k = { lines[i].pickup, lines[i].courier, lines[i].waybill_no };
		order_fund_key b = { best->pickup, best->courier, best->waybill_no };
		int c = order_fund_key_cmp(&k, &b);
		g_assert(c != 0); /* (courier, waybill_no) is unique among eligible lines */
		if (c < 0)
			best = &lines[i];
	}
	return best;
}
