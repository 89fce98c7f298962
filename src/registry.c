/* registry.c: snapshots of the registry's versions, and pure lookups in them; see registry.h. */
#include "registry.h"

#include "ident.h"
#include "status.h"

#include <string.h>

G_DEFINE_QUARK(subsidy-registry-error-quark, registry_error)

chrono_day registry_day(const char *text)
{
	if (!text)
		return POLICY_OPEN_END;
	chrono_day d;
	gboolean ok = chrono_parse_day(text, &d, NULL);
	g_assert(ok);
	return d;
}

typedef struct {
	chrono_day valid_from;
	chrono_day valid_to;
	const registry_shop *shop;
} sender_span;

typedef struct {
	chrono_day poor_from;
	chrono_day poor_to;
} household_span;

typedef struct {
	const char *campaign_id;
	chrono_time starts_at;
	chrono_time ends_at;
} campaign_window;

struct registry {
	GStringChunk *strings;
	registry_shop *shops;         /* sorted by shop_id */
	size_t n_shops;
	GHashTable *shop_by_id;       /* shop_id -> registry_shop * */
	GHashTable *shop_by_phone;    /* phone -> registry_shop *, or &phone_shared */
	GHashTable *senders;          /* courier -> (sender_code -> GArray of sender_span) */
	household_span *households;
	GHashTable *household_by_id;  /* household_id -> household_span * */
	policy_version *policies;     /* sorted by valid_from */
	size_t n_policies;
	campaign_window *campaigns;   /* sorted by campaign_id */
	size_t n_campaigns;
	registry_pool *pools;         /* sorted by priority, pool_id */
	size_t n_pools;
};

/* The mark of a phone that several shops have. */
static const registry_shop phone_shared;

void registry_free(registry *r)
{
	if (!r)
		return;
	g_free(r->shops);
	g_clear_pointer(&r->shop_by_id, g_hash_table_unref);
	g_clear_pointer(&r->shop_by_phone, g_hash_table_unref);
	g_clear_pointer(&r->senders, g_hash_table_unref);
	g_free(r->households);
	g_clear_pointer(&r->household_by_id, g_hash_table_unref);
	for (size_t i = 0; i < r->n_policies; i++)
		policy_version_clear(&r->policies[i]);
	g_free(r->policies);
	g_free(r->campaigns);
	g_free(r->pools);
	g_string_chunk_free(r->strings);
	g_free(r);
}

/* A value of a snapshot query, kept in the registry's strings; NULL stays NULL. */
static const char *snap_text(registry *r, const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : g_string_chunk_insert_const(r->strings, PQgetvalue(res, row, col));
}

static int snap_int(const PGresult *res, int row, int col)
{
	g_assert(!PQgetisnull(res, row, col));
	return atoi(PQgetvalue(res, row, col));
}

static int64_t snap_fen(const PGresult *res, int row, int col, int64_t null_value)
{
	return PQgetisnull(res, row, col) ? null_value : g_ascii_strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static chrono_day snap_day(const PGresult *res, int row, int col)
{
	return registry_day(PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col));
}

static chrono_time snap_time(const PGresult *res, int row, int col)
{
	chrono_time t;
	gboolean ok = chrono_parse_time(PQgetvalue(res, row, col), &t, NULL);
	g_assert(ok);
	return t;
}

/* Runs a snapshot query: select_list FROM table WHERE <the versions known then> ORDER BY order. */
static PGresult *snap_query(db *d, const char *as_of, const char *select_list, const char *table, const char *order,
			    GError **error)
{
	g_autofree char *sql = g_strdup_printf(
		"SELECT %s FROM %s WHERE programme = $1 AND %s ORDER BY %s", select_list, table,
		as_of ? "recorded_at <= $2::timestamptz AND coalesce(superseded_at, 'infinity') > $2::timestamptz"
		      : "superseded_at IS NULL",
		order);
	const char *params[] = { db_programme(d), as_of };
	return db_query(d, sql, as_of ? 2 : 1, params, error);
}

static gboolean snap_shops(registry *r, db *d, const char *as_of, GError **error)
{
	/* The auditor may not read owners' ID and bank numbers: they are NULL then. */
	g_autofree char *may = NULL;
	if (!db_scalar(d,
		       "SELECT has_column_privilege('shops', 'owner_id_no', 'SELECT')"
		       " AND has_column_privilege('shops', 'bank_account', 'SELECT')",
		       0, NULL, &may, error))
		return FALSE;
	gboolean secret = may && strcmp(may, "t") == 0;
	g_autofree char *cols = g_strdup_printf(
		"shop_id, version, shop_name, platform, owner_name, %s, phone, household_id, village, bank_name, %s,"
		" account_name, to_char(registered_from, 'YYYY-MM-DD'), to_char(registered_to, 'YYYY-MM-DD')",
		secret ? "owner_id_no" : "NULL::text", secret ? "bank_account" : "NULL::text");
	enum {
		SHOP_ID, SHOP_VERSION, SHOP_NAME, SHOP_PLATFORM, SHOP_OWNER_NAME, SHOP_OWNER_ID_NO, SHOP_PHONE,
		SHOP_HOUSEHOLD_ID, SHOP_VILLAGE, SHOP_BANK_NAME, SHOP_BANK_ACCOUNT, SHOP_ACCOUNT_NAME,
		SHOP_REGISTERED_FROM, SHOP_REGISTERED_TO, SHOP_COLUMNS
	};
	PGresult *res = snap_query(d, as_of, cols, "shops", "shop_id COLLATE \"C\"", error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == SHOP_COLUMNS);
	r->n_shops = (size_t)PQntuples(res);
	r->shops = g_new0(registry_shop, r->n_shops + 1);
	for (int i = 0; i < PQntuples(res); i++) {
		registry_shop *s = &r->shops[i];
		s->shop_id = snap_text(r, res, i, SHOP_ID);
		s->version = snap_int(res, i, SHOP_VERSION);
		s->shop_name = snap_text(r, res, i, SHOP_NAME);
		s->platform = snap_text(r, res, i, SHOP_PLATFORM);
		s->owner_name = snap_text(r, res, i, SHOP_OWNER_NAME);
		s->owner_id_no = snap_text(r, res, i, SHOP_OWNER_ID_NO);
		s->phone = snap_text(r, res, i, SHOP_PHONE);
		s->household_id = snap_text(r, res, i, SHOP_HOUSEHOLD_ID);
		s->village = snap_text(r, res, i, SHOP_VILLAGE);
		s->bank_name = snap_text(r, res, i, SHOP_BANK_NAME);
		s->bank_account = snap_text(r, res, i, SHOP_BANK_ACCOUNT);
		s->account_name = snap_text(r, res, i, SHOP_ACCOUNT_NAME);
		s->registered_from = snap_day(res, i, SHOP_REGISTERED_FROM);
		s->registered_to = snap_day(res, i, SHOP_REGISTERED_TO);
		g_assert(s->version >= 1 && s->registered_from <= s->registered_to); /* the table's CHECKs */
		g_hash_table_insert(r->shop_by_id, (gpointer)s->shop_id, s);
		char phone[IDENT_PHONE_DIGITS_MAX + 1];
		if (!ident_phone_digits(s->phone, phone, sizeof phone) || phone[0] == '\0')
			continue;
		const char *key = g_string_chunk_insert_const(r->strings, phone);
		gboolean seen = g_hash_table_contains(r->shop_by_phone, key);
		g_hash_table_insert(r->shop_by_phone, (gpointer)key, seen ? (gpointer)&phone_shared : (gpointer)s);
	}
	PQclear(res);
	return TRUE;
}

static gboolean snap_senders(registry *r, db *d, const char *as_of, GError **error)
{
	enum { SENDER_COURIER, SENDER_CODE, SENDER_SHOP_ID, SENDER_VALID_FROM, SENDER_VALID_TO, SENDER_COLUMNS };
	PGresult *res = snap_query(d, as_of,
				   "courier, sender_code, shop_id, to_char(valid_from, 'YYYY-MM-DD'),"
				   " to_char(valid_to, 'YYYY-MM-DD')",
				   "senders", "courier, sender_code, valid_from, shop_id COLLATE \"C\"", error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == SENDER_COLUMNS);
	for (int i = 0; i < PQntuples(res); i++) {
		const registry_shop *shop = registry_shop_by_id(r, PQgetvalue(res, i, SENDER_SHOP_ID));
		if (!shop)
			continue; /* the loader refuses this; a hand-made row cannot match */
		/* Rows are stored as the loader folds them; a row stored before it folded as lines do
		 * (ｙｔｏ, 圆通) still names its courier's code. */
		g_autofree char *folded = ident_courier_code(PQgetvalue(res, i, SENDER_COURIER), NULL);
		g_assert(folded != NULL); /* the database's text is UTF-8 */
		const char *courier = g_string_chunk_insert_const(r->strings, folded),
			   *code = snap_text(r, res, i, SENDER_CODE);
		GHashTable *codes = g_hash_table_lookup(r->senders, courier);
		if (!codes) {
			codes = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_array_unref);
			g_hash_table_insert(r->senders, (gpointer)courier, codes);
		}
		GArray *spans = g_hash_table_lookup(codes, code);
		if (!spans) {
			spans = g_array_new(FALSE, FALSE, sizeof(sender_span));
			g_hash_table_insert(codes, (gpointer)code, spans);
		}
		sender_span s = { snap_day(res, i, SENDER_VALID_FROM), snap_day(res, i, SENDER_VALID_TO), shop };
		g_assert(s.valid_from <= s.valid_to); /* the table's CHECK */
		g_array_append_val(spans, s);
	}
	PQclear(res);
	return TRUE;
}

static gboolean snap_households(registry *r, db *d, const char *as_of, GError **error)
{
	enum { HOUSEHOLD_ID, HOUSEHOLD_POOR_FROM, HOUSEHOLD_POOR_TO, HOUSEHOLD_COLUMNS };
	PGresult *res = snap_query(d, as_of,
				   "household_id, to_char(poor_from, 'YYYY-MM-DD'), to_char(poor_to, 'YYYY-MM-DD')",
				   "households", "household_id COLLATE \"C\"", error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == HOUSEHOLD_COLUMNS);
	r->households = g_new0(household_span, PQntuples(res) + 1);
	for (int i = 0; i < PQntuples(res); i++) {
		household_span *h = &r->households[i];
		h->poor_from = snap_day(res, i, HOUSEHOLD_POOR_FROM);
		h->poor_to = snap_day(res, i, HOUSEHOLD_POOR_TO);
		g_assert(h->poor_from <= h->poor_to); /* the table's CHECK */
		g_hash_table_insert(r->household_by_id, (gpointer)snap_text(r, res, i, HOUSEHOLD_ID), h);
	}
	PQclear(res);
	return TRUE;
}

static gboolean snap_policies(registry *r, db *d, const char *as_of, GError **error)
{
	enum {
		POLICY_COL_ID, POLICY_COL_VERSION, POLICY_COL_VALID_FROM, POLICY_COL_VALID_TO,
		POLICY_COL_STANDARD_RATE, POLICY_COL_STANDARD_CAP, POLICY_COL_POVERTY_RATE, POLICY_COL_POVERTY_CAP,
		POLICY_COL_ROUNDING, POLICY_COL_REQUIRE_CAMPAIGN, POLICY_COL_CATEGORIES, POLICY_COL_FEE_MAX,
		POLICY_COL_COLUMNS
	};
	PGresult *res = snap_query(d, as_of,
				   "policy_id, version, to_char(valid_from, 'YYYY-MM-DD'),"
				   " to_char(valid_to, 'YYYY-MM-DD'),"
				   " standard_rate_bp, standard_cap_fen, poverty_rate_bp, poverty_cap_fen, rounding,"
				   " require_campaign, array_to_string(eligible_categories, ';'), fee_max_fen",
				   "policies", "valid_from, policy_id COLLATE \"C\"", error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == POLICY_COL_COLUMNS);
	r->n_policies = (size_t)PQntuples(res);
	r->policies = g_new0(policy_version, r->n_policies + 1);
	for (int i = 0; i < PQntuples(res); i++) {
		policy_version *p = &r->policies[i];
		p->policy_id = g_strdup(PQgetvalue(res, i, POLICY_COL_ID));
		p->version = snap_int(res, i, POLICY_COL_VERSION);
		p->valid_from = snap_day(res, i, POLICY_COL_VALID_FROM);
		p->valid_to = snap_day(res, i, POLICY_COL_VALID_TO);
		p->standard_rate_bp = snap_int(res, i, POLICY_COL_STANDARD_RATE);
		p->standard_cap_fen = snap_fen(res, i, POLICY_COL_STANDARD_CAP, POLICY_NO_CAP);
		p->poverty_rate_bp = snap_int(res, i, POLICY_COL_POVERTY_RATE);
		p->poverty_cap_fen = snap_fen(res, i, POLICY_COL_POVERTY_CAP, POLICY_NO_CAP);
		gboolean known = money_rounding_parse(PQgetvalue(res, i, POLICY_COL_ROUNDING), &p->rounding);
		g_assert(known); /* the table's CHECK */
		p->require_campaign = strcmp(PQgetvalue(res, i, POLICY_COL_REQUIRE_CAMPAIGN), "t") == 0;
		const char *cats = PQgetvalue(res, i, POLICY_COL_CATEGORIES);
		p->eligible_categories = *cats ? g_strsplit(cats, ";", -1) : NULL;
		p->fee_max_fen = snap_fen(res, i, POLICY_COL_FEE_MAX, POLICY_FEE_MAX_DEFAULT_FEN);
		g_assert(p->version >= 1 && p->valid_from <= p->valid_to); /* the table's CHECKs */
	}
	PQclear(res);
	return TRUE;
}

static gboolean snap_campaigns(registry *r, db *d, const char *as_of, GError **error)
{
	enum { CAMPAIGN_ID, CAMPAIGN_STARTS_AT, CAMPAIGN_ENDS_AT, CAMPAIGN_COLUMNS };
	PGresult *res = snap_query(d, as_of,
				   "campaign_id, to_char(starts_at, 'YYYY-MM-DD HH24:MI:SS'),"
				   " to_char(ends_at, 'YYYY-MM-DD HH24:MI:SS')",
				   "campaigns", "campaign_id COLLATE \"C\"", error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == CAMPAIGN_COLUMNS);
	r->n_campaigns = (size_t)PQntuples(res);
	r->campaigns = g_new0(campaign_window, r->n_campaigns + 1);
	for (int i = 0; i < PQntuples(res); i++) {
		campaign_window *c = &r->campaigns[i];
		c->campaign_id = snap_text(r, res, i, CAMPAIGN_ID);
		c->starts_at = snap_time(res, i, CAMPAIGN_STARTS_AT);
		c->ends_at = snap_time(res, i, CAMPAIGN_ENDS_AT);
		g_assert(c->starts_at < c->ends_at); /* the table's CHECK */
	}
	PQclear(res);
	return TRUE;
}

static gboolean snap_pools(registry *r, db *d, const char *as_of, GError **error)
{
	enum {
		POOL_ID, POOL_VERSION, POOL_NAME, POOL_AMOUNT, POOL_VALID_FROM, POOL_VALID_TO, POOL_PRIORITY,
		POOL_COLUMNS
	};
	PGresult *res = snap_query(d, as_of,
				   "pool_id, version, name, amount_fen, to_char(valid_from, 'YYYY-MM-DD'),"
				   " to_char(valid_to, 'YYYY-MM-DD'), priority",
				   "pools", "priority, pool_id COLLATE \"C\"", error);
	if (!res)
		return FALSE;
	g_assert(PQnfields(res) == POOL_COLUMNS);
	r->n_pools = (size_t)PQntuples(res);
	r->pools = g_new0(registry_pool, r->n_pools + 1);
	for (int i = 0; i < PQntuples(res); i++) {
		registry_pool *p = &r->pools[i];
		p->pool_id = snap_text(r, res, i, POOL_ID);
		p->version = snap_int(res, i, POOL_VERSION);
		p->name = snap_text(r, res, i, POOL_NAME);
		p->amount_fen = snap_fen(res, i, POOL_AMOUNT, 0);
		p->valid_from = snap_day(res, i, POOL_VALID_FROM);
		p->valid_to = snap_day(res, i, POOL_VALID_TO);
		p->priority = snap_int(res, i, POOL_PRIORITY);
		/* The table's CHECKs. */
		g_assert(p->version >= 1 && p->amount_fen >= 0 && p->valid_from <= p->valid_to);
	}
	PQclear(res);
	return TRUE;
}

registry *registry_snapshot(db *d, const char *as_of, GError **error)
{
	g_return_val_if_fail(d != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);
	registry *r = g_new0(registry, 1);
	r->strings = g_string_chunk_new(4096);
	r->shop_by_id = g_hash_table_new(g_str_hash, g_str_equal);
	r->shop_by_phone = g_hash_table_new(g_str_hash, g_str_equal);
	r->senders = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_hash_table_unref);
	r->household_by_id = g_hash_table_new(g_str_hash, g_str_equal);

	/* One consistent view: its own read-only transaction, unless the caller is in one already. */
	gboolean own = PQtransactionStatus(db_conn(d)) == PQTRANS_IDLE;
	if (own && !db_begin_read(d, error))
		goto fail;
	if (!(snap_shops(r, d, as_of, error) && snap_senders(r, d, as_of, error) &&
	      snap_households(r, d, as_of, error) && snap_policies(r, d, as_of, error) &&
	      snap_campaigns(r, d, as_of, error) && snap_pools(r, d, as_of, error)))
		goto fail;
	if (own && !db_commit(d, error))
		goto fail;
	return r;
fail:
	if (own)
		db_rollback(d);
	registry_free(r);
	return NULL;
}

policy_shop_match registry_find_shop(const registry *r, const char *courier, const char *sender_code,
				     const char *sender_phone, chrono_day day, const registry_shop **shop)
{
	g_assert(r != NULL && shop != NULL);
	*shop = NULL;
	if (courier && sender_code && *sender_code) {
		GHashTable *codes = g_hash_table_lookup(r->senders, courier);
		GArray *spans = codes ? g_hash_table_lookup(codes, sender_code) : NULL;
		for (guint i = 0; spans && i < spans->len; i++) {
			const sender_span *s = &g_array_index(spans, sender_span, i);
			if (s->valid_from <= day && day <= s->valid_to) {
				*shop = s->shop;
				return POLICY_SHOP_FOUND;
			}
		}
	}
	char phone[IDENT_PHONE_DIGITS_MAX + 1];
	if (sender_phone && ident_phone_digits(sender_phone, phone, sizeof phone) && phone[0]) {
		const registry_shop *s = g_hash_table_lookup(r->shop_by_phone, phone);
		if (s == &phone_shared)
			return POLICY_SHOP_AMBIGUOUS;
		if (s) {
			*shop = s;
			return POLICY_SHOP_FOUND;
		}
	}
	return POLICY_SHOP_UNREGISTERED;
}

const registry_shop *registry_shop_by_id(const registry *r, const char *shop_id)
{
	g_assert(r != NULL);
	return shop_id ? g_hash_table_lookup(r->shop_by_id, shop_id) : NULL;
}

const registry_shop *registry_shops(const registry *r, size_t *n)
{
	g_assert(r != NULL && n != NULL);
	*n = r->n_shops;
	return r->shops;
}

const policy_version *registry_policy_on(const registry *r, chrono_day day)
{
	g_assert(r != NULL);
	return policy_in_force(r->policies, r->n_policies, day);
}

const policy_version *registry_policies(const registry *r, size_t *n)
{
	g_assert(r != NULL && n != NULL);
	*n = r->n_policies;
	return r->policies;
}

const char *registry_campaign_at(const registry *r, chrono_time t)
{
	g_assert(r != NULL);
	/* Sorted by campaign_id: the first window that holds t is the answer. */
	for (size_t i = 0; i < r->n_campaigns; i++)
		if (r->campaigns[i].starts_at <= t && t < r->campaigns[i].ends_at)
			return r->campaigns[i].campaign_id;
	return NULL;
}

gboolean registry_is_poor(const registry *r, const registry_shop *shop, chrono_day day)
{
	g_assert(r != NULL && shop != NULL);
	if (!shop->household_id)
		return FALSE;
	const household_span *h = g_hash_table_lookup(r->household_by_id, shop->household_id);
	return h && h->poor_from <= day && day <= h->poor_to;
}

const registry_pool *registry_pools(const registry *r, size_t *n)
{
	g_assert(r != NULL && n != NULL);
	*n = r->n_pools;
	return r->pools;
}
