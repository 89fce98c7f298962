/* assets.h: the files compiled into the binary (sql/ migrations, built-in profiles/). */
#ifndef SUBSIDY_ASSETS_H
#define SUBSIDY_ASSETS_H

#include <glib.h>

/* The names in an asset folder ("sql", "profiles"), sorted bytewise; caller frees. */
char **assets_list(const char *folder);

/* The bytes of folder/name, NUL-terminated; NULL when there is no such asset. */
GBytes *assets_get(const char *folder, const char *name);

#endif
