-- Ferrite SQLite schema, version 1.
--
-- Timestamps are INTEGER microseconds since the Unix epoch (UTC): ordering of rows made in the
-- same second stays stable and every value of `time::OffsetDateTime` fits in an i64.
-- JSON columns hold serde_json text. Statuses hold the RFC 8555 §7.1.6 wire strings.
-- Table names are plural (`order` and `authorization` are reserved words in PostgreSQL).
-- Tables whose rows are listed "newest first" carry a `seq INTEGER PRIMARY KEY AUTOINCREMENT`:
-- AUTOINCREMENT never reuses a value, so a pagination cursor stays valid.

-- RFC 8555 §6.5: anti-replay nonces, redeemed exactly once by a single DELETE ... RETURNING.
CREATE TABLE nonces (
    value   TEXT    PRIMARY KEY NOT NULL,
    expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX nonce_expires ON nonces (expires);

-- RFC 8555 §7.1.2: accounts; one account per key (thumbprint UNIQUE, §7.3.1 and §7.3.5).
CREATE TABLE accounts (
    id                      TEXT    PRIMARY KEY NOT NULL,
    thumbprint              TEXT    NOT NULL UNIQUE,
    jwk                     TEXT    NOT NULL,
    contact                 TEXT    NOT NULL,
    status                  TEXT    NOT NULL,
    terms_of_service_agreed INTEGER NOT NULL,
    eab_kid                 TEXT,
    created_at              INTEGER NOT NULL
);
CREATE INDEX account_eab_kid ON accounts (eab_kid);

-- RFC 8555 §7.1.4: authorizations. `identifier_value` is the name without `*.`.
CREATE TABLE authorizations (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT    NOT NULL UNIQUE,
    account_id       TEXT    NOT NULL REFERENCES accounts (id),
    identifier_type  TEXT    NOT NULL,
    identifier_value TEXT    NOT NULL,
    wildcard         INTEGER NOT NULL,
    status           TEXT    NOT NULL,
    expires          INTEGER NOT NULL
);
CREATE INDEX authorization_reuse
    ON authorizations (account_id, identifier_value, wildcard, status, expires);

-- RFC 8555 §7.1.5: challenges, in the order they are offered (`position`).
CREATE TABLE challenges (
    id               TEXT    PRIMARY KEY NOT NULL,
    authorization_id TEXT    NOT NULL REFERENCES authorizations (id),
    position         INTEGER NOT NULL,
    kind             TEXT    NOT NULL,
    token            TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    validated        INTEGER,
    error            TEXT,
    record           TEXT,
    lease_until      INTEGER,
    UNIQUE (authorization_id, position)
);
-- The reaper scans processing challenges by lease.
CREATE INDEX challenge_lease ON challenges (status, lease_until);

-- RFC 8555 §7.1.3: orders. Listed newest first per account (§7.1.2.1) by `seq`.
CREATE TABLE orders (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    id                 TEXT    NOT NULL UNIQUE,
    account_id         TEXT    NOT NULL REFERENCES accounts (id),
    status             TEXT    NOT NULL,
    identifiers        TEXT    NOT NULL,
    expires            INTEGER NOT NULL,
    not_before         INTEGER,
    not_after          INTEGER,
    error              TEXT,
    certificate_serial TEXT,
    created_at         INTEGER NOT NULL
);
CREATE INDEX orders_account ON orders (account_id, seq);

-- An order's authorizations, one per identifier, in identifier order. An authorization may be
-- shared by several orders (reuse, RFC 8555 §7.1.4).
CREATE TABLE order_authorizations (
    order_id         TEXT    NOT NULL REFERENCES orders (id),
    position         INTEGER NOT NULL,
    authorization_id TEXT    NOT NULL REFERENCES authorizations (id),
    PRIMARY KEY (order_id, position)
) WITHOUT ROWID;
CREATE INDEX order_authorization_authz ON order_authorizations (authorization_id);

-- Issued certificates. `serial` is lower-case hex and unique (BR §7.1: random serials).
CREATE TABLE certificates (
    serial            TEXT    PRIMARY KEY NOT NULL,
    account_id        TEXT    NOT NULL REFERENCES accounts (id),
    order_id          TEXT    NOT NULL REFERENCES orders (id),
    der               BLOB    NOT NULL,
    chain_pem         TEXT    NOT NULL,
    dns_names         TEXT    NOT NULL,
    not_before        INTEGER NOT NULL,
    not_after         INTEGER NOT NULL,
    revoked_at        INTEGER,
    revocation_reason INTEGER,
    CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL))
) WITHOUT ROWID;
CREATE INDEX certificate_revoked ON certificates (revoked_at, not_after);
CREATE INDEX certificate_order ON certificates (order_id);

-- RFC 5280 §5.2.3: the CRL number is monotonically increasing. One row, bumped by one UPDATE.
CREATE TABLE crl_number (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO crl_number (id, value) VALUES (1, 0);
