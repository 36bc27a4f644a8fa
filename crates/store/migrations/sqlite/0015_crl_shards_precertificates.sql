-- CRL shards (RFC 5280 §5): each issuing intermediate's certificates are spread over a fixed
-- number of CRLs, each certificate's shard fixed at issuance and written in its CRL
-- distribution point. `issuer_id` is the intermediate's id (the first eight octets of its
-- certificate's SHA-256, hex); both columns NULL for certificates issued before shards, which
-- the unsharded CRL (`/crl`) keeps listing.
ALTER TABLE certificates ADD COLUMN issuer_id TEXT;
ALTER TABLE certificates ADD COLUMN crl_shard INTEGER;
-- The precertificate submitted to Certificate Transparency logs for the certificate (RFC 6962
-- §3.1), kept beside it when `[ct]` logs were configured at issuance.
ALTER TABLE certificates ADD COLUMN precertificate BLOB;
-- A shard's CRL reads only its own revoked certificates.
CREATE INDEX certificate_crl_shard ON certificates (issuer_id, crl_shard, not_after)
    WHERE revoked_at IS NOT NULL;

-- One row per CRL the instances share: the last one an instance signed, the revocation
-- generation of its scope (bumped by the statement that revokes one of its certificates; the
-- stored CRL is current while `der_generation` equals it) and the lease of the one instance
-- signing the next. The unsharded CRL is issuer_id '' and shard -1. Times: microseconds since
-- the Unix epoch.
CREATE TABLE crl_shards (
    issuer_id      TEXT    NOT NULL,
    shard          INTEGER NOT NULL,
    generation     INTEGER NOT NULL,
    der            BLOB,
    signed_at      INTEGER,
    der_generation INTEGER,
    lease_holder   TEXT,
    lease_until    INTEGER,
    PRIMARY KEY (issuer_id, shard)
) WITHOUT ROWID;
INSERT INTO crl_shards (issuer_id, shard, generation, der, signed_at, der_generation)
    SELECT '', -1, generation, der, signed_at, der_generation FROM crl_state;
-- `crl_state` is no longer read or written; it stays so that instances of the previous
-- version, still running between `ferrite migrate` and their replacement, keep revoking.
