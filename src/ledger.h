/* ledger.h: the tamper evidence of the ledger: each batch's SHA-256 digest covers its header,
 * its postings, its entries and what it pays each shop, in a canonical order and text, and the
 * previous batch's digest. Settlement computes it when it makes a batch; verify recomputes it
 * with the same function from what the database holds, so any later change breaks the chain. */
#ifndef SUBSIDY_LEDGER_H
#define SUBSIDY_LEDGER_H

#include "db.h"

#include <glib.h>
#include <stdint.h>

#define LEDGER_DIGEST_HEX 65 /* 64 hex digits and NUL */
#define LEDGER_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct {
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

/* Account names of the double-entry ledger. */
char *ledger_pool_account(const char *pool_id);
char *ledger_payable_account(const char *shop_id);
#define LEDGER_TREASURY "treasury"

#endif
