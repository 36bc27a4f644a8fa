-- Ferrite SQLite schema, version 6: no change to this file's tables.
--
-- `ferrite.nonces.db` now keeps the used nonces in one B-tree ordered by expiry (table
-- `used_nonces`, primary key (expires, value)); `open_nonce_connection` converts a file of the
-- earlier layout (table `nonces`) when it opens it. This version exists so that an earlier
-- Ferrite refuses this data directory ("newer than this Ferrite knows") instead of recreating
-- the old, empty table beside the new one, where the two versions would each accept a nonce
-- the other had already seen.
SELECT 1;
