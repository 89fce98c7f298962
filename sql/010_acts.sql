-- 010_acts.sql: the correction acts of CONTROL.md (withdraw, resolve, reclassify).
--
-- An act is a row of `acts`, appended under the settlement lock, chained like batches and
-- payment loads (prev_digest, digest over its canonical text: src/acts.c, ACTS_TEXT) and sealed by
-- the next batch (src/ledger.c). What an act does to lines is written as new rows, never edits:
--   line_acts    the state a line has from an act on (outcome, shop, order, whether it is live:
--                not withdrawn and holding its waybill's claim); the latest row of a line wins,
--                a line without one is as ingested. was_* name the order it counted toward before.
--   claim_moves  who holds a waybill's claim from then on (NULL: released); the latest row wins,
--                a waybill without one is held by its waybills row. Ingest takes a released claim.
-- No act moves money: the next settlement prices again every order a line_acts row of an act it
-- has not seen names (settle_marks.acts_seen), and its postings carry the act's reference.
-- A withdrawn file's bytes may be ingested again: file_digests keeps one live file per digest.

CREATE TABLE acts (
	programme    text NOT NULL,
	act_seq      integer NOT NULL CHECK (act_seq >= 1),  -- the chain's order, every kind
	kind         text NOT NULL CHECK (kind IN ('W', 'R', 'C')),
	act_no       integer NOT NULL CHECK (act_no >= 1),   -- numbered per kind: W1, R1, C1...
	recorded_at  timestamptz NOT NULL,
	os_user      text NOT NULL,
	db_role      text NOT NULL,
	session_role text NOT NULL,
	reason       text NOT NULL CHECK (char_length(btrim(reason)) >= 4),
	file_id      bigint,            -- W: the file withdrawn
	courier      text,              -- R: the waybill resolved
	waybill_no   text,
	take_file_id bigint,            -- R: the line taken (NULL: the first line stands)
	take_line_no integer,
	from_day     date,              -- C: the pickup days reclassified
	to_day       date,
	prev_digest  text NOT NULL CHECK (prev_digest ~ '^[0-9a-f]{64}$'),
	digest       text NOT NULL UNIQUE CHECK (digest ~ '^[0-9a-f]{64}$'),
	PRIMARY KEY (programme, act_seq),
	UNIQUE (programme, kind, act_no),
	CHECK (CASE kind WHEN 'W' THEN file_id IS NOT NULL
			 WHEN 'R' THEN courier IS NOT NULL AND waybill_no IS NOT NULL
				       AND (take_file_id IS NULL) = (take_line_no IS NULL)
			 ELSE from_day IS NOT NULL AND to_day IS NOT NULL AND to_day >= from_day END)
);
CREATE UNIQUE INDEX acts_one_withdrawal ON acts (programme, file_id) WHERE kind = 'W';

CREATE TABLE line_acts (
	programme     text NOT NULL,
	act_seq       integer NOT NULL,
	file_id       bigint NOT NULL,
	line_no       integer NOT NULL,
	outcome       text NOT NULL CHECK (outcome IN ('ELIGIBLE', 'DUPLICATE', 'CONFLICT', 'REJECTED',
		'UNREGISTERED_SHOP', 'AMBIGUOUS_SHOP', 'NOT_REGISTERED_ON_DATE', 'OUTSIDE_POLICY_PERIOD',
		'NOT_IN_CAMPAIGN', 'INELIGIBLE_PRODUCT')),
	reason        text,
	shop_id       text,
	campaign_id   text,
	order_key     text,
	live          boolean NOT NULL,  -- not withdrawn, and holding its claim if it passed check 1
	was_shop_id   text,              -- the order the line counted toward before the act, if any
	was_order_key text,
	PRIMARY KEY (programme, file_id, line_no, act_seq),
	FOREIGN KEY (programme, act_seq) REFERENCES acts,
	CHECK (outcome <> 'ELIGIBLE' OR (shop_id IS NOT NULL AND order_key IS NOT NULL)),
	CHECK ((was_shop_id IS NULL) = (was_order_key IS NULL))
);
CREATE INDEX line_acts_act ON line_acts (programme, act_seq);

CREATE TABLE claim_moves (
	move_id    bigserial PRIMARY KEY,
	programme  text NOT NULL,
	courier    text NOT NULL,
	waybill_no text NOT NULL,
	file_id    bigint,               -- the line holding the claim from now on; NULL: released
	line_no    integer,
	act_seq    integer,              -- NULL: taken by an ingest of a released claim
	FOREIGN KEY (programme, act_seq) REFERENCES acts,
	CHECK ((file_id IS NULL) = (line_no IS NULL)),
	CHECK (act_seq IS NOT NULL OR file_id IS NOT NULL)
);
CREATE INDEX claim_moves_waybill ON claim_moves (programme, courier, waybill_no, move_id);

-- A line's state as the acts leave it (the latest row), the eligible lines that count, and every
-- line with its state now. Functions rather than views (the planner inlines them as it would a
-- view), so no role is offered a relation it might try to write.
CREATE FUNCTION line_states() RETURNS SETOF line_acts LANGUAGE sql STABLE AS $$
	SELECT DISTINCT ON (a.programme, a.file_id, a.line_no) a.*
	  FROM line_acts a ORDER BY a.programme, a.file_id, a.line_no, a.act_seq DESC
$$;

CREATE FUNCTION lines_counted() RETURNS TABLE (programme text, file_id bigint, line_no integer, courier text,
	waybill_no text, order_no text, pickup_time timestamp, fee_fen bigint, shop_id text, order_key text,
	campaign_id text) LANGUAGE sql STABLE AS $$
	SELECT l.programme, l.file_id, l.line_no, l.courier, l.waybill_no, l.order_no, l.pickup_time, l.fee_fen,
	       l.shop_id, l.order_key, l.campaign_id
	  FROM lines l
	 WHERE l.outcome = 'ELIGIBLE'
	   AND NOT EXISTS (SELECT 1 FROM line_acts a WHERE a.programme = l.programme AND a.file_id = l.file_id
			   AND a.line_no = l.line_no)
	UNION ALL
	SELECT l.programme, l.file_id, l.line_no, l.courier, l.waybill_no, l.order_no, l.pickup_time, l.fee_fen,
	       s.shop_id, s.order_key, s.campaign_id
	  FROM line_states() s JOIN lines l ON l.file_id = s.file_id AND l.line_no = s.line_no
	 WHERE s.live AND s.outcome = 'ELIGIBLE'
$$;

CREATE FUNCTION lines_now() RETURNS TABLE (file_id bigint, line_no integer, programme text, courier text,
	waybill_no text, order_no text, pickup_time timestamp, fee_fen bigint, sender_code text, sender_phone text,
	category text, outcome text, reason text, shop_id text, campaign_id text, order_key text, live boolean,
	act_seq integer) LANGUAGE sql STABLE AS $$
	SELECT l.file_id, l.line_no, l.programme, l.courier, l.waybill_no, l.order_no, l.pickup_time, l.fee_fen,
	       l.sender_code, l.sender_phone, l.category,
	       CASE WHEN s.act_seq IS NULL THEN l.outcome ELSE s.outcome END,
	       CASE WHEN s.act_seq IS NULL THEN l.reason ELSE s.reason END,
	       CASE WHEN s.act_seq IS NULL THEN l.shop_id ELSE s.shop_id END,
	       CASE WHEN s.act_seq IS NULL THEN l.campaign_id ELSE s.campaign_id END,
	       CASE WHEN s.act_seq IS NULL THEN l.order_key ELSE s.order_key END,
	       coalesce(s.live, TRUE), s.act_seq
	  FROM lines l LEFT JOIN line_states() s ON s.programme = l.programme AND s.file_id = l.file_id
	   AND s.line_no = l.line_no
$$;

-- A settlement records the newest act it has taken in.
ALTER TABLE settle_marks ADD COLUMN acts_seen integer NOT NULL DEFAULT 0;

-- The postings an act caused carry its reference (W3, R1, C2).
ALTER TABLE postings ADD COLUMN correction text CHECK (correction ~ '^[WRC][1-9][0-9]*$');

-- One live file per digest: the bytes of a withdrawn file may come again.
ALTER TABLE file_digests DROP CONSTRAINT file_digests_pkey;
ALTER TABLE file_digests ADD PRIMARY KEY (programme, sha256, file_id);
CREATE FUNCTION subsidy_file_digests_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM file_digests d WHERE d.programme = NEW.programme AND d.sha256 = NEW.sha256
		   AND NOT EXISTS (SELECT 1 FROM acts a WHERE a.programme = d.programme AND a.kind = 'W'
				   AND a.file_id = d.file_id)) THEN
		RAISE EXCEPTION 'file digest % is already ingested and not withdrawn', NEW.sha256 USING ERRCODE = '23505';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER file_digests_once BEFORE INSERT ON file_digests FOR EACH ROW EXECUTE FUNCTION subsidy_file_digests_once();

---------------------------------------------------------------------------------------------
-- Append-only, and guarded as batches and payment loads are (004, 008).
---------------------------------------------------------------------------------------------
DO $$
DECLARE t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['acts', 'line_acts', 'claim_moves'] LOOP
		EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW
			EXECUTE FUNCTION subsidy_refuse_change()', t || '_append_only', t);
		EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT
			EXECUTE FUNCTION subsidy_refuse_change()', t || '_no_truncate', t);
	END LOOP;
END $$;

-- Who and when are the session's; an act is the next of the chain and of its kind.
CREATE FUNCTION subsidy_acts_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT subsidy_bound() THEN
		RETURN NEW;
	END IF;
	PERFORM subsidy_require_role('subsidy_engine', format('recording act %s%s', NEW.kind, NEW.act_no));
	IF NEW.db_role IS DISTINCT FROM current_user::text OR NEW.session_role IS DISTINCT FROM session_user::text
	   OR NEW.recorded_at IS DISTINCT FROM now() THEN
		PERFORM subsidy_refuse(format('act %s%s', NEW.kind, NEW.act_no),
				       'an act is recorded by its session, at its transaction''s time');
	END IF;
	IF NEW.act_seq <> (SELECT coalesce(max(act_seq), 0) + 1 FROM acts WHERE programme = NEW.programme)
	   OR NEW.act_no <> (SELECT coalesce(max(act_no), 0) + 1 FROM acts WHERE programme = NEW.programme
			     AND kind = NEW.kind)
	   OR NEW.prev_digest <> coalesce((SELECT digest FROM acts WHERE programme = NEW.programme
					   ORDER BY act_seq DESC LIMIT 1), repeat('0', 64)) THEN
		PERFORM subsidy_refuse(format('act %s%s', NEW.kind, NEW.act_no), 'an act is the next of its chain');
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER acts_guard BEFORE INSERT ON acts FOR EACH ROW EXECUTE FUNCTION subsidy_acts_guard();

-- A line's new state comes with its act, in the act's transaction; only a reclassification's
-- is written later, by the settlement that reclassifies, and only for a line picked up in its range.
CREATE FUNCTION subsidy_line_acts_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	bad record;
BEGIN
	IF NOT subsidy_bound() THEN
		RETURN NULL;
	END IF;
	SELECT n.file_id, n.line_no INTO bad
	  FROM new_rows n LEFT JOIN acts a ON a.programme = n.programme AND a.act_seq = n.act_seq
	  LEFT JOIN lines l ON l.file_id = n.file_id AND l.line_no = n.line_no AND l.programme = n.programme
	 WHERE l.file_id IS NULL OR a.act_seq IS NULL
	    OR NOT (a.xmin = subsidy_this_xact()
		    OR (a.kind = 'C' AND l.pickup_time >= a.from_day AND l.pickup_time < a.to_day + 1))
	 LIMIT 1;
	IF FOUND THEN
		PERFORM subsidy_refuse(format('state of line %s:%s', bad.file_id, bad.line_no),
				       'a line''s state changes only with the act that changes it');
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER line_acts_guard AFTER INSERT ON line_acts REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION subsidy_line_acts_guard();

-- A claim moves with the act that moves it, or to a line of the file this session is ingesting.
CREATE FUNCTION subsidy_claim_moves_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	bad record;
	given bigint;
BEGIN
	IF NOT subsidy_bound() THEN
		RETURN NULL;
	END IF;
	-- An ingest's file is numbered by this session and recorded after its lines and claims.
	BEGIN
		given := currval('files_file_id_seq');
	EXCEPTION WHEN object_not_in_prerequisite_state THEN
		given := NULL;
	END;
	SELECT n.courier, n.waybill_no INTO bad
	  FROM new_rows n LEFT JOIN acts a ON a.programme = n.programme AND a.act_seq = n.act_seq
	 WHERE CASE WHEN n.act_seq IS NOT NULL THEN a.xmin IS DISTINCT FROM subsidy_this_xact()
		    ELSE n.file_id IS DISTINCT FROM given OR EXISTS (SELECT 1 FROM files f WHERE f.file_id = n.file_id) END
	 LIMIT 1;
	IF FOUND THEN
		PERFORM subsidy_refuse(format('claim of waybill %s %s', bad.courier, bad.waybill_no),
				       'a claim moves only with its act, or to a line ingested with it');
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER claim_moves_guard AFTER INSERT ON claim_moves REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION subsidy_claim_moves_guard();

DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
		   AND p.proname IN ('subsidy_acts_guard', 'subsidy_line_acts_guard', 'subsidy_claim_moves_guard',
				     'subsidy_file_digests_once')
	LOOP
		EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, public, pg_temp', f);
	END LOOP;
END $$;

GRANT SELECT, INSERT ON acts, line_acts, claim_moves TO subsidy_engine;
GRANT USAGE ON SEQUENCE claim_moves_move_id_seq TO subsidy_engine;
GRANT SELECT ON acts, line_acts, claim_moves TO subsidy_engine,
	subsidy_finance, subsidy_auditor;
GRANT SELECT (correction) ON postings TO subsidy_auditor;
GRANT SELECT (acts_seen) ON settle_marks TO subsidy_auditor;
