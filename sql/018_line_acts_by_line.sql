-- 018_line_acts_by_line.sql: order_lines_counted() finds a line's states by the line, and an
-- order's states by the order, through keys that do not start with the programme.
--
-- The programme is the same text on every row. When line_acts was analysed while it was still
-- empty (it stays empty until the first act) and has grown since, the planner takes
-- `programme = $1` for a rare value: every index led by the programme then looks as cheap as one
-- on the line's or the order's key, and it read every line act of the programme for each touched
-- order (a hash anti-join over the whole table, or an index scan of the programme repeated per
-- line). 017 looked a line's states up by (programme, file_id, line_no) and an order's by
-- (programme, shop_id, order_key). A line belongs to one programme (its file's, lines_pkey), and
-- the line acts guard (010) takes a state only for the line of its own programme, so the states
-- are found here without the programme and the programme is checked on the line:
--   line_acts_line  (file_id, line_no, written): a line's states, the latest last;
--   line_acts_order (shop_id, order_key): the states that put a line into an order.
-- No index that leads with the programme can then answer these lookups, whatever the statistics
-- say. 017 was first released with a partial line_acts_order; this replaces either form.

DROP INDEX line_acts_order;
CREATE INDEX line_acts_order ON line_acts (shop_id, order_key);
CREATE INDEX line_acts_line ON line_acts (file_id, line_no, written);

CREATE OR REPLACE FUNCTION order_lines_counted(text, text, text) RETURNS TABLE (programme text, file_id bigint,
	line_no integer, courier text, waybill_no text, order_no text, pickup_time timestamp, fee_fen bigint,
	shop_id text, order_key text, campaign_id text) LANGUAGE sql STABLE AS $$
	SELECT l.programme, l.file_id, l.line_no, l.courier, l.waybill_no, l.order_no, l.pickup_time, l.fee_fen,
	       l.shop_id, l.order_key, l.campaign_id
	  FROM lines l
	 WHERE l.programme = $1 AND l.shop_id = $2 AND l.order_key = $3 AND l.outcome = 'ELIGIBLE'
	   AND NOT EXISTS (SELECT 1 FROM line_acts a WHERE a.file_id = l.file_id AND a.line_no = l.line_no)
	UNION ALL
	SELECT l.programme, l.file_id, l.line_no, l.courier, l.waybill_no, l.order_no, l.pickup_time, l.fee_fen,
	       s.shop_id, s.order_key, s.campaign_id
	  FROM line_acts s JOIN lines l ON l.file_id = s.file_id AND l.line_no = s.line_no
	 WHERE s.shop_id = $2 AND s.order_key = $3 AND s.live AND s.outcome = 'ELIGIBLE' AND l.programme = $1
	   AND NOT EXISTS (SELECT 1 FROM line_acts n WHERE n.file_id = s.file_id AND n.line_no = s.line_no
			   AND n.written > s.written)
$$;
