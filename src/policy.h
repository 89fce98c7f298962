/* policy.h: the subsidy rules as pure functions: which outcome a line gets, and what an order is
 * entitled to. No I/O, no database, no clock: the caller passes every fact and the time.
 * Settlement and replay call the same functions, so they can only disagree when the data does. */
#ifndef SUBSIDY_POLICY_H
#define SUBSIDY_POLICY_H

#include "chrono.h"
#include "money.h"

#include <glib.h>
#include <stdint.h>

#define POLICY_ERROR policy_error_quark()
GQuark policy_error_quark(void);

/* Outcomes of POLICY.md, in the order their checks run; the names are part of the contract. */
typedef enum {
	OUTCOME_ELIGIBLE,
	OUTCOME_DUPLICATE,
	OUTCOME_CONFLICT,
	OUTCOME_REJECTED,
	OUTCOME_UNREGISTERED_SHOP,
	OUTCOME_AMBIGUOUS_SHOP,
	OUTCOME_NOT_REGISTERED_ON_DATE,
	OUTCOME_OUTSIDE_POLICY_PERIOD,
	OUTCOME_NOT_IN_CAMPAIGN,
	OUTCOME_INELIGIBLE_PRODUCT,
	OUTCOME_COUNT
} policy_outcome;

const char *policy_outcome_name(policy_outcome o);
/* FALSE for an unknown name. */
gboolean policy_outcome_parse(const char *name, policy_outcome *out);

/* TRUE for the outcomes checks 3-7 decide, the ones policy_classify returns: ELIGIBLE and the six
 * registry outcomes. FALSE for REJECTED (check 1), DUPLICATE and CONFLICT (check 2). A
 * reclassification (acts, replay) classifies again exactly the lines that hold one of these. */
gboolean policy_outcome_is_classified(policy_outcome o);
/* TRUE for the outcomes checks 3-7 decide other than ELIGIBLE: a file's `ineligible` count
 * (FORMATS.md: lines = eligible + ineligible + duplicate + conflict + rejected). */
gboolean policy_outcome_is_ineligible(policy_outcome o);
/* The outcomes pick selects (NULL: every outcome), as SQL literals in the enum's order for
 * `outcome IN (...)`: "'ELIGIBLE', 'UNREGISTERED_SHOP', ...". A new string; pick selects at least one. */
char *policy_outcomes_sql(gboolean (*pick)(policy_outcome o));

#define POLICY_NO_CAP (-1) /* a cap of -1 fen means "no cap" */
#define POLICY_FEE_MAX_DEFAULT_FEN 200000 /* 2,000.00 yuan per waybill */
/* The largest fee_max a policy may set: 100,000.00 yuan per waybill, fifty times the default. No
 * parcel a rural shop sends costs that much; the bound is there so that an order's arithmetic
 * stays far inside 64 bits. An order's fee is the sum of its eligible waybills' fees, each at most
 * this; the entitlement multiplies it by at most MONEY_BP_ONE basis points. So an order of up to
 * POLICY_ORDER_WAYBILLS_SAFE waybills (90 million: more than a whole programme's lines) is priced
 * without overflow; past that, money_apply_rate's checked multiplication reports it. */
#define POLICY_FEE_MAX_LIMIT_FEN 10000000
#define POLICY_ORDER_WAYBILLS_SAFE 90000000
G_STATIC_ASSERT(POLICY_FEE_MAX_DEFAULT_FEN <= POLICY_FEE_MAX_LIMIT_FEN);
G_STATIC_ASSERT((int64_t)POLICY_FEE_MAX_LIMIT_FEN * MONEY_BP_ONE <= INT64_MAX / POLICY_ORDER_WAYBILLS_SAFE);

/* TRUE when fee_max_fen is within 0..POLICY_FEE_MAX_LIMIT_FEN; else a STATUS_DATAERR error ("is
 * above the limit of ...") for the caller to prefix with the column's name and the value as written. */
gboolean policy_fee_max_valid(int64_t fee_max_fen, GError **error);

/* One version of the policy (a `policies` row). Dates are inclusive; valid_to_day may be
 * POLICY_OPEN_END for "open". */
#define POLICY_OPEN_END INT32_MAX
typedef struct {
	char *policy_id;
	int version;
	chrono_day valid_from;
	chrono_day valid_to; /* POLICY_OPEN_END: open */
	int32_t standard_rate_bp;
	int64_t standard_cap_fen; /* POLICY_NO_CAP: none */
	int32_t poverty_rate_bp;
	int64_t poverty_cap_fen; /* POLICY_NO_CAP: none */
	money_rounding rounding;
	gboolean require_campaign;
	char **eligible_categories; /* NULL or empty: no category check */
	int64_t fee_max_fen;
} policy_version;

/* The version in force on day, from n versions; NULL when none. Versions must not overlap (the
 * registry refuses overlapping ones when loaded). */
const policy_version *policy_in_force(const policy_version *versions, size_t n, chrono_day day);

/* TRUE when two versions' date ranges share a day. */
gboolean policy_overlap(const policy_version *a, const policy_version *b);

/* How the sender of a line was matched to a shop (check 3), by the registry. */
typedef enum {
	POLICY_SHOP_FOUND,
	POLICY_SHOP_UNREGISTERED,
	POLICY_SHOP_AMBIGUOUS,
} policy_shop_match;

/* The registry facts that apply to one validated, non-duplicate line: the caller looks them up
 * for the line's pickup time (China time) as known when the line is ingested. */
typedef struct {
	policy_shop_match shop_match;
	chrono_day registered_from;       /* the shop's registration, when found */
	chrono_day registered_to;         /* POLICY_OPEN_END: open */
	const policy_version *policy;     /* in force on the pickup day, or NULL */
	const char *campaign_id;          /* the promotion window holding the pickup, or NULL */
	const char *category;             /* the line's category, NULL or "" when it names none */
	chrono_time pickup;
} policy_line_facts;

/* Checks 3-7 of POLICY.md, in order; the first failure is the outcome. *reason (may be NULL) gets
 * a new string saying why, NULL for ELIGIBLE. */
policy_outcome policy_classify(const policy_line_facts *facts, char **reason);

typedef enum {
	POLICY_RULE_STANDARD,
	POLICY_RULE_POVERTY,
} policy_rule;

const char *policy_rule_name(policy_rule r); /* "standard" / "poverty" */

typedef struct {
	int64_t amount_fen;
	int32_t rate_bp;
	policy_rule rule;
	gboolean capped; /* the cap cut the amount */
} policy_entitlement;

/* An order's entitlement: its summed eligible fee, whether the shop's owner household is a
 * registered poverty household on the order date, and the version in force then. */
gboolean policy_entitle(const policy_version *p, int64_t fee_fen, gboolean poverty, policy_entitlement *out,
			GError **error);

void policy_version_clear(policy_version *p);

#endif
