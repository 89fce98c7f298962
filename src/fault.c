/* fault.c: test kill points; see fault.h. */
#include "fault.h"

#include <glib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fault_point(const char *name)
{
	static const char *wanted;
	static gboolean looked;
	static int seen;
	if (!looked) {
		wanted = getenv("SUBSIDY_FAULT");
		looked = TRUE;
	}
	if (!wanted)
		return;
	const char *at = strchr(wanted, '@');
	size_t len = at ? (size_t)(at - wanted) : strlen(wanted);
	if (strlen(name) != len || strncmp(name, wanted, len) != 0)
		return;
	if (++seen < (at ? atoi(at + 1) : 1))
		return;
	kill(getpid(), SIGKILL);
}
