-- Ferrite SQLite schema, version 5: the shared nonce key.
--
-- Nonces are no longer stored when issued: each carries its expiry and a MAC under this key
-- (`ferrite_core::nonce`), and `ferrite.nonces.db` now records the nonces that have been used
-- (same table, same columns). The key lives here, in the durable database every instance
-- shares; the first instance to start stores it. It is a secret: whoever has it can mint
-- nonces (not signatures), so keep this file as private as the rest of data_dir.
CREATE TABLE nonce_key (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    key BLOB    NOT NULL
);
