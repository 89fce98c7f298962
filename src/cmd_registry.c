/* cmd_registry.c: `subsidy registry load KIND FILE [--json]`: load one registry file (FORMATS.md,
 * "Registry files") as new versions; print what was new, changed and unchanged. Warnings (a
 * shop's household not loaded yet...) go to stderr; a refused file lists every bad line there
 * and exits 65. */
#include "cli.h"
#include "json.h"
#include "registry_load.h"

#include <stdio.h>
#include <string.h>

static void print_counts(const cli_context *ctx, const char *kind, const char *path, const registry_counts *c)
{
	if (!ctx->json) {
		printf("registry load %s: %d new, %d changed, %d unchanged (%s)\n", kind, c->new_rows, c->changed_rows,
		       c->unchanged_rows, path);
		return;
	}
	json_writer w;
	json_init(&w);
	json_object_begin(&w);
	json_key(&w, "kind");
	json_string(&w, kind);
	json_key(&w, "file");
	json_string(&w, path);
	json_key(&w, "new");
	json_int(&w, c->new_rows);
	json_key(&w, "changed");
	json_int(&w, c->changed_rows);
	json_key(&w, "unchanged");
	json_int(&w, c->unchanged_rows);
	json_object_end(&w);
	g_autofree char *text = json_finish(&w);
	cli_print_json(text);
}

int cmd_registry(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	int parsed = cli_parse(ctx, cmd, NULL, TRUE, &argc, &argv);
	if (parsed != STATUS_OK)
		return parsed;
	if (argc < 2)
		return cli_usage_error(cmd, "missing the action (load)");
	if (strcmp(argv[1], "load") != 0)
		return cli_usage_error(cmd, "unknown action '%s' (the one action is load)", argv[1]);
	if (argc < 4)
		return cli_usage_error(cmd, argc < 3 ? "missing KIND and FILE" : "missing FILE");
	if (argc > 4)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[4]);
	const char *kind = argv[2], *path = argv[3];
	if (!registry_kind_known(kind))
		return cli_usage_error(cmd, "unknown KIND '%s' (policies, shops, senders, households, campaigns or budgets)",
				       kind);

	GError *error = NULL;
	db *d = cli_connect(ctx, &error);
	if (!d)
		return cli_fail(error);
	registry_counts counts = { 0 };
	gboolean ok = registry_load(d, kind, path, cli_os_user(), &counts, &error);
	db_close(d);
	if (!ok)
		return cli_fail(error);
	for (guint i = 0; counts.warnings && i < counts.warnings->len; i++)
		fprintf(stderr, "subsidy: warning: %s\n", (const char *)g_ptr_array_index(counts.warnings, i));
	print_counts(ctx, kind, path, &counts);
	registry_counts_clear(&counts);
	return STATUS_OK;
}
