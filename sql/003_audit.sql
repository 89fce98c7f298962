-- 003_audit.sql: what the auditor needs to prove the ledger without reading bank accounts.
--
-- A batch's digest (src/ledger.c) covers what the batch pays each shop, payee details included.
-- The auditor may not read batch_shops.bank_account (002), yet `subsidy verify` must recompute
-- every digest under the auditor role, and get the same digest settlement got. So the digest
-- covers a seal of the account instead of its digits: SHA-256 of "programme|batch|shop|account".
-- A changed account changes its seal, so the digest still proves the account was not edited;
-- the auditor sees the seal, never the digits.
--
-- What the seal does not do: bank account numbers have few unknown digits, so anyone who can
-- read the seal can confirm a guessed account with one hash per guess. The batch and shop in
-- the sealed text stop one precomputed table from serving every row, nothing more. The seal
-- keeps accounts out of sight (reports, screens, copies of query results); it is not a secret
-- against a determined holder of the auditor's credentials. A keyed hash would be, but then
-- the auditor could not recompute the digest, which is the point of the role.
--
-- The view runs with its owner's rights (the role that ran the migration, which owns the
-- tables), so it reads bank_account on the auditor's behalf and hands out only the seal.
CREATE VIEW batch_shops_sealed AS
SELECT programme, batch_id, shop_id, net_fen, carried_fen, amount_fen, orders, remark, shop_name,
       account_name, bank_name,
       encode(sha256(convert_to(programme || '|' || batch_id::text || '|' || shop_id || '|' || bank_account,
                                'UTF8')), 'hex') AS bank_account_seal
  FROM batch_shops;

COMMENT ON VIEW batch_shops_sealed IS
	'batch_shops with the bank account replaced by its seal: what batch digests cover (see 003_audit.sql)';

GRANT SELECT ON batch_shops_sealed TO subsidy_engine, subsidy_finance, subsidy_auditor;
