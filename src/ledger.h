/* ledger.h: the ledger's one writer and its tamper evidence.
 *
 * Postings and entries are written only here (ledger_writer): settlement's, of a batch, and a
 * payment load's, of none; a transaction's legs are asserted to sum to zero before they are
 * COPYed. The payments chain's digest (ledger_payments_digest) is here beside the batches'.
 *
 * Each batch's SHA-256 digest covers its header,
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

/* ------------------------------------------------------------------------------------------ */
/* The payments chain (payment loads, sql/001 payment_loads), beside the batches' chain.        */

/* One applied payment as the digest sees it; the strings are the database's text. */
typedef struct {
	int line_no;           /* in its file; the header is line 1 */
	int batch_id;
	const char *shop_id;
	int64_t amount_fen;
	const char *status;    /* "PAID" or "FAILED" */
	const char *paid_at;   /* "YYYY-MM-DD HH:MM:SS" (China time), or NULL */
	const char *serial_no; /* the treasury's serial number, or NULL */
} ledger_payment_row;

/* The digest of a payment load: SHA-256 over a header line (version, programme, load_id,
 * prev_digest) and one line per applied payment, in line order (line_no ascending), each line the
 * COPY text form of (line_no, batch_id, shop_id, amount_fen, status, paid_at, serial_no): tab
 * separated, backslash escapes, \N for NULL. prev_digest is the previous load's digest, or
 * LEDGER_GENESIS for the first. `payments load` computes it; verify recomputes it from the stored
 * rows with this same function. */
void ledger_payments_digest(const char *programme, int load_id, const char *prev_digest,
			    const ledger_payment_row *rows, size_t n_rows, char out[LEDGER_DIGEST_HEX]);

/* ------------------------------------------------------------------------------------------ */
/* The one writer of postings and entries: settlement's (a batch's) and payments' (no batch).   */

/* A posting row (sql/001 postings), numbered seq in its batch. The order's columns are the
 * database's text, as settlement holds them; NULL is SQL NULL. */
typedef struct {
	int seq;
	const char *shop_id, *order_key, *order_no;
	const char *status; /* fund_status_name */
	const char *fee_fen, *order_date, *rule, *rate_bp, *policy_id, *policy_version, *campaign_id;
	int64_t entitlement_fen; /* the order's after the posting */
	int64_t previous_fen;    /* and before it */
	int64_t funded_fen;      /* moved to the shop, signed */
	int64_t unfunded_fen;    /* the order's unfunded after it */
	const char *fund_pickup, *fund_courier, *fund_waybill;
	const char *correction;  /* the act that caused it (acts.h), or NULL */
} ledger_posting;

/* One leg of a transaction: an account, a signed amount (never 0), and whose account it is. */
typedef struct {
	const char *account;
	int64_t amount_fen;
	const char *pool_id; /* a pool's account: the pool; otherwise NULL */
	const char *shop_id; /* the shop the leg is for, or NULL */
} ledger_leg;

typedef struct ledger_writer ledger_writer;

/* A writer of batch_id's postings and entries (batch_id 0: entries of no batch, a payment's),
 * buffered and written by COPY (ledger_writer_flush), postings before entries. */
ledger_writer *ledger_writer_new(db *d, int batch_id);
void ledger_writer_free(ledger_writer *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ledger_writer, ledger_writer_free)
void ledger_write_posting(ledger_writer *w, const ledger_posting *p);
/* The legs of transaction txn as its entries 1..n (posting_seq: the batch's posting they are
 * for, 0 for none). Double entry: they sum to zero, which is asserted before anything is COPYed. */
void ledger_write_txn(ledger_writer *w, const char *txn, int posting_seq, const ledger_leg *legs, size_t n);
/* Sends what is buffered (postings, then entries). */
gboolean ledger_writer_flush(ledger_writer *w, GError **error);
/* The same, but the last COPY it sends (the entries', else the postings') is deferred
 * (db_copy_rows_deferred): the next statement on the connection reads its result. */
gboolean ledger_writer_flush_deferred(ledger_writer *w, GError **error);

/* Account names of the double-entry ledger. */
char *ledger_pool_account(const char *pool_id);
char *ledger_payable_account(const char *shop_id);
#define LEDGER_TREASURY "treasury"

#endif
