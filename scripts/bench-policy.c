/* bench-policy.c: how fast policy_entitle is, on one core: N (fee, poverty) pairs with fees spread
 * over 0.00..2,000.00 yuan (the default fee_max), under the county's 2016-2018 policy. Prints
 *     policy: N entitlements in X s = Y per second
 * and a checksum of the amounts, so the work cannot be optimised away. Not a test: a figure to
 * watch. The fees come from a fixed xorshift sequence, so every run does the same work.
 *
 * Build and run (after `make`, which builds build/libsubsidy.a):
 *     cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Isrc scripts/bench-policy.c build/libsubsidy.a \
 *         $(pkg-config --cflags --libs glib-2.0 gio-2.0 libpq xlsxwriter) -lcsv -lm -o build/bench-policy
 *     build/bench-policy [N]        (N defaults to 50,000,000)
 */
#include "policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BENCH_PAIRS_DEFAULT INT64_C(50000000)
#define BENCH_NS_PER_S INT64_C(1000000000)
#define BENCH_PAIRS_MAX (INT64_MAX / BENCH_NS_PER_S) /* pairs x ns per s must fit int64 */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * BENCH_NS_PER_S + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	int64_t pairs = argc > 1 ? g_ascii_strtoll(argv[1], NULL, 10) : BENCH_PAIRS_DEFAULT;
	if (pairs <= 0 || pairs > BENCH_PAIRS_MAX) {
		fprintf(stderr, "usage: bench-policy [PAIRS]\n");
		return 64;
	}
	chrono_day from, to;
	gboolean dates_ok = chrono_day_from_ymd(2016, 1, 1, &from) && chrono_day_from_ymd(2018, 12, 31, &to);
	g_assert(dates_ok);
	policy_version county = {
		.policy_id = "county-2016",
		.version = 1,
		.valid_from = from,
		.valid_to = to,
		.standard_rate_bp = 5000,
		.standard_cap_fen = 1000,
		.poverty_rate_bp = 8000,
		.poverty_cap_fen = POLICY_NO_CAP,
		.rounding = MONEY_HALF_UP,
		.require_campaign = TRUE,
		.fee_max_fen = POLICY_FEE_MAX_DEFAULT_FEN,
	};

	uint64_t state = 0x9E3779B97F4A7C15u;
	int64_t total_fen = 0;
	int64_t capped = 0;
	int64_t start_ns = now_ns();
	for (int64_t i = 0; i < pairs; i++) {
		state ^= state << 13;
		state ^= state >> 7;
		state ^= state << 17;
		int64_t fee_fen = (int64_t)(state % (POLICY_FEE_MAX_DEFAULT_FEN + 1));
		gboolean poverty = (state >> 40) % 5 == 0; /* about one shop in five */
		policy_entitlement e;
		if (!policy_entitle(&county, fee_fen, poverty, &e, NULL)) {
			fprintf(stderr, "bench-policy: no entitlement for fee %" PRId64 " fen\n", fee_fen);
			return 70;
		}
		total_fen += e.amount_fen;
		capped += e.capped;
	}
	int64_t elapsed_ns = now_ns() - start_ns;
	if (elapsed_ns <= 0)
		elapsed_ns = 1;

	char total_text[MONEY_TEXT_MAX];
	printf("policy: %" PRId64 " entitlements in %" PRId64 ".%03" PRId64 " s = %" PRId64 " per second\n",
	       pairs, elapsed_ns / BENCH_NS_PER_S, elapsed_ns % BENCH_NS_PER_S / 1000000,
	       pairs * BENCH_NS_PER_S / elapsed_ns);
	printf("policy: checksum %s yuan, %" PRId64 " capped\n", money_format(total_fen, total_text), capped);
	return 0;
}
