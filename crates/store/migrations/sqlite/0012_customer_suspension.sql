-- Ferrite SQLite schema, version 12: a customer suspended by the operator (`ferrite customer
-- suspend`): its ACME accounts get `unauthorized`, its MAC keys bind nothing, its API
-- credentials are refused, until `ferrite customer resume` clears both columns.

-- When the operator suspended the customer (microseconds since the epoch); NULL: in service.
ALTER TABLE customers ADD COLUMN suspended_at INTEGER;
-- The operator's reason, shown to operators only.
ALTER TABLE customers ADD COLUMN suspended_reason TEXT;
