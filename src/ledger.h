/* ledger.h: the tamper evidence of the ledger: each batch's SHA-256 digest covers its header,
 * its postings, its entries and what it pays each shop, in a canonical order and text, and the
 * previous batch's digest. Settlement computes it when it makes a batch; verify recomputes it
 * with the same function from what the database holds, so any later change breaks the chain.
 *
 * Digest version 3 (sql/006_anchors.sql) also covers the batch's seals: the digest of every item
 * of record (registry load and version, file and chunk of its bytes, run, payment load and
 * finding) that no earlier batch sealed, taken when the batch is made. ledger_seal_kinds says
 * what each item's digest covers; verify recomputes them and names what changed. */
#ifndef SUBSIDY_LEDGER_H
#define SUBSIDY_LEDGER_H

#include "db.h"

#include <glib.h>
#include <stdint.h>

#define LEDGER_DIGEST_HEX 65 /* 64 hex digits and NUL */
#define LEDGER_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

#define LEDGER_DIGEST_VERSION 3 /* what settlement makes; 2: before sql/006 (no seals) */

typedef struct {
	int version; /* 2 or 3 */
	int batch_id;
	char created_at[40]; /* as the database prints it (ISO, China time) */
	int64_t files_upto;
	int orders;
	int postings;
	int64_t posted_fen;
	int64_t unfunded_fen;
	char prev_digest[LEDGER_DIGEST_HEX];
} ledger_batch_header;

/* The digest of the batch described by h, over its rows as stored now. Needs an open
 * transaction (it reads through cursors). */
gboolean ledger_batch_digest(db *d, const ledger_batch_header *h, char out[LEDGER_DIGEST_HEX], GError **error);

/* One kind of item that batches seal: items_sql selects (item_key, digest) of every item of the
 * kind in programme $1, the digest being the SHA-256 of the item's canonical text. */
typedef struct {
	const char *tbl;
	const char *items_sql;
} ledger_seal_kind;

extern const ledger_seal_kind ledger_seal_kinds[];
extern const size_t ledger_n_seal_kinds;

/* Seals, as batch batch_id, every item no earlier batch sealed (set-based, one INSERT per kind).
 * In the batch's transaction, before ledger_batch_digest. */
gboolean ledger_seal_new(db *d, int batch_id, GError **error);

/* The heads of the two chains as "B<batch>:<digest>" and "P<load>:<digest>", NULL for a chain
 * with no link yet (caller frees). */
gboolean ledger_chain_heads(db *d, char **batch_head, char **payments_head, GError **error);

/* Account names of the double-entry ledger. */
char *ledger_pool_account(const char *pool_id);
char *ledger_payable_account(const char *shop_id);
#define LEDGER_TREASURY "treasury"

#endif
