/* fault.h: named points where the test suite can kill the program, to prove that a run killed at
 * any moment leaves the database consistent and the next run finishes the job.
 *
 * When the environment variable SUBSIDY_FAULT names a point (e.g. "settle:funded"), the process
 * sends itself SIGKILL on reaching it (the Nth time with "settle:funded@N"). With "/stop" after
 * the name ("ingest:hashed/stop") it sends itself SIGSTOP instead, so that a test can change the
 * world at that moment and let it go on with SIGCONT. Unset, a fault point costs one getenv at the
 * first call. Nothing else in the program reads this variable. */
#ifndef SUBSIDY_FAULT_H
#define SUBSIDY_FAULT_H

void fault_point(const char *name);

#endif
