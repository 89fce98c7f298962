/* verify.h: proof that the ledger is what was recorded and that it adds up.
 *
 * Two hash chains are recomputed from what the database holds, with the functions that made
 * them: batches (ledger_batch_digest: header, postings, entries, what each shop is paid) and
 * payment loads (ledger_payments_digest). Then the invariants that tie the tables together: every
 * transaction's entries sum to zero and each posting's entries move its funded amount; no pool
 * is below zero and each pool balance is what its entries drew; each shop's payable is what its
 * postings funded less what was paid; each order's state is what its postings say; each batch's
 * totals and payees are its postings'; every line has one valid outcome, every file's counts add
 * up, and no waybill was taken twice.
 *
 * Since sql/006: every item a batch sealed (ledger_seal_kinds: registry loads and versions, files
 * and their chunks, runs, payment loads and findings) is recomputed and each one changed or gone
 * is named by table and key (check "seals"); each registry version's superseded_at is the next
 * version's recorded_at (check "registry"); and each head kept elsewhere is in its chain with its
 * digest (check "anchor"): the one thing a chain anchored only in the database cannot prove is
 * that its newest link was not cut off.
 *
 * Reads only, in one REPEATABLE READ READ ONLY transaction, under any of the three roles (the
 * auditor included: digests cover a seal of each bank account, sql/003_audit.sql). Memory is
 * bounded: batches stream from a cursor and each check names at most VERIFY_FINDINGS_PER_CHECK
 * findings. */
#ifndef SUBSIDY_VERIFY_H
#define SUBSIDY_VERIFY_H

#include "db.h"

#include <glib.h>

/* Findings named per check; past this, one more finding says how many were left out. */
#define VERIFY_FINDINGS_PER_CHECK 20

typedef struct {
	char *check;  /* chain, payments_chain, approvals, seals, anchor, entries, pools, payables, orders, batches,
		       * batch_shops, lines, files, waybills, registry */
	char *detail; /* what is wrong, naming the batch, order, shop, pool, file or line */
} verify_finding;

/* A chain head kept outside the database: "B<batch>:<digest>" (or "<batch>:<digest>") of the
 * batch chain, "P<load>:<digest>" of the payments chain. */
typedef struct {
	gboolean payments;
	int id;
	char digest[65];
} verify_head;

/* Parses a head's text; FALSE when it is not one. */
gboolean verify_parse_head(const char *text, verify_head *out);

typedef struct {
	const verify_head *heads; /* each must be in its chain, with its digest */
	size_t n_heads;
} verify_options;

typedef struct {
	int batches;            /* in the chain */
	char *head;             /* the batch chain's newest link, "B<batch>:<digest>"; NULL: none */
	char *payments_head;    /* the payments chain's, "P<load>:<digest>"; NULL: none */
	int unsealed;           /* items of record no batch has sealed yet (recorded since the newest) */
	int payment_loads;      /* in the payments chain */
	int first_broken_batch; /* the first batch whose link or digest does not hold; 0: none */
	GPtrArray *findings;    /* verify_finding *, in the order found */
} verify_report;

/* Verifies db_programme(d)'s ledger; fills *out (clear it with verify_report_clear). Findings are
 * no error: the ledger is proven sound when out->findings is empty. Errors are database errors
 * (an unreachable server, a missing privilege). d must be idle: verify runs its own
 * transaction. */
gboolean verify_run(db *d, const verify_options *o, verify_report *out, GError **error);
void verify_report_clear(verify_report *r);

#endif
