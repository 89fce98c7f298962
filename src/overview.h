/* overview.h: the programme at a glance, read for a person: what `subsidy status` shows (budget
 * left per pool, lines by outcome, what was posted, owed and paid, the last batch, the corrections
 * and open conflicts of CONTROL.md, the batches not approved) and what a new batch re-issues of
 * failed payments (settle's last line). Reads only. */
#ifndef SUBSIDY_OVERVIEW_H
#define SUBSIDY_OVERVIEW_H

#include "db.h"
#include "policy.h"

#include <glib.h>
#include <stdint.h>

/* A budget pool in force, with what is left of it. */
typedef struct {
	char *pool_id;
	char *name;
	int64_t amount_fen;
	int64_t left_fen;
} overview_pool;

typedef struct {
	GArray *pools;                     /* overview_pool, in funding order (priority, then id) */
	int64_t outcomes[OUTCOME_COUNT];   /* lines stored with each outcome */
	int64_t posted_fen;                /* what every batch posted */
	int64_t unfunded_fen;              /* owed and not funded, over every order */
	int64_t paid_fen;                  /* what the treasury reported paid */
	gboolean has_batch;
	int last_batch;                    /* when has_batch */
	char *last_batch_made;             /* when has_batch: its created_at as the database writes it */
	int64_t open_conflicts;            /* CONFLICT lines no resolution since their file closed */
	int64_t withdrawals, resolutions, reclassifications;
	int64_t acts_not_settled;          /* acts no settlement has seen yet */
	GArray *unapproved;                /* int: batches no one of finance approved, ascending */
} overview;

/* Reads the overview of the session's programme in one read-only snapshot into out, zeroed
 * ({ 0 }) by the caller, whose to clear it is, on failure too. d must be idle. Database errors as
 * db.h. */
gboolean overview_read(db *d, overview *out, GError **error);
void overview_clear(overview *o);

/* What batch_id re-issues of failed payments (CLI.md's settle counts postings only: a batch of 0
 * postings may still pay): the positive amounts carried into it and the shops they go to. Batch
 * 0 (none) re-issues nothing. */
gboolean overview_reissued(db *d, int batch_id, int64_t *fen, int *shops, GError **error);

#endif
