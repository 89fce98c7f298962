/* runlog.c: the nightly run's log; see runlog.h. */
#include "runlog.h"

#include "chrono.h"
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static gboolean log_to_syslog;
static int log_max_priority = LOG_INFO;

void runlog_open(gboolean use_syslog, int max_priority)
{
	g_assert(max_priority >= LOG_EMERG && max_priority <= LOG_DEBUG);
	log_to_syslog = use_syslog;
	log_max_priority = max_priority;
	if (use_syslog)
		openlog("subsidy", LOG_PID, LOG_USER);
}

void runlog_close(void)
{
	if (log_to_syslog)
		closelog();
	log_to_syslog = FALSE;
}

void runlog(int priority, const char *fmt, ...)
{
	g_assert(priority >= LOG_EMERG && priority <= LOG_DEBUG);
	if (priority > log_max_priority)
		return;
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *raw = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	/* One line each, whatever a file name holds: a name with a line break cannot forge one. */
	g_autofree char *msg = text_shown(raw);
	g_assert(strchr(msg, '\n') == NULL);
	char when[CHRONO_TIME_TEXT_MAX];
	chrono_format_time(chrono_now(), when);
	fprintf(stderr, "%s nightly: %s\n", when, msg);
	if (log_to_syslog)
		syslog(priority, "nightly: %s", msg);
}
