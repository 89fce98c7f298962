/* test_approve.c: four eyes (CONTROL.md "Approve a batch"), through the binary on the real
 * database: payment results for a batch not approved are findings (exit 1), never applied, and
 * apply once finance approves it; only a member of subsidy_finance that is not subsidy_engine (or a
 * superuser) approves, others exit 77 naming the role; approving twice or an unknown batch exits
 * 64; status lists the batches not approved; the approval records the batch's digest, who and
 * when, append-only and chained, and verify finds an approval changed, removed, or approving a
 * digest that is not its batch's; the database refuses an approval row that is not exactly what
 * approve writes. */
#include "approve.h"
#include "harness.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"
#define PAY_HEADER "批次号,店铺编号,金额(元),状态,支付时间,流水号\r\n"
#define REPLICA "SET session_replication_role = replica; "

/* Two batches settled from fixtures/small, none approved. */
static const char *settled(void)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_ingest_text(db, "night1.csv",
		      HEADER "EMS,A1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\nEMS,A2,O2,2018-06-05 11:00:00,C2,,1,12.00,,\n", 0);
	g_free(h_settle(db));
	h_ingest_text(db, "night2.csv", HEADER "EMS,B1,O3,2018-06-08 10:00:00,C1,,1,12.00,,\n", 0);
	g_free(h_settle(db));
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM batches"), 2);
	return db;
}

/* A payments file paying every export row of the batch. */
static char *results_for(const char *db, int batch)
{
	g_autofree char *rows = h_sqlf(db,
				       "SELECT string_agg(format('%%s,%%s,%%s.%%s,成功,2018-06-20 10:00:00,SN%%s%%s', batch_id,"
				       " shop_id, amount_fen / 100, lpad((amount_fen %% 100)::text, 2, '0'), batch_id, shop_id),"
				       " E'\\r\\n' ORDER BY shop_id) FROM batch_shops WHERE batch_id = %d AND amount_fen > 0",
				       batch);
	cr_assert(rows != NULL, "batch %d exports nothing", batch);
	g_autofree char *text = g_strdup_printf(PAY_HEADER "%s\r\n", rows);
	g_autofree char *name = g_strdup_printf("pay-%d-%d.csv", batch, g_random_int());
	return h_write(h_tmpdir(), name, text, -1);
}

static h_result approve(const char *db, const char *batch)
{
	return h_run(db, "approve", "--batch", batch, "--json", NULL);
}

static void approve_ok(const char *db, const char *batch)
{
	h_result r = approve(db, batch);
	cr_assert_eq(r.status, 0, "approve --batch %s: exit %d\n%s%s", batch, r.status, r.out, r.err);
	h_result_clear(&r);
}

static h_result verify(const char *db)
{
	return h_run(db, "verify", "--json", NULL);
}

static void assert_verify_finds(const char *db, const char *check, const char *what)
{
	h_result r = verify(db);
	cr_assert_eq(r.status, 1, "verify: exit %d\n%s%s", r.status, r.out, r.err);
	g_autofree char *tag = g_strdup_printf("{\"check\":\"%s\",\"detail\":\"", check);
	cr_assert(strstr(r.out, tag), "no finding of %s in %s", check, r.out);
	cr_assert(strstr(r.out, what), "no '%s' in %s", what, r.out);
	h_result_clear(&r);
}

static void assert_verify_clean(const char *db)
{
	h_result r = verify(db);
	cr_assert_eq(r.status, 0, "verify: exit %d\n%s%s", r.status, r.out, r.err);
	h_result_clear(&r);
}

static void tamper(const char *db, const char *sql)
{
	g_autofree char *all = g_strconcat(REPLICA, sql, NULL);
	char *err = NULL;
	cr_assert(h_exec(db, all, &err), "tamper: %s", err);
}

/* ------------------------------------------------------------------------------------------ */

Test(approve, payments_before_approval_are_findings_never_applied_and_apply_after_it)
{
	const char *db = settled();
	g_autofree char *finance = h_as_role(db, "subsidy_finance");
	g_autofree char *pay1 = results_for(db, 1);
	h_result r = h_run(finance, "payments", "load", pay1, "--json", NULL);
	cr_assert_eq(r.status, 1, "an unapproved batch's results are findings: exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "\"applied\":0") && strstr(r.out, "batch 1 is not approved"), "%s", r.out);
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM payments"), 0);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM entries WHERE account = 'treasury'"), 0);
	int64_t rows = h_sql_int(db, "SELECT count(*) FROM batch_shops WHERE batch_id = 1 AND amount_fen > 0");
	cr_assert(rows >= 1);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM payment_findings WHERE finding LIKE 'batch 1 is not approved%'"),
		     rows);
	/* Plain text says it too. */
	r = h_run(finance, "payments", "load", pay1, NULL);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "batch 1 is not approved (subsidy approve --batch 1)"), "%s", r.out);
	h_result_clear(&r);

	approve_ok(finance, "1");
	r = h_run(finance, "payments", "load", pay1, "--json", NULL);
	cr_assert_eq(r.status, 0, "approved, the same results apply: exit %d\n%s%s", r.status, r.out, r.err);
	g_autofree char *applied = g_strdup_printf("\"applied\":%" G_GINT64_FORMAT, (gint64)rows);
	cr_assert(strstr(r.out, applied), "%s", r.out);
	h_result_clear(&r);
	int64_t paid = h_sql_int(db, "SELECT sum(amount_fen) FROM batch_shops WHERE batch_id = 1 AND amount_fen > 0");
	cr_assert_eq(h_sql_int(db, "SELECT coalesce(sum(amount_fen), 0) FROM entries WHERE account = 'treasury'"), paid);
	/* Batch 2 is still not approved: its results stay findings. */
	g_autofree char *pay2 = results_for(db, 2);
	r = h_run(finance, "payments", "load", pay2, NULL);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM payments WHERE batch_id = 2"), 0);
	assert_verify_clean(db);
}

Test(approve, records_the_digest_who_and_when_and_twice_or_an_unknown_batch_exits_64)
{
	const char *db = settled();
	g_autofree char *finance = h_as_role(db, "subsidy_finance");
	h_result r = h_run(finance, "approve", "--batch", "2", "--reason", "对账无误，同意拨付", "--json", NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s%s", r.status, r.out, r.err);
	g_autofree char *digest = h_sql(db, "SELECT digest FROM batches WHERE batch_id = 2");
	g_autofree char *want_digest = g_strdup_printf("\"batch_digest\":\"%s\"", digest);
	cr_assert(strstr(r.out, want_digest) && strstr(r.out, "\"approval\":1") &&
			  strstr(r.out, "\"db_role\":\"subsidy_finance\"") && strstr(r.out, "\"head\":\"A1:"),
		  "%s", r.out);
	h_result_clear(&r);
	g_autofree char *row = h_sql(db, "SELECT concat_ws('|', approval_id, batch_id, batch_digest = (SELECT digest FROM"
					 " batches WHERE batch_id = 2), reason, db_role, session_role, os_user <> '',"
					 " approved_at > now() - interval '5 minutes' AND approved_at <= now(), prev_digest)"
					 " FROM approvals");
	cr_assert_str_eq(row, "1|2|t|对账无误，同意拨付|subsidy_finance|subsidy_finance|t|t|"
			      "0000000000000000000000000000000000000000000000000000000000000000");
	/* Twice: 64, naming the approval there is; nothing recorded. */
	r = h_run(finance, "approve", "--batch", "2", NULL);
	cr_assert_eq(r.status, 64, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.err, "cannot approve batch 2 twice") && strstr(r.err, "subsidy_finance"), "%s", r.err);
	h_result_clear(&r);
	/* Unknown batch: 64. */
	r = h_run(finance, "approve", "--batch", "9", NULL);
	cr_assert_eq(r.status, 64, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.err, "unknown batch 9"), "%s", r.err);
	h_result_clear(&r);
	/* A reason too short to say anything, no batch, a batch of 0: 64. */
	const char *const bad[][5] = { { "approve", "--batch", "1", "--reason", "ok" }, { "approve", NULL },
				       { "approve", "--batch", "0", NULL } };
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		const char *args[6] = { 0 };
		for (size_t k = 0; k < 5 && bad[i][k]; k++)
			args[k] = bad[i][k];
		r = h_runv(finance, args);
		cr_assert_eq(r.status, 64, "case %zu: exit %d\n%s%s", i, r.status, r.out, r.err);
		h_result_clear(&r);
	}
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM approvals"), 1);
	/* The next approval chains to the first. */
	approve_ok(finance, "1");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM approvals a JOIN approvals b ON b.approval_id = 2"
				   " AND b.prev_digest = a.digest WHERE a.approval_id = 1"),
		     1);
	assert_verify_clean(db);
}

Test(approve, the_engine_and_the_auditor_may_not_approve_nor_may_a_role_of_both_engine_and_finance)
{
	const char *db = settled();
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	g_autofree char *auditor = h_as_role(db, "subsidy_auditor");
	const char *const conns[] = { engine, auditor };
	for (size_t i = 0; i < G_N_ELEMENTS(conns); i++) {
		h_result r = h_run(conns[i], "approve", "--batch", "1", NULL);
		cr_assert_eq(r.status, 77, "exit %d\n%s%s", r.status, r.out, r.err);
		cr_assert(strstr(r.err, "subsidy_finance"), "the message names the role needed: %s", r.err);
		h_result_clear(&r);
	}
	/* One person holding both roles settles and approves: not four eyes. */
	char *err = NULL;
	/* Roles are the cluster's: made once, kept (as init --roles keeps the three). */
	cr_assert(h_exec(db,
			 "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'subsidy_test_both') THEN"
			 " CREATE ROLE subsidy_test_both LOGIN IN ROLE subsidy_finance, subsidy_engine; END IF; END $$",
			 &err),
		  "role: %s", err);
	g_autofree char *both = h_as_role(db, "subsidy_test_both");
	h_result r = h_run(both, "approve", "--batch", "1", NULL);
	cr_assert_eq(r.status, 77, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.err, "subsidy_engine") && strstr(r.err, "four eyes"), "%s", r.err);
	h_result_clear(&r);
	/* Nor can it write the row by hand: the database refuses it. */
	g_autofree char *d1 = h_sql(db, "SELECT digest FROM batches WHERE batch_id = 1");
	g_autofree char *sql = g_strdup_printf("INSERT INTO approvals (programme, approval_id, batch_id, batch_digest, reason,"
					       " os_user, db_role, session_role, approved_at, prev_digest, digest)"
					       " VALUES ('default', 1, 1, '%s', '', 'x', current_user, session_user, now(),"
					       " repeat('0', 64), repeat('a', 64))",
					       d1);
	cr_assert_not(h_exec(both, sql, &err));
	cr_assert(strstr(err, "four eyes"), "%s", err);
	g_free(err);
	cr_assert_not(h_exec(engine, sql, &err));
	cr_assert(strstr(err, "permission denied"), "%s", err);
	g_free(err);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM approvals"), 0);
	/* A superuser may (the schema's owner, as for every command). */
	approve_ok(db, "1");
}

Test(approve, the_database_refuses_an_approval_that_is_not_what_approve_writes)
{
	const char *db = settled();
	g_autofree char *finance = h_as_role(db, "subsidy_finance");
	g_autofree char *d1 = h_sql(db, "SELECT digest FROM batches WHERE batch_id = 1");
	static const struct {
		const char *values, *why;
	} cases[] = {
		/* the digest of another batch */
		{ "1, 1, (SELECT digest FROM batches WHERE batch_id = 2), '', 'x', current_user, session_user, now(),"
		  " repeat('0', 64), repeat('a', 64)", "digest as stored" },
		/* another time */
		{ "1, 1, '%s', '', 'x', current_user, session_user, now() - interval '1 day', repeat('0', 64), repeat('a', 64)",
		  "own transaction's time" },
		/* another role named */
		{ "1, 1, '%s', '', 'x', 'postgres', session_user, now(), repeat('0', 64), repeat('a', 64)", "own roles" },
		/* not the next link */
		{ "2, 1, '%s', '', 'x', current_user, session_user, now(), repeat('0', 64), repeat('a', 64)", "next link" },
		{ "1, 1, '%s', '', 'x', current_user, session_user, now(), repeat('b', 64), repeat('a', 64)", "next link" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *values = g_strdup_printf(cases[i].values, d1);
		g_autofree char *sql = g_strdup_printf("INSERT INTO approvals (programme, approval_id, batch_id, batch_digest,"
						       " reason, os_user, db_role, session_role, approved_at, prev_digest,"
						       " digest) VALUES ('default', %s)",
						       values);
		char *err = NULL;
		cr_assert_not(h_exec(finance, sql, &err), "case %zu allowed", i);
		cr_assert(strstr(err, cases[i].why), "case %zu: %s", i, err);
		g_free(err);
	}
	/* Append-only, for finance too. */
	approve_ok(finance, "1");
	char *err = NULL;
	cr_assert_not(h_exec(finance, "UPDATE approvals SET reason = 'x'", &err));
	g_free(err);
	cr_assert_not(h_exec(db, "DELETE FROM approvals", &err));
	cr_assert(strstr(err, "append-only"), "%s", err);
	g_free(err);
	/* A payment result for the batch not approved, written by hand, is refused too. */
	cr_assert_not(h_exec(finance,
			     "BEGIN; INSERT INTO runs (programme, kind, os_user) VALUES ('default', 'payments', 'x');"
			     " INSERT INTO payment_loads (programme, load_id, run_id, file_name, sha256, applied, findings,"
			     " batches_upto, prev_digest, digest) VALUES ('default', 1, currval('runs_run_id_seq'), 'x', 'x',"
			     " 1, 0, 2, repeat('0', 64), repeat('c', 64));"
			     " INSERT INTO payments (programme, batch_id, shop_id, amount_fen, status, load_id, line_no)"
			     " SELECT 'default', 2, shop_id, amount_fen, 'FAILED', 1, 2 FROM batch_shops WHERE batch_id = 2"
			     " AND amount_fen > 0 LIMIT 1; COMMIT",
			     &err));
	cr_assert(strstr(err, "approved before"), "%s", err);
	g_free(err);
}

Test(approve, status_lists_the_batches_not_approved)
{
	const char *db = settled();
	h_result r = h_run(db, "status", "--json", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "\"unapproved_batches\":[1,2]"), "%s", r.out);
	h_result_clear(&r);
	r = h_run(db, "status", NULL);
	cr_assert(strstr(r.out, "batches not approved (subsidy approve --batch N; their payments are not applied): 1, 2\n"),
		  "%s", r.out);
	h_result_clear(&r);
	approve_ok(db, "2");
	g_autofree char *auditor = h_as_role(db, "subsidy_auditor");
	r = h_run(auditor, "status", "--json", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "\"unapproved_batches\":[1]"), "%s", r.out);
	h_result_clear(&r);
	approve_ok(db, "1");
	r = h_run(db, "status", NULL);
	cr_assert(strstr(r.out, "every batch is approved\n"), "%s", r.out);
	h_result_clear(&r);
	r = h_run(db, "status", "--json", NULL);
	cr_assert(strstr(r.out, "\"unapproved_batches\":[]"), "%s", r.out);
	h_result_clear(&r);
}

/* ------------------------------------------------------------------------------------------ */
/* Tamper evidence                                                                             */

/* Batches 1 and 2 approved, batch 1 paid. */
static const char *approved_and_paid(void)
{
	const char *db = settled();
	approve_ok(db, "1");
	approve_ok(db, "2");
	g_autofree char *pay1 = results_for(db, 1);
	h_result r = h_run(db, "payments", "load", pay1, NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	h_result_clear(&r);
	assert_verify_clean(db);
	return db;
}

Test(approve, verify_finds_an_approval_changed_in_place)
{
	const char *db = approved_and_paid();
	tamper(db, "UPDATE approvals SET db_role = 'subsidy_auditor' WHERE approval_id = 2");
	assert_verify_finds(db, "approvals", "approval 2 (of batch 2): its digest does not match what it holds now");
}

Test(approve, verify_finds_an_approval_approving_another_digest_than_its_batch)
{
	const char *db = approved_and_paid();
	/* Whoever rewrites the approval's digest too still leaves the batch's digest unmatched. */
	tamper(db, "UPDATE approvals SET batch_digest = repeat('e', 64) WHERE approval_id = 1");
	assert_verify_finds(db, "approvals", "approval 1 approves batch 1 with digest eeeeeeeeeeee..., but the batch");
}

Test(approve, verify_finds_an_approval_removed)
{
	const char *db = approved_and_paid();
	tamper(db, "DELETE FROM approvals WHERE approval_id = 1");
	/* The chain has a hole, and batch 1 was paid without an approval. */
	assert_verify_finds(db, "approvals", "approval 2 follows approval 0: an approval is missing from the chain");
	assert_verify_finds(db, "approvals", "applied a result to batch 1");
}

Test(approve, verify_finds_the_newest_approval_removed_once_a_later_batch_sealed_it)
{
	const char *db = approved_and_paid();
	h_ingest_text(db, "night3.csv", HEADER "EMS,C1,O4,2018-06-09 10:00:00,C1,,1,12.00,,\n", 0);
	g_free(h_settle(db));
	tamper(db, "DELETE FROM approvals WHERE approval_id = 2");
	assert_verify_finds(db, "seals", "approvals 2: sealed by batch 3, but it is gone");
}

/* The digest is a function of the row: verify recomputes it in C (approve_digest). */
Test(approve, each_digest_recomputes_from_the_stored_row)
{
	const char *db = approved_and_paid();
	g_autofree char *row = h_sql(db, "SELECT concat_ws(E'\\t', batch_id, batch_digest, reason, os_user, db_role,"
					 " session_role, " APPROVE_UTC_SQL("approved_at") ", prev_digest, digest)"
					 " FROM approvals WHERE approval_id = 2");
	g_auto(GStrv) f = g_strsplit(row, "\t", -1);
	cr_assert_eq(g_strv_length(f), 9);
	approve_row a = { 2, atoi(f[0]), f[1], f[2], f[3], f[4], f[5], f[6] };
	char got[APPROVE_DIGEST_HEX];
	approve_digest("default", f[7], &a, got);
	cr_assert_str_eq(got, f[8]);
	g_autofree char *prev = h_sql(db, "SELECT digest FROM approvals WHERE approval_id = 1");
	cr_assert_str_eq(f[7], prev);
}

/* An approval is a whole act or none (CONTROL.md: four acts, each append-only): killed before its
 * commit nothing is recorded and approving again works; killed after it the approval stands and
 * approving again exits 64. verify is clean either way. */
static const struct {
	const char *point;
	int approvals, rerun_status;
} approve_kill_points[] = { { "approve:recorded", 0, 0 }, { "approve:committed", 1, 64 } };

ParameterizedTestParameters(approve, killed_at_any_point_an_approval_is_whole_or_absent)
{
	H_INDEX_PARAMETERS(G_N_ELEMENTS(approve_kill_points));
}

ParameterizedTest(int *index, approve, killed_at_any_point_an_approval_is_whole_or_absent)
{
	cr_assert(*index >= 0 && (size_t)*index < G_N_ELEMENTS(approve_kill_points));
	const char *point = approve_kill_points[*index].point;
	const char *db = settled();
	H_RUN_KILLED(db, point, "approve", "--batch", "1", "--json");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM approvals"), approve_kill_points[*index].approvals, "%s", point);
	h_result r = approve(db, "1");
	cr_assert_eq(r.status, approve_kill_points[*index].rerun_status, "%s: approving again exits %d\n%s%s", point,
		     r.status, r.out, r.err);
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM approvals"), 1, "%s", point);
	assert_verify_clean(db);
}
