-- 012_office_in.sql: what a county office needs to read its own statements.
--
-- A date-only pickup (a statement that gives the day, not the time) is stored as the start of that
-- day, as before; pickup_date_only says so, so that a person is shown a date and not an invented
-- 00:00:00 (FORMATS.md). Lines stored before this migration had a time of day, or were treated as
-- if they had: false.
ALTER TABLE lines ADD COLUMN pickup_date_only boolean NOT NULL DEFAULT false;

-- The auditor reads lines column by column (002); `subsidy lines` and `why` show this one too.
-- `subsidy lines` runs as the engine (which ingested the file and fixes its profile) or the
-- auditor (who checks why lines were not paid); finance has no need of line detail.
GRANT SELECT (pickup_date_only) ON lines TO subsidy_auditor;
