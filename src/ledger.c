/* ledger.c: batch digests; see ledger.h. */
#include "ledger.h"

#include "status.h"

#include <string.h>

/* Rows fetched from a cursor at a time: bounds the memory of a digest over a large batch. */
#define LEDGER_FETCH_ROWS 10000

/* The canonical text of each row kind: every column, literals quoted by format('%L'), so a
 * change to any value of any row changes the digest. Never change these for existing data:
 * new columns get new kinds of lines, or a new digest version (v2: accounts sealed, below). */
static const char posting_text[] =
	"SELECT format('posting|%s|%L|%L|%L|%L|%s|%s|%L|%s|%L|%s|%L|%s|%s|%s|%s|%s|%L|%L', seq, shop_id, order_key,"
	" order_no, status, fee_fen, order_date, rule, rate_bp, policy_id, policy_version, campaign_id,"
	" entitlement_fen, previous_fen, funded_fen, unfunded_fen, fund_pickup, fund_courier, fund_waybill)"
	" FROM postings WHERE programme = $1 AND batch_id = $2::int ORDER BY seq";
static const char entry_text[] =
	"SELECT format('entry|%L|%s|%L|%s|%s|%L|%L', txn, entry_seq, account, amount_fen, posting_seq, pool_id,"
	" shop_id) FROM entries WHERE programme = $1 AND batch_id = $2::int"
	" ORDER BY txn COLLATE \"C\", entry_seq";
/* The bank account is covered by its seal (sql/003_audit.sql): the auditor, who may not read
 * accounts, must recompute the same digest as settlement, and a changed account changes its seal. */
static const char shop_text[] =
	"SELECT format('shop|%L|%s|%s|%s|%s|%L|%L|%L|%L|%L', shop_id, net_fen, carried_fen, amount_fen, orders,"
	" remark, shop_name, account_name, bank_name, bank_account_seal)"
	" FROM batch_shops_sealed WHERE programme = $1 AND batch_id = $2::int ORDER BY shop_id COLLATE \"C\"";

static gboolean digest_rows(db *d, GChecksum *sum, const char *query, const char *const *params, GError **error)
{
	g_autofree char *declare = g_strdup_printf("DECLARE ledger_digest NO SCROLL CURSOR FOR %s", query);
	PGresult *res = db_query(d, declare, 2, params, error);
	if (!res)
		return FALSE;
	PQclear(res);
	gboolean ok = TRUE;
	for (;;) {
		res = db_query(d, "FETCH " G_STRINGIFY(LEDGER_FETCH_ROWS) " FROM ledger_digest", 0, NULL, error);
		if (!res) {
			ok = FALSE;
			break;
		}
		int n = PQntuples(res);
		for (int i = 0; i < n; i++) {
			g_checksum_update(sum, (const guchar *)PQgetvalue(res, i, 0), PQgetlength(res, i, 0));
			g_checksum_update(sum, (const guchar *)"\n", 1);
		}
		PQclear(res);
		if (n < LEDGER_FETCH_ROWS)
			break;
	}
	return db_exec(d, "CLOSE ledger_digest", ok ? error : NULL) && ok;
}

gboolean ledger_batch_digest(db *d, const ledger_batch_header *h, char out[LEDGER_DIGEST_HEX], GError **error)
{
	g_assert(strlen(h->prev_digest) == LEDGER_DIGEST_HEX - 1);
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_autofree char *header = g_strdup_printf(
		"subsidy-batch-v2|%s|%d|%s|%" G_GINT64_FORMAT "|%d|%d|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT "|%s\n",
		db_programme(d), h->batch_id, h->created_at, (gint64)h->files_upto, h->orders, h->postings,
		(gint64)h->posted_fen, (gint64)h->unfunded_fen, h->prev_digest);
	g_checksum_update(sum, (const guchar *)header, (gssize)strlen(header));
	char batch[16];
	g_snprintf(batch, sizeof batch, "%d", h->batch_id);
	const char *params[] = { db_programme(d), batch };
	if (!digest_rows(d, sum, posting_text, params, error) || !digest_rows(d, sum, entry_text, params, error) ||
	    !digest_rows(d, sum, shop_text, params, error))
		return FALSE;
	g_strlcpy(out, g_checksum_get_string(sum), LEDGER_DIGEST_HEX);
	return TRUE;
}

char *ledger_pool_account(const char *pool_id)
{
	return g_strconcat("pool:", pool_id, NULL);
}

char *ledger_payable_account(const char *shop_id)
{
	return g_strconcat("payable:", shop_id, NULL);
}
