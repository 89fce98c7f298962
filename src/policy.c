/* policy.c: the subsidy rules of POLICY.md as pure functions; see policy.h. Every parameter comes
 * from a policy_version (data), never from a constant here. */
#include "policy.h"

#include "status.h"

#include <inttypes.h>
#include <string.h>

G_DEFINE_QUARK(subsidy-policy-error-quark, policy_error)

/* Spelled exactly so in --json output, `subsidy why` and the database: part of the contract. */
static const char *const policy_outcome_names[] = {
	[OUTCOME_ELIGIBLE] = "ELIGIBLE",
	[OUTCOME_DUPLICATE] = "DUPLICATE",
	[OUTCOME_CONFLICT] = "CONFLICT",
	[OUTCOME_REJECTED] = "REJECTED",
	[OUTCOME_UNREGISTERED_SHOP] = "UNREGISTERED_SHOP",
	[OUTCOME_AMBIGUOUS_SHOP] = "AMBIGUOUS_SHOP",
	[OUTCOME_NOT_REGISTERED_ON_DATE] = "NOT_REGISTERED_ON_DATE",
	[OUTCOME_OUTSIDE_POLICY_PERIOD] = "OUTSIDE_POLICY_PERIOD",
	[OUTCOME_NOT_IN_CAMPAIGN] = "NOT_IN_CAMPAIGN",
	[OUTCOME_INELIGIBLE_PRODUCT] = "INELIGIBLE_PRODUCT",
};
G_STATIC_ASSERT(G_N_ELEMENTS(policy_outcome_names) == OUTCOME_COUNT);

static const char *const policy_rule_names[] = {
	[POLICY_RULE_STANDARD] = "standard",
	[POLICY_RULE_POVERTY] = "poverty",
};

const char *policy_outcome_name(policy_outcome o)
{
	g_assert((unsigned)o < OUTCOME_COUNT);
	return policy_outcome_names[o];
}

gboolean policy_outcome_parse(const char *name, policy_outcome *out)
{
	g_return_val_if_fail(out != NULL, FALSE);
	if (name == NULL)
		return FALSE;
	for (int o = 0; o < OUTCOME_COUNT; o++) {
		if (strcmp(name, policy_outcome_names[o]) == 0) {
			*out = (policy_outcome)o;
			return TRUE;
		}
	}
	return FALSE;
}

/* A switch without default: a new outcome does not compile (-Wswitch) until it is placed here. */
gboolean policy_outcome_is_classified(policy_outcome o)
{
	switch (o) {
	case OUTCOME_ELIGIBLE:
	case OUTCOME_UNREGISTERED_SHOP:
	case OUTCOME_AMBIGUOUS_SHOP:
	case OUTCOME_NOT_REGISTERED_ON_DATE:
	case OUTCOME_OUTSIDE_POLICY_PERIOD:
	case OUTCOME_NOT_IN_CAMPAIGN:
	case OUTCOME_INELIGIBLE_PRODUCT:
		return TRUE;
	case OUTCOME_REJECTED:
	case OUTCOME_DUPLICATE:
	case OUTCOME_CONFLICT:
		return FALSE;
	case OUTCOME_COUNT:
		break;
	}
	g_assert_not_reached();
}

gboolean policy_outcome_is_ineligible(policy_outcome o)
{
	return o != OUTCOME_ELIGIBLE && policy_outcome_is_classified(o);
}

char *policy_outcomes_sql(gboolean (*pick)(policy_outcome o))
{
	GString *sql = g_string_new(NULL);
	for (int o = 0; o < OUTCOME_COUNT; o++) {
		if (pick != NULL && !pick((policy_outcome)o))
			continue;
		/* The names are upper-case letters and underscores: quoted as they are. */
		g_string_append_printf(sql, "%s'%s'", sql->len > 0 ? ", " : "", policy_outcome_names[o]);
	}
	g_assert(sql->len > 0); /* an empty IN () is an SQL syntax error */
	return g_string_free(sql, FALSE);
}

/* Inclusive [from, to], to == POLICY_OPEN_END being open (INT32_MAX holds every real day). */
static gboolean day_within(chrono_day day, chrono_day from, chrono_day to)
{
	return from <= day && day <= to;
}

const policy_version *policy_in_force(const policy_version *versions, size_t n, chrono_day day)
{
	g_return_val_if_fail(versions != NULL || n == 0, NULL);
	const policy_version *found = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!day_within(day, versions[i].valid_from, versions[i].valid_to))
			continue;
		g_assert(found == NULL); /* versions never overlap: the registry refuses them */
		found = &versions[i];
	}
	return found;
}

gboolean policy_overlap(const policy_version *a, const policy_version *b)
{
	g_assert(a != NULL && b != NULL);
	g_assert(a->valid_from <= a->valid_to && b->valid_from <= b->valid_to);
	return a->valid_from <= b->valid_to && b->valid_from <= a->valid_to;
}

/* The registration's date range as text: "2018-07-01 to 2018-12-31", or "from 2018-07-01". */
static char *registration_text(chrono_day from, chrono_day to)
{
	char from_text[CHRONO_DAY_TEXT_MAX], to_text[CHRONO_DAY_TEXT_MAX];
	chrono_format_day(from, from_text);
	if (to == POLICY_OPEN_END)
		return g_strdup_printf("from %s", from_text);
	chrono_format_day(to, to_text);
	return g_strdup_printf("%s to %s", from_text, to_text);
}

static gboolean category_listed(const char *category, char *const *categories)
{
	for (char *const *c = categories; *c != NULL; c++)
		if (strcmp(*c, category) == 0)
			return TRUE;
	return FALSE;
}

/* Checks 3-7, in POLICY.md's order. Categories compare as exact UTF-8 strings: the manifest layer
 * trims fields, and the registry's list is the office's own spelling. */
policy_outcome policy_classify(const policy_line_facts *facts, char **reason)
{
	g_assert(facts != NULL);
	char day_text[CHRONO_DAY_TEXT_MAX], time_text[CHRONO_TIME_TEXT_MAX];
	chrono_day day = chrono_day_of(facts->pickup);
	chrono_format_day(day, day_text);
	chrono_format_time(facts->pickup, time_text);
	policy_outcome outcome = OUTCOME_ELIGIBLE;
	char *why = NULL;

	switch (facts->shop_match) {
	case POLICY_SHOP_UNREGISTERED:
		outcome = OUTCOME_UNREGISTERED_SHOP;
		why = g_strdup_printf("the sender matches no registered shop on %s", day_text);
		goto out;
	case POLICY_SHOP_AMBIGUOUS:
		outcome = OUTCOME_AMBIGUOUS_SHOP;
		why = g_strdup("the sender's phone is the phone of several registered shops");
		goto out;
	case POLICY_SHOP_FOUND:
		break;
	default:
		g_assert_not_reached();
	}

	if (!day_within(day, facts->registered_from, facts->registered_to)) {
		char *registered = registration_text(facts->registered_from, facts->registered_to);
		outcome = OUTCOME_NOT_REGISTERED_ON_DATE;
		why = g_strdup_printf("the shop is registered %s, not on the pickup day %s", registered,
				      day_text);
		g_free(registered);
		goto out;
	}

	const policy_version *p = facts->policy;
	if (p == NULL) {
		outcome = OUTCOME_OUTSIDE_POLICY_PERIOD;
		why = g_strdup_printf("pickup day %s is in no policy period", day_text);
		goto out;
	}
	g_assert(day_within(day, p->valid_from, p->valid_to)); /* the caller looked it up for this day */

	if (p->require_campaign && (facts->campaign_id == NULL || facts->campaign_id[0] == '\0')) {
		outcome = OUTCOME_NOT_IN_CAMPAIGN;
		why = g_strdup_printf("pickup %s is in no promotion window", time_text);
		goto out;
	}

	if (facts->category != NULL && facts->category[0] != '\0' && p->eligible_categories != NULL &&
	    p->eligible_categories[0] != NULL && !category_listed(facts->category, p->eligible_categories)) {
		outcome = OUTCOME_INELIGIBLE_PRODUCT;
		why = g_strdup_printf("category '%s' is not eligible under policy %s", facts->category,
				      p->policy_id != NULL ? p->policy_id : "(unnamed)");
		goto out;
	}

out:
	g_assert((outcome == OUTCOME_ELIGIBLE) == (why == NULL));
	g_assert(policy_outcome_is_classified(outcome)); /* what a reclassification looks at again */
	if (reason != NULL)
		*reason = why;
	else
		g_free(why);
	return outcome;
}

const char *policy_rule_name(policy_rule r)
{
	g_assert((size_t)r < G_N_ELEMENTS(policy_rule_names));
	return policy_rule_names[r];
}

/* round(fee * rate) in the version's rounding, then the cap (POLICY_NO_CAP: none). The fee is the
 * order's summed eligible fee, so fee_max (per waybill) does not apply here. A negative fee, or an
 * overflow (only for fees far beyond any fee_max), is a STATUS_SOFTWARE error from money. */
gboolean policy_entitle(const policy_version *p, int64_t fee_fen, gboolean poverty, policy_entitlement *out,
			GError **error)
{
	g_return_val_if_fail(p != NULL && out != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
	g_assert(p->standard_cap_fen >= 0 || p->standard_cap_fen == POLICY_NO_CAP);
	g_assert(p->poverty_cap_fen >= 0 || p->poverty_cap_fen == POLICY_NO_CAP);

	policy_rule rule = poverty ? POLICY_RULE_POVERTY : POLICY_RULE_STANDARD;
	int32_t rate_bp = poverty ? p->poverty_rate_bp : p->standard_rate_bp;
	int64_t cap_fen = poverty ? p->poverty_cap_fen : p->standard_cap_fen;
	int64_t amount_fen;
	if (!money_apply_rate(fee_fen, rate_bp, p->rounding, &amount_fen, error)) {
		g_prefix_error(error, "policy %s, %s rule: ",
			       p->policy_id != NULL ? p->policy_id : "(unnamed)", policy_rule_name(rule));
		return FALSE;
	}
	gboolean capped = cap_fen != POLICY_NO_CAP && amount_fen > cap_fen;
	if (capped)
		amount_fen = cap_fen;

	g_assert(amount_fen >= 0 && (cap_fen == POLICY_NO_CAP || amount_fen <= cap_fen));
	*out = (policy_entitlement){
		.amount_fen = amount_fen,
		.rate_bp = rate_bp,
		.rule = rule,
		.capped = capped,
	};
	return TRUE;
}

gboolean policy_fee_max_valid(int64_t fee_max_fen, GError **error)
{
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
	if (fee_max_fen >= 0 && fee_max_fen <= POLICY_FEE_MAX_LIMIT_FEN)
		return TRUE;
	char limit[MONEY_TEXT_MAX];
	g_set_error(error, POLICY_ERROR, STATUS_DATAERR, "is above the limit of %s yuan per waybill",
		    money_format(POLICY_FEE_MAX_LIMIT_FEN, limit));
	return FALSE;
}

void policy_version_clear(policy_version *p)
{
	if (p == NULL)
		return;
	g_free(p->policy_id);
	g_strfreev(p->eligible_categories);
	memset(p, 0, sizeof *p);
}
