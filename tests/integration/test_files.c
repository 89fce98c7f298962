/* test_files.c: what the engine reads and writes on the filesystem, when the filesystem is not
 * kind (issue 13, "Files"), through the binary: output targets that are devices, fifos or links;
 * `-o -`; temporary files of a run killed, terminated or out of space; inputs that are fifos,
 * devices or standard input; an inbox file still being written; what nightly exported, recorded
 * in the database and written again only where it was; export and archive folders inside the
 * inbox; spreadsheet formulas in names; names with line breaks; header columns twice or too many;
 * and the command line's smaller promises (--batch 0, a malformed --db, --json errors). */
#include "harness.h"

#include <criterion/criterion.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"
#define LINE_S1 "EMS,F1,OF1,2018-06-05 10:00:00,C1,,1,12.00,,\n"
/* Seconds a run that must not block is given (under timeout(1)). */
#define RUN_LIMIT_S "30"

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                     */

/* A database with fixtures/small and batch 1 paying S1 6.00. */
static const char *one_batch(void)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_ingest_text(db, "one.csv", HEADER LINE_S1, 0);
	g_free(h_settle(db));
	return db;
}

static char *new_dir(const char *name)
{
	char *dir = g_build_filename(h_tmpdir(), name, NULL);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	cr_assert(system(cmd) == 0);
	cr_assert(g_mkdir_with_parents(dir, 0755) == 0, "cannot make %s", dir);
	return dir;
}

/* The names in dir that start with '.' (temporary files), space-separated. */
static char *dotfiles(const char *dir)
{
	GString *s = g_string_new(NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	for (const char *e; d && (e = g_dir_read_name(d));)
		if (e[0] == '.')
			g_string_append_printf(s, "%s%s", s->len ? " " : "", e);
	if (d)
		g_dir_close(d);
	return g_string_free(s, FALSE);
}

static int file_type(const char *path)
{
	struct stat st;
	cr_assert(lstat(path, &st) == 0, "%s is gone", path);
	return st.st_mode & S_IFMT;
}

/* Runs sh -c script (with SUBSIDY_BIN and DB in its environment); stdout in *out. */
static int run_sh(const char *db, const char *script, char **out, char **err)
{
	const char *const argv[] = { "sh", "-c", script, NULL };
	g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "DB", db, TRUE);
	int wait_status = 0;
	cr_assert(g_spawn_sync(NULL, (char **)argv, envp, G_SPAWN_SEARCH_PATH, NULL, NULL, out, err, &wait_status,
			       NULL));
	return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

/* ------------------------------------------------------------------------------------------ */
/* Output targets                                                                              */

/* A device, a fifo, or a symbolic link (even to a regular file) as -o is refused with exit 64: the
 * target is left as it was, no FILE.sha256 and no temporary file is made beside it. */
Test(files, export_disclose_and_replay_refuse_a_target_that_is_not_a_regular_file)
{
	const char *db = one_batch();
	g_autofree char *dir = new_dir("targets");
	g_autofree char *device = g_build_filename(dir, "null", NULL);
	g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
	g_autofree char *link = g_build_filename(dir, "link.csv", NULL);
	g_autofree char *target = h_write(dir, "target.csv", "keep me\n", -1);
	cr_assert(mknod(device, S_IFCHR | 0666, makedev(1, 3)) == 0 && mkfifo(fifo, 0644) == 0 &&
		  symlink(target, link) == 0);
	const char *const paths[] = { device, fifo, link };
	const int types[] = { S_IFCHR, S_IFIFO, S_IFLNK };
	for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
		h_result r[3];
		r[0] = h_run(db, "export", "--batch", "1", "-o", paths[i], NULL);
		r[1] = h_run(db, "disclose", "--batch", "1", "-o", paths[i], NULL);
		r[2] = h_run(db, "replay", "--from", "2018-06-01", "--to", "2018-06-30", "--report", paths[i], NULL);
		for (int k = 0; k < 3; k++) {
			cr_assert_eq(r[k].status, 64, "%s (%d): exit %d\n%s%s", paths[i], k, r[k].status, r[k].out,
				     r[k].err);
			cr_assert(strstr(r[k].err, "not a regular file"), "%s", r[k].err);
			h_result_clear(&r[k]);
		}
		cr_assert_eq(file_type(paths[i]), types[i], "%s was replaced", paths[i]);
		g_autofree char *sha = g_strconcat(paths[i], ".sha256", NULL);
		cr_assert(!g_file_test(sha, G_FILE_TEST_EXISTS), "%s written", sha);
	}
	g_autofree char *kept = h_read(target, NULL);
	cr_assert_str_eq(kept, "keep me\n");
	g_autofree char *temps = dotfiles(dir);
	cr_assert_str_eq(temps, "");
}

/* `-o -` is standard output for the public notice; not for the finance file, which needs its
 * FILE.sha256, nor for replay's report, whose standard output carries the differences already. */
Test(files, dash_is_standard_output_where_it_makes_sense)
{
	const char *db = one_batch();
	h_result r = h_run(db, "disclose", "--batch", "1", "-o", "-", NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	cr_assert(g_str_has_prefix(r.out, "\xEF\xBB\xBF序号,店铺名称,村,店主,联系电话,订单数,补贴金额(元)\r\n"), "%s",
		  r.out);
	cr_assert(strstr(r.out, "1,标准店,村一,王*明,138****0001,1,6.00\r\n"), "%s", r.out);
	h_result_clear(&r);
	cr_assert(!g_file_test("-", G_FILE_TEST_EXISTS));

	r = h_run(db, "export", "--batch", "1", "-o", "-", NULL);
	cr_assert_eq(r.status, 64, "exit %d\n%s", r.status, r.err);
	cr_assert(strstr(r.err, ".sha256"), "%s", r.err);
	h_result_clear(&r);
	r = h_run(db, "replay", "--from", "2018-06-01", "--to", "2018-06-30", "--report", "-", NULL);
	cr_assert_eq(r.status, 64, "exit %d\n%s", r.status, r.err);
	h_result_clear(&r);
	cr_assert(!g_file_test("-", G_FILE_TEST_EXISTS) && !g_file_test("-.sha256", G_FILE_TEST_EXISTS));
}

/* Out of space (a file size limit of 0: every write fails): exit 70 and no temporary file left. */
Test(files, an_export_that_runs_out_of_space_leaves_no_temporary_file)
{
	const char *db = one_batch();
	g_autofree char *dir = new_dir("full");
	g_autofree char *out = g_build_filename(dir, "batch-1.csv", NULL);
	const char *formats[] = { "csv", "xlsx" };
	for (size_t i = 0; i < G_N_ELEMENTS(formats); i++) {
		g_autofree char *script =
			g_strdup_printf("trap '' XFSZ; ulimit -f 0; exec \"$SUBSIDY_BIN\" --db \"$DB\" export --batch 1"
					" --format %s -o '%s'", formats[i], out);
		g_autofree char *o = NULL, *e = NULL;
		int status = run_sh(db, script, &o, &e);
		cr_assert_eq(status, 70, "%s: exit %d\n%s", formats[i], status, e);
		g_autofree char *temps = dotfiles(dir);
		cr_assert_str_eq(temps, "", "%s: left %s", formats[i], temps);
		cr_assert(!g_file_test(out, G_FILE_TEST_EXISTS));
	}
}

/* nightly terminated (SIGTERM) while its export is written: the temporary files go with it. */
Test(files, a_terminated_nightly_removes_its_temporary_export_files)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = new_dir("term-inbox");
	g_free(h_write(inbox, "n1.csv", HEADER LINE_S1, -1));
	char *argv[] = { (char *)g_getenv("SUBSIDY_BIN"), "--db", (char *)db, "nightly", "--inbox", inbox, NULL };
	g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "SUBSIDY_FAULT", "export:written/stop", TRUE);
	GPid pid;
	cr_assert(g_spawn_async_with_pipes(NULL, argv, envp, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
						   G_SPAWN_STDERR_TO_DEV_NULL,
					   NULL, NULL, &pid, NULL, NULL, NULL, NULL));
	int st;
	cr_assert_eq(waitpid(pid, &st, WUNTRACED), pid);
	cr_assert(WIFSTOPPED(st), "the run did not stop at export:written");
	g_autofree char *exports = g_build_filename(inbox, "exports", NULL);
	g_autofree char *during = dotfiles(exports);
	cr_assert(strstr(during, ".batch-1.csv."), "no temporary file while writing: '%s'", during);
	kill(pid, SIGTERM);
	kill(pid, SIGCONT);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "wait status %d", st);
	g_autofree char *after = dotfiles(exports);
	cr_assert_str_eq(after, "", "left: %s", after);
}

/* A run killed outright (SIGKILL cannot be caught) leaves its temporary files; the next run removes
 * those it recognises by name in the export dir, and nothing else. */
Test(files, the_next_nightly_removes_temporary_export_files_a_killed_run_left)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = new_dir("stale-inbox");
	g_autofree char *exports = g_build_filename(inbox, "exports", NULL);
	cr_assert(g_mkdir(exports, 0750) == 0);
	g_free(h_write(exports, ".batch-1.csv.Ab12Cd", "half", -1));
	g_free(h_write(exports, ".batch-1.csv.sha256.x9Y8z7", "half", -1));
	g_free(h_write(exports, ".keep", "", -1));
	h_result r = h_run(db, "nightly", "--inbox", inbox, NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	cr_assert(strstr(r.err, ".batch-1.csv.Ab12Cd"), "%s", r.err);
	h_result_clear(&r);
	g_autofree char *left = dotfiles(exports);
	cr_assert_str_eq(left, ".keep");
}

/* ------------------------------------------------------------------------------------------ */
/* Inputs                                                                                      */

/* ingest of a fifo or a device is refused at once (exit 66), without waiting on it, and the
 * database is free for the next run. */
Test(files, ingest_refuses_a_fifo_or_a_device_at_once)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *dir = new_dir("inputs");
	g_autofree char *fifo = g_build_filename(dir, "in.fifo", NULL);
	cr_assert(mkfifo(fifo, 0644) == 0);
	const char *const inputs[] = { fifo, "/dev/zero" };
	for (size_t i = 0; i < G_N_ELEMENTS(inputs); i++) {
		const char *const argv[] = { "timeout", RUN_LIMIT_S, g_getenv("SUBSIDY_BIN"), "--db", db, "ingest",
					     inputs[i], NULL };
		h_result r = { 0 };
		int wait_status = 0;
		cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &r.out, &r.err,
				       &wait_status, NULL));
		cr_assert(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 66,
			  "%s: wait status %d (exit 124: it hung)\n%s", inputs[i], wait_status, r.err);
		cr_assert(strstr(r.err, "not a regular file"), "%s", r.err);
		h_result_clear(&r);
	}
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM files"), 0);
}

/* Standard input, as '-' or /dev/stdin from a pipe, is read once, stored whole, named "stdin". */
Test(files, ingest_reads_standard_input_once_as_dash_or_dev_stdin)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *a = h_write(h_tmpdir(), "a.csv", HEADER LINE_S1, -1);
	g_autofree char *b = h_write(h_tmpdir(), "b.csv", HEADER "EMS,F2,OF2,2018-06-05 11:00:00,C1,,1,8.00,,\n", -1);
	g_autofree char *s1 = g_strdup_printf("cat '%s' | \"$SUBSIDY_BIN\" --db \"$DB\" ingest --json /dev/stdin", a);
	g_autofree char *s2 = g_strdup_printf("cat '%s' | \"$SUBSIDY_BIN\" --db \"$DB\" ingest -", b);
	const char *scripts[] = { s1, s2 };
	for (size_t i = 0; i < G_N_ELEMENTS(scripts); i++) {
		g_autofree char *out = NULL, *err = NULL;
		int status = run_sh(db, scripts[i], &out, &err);
		cr_assert_eq(status, 0, "exit %d\n%s%s", status, out, err);
		cr_assert(strstr(out, "stdin"), "%s", out);
	}
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM files WHERE name = 'stdin' AND lines = 1"), 2);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE outcome = 'ELIGIBLE'"), 2);
	g_autofree char *o = NULL, *e = NULL;
	int status = run_sh(db, "echo x | \"$SUBSIDY_BIN\" --db \"$DB\" ingest - -", &o, &e);
	cr_assert_eq(status, 64, "exit %d\n%s", status, e);
}

/* A file still being written when nightly reads it stays in the inbox, with a warning, and the
 * next run takes it whole. */
Test(files, a_file_that_changes_while_nightly_reads_it_stays_for_the_next_run)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = new_dir("growing-inbox");
	g_autofree char *path = h_write(inbox, "growing.csv", HEADER LINE_S1, -1);
	char *argv[] = { (char *)g_getenv("SUBSIDY_BIN"), "--db", (char *)db, "nightly", "--inbox", inbox, NULL };
	g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "SUBSIDY_FAULT", "ingest:hashed/stop", TRUE);
	GPid pid;
	int err_fd;
	cr_assert(g_spawn_async_with_pipes(NULL, argv, envp, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
					   NULL, NULL, &pid, NULL, NULL, &err_fd, NULL));
	int st;
	cr_assert_eq(waitpid(pid, &st, WUNTRACED), pid);
	cr_assert(WIFSTOPPED(st), "the run did not stop at ingest:hashed");
	FILE *f = fopen(path, "a");
	cr_assert(f != NULL);
	fputs("EMS,F2,OF2,2018-06-05 11:00:00,C1,,1,8.00,,\n", f);
	fclose(f);
	kill(pid, SIGCONT);
	g_autoptr(GString) err = g_string_new(NULL);
	char buf[4096];
	for (ssize_t n; (n = read(err_fd, buf, sizeof buf)) > 0;)
		g_string_append_len(err, buf, n);
	close(err_fd);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit %d\n%s", WEXITSTATUS(st), err->str);
	cr_assert(strstr(err->str, "changed while it was read"), "%s", err->str);
	cr_assert(g_file_test(path, G_FILE_TEST_IS_REGULAR), "growing.csv left the inbox");
	g_autofree char *rejected = g_build_filename(inbox, "rejected", NULL);
	cr_assert(!g_file_test(rejected, G_FILE_TEST_EXISTS), "rejected/ made");

	h_result r = h_run(db, "nightly", "--inbox", inbox, NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	h_result_clear(&r);
	cr_assert(!g_file_test(path, G_FILE_TEST_EXISTS));
	cr_assert_eq(h_sql_int(db, "SELECT lines FROM files WHERE name LIKE '/%/growing.csv'"), 2);
}

/* Upload endings in capitals are uploads too. */
Test(files, upload_endings_in_capitals_are_left_in_the_inbox)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = new_dir("caps-inbox");
	g_free(h_write(inbox, "a.csv.TMP", HEADER LINE_S1, -1));
	g_free(h_write(inbox, "b.csv.PART", HEADER LINE_S1, -1));
	g_free(h_write(inbox, "c.csv.FilePart", HEADER LINE_S1, -1));
	h_result r = h_run(db, "nightly", "--inbox", inbox, NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	cr_assert(strstr(r.out, "3 left in the inbox as uploads in progress"), "%s", r.out);
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM files"), 0);
}

/* ------------------------------------------------------------------------------------------ */
/* What nightly exported                                                                       */

static void nightly_into(const char *db, const char *inbox, const char *exports, int want, h_result *out)
{
	h_result r = h_run(db, "nightly", "--inbox", inbox, "--export-dir", exports, NULL);
	cr_assert_eq(r.status, want, "nightly: exit %d\n%s%s", r.status, r.out, r.err);
	*out = r;
}

/* Night 1 exports to A; the export dir becomes B: night 2 writes only its own batch there, never
 * batch 1 again. batch-1.csv is then lost from A: the next run writes it again in A, the same
 * bytes, and says so; the database records each file written, its path and digest. */
Test(files, a_new_export_dir_gets_only_new_batches_and_a_lost_file_is_written_again_where_it_was)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = new_dir("moving-inbox");
	g_autofree char *a = new_dir("exports-a");
	g_autofree char *b = new_dir("exports-b");
	g_free(h_write(inbox, "n1.csv", HEADER LINE_S1, -1));
	h_result r;
	nightly_into(db, inbox, a, 0, &r);
	h_result_clear(&r);
	g_autofree char *a1 = g_build_filename(a, "batch-1.csv", NULL);
	gsize len1 = 0;
	g_autofree char *bytes1 = h_read(a1, &len1);
	g_autofree char *sha1 = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)bytes1, len1);
	g_autofree char *sql = g_strdup_printf("SELECT count(*) FROM exports WHERE batch_id = 1 AND path = '%s'"
					       " AND sha256 = '%s' AND NOT written_again", a1, sha1);
	cr_assert_eq(h_sql_int(db, sql), 1);

	g_free(h_write(inbox, "n2.csv", HEADER "EMS,F2,OF2,2018-06-05 11:00:00,C1,,1,8.00,,\n", -1));
	nightly_into(db, inbox, b, 0, &r);
	cr_assert(!strstr(r.out, "earlier run"), "%s", r.out);
	h_result_clear(&r);
	g_autofree char *b1 = g_build_filename(b, "batch-1.csv", NULL);
	g_autofree char *b2 = g_build_filename(b, "batch-2.csv", NULL);
	cr_assert(!g_file_test(b1, G_FILE_TEST_EXISTS), "batch 1 exported again to the new dir");
	cr_assert(g_file_test(b2, G_FILE_TEST_IS_REGULAR));

	cr_assert(g_unlink(a1) == 0);
	nightly_into(db, inbox, b, 0, &r);
	g_autofree char *want = g_strdup_printf("export: %s (written again where batch 1 was exported:", a1);
	cr_assert(strstr(r.out, want), "%s", r.out);
	h_result_clear(&r);
	gsize len2 = 0;
	g_autofree char *bytes2 = h_read(a1, &len2);
	cr_assert(len1 == len2 && memcmp(bytes1, bytes2, len1) == 0, "batch-1.csv written again differs");
	cr_assert(!g_file_test(b1, G_FILE_TEST_EXISTS));
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM exports"), 3);
	/* The ledger's tables of record keep what they record. */
	cr_assert(!h_exec(db, "DELETE FROM exports", NULL));
	g_autofree char *engine = h_as_role(db, "subsidy_engine");
	cr_assert(!h_exec(engine, "UPDATE exports SET path = '/elsewhere'", NULL));
}

/* An export or archive dir that is the inbox, or inside a folder of it, is refused (exit 64):
 * nightly would take its own exports for manifests. Folders of their own right in the inbox (the
 * defaults) are fine. */
Test(files, an_export_or_archive_dir_inside_the_inbox_is_refused)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = new_dir("overlap-inbox");
	g_free(h_write(inbox, "n1.csv", HEADER LINE_S1, -1));
	g_autofree char *deep = g_build_filename(inbox, "sub", "exports", NULL);
	g_autofree char *rejected = g_build_filename(inbox, "rejected", NULL);
	g_autofree char *other = new_dir("overlap-other");
	const char *const bad[][2] = {
		{ "--export-dir", inbox }, { "--archive", inbox }, { "--export-dir", deep },
		{ "--export-dir", rejected }, { "--archive", rejected },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		h_result r = h_run(db, "nightly", "--inbox", inbox, bad[i][0], bad[i][1], NULL);
		cr_assert_eq(r.status, 64, "%s %s: exit %d\n%s", bad[i][0], bad[i][1], r.status, r.err);
		h_result_clear(&r);
	}
	h_result r = h_run(db, "nightly", "--inbox", inbox, "--export-dir", other, "--archive", other, NULL);
	cr_assert_eq(r.status, 64, "the same dir for both: exit %d\n%s", r.status, r.err);
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM runs WHERE kind = 'nightly'"), 0);
	g_autofree char *n1 = g_build_filename(inbox, "n1.csv", NULL);
	cr_assert(g_file_test(n1, G_FILE_TEST_IS_REGULAR));
}

/* ------------------------------------------------------------------------------------------ */
/* What a person reads                                                                         */

/* Cells that a spreadsheet would take for a formula get a leading quote (OWASP), in the finance
 * file and the public notice; a masked name is masked first; amounts are left alone; XLSX has no
 * formula cell. */
Test(files, names_that_look_like_formulas_are_neutralised_in_csv_and_stay_text_in_xlsx)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	h_load_text(db, "shops",
		    "shop_id,shop_name,platform,owner_name,owner_id_no,phone,household_id,village,bank_name,"
		    "bank_account,account_name,registered_from,registered_to\n"
		    "S1,@SUM(1+1)|cmd,淘宝,=AB1,11010519491231002X,13800000001,,+村一,\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","
		    "6221000000000018,-王小明,2016-01-01,\n");
	h_ingest_text(db, "one.csv", HEADER LINE_S1, 0);
	g_free(h_settle(db));
	g_autofree char *dir = new_dir("formulas");
	g_autofree char *csv = g_build_filename(dir, "b.csv", NULL);
	g_autofree char *xlsx = g_build_filename(dir, "b.xlsx", NULL);
	g_autofree char *notice = g_build_filename(dir, "n.csv", NULL);
	h_result r = h_run(db, "export", "--batch", "1", "-o", csv, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	h_result_clear(&r);
	r = h_run(db, "export", "--batch", "1", "--format", "xlsx", "-o", xlsx, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	h_result_clear(&r);
	r = h_run(db, "disclose", "--batch", "1", "-o", notice, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	h_result_clear(&r);

	g_autofree char *text = h_read(csv, NULL);
	cr_assert(strstr(text, "\r\n1,1,S1,'@SUM(1+1)|cmd,'-王小明,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","
			       "6221000000000018,1,6.00,\r\n"), "%s", text);
	g_autofree char *listed = h_read(notice, NULL);
	cr_assert(strstr(listed, "\r\n1,'@SUM(1+1)|cmd,'+村一,'=**1,138****0001,1,6.00\r\n"), "%s", listed);

	g_autofree char *script = g_strdup_printf(
		"import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1])\n"
		"x=''.join(z.read(n).decode() for n in z.namelist() if n.startswith('xl/'))\n"
		"print('formula' if '<f>' in x else 'none', '@SUM(1+1)|cmd' in x, '=HYPERLINK(' in x)\n");
	const char *const argv[] = { "python3", "-c", script, xlsx, NULL };
	g_autofree char *out = NULL;
	int wait_status = 0;
	cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL, &wait_status,
			       NULL));
	cr_assert_str_eq(out, "none True True\n");
}

/* A file name with a line break cannot forge a line of the summary, the log or ingest's output. */
Test(files, a_name_with_a_line_break_cannot_forge_a_summary_line)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *inbox = new_dir("forge-inbox");
	const char *forged = "x\nsettle: batch 7: 1 postings for 1 orders, 99999.00 yuan posted\n.csv";
	g_free(h_write(inbox, forged, HEADER LINE_S1, -1));
	h_result r = h_run(db, "nightly", "--inbox", inbox, NULL);
	cr_assert_eq(r.status, 1, "exit %d\n%s", r.status, r.err);
	cr_assert(!strstr(r.out, "\nsettle: batch 7") && !strstr(r.err, "\nsettle: batch 7"), "%s\n%s", r.out, r.err);
	h_result_clear(&r);

	g_autofree char *dir = new_dir("forge-ingest");
	g_autofree char *path = h_write(dir, forged, HEADER LINE_S1, -1);
	r = h_run(db, "ingest", path, NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	cr_assert(!strstr(r.out, "\nsettle: batch 7") && !strstr(r.err, "\nsettle: batch 7"), "%s\n%s", r.out, r.err);
	h_result_clear(&r);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM files WHERE name LIKE '%' || chr(10) || '%'"), 0);
}

/* A header naming a column twice is refused (which would be taken?); one of more than 256 columns
 * says so, whether the profile is given or detected. */
Test(files, a_header_with_a_column_twice_or_too_many_columns_is_refused_saying_so)
{
	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	g_autofree char *twice = h_write(h_tmpdir(), "twice.csv",
					 "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,"
					 "fee,category,destination,fee\n"
					 "EMS,F1,OF1,2018-06-05 10:00:00,C1,,1,12.00,,,99.00\n", -1);
	GString *wide = g_string_new(HEADER);
	g_string_truncate(wide, wide->len - 1);
	for (int i = 0; i < 250; i++)
		g_string_append_printf(wide, ",x%d", i);
	g_string_append(wide, "\n" LINE_S1);
	g_autofree char *many = h_write(h_tmpdir(), "many.csv", wide->str, -1);
	g_string_free(wide, TRUE);
	for (int given = 0; given < 2; given++) {
		h_result r = given ? h_run(db, "ingest", "--profile", "canonical", twice, NULL)
				   : h_run(db, "ingest", twice, NULL);
		cr_assert_eq(r.status, 65, "exit %d\n%s%s", r.status, r.out, r.err);
		cr_assert(strstr(r.err, "'fee' twice"), "%s", r.err);
		h_result_clear(&r);
		r = given ? h_run(db, "ingest", "--profile", "canonical", many, NULL) : h_run(db, "ingest", many, NULL);
		cr_assert_eq(r.status, 65, "exit %d\n%s%s", r.status, r.out, r.err);
		cr_assert(strstr(r.err, "260 columns, more than 256"), "%s", r.err);
		h_result_clear(&r);
	}
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM files"), 0);
}

/* ------------------------------------------------------------------------------------------ */
/* The command line                                                                            */

Test(files, batch_zero_says_it_must_be_positive)
{
	const char *const cmds[] = { "export", "disclose" };
	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
		h_result r = h_run(NULL, cmds[i], "--batch", "0", "-o", "x.csv", NULL);
		cr_assert_eq(r.status, 64, "%s: exit %d", cmds[i], r.status);
		cr_assert(strstr(r.err, "positive"), "%s: %s", cmds[i], r.err);
		h_result_clear(&r);
	}
}

Test(files, a_malformed_db_string_is_bad_usage)
{
	h_result r = h_run("host", "status", NULL);
	cr_assert_eq(r.status, 64, "exit %d\n%s", r.status, r.err);
	h_result_clear(&r);
	r = h_run("postgresql://[::1", "status", NULL);
	cr_assert_eq(r.status, 64, "exit %d\n%s", r.status, r.err);
	h_result_clear(&r);
}

/* With --json, every non-zero exit prints one JSON object: the command's own when it has one (a
 * refused file), else {"error": {"status": N, "message": "..."}}. */
Test(files, json_prints_an_error_object_on_every_non_zero_exit)
{
	h_result r = h_run("host=/nonexistent port=1", "status", "--json", NULL);
	cr_assert_eq(r.status, 69, "exit %d\n%s", r.status, r.err);
	cr_assert(g_str_has_prefix(r.out, "{\"error\":{\"status\":69,\"message\":\"cannot connect"), "%s", r.out);
	cr_assert(g_str_has_suffix(r.out, "\"}}\n"), "%s", r.out);
	h_result_clear(&r);
	r = h_run(NULL, "status", "--json", "--bogus", NULL);
	cr_assert_eq(r.status, 64, "exit %d", r.status);
	cr_assert(g_str_has_prefix(r.out, "{\"error\":{\"status\":64,"), "%s", r.out);
	h_result_clear(&r);
	r = h_run(NULL, "--json", "nosuchcommand", NULL);
	cr_assert_eq(r.status, 64, "exit %d", r.status);
	cr_assert(g_str_has_prefix(r.out, "{\"error\":{\"status\":64,"), "%s", r.out);
	h_result_clear(&r);

	const char *db = h_fresh_db();
	h_load_registry(db, "fixtures/small");
	r = h_run(db, "ingest", "--json", "/nonexistent/x.csv", NULL);
	cr_assert_eq(r.status, 66, "exit %d", r.status);
	cr_assert(g_str_has_prefix(r.out, "{\"files\":[") && !strstr(r.out, "\"error\""), "%s", r.out);
	h_result_clear(&r);
	g_autofree char *inbox = g_build_filename(h_tmpdir(), "no-such-inbox", NULL);
	r = h_run(db, "nightly", "--inbox", inbox, "--json", NULL);
	cr_assert_eq(r.status, 66, "exit %d", r.status);
	cr_assert(g_str_has_prefix(r.out, "{\"error\":{\"status\":66,\"message\":\"cannot read inbox"), "%s", r.out);
	h_result_clear(&r);
}
