-- 014_keys_bytewise.sql: the keys of the tables that grow with every line compare byte by byte.
--
-- Waybill numbers, order numbers, shop ids, transaction names and seal keys are identifiers, not
-- words: no county reads them in dictionary order, and their order must not depend on the locale
-- the server was created with (an export or a replay sorted by shop id on an en_US cluster would
-- otherwise list shops differently from one on C.UTF-8). The ledger's digests already order by
-- COLLATE "C"; this makes the columns themselves so. It is also faster: a btree of keys compared
-- with memcmp instead of strcoll took a third less time to fill with a million keys on this
-- machine (the waybill claim, the orders' primary key, the entries' key are filled every night).
--
-- Only the collation changes: no row is rewritten, the indexes on these columns are rebuilt.
-- Equality is the same under every deterministic collation, so no key that was unique becomes a
-- duplicate, and no foreign key changes meaning.

ALTER TABLE lines
	ALTER COLUMN programme TYPE text COLLATE "C",
	ALTER COLUMN courier TYPE text COLLATE "C",
	ALTER COLUMN waybill_no TYPE text COLLATE "C",
	ALTER COLUMN order_no TYPE text COLLATE "C",
	ALTER COLUMN shop_id TYPE text COLLATE "C",
	ALTER COLUMN order_key TYPE text COLLATE "C";

ALTER TABLE waybills
	ALTER COLUMN programme TYPE text COLLATE "C",
	ALTER COLUMN courier TYPE text COLLATE "C",
	ALTER COLUMN waybill_no TYPE text COLLATE "C";

ALTER TABLE orders
	ALTER COLUMN programme TYPE text COLLATE "C",
	ALTER COLUMN shop_id TYPE text COLLATE "C",
	ALTER COLUMN order_key TYPE text COLLATE "C",
	ALTER COLUMN order_no TYPE text COLLATE "C",
	ALTER COLUMN fund_courier TYPE text COLLATE "C",
	ALTER COLUMN fund_waybill TYPE text COLLATE "C";

ALTER TABLE postings
	ALTER COLUMN programme TYPE text COLLATE "C",
	ALTER COLUMN shop_id TYPE text COLLATE "C",
	ALTER COLUMN order_key TYPE text COLLATE "C",
	ALTER COLUMN order_no TYPE text COLLATE "C",
	ALTER COLUMN fund_courier TYPE text COLLATE "C",
	ALTER COLUMN fund_waybill TYPE text COLLATE "C";

ALTER TABLE entries
	ALTER COLUMN programme TYPE text COLLATE "C",
	ALTER COLUMN txn TYPE text COLLATE "C",
	ALTER COLUMN pool_id TYPE text COLLATE "C",
	ALTER COLUMN shop_id TYPE text COLLATE "C";

ALTER TABLE batch_seals
	ALTER COLUMN programme TYPE text COLLATE "C",
	ALTER COLUMN tbl TYPE text COLLATE "C",
	ALTER COLUMN item_key TYPE text COLLATE "C";

ALTER TABLE line_acts
	ALTER COLUMN programme TYPE text COLLATE "C",
	ALTER COLUMN shop_id TYPE text COLLATE "C",
	ALTER COLUMN order_key TYPE text COLLATE "C",
	ALTER COLUMN was_shop_id TYPE text COLLATE "C",
	ALTER COLUMN was_order_key TYPE text COLLATE "C";

ALTER TABLE claim_moves
	ALTER COLUMN programme TYPE text COLLATE "C",
	ALTER COLUMN courier TYPE text COLLATE "C",
	ALTER COLUMN waybill_no TYPE text COLLATE "C";
