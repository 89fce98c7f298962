-- 005_exports.sql: what nightly exported, where, with which bytes.
--
-- A bank-upload step picks up the finance bureau's files from the export dir. Nightly used to
-- decide what to export by looking at that dir: a batch whose batch-N.csv was not there was
-- exported, so a new export dir got every past batch again (and the upload would send them
-- again). Now each file nightly writes is recorded here; a batch with a record is never exported
-- anywhere else, and a missing file is written again only at the path recorded first (the same
-- bytes: an export is a function of the batch), recorded again with written_again.
--
-- Append-only like the ledger (002's trigger function). The engine (nightly) appends; everyone
-- reads: a path and a digest are no secret.
CREATE TABLE exports (
	export_id     bigserial PRIMARY KEY,
	programme     text NOT NULL,
	batch_id      integer NOT NULL,
	run_id        bigint NOT NULL REFERENCES runs,
	path          text NOT NULL CHECK (path LIKE '/%'),
	sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	written_again boolean NOT NULL DEFAULT false,
	recorded_at   timestamptz NOT NULL DEFAULT now(),
	FOREIGN KEY (programme, batch_id) REFERENCES batches
);
CREATE INDEX exports_batch ON exports (programme, batch_id, export_id);

COMMENT ON TABLE exports IS
	'every finance bureau file nightly wrote: the batch, the absolute path, the SHA-256 of its bytes';

CREATE TRIGGER exports_append_only BEFORE UPDATE OR DELETE ON exports FOR EACH ROW
	EXECUTE FUNCTION subsidy_refuse_change();
CREATE TRIGGER exports_no_truncate BEFORE TRUNCATE ON exports FOR EACH STATEMENT
	EXECUTE FUNCTION subsidy_refuse_change();

REVOKE ALL ON exports FROM PUBLIC;
GRANT SELECT, INSERT ON exports TO subsidy_engine;
GRANT USAGE, SELECT ON SEQUENCE exports_export_id_seq TO subsidy_engine;
GRANT SELECT ON exports TO subsidy_finance, subsidy_auditor;
