/* order.h: what an order is, as pure functions (POLICY.md, "How much" and "The fund runs out"):
 * which order a line belongs to, an order's fee (the sum of its eligible lines' fees), its order
 * date (the day, China time, of its earliest pickup) and its funding key (the smallest (pickup
 * time, courier, waybill_no) over its eligible lines, text compared bytewise). No I/O, no
 * database: settlement, replay and the export feed an order's lines in and get these back, so
 * they can only disagree when the data does. The database only moves and groups rows.
 *
 * An order's lines can arrive in any order and in several pieces (a cursor's chunks): order_acc
 * folds them one at a time, and keeps copies of what it must remember, so the caller's rows may
 * be freed after each call. */
#ifndef SUBSIDY_ORDER_H
#define SUBSIDY_ORDER_H

#include "chrono.h"

#include <glib.h>
#include <stdint.h>

/* The order key of a line: its order number, or for a line without one, its own courier and
 * waybill (an order of its own), in normal form (ident_order_key says how). Newly allocated. */
char *order_key(const char *order_no, const char *courier, const char *waybill_no);

/* One eligible line as an order sees it. The strings are borrowed; order_no may be NULL (no
 * number), courier and waybill_no (in normal form) may not; fee_fen >= 0. */
typedef struct {
	const char *order_no;
	int64_t fee_fen;
	chrono_time pickup;
	const char *courier;
	const char *waybill_no;
	const char *campaign_id; /* the promotion window the pickup fell in; NULL for none */
} order_line;

/* The funding key: postings are funded in its order (order_fund_key_cmp). */
typedef struct {
	chrono_time pickup;
	const char *courier;
	const char *waybill_no;
} order_fund_key;

/* <0, 0, >0 as a comes before, with, after b in funding order: by pickup time, then courier,
 * then waybill_no, the texts bytewise. */
int order_fund_key_cmp(const order_fund_key *a, const order_fund_key *b);

/* The bytes of a funding key such that comparing two encodings bytewise (memcmp, then the shorter
 * first: PostgreSQL's order of bytea) is order_fund_key_cmp: the time as 8 bytes big-endian with
 * its sign bit flipped, then each text followed by a 0 byte (texts hold none). Appended to out.
 * The database sorts by these bytes and knows nothing of what they are made of. */
void order_fund_key_encode(const order_fund_key *k, GByteArray *out);

/* An order's lines folded so far. Owns its strings. */
typedef struct {
	size_t lines;
	int64_t fee_fen;        /* the sum of the lines' fees; meaningless once fee_overflow */
	gboolean fee_overflow;  /* the sum does not fit 64 bits */
	char *order_no;         /* the smallest order number bytewise over lines that have one; NULL if none */
	order_fund_key fund;    /* the smallest over the lines; its texts owned */
	char *fund_campaign_id; /* the campaign of the line with the funding key */
} order_acc;

void order_acc_init(order_acc *a);
/* Folds one more line in. */
void order_acc_add(order_acc *a, const order_line *l);
void order_acc_clear(order_acc *a);

/* The order's fee: TRUE with the sum, FALSE when it does not fit 64 bits (the order cannot be
 * priced). At least one line. */
gboolean order_acc_fee(const order_acc *a, int64_t *fee_fen);
/* The order date: the day of the earliest pickup. At least one line. */
chrono_day order_acc_date(const order_acc *a);

/* The same over an array of lines (n >= 1), for callers that hold them all: `subsidy why` (the
 * fee), and the unit tests, which check order_acc against them. */
gboolean order_fee_sum(const order_line *lines, size_t n, int64_t *fee_fen);
chrono_day order_date(const order_line *lines, size_t n);
/* The line whose (pickup, courier, waybill_no) is the order's funding key. */
const order_line *order_funding_line(const order_line *lines, size_t n);

#endif
