/* test_roles.c: least privilege (sql/002, sql/003). The auditor reads, but writes nothing and
 * never sees an owner's ID number or bank account, and can still replay and verify the whole
 * ledger; the engine appends to the ledger but cannot change or remove what it recorded. */
#include "harness.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <string.h>
#include <unistd.h>

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
	h_approve_all(db);
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

/* ------------------------------------------------------------------------------------------ */
/* Issue 13: least privilege, really. Each role may run exactly its commands (else exit 77,    */
/* naming the role needed), and each write the issue found is refused by the database itself. */

#define PAY_HEADER "批次号,店铺编号,金额(元),状态,支付时间,流水号\r\n"

/* Asserts sql fails for the connection with a message containing want. */
static void assert_refused(const char *conn, const char *sql, const char *want)
{
	char *err = NULL;
	gboolean ok = h_exec(conn, sql, &err);
	cr_assert(!ok, "%s: allowed, wanted it refused (%s)", sql, want);
	cr_assert(strstr(err, want), "%s: %s, wanted '%s'", sql, err, want);
	g_free(err);
}

/* Runs the binary as conn; asserts the exit status, and for 77 that stderr names the role needed. */
static void assert_run(const char *conn, int want, const char *role_named, const char *const *args)
{
	h_result r = h_runv(conn, args);
	g_autofree char *line = g_strjoinv(" ", (char **)args);
	cr_assert_eq(r.status, want, "%s as %s: exit %d, wanted %d\n%s%s", line, strstr(conn, "user="), r.status, want,
		     r.out, r.err);
	if (role_named)
		cr_assert(strstr(r.err, role_named), "%s: %s does not name %s", line, r.err, role_named);
	h_result_clear(&r);
}

Test(roles, the_engine_cannot_load_payment_results_nor_write_them)
{
	const char *db = settled();
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	g_autofree char *path = h_write(h_tmpdir(), "pay.csv", PAY_HEADER "1,S1,6.00,失败,,\r\n", -1);
	const char *const load[] = { "payments", "load", path, NULL };
	assert_run(engine, 77, "subsidy_finance", load);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM payment_loads"), 0);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM runs WHERE kind = 'payments'"), 0);
	assert_denied(engine, "INSERT INTO payment_loads (programme, load_id, run_id, file_name, sha256, applied, findings,"
			      " batches_upto, prev_digest, digest) VALUES ('default', 1, 1, 'x', 'x', 1, 0, 2, 'x', 'y')");
	assert_denied(engine, "INSERT INTO payments (programme, batch_id, shop_id, amount_fen, status, load_id, line_no)"
			      " VALUES ('default', 1, 'S1', 600, 'FAILED', 1, 2)");
	assert_denied(engine, "INSERT INTO payment_findings (programme, load_id, line_no, finding) VALUES ('default', 1, 2, 'x')");
}

Test(roles, who_did_it_is_the_session_not_what_the_client_sends)
{
	const char *db = settled();
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	g_autofree char *finance = h_as_role(db, "subsidy_finance");
	g_autofree char *auditor = h_as_role(db, "subsidy_auditor");
	g_autofree char *who = h_sql(engine, "INSERT INTO runs (programme, kind, os_user, db_role, session_role)"
					     " VALUES ('default', 'ingest', 'x', 'subsidy_finance', 'postgres')"
					     " RETURNING db_role || ',' || session_role");
	cr_assert_str_eq(who, "subsidy_engine,subsidy_engine");
	/* A run of a kind the role may not do is refused, not just relabelled. */
	assert_refused(engine, "INSERT INTO runs (programme, kind, os_user) VALUES ('default', 'payments', 'x')",
		       "permission denied");
	assert_refused(finance, "INSERT INTO runs (programme, kind, os_user) VALUES ('default', 'settle', 'x')",
		       "permission denied");
	assert_denied(auditor, "INSERT INTO runs (programme, kind, os_user) VALUES ('default', 'settle', 'x')");
	/* Nor can a run claim a time that is not now, or a number the sequence did not give. */
	assert_refused(engine, "INSERT INTO runs (programme, kind, os_user, started_at) VALUES ('default', 'ingest', 'x',"
			       " '2018-01-01')", "refused");
	assert_refused(engine, "INSERT INTO runs (run_id, programme, kind, os_user) VALUES (999999, 'default', 'ingest', 'x')",
		       "refused");
	/* Every run the commands recorded names the role that ran it. */
	g_autofree char *path = h_write(h_tmpdir(), "pay.csv", PAY_HEADER "1,S1,6.00,成功,2018-06-22 10:00:00,T001\r\n", -1);
	h_result r = h_run(finance, "payments", "load", path, NULL);
	h_result_clear(&r);
	g_autofree char *roles = h_sql(db, "SELECT string_agg(DISTINCT kind || '=' || db_role || '/' || session_role, ','"
					   " ORDER BY kind || '=' || db_role || '/' || session_role) FROM runs"
					   " WHERE db_role <> current_user");
	cr_assert_str_eq(roles, "ingest=subsidy_engine/subsidy_engine,payments=subsidy_finance/subsidy_finance");
}

Test(roles, the_engine_cannot_change_the_schema_version)
{
	const char *db = settled();
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	assert_denied(engine, "INSERT INTO schema_version (version, name) VALUES (99, 'x')");
	assert_denied(engine, "UPDATE schema_version SET version = 99");
	assert_denied(engine, "DELETE FROM schema_version");
	const char *const verify[] = { "verify", NULL };
	assert_run(engine, 0, NULL, verify);
}

Test(roles, registry_history_changes_only_through_a_registry_load)
{
	const char *db = settled();
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	/* Retiring a shop with no new version, or writing a version no load brought. */
	assert_refused(engine, "UPDATE shops SET superseded_at = now() WHERE shop_id = 'S1'", "refused");
	assert_refused(engine, "UPDATE pools SET superseded_at = now()", "refused");
	assert_refused(engine, "INSERT INTO households (programme, household_id, version, load_id, recorded_at, head_name,"
			       " village, poor_from) SELECT 'default', 'H9', 1, max(load_id), now(), 'x', 'y', '2016-01-01'"
			       " FROM registry_loads", "refused");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM shops WHERE superseded_at IS NOT NULL"), 0);
	/* Through its command, the same change is a new version. */
	h_load_text(engine, "shops",
		    "shop_id,shop_name,platform,owner_name,owner_id_no,phone,household_id,village,bank_name,bank_account,"
		    "account_name,registered_from,registered_to\n"
		    "S1,标准店,淘宝,王小明,11010519491231002X,13800000001,,村一,农信,6221000000000018,王小明,2016-01-01,"
		    "2018-06-30\n");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM shops WHERE shop_id = 'S1'"), 2);
	h_load_text(engine, "budgets", "pool_id,name,amount,valid_from,valid_to,priority\n"
				       "big,大池,100001.00,2016-01-01,2018-12-31,1\n");
	cr_assert_eq(h_sql_int(db, "SELECT amount_fen FROM pool_balances WHERE pool_id = 'big'"), 10000100);
	const char *const verify[] = { "verify", NULL };
	assert_run(engine, 0, NULL, verify);
}

Test(roles, finance_cannot_write_entries_that_are_not_a_payment)
{
	const char *db = settled();
	g_autofree char *finance = h_as_role(db, "subsidy_finance");
	/* A balanced pair moving a shop's payable to the treasury, with no payment behind it. */
	assert_refused(finance, "INSERT INTO entries (programme, txn, entry_seq, account, amount_fen, shop_id) VALUES"
				" ('default', 'pay9.2', 1, 'payable:S1', -100, 'S1'), ('default', 'pay9.2', 2, 'treasury', 100, 'S1')",
		       "refused");
	/* A settlement's entries are the engine's. */
	assert_refused(finance, "INSERT INTO entries (programme, txn, entry_seq, account, amount_fen, batch_id, posting_seq,"
				" pool_id, shop_id) VALUES ('default', 'b3.p1', 1, 'pool:big', -100, 3, 1, 'big', NULL),"
				" ('default', 'b3.p1', 2, 'payable:S1', 100, 3, 1, NULL, 'S1')",
		       "permission denied");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM entries WHERE txn IN ('pay9.2', 'b3.p1')"), 0);
	/* Nor a result no load of its transaction brings, or for an amount the batch did not export. */
	g_autofree char *path = h_write(h_tmpdir(), "pay.csv", PAY_HEADER "1,S1,6.00,失败,,\r\n", -1);
	h_result r = h_run(finance, "payments", "load", path, NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	h_result_clear(&r);
	assert_refused(finance, "INSERT INTO payments (programme, batch_id, shop_id, amount_fen, status, paid_at, load_id,"
				" line_no) VALUES ('default', 1, 'S2', 1, 'PAID', '2018-06-22', 1, 9)",
		       "refused");
	assert_refused(finance, "BEGIN; INSERT INTO runs (programme, kind, os_user) VALUES ('default', 'payments', 'x');"
				" INSERT INTO payment_loads (programme, load_id, run_id, file_name, sha256, applied, findings,"
				" batches_upto, prev_digest, digest) SELECT 'default', 2, currval('runs_run_id_seq'), 'x', 'x', 1,"
				" 0, 2, 'x', 'y';"
				" INSERT INTO payments (programme, batch_id, shop_id, amount_fen, status, paid_at, load_id, line_no)"
				" VALUES ('default', 1, 'S2', 1, 'PAID', '2018-06-22', 2, 2); COMMIT",
		       "refused");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM payments"), 1);
}

Test(roles, the_engine_cannot_raise_a_pool_or_reset_an_order)
{
	const char *db = settled();
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	g_autofree char *before = h_ledger_dump(db);
	assert_refused(engine, "UPDATE pool_balances SET amount_fen = amount_fen + 100000", "refused");
	assert_refused(engine, "UPDATE pool_balances SET drawn_fen = 0", "refused");
	assert_refused(engine, "INSERT INTO pool_balances (programme, pool_id, amount_fen) VALUES ('default', 'new', 100)",
		       "refused");
	assert_refused(engine, "UPDATE orders SET funded_fen = 0, unfunded_fen = entitlement_fen", "refused");
	assert_refused(engine, "UPDATE orders SET entitlement_fen = entitlement_fen + 1, funded_fen = funded_fen + 1",
		       "refused");
	assert_refused(engine, "INSERT INTO orders (programme, shop_id, order_key, fee_fen, order_date, entitlement_fen,"
			       " funded_fen, unfunded_fen, fund_pickup, fund_courier, fund_waybill, rule, rate_bp, policy_id,"
			       " policy_version) VALUES ('default', 'S1', 'X', 100, '2018-06-05', 100, 0, 100,"
			       " '2018-06-05', 'EMS', 'X', 'standard', 5000, 'p', 1)",
		       "refused");
	/* Entries added to a sealed batch, or a batch out of turn. */
	assert_refused(engine, "INSERT INTO entries (programme, txn, entry_seq, account, amount_fen, batch_id, posting_seq,"
			       " pool_id, shop_id) VALUES ('default', 'b1.p9', 1, 'pool:big', -100, 1, 9, 'big', NULL),"
			       " ('default', 'b1.p9', 2, 'payable:S1', 100, 1, 9, NULL, 'S1')",
		       "refused");
	/* A payment's entries are finance's. */
	assert_refused(engine, "INSERT INTO entries (programme, txn, entry_seq, account, amount_fen, shop_id) VALUES"
			       " ('default', 'pay9.2', 1, 'payable:S1', -100, 'S1'), ('default', 'pay9.2', 2, 'treasury', 100, 'S1')",
		       "permission denied");
	g_autofree char *after = h_ledger_dump(db);
	cr_assert_str_eq(after, before);
	/* What settlement itself writes to orders and pool balances passes. */
	h_ingest_text(engine, "night3.csv", HEADER "EMS,C1,O3,2018-06-09 10:00:00,C1,,1,12.00,,\n", 0);
	g_autofree char *s = h_settle(engine);
	cr_assert(g_str_has_prefix(s, "{\"batch\":3,"), "%s", s);
	const char *const verify[] = { "verify", NULL };
	assert_run(engine, 0, NULL, verify);
}

Test(roles, no_role_but_the_engine_and_finance_can_take_the_settlement_lock)
{
	const char *db = settled();
	g_autofree char *auditor = h_as_role(db, "subsidy_auditor");
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	/* The advisory key the engine used to take is anyone's: taking it blocks nothing now. */
	PGconn *holder = PQconnectdb(auditor);
	cr_assert_eq(PQstatus(holder), CONNECTION_OK);
	PGresult *res = PQexec(holder, "SELECT pg_advisory_lock(23221, hashtext('default'))");
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
	PQclear(res);
	res = PQexec(holder, "BEGIN");
	PQclear(res);
	res = PQexec(holder, "SELECT * FROM settlement_locks FOR UPDATE");
	cr_assert_neq(PQresultStatus(res), PGRES_TUPLES_OK, "the auditor locked the settlement");
	cr_assert(strstr(PQresultErrorMessage(res), "permission denied"), "%s", PQresultErrorMessage(res));
	PQclear(res);
	h_ingest_text(engine, "night3.csv", HEADER "EMS,C1,O3,2018-06-09 10:00:00,C1,,1,12.00,,\n", 0);
	g_autofree char *inbox = g_build_filename(h_tmpdir(), "inbox", NULL);
	cr_assert(g_mkdir_with_parents(inbox, 0755) == 0);
	const char *const nightly[] = { "nightly", "--inbox", inbox, NULL };
	assert_run(engine, 0, NULL, nightly);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batches"), 3);
	PQfinish(holder);
	/* Finance may lock, for a payments load's transaction: a settlement then waits for it. */
	g_autofree char *finance = h_as_role(db, "subsidy_finance");
	h_ingest_text(engine, "night4.csv", HEADER "EMS,D1,O4,2018-06-09 10:00:00,C1,,1,12.00,,\n", 0);
	holder = h_hold_settlement_lock(finance);
	const char *const settle[] = { "settle", NULL };
	assert_run(engine, 75, NULL, settle);
	PQfinish(holder);
	assert_run(engine, 0, NULL, settle);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batches"), 4);
}

/* The README's table, line by line: each role runs what it may (exit 0) and is refused what it
 * may not (exit 77, naming the role needed), before any work. */
Test(roles, each_role_runs_its_commands_and_is_refused_the_others_with_77)
{
	const char *db = settled();
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	g_autofree char *finance = h_as_role(db, "subsidy_finance");
	g_autofree char *auditor = h_as_role(db, "subsidy_auditor");
	const char *tmp = h_tmpdir();
	g_autofree char *inbox = g_build_filename(tmp, "inbox", NULL);
	cr_assert(g_mkdir_with_parents(inbox, 0755) == 0);
	g_autofree char *manifest = h_write(tmp, "n3.csv", HEADER "EMS,C1,O3,2018-06-09 10:00:00,C1,,1,12.00,,\n", -1);
	g_autofree char *registry = h_write(tmp, "households.csv", "household_id,head_name,village,poor_from,poor_to\n"
								   "H9,某,村九,2016-01-01,\n", -1);
	g_autofree char *payments = h_write(tmp, "pay.csv", PAY_HEADER "1,S1,6.00,成功,2018-06-22 10:00:00,T001\r\n", -1);
	g_autofree char *out = g_build_filename(tmp, "out.csv", NULL);
	g_autofree char *out2 = g_build_filename(tmp, "out2.csv", NULL);
	g_autofree char *notice = g_build_filename(tmp, "notice.csv", NULL);

	const char *const reg[] = { "registry", "load", "households", registry, NULL };
	const char *const ingest[] = { "ingest", manifest, NULL };
	const char *const settle[] = { "settle", NULL };
	const char *const night[] = { "nightly", "--inbox", inbox, NULL };
	const char *const pay[] = { "payments", "load", payments, NULL };
	const char *const init[] = { "init", NULL };
	/* The engine's commands: refused to finance and the auditor, then run by the engine. */
	const char *const *engine_only[] = { reg, ingest, settle, night };
	for (size_t i = 0; i < G_N_ELEMENTS(engine_only); i++) {
		assert_run(finance, 77, "subsidy_engine", engine_only[i]);
		assert_run(auditor, 77, "subsidy_engine", engine_only[i]);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(engine_only); i++)
		assert_run(engine, 0, NULL, engine_only[i]);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batches"), 3);
	/* Approving a batch (four eyes): finance's alone, never the engine's, which made it. */
	const char *const approve[] = { "approve", "--batch", "3", NULL };
	assert_run(engine, 77, "subsidy_finance", approve);
	assert_run(auditor, 77, "subsidy_finance", approve);
	assert_run(finance, 0, NULL, approve);
	/* Payment results: finance's alone. */
	assert_run(engine, 77, "subsidy_finance", pay);
	assert_run(auditor, 77, "subsidy_finance", pay);
	assert_run(finance, 0, NULL, pay);
	/* The bureau's file holds bank accounts: the engine (nightly writes it) and finance. */
	const char *const export_e[] = { "export", "--batch", "1", "-o", out, NULL };
	const char *const export_f[] = { "export", "--batch", "1", "-o", out2, NULL };
	assert_run(auditor, 77, "subsidy_finance", export_e);
	assert_run(engine, 0, NULL, export_e);
	assert_run(finance, 0, NULL, export_f);
	/* Reading commands: every role. */
	const char *const conns[] = { engine, finance, auditor };
	for (size_t i = 0; i < G_N_ELEMENTS(conns); i++) {
		g_autofree char *n = g_strdup_printf("%s.%zu", notice, i);
		const char *const disclose[] = { "disclose", "--batch", "1", "-o", n, NULL };
		const char *const replay[] = { "replay", "--from", "2018-06-01", "--to", "2018-06-30", NULL };
		const char *const verify[] = { "verify", NULL };
		const char *const status[] = { "status", NULL };
		const char *const why[] = { "why", "A1", NULL };
		const char *const *readers[] = { disclose, replay, verify, status, why };
		for (size_t k = 0; k < G_N_ELEMENTS(readers); k++)
			assert_run(conns[i], 0, NULL, readers[k]);
		/* The schema is its owner's. */
		assert_run(conns[i], 77, "owner", init);
	}
}

/* The guards name tables without a schema, and a session's temporary tables come first in its
 * search_path (for relations, even before pg_catalog): a role that made a temporary `pools` or
 * `pg_roles` of its own would have the guards read it instead (issue 13, review). */
Test(roles, no_guard_reads_a_temporary_table_of_the_same_name)
{
	const char *db = settled();
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	g_autofree char *finance = h_as_role(db, "subsidy_finance");
	g_autofree char *before = h_ledger_dump(db);
	g_autofree char *pools_before = h_sql(db, "SELECT string_agg(format('%s %s %s', pool_id, amount_fen, drawn_fen),"
						  " ',' ORDER BY pool_id) FROM pool_balances");
	/* A pool version of the raised amount "loaded in this transaction". */
	assert_refused(engine, "BEGIN; CREATE TEMP TABLE pools AS SELECT programme, pool_id, superseded_at,"
			       " amount_fen + 100000 AS amount_fen FROM public.pools WHERE superseded_at IS NULL;"
			       " UPDATE pool_balances SET amount_fen = amount_fen + 100000; COMMIT",
		       "refused");
	/* A pg_roles that calls the role a superuser: every guard off. */
	static const char *const superuser =
		"CREATE TEMP TABLE pg_roles AS SELECT rolname, true AS rolsuper, oid FROM pg_catalog.pg_roles"
		" WHERE rolname = current_user;";
	g_autofree char *pair = g_strconcat("BEGIN; ", superuser,
					    " INSERT INTO entries (programme, txn, entry_seq, account, amount_fen, shop_id)"
					    " VALUES ('default', 'pay9.2', 1, 'payable:S1', -100000, 'S1'),"
					    " ('default', 'pay9.2', 2, 'treasury', 100000, 'S1'); COMMIT",
					    NULL);
	assert_refused(finance, pair, "refused");
	g_autofree char *reset = g_strconcat("SET search_path = pg_temp, public, pg_catalog; BEGIN; ", superuser,
					     " UPDATE orders SET funded_fen = 0, unfunded_fen = entitlement_fen; COMMIT", NULL);
	assert_refused(engine, reset, "refused");
	g_autofree char *retire = g_strconcat("BEGIN; ", superuser,
					      " UPDATE shops SET superseded_at = now() WHERE shop_id = 'S1'; COMMIT", NULL);
	assert_refused(engine, retire, "refused");
	g_autofree char *after = h_ledger_dump(db);
	cr_assert_str_eq(after, before);
	g_autofree char *pools_after = h_sql(db, "SELECT string_agg(format('%s %s %s', pool_id, amount_fen, drawn_fen),"
						 " ',' ORDER BY pool_id) FROM pool_balances");
	cr_assert_str_eq(pools_after, pools_before);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM shops WHERE superseded_at IS NOT NULL"), 0);
	/* And a function a later migration adds is pinned too (008 pins those it found). */
	g_autofree char *loose = h_sql(db, "SELECT string_agg(proname, ', ') FROM pg_proc"
					   " WHERE pronamespace = 'public'::regnamespace AND proname LIKE 'subsidy\\_%'"
					   " AND NOT coalesce(proconfig @> ARRAY['search_path=pg_catalog, public, pg_temp'], false)");
	cr_assert_null(loose, "functions with no pinned search_path: %s", loose);
	const char *const verify[] = { "verify", NULL };
	assert_run(engine, 0, NULL, verify);
}

/* A settlement prices again what the registry changed since the last one looked (settle_marks,
 * sql/007). A mark set into the future would blind every later settlement, run honestly, to a
 * registry correction until then, and neither verify nor replay as recorded would see it: the
 * database takes no mark but the writing transaction's own time, and only from the engine. */
Test(roles, no_role_can_set_the_registry_mark_to_another_time)
{
	const char *db = settled();
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	g_autofree char *finance = h_as_role(db, "subsidy_finance");
	g_autofree char *auditor = h_as_role(db, "subsidy_auditor");
	g_autofree char *mark = h_sql(db, "SELECT registry_seen_at::text FROM settle_marks");
	assert_refused(engine, "UPDATE settle_marks SET registry_seen_at = now() + interval '10 years'", "refused");
	assert_refused(engine, "INSERT INTO settle_marks (programme, registry_seen_at) VALUES ('default', 'infinity')"
			       " ON CONFLICT (programme) DO UPDATE SET registry_seen_at = EXCLUDED.registry_seen_at",
		       "refused");
	assert_refused(engine, "INSERT INTO settle_marks (programme, registry_seen_at) VALUES ('other', 'infinity')",
		       "refused");
	assert_denied(finance, "UPDATE settle_marks SET registry_seen_at = now()");
	assert_denied(auditor, "UPDATE settle_marks SET registry_seen_at = now()");
	assert_denied(engine, "DELETE FROM settle_marks");
	g_autofree char *after = h_sql(db, "SELECT registry_seen_at::text FROM settle_marks");
	cr_assert_str_eq(after, mark);
	/* So the next settlement sees a correction: H2 (S2's household) was poor only until June. */
	cr_assert_eq(h_sql_int(db, "SELECT sum(entitlement_fen) FROM orders WHERE shop_id = 'S2'"), 960);
	h_load_text(engine, "households", "household_id,head_name,village,poor_from,poor_to\n"
					  "H2,符春花,村二,2015-01-01,2018-06-01\nH4,欧阳小锋,村四,2018-06-12,\n");
	g_autofree char *s = h_settle(engine);
	cr_assert(g_str_has_prefix(s, "{\"batch\":3,"), "%s", s);
	cr_assert_eq(h_sql_int(db, "SELECT sum(entitlement_fen) FROM orders WHERE shop_id = 'S2'"), 600);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM settle_marks WHERE registry_seen_at > now()"), 0);
}

/* A batch's seals are written with it, like its entries: a seal added to a batch already written
 * would break that batch's digest for good (the table is append-only), and one for a later batch
 * would keep an item from the batch that ought to seal it. */
Test(roles, the_engine_cannot_seal_into_a_batch_already_written)
{
	const char *db = settled();
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	assert_refused(engine, "INSERT INTO batch_seals (programme, batch_id, tbl, item_key, digest)"
			       " VALUES ('default', 2, 'runs', '999', repeat('a', 64))",
		       "refused");
	assert_refused(engine, "INSERT INTO batch_seals (programme, batch_id, tbl, item_key, digest)"
			       " VALUES ('default', 1, 'runs', '998', repeat('a', 64))",
		       "refused");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batch_seals WHERE item_key IN ('998', '999')"), 0);
	h_ingest_text(engine, "night3.csv", HEADER "EMS,C1,O3,2018-06-09 10:00:00,C1,,1,12.00,,\n", 0);
	g_autofree char *s = h_settle(engine);
	cr_assert(g_str_has_prefix(s, "{\"batch\":3,"), "%s", s);
	g_autofree char *auditor = h_as_role(db, "subsidy_auditor");
	const char *const verify[] = { "verify", NULL };
	assert_run(auditor, 0, NULL, verify);
}

/* Issue 16, point 8: `init` on a database that has no schema yet, run as the engine (as a new
 * office does, following the cron user's login), is refused before any work with 77 and a message
 * that says who may run it: the database's owner or a superuser; `init --roles` needs a
 * superuser. No raw "permission denied for schema public". */
Test(roles, init_on_a_new_database_as_the_engine_says_it_needs_the_owner_or_a_superuser)
{
	const char *admin = g_getenv("SUBSIDY_TEST_ADMIN");
	cr_assert(admin != NULL);
	g_autofree char *name = g_strdup_printf("t_%d_empty", (int)getpid());
	g_autofree char *server = g_strdup_printf("%s dbname=postgres", admin);
	g_autofree char *drop = g_strdup_printf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	g_autofree char *create = g_strdup_printf("CREATE DATABASE %s", name);
	cr_assert(h_exec(server, drop, NULL));
	cr_assert(h_exec(server, create, NULL));
	g_autofree char *db = g_strdup_printf("%s dbname=%s", admin, name);
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	const char *const init[] = { "init", NULL };
	const char *const init_roles[] = { "init", "--roles", NULL };
	const char *const *runs[] = { init, init_roles };
	const char *const wants[] = { "the database's owner", "superuser" };
	for (size_t i = 0; i < G_N_ELEMENTS(runs); i++) {
		h_result r = h_runv(engine, runs[i]);
		cr_assert_eq(r.status, 77, "exit %d\n%s", r.status, r.err);
		cr_assert(strstr(r.err, wants[i]) && strstr(r.err, "superuser"), "%s", r.err);
		cr_assert(!strstr(r.err, "SQLSTATE"), "a raw database error: %s", r.err);
		h_result_clear(&r);
	}
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM pg_class WHERE relname = 'schema_version'"), 0);
	/* The owner (here a superuser) then makes it. */
	h_result r = h_runv(db, init);
	cr_assert_eq(r.status, 0, "%s", r.err);
	h_result_clear(&r);
	cr_assert(h_exec(server, drop, NULL));
}

/* Issue 16, point 8: a role that is none of the three (a login made by hand, a typo in the
 * config's user=) is refused every command with 77 and a message naming the roles that may. */
Test(roles, a_role_that_is_none_of_the_three_is_refused_every_command_naming_the_roles)
{
	const char *db = settled();
	g_autofree char *role = g_strdup_printf("t_%d_nobody", (int)getpid());
	g_autofree char *create = g_strdup_printf("DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN", role, role);
	cr_assert(h_exec(db, create, NULL));
	g_autofree char *nobody = h_as_role(db, role);
	g_autofree char *out = g_build_filename(h_tmpdir(), "notice.csv", NULL);
	const char *const disclose[] = { "disclose", "--batch", "1", "-o", out, NULL };
	const char *const replay[] = { "replay", "--from", "2018-06-01", "--to", "2018-06-30", NULL };
	const char *const verify[] = { "verify", NULL };
	const char *const status[] = { "status", NULL };
	const char *const why[] = { "why", "A1", NULL };
	const char *const settle[] = { "settle", NULL };
	const char *const *runs[] = { disclose, replay, verify, status, why, settle };
	for (size_t i = 0; i < G_N_ELEMENTS(runs); i++)
		assert_run(nobody, 77, "subsidy_", runs[i]);
	g_autofree char *drop = g_strdup_printf("DROP ROLE %s", role);
	cr_assert(h_exec(db, drop, NULL));
}

/* Issue 16, point 7: the README's production setup. A superuser runs `init --roles` on a database
 * made for an owner role: the schema belongs to that owner, who runs every later `init` itself
 * (not 77), and the engine works. */
Test(roles, init_roles_by_a_superuser_makes_the_schema_the_database_owners)
{
	const char *admin = g_getenv("SUBSIDY_TEST_ADMIN");
	cr_assert(admin != NULL);
	g_autofree char *name = g_strdup_printf("t_%d_owned", (int)getpid());
	g_autofree char *owner_role = g_strdup_printf("t_%d_owner", (int)getpid());
	g_autofree char *server = g_strdup_printf("%s dbname=postgres", admin);
	g_autofree char *drop_db = g_strdup_printf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	g_autofree char *drop_role = g_strdup_printf("DROP ROLE IF EXISTS %s", owner_role);
	g_autofree char *make_role = g_strdup_printf("CREATE ROLE %s LOGIN", owner_role);
	g_autofree char *create = g_strdup_printf("CREATE DATABASE %s OWNER %s", name, owner_role);
	cr_assert(h_exec(server, drop_db, NULL));
	cr_assert(h_exec(server, drop_role, NULL));
	cr_assert(h_exec(server, make_role, NULL));
	cr_assert(h_exec(server, create, NULL));
	g_autofree char *db = g_strdup_printf("%s dbname=%s", admin, name);
	h_result r = h_run(db, "init", "--roles", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, owner_role), "%s", r.out);
	h_result_clear(&r);
	g_autofree char *owners = h_sql(db, "SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class c"
					    " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'");
	cr_assert_str_eq(owners, owner_role);
	g_autofree char *as_owner = h_as_role(db, owner_role);
	r = h_run(as_owner, "init", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "up to date"), "%s", r.out);
	h_result_clear(&r);
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	h_load_registry(engine, "fixtures/small");
	r = h_run(engine, "status", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	h_result_clear(&r);
	cr_assert(h_exec(server, drop_db, NULL));
	cr_assert(h_exec(server, drop_role, NULL));
}
