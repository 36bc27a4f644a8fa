-- Ferrite SQLite schema, version 10: certificate profiles (draft-ietf-acme-profiles) and
-- renewal information (RFC 9773).

-- The profile finalize issues under, fixed at newOrder (NULL: the default at finalize), and
-- the canonical certID of the certificate the order replaces.
ALTER TABLE orders ADD COLUMN profile TEXT;
ALTER TABLE orders ADD COLUMN replaces TEXT;
-- Whether a live order already replaces a certificate (newOrder with `replaces`).
CREATE INDEX order_replaces ON orders (replaces) WHERE replaces IS NOT NULL;

-- `ferrite ari advance`: when the operator pulled the renewal window forward, and why.
ALTER TABLE certificates ADD COLUMN renewal_advanced_at INTEGER;
ALTER TABLE certificates ADD COLUMN renewal_explanation_url TEXT;
-- `ferrite ari advance --customer`: a customer's certificates through its accounts.
CREATE INDEX certificate_account ON certificates (account_id, not_after);

-- The profiles a customer's accounts may order: a JSON array of names; NULL: all offered.
ALTER TABLE customers ADD COLUMN allowed_profiles TEXT;
