-- Ferrite SQLite schema, version 2: the binding model (RFC 8555 §7.3.4).
-- customer → api_credentials → eab_mac_keys → accounts (accounts.eab_kid, accounts.customer_id).
-- Statuses are 'active' or 'disabled'; "expired" and "exhausted" are derived when read.

CREATE TABLE customers (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- Only an argon2 hash (PHC string) of the secret is kept.
CREATE TABLE api_credentials (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    customer_id TEXT    NOT NULL REFERENCES customers (id),
    secret_hash TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at  INTEGER NOT NULL
);
CREATE INDEX api_credential_customer ON api_credentials (customer_id);

-- The MAC key only sealed (AES-256-GCM under the KEK). `bindings_used` is bumped in the
-- transaction that inserts the account it binds, guarded by `bindings_used < max_bindings`.
CREATE TABLE eab_mac_keys (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    kid           TEXT    NOT NULL UNIQUE,
    credential_id TEXT    NOT NULL REFERENCES api_credentials (id),
    sealed_key    BLOB    NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    max_bindings  INTEGER NOT NULL CHECK (max_bindings >= 0),
    bindings_used INTEGER NOT NULL DEFAULT 0 CHECK (bindings_used >= 0),
    status        TEXT    NOT NULL CHECK (status IN ('active', 'disabled'))
);
CREATE INDEX eab_mac_key_credential ON eab_mac_keys (credential_id, status);

ALTER TABLE accounts ADD COLUMN customer_id TEXT REFERENCES customers (id);
CREATE INDEX account_customer ON accounts (customer_id);
