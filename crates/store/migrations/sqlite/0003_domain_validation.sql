-- Ferrite SQLite schema, version 3: domain validations kept for reuse and as evidence
-- (CA/B Forum BR §4.2.1, §3.2.2.4; DESIGN §3 `domain_validation`).
--
-- One row per successful validation, written in the transaction that records the result on
-- the challenge. Validations belong to the customer (`customer_id`): any account of the
-- customer may reuse them. An account without a customer owns its own (`customer_id` NULL,
-- looked up by `account_id`). `reuse_until` is the window computed when the row was written;
-- new orders recompute it against the policy in force. `record` is the validator's evidence
-- (method, addresses resolved and contacted, DNS answers), JSON.
CREATE TABLE domain_validations (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT    NOT NULL UNIQUE,
    customer_id      TEXT    REFERENCES customers (id),
    account_id       TEXT    NOT NULL REFERENCES accounts (id),
    domain           TEXT    NOT NULL,
    wildcard         INTEGER NOT NULL,
    method           TEXT    NOT NULL,
    validated_at     INTEGER NOT NULL,
    reuse_until      INTEGER NOT NULL,
    authorization_id TEXT    NOT NULL REFERENCES authorizations (id),
    record           TEXT    NOT NULL
);
CREATE INDEX domain_validation_customer
    ON domain_validations (customer_id, domain, validated_at);
CREATE INDEX domain_validation_account
    ON domain_validations (account_id, domain, validated_at);
