-- 008_guards_hold.sql: what a hostile review of 004-007 found the guards let through.
--
-- 1. The guards name tables without a schema, and a session's temporary schema is searched first
--    for relations when the search_path does not list it (even before pg_catalog). Any role may
--    make temporary tables, so a `pools` of the engine's own made a raised pool amount look
--    loaded, and a `pg_roles` calling the role a superuser turned every guard off (finance wrote
--    arbitrary entries). Every function of the schema now runs with pg_catalog, then public, then
--    pg_temp last, whatever the session sets.
-- 2. settle_marks (007): the engine could set registry_seen_at into the future, and every later
--    settlement, run honestly, would then price nothing a registry correction changed until that
--    time; neither verify nor replay as recorded sees it. A mark is the writing transaction's own
--    time (settle writes now()). What this cannot refuse: the engine writing now() outside a
--    settlement, after a correction it does not want priced; that is the engine misstating its
--    own work, as a wrong posting would be, and `replay --registry current` shows the difference.
-- 3. batch_seals (006): the engine could add a seal to a batch already written, which breaks that
--    batch's digest for good (the table is append-only), or to a later batch than the one that
--    ought to seal an item. A batch's seals are written with it, before its row, as its entries.

CREATE FUNCTION subsidy_settle_marks_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF subsidy_bound() AND NEW.registry_seen_at IS DISTINCT FROM now() THEN
		PERFORM subsidy_refuse(format('registry mark %s of programme ''%s''', NEW.registry_seen_at, NEW.programme),
				       'a settlement marks the registry at its own transaction''s time');
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER settle_marks_guard BEFORE INSERT OR UPDATE ON settle_marks
	FOR EACH ROW EXECUTE FUNCTION subsidy_settle_marks_guard();

CREATE FUNCTION subsidy_batch_seals_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	bad record;
BEGIN
	IF NOT subsidy_bound() THEN
		RETURN NULL;
	END IF;
	SELECT s.programme, s.batch_id INTO bad
	  FROM (SELECT DISTINCT programme, batch_id FROM new_seals) s
	 WHERE s.batch_id <> subsidy_next_batch(s.programme)
	 LIMIT 1;
	IF FOUND THEN
		PERFORM subsidy_refuse(format('seals of batch %s', bad.batch_id),
				       'a batch''s seals are written with the batch, before its row');
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER batch_seals_guard AFTER INSERT ON batch_seals REFERENCING NEW TABLE AS new_seals
	FOR EACH STATEMENT EXECUTE FUNCTION subsidy_batch_seals_guard();

DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'subsidy\_%'
	LOOP
		EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, public, pg_temp', f);
	END LOOP;
END $$;
