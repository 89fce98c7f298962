/* cli.h: the command table and what every command shares: options common to all commands
 * (--db, --config, --json), the optional configuration key file, connecting, and turning a
 * GError into a message and an exit status. */
#ifndef SUBSIDY_CLI_H
#define SUBSIDY_CLI_H

#include "db.h"
#include "status.h"

#include <glib.h>

#define SUBSIDY_VERSION "0.1.0"
#define CLI_PROGRAMME_DEFAULT "default"
/* --batch's value before parsing: tells "not given" from "0". */
#define CLI_BATCH_UNSET G_MININT

typedef struct {
	/* From the command line, the environment or the configuration file. */
	char *db;            /* --db, else $SUBSIDY_DB, else NULL (libpq defaults) */
	char *config;        /* --config FILE */
	gboolean json;       /* --json */
	char *programme;     /* the county programme this run works on */
	char **profile_dirs; /* extra profile directories, searched before the built-in ones */
	char *export_dir;    /* default export directory of nightly */
	int log_level;       /* the least urgent syslog(3) priority logged (config log_level; LOG_INFO) */
	gboolean progress;   /* show progress on stderr (stderr is a terminal) */
	GPtrArray *routes;   /* cli_route, the configuration's [route NAME] groups in file order; NULL: none */
} cli_context;

/* A [route NAME] group of the configuration (CLI.md, "The inbox of `nightly`"): the files of the
 * inbox folder NAME are ingested with profile and the fixed fields of set. load_config checks
 * the keys (profile required, set optional), the name (a folder directly in the inbox, not one of
 * nightly's own) and that set splits into FIELD=VALUE items; nightly checks the profile exists
 * and the fields are canonical. */
#define CLI_ROUTE_GROUP_PREFIX "route "
typedef struct {
	char *name;
	char *profile;
	char **set; /* FIELD=VALUE items, NULL-terminated (empty without set=) */
} cli_route;

void cli_context_clear(cli_context *ctx);

typedef struct cli_command {
	const char *name;
	const char *args;    /* what follows the name in the usage line */
	const char *summary; /* one line for `subsidy --help` */
	int (*run)(cli_context *ctx, const struct cli_command *cmd, int argc, char **argv);
	/* The database role the command needs (a member of it, or a superuser, may run it), or
	 * NULL when any role that can connect may; role_or: a second role that may as well. */
	const char *role;
	const char *role_or;
} cli_command;

/* Parses a command's options (its entries plus the common ones; they may come before or after the
 * operands, and a "--" ends them and is dropped) and the configuration file. Returns STATUS_OK, or
 * after printing why the exit status: STATUS_USAGE on bad usage or a configuration file that does
 * not parse, STATUS_NOINPUT when the --config file cannot be opened. */
int cli_parse(cli_context *ctx, const cli_command *cmd, const GOptionEntry *entries, gboolean takes_json,
	      int *argc, char ***argv);

/* "error", "warning", "info", "debug" (any case) as a syslog(3) priority; FALSE when unknown. */
gboolean cli_log_level_parse(const char *text, int *priority);

/* Prints the usage line of cmd to stderr with a message; returns STATUS_USAGE. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Connects to the configured database and checks that its schema is the one this binary's
 * migrations make (else STATUS_USAGE saying to run `subsidy init`, or to upgrade subsidy), and
 * that the session's role may run the command being run (else STATUS_NOPERM naming the role it
 * needs), before any work. */
db *cli_connect(cli_context *ctx, GError **error);
/* Connects without that check: for `subsidy init`, which makes the schema. */
db *cli_connect_unchecked(cli_context *ctx, GError **error);

/* The exit status of a failure: error's code when it is one of the failures of CLI.md (64, 65, 66,
 * 69, 75, 77), else STATUS_SOFTWARE. Never 0 or 1: an error is no run that was done. */
int cli_exit_status(const GError *error);

/* Prints "subsidy: MESSAGE" for error and returns its exit status, cli_exit_status (consumes error). A
 * STATUS_NOPERM error (the database refused the role mid-command) also names the role the
 * command needs. */
int cli_fail(GError *error);

/* Writes text to stdout, exactly. */
void cli_print(const char *text);

/* --json and errors. A command's JSON object goes out with cli_print_json (text and a newline), or
 * when it streams one, cli_json_printed says it began. When the run ends with a non-zero status
 * and --json was given and no object was printed, main prints one on stdout:
 *   {"error": {"status": N, "message": "..."}}
 * with the message of the last cli_note_error (cli_fail and cli_usage_error note theirs), so a
 * monitor always reads one JSON object. */
void cli_print_json(const char *text);
void cli_json_printed(void);
gboolean cli_json_was_printed(void);
void cli_note_error(int status, const char *message);
/* The last message noted, or NULL. */
const char *cli_noted_error(void);

/* The user running this process, for the records of who did what. */
const char *cli_os_user(void);

/* The courier profiles of a run: the built-in ones, extra_dirs (--profiles) and the
 * configuration's directories. */
struct profile_set;
struct profile_set *cli_profiles(cli_context *ctx, char **extra_dirs, GError **error);

/* Commands, one file each (cmd_NAME.c). */
int cmd_init(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_registry(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_export(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_payments(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_approve(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_disclose(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_ingest(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_why(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_lines(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_settle(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_nightly(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_status(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_report(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_replay(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_verify(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_withdraw(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_resolve(cli_context *ctx, const cli_command *cmd, int argc, char **argv);
int cmd_reclassify(cli_context *ctx, const cli_command *cmd, int argc, char **argv);

#endif
