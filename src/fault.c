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
	/* NAME[@N][/stop] */
	size_t len = strcspn(wanted, "@/");
	if (strlen(name) != len || strncmp(name, wanted, len) != 0)
		return;
	const char *at = strchr(wanted, '@');
	if (++seen < (at ? atoi(at + 1) : 1))
		return;
	const char *action = strchr(wanted, '/');
	kill(getpid(), action && strcmp(action, "/stop") == 0 ? SIGSTOP : SIGKILL);
}
