-- Ferrite PostgreSQL schema, version 2: an order in `processing` carries the lease of the
-- finalize that moved it there. An instance that dies mid-issuance leaves the order
-- `processing`; housekeeping hands orders whose lease expired back to `pending` (the client
-- finalizes again), and a late result of the dead issuance no longer matches the lease and is
-- not recorded.
ALTER TABLE orders ADD COLUMN finalize_lease_until BIGINT;

-- Housekeeping looks for processing orders by lease; nothing else is ever in this index.
CREATE INDEX order_finalize_lease ON orders (finalize_lease_until) WHERE status = 'processing';
