/* assets.c: access to the GResource bundle that scripts/resources builds. */
#include "assets.h"

#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>

void subsidy_res_register_resource(void);

static void ensure_registered(void)
{
	static gsize once;
	if (g_once_init_enter(&once)) {
		subsidy_res_register_resource();
		g_once_init_leave(&once, 1);
	}
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **assets_list(const char *folder)
{
	ensure_registered();
	g_autofree char *path = g_strconcat("/subsidy/", folder, NULL);
	char **names = g_resources_enumerate_children(path, 0, NULL);
	if (!names)
		return g_new0(char *, 1);
	qsort(names, g_strv_length(names), sizeof *names, compare_names);
	return names;
}

GBytes *assets_get(const char *folder, const char *name)
{
	ensure_registered();
	g_autofree char *path = g_strconcat("/subsidy/", folder, "/", name, NULL);
	return g_resources_lookup_data(path, 0, NULL);
}
