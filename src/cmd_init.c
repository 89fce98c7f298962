/* cmd_init.c: `subsidy init [--roles]`: create or upgrade the schema from the numbered
 * migrations in sql/ (compiled into the binary), one transaction each, recorded in
 * schema_version (migrate.h). Roles are cluster-wide, so migrations only grant to them; `--roles`
 * creates them first (a superuser's step, once per cluster, safe to repeat). */
#include "cli.h"
#include "migrate.h"

#include <stdio.h>

int cmd_init(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	gboolean roles = FALSE;
	const GOptionEntry entries[] = {
		{ "roles", 0, 0, G_OPTION_ARG_NONE, &roles, "first create the engine, finance and auditor roles", NULL },
		{ NULL }
	};
	int parsed = cli_parse(ctx, cmd, entries, FALSE, &argc, &argv);
	if (parsed != STATUS_OK)
		return parsed;
	if (argc != 1)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);

	GError *error = NULL;
	db *d = cli_connect_unchecked(ctx, &error);
	if (!d)
		return cli_fail(error);
	migrate_result r = { 0 };
	gboolean ok = migrate_run(d, roles, &r, &error);
	db_close(d);
	g_assert(ok == (error == NULL));
	if (!ok) {
		migrate_result_clear(&r);
		return cli_fail(error);
	}
	g_assert(r.applied >= 0);
	if (r.owner && r.applied > 0)
		printf("init: the schema belongs to the database's owner '%s', who runs 'subsidy init' from now on\n",
		       r.owner);
	if (r.applied > 0)
		printf("init: applied %d migration%s\n", r.applied, r.applied == 1 ? "" : "s");
	else
		printf("init: schema is up to date\n");
	migrate_result_clear(&r);
	return STATUS_OK;
}
