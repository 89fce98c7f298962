/* registry.h: the programme's reference data (policies, shops, senders, households, campaigns,
 * budget pools), versioned in the database, and the in-memory snapshot the other modules read.
 *
 * Loading files into versions is registry_load.h.
 *
 * A snapshot is the registry as known at one instant, in memory, with pure lookups (no I/O after
 * it is made): ingest matches a million lines against it, settle and replay read rates, poverty
 * status and pools from it. */
#ifndef SUBSIDY_REGISTRY_H
#define SUBSIDY_REGISTRY_H

#include "chrono.h"
#include "db.h"
#include "policy.h"

#include <glib.h>
#include <stdint.h>

#define REGISTRY_ERROR registry_error_quark()
GQuark registry_error_quark(void);

/* A registry date as the database prints it (YYYY-MM-DD) as a day; NULL (an empty end date) is
 * POLICY_OPEN_END. The text must be such a date. */
chrono_day registry_day(const char *text);

typedef struct registry registry;

/* A shop as registered (one `shops` version). Dates are China days, inclusive. */
typedef struct {
	const char *shop_id;
	int version;
	const char *shop_name;
	const char *platform;
	const char *owner_name;
	const char *owner_id_no;  /* NULL when the database role may not read it (the auditor) */
	const char *phone;
	const char *household_id; /* NULL: none */
	const char *village;
	const char *bank_name;
	const char *bank_account; /* NULL when the database role may not read it (the auditor) */
	const char *account_name;
	chrono_day registered_from;
	chrono_day registered_to; /* POLICY_OPEN_END: open */
} registry_shop;

/* A budget pool (one `pools` version). */
typedef struct {
	const char *pool_id;
	int version;
	const char *name;
	int64_t amount_fen;
	chrono_day valid_from;
	chrono_day valid_to; /* POLICY_OPEN_END: open */
	int priority;        /* lowest first */
} registry_pool;

/* Reads every registry version of db_programme(d) known at as_of (NULL: the current versions;
 * else a timestamptz text, e.g. "2018-06-18 12:00:00+08": the versions with
 * recorded_at <= as_of < superseded_at) into memory, consistently (one snapshot of the
 * database). Works under the auditor role (ID and bank numbers are then NULL). Free with
 * registry_free. */
registry *registry_snapshot(db *d, const char *as_of, GError **error);
void registry_free(registry *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(registry, registry_free)

/* POLICY.md check 3: the shop of a line. (courier, sender_code) names a shop through a senders
 * row valid on day; failing that, the normalised sender_phone equals the phone of exactly one
 * shop, whatever its registration dates (several: POLICY_SHOP_AMBIGUOUS). courier is a code
 * (ident_courier_code: a line's stored courier is one; senders rows are keyed by theirs).
 * sender_code and sender_phone may be NULL or empty. *shop is set to the shop when found, else
 * NULL. */
policy_shop_match registry_find_shop(const registry *r, const char *courier, const char *sender_code,
				     const char *sender_phone, chrono_day day, const registry_shop **shop);

/* The shop with that id, or NULL. */
const registry_shop *registry_shop_by_id(const registry *r, const char *shop_id);

/* Every shop, sorted by shop_id bytewise; *n gets the count. */
const registry_shop *registry_shops(const registry *r, size_t *n);

/* The policy version in force on day, or NULL. */
const policy_version *registry_policy_on(const registry *r, chrono_day day);

/* Every policy version, sorted by valid_from; *n gets the count. */
const policy_version *registry_policies(const registry *r, size_t *n);

/* The campaign whose half-open [starts_at, ends_at) holds t (China time), or NULL; when several
 * do, the smallest campaign_id bytewise. */
const char *registry_campaign_at(const registry *r, chrono_time t);

/* TRUE when the shop's household is loaded and registered poor on day
 * (poor_from <= day <= poor_to, an empty poor_to being open). */
gboolean registry_is_poor(const registry *r, const registry_shop *shop, chrono_day day);

/* Every pool, sorted by priority then pool_id bytewise; *n gets the count. */
const registry_pool *registry_pools(const registry *r, size_t *n);

#endif
