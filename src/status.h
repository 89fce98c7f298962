/* status.h: the exit statuses of CLI.md, used as the code of every GError in the program.
 *
 * Every module reports failures with its own GError domain, but the error's code is always one
 * of these, so the command layer turns any error into the right exit status without a mapping
 * table that could drift. */
#ifndef SUBSIDY_STATUS_H
#define SUBSIDY_STATUS_H

typedef enum {
	STATUS_OK = 0,           /* done */
	STATUS_FINDINGS = 1,     /* done, with findings a person must see */
	STATUS_USAGE = 64,       /* bad usage, unknown batch, --from after --to */
	STATUS_DATAERR = 65,     /* input data refused as a whole */
	STATUS_NOINPUT = 66,     /* an input file that cannot be opened */
	STATUS_UNAVAILABLE = 69, /* the database cannot be reached */
	STATUS_SOFTWARE = 70,    /* internal error */
	STATUS_TEMPFAIL = 75,    /* another run holds the settlement lock */
	STATUS_NOPERM = 77,      /* the database role may not do this */
} exit_status;

#endif
