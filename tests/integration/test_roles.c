/* test_roles.c: least privilege (sql/002, sql/003). The auditor reads, but writes nothing and
 * never sees an owner's ID number or bank account, and can still replay and verify the whole
 * ledger; the engine appends to the ledger but cannot change or remove what it recorded. */
#include "harness.h"

#include <criterion/criterion.h>
#include <string.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"

/* The tables whose rows are the record: append-only for everyone. */
static const char *const ledger_tables[] = { "runs",	 "registry_loads", "files",	"file_digests", "file_chunks",
					     "lines",	 "waybills",	   "batches",	"postings",	"entries",
					     "batch_shops", "payment_loads", "payments", "payment_findings",
					     "batch_seals" };

static const char *settled(void)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_ingest_text(db, "night1.csv",
		      HEADER "EMS,A1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\nEMS,A2,O2,2018-06-05 11:00:00,C2,,1,12.00,,\n", 0);
	g_free(h_settle(db));
	h_ingest_text(db, "night2.csv", HEADER "EMS,B1,O1,2018-06-08 10:00:00,C1,,1,12.00,,\n", 0);
	g_free(h_settle(db));
	return db;
}

/* Asserts sql fails for the role's connection with a permission error. */
static void assert_denied(const char *as_role, const char *sql)
{
	char *err = NULL;
	gboolean ok = h_exec(as_role, sql, &err);
	cr_assert(!ok, "%s: allowed, wanted permission denied", sql);
	cr_assert(strstr(err, "permission denied"), "%s: %s, wanted permission denied", sql, err);
	g_free(err);
}

/* Every table and view of the schema with its first column, as "name:column" strings. */
static char **relations(const char *db)
{
	g_autofree char *list = h_sql(db, "SELECT string_agg(table_name || ':' || column_name, ',' ORDER BY table_name)"
					  " FROM information_schema.columns WHERE table_schema = 'public'"
					  " AND ordinal_position = 1");
	return g_strsplit(list, ",", -1);
}

Test(roles, the_auditor_cannot_insert_update_delete_or_truncate_any_table)
{
	const char *db = settled();
	g_autofree char *auditor = h_as_role(db, "subsidy_auditor");
	g_auto(GStrv) rels = relations(db);
	cr_assert(g_strv_length(rels) >= G_N_ELEMENTS(ledger_tables) + 8, "only %u relations", g_strv_length(rels));
	for (char **r = rels; *r; r++) {
		g_auto(GStrv) tc = g_strsplit(*r, ":", 2);
		g_autofree char *ins = g_strdup_printf("INSERT INTO %s DEFAULT VALUES", tc[0]);
		g_autofree char *upd = g_strdup_printf("UPDATE %s SET %s = %s", tc[0], tc[1], tc[1]);
		g_autofree char *del = g_strdup_printf("DELETE FROM %s", tc[0]);
		g_autofree char *trunc = g_strdup_printf("TRUNCATE %s", tc[0]);
		assert_denied(auditor, ins);
		assert_denied(auditor, upd);
		assert_denied(auditor, del);
		if (!g_str_has_suffix(tc[0], "_sealed")) /* the *_sealed views cannot be truncated by anyone */
			assert_denied(auditor, trunc);
	}
}

Test(roles, the_auditor_cannot_read_owner_ids_or_bank_accounts_but_reads_the_rest)
{
	const char *db = settled();
	g_autofree char *auditor = h_as_role(db, "subsidy_auditor");
	assert_denied(auditor, "SELECT owner_id_no FROM shops");
	assert_denied(auditor, "SELECT bank_account FROM shops");
	assert_denied(auditor, "SELECT * FROM shops");
	assert_denied(auditor, "SELECT bank_account FROM batch_shops");
	assert_denied(auditor, "SELECT * FROM batch_shops");
	cr_assert(h_exec(auditor, "SELECT shop_id, shop_name, phone, household_id, bank_name, account_name FROM shops",
			 NULL));
	cr_assert(h_exec(auditor, "SELECT shop_id, net_fen, amount_fen, shop_name, bank_name FROM batch_shops", NULL));
	/* What the digest covers instead of the account: a seal, not the digits. */
	g_autofree char *seal = h_sql(auditor, "SELECT bank_account_seal FROM batch_shops_sealed WHERE shop_id = 'S1'"
					       " AND batch_id = 1");
	cr_assert(seal && strlen(seal) == 64 && !strstr(seal, "6221000000000018"), "%s", seal);
	for (const char *const *t = ledger_tables; t < ledger_tables + G_N_ELEMENTS(ledger_tables); t++) {
		g_autofree char *sql = g_strdup_printf("SELECT count(*) FROM %s", *t);
		char *err = NULL;
		/* batch_shops is readable column by column only; count(*) needs no column. */
		cr_assert(h_exec(auditor, sql, &err), "%s: %s", sql, err);
	}
}

Test(roles, replay_and_verify_work_under_the_auditor_and_agree_with_the_engine)
{
	const char *db = settled();
	g_autofree char *auditor = h_as_role(db, "subsidy_auditor");
	static const char *const modes[] = { "as-recorded", "current" };
	for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
		h_result r = h_run(auditor, "replay", "--from", "2018-06-01", "--to", "2018-06-30", "--registry", modes[i],
				   "--json", NULL);
		cr_assert_eq(r.status, 0, "replay --registry %s as auditor: exit %d\n%s%s", modes[i], r.status, r.out,
			     r.err);
		cr_assert(g_str_has_prefix(r.out, "{\"differences\":[],\"pending\":0,\"orders\":2,"), "%s", r.out);
		h_result_clear(&r);
	}
	h_result r = h_run(auditor, "verify", "--json", NULL);
	cr_assert_eq(r.status, 0, "verify as auditor: exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(g_str_has_prefix(r.out, "{\"ok\":true,\"batches\":2,"), "%s", r.out);
	h_result_clear(&r);

	/* A changed bank account in what a batch paid: the auditor, who cannot read it, finds it. */
	cr_assert(h_exec(db, "SET session_replication_role = replica;"
			     " UPDATE batch_shops SET bank_account = '6221000000000999' WHERE batch_id = 1 AND shop_id = 'S2'",
			 NULL));
	r = h_run(auditor, "verify", "--json", NULL);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "\"first_broken_batch\":1,"), "%s", r.out);
	h_result_clear(&r);
	/* And the engine gets the same answer from the same digests. */
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	r = h_run(engine, "verify", "--json", NULL);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "\"first_broken_batch\":1,"), "%s", r.out);
	h_result_clear(&r);
}

Test(roles, the_auditor_cannot_settle_ingest_or_load)
{
	const char *db = settled();
	g_autofree char *auditor = h_as_role(db, "subsidy_auditor");
	g_autofree char *before = h_ledger_dump(db);
	h_ingest_text(db, "night3.csv", HEADER "EMS,C1,O3,2018-06-09 10:00:00,C1,,1,12.00,,\n", 0);
	h_result r = h_run(auditor, "settle", NULL);
	cr_assert_neq(r.status, 0, "settle as auditor: %s", r.out);
	h_result_clear(&r);
	g_autofree char *path = h_write(h_tmpdir(), "n4.csv", HEADER "EMS,D1,O4,2018-06-09 10:00:00,C1,,1,12.00,,\n", -1);
	r = h_run(auditor, "ingest", path, NULL);
	cr_assert_neq(r.status, 0, "ingest as auditor: %s", r.out);
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batches"), 2);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM files"), 3);
}

Test(roles, the_engine_cannot_update_or_delete_what_the_ledger_recorded)
{
	const char *db = settled();
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	g_auto(GStrv) rels = relations(db);
	for (char **r = rels; *r; r++) {
		g_auto(GStrv) tc = g_strsplit(*r, ":", 2);
		gboolean ledger = FALSE;
		for (size_t i = 0; i < G_N_ELEMENTS(ledger_tables); i++)
			ledger = ledger || strcmp(tc[0], ledger_tables[i]) == 0;
		if (!ledger)
			continue;
		g_autofree char *upd = g_strdup_printf("UPDATE %s SET %s = %s", tc[0], tc[1], tc[1]);
		g_autofree char *del = g_strdup_printf("DELETE FROM %s", tc[0]);
		g_autofree char *trunc = g_strdup_printf("TRUNCATE %s", tc[0]);
		assert_denied(engine, upd);
		assert_denied(engine, del);
		assert_denied(engine, trunc);
	}
	/* Nor may the engine remove an order's state or a pool; it only updates them. */
	assert_denied(engine, "DELETE FROM orders");
	assert_denied(engine, "DELETE FROM pool_balances");
	/* Even a role that may write a ledger table cannot change a row: the trigger refuses. */
	char *err = NULL;
	cr_assert(!h_exec(db, "UPDATE postings SET funded_fen = 0", &err));
	cr_assert(strstr(err, "append-only"), "%s", err);
	g_free(err);
}
