-- 015_orders_unfunded_narrow.sql: the index of the orders still owed money holds only the programme.
--
-- Every night settlement re-prices the orders a pool still owes (unfunded_fen > 0), found through
-- this partial index. It was keyed by the funding key (pickup time, courier, waybill) for a time
-- when the retries were read in that order from the index; they are now sorted by the bytes
-- order_fund_key_encode gives them (settle.c), so the key only made each insert dearer. When the
-- fund runs out most orders of a first night are in it: on 154,260 new orders (300,000 lines, the
-- bench's registry) filling it took 0.67 s with the four-column key and 0.27 s with the programme
-- alone (INSERT ... SELECT into a copy of orders, same run). The predicate, and so what the index
-- finds, is unchanged.

DROP INDEX orders_unfunded;
CREATE INDEX orders_unfunded ON orders (programme) WHERE unfunded_fen > 0;
