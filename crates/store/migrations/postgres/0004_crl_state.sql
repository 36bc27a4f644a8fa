-- The CRL the instances share (RFC 5280 §5): the last one an instance signed, and the lease of
-- the one instance signing the next, so that several instances do not each sign their own
-- (each with a CRL number of its own). `generation` counts revocations (bumped by the
-- statement that revokes); the stored CRL is current while `der_generation` equals it.
-- Times: microseconds since the Unix epoch.
CREATE TABLE crl_state (
    id             BIGINT PRIMARY KEY CHECK (id = 1),
    generation     BIGINT NOT NULL,
    der            BYTEA,
    signed_at      BIGINT,
    der_generation BIGINT,
    lease_holder   TEXT,
    lease_until    BIGINT
);
INSERT INTO crl_state (id, generation) VALUES (1, 0);
