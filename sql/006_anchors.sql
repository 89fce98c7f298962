-- 006_anchors.sql: tamper evidence beyond the ledger's own rows, and where the chains are anchored.
--
-- Batch digests up to 005 (digest version 2, src/ledger.c) cover a batch's header, postings,
-- entries and payees. Nothing covered the registry versions, the stored bytes of the files, the
-- runs or the payment loads' findings: an edit in place of any of them left every digest whole.
--
-- From this migration on, settlement makes digest-version-3 batches. Before it computes the
-- batch's digest it *seals* every item of record that no earlier batch sealed: one row in
-- batch_seals per item, the SHA-256 of the item's canonical text (src/ledger.c, ledger_seal_kinds
-- lists the tables and columns). The batch digest covers its seals, in order, so a seal cannot be
-- changed or removed without breaking the chain, and verify recomputes every item's digest and
-- names each item (table and key) whose content no longer matches its seal, or that is gone.
-- Items: every registry load and every version of policies, shops, senders, households,
-- campaigns and pools (all columns but superseded_at, which verify checks against the next
-- version's recorded_at); every file's record and each chunk of its stored bytes (offset, length
-- and the chunk's SHA-256); every run; every payment load's record (its digest covers its
-- payments) and each of its findings.
--
-- Existing databases: batches made before keep digest version 2 and verify as they were made.
-- The first version-3 batch seals everything not sealed yet, the history before it included, so
-- from that batch on the whole database is covered. A version-2 batch after a version-3 one is a
-- finding (a downgrade).
--
-- What no digest inside the database can prove: that the newest batch, or the newest payment
-- load, was not removed whole with what was derived from it rolled back. Export, nightly and
-- `payments load` print the chain heads (B<batch>:<digest>, P<load>:<digest>); whoever keeps one
-- elsewhere checks it with `verify --expect-head`. Items recorded after the newest batch (a
-- payment load during the day) are sealed by the next batch; until then only a head kept
-- elsewhere vouches for the payment loads.

-- Existing batches are version 2; settlement writes 3 explicitly.
ALTER TABLE batches ADD COLUMN digest_version smallint NOT NULL DEFAULT 2 CHECK (digest_version IN (2, 3));
-- 002 granted the auditor the columns that existed then, one by one.
GRANT SELECT (digest_version) ON batches TO subsidy_auditor;

CREATE TABLE batch_seals (
	programme text NOT NULL,
	batch_id  integer NOT NULL,
	tbl       text NOT NULL,        -- the table the item is a row of
	item_key  text NOT NULL,        -- its key, as verify names it
	digest    text NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
	PRIMARY KEY (programme, tbl, item_key),  -- an item is sealed once
	FOREIGN KEY (programme, batch_id) REFERENCES batches DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX batch_seals_batch ON batch_seals (programme, batch_id);

CREATE TRIGGER batch_seals_append_only BEFORE UPDATE OR DELETE ON batch_seals FOR EACH ROW
	EXECUTE FUNCTION subsidy_refuse_change();
CREATE TRIGGER batch_seals_no_truncate BEFORE TRUNCATE ON batch_seals FOR EACH STATEMENT
	EXECUTE FUNCTION subsidy_refuse_change();
GRANT SELECT, INSERT ON batch_seals TO subsidy_engine;
GRANT SELECT ON batch_seals TO subsidy_finance, subsidy_auditor;

-- A shop version's seal must be recomputable by the auditor, who may not read owner_id_no or
-- bank_account (002): the seal covers seals of those two, as batch_shops_sealed does (003, whose
-- caveats hold here too: a guessed number can be confirmed against its seal). The view runs with
-- its owner's rights.
CREATE VIEW shops_sealed AS
SELECT programme, shop_id, version, load_id, recorded_at, superseded_at, shop_name, platform, owner_name,
       encode(sha256(convert_to(programme || '|' || shop_id || '|' || version::text || '|owner_id_no|' || owner_id_no,
                                'UTF8')), 'hex') AS owner_id_no_seal,
       phone, household_id, village, bank_name,
       encode(sha256(convert_to(programme || '|' || shop_id || '|' || version::text || '|bank_account|' || bank_account,
                                'UTF8')), 'hex') AS bank_account_seal,
       account_name, registered_from, registered_to
  FROM shops;

COMMENT ON VIEW shops_sealed IS
	'shops with the owner''s ID number and bank account replaced by seals: what batch seals cover (see 006_anchors.sql)';

GRANT SELECT ON shops_sealed TO subsidy_engine, subsidy_finance, subsidy_auditor;
