/* test_cli.c: CLI.md's exit statuses of a failure, spelled once (cli_exit_status) for every
 * command and for nightly: a failure keeps its own status when CLI.md names it, else it is an
 * internal error (70); never 0 or 1, which say a run was done. */
#include "cli.h"

#include <criterion/criterion.h>

#define TEST_ERROR g_quark_from_static_string("subsidy-test-error-quark")

static int status_of(int code)
{
	g_autoptr(GError) e = g_error_new_literal(TEST_ERROR, code, "a failure");
	return cli_exit_status(e);
}

Test(cli, a_failure_named_by_cli_md_keeps_its_status)
{
	const int kept[] = { STATUS_USAGE,	 STATUS_DATAERR, STATUS_NOINPUT, STATUS_UNAVAILABLE,
			     STATUS_TEMPFAIL, STATUS_NOPERM,  STATUS_SOFTWARE };
	for (size_t i = 0; i < G_N_ELEMENTS(kept); i++)
		cr_expect_eq(status_of(kept[i]), kept[i], "status %d", kept[i]);
}

Test(cli, a_failure_is_never_done_so_never_0_or_1)
{
	cr_expect_eq(status_of(STATUS_OK), STATUS_SOFTWARE);
	cr_expect_eq(status_of(STATUS_FINDINGS), STATUS_SOFTWARE);
}

Test(cli, any_other_code_is_an_internal_error)
{
	/* A GLib error that reached a command without a status of ours: G_FILE_ERROR_NOENT is 4. */
	const int other[] = { 2, 4, 63, 67, 68, 71, 76, 78, -1 };
	for (size_t i = 0; i < G_N_ELEMENTS(other); i++)
		cr_expect_eq(status_of(other[i]), STATUS_SOFTWARE, "code %d", other[i]);
}
