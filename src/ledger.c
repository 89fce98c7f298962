/* ledger.c: the writer of postings and entries, batch and payment digests, seals; see ledger.h. */
#include "ledger.h"

#include "acts.h"

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
	/* A correction's reference (acts.h), after the columns of old: a posting without one has the
	 * text it always had, so batches made before acts keep their digests. */
	" || CASE WHEN correction IS NULL THEN '' ELSE format('|%L', correction) END"
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

/* A batch's seals (digest version 3), in a fixed order. */
static const char seal_text[] =
	"SELECT format('seal|%L|%L|%s', tbl, item_key, digest) FROM batch_seals WHERE programme = $1"
	" AND batch_id = $2::int ORDER BY tbl COLLATE \"C\", item_key COLLATE \"C\"";

/* The items batches seal. Each kind's text lists every column of the row but the ones that
 * change by design (superseded_at, checked by verify against the next version instead), literals
 * quoted by format('%L'), times in UTC so the text does not depend on the session. Never change
 * a kind's text or key for existing data: a new column gets a new kind, or a new version. */
#define SEAL_DIGEST(text) "encode(sha256(convert_to(" text ", 'UTF8')), 'hex')"
#define SEAL_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define SEAL_REGISTRY(table, key, fmt, cols)                                                                      \
	"SELECT format(" key ") || ' version ' || version AS item_key,"                                          \
	" " SEAL_DIGEST("format('%s|%s|%s|" fmt "', version, load_id, " SEAL_UTC("recorded_at") ", " cols ")")     \
	" AS digest FROM " table " WHERE programme = $1"

const ledger_seal_kind ledger_seal_kinds[] = {
	{ "registry_loads",
	  "SELECT load_id::text AS item_key,"
	  " " SEAL_DIGEST("format('%s|%s|%L|%L|%L|%s|%s|%s', load_id, run_id, kind, file_name, sha256, new_rows,"
			  " changed_rows, unchanged_rows)") " AS digest FROM registry_loads WHERE programme = $1" },
	/* The registry tables' columns after version, load and recorded_at, in order. */
	{ "policies",
	  SEAL_REGISTRY("policies", "'%L', policy_id",
			"%L|%s|%s|%s|%s|%s|%s|%L|%s|%L|%s", "policy_id, valid_from, valid_to, standard_rate_bp,"
			" standard_cap_fen, poverty_rate_bp, poverty_cap_fen, rounding, require_campaign,"
			" eligible_categories, fee_max_fen") },
	{ "shops",
	  SEAL_REGISTRY("shops_sealed", "'%L', shop_id",
			"%L|%L|%L|%L|%s|%L|%L|%L|%L|%s|%L|%s|%s", "shop_id, shop_name, platform, owner_name,"
			" owner_id_no_seal, phone, household_id, village, bank_name, bank_account_seal, account_name,"
			" registered_from, registered_to") },
	{ "senders",
	  SEAL_REGISTRY("senders", "'%L %L %L', shop_id, courier, sender_code",
			"%L|%L|%L|%s|%s", "shop_id, courier, sender_code, valid_from, valid_to") },
	{ "households",
	  SEAL_REGISTRY("households", "'%L', household_id",
			"%L|%L|%L|%s|%s", "household_id, head_name, village, poor_from, poor_to") },
	{ "campaigns",
	  SEAL_REGISTRY("campaigns", "'%L', campaign_id",
			"%L|%L|%s|%s", "campaign_id, name, starts_at, ends_at") },
	{ "pools",
	  SEAL_REGISTRY("pools", "'%L', pool_id",
			"%L|%L|%s|%s|%s|%s", "pool_id, name, amount_fen, valid_from, valid_to, priority") },
	{ "files",
	  "SELECT file_id::text AS item_key,"
	  " " SEAL_DIGEST("format('%s|%s|%L|%L|%L|%L|%s|%s|%s|%s|%s|%s|%s|%s|%s', file_id, run_id, name, sha256,"
			  " profile, encoding, size_bytes, lines, eligible, ineligible, duplicate, conflict, rejected,"
			  " totals_fen, " SEAL_UTC("ingested_at") ")") " AS digest FROM files WHERE programme = $1" },
	/* A chunk's bytes by their own SHA-256, computed by the server: the bytes never travel. */
	{ "file_chunks",
	  "SELECT c.file_id || '/' || c.seq AS item_key,"
	  " " SEAL_DIGEST("format('%s|%s|%s|%s|%s', c.file_id, c.seq, c.offset_bytes, octet_length(c.bytes),"
			  " encode(sha256(c.bytes), 'hex'))") " AS digest"
	  " FROM file_chunks c JOIN files f USING (file_id) WHERE f.programme = $1" },
	{ "runs",
	  "SELECT run_id::text AS item_key,"
	  " " SEAL_DIGEST("format('%s|%L|%s|%L|%L|%L', run_id, kind, " SEAL_UTC("started_at") ", os_user, db_role,"
			  " detail)") " AS digest FROM runs WHERE programme = $1" },
	/* A load's payments are covered by its own digest, which this covers. */
	{ "payment_loads",
	  "SELECT load_id::text AS item_key,"
	  " " SEAL_DIGEST("format('%s|%s|%L|%L|%s|%s|%s|%L|%L', load_id, run_id, file_name, sha256, applied, findings,"
			  " batches_upto, prev_digest, digest)") " AS digest FROM payment_loads WHERE programme = $1" },
	/* The correction acts (sql/010_acts.sql): each by its own text and digest, and what it did. */
	{ "acts",
	  "SELECT act_seq::text AS item_key, " SEAL_DIGEST("format('%s|%s', " ACTS_TEXT ", digest)")
	  " AS digest FROM acts WHERE programme = $1" },
	{ "line_acts",
	  "SELECT file_id || '/' || line_no || '/' || act_seq AS item_key,"
	  " " SEAL_DIGEST("format('%s|%s|%s|%L|%L|%L|%L|%L|%s|%L|%L|%s', act_seq, file_id, line_no, outcome, reason,"
			  " shop_id, campaign_id, order_key, live, was_shop_id, was_order_key, written)")
	  " AS digest FROM line_acts WHERE programme = $1" },
	{ "claim_moves",
	  "SELECT move_id::text AS item_key,"
	  " " SEAL_DIGEST("format('%s|%L|%L|%s|%s|%s', move_id, courier, waybill_no, file_id, line_no, act_seq)")
	  " AS digest FROM claim_moves WHERE programme = $1" },
	{ "payment_findings",
	  "SELECT load_id || '/' || line_no AS item_key,"
	  " " SEAL_DIGEST("format('%s|%s|%L|%L|%L|%L', load_id, line_no, batch_id, shop_id, amount, finding)")
	  " AS digest FROM payment_findings WHERE programme = $1" },
	/* An approval's digest covers its row and the one before it (sql/011). */
	{ "approvals",
	  "SELECT approval_id::text AS item_key,"
	  " " SEAL_DIGEST("format('%s|%s|%L|%L|%L|%L|%L|%s|%L|%L', approval_id, batch_id, batch_digest, reason, os_user,"
			  " db_role, session_role, " SEAL_UTC("approved_at") ", prev_digest, digest)")
	  " AS digest FROM approvals WHERE programme = $1" },
};
const size_t ledger_n_seal_kinds = G_N_ELEMENTS(ledger_seal_kinds);

/* The anti-join is made by hash, never by nested loop. Neither side has statistics a planner can
 * trust: batch_seals and the acts' tables grow inside the night and autovacuum may not have seen
 * them, and a plan for "19 rows against 1" that meets 20,000 against 20,000 compares every pair.
 * After a 10,005-line file was withdrawn and ingested again, the next settlement took 18.8 s,
 * nearly all of it here (test review3/withdraw_a_chunk_crossing_file_and_ingest_it_again); with
 * this, 0.94 s in all. By hash, each kind costs one pass over its items and its seals, whatever
 * their sizes. (Nested loops off would make the plan pass jit_above_cost: db.c turns JIT off.) */
gboolean ledger_seal_new(db *d, int batch_id, GError **error)
{
	char batch[16];
	g_snprintf(batch, sizeof batch, "%d", batch_id);
	if (!db_exec(d, "SET LOCAL enable_nestloop = off", error))
		return FALSE;
	for (size_t i = 0; i < ledger_n_seal_kinds; i++) {
		const ledger_seal_kind *k = &ledger_seal_kinds[i];
		const char *params[] = { db_programme(d), batch, k->tbl };
		/* The anti-join comes before the digest is computed: only new items are hashed. */
		g_autofree char *sql = g_strdup_printf(
			"INSERT INTO batch_seals (programme, batch_id, tbl, item_key, digest)"
			" SELECT $1, $2::int, $3, i.item_key, i.digest FROM (%s) i WHERE NOT EXISTS"
			" (SELECT 1 FROM batch_seals s WHERE s.programme = $1 AND s.tbl = $3 AND s.item_key = i.item_key)",
			k->items_sql);
		PGresult *res = db_query(d, sql, G_N_ELEMENTS(params), params, error);
		if (!res)
			return FALSE;
		PQclear(res);
	}
	return db_exec(d, "SET LOCAL enable_nestloop = on", error);
}

gboolean ledger_chain_heads(db *d, char **batch_head, char **payments_head, GError **error)
{
	const char *p1[] = { db_programme(d) };
	enum { HEAD_BATCH, HEAD_PAYMENTS, HEAD_COLUMNS };
	PGresult *res = db_query(d,
				 "SELECT (SELECT 'B' || batch_id || ':' || digest FROM batches WHERE programme = $1"
				 "  ORDER BY batch_id DESC LIMIT 1),"
				 " (SELECT 'P' || load_id || ':' || digest FROM payment_loads WHERE programme = $1"
				 "  ORDER BY load_id DESC LIMIT 1)",
				 1, p1, error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == HEAD_COLUMNS);
	g_assert(PQntuples(res) == 1);
	*batch_head = PQgetisnull(res, 0, HEAD_BATCH) ? NULL : g_strdup(PQgetvalue(res, 0, HEAD_BATCH));
	*payments_head = PQgetisnull(res, 0, HEAD_PAYMENTS) ? NULL : g_strdup(PQgetvalue(res, 0, HEAD_PAYMENTS));
	PQclear(res);
	return TRUE;
}

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
		/* Each row is one line of the digested text. */
		enum { DIGEST_LINE, DIGEST_COLUMNS };
		g_assert(PQnfields(res) == DIGEST_COLUMNS);
		int n = PQntuples(res);
		for (int i = 0; i < n; i++) {
			g_checksum_update(sum, (const guchar *)PQgetvalue(res, i, DIGEST_LINE),
					  PQgetlength(res, i, DIGEST_LINE));
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
	g_assert(h->version == 2 || h->version == 3);
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_autofree char *header = g_strdup_printf(
		"subsidy-batch-v%d|%s|%d|%s|%" G_GINT64_FORMAT "|%d|%d|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT "|%s\n",
		h->version, db_programme(d), h->batch_id, h->created_at, (gint64)h->files_upto, h->orders, h->postings,
		(gint64)h->posted_fen, (gint64)h->unfunded_fen, h->prev_digest);
	g_checksum_update(sum, (const guchar *)header, (gssize)strlen(header));
	char batch[16];
	g_snprintf(batch, sizeof batch, "%d", h->batch_id);
	const char *params[] = { db_programme(d), batch };
	if (!digest_rows(d, sum, posting_text, params, error) || !digest_rows(d, sum, entry_text, params, error) ||
	    !digest_rows(d, sum, shop_text, params, error))
		return FALSE;
	if (h->version >= 3 && !digest_rows(d, sum, seal_text, params, error))
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

/* ------------------------------------------------------------------------------------------ */
/* The payments chain                                                                          */

#define LEDGER_PAYMENTS_DIGEST_VERSION "subsidy-payments-v1"

void ledger_payments_digest(const char *programme, int load_id, const char *prev_digest,
			    const ledger_payment_row *rows, size_t n_rows, char out[LEDGER_DIGEST_HEX])
{
	g_assert(strlen(prev_digest) == LEDGER_DIGEST_HEX - 1 && load_id >= 1);
	GString *text = g_string_new(NULL);
	db_copy_text(text, LEDGER_PAYMENTS_DIGEST_VERSION);
	db_copy_text(text, programme);
	db_copy_int(text, load_id);
	db_copy_text(text, prev_digest);
	db_copy_row_end(text);
	for (size_t i = 0; i < n_rows; i++) {
		const ledger_payment_row *r = &rows[i];
		g_assert(i == 0 || rows[i - 1].line_no < r->line_no);
		g_assert(strcmp(r->status, "PAID") == 0 || strcmp(r->status, "FAILED") == 0);
		db_copy_int(text, r->line_no);
		db_copy_int(text, r->batch_id);
		db_copy_text(text, r->shop_id);
		db_copy_int(text, r->amount_fen);
		db_copy_text(text, r->status);
		db_copy_text(text, r->paid_at);
		db_copy_text(text, r->serial_no);
		db_copy_row_end(text);
	}
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(sum, (const guchar *)text->str, (gssize)text->len);
	g_string_free(text, TRUE);
	g_strlcpy(out, g_checksum_get_string(sum), LEDGER_DIGEST_HEX);
}

/* ------------------------------------------------------------------------------------------ */
/* The writer of postings and entries                                                          */

/* The one column list of each: the writer's rows follow it. */
static const char copy_postings[] =
	"COPY postings (programme, batch_id, seq, shop_id, order_key, order_no, status, fee_fen, order_date, rule,"
	" rate_bp, policy_id, policy_version, campaign_id, entitlement_fen, previous_fen, funded_fen, unfunded_fen,"
	" fund_pickup, fund_courier, fund_waybill, correction) FROM STDIN";
static const char copy_entries[] =
	"COPY entries (programme, txn, entry_seq, account, amount_fen, batch_id, posting_seq, pool_id, shop_id)"
	" FROM STDIN";

/* The buffers' first size: about what a settlement's round of postings writes. */
#define LEDGER_COPY_BYTES (1 << 20)

struct ledger_writer {
	db *d;
	int batch_id; /* 0: entries of no batch */
	GString *postings;
	GString *entries;
	int64_t postings_n, entries_n; /* rows written, for the asserts */
};

ledger_writer *ledger_writer_new(db *d, int batch_id)
{
	g_assert(d != NULL && batch_id >= 0);
	ledger_writer *w = g_new0(ledger_writer, 1);
	w->d = d;
	w->batch_id = batch_id;
	w->postings = g_string_sized_new(batch_id ? LEDGER_COPY_BYTES : 0);
	w->entries = g_string_sized_new(LEDGER_COPY_BYTES);
	return w;
}

void ledger_writer_free(ledger_writer *w)
{
	if (!w)
		return;
	g_string_free(w->postings, TRUE);
	g_string_free(w->entries, TRUE);
	g_free(w);
}

void ledger_write_posting(ledger_writer *w, const ledger_posting *p)
{
	/* A posting belongs to a batch and moves an order from previous_fen to entitlement_fen. */
	g_assert(w->batch_id >= 1 && p->seq >= 1);
	g_assert(p->entitlement_fen >= 0 && p->previous_fen >= 0 && p->unfunded_fen >= 0);
	g_assert(p->shop_id && p->order_key && p->status && p->fund_pickup && p->fund_courier && p->fund_waybill);
	GString *b = w->postings;
	db_copy_text(b, db_programme(w->d));
	db_copy_int(b, w->batch_id);
	db_copy_int(b, p->seq);
	db_copy_text(b, p->shop_id);
	db_copy_text(b, p->order_key);
	db_copy_text(b, p->order_no);
	db_copy_text(b, p->status);
	db_copy_text(b, p->fee_fen);
	db_copy_text(b, p->order_date);
	db_copy_text(b, p->rule);
	db_copy_text(b, p->rate_bp);
	db_copy_text(b, p->policy_id);
	db_copy_text(b, p->policy_version);
	db_copy_text(b, p->campaign_id);
	db_copy_int(b, p->entitlement_fen);
	db_copy_int(b, p->previous_fen);
	db_copy_int(b, p->funded_fen);
	db_copy_int(b, p->unfunded_fen);
	db_copy_text(b, p->fund_pickup);
	db_copy_text(b, p->fund_courier);
	db_copy_text(b, p->fund_waybill);
	db_copy_text(b, p->correction);
	db_copy_row_end(b);
	w->postings_n++;
}

void ledger_write_txn(ledger_writer *w, const char *txn, int posting_seq, const ledger_leg *legs, size_t n)
{
	/* Double entry: at least two legs, none empty, summing to zero; a batch's are for a posting. */
	g_assert(n >= 2 && txn && *txn);
	g_assert((posting_seq >= 1) == (w->batch_id >= 1));
	int64_t sum = 0;
	for (size_t k = 0; k < n; k++) {
		g_assert(legs[k].amount_fen != 0 && legs[k].account);
		g_assert(legs[k].amount_fen > INT64_MIN / 2 && legs[k].amount_fen < INT64_MAX / 2);
		sum += legs[k].amount_fen;
	}
	g_assert(sum == 0);
	GString *e = w->entries;
	for (size_t k = 0; k < n; k++) {
		db_copy_text(e, db_programme(w->d));
		db_copy_text(e, txn);
		db_copy_int(e, (int64_t)k + 1);
		db_copy_text(e, legs[k].account);
		db_copy_int(e, legs[k].amount_fen);
		if (w->batch_id) {
			db_copy_int(e, w->batch_id);
			db_copy_int(e, posting_seq);
		} else {
			db_copy_null(e);
			db_copy_null(e);
		}
		db_copy_text(e, legs[k].pool_id);
		db_copy_text(e, legs[k].shop_id);
		db_copy_row_end(e);
	}
	w->entries_n += (int64_t)n;
}


gboolean ledger_writer_flush(ledger_writer *w, GError **error)
{
	return ledger_writer_flush_deferred(w, error) && db_copy_wait(w->d, error);
}

gboolean ledger_writer_flush_deferred(ledger_writer *w, GError **error)
{
	/* Entries of no batch come alone; a batch's entries are each for a posting of it. */
	g_assert(w->batch_id >= 1 || w->postings_n == 0);
	g_assert(w->postings_n >= 0 && w->entries_n >= 0);
	if (w->entries->len == 0)
		return db_copy_rows_deferred(w->d, copy_postings, w->postings, error);
	return db_copy_rows(w->d, copy_postings, w->postings, error) &&
	       db_copy_rows_deferred(w->d, copy_entries, w->entries, error);
}
