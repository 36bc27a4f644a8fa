-- Ferrite PostgreSQL schema, version 1: the same tables as the SQLite schema (version 6), for
-- several `ferrite serve` instances sharing one database.
--
-- Timestamps are BIGINT microseconds since the Unix epoch (UTC), as in SQLite, so both backends
-- store and return the same values. JSON columns hold serde_json text (kept byte for byte;
-- nothing queries inside them). Statuses hold the RFC 8555 §7.1.6 wire strings. Every integer
-- is BIGINT (one Rust type, i64, for every parameter of a prepared statement).
-- Tables listed "oldest first" or "newest first" carry `seq`, an identity column: a sequence
-- never hands out a value twice, so a pagination cursor stays valid.

-- The binding model (RFC 8555 §7.3.4): customer → api_credentials → eab_mac_keys → accounts.
-- Statuses are 'active' or 'disabled'; "expired" and "exhausted" are derived when read.
CREATE TABLE customers (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id         TEXT   PRIMARY KEY,
    name       TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- Only an argon2 hash (PHC string) of the secret is kept.
CREATE TABLE api_credentials (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id          TEXT   PRIMARY KEY,
    customer_id TEXT   NOT NULL REFERENCES customers (id),
    secret_hash TEXT   NOT NULL,
    status      TEXT   NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at  BIGINT NOT NULL
);
CREATE INDEX api_credential_customer ON api_credentials (customer_id);

-- The MAC key only sealed (AES-256-GCM under the KEK). `bindings_used` is bumped by the
-- statement that inserts the account it binds, guarded by `bindings_used < max_bindings`.
CREATE TABLE eab_mac_keys (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    kid           TEXT   PRIMARY KEY,
    credential_id TEXT   NOT NULL REFERENCES api_credentials (id),
    sealed_key    BYTEA  NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    max_bindings  BIGINT NOT NULL CHECK (max_bindings >= 0),
    bindings_used BIGINT NOT NULL DEFAULT 0 CHECK (bindings_used >= 0),
    status        TEXT   NOT NULL CHECK (status IN ('active', 'disabled'))
);
CREATE INDEX eab_mac_key_credential ON eab_mac_keys (credential_id, status);

-- RFC 8555 §7.1.2: accounts; one account per key (thumbprint UNIQUE, §7.3.1 and §7.3.5).
CREATE TABLE accounts (
    seq                     BIGINT  GENERATED ALWAYS AS IDENTITY UNIQUE,
    id                      TEXT    PRIMARY KEY,
    thumbprint              TEXT    NOT NULL UNIQUE,
    jwk                     TEXT    NOT NULL,
    contact                 TEXT    NOT NULL,
    status                  TEXT    NOT NULL,
    terms_of_service_agreed BOOLEAN NOT NULL,
    eab_kid                 TEXT,
    customer_id             TEXT    REFERENCES customers (id),
    created_at              BIGINT  NOT NULL
);
CREATE INDEX account_eab_kid ON accounts (eab_kid);
CREATE INDEX account_customer ON accounts (customer_id);

-- RFC 8555 §7.1.4: authorizations. `identifier_value` is the name without `*.`.
CREATE TABLE authorizations (
    id               TEXT    PRIMARY KEY,
    account_id       TEXT    NOT NULL REFERENCES accounts (id),
    identifier_type  TEXT    NOT NULL,
    identifier_value TEXT    NOT NULL,
    wildcard         BOOLEAN NOT NULL,
    status           TEXT    NOT NULL,
    expires          BIGINT  NOT NULL
);
CREATE INDEX authorization_account ON authorizations (account_id);

-- RFC 8555 §7.1.5: challenges, in the order they are offered (`position`).
CREATE TABLE challenges (
    id               TEXT   PRIMARY KEY,
    authorization_id TEXT   NOT NULL REFERENCES authorizations (id),
    position         BIGINT NOT NULL,
    kind             TEXT   NOT NULL,
    token            TEXT   NOT NULL,
    status           TEXT   NOT NULL,
    validated        BIGINT,
    error            TEXT,
    record           TEXT,
    lease_until      BIGINT,
    UNIQUE (authorization_id, position)
);
-- The reaper looks for processing challenges by lease; nothing else is ever in this index.
CREATE INDEX challenge_lease ON challenges (lease_until) WHERE status = 'processing';

-- RFC 8555 §7.1.3: orders. Listed newest first per account (§7.1.2.1) by `seq`.
CREATE TABLE orders (
    seq                BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id                 TEXT   PRIMARY KEY,
    account_id         TEXT   NOT NULL REFERENCES accounts (id),
    status             TEXT   NOT NULL,
    identifiers        TEXT   NOT NULL,
    expires            BIGINT NOT NULL,
    not_before         BIGINT,
    not_after          BIGINT,
    error              TEXT,
    certificate_serial TEXT,
    created_at         BIGINT NOT NULL
);
CREATE INDEX orders_account ON orders (account_id, seq);

-- An order's authorizations, one per identifier, in identifier order. An authorization may be
-- shared by several orders (reuse, RFC 8555 §7.1.4).
CREATE TABLE order_authorizations (
    order_id         TEXT   NOT NULL REFERENCES orders (id),
    position         BIGINT NOT NULL,
    authorization_id TEXT   NOT NULL REFERENCES authorizations (id),
    PRIMARY KEY (order_id, position)
);
CREATE INDEX order_authorization_authz ON order_authorizations (authorization_id);

-- Issued certificates. `serial` is lower-case hex and unique (BR §7.1: random serials): the
-- primary key, so two instances can never store one serial twice.
CREATE TABLE certificates (
    serial            TEXT   PRIMARY KEY,
    account_id        TEXT   NOT NULL REFERENCES accounts (id),
    order_id          TEXT   NOT NULL REFERENCES orders (id),
    der               BYTEA  NOT NULL,
    chain_pem         TEXT   NOT NULL,
    dns_names         TEXT   NOT NULL,
    not_before        BIGINT NOT NULL,
    not_after         BIGINT NOT NULL,
    revoked_at        BIGINT,
    revocation_reason BIGINT,
    CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL))
);
CREATE INDEX certificate_revoked ON certificates (revoked_at, not_after)
    WHERE revoked_at IS NOT NULL;
CREATE INDEX certificate_order ON certificates (order_id);

-- RFC 5280 §5.2.3: the CRL number is monotonically increasing. One row, bumped by one UPDATE.
CREATE TABLE crl_number (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO crl_number (id, value) VALUES (1, 0);

-- Domain validations kept for reuse and as evidence (CA/B Forum BR §4.2.1, §3.2.2.4), written
-- by the statement that records a successful validation. They belong to the customer
-- (`customer_id`); an account without a customer owns its own (`customer_id` NULL).
CREATE TABLE domain_validations (
    seq              BIGINT  GENERATED ALWAYS AS IDENTITY UNIQUE,
    id               TEXT    PRIMARY KEY,
    customer_id      TEXT    REFERENCES customers (id),
    account_id       TEXT    NOT NULL REFERENCES accounts (id),
    domain           TEXT    NOT NULL,
    wildcard         BOOLEAN NOT NULL,
    method           TEXT    NOT NULL,
    validated_at     BIGINT  NOT NULL,
    reuse_until      BIGINT  NOT NULL,
    authorization_id TEXT    NOT NULL REFERENCES authorizations (id),
    record           TEXT    NOT NULL
);
CREATE INDEX domain_validation_customer
    ON domain_validations (customer_id, domain, validated_at);
CREATE INDEX domain_validation_account
    ON domain_validations (account_id, domain, validated_at);

-- RFC 8555 §6.5: the key every instance authenticates nonces with (`ferrite_core::nonce`);
-- the first instance to start stores it. A secret: whoever has it can mint nonces.
CREATE TABLE nonce_key (
    id  BIGINT PRIMARY KEY CHECK (id = 1),
    key BYTEA  NOT NULL
);

-- Nonces that have been used, until they expire: one insert-if-absent per redemption, so any
-- instance redeems any instance's nonce exactly once. Ordered by expiry, so the purge deletes
-- a range from the front.
CREATE TABLE used_nonces (
    expires BIGINT NOT NULL,
    value   TEXT   NOT NULL,
    PRIMARY KEY (expires, value)
);
