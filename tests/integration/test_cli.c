/* test_cli.c: the command line's contract (CLI.md): init, usage errors, exit statuses. */
#include "harness.h"

#include <criterion/criterion.h>
#include <string.h>

Test(cli, init_twice_both_exit_0_and_the_second_changes_nothing)
{
	const char *db = h_fresh_db();
	/* The template is migrated already: init finds nothing to do, twice. */
	int64_t before = h_sql_int(db, "SELECT count(*) FROM schema_version");
	for (int i = 0; i < 2; i++) {
		h_result r = h_run(db, "init", NULL);
		cr_assert_eq(r.status, 0, "init: exit %d: %s", r.status, r.err);
		cr_assert(strstr(r.out, "up to date"), "%s", r.out);
		h_result_clear(&r);
	}
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM schema_version"), before);
}

Test(cli, init_on_an_empty_database_applies_every_migration)
{
	const char *db = h_fresh_db();
	/* An empty database: make one from template0 beside the fresh one. */
	g_autofree char *name = h_sql(db, "SELECT current_database() || '_empty'");
	g_autofree char *create = g_strdup_printf("CREATE DATABASE %s TEMPLATE template0", name);
	cr_assert(h_exec(db, create, NULL));
	g_autofree char *empty = g_strdup_printf("%s dbname=%s", g_getenv("SUBSIDY_TEST_ADMIN"), name);
	h_result r = h_run(empty, "init", NULL);
	cr_assert_eq(r.status, 0, "init: exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.out, "applied"), "%s", r.out);
	h_result_clear(&r);
	r = h_run(empty, "init", NULL);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "up to date"), "%s", r.out);
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(empty, "SELECT count(*) FROM schema_version"),
		     h_sql_int(db, "SELECT count(*) FROM schema_version"));
	h_disconnect(empty);
	g_autofree char *drop = g_strdup_printf("DROP DATABASE %s", name);
	cr_assert(h_exec(db, drop, NULL));
}

Test(cli, a_database_newer_than_the_binary_is_refused)
{
	const char *db = h_fresh_db();
	cr_assert(h_exec(db, "INSERT INTO schema_version (version, name) VALUES (9999, 'from the future')", NULL));
	h_result r = h_run(db, "init", NULL);
	cr_assert_eq(r.status, 64, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "newer") && strstr(r.err, "upgrade subsidy"), "%s", r.err);
	h_result_clear(&r);
}

Test(cli, a_database_that_does_not_answer_exits_69_naming_the_target)
{
	h_result r = h_run("host=/nonexistent-dir dbname=nowhere connect_timeout=3", "init", NULL);
	cr_assert_eq(r.status, 69, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "nowhere") && strstr(r.err, "/nonexistent-dir"), "%s", r.err);
	cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
	h_result_clear(&r);
}

Test(cli, an_unknown_command_exits_64_with_the_usage)
{
	h_result r = h_run(NULL, "no-such-command", NULL);
	cr_assert_eq(r.status, 64);
	cr_assert(strstr(r.err, "usage:"), "%s", r.err);
	h_result_clear(&r);
}

Test(cli, an_extra_argument_exits_64_with_the_usage)
{
	h_result r = h_run(NULL, "init", "surplus", NULL);
	cr_assert_eq(r.status, 64);
	cr_assert(strstr(r.err, "usage: subsidy init"), "%s", r.err);
	h_result_clear(&r);
}

Test(cli, an_unknown_option_exits_64)
{
	h_result r = h_run(NULL, "init", "--no-such-option", NULL);
	cr_assert_eq(r.status, 64);
	h_result_clear(&r);
}

Test(cli, version_and_help_exit_0)
{
	h_result r = h_run(NULL, "--version", NULL);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "subsidy "));
	h_result_clear(&r);
	r = h_run(NULL, "--help", NULL);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "init"));
	h_result_clear(&r);
	r = h_run(NULL, "init", "--help", NULL);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "--roles"));
	h_result_clear(&r);
}

Test(cli, a_command_on_a_database_without_the_schema_says_to_run_init)
{
	const char *db = h_fresh_db();
	g_autofree char *name = h_sql(db, "SELECT current_database() || '_bare'");
	g_autofree char *create = g_strdup_printf("CREATE DATABASE %s TEMPLATE template0", name);
	cr_assert(h_exec(db, create, NULL));
	g_autofree char *bare = g_strdup_printf("%s dbname=%s", g_getenv("SUBSIDY_TEST_ADMIN"), name);
	h_result r = h_run(bare, "status", NULL);
	g_autofree char *drop = g_strdup_printf("DROP DATABASE %s", name);
	cr_assert(h_exec(db, drop, NULL));
	cr_assert_eq(r.status, 64, "exit %d: %s", r.status, r.err);
	/* PostgreSQL's shape: what is wrong on the first line, what to do on a HINT: line. */
	cr_assert(strstr(r.err, "has no subsidy schema\nHINT: run 'subsidy init' first"), "%s", r.err);
	h_result_clear(&r);
}

Test(cli, a_command_on_an_older_schema_says_to_run_init_and_init_upgrades_it)
{
	const char *db = h_fresh_db();
	/* As if the newest migration had not been applied yet (its tables stay: init must not be
	 * run here, only the version check is under test). */
	cr_assert(h_exec(db, "DELETE FROM schema_version WHERE version = (SELECT max(version) FROM schema_version)",
			 NULL));
	h_result r = h_run(db, "status", NULL);
	cr_assert_eq(r.status, 64, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "\nHINT: run 'subsidy init'"), "%s", r.err);
	h_result_clear(&r);
	cr_assert(h_exec(db, "INSERT INTO schema_version (version, name) VALUES (9999, 'from the future')", NULL));
	r = h_run(db, "status", NULL);
	cr_assert_eq(r.status, 64, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, ")\nHINT: upgrade subsidy"), "%s", r.err);
	h_result_clear(&r);
}

/* --config FILE (CLI.md): a key file's [subsidy] group names the database and the export folder; a
 * file that cannot be opened is an input file that cannot be opened (66), one that does not parse
 * is bad usage (64). */
Test(cli, the_config_file_names_the_database_and_a_missing_one_exits_66)
{
	const char *db = h_fresh_db();
	g_autofree char *text = g_strdup_printf("[subsidy]\ndb=%s\n", db);
	g_autofree char *config = h_write(h_tmpdir(), "subsidy.conf", text, -1);
	h_result r = h_run(NULL, "status", "--json", "--config", config, NULL);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.out, "\"last_batch\":null"), "%s", r.out);
	h_result_clear(&r);
	g_autofree char *missing = g_build_filename(h_tmpdir(), "no-such.conf", NULL);
	r = h_run(NULL, "--config", missing, "status", NULL);
	cr_assert_eq(r.status, 66, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "no-such.conf") && strcmp(r.out, "") == 0, "%s%s", r.out, r.err);
	h_result_clear(&r);
	g_autofree char *bad = h_write(h_tmpdir(), "bad.conf", "not a key file\n", -1);
	r = h_run(NULL, "status", "--config", bad, NULL);
	cr_assert_eq(r.status, 64, "exit %d: %s", r.status, r.err);
	h_result_clear(&r);
	/* A value that is not UTF-8 was read as no value: this db= fell back to libpq's defaults, and
	 * status answered for another database. */
	g_autofree char *latin = g_strdup_printf("[subsidy]\n# the county's\ndb=%s application_name=\xe9t\xe9\n", db);
	g_autofree char *not_utf8 = h_write(h_tmpdir(), "latin1.conf", latin, -1);
	r = h_run(NULL, "status", "--config", not_utf8, NULL);
	cr_assert_eq(r.status, 64, "exit %d: %s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.err, "latin1.conf': line 3 is not UTF-8"), "%s", r.err);
	h_result_clear(&r);
}

/* Issue 16, 1: GLib key files have no comments after a value, so the README's old example
 * (`programme=baisha   # ...`) filed every row under a programme named with the comment, and a
 * path or log level with a comment failed later with a puzzling message. Such a value, a
 * programme that is not a plain code, and a key the engine does not know (a typo would be
 * silently ignored) are refused with the file, the key and why (64). */
Test(cli, a_config_value_with_stray_text_or_an_unknown_key_is_refused_saying_why)
{
	const char *db = h_fresh_db();
	static const struct {
		const char *text;
		const char *says;
	} bad[] = {
		{ "programme=baisha   # the county programme\n", "programme" },
		{ "programme=Bai Sha\n", "programme" },
		{ "programme=\n", "programme" },
		{ "log_level=info   # nightly's log\n", "log_level" },
		{ "export_dir=/srv/subsidy/exports  # where nightly writes\n", "export_dir" },
		{ "profiles=/etc/subsidy/profiles # extra\n", "profiles" },
		{ "export-dir=/srv/subsidy/exports\n", "export-dir" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *text = g_strdup_printf("[subsidy]\ndb=%s\n%s", db, bad[i].text);
		g_autofree char *config = h_write(h_tmpdir(), "stray.conf", text, -1);
		h_result r = h_run(NULL, "status", "--config", config, NULL);
		cr_assert_eq(r.status, 64, "case %zu: exit %d: %s", i, r.status, r.err);
		cr_assert(strstr(r.err, "stray.conf") && strstr(r.err, bad[i].says), "case %zu: %s", i, r.err);
		h_result_clear(&r);
	}
	/* Comments on their own lines, as the README now writes them, are fine. */
	g_autofree char *good = g_strdup_printf("[subsidy]\n# the database\ndb=%s\n# the county\nprogramme=baisha-2018\n"
						"log_level=info\n", db);
	g_autofree char *config = h_write(h_tmpdir(), "good.conf", good, -1);
	h_result r = h_run(NULL, "status", "--config", config, NULL);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	h_result_clear(&r);
}

/* "--" ends the options and is no operand: what follows is an operand even when it starts with '-'. */
Test(cli, a_double_dash_ends_the_options_and_is_no_operand)
{
	const char *db = h_fresh_db();
	h_result r = h_run(db, "why", "--json", "--", "-123", NULL);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert_str_eq(r.out, "{\"lines\":[],\"order\":null}\n");
	h_result_clear(&r);
	r = h_run(db, "why", "--", "W1", "--json", NULL);
	cr_assert_eq(r.status, 64, "--json after -- is a second WAYBILL: exit %d: %s", r.status, r.err);
	h_result_clear(&r);
}

/* Migration 018: line_acts is searched by the line and by the order, through keys that do not
 * start with the programme, and order_lines_counted() names no programme of a line act. */
static void assert_line_acts_keys_018(const char *db)
{
	g_autofree char *by_order = h_sql(db, "SELECT pg_get_indexdef('line_acts_order'::regclass)");
	cr_assert(g_str_has_suffix(by_order, "USING btree (shop_id, order_key)"), "018: %s", by_order);
	g_autofree char *by_line = h_sql(db, "SELECT pg_get_indexdef('line_acts_line'::regclass)");
	cr_assert(g_str_has_suffix(by_line, "USING btree (file_id, line_no, written)"), "018: %s", by_line);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM pg_proc WHERE proname = 'order_lines_counted'"
				   " AND prosrc ~ '(a|s|n)\\.programme'"), 0, "018: order_lines_counted()");
}

/* A database that took 017 as it first landed, with line_acts_order partial (live eligible
 * states only) and led by the programme, and has line acts: init gives it 018's keys, and its
 * orders are counted as before (the keyed lines equal the whole, replay and verify clean). */
Test(cli, a_database_with_the_first_017_takes_018)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	const char *header = "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,"
			     "destination\n";
	g_autofree char *n1 = g_strconcat(header, "EMS,W1,O1,2018-06-05 10:00:00,C1,,1,12.35,,\n"
						  "EMS,W2,O2,2018-06-05 10:00:00,C2,,1,30.00,,\n", NULL);
	h_ingest_text(db, "n1.csv", n1, 0);
	g_autofree char *n2 = g_strconcat(header, "EMS,W3,O1,2018-06-06 10:00:00,C1,,1,2.00,,\n", NULL);
	h_ingest_text(db, "n2.csv", n2, 0);
	g_free(h_settle(db));
	H_RUN(db, 0, NULL, "withdraw", "--file", "2", "--reason", "sent twice");
	g_free(h_settle(db));
	cr_assert(h_exec(db, "DROP INDEX line_acts_order, line_acts_line;"
			     " CREATE INDEX line_acts_order ON line_acts (programme, shop_id, order_key)"
			     "  WHERE live AND outcome = 'ELIGIBLE';"
			     " DELETE FROM schema_version WHERE version >= 18", NULL));
	h_disconnect(db);
	h_result r = h_run(db, "init", NULL);
	cr_assert_eq(r.status, 0, "init: exit %d: %s", r.status, r.err);
	h_result_clear(&r);
	assert_line_acts_keys_018(db);
	h_assert_replay_and_verify_clean(db, "as-recorded");
	g_autofree char *n3 = g_strconcat(header, "EMS,W4,O1,2018-06-07 10:00:00,C1,,1,3.00,,\n", NULL);
	h_ingest_text(db, "n3.csv", n3, 0);
	g_autofree char *three = h_settle(db);
	cr_assert(strstr(three, "\"batch\":3,\"orders\":1,"), "%s", three);
	h_assert_replay_and_verify_clean(db, "as-recorded");
}

/* The key columns of the tables that grow with every line (migration 014), with their count. */
#define KEYS_OF_GROWING_TABLES                                                                             \
	" FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_collation k ON k.oid = a.attcollation" \
	" WHERE c.relnamespace = 'public'::regnamespace AND c.relname IN ('lines', 'waybills', 'orders',"     \
	" 'postings', 'entries', 'batch_seals', 'line_acts', 'claim_moves') AND a.attname IN ('programme',"   \
	" 'courier', 'waybill_no', 'order_no', 'shop_id', 'order_key', 'fund_courier', 'fund_waybill', 'txn'," \
	" 'pool_id', 'tbl', 'item_key', 'was_shop_id', 'was_order_key')"
#define KEYS_OF_GROWING_TABLES_N 36

/* Migration 014: identifiers compare byte by byte whatever the server's locale, and upgrading a
 * database that already has a ledger (the columns as 013 left them) keeps every digest: verify and
 * replay find nothing, and the next nights settle as before. The later migrations are applied on
 * the way: 015 and 016 narrow the keys of orders_unfunded and lines_order, 017 adds
 * order_lines_counted() and its indexes. */
Test(cli, the_keys_of_the_growing_tables_compare_bytewise_and_the_upgrade_keeps_every_digest)
{
	const char *db = h_fresh_db();
	cr_assert_eq(h_sql_int(db, "SELECT count(*)" KEYS_OF_GROWING_TABLES " AND k.collname = 'C'"),
		     KEYS_OF_GROWING_TABLES_N);
	h_load_registry(db, "fixtures/small");
	const char *header = "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,"
			     "destination\n";
	g_autofree char *n1 = g_strconcat(header, "EMS,W1,O1,2018-06-05 10:00:00,C1,,1,12.35,,\n"
						  "EMS,w1,O2,2018-06-05 10:00:00,C2,,1,30.00,,\n", NULL);
	h_ingest_text(db, "n1.csv", n1, 0);
	g_free(h_settle(db));

	/* As 013 left them: the database's default collation; and 014 and later not applied (those
	 * after 014 are applied again by init: each must take a database as 013 left it). */
	g_autofree char *back = h_sql(db, "SELECT string_agg(format('ALTER TABLE %I ALTER COLUMN %I TYPE text COLLATE"
					  " \"default\"', c.relname, a.attname), '; ')" KEYS_OF_GROWING_TABLES);
	cr_assert(h_exec(db, back, NULL));
	cr_assert_eq(h_sql_int(db, "SELECT count(*)" KEYS_OF_GROWING_TABLES " AND k.collname = 'C'"), 0);
	cr_assert(h_exec(db, "DROP INDEX orders_unfunded; CREATE INDEX orders_unfunded ON orders"
			     " (programme, fund_pickup, fund_courier, fund_waybill) WHERE unfunded_fen > 0;"
			     " DROP INDEX lines_order; CREATE INDEX lines_order ON lines (programme, shop_id, order_key)"
			     " WHERE outcome = 'ELIGIBLE';"
			     " DROP FUNCTION order_lines_counted;"
			     " DROP INDEX line_acts_order, line_acts_written, line_acts_line;"
			     " DELETE FROM schema_version WHERE version >= 14", NULL));
	h_disconnect(db);

	h_result r = h_run(db, "init", NULL);
	cr_assert_eq(r.status, 0, "init: exit %d: %s", r.status, r.err);
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(db, "SELECT count(*)" KEYS_OF_GROWING_TABLES " AND k.collname = 'C'"),
		     KEYS_OF_GROWING_TABLES_N);
	g_autofree char *unfunded = h_sql(db, "SELECT pg_get_indexdef('orders_unfunded'::regclass)");
	cr_assert(strstr(unfunded, "(programme) WHERE (unfunded_fen > 0)"), "015: %s", unfunded);
	g_autofree char *by_order = h_sql(db, "SELECT pg_get_indexdef('lines_order'::regclass)");
	cr_assert(strstr(by_order, "(shop_id, order_key) WHERE (outcome = 'ELIGIBLE'::text)"), "016: %s", by_order);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM pg_proc WHERE proname = 'order_lines_counted'"), 1, "017");
	assert_line_acts_keys_018(db);
	h_assert_replay_and_verify_clean(db, "as-recorded");
	g_autofree char *n2 = g_strconcat(header, "EMS,W3,O1,2018-06-06 10:00:00,C1,,1,2.00,,\n", NULL);
	h_ingest_text(db, "n2.csv", n2, 0);
	g_autofree char *two = h_settle(db);
	cr_assert(strstr(two, "\"batch\":2,\"orders\":1,"), "%s", two);
	h_assert_replay_and_verify_clean(db, "as-recorded");
}

/* On a server whose collation is not bytewise (an ICU en-US database here: 'A_1' sorts before 'AB',
 * bytewise after), the keys of 014 still compare bytewise, and every query that reads them takes
 * its ranges bytewise too: a waybill claimed on the first night is found again among a chunk's
 * keys on the second (here a CONFLICT: another order), not missed and then refused by the claims'
 * primary key. */
Test(cli, on_a_server_with_a_locale_collation_a_claimed_waybill_is_found_again)
{
	const char *db = h_fresh_db();
	g_autofree char *name = h_sql(db, "SELECT current_database() || '_icu'");
	g_autofree char *create =
		g_strdup_printf("CREATE DATABASE %s LOCALE_PROVIDER icu ICU_LOCALE 'en-US' TEMPLATE template0", name);
	cr_assert(h_exec(db, create, NULL));
	g_autofree char *icu = g_strdup_printf("%s dbname=%s", g_getenv("SUBSIDY_TEST_ADMIN"), name);
	cr_assert_eq(h_sql_int(icu, "SELECT ('A_1' < 'AB')::int"), 1, "the database's own order is not bytewise");
	h_result r = h_run(icu, "init", NULL);
	cr_assert_eq(r.status, 0, "init: exit %d: %s", r.status, r.err);
	h_result_clear(&r);
	h_load_registry(icu, "fixtures/small");
	const char *header = "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,"
			     "destination\n";
	g_autofree char *n1 = g_strconcat(header, "EMS,AB,O1,2018-06-05 10:00:00,C1,,1,12.00,,\n", NULL);
	g_autofree char *n2 = g_strconcat(header, "EMS,A_1,O2,2018-06-05 10:00:00,C1,,1,12.00,,\n"
						  "EMS,AB,O3,2018-06-05 11:00:00,C1,,1,12.00,,\n", NULL);
	h_ingest_text(icu, "n1.csv", n1, 0);
	h_ingest_text(icu, "n2.csv", n2, 0);
	g_autofree char *outcomes = h_sql(icu, "SELECT string_agg(waybill_no || ':' || outcome, ',' ORDER BY file_id,"
					       " line_no) FROM lines");
	cr_assert_str_eq(outcomes, "AB:ELIGIBLE,A_1:ELIGIBLE,AB:CONFLICT");
	h_disconnect(icu);
	g_autofree char *drop = g_strdup_printf("DROP DATABASE %s WITH (FORCE)", name);
	cr_assert(h_exec(db, drop, NULL));
}
