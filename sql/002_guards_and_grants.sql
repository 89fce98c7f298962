-- 002_guards_and_grants.sql: the database as the last line of defence.
-- Append-only tables refuse UPDATE, DELETE and TRUNCATE; registry versions may only be marked
-- superseded, once. Roles (made by `subsidy init --roles`) get the least they need:
--   subsidy_engine:  reads everything, appends; updates only derived state (orders, pool balances)
--                    and the superseded_at mark of registry versions.
--   subsidy_finance: reads everything, appends payment results and their ledger entries.
--   subsidy_auditor: reads, but not the ID numbers or bank accounts of shop owners.

CREATE FUNCTION subsidy_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
		USING ERRCODE = 'P0001', HINT = 'corrections are new rows, never edits';
END $$;

CREATE FUNCTION subsidy_supersede_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND OLD.superseded_at IS NULL AND NEW.superseded_at IS NOT NULL
	   AND (to_jsonb(NEW) - 'superseded_at') = (to_jsonb(OLD) - 'superseded_at') THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'table % keeps every version: % refused', TG_TABLE_NAME, TG_OP
		USING ERRCODE = 'P0001', HINT = 'a changed row is loaded as a new version';
END $$;

DO $$
DECLARE t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['runs', 'registry_loads', 'files', 'file_digests', 'file_chunks', 'lines',
		'waybills', 'batches', 'postings', 'entries', 'batch_shops', 'payment_loads', 'payments',
		'payment_findings'] LOOP
		EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW
			EXECUTE FUNCTION subsidy_refuse_change()', t || '_append_only', t);
		EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT
			EXECUTE FUNCTION subsidy_refuse_change()', t || '_no_truncate', t);
	END LOOP;
	FOREACH t IN ARRAY ARRAY['policies', 'shops', 'senders', 'households', 'campaigns', 'pools'] LOOP
		EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW
			EXECUTE FUNCTION subsidy_supersede_only()', t || '_versions', t);
		EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT
			EXECUTE FUNCTION subsidy_refuse_change()', t || '_no_truncate', t);
		EXECUTE format('GRANT UPDATE (superseded_at) ON %I TO subsidy_engine', t);
	END LOOP;
END $$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO subsidy_engine, subsidy_finance, subsidy_auditor;

GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO subsidy_engine;
GRANT UPDATE ON orders, pool_balances TO subsidy_engine;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO subsidy_engine, subsidy_finance;

GRANT SELECT ON ALL TABLES IN SCHEMA public TO subsidy_finance;
GRANT INSERT ON runs, payment_loads, payments, payment_findings, entries TO subsidy_finance;

-- The auditor reads every table, but from shops and batch_shops only the columns that are not
-- the owner's identity or bank account.
DO $$
DECLARE t text; cols text;
BEGIN
	FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
		SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) INTO cols
		  FROM information_schema.columns
		 WHERE table_schema = 'public' AND table_name = t
		   AND NOT (t IN ('shops', 'batch_shops') AND column_name IN ('owner_id_no', 'bank_account'));
		EXECUTE format('GRANT SELECT (%s) ON %I TO subsidy_auditor', cols, t);
	END LOOP;
END $$;
