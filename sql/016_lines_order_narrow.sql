-- 016_lines_order_narrow.sql: the index of the eligible lines by order holds the shop and the
-- order key, not the programme as well.
--
-- Every eligible line goes into this index as ingest stores it, in no order the index has, and
-- the programme (the same text on nearly every line) only made each entry longer. Settlement
-- finds a touched order's lines through it by (shop_id, order_key) and checks the programme on
-- the line, as `subsidy why` does; what the index finds is the same. On 1,000,000 lines (the
-- bench's manifest, its registry) the COPY of the lines took 5.20-5.24 s with the programme in
-- the key and 4.62-4.70 s without (ingest's statement log, alternate runs); the index is 39 MB
-- instead of 46.

DROP INDEX lines_order;
CREATE INDEX lines_order ON lines (shop_id, order_key) WHERE outcome = 'ELIGIBLE';
