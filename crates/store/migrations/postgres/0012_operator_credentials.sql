-- Operator credentials: admin API credentials of the CA's operator, tied to no customer (what
-- `ferrite credential create --operator` makes). Kept apart from `api_credentials`, whose rows
-- each belong to a customer and hold its MAC keys: an operator credential holds no MAC key
-- (`eab_mac_keys.credential_id` references `api_credentials` only), so it binds no ACME
-- account. Only an argon2 hash (PHC string) of the secret is kept. Its changes are audited as
-- those of `api_credentials` are (0011).
CREATE TABLE operator_credentials (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id          TEXT   PRIMARY KEY,
    secret_hash TEXT   NOT NULL,
    status      TEXT   NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at  BIGINT NOT NULL
);

CREATE FUNCTION audit_operator_credentials() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit_append('operator_credential_created', NEW.id,
            json_build_object('role', 'operator'));
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        PERFORM audit_append('operator_credential_' || NEW.status, NEW.id,
            json_build_object('role', 'operator'));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_operator_credentials AFTER INSERT OR UPDATE ON operator_credentials
    FOR EACH ROW EXECUTE FUNCTION audit_operator_credentials();
