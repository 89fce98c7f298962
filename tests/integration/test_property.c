/* test_property.c: settlement against an independent model, on random multi-night programmes.
 *
 * Each programme is drawn from a seed: shops (some of poverty households), two policy versions
 * split at a random day with random rates, caps and rounding, poverty spans that start and end
 * mid-year, budget pools that run out, and nights of random lines (orders spread over several
 * nights, lines without an order number, waybills sent again as they were or changed, in other
 * spellings). Between nights the registry is
 * reloaded at random: poverty spans moved, a household loaded late, a shop given a household,
 * the policy split moved with new rates, pools topped up or added. Some nights are quiet (a few
 * lines after a longer history, so that the settlement probes the orders it touches instead of
 * reading every line). Before a settlement, acts at random (CONTROL.md): a file withdrawn (its
 * lines stop counting, their waybills are released and a later line of one claims it anew), a
 * conflict resolved for the later statement, a range of days reclassified (which changes
 * nothing here: every line passes checks 3-7 under any of the registries drawn).
 *
 * After every settlement the test recomputes, from the lines it sent (the line of each waybill
 * that holds its claim: the first, or the one a resolution took, none after a withdrawal until a
 * later line claims it) and the registry as it loaded it (its own model, not the engine's code,
 * with its own arithmetic), what every order is entitled to, and checks the ledger: one line
 * counted per claimed waybill, none for a repeat; funded plus unfunded equals that entitlement for
 * every order; no pool below zero, and a pool's drawn amount is what its entries say; every
 * transaction's entries sum to zero; no order waits for money while a pool valid on its order
 * date has some left; `verify` is clean and `replay` as recorded finds no difference.
 *
 * SUBSIDY_PROPERTY_SEEDS=N runs N programmes (default 3, a few seconds); SUBSIDY_PROPERTY_SEED=S
 * runs the one programme S, to reproduce a failure. Every message names the seed and the night. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHOPS 6
#define NIGHTS 6
#define FILES_MAX (NIGHTS + 1)
#define ORDER_NOS 12 /* per shop: small, so orders gather parcels across nights */
#define HEADER "courier,waybill_no,order_no,pickup_time,sender_code,sender_phone,weight_kg,fee,category,destination\n"

/* Days are numbered from 2018-01-01 (0) to 2018-12-31 (364). */
#define YEAR_DAYS 365
#define OPEN_END 100000

typedef struct {
	int from, to; /* inclusive days; to OPEN_END: open */
	int standard_bp, poverty_bp;
	int64_t standard_cap; /* -1: none */
	int64_t poverty_cap;
	gboolean half_even;
} m_policy;

typedef struct {
	gboolean loaded;
	int poor_from, poor_to; /* to OPEN_END: open */
} m_household;

typedef struct {
	char id[8];
	int from, to;
	int priority;
	int64_t amount;
} m_pool;

typedef struct {
	guint32 seed;
	GRand *rand;
	const char *db;
	m_policy policy[2];          /* p1 [0, split), p2 [split, 364] */
	m_household household[SHOPS]; /* household H<i+1> */
	int shop_household[SHOPS];    /* -1: none */
	m_pool pools[4];
	int n_pools;
	int night;
	int64_t waybills;
	GPtrArray *sent;      /* m_line: every line that held a waybill's claim, in the order it took it */
	GHashTable *holders;  /* waybill -> the m_line of sent holding its claim now (none: released) */
	int64_t eligible_in;  /* lines ingested ELIGIBLE */
	int files;            /* files ingested, numbered from 1 as file_id */
	gboolean withdrawn[FILES_MAX + 1];
} model;

/* A line as the test sent it. */
typedef struct {
	int shop;
	char order_no[16];
	char waybill[32];
	char day_text[11];
	char time_text[9];
	int day;
	int64_t fee;
	int file;        /* file_id */
	gboolean counts; /* holds its waybill's claim */
} m_line;

static void day_text(int day, char out[11])
{
	GDate *d = g_date_new_dmy(1, G_DATE_JANUARY, 2018);
	if (day >= 0)
		g_date_add_days(d, (guint)day);
	else
		g_date_subtract_days(d, (guint)-day);
	g_snprintf(out, 11, "%04d-%02d-%02d", g_date_get_year(d), g_date_get_month(d), g_date_get_day(d));
	g_date_free(d);
}

static void money(int64_t fen, char out[32])
{
	g_snprintf(out, 32, "%" G_GINT64_FORMAT ".%02d", fen / 100, (int)(fen % 100));
}

static int rnd(model *m, int lo, int hi) /* inclusive */
{
	return g_rand_int_range(m->rand, lo, hi + 1);
}

static void load(model *m, const char *kind, const char *text)
{
	g_autofree char *name = g_strdup_printf("%s-%u-%d.csv", kind, m->seed, m->night);
	g_autofree char *path = h_write(h_tmpdir(), name, text, -1);
	h_result r = h_run(m->db, "registry", "load", kind, path, NULL);
	cr_assert(r.status == 0, "seed %u night %d: registry load %s: exit %d\n%s\n%s%s", m->seed, m->night, kind,
		  r.status, text, r.out, r.err);
	h_result_clear(&r);
}

/* ----------------------------------------------------------------------------------------- */
/* The registry, drawn and written as files */

static void draw_policies(model *m)
{
	int split = rnd(m, 60, 300);
	static const int standard[] = { 5000, 4000, 6000, 5000 };
	static const int poverty[] = { 8000, 7000, 8000, 9000 };
	static const int64_t caps[] = { 1000, 800, 1000, -1 };
	for (int i = 0; i < 2; i++) {
		m_policy *p = &m->policy[i];
		p->from = i == 0 ? -3000 : split; /* p1 from 2010, long before any pickup */
		p->to = i == 0 ? split - 1 : YEAR_DAYS - 1;
		p->standard_bp = standard[rnd(m, 0, 3)];
		p->poverty_bp = poverty[rnd(m, 0, 3)];
		p->standard_cap = caps[rnd(m, 0, 3)];
		p->poverty_cap = rnd(m, 0, 3) == 0 ? 2000 : -1;
		p->half_even = rnd(m, 0, 1);
	}
	GString *csv = g_string_new("policy_id,valid_from,valid_to,standard_rate_bp,standard_cap,poverty_rate_bp,"
				    "poverty_cap,rounding,require_campaign,eligible_categories,fee_max\n");
	for (int i = 0; i < 2; i++) {
		const m_policy *p = &m->policy[i];
		char from[11], to[11], scap[32] = "", pcap[32] = "";
		if (i == 0)
			g_strlcpy(from, "2010-01-01", sizeof from);
		else
			day_text(p->from, from);
		day_text(p->to, to);
		if (p->standard_cap >= 0)
			money(p->standard_cap, scap);
		if (p->poverty_cap >= 0)
			money(p->poverty_cap, pcap);
		g_string_append_printf(csv, "p%d,%s,%s,%d,%s,%d,%s,%s,false,,2000.00\n", i + 1, from, to, p->standard_bp, scap,
				       p->poverty_bp, pcap, p->half_even ? "half_even" : "half_up");
	}
	load(m, "policies", csv->str);
	g_string_free(csv, TRUE);
}

static void draw_households(model *m, gboolean first)
{
	GString *csv = g_string_new("household_id,head_name,village,poor_from,poor_to\n");
	for (int i = 0; i < SHOPS; i++) {
		m_household *h = &m->household[i];
		/* A household may be loaded late; once loaded it stays (absent rows are left alone). */
		if (!h->loaded && rnd(m, 0, first ? 3 : 1) == 0)
			continue;
		if (h->loaded && rnd(m, 0, 1) == 0) {
			/* unchanged: written again as it is */
		} else {
			h->poor_from = rnd(m, -400, 250);
			h->poor_to = rnd(m, 0, 2) == 0 ? OPEN_END : h->poor_from + rnd(m, 0, 300);
		}
		h->loaded = TRUE;
		char from[11], to[11] = "";
		day_text(h->poor_from, from);
		if (h->poor_to != OPEN_END)
			day_text(h->poor_to, to);
		g_string_append_printf(csv, "H%d,户主%d,村%d,%s,%s\n", i + 1, i + 1, i % 3, from, to);
	}
	load(m, "households", csv->str);
	g_string_free(csv, TRUE);
}

/* Valid mainland ID numbers (GB 11643 check digit), one per shop. */
static void id_number(int i, char out[19])
{
	static const int weights[] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 };
	static const char check[] = "10X98765432";
	g_snprintf(out, 19, "46902519800101%03d", 10 + i);
	int sum = 0;
	for (int k = 0; k < 17; k++)
		sum += (out[k] - '0') * weights[k];
	out[17] = check[sum % 11];
	out[18] = '\0';
}

static void write_shops(model *m)
{
	GString *csv = g_string_new("shop_id,shop_name,platform,owner_name,owner_id_no,phone,household_id,village,"
				    "bank_name,bank_account,account_name,registered_from,registered_to\n");
	for (int i = 0; i < SHOPS; i++) {
		char id[19], household[8] = "";
		id_number(i, id);
		if (m->shop_household[i] >= 0)
			g_snprintf(household, sizeof household, "H%d", m->shop_household[i] + 1);
		g_string_append_printf(csv, "S%d,店%d,淘宝,店主%d,%s,1380000%04d,%s,村%d,农信,62210000%08d,店主%d,2016-01-01,\n",
				       i + 1, i + 1, i + 1, id, i + 1, household, i % 3, i + 1, i + 1);
	}
	h_result r = { 0 };
	g_autofree char *name = g_strdup_printf("shops-%u-%d.csv", m->seed, m->night);
	g_autofree char *path = h_write(h_tmpdir(), name, csv->str, -1);
	r = h_run(m->db, "registry", "load", "shops", path, NULL);
	/* A household not loaded yet is a warning, not a failure. */
	cr_assert(r.status == 0 || r.status == 1, "seed %u: shops: exit %d %s", m->seed, r.status, r.err);
	h_result_clear(&r);
	g_string_free(csv, TRUE);
}

static void write_pools(model *m)
{
	GString *csv = g_string_new("pool_id,name,amount,valid_from,valid_to,priority\n");
	for (int i = 0; i < m->n_pools; i++) {
		const m_pool *p = &m->pools[i];
		char from[11], to[11], amount[32];
		day_text(p->from, from);
		day_text(p->to, to);
		money(p->amount, amount);
		g_string_append_printf(csv, "%s,池%d,%s,%s,%s,%d\n", p->id, i, amount, from, to, p->priority);
	}
	load(m, "budgets", csv->str);
	g_string_free(csv, TRUE);
}

static void add_pool(model *m)
{
	cr_assert(m->n_pools < (int)G_N_ELEMENTS(m->pools));
	m_pool *p = &m->pools[m->n_pools];
	g_snprintf(p->id, sizeof p->id, "P%d", m->n_pools + 1);
	p->from = rnd(m, 0, 1) ? 0 : rnd(m, 0, 200);
	p->to = rnd(m, 0, 1) ? YEAR_DAYS - 1 : rnd(m, p->from, YEAR_DAYS - 1);
	p->priority = rnd(m, 1, 3);
	/* Small, and topped up one night in four: nights with every pool empty are common, so that
	 * money a reversal gives back must reach the waiting orders in the same settlement. */
	p->amount = rnd(m, 0, 15000);
	m->n_pools++;
}

static void setup_registry(model *m)
{
	for (int i = 0; i < SHOPS; i++)
		m->shop_household[i] = i < SHOPS / 2 ? i : -1;
	draw_households(m, TRUE);
	write_shops(m);
	GString *senders = g_string_new("shop_id,courier,sender_code,valid_from,valid_to\n");
	for (int i = 0; i < SHOPS; i++)
		g_string_append_printf(senders, "S%d,EMS,C%d,2016-01-01,\n", i + 1, i + 1);
	load(m, "senders", senders->str);
	g_string_free(senders, TRUE);
	draw_policies(m);
	add_pool(m);
	add_pool(m);
	write_pools(m);
}

/* Between nights: some registry corrections, at random. */
static void correct_registry(model *m)
{
	if (rnd(m, 0, 1))
		draw_households(m, FALSE);
	if (rnd(m, 0, 3) == 0) {
		int shop = rnd(m, SHOPS / 2, SHOPS - 1);
		m->shop_household[shop] = shop; /* H<shop+1>, maybe not loaded yet */
		write_shops(m);
	}
	if (rnd(m, 0, 2) == 0)
		draw_policies(m);
	if (rnd(m, 0, 3) == 0) {
		for (int i = 0; i < m->n_pools; i++)
			m->pools[i].amount += rnd(m, 0, 1) ? rnd(m, 0, 20000) : 0;
		if (m->n_pools < (int)G_N_ELEMENTS(m->pools) && rnd(m, 0, 1))
			add_pool(m);
		write_pools(m);
	}
}

/* ----------------------------------------------------------------------------------------- */
/* Nights of lines */

static void append_line(GString *csv, const char *waybill, const m_line *l, int64_t fee)
{
	char fee_text[32];
	money(fee, fee_text);
	g_string_append_printf(csv, "EMS,%s,%s,%s %s,C%d,,1,%s,,\n", waybill, l->order_no, l->day_text, l->time_text,
			       l->shop + 1, fee_text);
}

/* A night's file: new lines, and now and then a waybill sent before, again as it was
 * (DUPLICATE) or with another fee (CONFLICT), in another spelling (lower case, full-width
 * digits, a zero-width space): neither may change what is paid. */
static void ingest_night(model *m)
{
	GString *csv = g_string_new(HEADER);
	int file = m->files + 1;
	cr_assert(file <= FILES_MAX);
	int n = rnd(m, 0, 2) == 0 ? rnd(m, 1, 3) : rnd(m, 10, 40);
	for (int i = 0; i < n; i++) {
		if (m->sent->len > 0 && rnd(m, 0, 9) == 0) {
			const m_line *old = g_ptr_array_index(m->sent, rnd(m, 0, (int)m->sent->len - 1));
			g_autofree char *spelled = NULL;
			switch (rnd(m, 0, 3)) {
			case 0: spelled = g_strdup(old->waybill); break;
			case 1: spelled = g_ascii_strdown(old->waybill, -1); break;
			case 2: spelled = g_strconcat(old->waybill, "\u200b", NULL); break;
			default: { /* the digits in full width */
				GString *w = g_string_new(NULL);
				for (const char *c = old->waybill; *c; c++)
					if (g_ascii_isdigit(*c))
						g_string_append_unichar(w, 0xFF10 + (gunichar)(*c - '0'));
					else
						g_string_append_c(w, *c);
				spelled = g_string_free(w, FALSE);
			}
			}
			int64_t fee = rnd(m, 0, 1) ? old->fee : old->fee + 1;
			append_line(csv, spelled, old, fee);
			if (!g_hash_table_contains(m->holders, old->waybill)) {
				/* Released by a withdrawal: this line claims the waybill anew. */
				m_line *l = g_memdup2(old, sizeof *old);
				l->fee = fee;
				l->file = file;
				l->counts = TRUE;
				g_hash_table_insert(m->holders, l->waybill, l);
				g_ptr_array_add(m->sent, l);
				m->eligible_in++;
			}
			continue;
		}
		m_line *l = g_new0(m_line, 1);
		l->shop = rnd(m, 0, SHOPS - 1);
		if (rnd(m, 0, 4) > 0)
			g_snprintf(l->order_no, sizeof l->order_no, "O%d", rnd(m, 1, ORDER_NOS));
		l->day = rnd(m, 0, YEAR_DAYS - 1);
		day_text(l->day, l->day_text);
		g_snprintf(l->time_text, sizeof l->time_text, "%02d:%02d:%02d", rnd(m, 0, 23), rnd(m, 0, 59), rnd(m, 0, 59));
		l->fee = rnd(m, 0, 9) == 0 ? 0 : rnd(m, 1, 4500);
		g_snprintf(l->waybill, sizeof l->waybill, "W%u-%" G_GINT64_FORMAT, m->seed, ++m->waybills);
		l->file = file;
		l->counts = TRUE;
		append_line(csv, l->waybill, l, l->fee);
		g_hash_table_insert(m->holders, l->waybill, l);
		g_ptr_array_add(m->sent, l);
		m->eligible_in++;
	}
	g_autofree char *name = g_strdup_printf("night-%u-%d.csv", m->seed, m->night);
	g_autofree char *path = h_write(h_tmpdir(), name, csv->str, -1);
	h_result r = h_run(m->db, "ingest", path, NULL);
	cr_assert_eq(r.status, 0, "seed %u night %d: ingest: exit %d %s", m->seed, m->night, r.status, r.err);
	h_result_clear(&r);
	g_string_free(csv, TRUE);
	m->files = file;
	cr_assert_eq(h_sql_int(m->db, "SELECT max(file_id) FROM files"), file, "seed %u night %d: file id", m->seed,
		     m->night);
}

/* ----------------------------------------------------------------------------------------- */
/* Acts (CONTROL.md), at random before a settlement */

static void withdraw_file(model *m)
{
	int live[FILES_MAX], n = 0;
	for (int f = 1; f <= m->files; f++)
		if (!m->withdrawn[f])
			live[n++] = f;
	if (n == 0)
		return;
	int file = live[rnd(m, 0, n - 1)];
	char id[16];
	g_snprintf(id, sizeof id, "%d", file);
	h_result r = h_run(m->db, "withdraw", "--file", id, "--reason", "sent by mistake", NULL);
	cr_assert_eq(r.status, 0, "seed %u night %d: withdraw %d: exit %d %s", m->seed, m->night, file, r.status, r.err);
	h_result_clear(&r);
	m->withdrawn[file] = TRUE;
	for (guint i = 0; i < m->sent->len; i++) {
		m_line *l = g_ptr_array_index(m->sent, i);
		if (l->file == file && l->counts) {
			l->counts = FALSE;
			g_hash_table_remove(m->holders, l->waybill);
		}
	}
}

/* A CONFLICT line of a live file whose waybill is held by a line of another statement: the
 * later statement is taken. Found in the database (which lines are conflicts is not the
 * model's business: it keeps only what counts), in a fixed order, so a seed draws the same. */
static void resolve_conflict(model *m)
{
	g_autofree char *all = h_sql(m->db, "SELECT coalesce(string_agg(file_id || '|' || line_no || '|' || waybill_no"
					      " || '|' || fee_fen, E'\n' ORDER BY file_id, line_no), '')"
					      " FROM lines_now() WHERE outcome = 'CONFLICT' AND live");
	g_auto(GStrv) rows = g_strsplit(all, "\n", -1);
	GPtrArray *takes = g_ptr_array_new();
	for (char **row = rows; *row && **row; row++) {
		g_auto(GStrv) f = g_strsplit(*row, "|", -1);
		const m_line *holder = g_hash_table_lookup(m->holders, f[2]);
		if (holder && !m->withdrawn[atoi(f[0])])
			g_ptr_array_add(takes, *row);
	}
	if (takes->len > 0) {
		g_auto(GStrv) f = g_strsplit(g_ptr_array_index(takes, rnd(m, 0, (int)takes->len - 1)), "|", -1);
		g_autofree char *take = g_strdup_printf("%s:%s", f[0], f[1]);
		h_result r = h_run(m->db, "resolve", "--courier", "EMS", "--waybill", f[2], "--take", take, "--reason",
				   "the later statement is right", NULL);
		cr_assert_eq(r.status, 0, "seed %u night %d: resolve %s %s: exit %d %s", m->seed, m->night, f[2], take,
			     r.status, r.err);
		h_result_clear(&r);
		m_line *holder = g_hash_table_lookup(m->holders, f[2]);
		m_line *l = g_memdup2(holder, sizeof *holder);
		holder->counts = FALSE;
		l->fee = g_ascii_strtoll(f[3], NULL, 10);
		l->file = atoi(f[0]);
		g_hash_table_insert(m->holders, l->waybill, l);
		g_ptr_array_add(m->sent, l);
	}
	g_ptr_array_free(takes, TRUE);
}

static void reclassify_days(model *m)
{
	int from = rnd(m, 0, YEAR_DAYS - 1), to = rnd(m, from, YEAR_DAYS - 1);
	char from_text[11], to_text[11];
	day_text(from, from_text);
	day_text(to, to_text);
	h_result r = h_run(m->db, "reclassify", "--from", from_text, "--to", to_text, "--reason", "registry corrected",
			   NULL);
	cr_assert_eq(r.status, 0, "seed %u night %d: reclassify: exit %d %s", m->seed, m->night, r.status, r.err);
	h_result_clear(&r);
}

/* ----------------------------------------------------------------------------------------- */
/* The model's entitlement: POLICY.md's rules, written again from the text */

static int64_t rate_of(int64_t fee, int bp, gboolean half_even)
{
	int64_t product = fee * bp; /* fees here are small: no overflow */
	int64_t q = product / 10000, r = product % 10000;
	if (r > 5000 || (r == 5000 && (!half_even || q % 2 == 1)))
		q++;
	return q;
}

static int64_t model_entitlement(const model *m, int shop, int64_t fee, int day)
{
	const m_policy *p = NULL;
	for (int i = 0; i < 2; i++)
		if (day >= m->policy[i].from && day <= m->policy[i].to)
			p = &m->policy[i];
	cr_assert(p != NULL, "seed %u: no policy on day %d", m->seed, day);
	int h = m->shop_household[shop];
	gboolean poor = h >= 0 && m->household[h].loaded && day >= m->household[h].poor_from &&
			day <= m->household[h].poor_to;
	int64_t amount = rate_of(fee, poor ? p->poverty_bp : p->standard_bp, p->half_even);
	int64_t cap = poor ? p->poverty_cap : p->standard_cap;
	return cap >= 0 && amount > cap ? cap : amount;
}

typedef struct {
	int shop;
	int64_t fee;
	int day; /* earliest pickup of the lines that count; OPEN_END: none counts */
	int64_t ledger_funded;
	int64_t ledger_unfunded;
	gboolean in_ledger;
} m_order;

/* Rows of a query as arrays of fields split at '|'. */
static char **rows_of(const char *db, const char *sql)
{
	g_autofree char *all = h_sql(db, sql);
	return all ? g_strsplit(all, "\n", -1) : g_new0(char *, 1);
}

static void check_ledger(model *m)
{
	const char *db = m->db;
	/* Orders from the lines the test sent (the first of each waybill; every shop is registered,
	 * a policy version covers every day and no campaign or category is required, so each is
	 * eligible), grouped as POLICY.md says: (shop, order number), a line without a number an
	 * order of its own. The keys are the engine's spelling of an order, to find it in the ledger. */
	g_autoptr(GHashTable) orders = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	int64_t counted = 0;
	for (guint i = 0; i < m->sent->len; i++) {
		const m_line *l = g_ptr_array_index(m->sent, i);
		char *key = l->order_no[0] ? g_strdup_printf("S%d|o:%s", l->shop + 1, l->order_no)
					   : g_strdup_printf("S%d|w:EMS:%s", l->shop + 1, l->waybill);
		m_order *o = g_hash_table_lookup(orders, key);
		if (!o) {
			o = g_new0(m_order, 1);
			o->shop = l->shop;
			o->day = OPEN_END;
			g_hash_table_insert(orders, key, o);
		} else {
			g_free(key);
		}
		/* A line that stopped counting leaves its order (maybe with nothing: entitled to 0). */
		if (l->counts) {
			o->fee += l->fee;
			o->day = MIN(o->day, l->day);
			counted++;
		}
	}
	/* Nothing else was paid for: one eligible line per waybill claimed, none for a repeat; the
	 * lines that count are those that hold a claim now. */
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE outcome = 'ELIGIBLE'"), m->eligible_in,
		     "seed %u night %d: eligible lines", m->seed, m->night);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines_counted()"), counted, "seed %u night %d: lines counted",
		     m->seed, m->night);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM lines WHERE outcome NOT IN ('ELIGIBLE', 'DUPLICATE', 'CONFLICT')"),
		     0, "seed %u night %d: a line neither eligible nor a repeat", m->seed, m->night);

	/* The ledger per order: what its postings funded, what its latest posting left unfunded. */
	char **ledger = rows_of(db, "SELECT string_agg(shop_id || '|' || order_key || '|' || funded || '|' || unfunded,"
				    " E'\\n') FROM (SELECT DISTINCT ON (shop_id, order_key) shop_id, order_key,"
				    " sum(funded_fen) OVER (PARTITION BY shop_id, order_key) AS funded, unfunded_fen AS unfunded"
				    " FROM postings ORDER BY shop_id, order_key, batch_id DESC, seq DESC) x");
	for (char **l = ledger; *l && **l; l++) {
		char **f = g_strsplit(*l, "|", -1);
		g_autofree char *key = g_strdup_printf("%s|%s", f[0], f[1]);
		m_order *o = g_hash_table_lookup(orders, key);
		cr_assert(o != NULL, "seed %u night %d: the ledger has order %s, the lines do not", m->seed, m->night, key);
		o->in_ledger = TRUE;
		o->ledger_funded = g_ascii_strtoll(f[2], NULL, 10);
		o->ledger_unfunded = g_ascii_strtoll(f[3], NULL, 10);
		g_strfreev(f);
	}
	g_strfreev(ledger);

	/* Money left per pool, as the entries say; the balances must agree and never go below zero. */
	char **pools = rows_of(db, "SELECT string_agg(b.pool_id || '|' || b.amount_fen || '|' || b.drawn_fen || '|' ||"
				   " coalesce((SELECT -sum(amount_fen) FROM entries e WHERE e.pool_id = b.pool_id), 0), E'\\n')"
				   " FROM pool_balances b");
	int64_t left[G_N_ELEMENTS(m->pools)] = { 0 };
	for (char **l = pools; *l && **l; l++) {
		char **f = g_strsplit(*l, "|", -1);
		int64_t amount = g_ascii_strtoll(f[1], NULL, 10), drawn = g_ascii_strtoll(f[2], NULL, 10);
		int64_t by_entries = g_ascii_strtoll(f[3], NULL, 10);
		cr_assert(drawn >= 0 && drawn <= amount, "seed %u night %d: pool %s drew %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT,
			  m->seed, m->night, f[0], drawn, amount);
		cr_assert_eq(drawn, by_entries, "seed %u night %d: pool %s: balance %" G_GINT64_FORMAT ", entries %" G_GINT64_FORMAT,
			     m->seed, m->night, f[0], drawn, by_entries);
		int i = atoi(f[0] + 1) - 1;
		cr_assert_eq(amount, m->pools[i].amount, "seed %u: pool %s amount", m->seed, f[0]);
		left[i] = amount - drawn;
		g_strfreev(f);
	}
	g_strfreev(pools);

	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, orders);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const m_order *o = v;
		int64_t want = o->day == OPEN_END ? 0 : model_entitlement(m, o->shop, o->fee, o->day);
		int64_t held = o->ledger_funded + o->ledger_unfunded;
		cr_assert(o->in_ledger || want == 0, "seed %u night %d: order %s is entitled to %" G_GINT64_FORMAT
			  " and has no posting", m->seed, m->night, (char *)k, want);
		cr_assert_eq(held, want, "seed %u night %d: order %s (fee %" G_GINT64_FORMAT ", day %d): the ledger holds %"
			     G_GINT64_FORMAT " + %" G_GINT64_FORMAT ", the model says %" G_GINT64_FORMAT,
			     m->seed, m->night, (char *)k, o->fee, o->day, o->ledger_funded, o->ledger_unfunded, want);
		cr_assert(o->ledger_funded >= 0 && o->ledger_unfunded >= 0, "seed %u: order %s", m->seed, (char *)k);
		/* No order waits while a pool valid on its order date has money left. */
		for (int i = 0; o->ledger_unfunded > 0 && i < m->n_pools; i++)
			cr_assert(!(o->day >= m->pools[i].from && o->day <= m->pools[i].to && left[i] > 0),
				  "seed %u night %d: order %s waits for %" G_GINT64_FORMAT " while pool %s has %" G_GINT64_FORMAT,
				  m->seed, m->night, (char *)k, o->ledger_unfunded, m->pools[i].id, left[i]);
	}

	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM (SELECT txn FROM entries GROUP BY txn HAVING sum(amount_fen) <> 0) x"),
		     0, "seed %u night %d: a transaction's entries do not sum to zero", m->seed, m->night);
	cr_assert_eq(h_sql_int(db, "SELECT count(*) FROM orders WHERE funded_fen + unfunded_fen <> entitlement_fen"), 0);

	h_assert_lines_counted_keyed(db);
	h_result r = h_run(db, "verify", NULL);
	cr_assert_eq(r.status, 0, "seed %u night %d: verify: %s%s", m->seed, m->night, r.out, r.err);
	h_result_clear(&r);
	r = h_run(db, "replay", "--from", "2018-01-01", "--to", "2018-12-31", "--json", NULL);
	cr_assert_eq(r.status, 0, "seed %u night %d: replay: %s%s", m->seed, m->night, r.out, r.err);
	/* Pending: orders with lines newer than the last batch (CLI.md), which a settlement that had
	 * nothing to post (fees of 0 only) leaves without a batch. */
	int64_t newer = h_sql_int(db, "SELECT count(*) FROM files WHERE file_id > coalesce((SELECT max(files_upto)"
				      " FROM batches), 0)");
	cr_assert(g_str_has_prefix(r.out, "{\"differences\":[],\"pending\":") &&
			  (newer > 0 || g_str_has_prefix(r.out, "{\"differences\":[],\"pending\":0,")),
		  "seed %u night %d: replay (%" G_GINT64_FORMAT " files after the last batch): %s", m->seed, m->night,
		  (gint64)newer, r.out);
	h_result_clear(&r);
}

static void run_programme(guint32 seed)
{
	model m = { 0 };
	m.seed = seed;
	m.rand = g_rand_new_with_seed(seed);
	m.db = h_fresh_db();
	m.sent = g_ptr_array_new_with_free_func(g_free);
	m.holders = g_hash_table_new(g_str_hash, g_str_equal);
	setup_registry(&m);
	for (m.night = 1; m.night <= NIGHTS; m.night++) {
		if (m.night > 1)
			correct_registry(&m);
		if (rnd(&m, 0, 4) > 0)
			ingest_night(&m);
		if (m.night > 1 && rnd(&m, 0, 3) == 0)
			withdraw_file(&m);
		if (rnd(&m, 0, 2) == 0)
			resolve_conflict(&m);
		if (rnd(&m, 0, 3) == 0)
			reclassify_days(&m);
		h_result r = h_run(m.db, "settle", "--json", NULL);
		cr_assert_eq(r.status, 0, "seed %u night %d: settle: exit %d %s%s", seed, m.night, r.status, r.out, r.err);
		h_result_clear(&r);
		check_ledger(&m);
	}
	/* A last settlement with nothing new records nothing. */
	g_autofree char *last = h_settle(m.db);
	cr_assert(g_str_has_prefix(last, "{\"batch\":null,"), "seed %u: a settlement with nothing new: %s", seed, last);
	g_rand_free(m.rand);
	g_hash_table_destroy(m.holders);
	g_ptr_array_free(m.sent, TRUE);
}

Test(property, settlement_agrees_with_an_independent_model_on_random_programmes, .timeout = 600)
{
	const char *one = g_getenv("SUBSIDY_PROPERTY_SEED");
	if (one) {
		run_programme((guint32)strtoul(one, NULL, 10));
		return;
	}
	const char *n_text = g_getenv("SUBSIDY_PROPERTY_SEEDS");
	int n = n_text ? atoi(n_text) : 3;
	for (int i = 1; i <= n; i++)
		run_programme((guint32)(20181111u + (guint32)i));
}
