-- 017_order_lines_counted.sql: the lines that count toward one order, found through its key.
--
-- A night's settlement prices the orders it touches from the lines that count toward them
-- (lines_counted(), 010). On a night that touches a few orders of a long history it should probe
-- each order's lines through an index, but lines_counted() cannot be probed: it is a UNION ALL
-- whose second branch takes each line's state from line_states(), a DISTINCT ON over every
-- line act, so a join's keys reach neither branch and the planner reads every eligible line of
-- the programme (1,000,000 stored lines: 0.36 s for a night of 20 lines, and growing with the
-- history). order_lines_counted(programme, shop_id, order_key) is the same set for one order,
-- written so that both branches start from the order's key:
--   1. the order's eligible lines that no act has touched (lines_order, 016);
--   2. the line acts that leave a line live and eligible in the order (line_acts_order), each
--      the state written last for its line (no later row: line_states() keeps the row with the
--      highest `written`, 013), joined with its line.
-- line_acts_order holds every state, not only the live eligible ones: as a partial index it
-- matched the settlement's search for the states of the acts not yet taken in (acts.c, by
-- act_seq, live and eligible) better than line_acts_act on an unanalysed line_acts, and read every
-- live state of the programme's history for it.
-- Called LATERAL with a touched order's columns, the planner inlines it and probes both indexes
-- per order. The integration tests check that it returns what lines_counted() returns for the
-- same order, on every order, after withdrawals, resolutions and reclassifications.
--
-- "Written last" is one row only if no two rows of line_acts share a `written`. The sequence
-- gives each row its own, but nothing stopped a role that writes line acts from naming one, and
-- then line_states() would pick either row and this function count both: the unique index says
-- what both functions assume.

CREATE UNIQUE INDEX line_acts_written ON line_acts (written);
CREATE INDEX line_acts_order ON line_acts (programme, shop_id, order_key);

CREATE FUNCTION order_lines_counted(text, text, text) RETURNS TABLE (programme text, file_id bigint, line_no integer,
	courier text, waybill_no text, order_no text, pickup_time timestamp, fee_fen bigint, shop_id text,
	order_key text, campaign_id text) LANGUAGE sql STABLE AS $$
	SELECT l.programme, l.file_id, l.line_no, l.courier, l.waybill_no, l.order_no, l.pickup_time, l.fee_fen,
	       l.shop_id, l.order_key, l.campaign_id
	  FROM lines l
	 WHERE l.programme = $1 AND l.shop_id = $2 AND l.order_key = $3 AND l.outcome = 'ELIGIBLE'
	   AND NOT EXISTS (SELECT 1 FROM line_acts a WHERE a.programme = l.programme AND a.file_id = l.file_id
			   AND a.line_no = l.line_no)
	UNION ALL
	SELECT l.programme, l.file_id, l.line_no, l.courier, l.waybill_no, l.order_no, l.pickup_time, l.fee_fen,
	       s.shop_id, s.order_key, s.campaign_id
	  FROM line_acts s JOIN lines l ON l.file_id = s.file_id AND l.line_no = s.line_no
	 WHERE s.programme = $1 AND s.shop_id = $2 AND s.order_key = $3 AND s.live AND s.outcome = 'ELIGIBLE'
	   AND NOT EXISTS (SELECT 1 FROM line_acts n WHERE n.programme = s.programme AND n.file_id = s.file_id
			   AND n.line_no = s.line_no AND n.written > s.written)
$$;
