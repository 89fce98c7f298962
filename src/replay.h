/* replay.h: the auditor's recomputation. Every order whose order date lies in a range is priced
 * again from the stored lines with the policy functions settlement uses (policy_entitle,
 * policy_classify), and compared with what the ledger holds for it: the money its postings moved
 * plus what its latest posting left unfunded (so a budget shortfall is no difference).
 *
 * Two registries (CLI.md `replay`):
 *   as-recorded: each line's stored outcome; the policy version and poverty status as known when
 *     the last batch was made (every settlement prices again the orders a registry change moves,
 *     so that is the registry every settled order's entitlement follows). Must agree with the
 *     ledger exactly: a difference is a broken ledger or a bug.
 *   current: the lines reclassified (checks 3-7) with today's registry and the orders regrouped
 *     and priced with it: what registry corrections made since would change. DUPLICATE, CONFLICT
 *     and REJECTED stay as stored.
 * Only lines up to the last batch's files_upto are compared; an order with an eligible line newer
 * than that is pending, counted and not compared.
 *
 * Reads only, in one REPEATABLE READ READ ONLY transaction, and works under the auditor role.
 * Memory is bounded by a chunk of orders (and the registry snapshots): orders stream from a
 * cursor in (shop_id, order_key) order. The current registry's reclassified lines go to a
 * session-local temporary table (made before the transaction; it needs the TEMPORARY privilege,
 * which PostgreSQL gives every role by default) so the server regroups them. */
#ifndef SUBSIDY_REPLAY_H
#define SUBSIDY_REPLAY_H

#include "chrono.h"
#include "db.h"

#include <glib.h>
#include <stdint.h>

typedef enum {
	REPLAY_AS_RECORDED,
	REPLAY_CURRENT,
} replay_registry;

/* "as-recorded" / "current"; FALSE for any other text. */
gboolean replay_registry_parse(const char *text, replay_registry *out);
const char *replay_registry_name(replay_registry r);

/* One order whose recomputed entitlement is not what the ledger holds (or whose ledger does not
 * agree with itself). The strings live until the sink returns. */
typedef struct {
	const char *shop_id;
	const char *order_key;
	const char *order_no;   /* "" for an order without a number */
	chrono_day order_date;  /* the date that put it in the range */
	int64_t ledger_fen;     /* funded by its postings plus its latest unfunded; 0 without postings */
	int64_t recomputed_fen; /* 0 when it has no eligible line (any more) */
	const char *cause;      /* the rule or registry fact that differs; several joined by "; " */
} replay_difference;

/* Receives each difference in (shop_id, order_key) order, bytewise; FALSE (with error set) stops
 * the replay. */
typedef gboolean (*replay_sink)(const replay_difference *diff, gpointer user_data, GError **error);

typedef struct {
	int last_batch;         /* 0: no batch yet, so every order is pending */
	int64_t files_upto;     /* of the last batch */
	int64_t orders;         /* compared */
	int64_t differences;
	int64_t pending;
	int64_t ledger_fen;     /* over the differing orders */
	int64_t recomputed_fen; /* over the differing orders */
	int64_t lines_reclassified; /* current: lines whose outcome or shop is not what is stored */
	int snapshots;          /* registry snapshots read */
} replay_summary;

/* Replays every order of db_programme(d) whose order date is in [from, to] (from <= to), calling
 * sink for each difference, and fills *out. progress: a count of orders on stderr as it goes.
 * d must be idle (no transaction): replay runs and ends its own. Errors are database errors (a
 * missing privilege included), or an inconsistency that makes pricing impossible (a stored time
 * that does not parse); a difference is no error. */
gboolean replay_run(db *d, chrono_day from, chrono_day to, replay_registry mode, gboolean progress,
		    replay_sink sink, gpointer user_data, replay_summary *out, GError **error);

#endif
