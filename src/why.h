/* why.h: the read model of `subsidy why`: every line that carried one waybill (any courier, any
 * file), its outcome, reason and the act that touched it (CONTROL.md), the order it belongs to
 * and every posting of that order, read in one snapshot. Reads only: it answers "where did this
 * parcel's money go?". */
#ifndef SUBSIDY_WHY_H
#define SUBSIDY_WHY_H

#include "db.h"

#include <glib.h>
#include <stdint.h>

#define WHY_ERROR why_error_quark()
GQuark why_error_quark(void);

/* One line that carried the waybill. Strings are "" where the line has none, but courier, which
 * is NULL then. */
typedef struct {
	char *file;    /* the file's name as stored */
	int64_t line_no;
	char *courier; /* NULL: none read */
	char *outcome;
	char *reason;
	char *pickup;  /* as read: a date when the statement gave a date only, else date and time */
	gboolean has_fee;
	int64_t fee_fen;
	char *act;     /* the act that touched the line, as a person reads it ("W1 withdrew its file: ...") */
} why_line;

/* One posting of the order, as the ledger holds it. */
typedef struct {
	int batch_id;
	int seq;
	char *status;     /* FUNDED, PARTIAL, BUDGET_EXHAUSTED, REVERSAL */
	int64_t funded_fen;
	int64_t entitlement_fen;
	int64_t unfunded_fen;
	char *rule;       /* standard, poverty */
	int rate_bp;
	char *correction; /* " W1" for a posting an act caused, else "" */
} why_posting;

/* The waybill's order: that of its first line that counts now (acts applied), else, when none
 * counts any more (its file withdrawn), that of its first line stored ELIGIBLE. */
typedef struct {
	char *shop_id;
	char *order_no;          /* NULL: the order has no number */
	int64_t fee_fen;         /* the fee of the lines that count now (order_fee_sum) */
	int64_t lines;           /* the lines that count now */
	gboolean settled;        /* the ledger holds the order */
	int64_t entitlement_fen; /* when settled */
	int64_t posted_fen;      /* what its postings funded, in all */
	GArray *postings;        /* why_posting, by batch and seq */
} why_order;

typedef struct {
	GArray *lines;   /* why_line, by file and line */
	why_order order; /* when has_order */
	gboolean has_order;
} why_report;

/* Reads what touched waybill (in its normal form, ident.h, as lines store it) in the session's
 * programme, in one read-only snapshot, into out, zeroed ({ 0 }) by the caller, whose to clear it
 * is, on failure too. d must be idle. STATUS_SOFTWARE when the order's fees add up beyond 64 bits;
 * database errors as db.h. */
gboolean why_read(db *d, const char *waybill, why_report *out, GError **error);
void why_report_clear(why_report *r);

#endif
