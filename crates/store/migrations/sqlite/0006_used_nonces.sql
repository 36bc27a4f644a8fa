-- Ferrite SQLite schema, version 6: no change to this file's tables.
--
-- This version marks the layout of `ferrite.nonces.db` whose used nonces are one B-tree
-- ordered by expiry (table `used_nonces`, primary key (expires, value)). A Ferrite that knows
-- only versions up to 5 expects a table `nonces` there; the version makes it refuse this data
-- directory ("newer than this Ferrite knows") instead of creating that table beside
-- `used_nonces`, where each would accept a nonce the other had already seen.
SELECT 1;
