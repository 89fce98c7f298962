-- 011_approvals.sql: four eyes (CONTROL.md "Approve a batch"). A batch is payable only once a
-- person of finance has approved it: `subsidy approve --batch N` records the batch's digest, who
-- (system user, database role, session role) and when, with an optional reason.
--
-- Approvals are append-only and hash-chained like payment loads (src/approve.c, approve_digest):
-- each row's digest covers the one before it, so verify finds an approval changed in place or
-- removed from the middle of the chain, and an approval whose batch digest is not its batch's.
-- The next batch seals every approval recorded before it (src/ledger.c), and a payment applied to
-- a batch verify cannot find approved is a finding: an approval removed after its batch was paid
-- is found too. What no digest inside the database proves is that the newest approval of a batch
-- not yet paid was not removed whole; `approve` prints the chain's head (A<n>:<digest>).
--
-- The guard binds every role but the schema's owner and superusers (as 004): an approval is
-- written by a member of subsidy_finance that is not a member of subsidy_engine (the role that
-- settles does not approve its own batches), at its own transaction's time, with the session's
-- roles, for the batch's digest as stored, as the next link of the chain. A payment result is
-- applied only to a batch approved before (payments_approved_guard).

CREATE TABLE approvals (
	programme    text NOT NULL,
	approval_id  integer NOT NULL CHECK (approval_id >= 1),
	batch_id     integer NOT NULL CHECK (batch_id >= 1),
	batch_digest text NOT NULL CHECK (batch_digest ~ '^[0-9a-f]{64}$'),
	reason       text NOT NULL,
	os_user      text NOT NULL,
	db_role      text NOT NULL,
	session_role text NOT NULL,
	approved_at  timestamptz NOT NULL,
	prev_digest  text NOT NULL CHECK (prev_digest ~ '^[0-9a-f]{64}$'),
	digest       text NOT NULL UNIQUE CHECK (digest ~ '^[0-9a-f]{64}$'),
	PRIMARY KEY (programme, approval_id),
	UNIQUE (programme, batch_id)  -- a batch is approved once
);

CREATE TRIGGER approvals_append_only BEFORE UPDATE OR DELETE ON approvals FOR EACH ROW
	EXECUTE FUNCTION subsidy_refuse_change();
CREATE TRIGGER approvals_no_truncate BEFORE TRUNCATE ON approvals FOR EACH STATEMENT
	EXECUTE FUNCTION subsidy_refuse_change();

GRANT SELECT ON approvals TO subsidy_engine, subsidy_finance, subsidy_auditor;
GRANT INSERT ON approvals TO subsidy_finance;

CREATE FUNCTION subsidy_approvals_guard() RETURNS trigger LANGUAGE plpgsql
	SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	last record;
	stored text;
BEGIN
	IF NOT subsidy_bound() THEN
		RETURN NEW;
	END IF;
	PERFORM subsidy_require_role('subsidy_finance', 'approving a batch');
	IF pg_has_role(current_user, 'subsidy_engine', 'USAGE') THEN
		RAISE EXCEPTION 'permission denied: approving a batch needs role subsidy_finance without subsidy_engine'
			' (four eyes: the role that settles does not approve)' USING ERRCODE = '42501';
	END IF;
	IF NEW.db_role IS DISTINCT FROM current_user::text OR NEW.session_role IS DISTINCT FROM session_user::text THEN
		PERFORM subsidy_refuse(format('approval of batch %s', NEW.batch_id), 'it names the session''s own roles');
	END IF;
	IF NEW.approved_at IS DISTINCT FROM now() THEN
		PERFORM subsidy_refuse(format('approval of batch %s', NEW.batch_id), 'it is made at its own transaction''s time');
	END IF;
	SELECT digest INTO stored FROM batches WHERE programme = NEW.programme AND batch_id = NEW.batch_id;
	IF stored IS DISTINCT FROM NEW.batch_digest THEN
		PERFORM subsidy_refuse(format('approval of batch %s', NEW.batch_id), 'it approves the batch''s digest as stored');
	END IF;
	SELECT approval_id, digest INTO last FROM approvals WHERE programme = NEW.programme
	 ORDER BY approval_id DESC LIMIT 1;
	IF NEW.approval_id IS DISTINCT FROM coalesce(last.approval_id, 0) + 1
	   OR NEW.prev_digest IS DISTINCT FROM coalesce(last.digest, repeat('0', 64)) THEN
		PERFORM subsidy_refuse(format('approval %s', NEW.approval_id), 'an approval is the next link of its chain');
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER approvals_guard BEFORE INSERT ON approvals FOR EACH ROW EXECUTE FUNCTION subsidy_approvals_guard();

CREATE FUNCTION subsidy_payments_approved_guard() RETURNS trigger LANGUAGE plpgsql
	SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	bad record;
BEGIN
	IF NOT subsidy_bound() THEN
		RETURN NULL;
	END IF;
	SELECT n.batch_id, n.shop_id INTO bad
	  FROM new_payments n
	 WHERE NOT EXISTS (SELECT 1 FROM approvals a WHERE a.programme = n.programme AND a.batch_id = n.batch_id)
	 LIMIT 1;
	IF FOUND THEN
		PERFORM subsidy_refuse(format('payment of batch %s to shop ''%s''', bad.batch_id, bad.shop_id),
				       'a result is applied only to a batch approved before (four eyes)');
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER payments_approved_guard AFTER INSERT ON payments REFERENCING NEW TABLE AS new_payments
	FOR EACH STATEMENT EXECUTE FUNCTION subsidy_payments_approved_guard();
