/* report.h: the programme report of REPORT.md: what the subsidy achieved, as figures (structs),
 * and those figures as JSON, as a self-contained HTML page with inline SVG charts (report_html.c)
 * and as an XLSX workbook, one sheet per table (report_xlsx.c).
 *
 * report_compute reads the ledger and the registry in one REPEATABLE READ READ ONLY transaction
 * with a handful of set-based queries (none per order, line or village) and changes nothing; it
 * works under any role that may read the ledger (engine, finance, auditor).
 *
 * Money is int64 fen throughout; the only floating point is the XLSX writer's last step (POLICY.md,
 * "Money"). The SVG's coordinates are integer arithmetic too. */
#ifndef SUBSIDY_REPORT_H
#define SUBSIDY_REPORT_H

#include "chrono.h"
#include "db.h"
#include "policy.h"

#include <glib.h>
#include <stdint.h>

#define REPORT_ERROR report_error_quark()
GQuark report_error_quark(void);

/* The name nightly writes in its export dir. */
#define REPORT_NIGHTLY_NAME "report.html"

typedef struct {
	char *village;
	int64_t orders, posted_fen, poverty_posted_fen;
} report_village;

typedef struct {
	char *campaign_id; /* NULL: orders whose funding-key line fell in no promotion window */
	char *name;        /* the campaign's name in the registry now, NULL when none */
	int64_t orders, posted_fen;
} report_campaign;

typedef struct {
	char *courier; /* NULL: lines whose courier could not be read */
	int64_t lines, eligible, posted_fen;
	int64_t outcomes[OUTCOME_COUNT]; /* lines by outcome: the stacked bars */
} report_courier;

typedef struct {
	char *pool_id, *name;
	int64_t amount_fen, drawn_fen, left_fen;
} report_pool;

typedef struct {
	char date[CHRONO_DAY_TEXT_MAX];
	int64_t left_fen;  /* REPORT.md's point */
	int64_t total_fen; /* the amount of the pools loaded by then: the chart's other line */
} report_point;

typedef struct {
	gboolean has_from, has_to;
	char from[CHRONO_DAY_TEXT_MAX], to[CHRONO_DAY_TEXT_MAX];

	int64_t orders, shops_paid, posted_fen, paid_fen, unfunded_fen;
	struct {
		int64_t villages_total, villages_reached, households_paid, orders, posted_fen;
	} poverty;
	GArray *by_village;  /* report_village, by village bytewise */
	GArray *by_campaign; /* report_campaign, by campaign_id bytewise, NULL last */
	GArray *by_courier;  /* report_courier, by courier bytewise, NULL last */
	GArray *pools;       /* report_pool, by pool_id bytewise */
	GArray *burn_down;   /* report_point, by date */
	int64_t outcomes[OUTCOME_COUNT];

	/* Where the figures come from: for the page, not the JSON. */
	char *programme;
	char made_at[CHRONO_TIME_TEXT_MAX]; /* China time, to the second */
	int last_batch;                     /* 0: no batch yet */
	char *last_digest;                  /* NULL when no batch */
	char last_batch_at[CHRONO_TIME_TEXT_MAX];
	int64_t pools_amount_fen, pools_left_fen; /* over every pool, now */
} report;

/* Computes the figures for order dates in [from, to] (either may be NULL: unbounded) from db,
 * which must be idle (no transaction open); NULL with an error when the database fails (a role
 * the database refuses: STATUS_NOPERM). */
report *report_compute(db *d, const char *from, const char *to, GError **error);
void report_free(report *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(report, report_free)

/* REPORT.md's --json object (no newline); caller frees. */
char *report_json(const report *r);

/* The HTML page as text; caller frees. */
char *report_html(const report *r);

/* Writes the page, or the workbook, to path: whole or not at all (outfile.h). */
gboolean report_write_html(const report *r, const char *path, GError **error);
gboolean report_write_xlsx(const report *r, const char *path, GError **error);

#endif
