/* runlog.h: the nightly run's log, for the person who reads it the morning after (or journald):
 * one timestamped line per thing done or refused, whatever the names it quotes hold. */
#ifndef SUBSIDY_RUNLOG_H
#define SUBSIDY_RUNLOG_H

#include <glib.h>

/* Every line goes to stderr as "YYYY-MM-DD HH:MM:SS nightly: MESSAGE" (China time), and after
 * runlog_open(TRUE, ...) to syslog(3) as well (ident "subsidy", LOG_USER, the priority given:
 * LOG_INFO, LOG_WARNING, LOG_ERR). Lines less urgent than max_priority (the config file's
 * log_level) are not written. Before runlog_open, lines up to LOG_INFO go to stderr only. */
void runlog_open(gboolean use_syslog, int max_priority);

/* Writes one line at priority: the message made one line (text_shown), so a file name with a line
 * break in it cannot forge another. */
void runlog(int priority, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Closes syslog when runlog_open opened it; lines after go to stderr only. */
void runlog_close(void);

#endif
