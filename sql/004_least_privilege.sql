-- 004_least_privilege.sql: least privilege, really (issue 13). 002 granted by kind of table; this
-- grants by command, and makes the database refuse the writes a grant alone cannot tell apart:
--
--   subsidy_engine  (registry load, ingest, settle, nightly, export) appends the registry, files,
--                   lines and batches; it moves an order's money, a pool's drawn total and a pool's
--                   amount only as the same transaction's postings, entries and pool version say;
--                   it supersedes a registry version only with its successor, in the same load.
--   subsidy_finance (payments load, export) appends payment results, and the two entries of each
--                   paid one, nothing else.
--   subsidy_auditor (replay, verify, status, why, disclose) reads, as 002 says.
-- Nobody but the schema's owner writes schema_version. Who did a run is the session's
-- current_user and session_user, set by the database whatever the client sends.
--
-- The guards bind every role but the schema's owner and superusers: those can drop a trigger or
-- set session_replication_role anyway, and tests seed the ledger as them. Refusals of a role are
-- SQLSTATE 42501 (the CLI exits 77); refusals of a write no role may make are P0001.
--
-- "Written in this transaction" is a row whose xmin is the transaction's id: nothing the client
-- sends can fake it. (A row written under a SAVEPOINT has a subtransaction's id and is refused;
-- subsidy uses none.)

CREATE FUNCTION subsidy_bound() RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT NOT r.rolsuper AND r.oid <> c.relowner
	  FROM pg_roles r, pg_class c
	 WHERE r.rolname = current_user AND c.oid = 'public.runs'::regclass
$$;

CREATE FUNCTION subsidy_require_role(role name, what text) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT pg_has_role(current_user, role, 'USAGE') THEN
		RAISE EXCEPTION 'permission denied: % needs role %', what, role USING ERRCODE = '42501';
	END IF;
END $$;

CREATE FUNCTION subsidy_refuse(what text, why text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% refused: %', what, why USING ERRCODE = 'P0001';
END $$;

CREATE FUNCTION subsidy_this_xact() RETURNS xid LANGUAGE sql STABLE AS $$
	SELECT pg_current_xact_id()::xid
$$;

-- The batch a settlement is writing: its postings, entries and orders come before its row.
CREATE FUNCTION subsidy_next_batch(p text) RETURNS integer LANGUAGE sql STABLE AS $$
	SELECT coalesce(max(batch_id), 0) + 1 FROM batches WHERE programme = p
$$;

---------------------------------------------------------------------------------------------
-- Grants by command.
---------------------------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM subsidy_engine, subsidy_finance;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM subsidy_engine, subsidy_finance;
REVOKE ALL ON schema_version FROM subsidy_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO subsidy_engine, subsidy_finance;
GRANT SELECT ON schema_version TO subsidy_auditor;

GRANT INSERT ON runs, registry_loads, policies, shops, senders, households, campaigns, pools, pool_balances,
	files, file_digests, file_chunks, lines, waybills, orders, batches, postings, entries, batch_shops
	TO subsidy_engine;
GRANT UPDATE (superseded_at) ON policies, shops, senders, households, campaigns, pools TO subsidy_engine;
GRANT UPDATE (order_no, fee_fen, order_date, entitlement_fen, funded_fen, unfunded_fen, fund_pickup,
	fund_courier, fund_waybill, campaign_id, rule, rate_bp, policy_id, policy_version, last_batch)
	ON orders TO subsidy_engine;
GRANT USAGE, SELECT ON SEQUENCE runs_run_id_seq, files_file_id_seq, registry_loads_load_id_seq TO subsidy_engine;

GRANT INSERT ON runs, payment_loads, payments, payment_findings, entries TO subsidy_finance;
GRANT USAGE, SELECT ON SEQUENCE runs_run_id_seq TO subsidy_finance;

---------------------------------------------------------------------------------------------
-- Who did it: the session, never the client.
---------------------------------------------------------------------------------------------
ALTER TABLE runs ADD COLUMN session_role text; -- session_user; NULL for runs recorded before 004
GRANT SELECT (session_role) ON runs TO subsidy_auditor;

CREATE FUNCTION subsidy_runs_who() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	given bigint;
BEGIN
	NEW.db_role := current_user;
	NEW.session_role := session_user;
	IF NOT subsidy_bound() THEN
		RETURN NEW;
	END IF;
	PERFORM subsidy_require_role(CASE NEW.kind WHEN 'payments' THEN 'subsidy_finance' ELSE 'subsidy_engine' END,
				     format('a %s run', NEW.kind));
	IF NEW.started_at < now() OR NEW.started_at > clock_timestamp() THEN
		PERFORM subsidy_refuse(format('run started at %s', NEW.started_at), 'a run starts in its own transaction');
	END IF;
	BEGIN
		given := currval('runs_run_id_seq');
	EXCEPTION WHEN object_not_in_prerequisite_state THEN
		given := NULL;
	END;
	IF NEW.run_id IS DISTINCT FROM given THEN
		PERFORM subsidy_refuse(format('run number %s', NEW.run_id), 'runs are numbered by their sequence');
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER runs_who BEFORE INSERT ON runs FOR EACH ROW EXECUTE FUNCTION subsidy_runs_who();

---------------------------------------------------------------------------------------------
-- Registry history changes only through a registry load: a version comes with the load that
-- brings it (same transaction, same kind, recorded at the load's time) and follows the version it
-- supersedes; a version is superseded only by the next one, loaded in the same transaction.
-- Checked at commit, once both halves are written. TG_ARGV: the load kind, then the key columns.
---------------------------------------------------------------------------------------------
CREATE FUNCTION subsidy_registry_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	keys text := '';
	ok boolean;
BEGIN
	IF NOT subsidy_bound() THEN
		RETURN NULL;
	END IF;
	FOR i IN 1 .. TG_NARGS - 1 LOOP
		keys := keys || format(' AND t.%1$I = ($1).%1$I', TG_ARGV[i]);
	END LOOP;
	IF TG_OP = 'INSERT' THEN
		SELECT EXISTS (SELECT 1 FROM registry_loads l JOIN runs r USING (run_id)
				WHERE l.load_id = NEW.load_id AND l.programme = NEW.programme AND l.kind = TG_ARGV[0]
				  AND r.started_at = NEW.recorded_at AND l.xmin = subsidy_this_xact())
		  INTO ok;
		IF NOT ok THEN
			PERFORM subsidy_refuse(format('version %s of a row of %s', NEW.version, TG_TABLE_NAME),
					       'a version comes with the registry load that records it, in its transaction');
		END IF;
		EXECUTE format('SELECT CASE WHEN ($1).version = 1'
			       ' THEN NOT EXISTS (SELECT 1 FROM %1$I t WHERE t.programme = ($1).programme%2$s AND t.version <> 1)'
			       ' ELSE EXISTS (SELECT 1 FROM %1$I t WHERE t.programme = ($1).programme%2$s'
			       '  AND t.version = ($1).version - 1 AND t.superseded_at = ($1).recorded_at) END',
			       TG_TABLE_NAME, keys)
		   INTO ok USING NEW;
		IF NOT ok THEN
			PERFORM subsidy_refuse(format('version %s of a row of %s', NEW.version, TG_TABLE_NAME),
					       'a new version supersedes the one before it, at its own time');
		END IF;
	ELSIF NEW.superseded_at IS NOT NULL THEN
		EXECUTE format('SELECT EXISTS (SELECT 1 FROM %1$I t WHERE t.programme = ($1).programme%2$s'
			       ' AND t.version = ($1).version + 1 AND t.recorded_at = ($1).superseded_at'
			       ' AND t.xmin = subsidy_this_xact())',
			       TG_TABLE_NAME, keys)
		   INTO ok USING NEW;
		IF NOT ok THEN
			PERFORM subsidy_refuse(format('superseding version %s of a row of %s', NEW.version, TG_TABLE_NAME),
					       'a version is superseded only by the next one, loaded in the same transaction');
		END IF;
	END IF;
	RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER policies_history AFTER INSERT OR UPDATE ON policies DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION subsidy_registry_history('policies', 'policy_id');
CREATE CONSTRAINT TRIGGER shops_history AFTER INSERT OR UPDATE ON shops DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION subsidy_registry_history('shops', 'shop_id');
CREATE CONSTRAINT TRIGGER senders_history AFTER INSERT OR UPDATE ON senders DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION subsidy_registry_history('senders', 'shop_id', 'courier', 'sender_code');
CREATE CONSTRAINT TRIGGER households_history AFTER INSERT OR UPDATE ON households DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION subsidy_registry_history('households', 'household_id');
CREATE CONSTRAINT TRIGGER campaigns_history AFTER INSERT OR UPDATE ON campaigns DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION subsidy_registry_history('campaigns', 'campaign_id');
CREATE CONSTRAINT TRIGGER pools_history AFTER INSERT OR UPDATE ON pools DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION subsidy_registry_history('budgets', 'pool_id');

---------------------------------------------------------------------------------------------
-- Pool balances: the amount is the current pool version's, set in the transaction that loads
-- it; drawn_fen moves once per batch, by exactly what the batch's entries take from the pool.
-- drawn_batch is the batch whose draws drawn_fen includes last. Statement triggers with
-- transition tables: one check per statement, not per row.
---------------------------------------------------------------------------------------------
ALTER TABLE pool_balances ADD COLUMN drawn_batch integer;
GRANT UPDATE (amount_fen, drawn_fen, drawn_batch) ON pool_balances TO subsidy_engine;
GRANT SELECT (drawn_batch) ON pool_balances TO subsidy_auditor;

CREATE FUNCTION subsidy_pool_balances_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	bad text;
BEGIN
	IF NOT subsidy_bound() THEN
		RETURN NULL;
	END IF;
	IF TG_OP = 'INSERT' THEN
		SELECT n.pool_id INTO bad FROM new_balances n
		 WHERE n.drawn_fen <> 0 OR n.drawn_batch IS NOT NULL
		    OR NOT EXISTS (SELECT 1 FROM pools p WHERE p.programme = n.programme AND p.pool_id = n.pool_id
				   AND p.superseded_at IS NULL AND p.amount_fen = n.amount_fen AND p.xmin = subsidy_this_xact())
		 LIMIT 1;
		IF bad IS NOT NULL THEN
			PERFORM subsidy_refuse(format('balance of pool ''%s''', bad),
					       'a pool''s balance starts with the budgets load of its amount, nothing drawn');
		END IF;
		RETURN NULL;
	END IF;
	IF (SELECT count(*) FROM new_balances n JOIN old_balances o USING (programme, pool_id))
	   <> (SELECT count(*) FROM new_balances) THEN
		PERFORM subsidy_refuse('changing a pool balance''s key', 'a balance belongs to its pool');
	END IF;
	SELECT n.pool_id INTO bad
	  FROM new_balances n JOIN old_balances o USING (programme, pool_id)
	  LEFT JOIN LATERAL (SELECT -sum(e.amount_fen) AS drawn FROM entries e
			      WHERE e.programme = n.programme AND e.batch_id = n.drawn_batch AND e.pool_id = n.pool_id) d ON TRUE
	 WHERE (n.amount_fen <> o.amount_fen
		AND NOT EXISTS (SELECT 1 FROM pools p WHERE p.programme = n.programme AND p.pool_id = n.pool_id
				AND p.superseded_at IS NULL AND p.amount_fen = n.amount_fen AND p.xmin = subsidy_this_xact()))
	    OR ((n.drawn_fen, n.drawn_batch) IS DISTINCT FROM (o.drawn_fen, o.drawn_batch)
		AND NOT (n.drawn_batch = subsidy_next_batch(n.programme) AND coalesce(o.drawn_batch, 0) < n.drawn_batch
			 AND n.drawn_fen - o.drawn_fen = coalesce(d.drawn, 0)))
	 LIMIT 1;
	IF bad IS NOT NULL THEN
		PERFORM subsidy_refuse(format('update of the balance of pool ''%s''', bad),
				       'its amount changes only with a budgets load, its drawn total only by a batch''s entries');
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER pool_balances_insert_guard AFTER INSERT ON pool_balances REFERENCING NEW TABLE AS new_balances
	FOR EACH STATEMENT EXECUTE FUNCTION subsidy_pool_balances_guard();
CREATE TRIGGER pool_balances_update_guard AFTER UPDATE ON pool_balances
	REFERENCING OLD TABLE AS old_balances NEW TABLE AS new_balances
	FOR EACH STATEMENT EXECUTE FUNCTION subsidy_pool_balances_guard();

---------------------------------------------------------------------------------------------
-- Orders: an order's money (entitlement, funded, unfunded) and last_batch move only to what the
-- postings of the batch being written say: funded by the sum they move, entitlement and unfunded
-- as the last of them leaves them, once per batch. Everything else (order number, fee, funding
-- key) is the engine's to restate.
---------------------------------------------------------------------------------------------
-- One statement writes the orders of one programme (settle does); the programme of its first row
-- is the one checked, and a row of any other is refused. The postings of the batch are grouped
-- once, by hash: the sum they move and, as the greatest [seq, entitlement, unfunded], the state
-- the last of them leaves. (By hash, in memory: statistics taken before the batch's COPY would
-- have the planner sort a batch's postings by text keys, which costs settle 5% on 100,000 lines.)
CREATE FUNCTION subsidy_orders_guard() RETURNS trigger LANGUAGE plpgsql
	SET enable_sort = off SET work_mem = '64MB' AS $$
DECLARE
	prog text;
	b integer;
	bad record;
BEGIN
	IF NOT subsidy_bound() THEN
		RETURN NULL;
	END IF;
	SELECT programme INTO prog FROM new_orders LIMIT 1;
	IF prog IS NULL THEN
		RETURN NULL;
	END IF;
	b := subsidy_next_batch(prog);
	IF TG_OP = 'INSERT' THEN
		-- A new order holds nothing, or what this batch's postings give it.
		SELECT c.shop_id, c.order_key INTO bad
		  FROM new_orders c
		  LEFT JOIN (SELECT shop_id, order_key, sum(funded_fen)::bigint AS moved_fen,
				    max(ARRAY[seq::bigint, entitlement_fen, unfunded_fen]) AS last
			       FROM postings WHERE programme = prog AND batch_id = b
			      GROUP BY shop_id, order_key) p USING (shop_id, order_key)
		 WHERE (c.entitlement_fen, c.funded_fen, c.unfunded_fen, c.last_batch) IS DISTINCT FROM (0, 0, 0, NULL)
		   AND (c.programme = prog AND c.last_batch = b AND c.entitlement_fen = p.last[2]
			AND c.unfunded_fen = p.last[3] AND c.funded_fen = p.moved_fen) IS NOT TRUE
		 LIMIT 1;
	ELSE
		IF (SELECT count(*) FROM new_orders n JOIN old_orders o USING (programme, shop_id, order_key))
		   <> (SELECT count(*) FROM new_orders) THEN
			PERFORM subsidy_refuse('changing an order''s key', 'an order is known by its shop and key');
		END IF;
		SELECT c.shop_id, c.order_key INTO bad
		  FROM new_orders c JOIN old_orders o USING (programme, shop_id, order_key)
		  LEFT JOIN (SELECT shop_id, order_key, sum(funded_fen)::bigint AS moved_fen,
				    max(ARRAY[seq::bigint, entitlement_fen, unfunded_fen]) AS last
			       FROM postings WHERE programme = prog AND batch_id = b
			      GROUP BY shop_id, order_key) p USING (shop_id, order_key)
		 WHERE (c.entitlement_fen, c.funded_fen, c.unfunded_fen, c.last_batch)
		       IS DISTINCT FROM (o.entitlement_fen, o.funded_fen, o.unfunded_fen, o.last_batch)
		   AND (c.programme = prog AND c.last_batch = b AND coalesce(o.last_batch, 0) < b
			AND c.entitlement_fen = p.last[2] AND c.unfunded_fen = p.last[3]
			AND c.funded_fen - o.funded_fen = p.moved_fen) IS NOT TRUE
		 LIMIT 1;
	END IF;
	IF bad IS NOT NULL THEN
		PERFORM subsidy_refuse(format('order ''%s'' of shop ''%s''', bad.order_key, bad.shop_id),
				       'an order''s money moves only as the postings of the batch being written say');
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER orders_insert_guard AFTER INSERT ON orders REFERENCING NEW TABLE AS new_orders
	FOR EACH STATEMENT EXECUTE FUNCTION subsidy_orders_guard();
CREATE TRIGGER orders_update_guard AFTER UPDATE ON orders REFERENCING OLD TABLE AS old_orders NEW TABLE AS new_orders
	FOR EACH STATEMENT EXECUTE FUNCTION subsidy_orders_guard();

---------------------------------------------------------------------------------------------
-- Entries: a settlement's (batch_id set) are the engine's and belong to the batch being
-- written; a payment's (no batch) are finance's and are exactly the two legs of a paid result
-- recorded in the same transaction: the shop's payable to the treasury, for the amount paid.
---------------------------------------------------------------------------------------------
CREATE FUNCTION subsidy_entries_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	bad text;
	loose bigint;
	low integer;
	high integer;
	prog text;
	prog_high text;
BEGIN
	IF NOT subsidy_bound() THEN
		RETURN NULL;
	END IF;
	-- One pass: a settlement's COPY holds one batch's entries, a payments load's none.
	SELECT count(*) FILTER (WHERE batch_id IS NULL), min(batch_id), max(batch_id), min(programme), max(programme)
	  INTO loose, low, high, prog, prog_high
	  FROM new_entries;
	IF high IS NOT NULL THEN
		PERFORM subsidy_require_role('subsidy_engine', 'writing a settlement''s entries');
		IF low <> high OR prog <> prog_high OR high <> subsidy_next_batch(prog) THEN
			PERFORM subsidy_refuse(format('entries of batch %s', high),
					       'a batch''s entries are written with the batch, before its row');
		END IF;
	END IF;
	IF loose = 0 THEN
		RETURN NULL;
	END IF;
	PERFORM subsidy_require_role('subsidy_finance', 'writing a payment''s entries');
	SELECT e.txn INTO bad
	  FROM new_entries e
	  LEFT JOIN payments p ON p.programme = e.programme AND p.shop_id = e.shop_id
	   AND e.txn ~ '^pay[0-9]{1,9}\.[0-9]{1,9}$'
	   AND p.load_id = split_part(substr(e.txn, 4), '.', 1)::integer
	   AND p.line_no = split_part(e.txn, '.', 2)::integer
	 WHERE e.batch_id IS NULL
	   AND (p.shop_id IS NULL OR p.status <> 'PAID' OR p.xmin <> subsidy_this_xact()
		OR e.posting_seq IS NOT NULL OR e.pool_id IS NOT NULL
		OR NOT ((e.entry_seq = 1 AND e.account = 'payable:' || p.shop_id AND e.amount_fen = -p.amount_fen)
			OR (e.entry_seq = 2 AND e.account = 'treasury' AND e.amount_fen = p.amount_fen)))
	 LIMIT 1;
	IF bad IS NOT NULL THEN
		PERFORM subsidy_refuse(format('entry of transaction ''%s''', bad),
				       'entries without a batch are the two legs of a payment recorded as paid in the same transaction');
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER entries_guard AFTER INSERT ON entries REFERENCING NEW TABLE AS new_entries
	FOR EACH STATEMENT EXECUTE FUNCTION subsidy_entries_guard();

---------------------------------------------------------------------------------------------
-- Payments: a result is applied with its load, in the load's transaction, for the amount the
-- batch exported (reconciliation makes every other line a finding).
---------------------------------------------------------------------------------------------
CREATE FUNCTION subsidy_payments_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	bad text;
BEGIN
	IF NOT subsidy_bound() THEN
		RETURN NULL;
	END IF;
	SELECT n.shop_id INTO bad
	  FROM new_payments n
	  LEFT JOIN batch_shops b USING (programme, batch_id, shop_id)
	  LEFT JOIN payment_loads l ON l.programme = n.programme AND l.load_id = n.load_id
	 WHERE b.amount_fen IS DISTINCT FROM n.amount_fen OR l.load_id IS NULL OR l.xmin <> subsidy_this_xact()
	 LIMIT 1;
	IF bad IS NOT NULL THEN
		PERFORM subsidy_refuse(format('payment to shop ''%s''', bad),
				       'a result is applied by its own payments load, for the amount its batch exported');
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER payments_guard AFTER INSERT ON payments REFERENCING NEW TABLE AS new_payments
	FOR EACH STATEMENT EXECUTE FUNCTION subsidy_payments_guard();

---------------------------------------------------------------------------------------------
-- The settlement lock: a row lock on the programme's row. Locking a row needs UPDATE on the
-- table, which only the engine (settle, nightly, ingest, registry load) and finance (payments
-- load, for its one transaction) have; the auditor, who may only read, cannot take it, and an
-- advisory lock anyone can take no longer blocks anything. The row is never updated.
---------------------------------------------------------------------------------------------
CREATE TABLE settlement_locks (
	programme text PRIMARY KEY
);
CREATE TRIGGER settlement_locks_append_only BEFORE UPDATE OR DELETE ON settlement_locks
	FOR EACH ROW EXECUTE FUNCTION subsidy_refuse_change();
CREATE TRIGGER settlement_locks_no_truncate BEFORE TRUNCATE ON settlement_locks
	FOR EACH STATEMENT EXECUTE FUNCTION subsidy_refuse_change();
GRANT SELECT, INSERT, UPDATE (programme) ON settlement_locks TO subsidy_engine, subsidy_finance;
