-- 009_settle_held.sql: orders settlement could not price, kept until it can.
--
-- An order whose arithmetic does not fit 64 bits (a stored fee far beyond any fee_max, as a
-- database restored from elsewhere might hold) is held: no posting, its state as before, and the
-- rest of the batch settles (src/settle.h). The order's lines are older than the next batch, so
-- nothing else would bring it back: every settlement prices the held orders again, reports each
-- one still held (exit 1) and keeps this list to what it held. Derived state, like orders.
CREATE TABLE settle_held (
	programme text NOT NULL,
	shop_id   text NOT NULL,
	order_key text NOT NULL,
	reason    text NOT NULL,
	held_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (programme, shop_id, order_key)
);

GRANT SELECT, INSERT, DELETE ON settle_held TO subsidy_engine;
GRANT SELECT ON settle_held TO subsidy_finance, subsidy_auditor;
