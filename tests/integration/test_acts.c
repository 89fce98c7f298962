/* test_acts.c: the correction acts of CONTROL.md (withdraw, resolve, reclassify) on a real
 * database, through the binary: what the next settle posts, to the fen, with the act's reference;
 * a claim moved exactly once; the same bytes ingested again after a withdrawal; replay and verify
 * after each act; a changed act found; the roles; SIGKILL at every act's fault point.
 * Registry: fixtures/small (S1 standard via EMS C1, S2 poor via EMS C2; c618 2018-06-01..18). */
#include "harness.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"

static const char *setup(void)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	return db;
}

static const char night1[] = HEADER "EMS,A1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n"
				    "EMS,A2,O2,2018-06-05 11:00:00,C2,,1,12.00,,\n";

Test(acts, withdraw_reverses_what_the_file_paid_and_its_bytes_may_come_again)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", night1, 0);
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-");
	h_assert_postings(db, "O2", "960:FUNDED:-");

	H_RUN(db, 64, "reason", "withdraw", "--file", "1", "--reason", "no");
	H_RUN(db, 64, "no file", "withdraw", "--file", "99", "--reason", "sent by mistake");
	H_RUN(db, 0, "W1", "withdraw", "--file", "1", "--reason", "sent by mistake");
	H_RUN(db, 64, "already withdrawn", "withdraw", "--file", "1", "--reason", "sent by mistake");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM postings"), 2, "an act moves no money by itself");
	H_RUN(db, 0, "W1", "why", "A1");

	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,-600:REVERSAL:W1");
	h_assert_postings(db, "O2", "960:FUNDED:-,-960:REVERSAL:W1");
	h_assert_replay_and_verify_clean(db, "as-recorded");

	/* The same bytes again: not "already ingested"; the released claims are taken anew. */
	h_ingest_text(db, "n1.csv", night1, 0);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE file_id = 2 AND outcome = 'ELIGIBLE'"), 2);
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,-600:REVERSAL:W1,600:FUNDED:-");
	h_assert_postings(db, "O2", "960:FUNDED:-,-960:REVERSAL:W1,960:FUNDED:-");
	h_assert_replay_and_verify_clean(db, "as-recorded");
	/* And a third time: the live file is there, so it is skipped. */
	g_autofree char *path = h_write(h_tmpdir(), "n1.csv", night1, -1);
	H_RUN(db, 0, "already ingested as file 2", "ingest", path);
}

/* The detail export's 状态 carries the reference. */
Test(acts, the_detail_export_shows_the_reference_in_its_status)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", night1, 0);
	g_free(h_settle(db));
	H_RUN(db, 0, "W1", "withdraw", "--file", "1", "--reason", "wrong profile");
	g_free(h_settle(db));
	g_autofree char *out = g_build_filename(h_tmpdir(), "b2.csv", NULL);
	H_RUN(db, 0, NULL, "export", "--batch", "2", "--detail", "-o", out);
	g_autofree char *csv = h_read(out, NULL);
	cr_assert(strstr(csv, "REVERSAL:W1"), "no REVERSAL:W1 in\n%s", csv);
}

/* A CONFLICT line taken, then the first line back, then the conflict line again: each settle posts
 * the difference with the resolution's reference, and the order is never funded for both lines. */
Test(acts, resolve_moves_the_claim_exactly_once_back_and_forth)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,R1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n", 0);
	g_free(h_settle(db));
	h_ingest_text(db, "n2.csv", HEADER "EMS,R1,O1,2018-06-05 10:00:00,C1,,1,30.00,,\n", 0);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE outcome = 'CONFLICT'"), 1);
	H_RUN(db, 0, "\"open_conflicts\":1", "status", "--json");

	H_RUN(db, 64, "not a CONFLICT line", "resolve", "--courier", "EMS", "--waybill", "R1", "--take", "1:2", "--reason",
	    "the second statement is right");
	H_RUN(db, 0, "R1", "resolve", "--courier", "EMS", "--waybill", "r1", "--take", "2:2", "--reason",
	    "the second statement is right");
	H_RUN(db, 0, "\"open_conflicts\":0", "status", "--json");
	H_RUN(db, 64, "holds the claim already", "resolve", "--courier", "EMS", "--waybill", "R1", "--take", "2:2",
	    "--reason", "again");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,400:FUNDED:R1");
	cr_assert_eq(h_sql_int(db, "SELECT fee_fen FROM orders WHERE order_no = 'O1'"), 3000);
	h_assert_replay_and_verify_clean(db, "as-recorded");

	H_RUN(db, 0, "R2", "resolve", "--courier", "EMS", "--waybill", "R1", "--take", "first", "--reason",
	    "the first was right after all");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,400:FUNDED:R1,-400:REVERSAL:R2");
	cr_assert_eq(h_sql_int(db, "SELECT fee_fen FROM orders WHERE order_no = 'O1'"), 1200);
	h_assert_replay_and_verify_clean(db, "as-recorded");

	H_RUN(db, 0, "R3", "resolve", "--courier", "EMS", "--waybill", "R1", "--take", "2:2", "--reason",
	    "no, the second one");
	H_RUN(db, 0, "R4", "resolve", "--courier", "EMS", "--waybill", "R1", "--take", "first", "--reason",
	    "the first, finally");
	H_RUN(db, 0, "R5", "resolve", "--courier", "EMS", "--waybill", "R1", "--take", "2:2", "--reason",
	    "the second, finally");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:-,400:FUNDED:R1,-400:REVERSAL:R2,400:FUNDED:R5");
	cr_assert_eq(h_sql_int(db, "SELECT sum(funded_fen) FROM postings WHERE order_no = 'O1'"), 1000);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines_counted() WHERE waybill_no = 'R1'"), 1);
	h_assert_replay_and_verify_clean(db, "as-recorded");
}

/* Every refusal of resolve (CONTROL.md): a --take that is neither "first" nor FILE_ID:LINE of a
 * data line, a parcel with no waybill, a line that is not one of the waybill's, a line of a
 * withdrawn file; each leaves no act behind. */
Test(acts, resolve_refuses_a_bad_take_an_unknown_waybill_a_foreign_line_and_a_withdrawn_file)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,R1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n", 0);
	h_ingest_text(db, "n2.csv", HEADER "EMS,R1,O1,2018-06-05 10:00:00,C1,,1,30.00,,\n"
					   "EMS,R2,O2,2018-06-05 11:00:00,C1,,1,12.00,,\n", 0);
	const char *takes[] = { "last", "2", "2:", ":2", "2:1", "0:2", "-1:2", "2:x" };
	for (size_t i = 0; i < G_N_ELEMENTS(takes); i++)
		H_RUN(db, 64, "is neither 'first' nor FILE_ID:LINE", "resolve", "--courier", "EMS", "--waybill", "R1",
		    "--take", takes[i], "--reason", "the second statement is right");
	H_RUN(db, 64, "no waybill 'NOPE' of courier 'EMS'", "resolve", "--courier", "EMS", "--waybill", "nope", "--take",
	    "first", "--reason", "the second statement is right");
	H_RUN(db, 64, "line 2:3 is not a line of waybill 'R1'", "resolve", "--courier", "EMS", "--waybill", "R1",
	    "--take", "2:3", "--reason", "the second statement is right");
	H_RUN(db, 0, "W1", "withdraw", "--file", "2", "--reason", "sent by mistake");
	H_RUN(db, 64, "line 2:2 is of a withdrawn file", "resolve", "--courier", "EMS", "--waybill", "R1", "--take",
	    "2:2", "--reason", "the second statement is right");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM acts WHERE kind = 'R'"), 0);
}

/* A campaign window corrected after the lines were classified: the outcome does not follow until
 * reclassify says so; then the next settle funds the line, and replay with the current registry
 * finds nothing. */
Test(acts, reclassify_then_settle_leaves_nothing_for_replay_current)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,K1,O1,2018-06-20 10:00:00,C1,,1,12.00,,\n"
					   "EMS,K2,O2,2018-06-05 10:00:00,C1,,1,8.00,,\n", 0);
	g_free(h_settle(db));
	h_assert_postings(db, "O2", "400:FUNDED:-");
	h_load_text(db, "campaigns",
		    "campaign_id,name,starts_at,ends_at\n"
		    "c618,618,2018-06-01 00:00:00,2018-06-25 00:00:00\n"
		    "d11,双十一,2018-11-01 00:00:00,2018-11-12 00:00:00\n");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "(none)");
	H_RUN(db, 1, NULL, "replay", "--from", "2018-06-01", "--to", "2018-06-30", "--registry", "current");

	H_RUN(db, 64, NULL, "reclassify", "--from", "2018-06-30", "--to", "2018-06-01", "--reason", "window corrected");
	H_RUN(db, 0, "C1", "reclassify", "--from", "2018-06-01", "--to", "2018-06-30", "--reason", "window corrected");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM postings"), 1, "an act moves no money by itself");
	g_free(h_settle(db));
	h_assert_postings(db, "O1", "600:FUNDED:C1");
	h_assert_postings(db, "O2", "400:FUNDED:-");
	H_RUN(db, 0, NULL, "replay", "--from", "2018-06-01", "--to", "2018-06-30", "--registry", "current");
	h_assert_replay_and_verify_clean(db, "as-recorded");
}

Test(acts, an_act_changed_by_a_superuser_is_found_by_verify)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", night1, 0);
	g_free(h_settle(db));
	H_RUN(db, 0, "W1", "withdraw", "--file", "1", "--reason", "sent by mistake");
	H_RUN(db, 0, "C1", "reclassify", "--from", "2018-06-01", "--to", "2018-06-30", "--reason", "window corrected");
	H_RUN(db, 0, NULL, "verify");
	cr_assert(h_exec(db, "SET session_replication_role = replica;"
			     " UPDATE acts SET reason = 'nothing happened' WHERE kind = 'W'", NULL));
	H_RUN(db, 1, "act W1", "verify");
	cr_assert(h_exec(db, "SET session_replication_role = replica; DELETE FROM acts WHERE kind = 'W'", NULL));
	H_RUN(db, 1, "act C1", "verify");
}

Test(acts, finance_and_the_auditor_may_not_record_an_act)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", night1, 0);
	static const char *const roles[] = { "subsidy_finance", "subsidy_auditor" };
	for (size_t i = 0; i < G_N_ELEMENTS(roles); i++) {
		g_autofree char *as = h_as_role(db, roles[i]);
		H_RUN(as, 77, "subsidy_engine", "withdraw", "--file", "1", "--reason", "sent by mistake");
		H_RUN(as, 77, "subsidy_engine", "resolve", "--courier", "EMS", "--waybill", "A1", "--take", "first",
		    "--reason", "first stands");
		H_RUN(as, 77, "subsidy_engine", "reclassify", "--from", "2018-06-01", "--to", "2018-06-30", "--reason",
		    "window corrected");
	}
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	H_RUN(engine, 0, "W1", "withdraw", "--file", "1", "--reason", "sent by mistake");
	/* The engine cannot forge what an act did outside one. */
	cr_assert(!h_exec(engine, "INSERT INTO line_acts (programme, act_seq, file_id, line_no, outcome, live)"
				  " VALUES ('default', 1, 1, 2, 'REJECTED', FALSE)", NULL));
	cr_assert(!h_exec(engine, "INSERT INTO claim_moves (programme, courier, waybill_no, act_seq)"
				  " VALUES ('default', 'EMS', 'A2', 1)", NULL));
	cr_assert(!h_exec(engine, "UPDATE acts SET reason = 'other reason'", NULL));
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM line_acts"), 2);
}

/* The fault points of the three acts, with how many acts a kill there leaves recorded. */
static const struct {
	const char *point;
	int acts;
} act_kill_points[] = {
	{ "withdraw:lines", 0 },   { "withdraw:recorded", 0 }, { "withdraw:committed", 1 },
	{ "resolve:released", 0 }, { "resolve:recorded", 0 },  { "resolve:committed", 1 },
	{ "reclassify:recorded", 0 }, { "reclassify:committed", 1 },
};

ParameterizedTestParameters(acts, killed_at_any_point_an_act_is_whole_or_absent)
{
	H_INDEX_PARAMETERS(G_N_ELEMENTS(act_kill_points));
}

/* Killed at a point of an act (each point a test of its own, run in parallel), nothing is half
 * recorded: the act with all it did, or nothing. */
ParameterizedTest(int *index, acts, killed_at_any_point_an_act_is_whole_or_absent)
{
	cr_assert(*index >= 0 && (size_t)*index < G_N_ELEMENTS(act_kill_points));
	const char *point = act_kill_points[*index].point;
	int acts = act_kill_points[*index].acts;
	const char *db = setup();
	h_ingest_text(db, "n1.csv", HEADER "EMS,R1,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n", 0);
	h_ingest_text(db, "n2.csv", HEADER "EMS,R1,O1,2018-06-05 10:00:00,C1,,1,30.00,,\n", 0);
	if (strncmp(point, "withdraw", 8) == 0)
		H_RUN_KILLED(db, point, "withdraw", "--file", "1", "--reason", "sent by mistake");
	else if (strncmp(point, "resolve", 7) == 0)
		H_RUN_KILLED(db, point, "resolve", "--courier", "EMS", "--waybill", "R1", "--take", "2:2", "--reason",
			     "second is right");
	else
		H_RUN_KILLED(db, point, "reclassify", "--from", "2018-06-01", "--to", "2018-06-30", "--reason",
			     "window corrected");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM acts"), acts, "%s", point);
	int64_t lines = h_sql_int(db, "SELECT count(*) FROM line_acts");
	int64_t claims = h_sql_int(db, "SELECT count(*) FROM claim_moves");
	if (acts == 0)
		cr_assert(lines == 0 && claims == 0, "%s: %ld line states, %ld claims without an act", point, (long)lines,
			  (long)claims);
	else
		cr_assert(lines == (point[0] == 'w' ? 1 : point[2] == 's' ? 2 : 0) && claims == (point[2] == 'c' ? 0 : 1),
			  "%s: %ld line states, %ld claims", point, (long)lines, (long)claims);
	H_RUN(db, 0, NULL, "verify");
}

/* Issue 16, point 3: a statement exported per customer account (no sender in it) ingested with the
 * wrong --set is not permanent. Withdrawn, the same bytes go in again with the right sender: the
 * next settle reverses the wrong shop's money (W1) and pays the right shop at its own rate. */
Test(acts, a_file_ingested_with_the_wrong_set_is_withdrawn_and_ingested_again_with_the_right_one)
{
	const char *db = setup();
	static const char statement[] = HEADER "EMS,B1,P1,2018-06-05 10:00:00,,,1,12.00,,\n"
					       "EMS,B2,P2,2018-06-05 11:00:00,,,1,30.00,,\n";
	g_autofree char *path = h_write(h_tmpdir(), "account.csv", statement, -1);
	H_RUN(db, 0, NULL, "ingest", "--set", "sender_code=C1", path); /* S1's code: the wrong shop */
	g_free(h_settle(db));
	h_assert_postings(db, "P1", "600:FUNDED:-");  /* S1, standard: 50% of 12.00 */
	h_assert_postings(db, "P2", "1000:FUNDED:-"); /* 50% of 30.00, capped at 10.00 */

	/* The same bytes with the right sender are "already ingested" until the file is withdrawn. */
	H_RUN(db, 0, "already ingested", "ingest", "--set", "sender_code=C2", path);
	H_RUN(db, 0, "W1", "withdraw", "--file", "1", "--reason", "wrong sender code for this account");
	H_RUN(db, 0, NULL, "ingest", "--set", "sender_code=C2", path);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE file_id = 2 AND outcome = 'ELIGIBLE'"
				   " AND shop_id = 'S2'"), 2);
	g_free(h_settle(db));
	/* S1's orders are reversed by the withdrawal; S2 (a poverty household) is paid 80%, no cap. */
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM postings WHERE shop_id = 'S1' AND status = 'REVERSAL'"
				   " AND correction = 'W1'"), 2);
	cr_assert_eq(h_sql_int(db, "SELECT sum(funded_fen) FROM postings WHERE shop_id = 'S1'"), 0);
	cr_assert_eq(h_sql_int(db, "SELECT sum(funded_fen) FROM postings WHERE shop_id = 'S2'"), 960 + 2400);
	h_assert_replay_and_verify_clean(db, "as-recorded");
	H_RUN(db, 0, "W1", "why", "B1");
	/* why's order is the one that counts now: one line of 12.00 under S2, not the withdrawn one too. */
	H_RUN(db, 0, "\"order\":{\"shop_id\":\"S2\",\"order_no\":\"P1\",\"fee_fen\":1200,", "why", "--json", "B1");
}

/* A posting's correction reference is covered by its batch's digest: changed by a superuser (the
 * guards bypassed), verify finds the batch. Postings without one keep the text they always had. */
Test(acts, a_correction_reference_changed_in_a_posting_is_found_by_verify)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", night1, 0);
	g_free(h_settle(db));
	H_RUN(db, 0, "W1", "withdraw", "--file", "1", "--reason", "sent by mistake");
	g_free(h_settle(db));
	H_RUN(db, 0, NULL, "verify");
	cr_assert(h_exec(db, "SET session_replication_role = replica;"
			     " UPDATE postings SET correction = 'C7' WHERE correction = 'W1'", NULL));
	H_RUN(db, 1, "batch", "verify");
}

/* Which state of a line is in force is the order its states were written (sql/013): that order is
 * sealed with them, so a superuser who renumbers it to bring an older state back is found; one who
 * gives two states the same place is refused. */
Test(acts, the_order_of_a_lines_states_is_sealed)
{
	const char *db = setup();
	h_ingest_text(db, "n1.csv", night1, 0);
	g_free(h_settle(db));
	H_RUN(db, 0, "W1", "withdraw", "--file", "1", "--reason", "sent by mistake");
	g_free(h_settle(db)); /* the batch seals the act and its line states */
	H_RUN(db, 0, NULL, "verify");
	/* Two states may not share a place in that order (sql/017): "the one written last" is one. */
	g_autofree char *tie = NULL;
	cr_assert(!h_exec(db, "SET session_replication_role = replica; UPDATE line_acts"
			      " SET written = (SELECT min(written) FROM line_acts) WHERE line_no = 3", &tie));
	cr_assert(tie && strstr(tie, "line_acts_written"), "%s", tie ? tie : "(no error)");
	cr_assert(h_exec(db, "SET session_replication_role = replica;"
			     " UPDATE line_acts SET written = written + 1000 WHERE line_no = 2", NULL));
	H_RUN(db, 1, "line_acts", "verify");
}

/* Settles, and asserts that the settlement read the touched orders' lines by probing each one
 * (settle.c's choose_lines_plan), not by reading every line. */
static void settle_probing(const char *db)
{
	g_autofree char *said = NULL;
	g_free(h_settle_said(db, &said));
	cr_assert(strstr(said, "read by probing each order"), "settle did not probe: %s", said);
}

/* A night that touches a few orders of a long history reads only their lines, through the orders'
 * keys (settle.c's choose_lines_plan, sql/017), and every act still moves exactly the money the
 * whole history says. History: 100 orders of two lines of 5.00 (S1 standard on odd orders, S2 poor
 * on even ones), then nights of one or two orders each: a new line on an old order and a new order,
 * a conflict resolved for the other statement (and back and forth), the first of those files
 * withdrawn (one order keeps its history, one loses every line), a line outside the window
 * reclassified in. After each night:
 * the postings to the fen, the orders' lines probed, and replay, verify and the keyed lines equal to
 * the whole (h_assert_replay_and_verify_clean). */
Test(acts, a_small_night_of_a_long_history_probes_its_orders_and_each_act_moves_what_it_should)
{
	const char *db = setup();
	g_autoptr(GString) history = g_string_new(HEADER);
	for (int i = 1; i <= 100; i++)
		g_string_append_printf(history,
				       "EMS,HW%dA,H%d,2018-06-05 10:00:00,C%d,,1,5.00,,\n"
				       "EMS,HW%dB,H%d,2018-06-06 10:00:00,C%d,,1,5.00,,\n",
				       i, i, 2 - i % 2, i, i, 2 - i % 2);
	h_ingest_text(db, "history.csv", history->str, 0);
	g_free(h_settle(db));
	h_assert_postings(db, "H1", "500:FUNDED:-");
	h_assert_postings(db, "H2", "800:FUNDED:-");
	h_assert_replay_and_verify_clean(db, "as-recorded");

	/* File 2: a line for H1 (14.00 in all: 7.00), a new order X1 of S2 (80% of 10.00). */
	h_ingest_text(db, "n2.csv", HEADER "EMS,N1,H1,2018-06-07 10:00:00,C1,,1,4.00,,\n"
					   "EMS,N2,X1,2018-06-07 11:00:00,C2,,1,10.00,,\n", 0);
	settle_probing(db);
	h_assert_postings(db, "H1", "500:FUNDED:-,200:FUNDED:-");
	h_assert_postings(db, "X1", "800:FUNDED:-");
	h_assert_replay_and_verify_clean(db, "as-recorded");

	/* File 3 states H2's first parcel at 30.00: a conflict, and nothing to pay until resolved for
	 * it (35.00 in all, 80%, no cap for the poor: 28.00). */
	h_ingest_text(db, "n3.csv", HEADER "EMS,HW2A,H2,2018-06-05 10:00:00,C2,,1,30.00,,\n", 0);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE file_id = 3 AND outcome = 'CONFLICT'"), 1);
	H_RUN(db, 0, "R1", "resolve", "--courier", "EMS", "--waybill", "HW2A", "--take", "3:2", "--reason",
	    "the later statement is right");
	settle_probing(db);
	h_assert_postings(db, "H2", "800:FUNDED:-,2000:FUNDED:R1");
	h_assert_replay_and_verify_clean(db, "as-recorded");

	/* File 2 withdrawn: H1 back to its history (10.00), X1 holds no line any more. H2's conflict is
	 * resolved for the first statement and back again before the same settlement: each of its two
	 * lines has three states now, the one written last in force, and H2 is priced as it was. */
	H_RUN(db, 0, "R2", "resolve", "--courier", "EMS", "--waybill", "HW2A", "--take", "first", "--reason",
	    "the first statement after all");
	H_RUN(db, 0, "R3", "resolve", "--courier", "EMS", "--waybill", "HW2A", "--take", "3:2", "--reason",
	    "the later statement, finally");
	H_RUN(db, 0, "W1", "withdraw", "--file", "2", "--reason", "sent twice by the courier");
	settle_probing(db);
	h_assert_postings(db, "H1", "500:FUNDED:-,200:FUNDED:-,-200:REVERSAL:W1");
	h_assert_postings(db, "X1", "800:FUNDED:-,-800:REVERSAL:W1");
	h_assert_postings(db, "H2", "800:FUNDED:-,2000:FUNDED:R1");
	h_assert_replay_and_verify_clean(db, "as-recorded");

	/* File 4: a parcel of H3 on 06-20, after the window; the window corrected, then reclassified
	 * (16.00 in all: 8.00). */
	h_ingest_text(db, "n4.csv", HEADER "EMS,N3,H3,2018-06-20 10:00:00,C1,,1,6.00,,\n", 0);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE file_id = 4 AND outcome = 'NOT_IN_CAMPAIGN'"), 1);
	h_load_text(db, "campaigns",
		    "campaign_id,name,starts_at,ends_at\n"
		    "c618,618,2018-06-01 00:00:00,2018-06-25 00:00:00\n"
		    "d11,双十一,2018-11-01 00:00:00,2018-11-12 00:00:00\n");
	H_RUN(db, 0, "C1", "reclassify", "--from", "2018-06-20", "--to", "2018-06-20", "--reason", "window corrected");
	settle_probing(db);
	h_assert_postings(db, "H3", "500:FUNDED:-,300:FUNDED:C1");
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM postings WHERE batch_id = 5"), 1, "only H3 moved");
	h_assert_replay_and_verify_clean(db, "as-recorded");
	H_RUN(db, 0, NULL, "replay", "--from", "2018-06-01", "--to", "2018-06-30", "--registry", "current");
}

/* The rows a plan (EXPLAIN ANALYZE text, as auto_explain logs it) read from `relation`: on each
 * scan node of it, the rows it returned and those its filter or recheck removed, times its loops.
 * Each such node must be an index scan through one of `keys` (a condition on a later column of
 * another index is checked inside it, on every entry, and counted nowhere). */
static int64_t rows_read(const char *plan, const char *relation, const char *const *keys)
{
	g_autofree char *on = g_strdup_printf(" on %s ", relation);
	g_auto(GStrv) lines = g_strsplit(plan, "\n", -1);
	int64_t total = 0;
	for (int i = 0; lines[i]; i++) {
		const char *actual = strstr(lines[i], "(actual "); /* with timing or without */
		if (!strstr(lines[i], on) || !actual)
			continue;
		const char *using = strstr(lines[i], " using ");
		gboolean keyed = FALSE;
		for (int k = 0; using && keys[k]; k++) {
			g_autofree char *through = g_strdup_printf(" using %s on ", keys[k]);
			keyed = keyed || g_str_has_prefix(using, through);
		}
		cr_assert(keyed, "%s is read by another key than those of the lines and the orders:\n%s", relation,
			  lines[i]);
		const char *rows = strstr(actual, " rows="), *loops = strstr(actual, " loops=");
		cr_assert(rows && loops, "%s", lines[i]);
		int64_t per_loop = g_ascii_strtoll(rows + 6, NULL, 10);
		/* Its details follow it, up to the next node. */
		for (int j = i + 1; lines[j] && !strstr(lines[j], "->"); j++) {
			const char *removed = strstr(lines[j], "Rows Removed by ");
			if (removed)
				per_loop += g_ascii_strtoll(strchr(removed, ':') + 1, NULL, 10);
		}
		total += per_loop * g_ascii_strtoll(loops + 7, NULL, 10);
	}
	return total;
}

/* Statistics taken when two orders held every line and no line had an act (ANALYZE, then
 * autovacuum off, as on a cluster whose maintenance is late) tell the planner that an order
 * holds half of `lines` and that every line act of the programme is one row: a probe of each
 * touched order would then read the whole of `lines` once per order (on 150,000 lines and a night
 * of 1,000 orders, 25 s against 0.12 s), or hash every line act for a handful of lines. The
 * settlement probes through the orders' and the lines' keys whatever the statistics say: in the
 * plan the server ran (auto_explain with ANALYZE, sent to the client as warnings), the night's
 * three orders (6 lines, 2 of them withdrawn) are read through the keys of the orders and the
 * lines (sql/018), without reading the 3,402 lines or the 402 line acts. */
Test(acts, a_probing_settlement_reads_no_whole_table_when_the_statistics_are_stale)
{
	const char *db = setup();
	g_autoptr(GString) two = g_string_new(HEADER);
	for (int i = 1; i <= 400; i++)
		g_string_append_printf(two, "EMS,Z%d,Z%d,2018-06-05 10:00:00,C1,,1,5.00,,\n", i, i % 2);
	h_ingest_text(db, "two.csv", two->str, 0);
	g_free(h_settle(db));
	cr_assert(h_exec(db, "ANALYZE", NULL));
	cr_assert(h_exec(db, "ALTER TABLE lines SET (autovacuum_enabled = false)", NULL));
	cr_assert(h_exec(db, "ALTER TABLE line_acts SET (autovacuum_enabled = false)", NULL));
	cr_assert(h_exec(db, "ALTER TABLE orders SET (autovacuum_enabled = false)", NULL));
	g_autoptr(GString) many = g_string_new(HEADER);
	for (int i = 1; i <= 3000; i++)
		g_string_append_printf(many, "EMS,M%d,M%d,2018-06-06 10:00:00,C%d,,1,5.00,,\n", i, i, 1 + i % 2);
	h_ingest_text(db, "many.csv", many->str, 0);
	h_ingest_text(db, "p.csv", HEADER "EMS,P1A,P1,2018-06-06 10:00:00,C1,,1,5.00,,\n"
					  "EMS,P1B,P1,2018-06-06 11:00:00,C1,,1,5.00,,\n", 0);
	g_free(h_settle(db));
	H_RUN(db, 0, "W1", "withdraw", "--file", "1", "--reason", "sent by mistake");
	H_RUN(db, 0, "W2", "withdraw", "--file", "3", "--reason", "sent by mistake");
	g_free(h_settle(db));
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM line_acts"), 402);

	h_ingest_text(db, "night.csv", HEADER "EMS,N1,M1,2018-06-07 10:00:00,C2,,1,4.00,,\n"
					      "EMS,N2,X1,2018-06-07 11:00:00,C1,,1,6.00,,\n"
					      "EMS,N3,P1,2018-06-07 12:00:00,C1,,1,6.00,,\n", 0);
	g_setenv("PGOPTIONS", "-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0"
			      " -c auto_explain.log_level=warning -c auto_explain.log_analyze=on", TRUE);
	g_autofree char *said = NULL;
	g_free(h_settle_said(db, &said));
	g_unsetenv("PGOPTIONS");
	cr_assert(strstr(said, "read by probing each order"), "settle did not probe: %s", said);
	const char *from = strstr(said, "Query Text: DECLARE settle_lines");
	cr_assert(from, "no plans: %s", said);
	const char *to = strstr(from, "duration:");
	g_autofree char *plan = to ? g_strndup(from, (gsize)(to - from)) : g_strdup(from);
	/* The orders' own rows: M1's, X1's and P1's 6 lines, each looked up once or twice, and P1's
	 * 2 line acts, each found from its line and from its order. */
	const char *const lines_keys[] = { "lines_order", "lines_pkey", NULL };
	const char *const acts_keys[] = { "line_acts_order", "line_acts_line", NULL };
	int64_t from_lines = rows_read(plan, "lines", lines_keys), from_acts = rows_read(plan, "line_acts", acts_keys);
	cr_assert(from_lines > 0 && from_lines <= 20, "%" G_GINT64_FORMAT " rows of lines read:\n%s", from_lines, plan);
	cr_assert(from_acts > 0 && from_acts <= 20, "%" G_GINT64_FORMAT " line acts read:\n%s", from_acts, plan);
	h_assert_postings(db, "M1", "400:FUNDED:-,320:FUNDED:-");
	h_assert_postings(db, "X1", "300:FUNDED:-");
	h_assert_postings(db, "P1", "500:FUNDED:-,-500:REVERSAL:W2,300:FUNDED:-");
	h_assert_replay_and_verify_clean(db, "as-recorded");
}
