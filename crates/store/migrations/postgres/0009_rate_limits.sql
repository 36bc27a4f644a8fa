-- Ferrite PostgreSQL schema, version 9: rate limits shared by every instance.

-- One row per limited thing (a limit's name, its value and what it is counted for, e.g.
-- `new_orders_per_account:300:ACCOUNT`): the GCRA theoretical arrival time `tat` (microseconds
-- since the epoch). A request is allowed while max(tat, now) + increment stays within the
-- limit's tolerance of now, and then moves `tat` on by the increment in the same statement,
-- so two instances can never both spend the last allowance. A row whose `tat` is past is
-- the same as no row; housekeeping deletes those (`rate_limit_tat`).
CREATE TABLE rate_limits (
    key TEXT   PRIMARY KEY,
    tat BIGINT NOT NULL
);
CREATE INDEX rate_limit_tat ON rate_limits (tat);

-- A customer's own value of a limit (`ferrite customer set-limit`), replacing the configured
-- one for its accounts; 0 turns the limit off for them.
CREATE TABLE rate_limit_overrides (
    customer_id TEXT   NOT NULL REFERENCES customers (id),
    limit_name  TEXT   NOT NULL,
    value       BIGINT NOT NULL,
    PRIMARY KEY (customer_id, limit_name)
);

-- newOrder counts an account's pending authorizations
-- (`rate_limits.pending_authorizations_per_account`).
CREATE INDEX authorization_pending ON authorizations (account_id, status, expires);
