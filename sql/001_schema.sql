-- 001_schema.sql: the first schema for the whole engine.
--
-- Conventions: money is bigint fen, rates integer basis points; dates and times are China time
-- (timestamp without time zone holds China wall time; timestamptz holds instants of record).
-- Every table has a programme (county) column and it leads every key, so programmes shard
-- cleanly (the distribution column, should the schema ever be spread with Citus).
-- Append-only tables refuse UPDATE, DELETE and TRUNCATE by trigger (see 002). Corrections are
-- new rows, never edits.

-- schema_version is made by `subsidy init` itself before the first migration.

-- Who did what, when: every registry load, ingest, settlement and payment load points at one.
CREATE TABLE runs (
	run_id     bigserial PRIMARY KEY,
	programme  text NOT NULL,
	kind       text NOT NULL CHECK (kind IN ('registry', 'ingest', 'settle', 'payments', 'nightly')),
	started_at timestamptz NOT NULL DEFAULT now(),
	os_user    text NOT NULL,
	db_role    text NOT NULL DEFAULT current_user,
	detail     text
);

---------------------------------------------------------------------------------------------
-- Registry: versioned reference data. A row's current version has superseded_at NULL; what was
-- known at time T is the version with recorded_at <= T < coalesce(superseded_at, infinity).
---------------------------------------------------------------------------------------------
CREATE TABLE registry_loads (
	load_id        bigserial PRIMARY KEY,
	programme      text NOT NULL,
	run_id         bigint NOT NULL REFERENCES runs,
	kind           text NOT NULL CHECK (kind IN ('policies', 'shops', 'senders', 'households', 'campaigns', 'budgets')),
	file_name      text NOT NULL,
	sha256         text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	new_rows       integer NOT NULL CHECK (new_rows >= 0),
	changed_rows   integer NOT NULL CHECK (changed_rows >= 0),
	unchanged_rows integer NOT NULL CHECK (unchanged_rows >= 0)
);

CREATE TABLE policies (
	programme         text NOT NULL,
	policy_id         text NOT NULL,
	version           integer NOT NULL CHECK (version >= 1),
	load_id           bigint NOT NULL REFERENCES registry_loads,
	recorded_at       timestamptz NOT NULL,
	superseded_at     timestamptz,
	valid_from        date NOT NULL,
	valid_to          date,
	standard_rate_bp  integer NOT NULL CHECK (standard_rate_bp BETWEEN 0 AND 10000),
	standard_cap_fen  bigint CHECK (standard_cap_fen >= 0),
	poverty_rate_bp   integer NOT NULL CHECK (poverty_rate_bp BETWEEN 0 AND 10000),
	poverty_cap_fen   bigint CHECK (poverty_cap_fen >= 0),
	rounding          text NOT NULL CHECK (rounding IN ('half_up', 'half_even')),
	require_campaign  boolean NOT NULL,
	eligible_categories text[] NOT NULL DEFAULT '{}',
	fee_max_fen       bigint NOT NULL CHECK (fee_max_fen >= 0),
	PRIMARY KEY (programme, policy_id, version),
	CHECK (valid_to IS NULL OR valid_to >= valid_from),
	CHECK (superseded_at IS NULL OR superseded_at >= recorded_at)
);
CREATE UNIQUE INDEX policies_current ON policies (programme, policy_id) WHERE superseded_at IS NULL;

CREATE TABLE shops (
	programme       text NOT NULL,
	shop_id         text NOT NULL,
	version         integer NOT NULL CHECK (version >= 1),
	load_id         bigint NOT NULL REFERENCES registry_loads,
	recorded_at     timestamptz NOT NULL,
	superseded_at   timestamptz,
	shop_name       text NOT NULL,
	platform        text NOT NULL,
	owner_name      text NOT NULL,
	owner_id_no     text NOT NULL,
	phone           text NOT NULL CHECK (phone ~ '^1[0-9]{10}$'),
	household_id    text,
	village         text NOT NULL,
	bank_name       text NOT NULL,
	bank_account    text NOT NULL CHECK (bank_account ~ '^[0-9]+$'),
	account_name    text NOT NULL,
	registered_from date NOT NULL,
	registered_to   date,
	PRIMARY KEY (programme, shop_id, version),
	CHECK (registered_to IS NULL OR registered_to >= registered_from),
	CHECK (superseded_at IS NULL OR superseded_at >= recorded_at)
);
CREATE UNIQUE INDEX shops_current ON shops (programme, shop_id) WHERE superseded_at IS NULL;

CREATE TABLE senders (
	programme     text NOT NULL,
	shop_id       text NOT NULL,
	courier       text NOT NULL,
	sender_code   text NOT NULL,
	version       integer NOT NULL CHECK (version >= 1),
	load_id       bigint NOT NULL REFERENCES registry_loads,
	recorded_at   timestamptz NOT NULL,
	superseded_at timestamptz,
	valid_from    date NOT NULL,
	valid_to      date,
	PRIMARY KEY (programme, shop_id, courier, sender_code, version),
	CHECK (valid_to IS NULL OR valid_to >= valid_from),
	CHECK (superseded_at IS NULL OR superseded_at >= recorded_at)
);
CREATE UNIQUE INDEX senders_current ON senders (programme, shop_id, courier, sender_code) WHERE superseded_at IS NULL;

CREATE TABLE households (
	programme     text NOT NULL,
	household_id  text NOT NULL,
	version       integer NOT NULL CHECK (version >= 1),
	load_id       bigint NOT NULL REFERENCES registry_loads,
	recorded_at   timestamptz NOT NULL,
	superseded_at timestamptz,
	head_name     text NOT NULL,
	village       text NOT NULL,
	poor_from     date NOT NULL,
	poor_to       date,
	PRIMARY KEY (programme, household_id, version),
	CHECK (poor_to IS NULL OR poor_to >= poor_from),
	CHECK (superseded_at IS NULL OR superseded_at >= recorded_at)
);
CREATE UNIQUE INDEX households_current ON households (programme, household_id) WHERE superseded_at IS NULL;

CREATE TABLE campaigns (
	programme     text NOT NULL,
	campaign_id   text NOT NULL,
	version       integer NOT NULL CHECK (version >= 1),
	load_id       bigint NOT NULL REFERENCES registry_loads,
	recorded_at   timestamptz NOT NULL,
	superseded_at timestamptz,
	name          text NOT NULL,
	starts_at     timestamp NOT NULL,
	ends_at       timestamp NOT NULL,
	PRIMARY KEY (programme, campaign_id, version),
	CHECK (ends_at > starts_at),
	CHECK (superseded_at IS NULL OR superseded_at >= recorded_at)
);
CREATE UNIQUE INDEX campaigns_current ON campaigns (programme, campaign_id) WHERE superseded_at IS NULL;

CREATE TABLE pools (
	programme     text NOT NULL,
	pool_id       text NOT NULL,
	version       integer NOT NULL CHECK (version >= 1),
	load_id       bigint NOT NULL REFERENCES registry_loads,
	recorded_at   timestamptz NOT NULL,
	superseded_at timestamptz,
	name          text NOT NULL,
	amount_fen    bigint NOT NULL CHECK (amount_fen >= 0),
	valid_from    date NOT NULL,
	valid_to      date,
	priority      integer NOT NULL,
	PRIMARY KEY (programme, pool_id, version),
	CHECK (valid_to IS NULL OR valid_to >= valid_from),
	CHECK (superseded_at IS NULL OR superseded_at >= recorded_at)
);
CREATE UNIQUE INDEX pools_current ON pools (programme, pool_id) WHERE superseded_at IS NULL;

-- What each pool holds now and what has been drawn from it: the database's own guard that no
-- pool goes below zero. Derived state (verify recomputes it from the entries), so it is the one
-- ledger-side table the engine updates.
CREATE TABLE pool_balances (
	programme  text NOT NULL,
	pool_id    text NOT NULL,
	amount_fen bigint NOT NULL CHECK (amount_fen >= 0),
	drawn_fen  bigint NOT NULL DEFAULT 0 CHECK (drawn_fen >= 0),
	PRIMARY KEY (programme, pool_id),
	CONSTRAINT pool_never_below_zero CHECK (drawn_fen <= amount_fen)
);

---------------------------------------------------------------------------------------------
-- Ingest: files as received, every line with one outcome, the first line of every waybill.
---------------------------------------------------------------------------------------------
CREATE TABLE files (
	file_id     bigserial PRIMARY KEY,
	programme   text NOT NULL,
	run_id      bigint NOT NULL REFERENCES runs,
	name        text NOT NULL,
	sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	profile     text NOT NULL,
	encoding    text NOT NULL,
	size_bytes  bigint NOT NULL CHECK (size_bytes > 0),
	lines       integer NOT NULL CHECK (lines >= 0),
	eligible    integer NOT NULL CHECK (eligible >= 0),
	ineligible  integer NOT NULL CHECK (ineligible >= 0),
	duplicate   integer NOT NULL CHECK (duplicate >= 0),
	conflict    integer NOT NULL CHECK (conflict >= 0),
	rejected    integer NOT NULL CHECK (rejected >= 0),
	totals_fen  bigint,          -- a zto file's control total, as read from its 合计 row
	ingested_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT file_counts_add_up CHECK (lines = eligible + ineligible + duplicate + conflict + rejected)
);
-- A file is ingested once per programme (its bytes, not its name, identify it).
CREATE TABLE file_digests (
	programme text NOT NULL,
	sha256    text NOT NULL,
	file_id   bigint NOT NULL REFERENCES files DEFERRABLE INITIALLY DEFERRED,
	PRIMARY KEY (programme, sha256)
);

-- The file's bytes as received, kept once, in chunks so neither side holds the whole file.
-- lz4: manifests compress about fourfold, at a fraction of pglz's cost on ingest.
CREATE TABLE file_chunks (
	file_id bigint NOT NULL REFERENCES files DEFERRABLE INITIALLY DEFERRED,
	seq     integer NOT NULL CHECK (seq >= 0),
	offset_bytes bigint NOT NULL CHECK (offset_bytes >= 0),
	bytes   bytea COMPRESSION lz4 NOT NULL,
	PRIMARY KEY (file_id, seq)
);

-- lines and waybills are the two tables that grow by a million rows a night, and a row-by-row
-- foreign key costs more than the rest of the insert (measured on the target machine: a million
-- rows 1.8 s without, 10.0 s with an immediate key, 5.9 s with a deferred one). So their link to
-- the file is checked once per file instead: the files row is written last, in the same
-- transaction, and its trigger (files_counts_match) refuses it unless the stored lines are exactly
-- the ones it counts, outcome by outcome. `subsidy verify` checks that every line has its file.
CREATE TABLE lines (
	file_id      bigint NOT NULL,
	line_no      integer NOT NULL CHECK (line_no >= 2),
	programme    text NOT NULL,
	byte_offset  bigint NOT NULL CHECK (byte_offset >= 0),
	byte_len     integer NOT NULL CHECK (byte_len >= 0),
	courier      text,
	waybill_no   text,
	order_no     text,
	pickup_time  timestamp,
	pickup_has_seconds boolean,
	sender_code  text,
	sender_phone text,
	weight_kg    text,
	fee_fen      bigint CHECK (fee_fen >= 0),
	category     text,
	destination  text,
	outcome      text NOT NULL CHECK (outcome IN ('ELIGIBLE', 'DUPLICATE', 'CONFLICT', 'REJECTED',
		'UNREGISTERED_SHOP', 'AMBIGUOUS_SHOP', 'NOT_REGISTERED_ON_DATE', 'OUTSIDE_POLICY_PERIOD',
		'NOT_IN_CAMPAIGN', 'INELIGIBLE_PRODUCT')),
	reason       text,
	shop_id      text,           -- the shop matched (checks 3 on)
	campaign_id  text,           -- the promotion window the pickup fell in
	order_key    text,           -- ELIGIBLE lines: the order they belong to, within the shop
	PRIMARY KEY (file_id, line_no),
	CHECK ((outcome = 'ELIGIBLE') = (reason IS NULL)),
	CHECK (outcome <> 'ELIGIBLE' OR (shop_id IS NOT NULL AND order_key IS NOT NULL AND fee_fen IS NOT NULL
		AND pickup_time IS NOT NULL))
);
CREATE INDEX lines_waybill ON lines (waybill_no);  -- `subsidy why`: any courier
CREATE INDEX lines_order ON lines (programme, shop_id, order_key) WHERE outcome = 'ELIGIBLE';

-- The first line of every (courier, waybill_no) that passed validation: the deduplication key.
CREATE TABLE waybills (
	programme  text NOT NULL,
	courier    text NOT NULL,
	waybill_no text NOT NULL,
	file_id    bigint NOT NULL,
	line_no    integer NOT NULL,     -- the line (file_id, line_no); see lines for why no FOREIGN KEY
	PRIMARY KEY (programme, courier, waybill_no)
);

-- A file's record is written after its lines: it must count exactly the lines stored for it.
CREATE FUNCTION subsidy_file_counts_match() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	got record;
BEGIN
	SELECT count(*) AS lines,
	       count(*) FILTER (WHERE outcome = 'ELIGIBLE') AS eligible,
	       count(*) FILTER (WHERE outcome IN ('UNREGISTERED_SHOP', 'AMBIGUOUS_SHOP', 'NOT_REGISTERED_ON_DATE',
			'OUTSIDE_POLICY_PERIOD', 'NOT_IN_CAMPAIGN', 'INELIGIBLE_PRODUCT')) AS ineligible,
	       count(*) FILTER (WHERE outcome = 'DUPLICATE') AS duplicate,
	       count(*) FILTER (WHERE outcome = 'CONFLICT') AS conflict,
	       count(*) FILTER (WHERE outcome = 'REJECTED') AS rejected
	  INTO got FROM lines WHERE file_id = NEW.file_id;
	IF (got.lines, got.eligible, got.ineligible, got.duplicate, got.conflict, got.rejected)
	   IS DISTINCT FROM (NEW.lines::bigint, NEW.eligible::bigint, NEW.ineligible::bigint, NEW.duplicate::bigint,
			     NEW.conflict::bigint, NEW.rejected::bigint) THEN
		RAISE EXCEPTION 'file % (%) counts do not match its stored lines', NEW.file_id, NEW.name
			USING DETAIL = format('counted %s/%s/%s/%s/%s/%s, stored %s',
				NEW.lines, NEW.eligible, NEW.ineligible, NEW.duplicate, NEW.conflict, NEW.rejected, got);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER files_counts_match AFTER INSERT ON files FOR EACH ROW EXECUTE FUNCTION subsidy_file_counts_match();

---------------------------------------------------------------------------------------------
-- Settlement: orders (current state), batches, postings, double-entry entries.
---------------------------------------------------------------------------------------------

-- Hash-chained batches. batch_id runs 1, 2, 3... per programme.
CREATE TABLE batches (
	programme    text NOT NULL,
	batch_id     integer NOT NULL CHECK (batch_id >= 1),
	run_id       bigint NOT NULL REFERENCES runs,
	created_at   timestamptz NOT NULL,
	files_upto   bigint NOT NULL,  -- the newest file whose lines this batch took in
	orders       integer NOT NULL CHECK (orders >= 0),
	postings     integer NOT NULL CHECK (postings >= 0),
	posted_fen   bigint NOT NULL,
	unfunded_fen bigint NOT NULL CHECK (unfunded_fen >= 0),
	prev_digest  text NOT NULL CHECK (prev_digest ~ '^[0-9a-f]{64}$'),
	digest       text NOT NULL UNIQUE CHECK (digest ~ '^[0-9a-f]{64}$'),
	PRIMARY KEY (programme, batch_id)
);

-- The current state of every order that has eligible lines and has been settled: derived from
-- the postings (verify recomputes it), kept so settlement does not re-read history.
CREATE TABLE orders (
	programme       text NOT NULL,
	shop_id         text NOT NULL,
	order_key       text NOT NULL,
	order_no        text,
	fee_fen         bigint NOT NULL CHECK (fee_fen >= 0),
	order_date      date NOT NULL,
	entitlement_fen bigint NOT NULL CHECK (entitlement_fen >= 0),
	funded_fen      bigint NOT NULL CHECK (funded_fen >= 0),
	unfunded_fen    bigint NOT NULL CHECK (unfunded_fen >= 0),
	fund_pickup     timestamp NOT NULL,  -- the funding key: smallest (pickup, courier, waybill)
	fund_courier    text NOT NULL,
	fund_waybill    text NOT NULL,
	campaign_id     text,                -- of the funding-key line
	rule            text NOT NULL CHECK (rule IN ('standard', 'poverty')),
	rate_bp         integer NOT NULL,
	policy_id       text NOT NULL,
	policy_version  integer NOT NULL,
	last_batch      integer,             -- the last batch that posted for it
	PRIMARY KEY (programme, shop_id, order_key),
	CONSTRAINT order_balances CHECK (funded_fen + unfunded_fen = entitlement_fen)
);
CREATE INDEX orders_unfunded ON orders (programme, fund_pickup, fund_courier, fund_waybill) WHERE unfunded_fen > 0;

CREATE TABLE postings (
	programme       text NOT NULL,
	batch_id        integer NOT NULL,
	seq             integer NOT NULL CHECK (seq >= 1),     -- funding order within the batch
	shop_id         text NOT NULL,
	order_key       text NOT NULL,
	order_no        text,
	status          text NOT NULL CHECK (status IN ('FUNDED', 'PARTIAL', 'BUDGET_EXHAUSTED', 'REVERSAL')),
	fee_fen         bigint NOT NULL CHECK (fee_fen >= 0),  -- the order's total eligible fee
	order_date      date NOT NULL,
	rule            text NOT NULL CHECK (rule IN ('standard', 'poverty')),
	rate_bp         integer NOT NULL,
	policy_id       text NOT NULL,
	policy_version  integer NOT NULL,
	campaign_id     text,
	entitlement_fen bigint NOT NULL CHECK (entitlement_fen >= 0), -- the order's entitlement after
	previous_fen    bigint NOT NULL CHECK (previous_fen >= 0),    -- and before this posting
	funded_fen      bigint NOT NULL,                              -- moved to the shop (signed)
	unfunded_fen    bigint NOT NULL CHECK (unfunded_fen >= 0),    -- the order's unfunded after
	fund_pickup     timestamp NOT NULL,
	fund_courier    text NOT NULL,
	fund_waybill    text NOT NULL,
	-- No row-by-row FOREIGN KEY to batches, for the reason given at lines: a first settlement
	-- can post a million rows. The batch row is written last, in the same transaction, with a
	-- digest over these rows; `subsidy verify` finds any posting without its batch.
	PRIMARY KEY (programme, batch_id, seq)
);
CREATE INDEX postings_order ON postings (programme, shop_id, order_key);

-- Double entry: every transaction (a posting, a payment) has entries that sum to zero.
-- Accounts: 'pool:<pool_id>' (money left in a pool is its amount less what it lent),
-- 'payable:<shop_id>' (owed to a shop), 'treasury' (paid out).
CREATE TABLE entries (
	programme  text NOT NULL,
	txn        text NOT NULL,          -- 'b<batch>.p<seq>' or 'pay<payment_id>'
	entry_seq  integer NOT NULL CHECK (entry_seq >= 1),
	account    text NOT NULL,
	amount_fen bigint NOT NULL CHECK (amount_fen <> 0),
	batch_id   integer,
	posting_seq integer,
	pool_id    text,
	shop_id    text,
	PRIMARY KEY (programme, txn, entry_seq)
);
CREATE INDEX entries_posting ON entries (programme, batch_id, posting_seq);

-- What a batch pays each shop, fixed when the batch is made (payee details as registered then).
CREATE TABLE batch_shops (
	programme    text NOT NULL,
	batch_id     integer NOT NULL,
	shop_id      text NOT NULL,
	net_fen      bigint NOT NULL,    -- funded by this batch's postings (signed)
	carried_fen  bigint NOT NULL,    -- carried in: failed payments to re-issue, negative nets
	amount_fen   bigint NOT NULL,    -- net + carried; exported when above zero
	orders       integer NOT NULL CHECK (orders >= 0),
	remark       text NOT NULL DEFAULT '',
	shop_name    text NOT NULL,
	account_name text NOT NULL,
	bank_name    text NOT NULL,
	bank_account text NOT NULL,
	PRIMARY KEY (programme, batch_id, shop_id),
	FOREIGN KEY (programme, batch_id) REFERENCES batches DEFERRABLE INITIALLY DEFERRED,
	CHECK (amount_fen = net_fen + carried_fen)
);

---------------------------------------------------------------------------------------------
-- Payments: the treasury's results, applied once per (batch, shop); chained like batches.
---------------------------------------------------------------------------------------------
CREATE TABLE payment_loads (
	programme   text NOT NULL,
	load_id     integer NOT NULL CHECK (load_id >= 1),
	run_id      bigint NOT NULL REFERENCES runs,
	file_name   text NOT NULL,
	sha256      text NOT NULL,
	applied     integer NOT NULL CHECK (applied >= 0),
	findings    integer NOT NULL CHECK (findings >= 0),
	-- the newest batch when the results were applied: a failed payment is carried into the first
	-- later batch that takes its shop in (loads and settlements share the settlement lock)
	batches_upto integer NOT NULL CHECK (batches_upto >= 0),
	prev_digest text NOT NULL,
	digest      text NOT NULL UNIQUE,
	PRIMARY KEY (programme, load_id)
);

CREATE TABLE payments (
	programme  text NOT NULL,
	batch_id   integer NOT NULL,
	shop_id    text NOT NULL,
	amount_fen bigint NOT NULL CHECK (amount_fen > 0),
	status     text NOT NULL CHECK (status IN ('PAID', 'FAILED')),
	paid_at    timestamp,
	serial_no  text,
	load_id    integer NOT NULL,
	line_no    integer NOT NULL,
	PRIMARY KEY (programme, batch_id, shop_id),
	FOREIGN KEY (programme, batch_id, shop_id) REFERENCES batch_shops,
	FOREIGN KEY (programme, load_id) REFERENCES payment_loads DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE payment_findings (
	programme text NOT NULL,
	load_id   integer NOT NULL,
	line_no   integer NOT NULL,
	batch_id  text,
	shop_id   text,
	amount    text,
	finding   text NOT NULL,
	PRIMARY KEY (programme, load_id, line_no),
	FOREIGN KEY (programme, load_id) REFERENCES payment_loads DEFERRABLE INITIALLY DEFERRED
);
