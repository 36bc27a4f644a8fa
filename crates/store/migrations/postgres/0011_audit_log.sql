-- The audit log: every change an auditor asks about, appended by triggers in the transaction
-- that makes the change (a change is never without its entry, nor an entry without its
-- change). Entries are then sealed in order into a hash chain (`chain` 1, 2, …; `hash` the
-- SHA-256 of the previous entry's hash and this entry's fields, see `core::audit`) by
-- housekeeping, so that an edit, a deletion or a reordering of a sealed entry is detected by
-- `ferrite audit verify`. Times: microseconds since the Unix epoch. Entries are never updated
-- but to seal them, and never deleted.
CREATE TABLE audit_log (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      BIGINT NOT NULL,
    event   TEXT   NOT NULL,
    subject TEXT   NOT NULL,
    details TEXT   NOT NULL,
    chain   BIGINT UNIQUE,
    hash    TEXT
);
CREATE INDEX audit_unsealed ON audit_log (seq) WHERE chain IS NULL;
CREATE INDEX audit_at ON audit_log (at);

CREATE FUNCTION audit_append(event TEXT, subject TEXT, details JSON) RETURNS VOID
LANGUAGE SQL AS $$
    INSERT INTO audit_log (at, event, subject, details)
    VALUES ((extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT, event, subject,
            details::TEXT);
$$;

CREATE FUNCTION audit_customers() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit_append('customer_created', NEW.id, json_build_object('name', NEW.name));
    ELSE
        IF NEW.suspended_at IS DISTINCT FROM OLD.suspended_at THEN
            PERFORM audit_append(
                CASE WHEN NEW.suspended_at IS NULL THEN 'customer_resumed'
                     ELSE 'customer_suspended' END,
                NEW.id, json_build_object('name', NEW.name, 'reason', NEW.suspended_reason));
        END IF;
        IF NEW.allowed_profiles IS DISTINCT FROM OLD.allowed_profiles THEN
            PERFORM audit_append('customer_profiles_changed', NEW.id,
                json_build_object('name', NEW.name, 'profiles', NEW.allowed_profiles::JSON));
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_customers AFTER INSERT OR UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION audit_customers();

CREATE FUNCTION audit_api_credentials() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit_append('credential_created', NEW.id,
            json_build_object('customer', NEW.customer_id));
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        PERFORM audit_append('credential_' || NEW.status, NEW.id,
            json_build_object('customer', NEW.customer_id));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_api_credentials AFTER INSERT OR UPDATE ON api_credentials
    FOR EACH ROW EXECUTE FUNCTION audit_api_credentials();

CREATE FUNCTION audit_eab_mac_keys() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit_append('mac_key_created', NEW.kid,
            json_build_object('credential', NEW.credential_id, 'expires_at', NEW.expires_at,
                              'max_bindings', NEW.max_bindings));
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        PERFORM audit_append('mac_key_' || NEW.status, NEW.kid,
            json_build_object('credential', NEW.credential_id,
                              'bindings_used', NEW.bindings_used));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_eab_mac_keys AFTER INSERT OR UPDATE ON eab_mac_keys
    FOR EACH ROW EXECUTE FUNCTION audit_eab_mac_keys();

CREATE FUNCTION audit_accounts() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit_append(
            CASE WHEN NEW.eab_kid IS NULL THEN 'account_created' ELSE 'account_bound' END,
            NEW.id,
            json_build_object('customer', NEW.customer_id, 'mac_key', NEW.eab_kid,
                              'thumbprint', NEW.thumbprint));
    ELSE
        IF NEW.status IS DISTINCT FROM OLD.status THEN
            PERFORM audit_append('account_' || NEW.status, NEW.id,
                json_build_object('customer', NEW.customer_id));
        END IF;
        IF NEW.thumbprint IS DISTINCT FROM OLD.thumbprint THEN
            PERFORM audit_append('account_key_changed', NEW.id,
                json_build_object('customer', NEW.customer_id,
                                  'old_thumbprint', OLD.thumbprint,
                                  'thumbprint', NEW.thumbprint));
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_accounts AFTER INSERT OR UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION audit_accounts();

CREATE FUNCTION audit_certificates() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit_append('certificate_issued', NEW.serial,
            json_build_object('names', NEW.dns_names::JSON, 'account', NEW.account_id,
                              'order', NEW.order_id, 'issuer', NEW.issuer_id,
                              'profile', (SELECT profile FROM orders WHERE id = NEW.order_id),
                              'not_after', NEW.not_after));
    ELSE
        IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
            PERFORM audit_append('certificate_revoked', NEW.serial,
                json_build_object('reason', NEW.revocation_reason, 'account', NEW.account_id));
        END IF;
        IF NEW.renewal_advanced_at IS DISTINCT FROM OLD.renewal_advanced_at THEN
            PERFORM audit_append('certificate_renewal_advanced', NEW.serial,
                json_build_object('explanation_url', NEW.renewal_explanation_url));
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_certificates AFTER INSERT OR UPDATE ON certificates
    FOR EACH ROW EXECUTE FUNCTION audit_certificates();

CREATE FUNCTION audit_rate_limit_overrides() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM audit_append('customer_limit_removed', OLD.customer_id,
            json_build_object('limit', OLD.limit_name));
    ELSIF TG_OP = 'INSERT' OR NEW.value IS DISTINCT FROM OLD.value THEN
        PERFORM audit_append('customer_limit_set', NEW.customer_id,
            json_build_object('limit', NEW.limit_name, 'value', NEW.value));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_rate_limit_overrides AFTER INSERT OR UPDATE OR DELETE
    ON rate_limit_overrides FOR EACH ROW EXECUTE FUNCTION audit_rate_limit_overrides();

CREATE FUNCTION audit_blocked_keys() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit_append('key_blocked', NEW.spki_sha256,
            json_build_object('reason', NEW.reason, 'serial', NEW.serial));
    ELSE
        PERFORM audit_append('key_unblocked', OLD.spki_sha256,
            json_build_object('reason', OLD.reason));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_blocked_keys AFTER INSERT OR DELETE ON blocked_keys
    FOR EACH ROW EXECUTE FUNCTION audit_blocked_keys();

CREATE FUNCTION audit_ca_certificates() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    PERFORM audit_append('ca_certificate_recorded', NEW.sha256,
        json_build_object('role', NEW.role));
    RETURN NULL;
END $$;
CREATE TRIGGER audit_ca_certificates AFTER INSERT ON ca_certificates
    FOR EACH ROW EXECUTE FUNCTION audit_ca_certificates();
