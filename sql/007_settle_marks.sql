-- 007_settle_marks.sql: what the last settlement saw of the registry.
--
-- POLICY.md: the entitlement follows the registry as known at each settlement. A settlement
-- prices again the orders that a registry version recorded or superseded since the previous
-- settlement may move (their shop, its owner household, the policy version of their date), so it
-- must know when the previous settlement looked. Registry loads wait for the settlement lock and
-- take their time once they hold it: a change committed after a settlement has a later time than
-- the settlement's transaction, and every earlier one was seen by it.
--
-- Derived state, written by each settlement in its own transaction (also one that records no
-- batch). A programme without a row has every order priced again, once: its first settlement,
-- or the first after an upgrade from an engine that did not follow registry corrections.
CREATE TABLE settle_marks (
	programme        text PRIMARY KEY,
	registry_seen_at timestamptz NOT NULL
);

GRANT SELECT, INSERT, UPDATE ON settle_marks TO subsidy_engine;
GRANT SELECT ON settle_marks TO subsidy_finance, subsidy_auditor;
