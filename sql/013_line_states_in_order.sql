-- 013_line_states_in_order.sql: a line's state is the one written last, not the one of the act
-- with the highest number.
--
-- A reclassification (C<n>) is recorded by `reclassify` but carried out by the next settlement,
-- which writes the new line states under C<n>'s act_seq. A resolution recorded in between has a
-- higher act_seq and would shadow the settlement's reclassification of its line, although the
-- reclassification was carried out after it (CONTROL.md: the settle classifies every line in the
-- range with the registry as known at that settle). The state written last is the one in force.

ALTER TABLE line_acts ADD COLUMN written bigserial NOT NULL;

CREATE OR REPLACE FUNCTION line_states() RETURNS SETOF line_acts LANGUAGE sql STABLE AS $$
	SELECT DISTINCT ON (a.programme, a.file_id, a.line_no) a.*
	  FROM line_acts a ORDER BY a.programme, a.file_id, a.line_no, a.written DESC
$$;

GRANT USAGE ON SEQUENCE line_acts_written_seq TO subsidy_engine;

-- The order is the sequence's: a row may not be written under an older one (which would put a
-- state below the one in force, out of sight).
CREATE OR REPLACE FUNCTION subsidy_line_acts_guard() RETURNS trigger LANGUAGE plpgsql AS $$
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
	    OR EXISTS (SELECT 1 FROM line_acts o WHERE o.programme = n.programme AND o.file_id = n.file_id
		       AND o.line_no = n.line_no AND o.written > n.written
		       AND NOT EXISTS (SELECT 1 FROM new_rows x WHERE x.written = o.written))
	 LIMIT 1;
	IF FOUND THEN
		PERFORM subsidy_refuse(format('state of line %s:%s', bad.file_id, bad.line_no),
				       'a line''s state changes only with the act that changes it, after its states before');
	END IF;
	RETURN NULL;
END $$;
ALTER FUNCTION subsidy_line_acts_guard() SET search_path = pg_catalog, public, pg_temp;
