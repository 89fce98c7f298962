/* cli.c: what every command shares; see cli.h. */
#include "cli.h"

#include "migrate.h"
#include "profile.h"
#include "text.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define CLI_CONFIG_GROUP "subsidy"

#define CLI_ERROR cli_error_quark()
G_DEFINE_QUARK(subsidy-cli-error-quark, cli_error)

static char *opt_db, *opt_config;
static gboolean opt_json;
/* The command being run (cli_parse), for the role it needs. */
static const cli_command *running;

static const GOptionEntry common_entries[] = {
	{ "db", 0, 0, G_OPTION_ARG_STRING, &opt_db, "database (libpq connection string or URI)", "CONNINFO" },
	{ "config", 0, 0, G_OPTION_ARG_FILENAME, &opt_config, "settings key file", "FILE" },
	{ NULL }
};

static const GOptionEntry json_entries[] = {
	{ "json", 0, 0, G_OPTION_ARG_NONE, &opt_json, "one JSON object on stdout", NULL },
	{ NULL }
};

/* The keys of the configuration's [subsidy] group. */
static const char *const config_keys[] = { "db", "programme", "profiles", "export_dir", "log_level" };

/* The longest programme name: a county's code, which leads every key of the database. */
#define CLI_PROGRAMME_MAX 63

/* A programme is a plain code: lower-case ASCII letters and digits, '-' and '_', starting with a
 * letter or digit. Anything else (spaces, a '#', capitals that a second config might spell
 * otherwise) would file rows under a programme nobody meant. */
static gboolean programme_valid(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > CLI_PROGRAMME_MAX || !(g_ascii_islower(p[0]) || g_ascii_isdigit(p[0])))
		return FALSE;
	for (size_t i = 0; i < n; i++)
		if (!(g_ascii_islower(p[i]) || g_ascii_isdigit(p[i]) || p[i] == '-' || p[i] == '_'))
			return FALSE;
	return TRUE;
}

/* Refuses what a key file would take silently: a key the engine does not know (a typo), and a
 * value with a '#' after white space, which people write as a comment and GLib keeps as part of
 * the value (key files have comments on their own lines only). */
static gboolean config_check(GKeyFile *kf, const char *path, GError **error)
{
	g_auto(GStrv) keys = g_key_file_get_keys(kf, CLI_CONFIG_GROUP, NULL, NULL);
	for (char **k = keys; k && *k; k++) {
		gboolean known = FALSE;
		for (size_t i = 0; i < G_N_ELEMENTS(config_keys) && !known; i++)
			known = strcmp(*k, config_keys[i]) == 0;
		if (!known) {
			g_set_error(error, CLI_ERROR, STATUS_USAGE,
				    "config '%s': unknown key '%s' in [" CLI_CONFIG_GROUP "]\n"
				    "HINT: the keys are db, programme, profiles, export_dir and log_level",
				    path, *k);
			return FALSE;
		}
		g_autofree char *value = g_key_file_get_value(kf, CLI_CONFIG_GROUP, *k, NULL);
		const char *hash = value ? strchr(value, '#') : NULL;
		if (hash && hash > value && g_ascii_isspace(hash[-1])) {
			g_set_error(error, CLI_ERROR, STATUS_USAGE,
				    "config '%s': the value of '%s' has text after it: '%s'\n"
				    "HINT: a key file has no comments after a value; put '# ...' on a line of its own",
				    path, *k, value);
			return FALSE;
		}
	}
	return TRUE;
}

static void cli_route_free(gpointer p)
{
	cli_route *r = p;
	g_free(r->name);
	g_free(r->profile);
	g_strfreev(r->set);
	g_free(r);
}

void cli_context_clear(cli_context *ctx)
{
	g_free(ctx->db);
	g_free(ctx->config);
	g_free(ctx->programme);
	g_strfreev(ctx->profile_dirs);
	g_free(ctx->export_dir);
	if (ctx->routes)
		g_ptr_array_free(ctx->routes, TRUE);
	memset(ctx, 0, sizeof *ctx);
}

/* Folders of the inbox that are nightly's own (nightly.h): no route may be named so. */
static const char *const route_reserved[] = { "archive", "rejected", "exports" };

/* One [route NAME] group: see cli_route. */
static gboolean load_route(GKeyFile *kf, const char *group, const char *path, cli_context *ctx, GError **error)
{
	const char *name = group + strlen(CLI_ROUTE_GROUP_PREFIX);
	gboolean reserved = FALSE;
	for (size_t i = 0; i < G_N_ELEMENTS(route_reserved); i++)
		reserved = reserved || strcmp(name, route_reserved[i]) == 0;
	if (!*name || name[0] == '.' || strchr(name, '/') || reserved) {
		g_set_error(error, CLI_ERROR, STATUS_USAGE,
			    "config '%s': [%s]: '%s' cannot be a route folder\n"
			    "HINT: a route is a folder directly in the inbox, not starting with '.', not archive,"
			    " rejected or exports",
			    path, group, name);
		return FALSE;
	}
	g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
	for (char **k = keys; k && *k; k++) {
		if (strcmp(*k, "profile") != 0 && strcmp(*k, "set") != 0) {
			g_set_error(error, CLI_ERROR, STATUS_USAGE,
				    "config '%s': unknown key '%s' in [%s]\nHINT: a route has profile= and set=", path, *k,
				    group);
			return FALSE;
		}
		g_autofree char *value = g_key_file_get_value(kf, group, *k, NULL);
		const char *hash = value ? strchr(value, '#') : NULL;
		if (hash && hash > value && g_ascii_isspace(hash[-1])) {
			g_set_error(error, CLI_ERROR, STATUS_USAGE,
				    "config '%s': the value of '%s' in [%s] has text after it: '%s'\n"
				    "HINT: a key file has no comments after a value; put '# ...' on a line of its own",
				    path, *k, group, value);
			return FALSE;
		}
	}
	g_autofree char *profile = g_key_file_get_string(kf, group, "profile", NULL);
	if (!profile || !*profile) {
		g_set_error(error, CLI_ERROR, STATUS_USAGE,
			    "config '%s': [%s] names no profile\nHINT: profile=NAME, the profile of every file of the"
			    " folder", path, group);
		return FALSE;
	}
	g_autofree char *set = g_key_file_get_string(kf, group, "set", NULL);
	g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) parts = g_strsplit(set ? set : "", ";", -1);
	for (char **s = parts; *s; s++) {
		char *item = g_strstrip(*s);
		if (!*item)
			continue;
		const char *eq = strchr(item, '=');
		if (!eq || eq == item) {
			g_set_error(error, CLI_ERROR, STATUS_USAGE,
				    "config '%s': [%s]: set item '%s' is not FIELD=VALUE\n"
				    "HINT: set=sender_code=LFYT0001;sender_phone=13800000000", path, group, item);
			return FALSE;
		}
		g_ptr_array_add(items, g_strdup(item));
	}
	g_ptr_array_add(items, NULL);
	for (guint i = 0; ctx->routes && i < ctx->routes->len; i++)
		g_assert(strcmp(((cli_route *)ctx->routes->pdata[i])->name, name) != 0); /* a key file merges groups */
	cli_route *r = g_new0(cli_route, 1);
	r->name = g_strdup(name);
	r->profile = g_steal_pointer(&profile);
	r->set = (char **)g_ptr_array_free(g_steal_pointer(&items), FALSE);
	if (!ctx->routes)
		ctx->routes = g_ptr_array_new_with_free_func(cli_route_free);
	g_ptr_array_add(ctx->routes, r);
	return TRUE;
}

static gboolean load_routes(GKeyFile *kf, const char *path, cli_context *ctx, GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
	for (char **g = groups; *g; g++)
		if (g_str_has_prefix(*g, CLI_ROUTE_GROUP_PREFIX) && !load_route(kf, *g, path, ctx, error))
			return FALSE;
	return TRUE;
}

static gboolean load_config(cli_context *ctx, GError **error)
{
	ctx->programme = g_strdup(CLI_PROGRAMME_DEFAULT);
	ctx->log_level = LOG_INFO;
	if (!ctx->config)
		return TRUE;
	g_autofree char *text = NULL;
	gsize len = 0;
	if (!g_file_get_contents(ctx->config, &text, &len, error)) {
		g_prefix_error(error, "cannot read config '%s': ", ctx->config);
		return FALSE;
	}
	/* GKeyFile reads a value that is not UTF-8 as no value: a db= so written fell back to libpq's
	 * defaults, another database. */
	unsigned bad_line = text_utf8_bad_line(text, len);
	if (bad_line) {
		g_set_error(error, CLI_ERROR, STATUS_USAGE, "config '%s': line %u is not UTF-8 (a config is UTF-8 text)",
			    ctx->config, bad_line);
		return FALSE;
	}
	g_autoptr(GKeyFile) kf = g_key_file_new();
	if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, error)) {
		g_prefix_error(error, "cannot read config '%s': ", ctx->config);
		return FALSE;
	}
	if (!config_check(kf, ctx->config, error) || !load_routes(kf, ctx->config, ctx, error))
		return FALSE;
	if (g_key_file_has_key(kf, CLI_CONFIG_GROUP, "programme", NULL)) {
		g_free(ctx->programme);
		ctx->programme = g_key_file_get_string(kf, CLI_CONFIG_GROUP, "programme", NULL);
		if (!ctx->programme || !programme_valid(ctx->programme)) {
			g_set_error(error, CLI_ERROR, STATUS_USAGE,
				    "config '%s': programme '%s' is not a programme code\n"
				    "HINT: 1 to %d lower-case letters, digits, '-' or '_', e.g. programme=baisha",
				    ctx->config, ctx->programme ? ctx->programme : "", CLI_PROGRAMME_MAX);
			return FALSE;
		}
	}
	g_assert(programme_valid(ctx->programme));
	if (!ctx->db && g_key_file_has_key(kf, CLI_CONFIG_GROUP, "db", NULL))
		ctx->db = g_key_file_get_string(kf, CLI_CONFIG_GROUP, "db", NULL);
	if (g_key_file_has_key(kf, CLI_CONFIG_GROUP, "profiles", NULL))
		ctx->profile_dirs = g_key_file_get_string_list(kf, CLI_CONFIG_GROUP, "profiles", NULL, NULL);
	if (g_key_file_has_key(kf, CLI_CONFIG_GROUP, "export_dir", NULL))
		ctx->export_dir = g_key_file_get_string(kf, CLI_CONFIG_GROUP, "export_dir", NULL);
	if (g_key_file_has_key(kf, CLI_CONFIG_GROUP, "log_level", NULL)) {
		g_autofree char *level = g_key_file_get_string(kf, CLI_CONFIG_GROUP, "log_level", NULL);
		if (!cli_log_level_parse(level, &ctx->log_level)) {
			g_set_error(error, CLI_ERROR, STATUS_USAGE,
				    "config '%s': log_level '%s' is not error, warning, info or debug", ctx->config,
				    level ? level : "");
			return FALSE;
		}
	}
	return TRUE;
}

gboolean cli_log_level_parse(const char *text, int *priority)
{
	static const struct {
		const char *name;
		int priority;
	} levels[] = { { "error", LOG_ERR }, { "warning", LOG_WARNING }, { "info", LOG_INFO }, { "debug", LOG_DEBUG } };
	for (size_t i = 0; text && i < G_N_ELEMENTS(levels); i++)
		if (g_ascii_strcasecmp(text, levels[i].name) == 0) {
			*priority = levels[i].priority;
			return TRUE;
		}
	return FALSE;
}

int cli_parse(cli_context *ctx, const cli_command *cmd, const GOptionEntry *entries, gboolean takes_json,
	      int *argc, char ***argv)
{
	running = cmd;
	g_autofree char *param = g_strdup_printf("%s", cmd->args);
	g_autoptr(GOptionContext) oc = g_option_context_new(param);
	g_option_context_set_summary(oc, cmd->summary);
	if (entries)
		g_option_context_add_main_entries(oc, entries, NULL);
	if (takes_json)
		g_option_context_add_main_entries(oc, json_entries, NULL);
	g_option_context_add_main_entries(oc, common_entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse_strv(oc, argv, &error))
		return cli_usage_error(cmd, "%s", error->message);
	/* GOption leaves a "--" in place when an operand after it starts with '-': it ended the
	 * options and is no operand itself. */
	char **v = *argv;
	for (int i = 1; v[i]; i++)
		if (strcmp(v[i], "--") == 0) {
			g_free(v[i]);
			memmove(&v[i], &v[i + 1], (g_strv_length(&v[i + 1]) + 1) * sizeof *v);
			break;
		}
	*argc = (int)g_strv_length(*argv);
	ctx->db = opt_db ? opt_db : g_strdup(g_getenv("SUBSIDY_DB"));
	ctx->config = opt_config;
	ctx->json = opt_json;
	opt_db = opt_config = NULL;
	if (!load_config(ctx, &error)) {
		fprintf(stderr, "subsidy: %s\n", error->message);
		cli_note_error(STATUS_USAGE, error->message);
		/* CLI.md: an input file that cannot be opened is 66; one that does not parse is bad usage. */
		return error->domain == G_FILE_ERROR ? STATUS_NOINPUT : STATUS_USAGE;
	}
	return STATUS_OK;
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "subsidy %s: %s\nusage: subsidy %s %s\n", cmd->name, msg, cmd->name, cmd->args);
	cli_note_error(STATUS_USAGE, msg);
	return STATUS_USAGE;
}

db *cli_connect_unchecked(cli_context *ctx, GError **error)
{
	return db_connect(ctx->db, ctx->programme, error);
}

/* "ROLE" or "ROLE or ROLE": what cmd needs. */
static char *needed_roles(const cli_command *cmd)
{
	return cmd->role_or ? g_strdup_printf("%s or %s", cmd->role, cmd->role_or) : g_strdup(cmd->role);
}

/* Before any work: may the session's role run cmd? A member of the role needed may, and so may a
 * superuser (pg_has_role says so for both). */
static gboolean check_role(db *d, const cli_command *cmd, GError **error)
{
	g_assert(cmd->role != NULL);
	gboolean may = FALSE;
	g_autofree char *user = NULL;
	if (!db_role_may(d, cmd->role, cmd->role_or, &may, &user, error))
		return FALSE;
	g_assert(user != NULL);
	if (!may) {
		g_autofree char *roles = needed_roles(cmd);
		g_set_error(error, CLI_ERROR, STATUS_NOPERM,
			    "permission denied: role '%s' may not run 'subsidy %s': it needs role %s", user, cmd->name,
			    roles);
	}
	return may;
}

db *cli_connect(cli_context *ctx, GError **error)
{
	db *d = cli_connect_unchecked(ctx, error);
	if (!d)
		return NULL;
	gboolean ok = migrate_check_version(d, error);
	if (ok && running && running->role)
		ok = check_role(d, running, error);
	if (!ok) {
		db_close(d);
		return NULL;
	}
	return d;
}

int cli_exit_status(const GError *error)
{
	g_assert(error != NULL);
	int code = error->code;
	if (code != STATUS_USAGE && code != STATUS_DATAERR && code != STATUS_NOINPUT && code != STATUS_UNAVAILABLE &&
	    code != STATUS_TEMPFAIL && code != STATUS_NOPERM)
		code = STATUS_SOFTWARE;
	g_assert(code != STATUS_OK && code != STATUS_FINDINGS);
	return code;
}

int cli_fail(GError *error)
{
	int code = cli_exit_status(error);
	fprintf(stderr, "subsidy: %s\n", error->message);
	if (code == STATUS_NOPERM && running && running->role && !strstr(error->message, running->role)) {
		g_autofree char *roles = needed_roles(running);
		fprintf(stderr, "subsidy: 'subsidy %s' needs role %s\n", running->name, roles);
	} else if (code == STATUS_NOPERM && running && !running->role && strcmp(running->name, "init") != 0 &&
		   !strstr(error->message, "subsidy_")) {
		/* A command every role of the three may run: this session's role is none of them. */
		fprintf(stderr, "subsidy: 'subsidy %s' needs role subsidy_engine, subsidy_finance or subsidy_auditor\n",
			running->name);
	}
	cli_note_error(code, error->message);
	g_error_free(error);
	return code;
}

void cli_print(const char *text)
{
	fputs(text, stdout);
}

static gboolean json_printed;
static char *noted_error;

void cli_print_json(const char *text)
{
	printf("%s\n", text);
	json_printed = TRUE;
}

void cli_json_printed(void)
{
	json_printed = TRUE;
}

gboolean cli_json_was_printed(void)
{
	return json_printed;
}

void cli_note_error(int status, const char *message)
{
	g_free(noted_error);
	noted_error = g_strdup(message);
}

const char *cli_noted_error(void)
{
	return noted_error;
}

const char *cli_os_user(void)
{
	static char name[256];
	if (name[0])
		return name;
	struct passwd *pw = getpwuid(geteuid());
	g_strlcpy(name, pw ? pw->pw_name : g_get_user_name(), sizeof name);
	return name;
}

/* The profile set of a run: --profiles directories first, then the configuration's. */
profile_set *cli_profiles(cli_context *ctx, char **extra_dirs, GError **error)
{
	g_autoptr(GPtrArray) dirs = g_ptr_array_new();
	for (char **d = extra_dirs; d && *d; d++)
		g_ptr_array_add(dirs, *d);
	for (char **d = ctx->profile_dirs; d && *d; d++)
		g_ptr_array_add(dirs, *d);
	g_ptr_array_add(dirs, NULL);
	return profile_set_load((const char *const *)dirs->pdata, error);
}
