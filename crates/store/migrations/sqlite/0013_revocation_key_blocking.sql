-- Ferrite SQLite schema, version 13: revocation by the operator and blocked keys.

-- SHA-256 of each certificate's SubjectPublicKeyInfo (lower-case hex), recorded at issuance so
-- that `ferrite cert revoke --key-spki` finds a key's certificates. NULL for certificates
-- stored before: those are checked by their DER.
ALTER TABLE certificates ADD COLUMN spki_sha256 TEXT;
CREATE INDEX certificate_spki ON certificates (spki_sha256);

-- Keys reported compromised (a keyCompromise revocation, `ferrite key block`): CSRs and
-- account keys with one get badPublicKey.
CREATE TABLE blocked_keys (
    spki_sha256 TEXT    PRIMARY KEY NOT NULL,
    blocked_at  INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    serial      TEXT
) WITHOUT ROWID;
