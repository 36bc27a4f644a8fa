-- The audit log: every change an auditor asks about, appended by triggers in the transaction
-- that makes the change (a change is never without its entry, nor an entry without its
-- change). Entries are then sealed in order into a hash chain (`chain` 1, 2, …; `hash` the
-- SHA-256 of the previous entry's hash and this entry's fields, see `core::audit`) by
-- housekeeping, so that an edit, a deletion or a reordering of a sealed entry is detected by
-- `ferrite audit verify`. Times: microseconds since the Unix epoch. Entries are never updated
-- but to seal them, and never deleted.
CREATE TABLE audit_log (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    event   TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    details TEXT    NOT NULL,
    chain   INTEGER UNIQUE,
    hash    TEXT
);
CREATE INDEX audit_unsealed ON audit_log (seq) WHERE chain IS NULL;
CREATE INDEX audit_at ON audit_log (at);

CREATE TRIGGER audit_customer_created AFTER INSERT ON customers BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'customer_created', NEW.id,
            json_object('name', NEW.name));
END;
CREATE TRIGGER audit_customer_suspension AFTER UPDATE OF suspended_at ON customers
WHEN NEW.suspended_at IS NOT OLD.suspended_at BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER),
            CASE WHEN NEW.suspended_at IS NULL THEN 'customer_resumed' ELSE 'customer_suspended' END,
            NEW.id, json_object('name', NEW.name, 'reason', NEW.suspended_reason));
END;
CREATE TRIGGER audit_customer_profiles AFTER UPDATE OF allowed_profiles ON customers
WHEN NEW.allowed_profiles IS NOT OLD.allowed_profiles BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'customer_profiles_changed', NEW.id,
            json_object('name', NEW.name, 'profiles', json(NEW.allowed_profiles)));
END;
CREATE TRIGGER audit_credential_created AFTER INSERT ON api_credentials BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'credential_created', NEW.id,
            json_object('customer', NEW.customer_id));
END;
CREATE TRIGGER audit_credential_status AFTER UPDATE OF status ON api_credentials
WHEN NEW.status IS NOT OLD.status BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'credential_' || NEW.status, NEW.id,
            json_object('customer', NEW.customer_id));
END;
CREATE TRIGGER audit_mac_key_created AFTER INSERT ON eab_mac_keys BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'mac_key_created', NEW.kid,
            json_object('credential', NEW.credential_id, 'expires_at', NEW.expires_at,
                        'max_bindings', NEW.max_bindings));
END;
CREATE TRIGGER audit_mac_key_status AFTER UPDATE OF status ON eab_mac_keys
WHEN NEW.status IS NOT OLD.status BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'mac_key_' || NEW.status, NEW.kid,
            json_object('credential', NEW.credential_id, 'bindings_used', NEW.bindings_used));
END;
CREATE TRIGGER audit_account_created AFTER INSERT ON accounts BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER),
            CASE WHEN NEW.eab_kid IS NULL THEN 'account_created' ELSE 'account_bound' END,
            NEW.id,
            json_object('customer', NEW.customer_id, 'mac_key', NEW.eab_kid,
                        'thumbprint', NEW.thumbprint));
END;
CREATE TRIGGER audit_account_status AFTER UPDATE OF status ON accounts
WHEN NEW.status IS NOT OLD.status BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'account_' || NEW.status, NEW.id,
            json_object('customer', NEW.customer_id));
END;
CREATE TRIGGER audit_account_key AFTER UPDATE OF thumbprint ON accounts
WHEN NEW.thumbprint IS NOT OLD.thumbprint BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'account_key_changed', NEW.id,
            json_object('customer', NEW.customer_id, 'old_thumbprint', OLD.thumbprint,
                        'thumbprint', NEW.thumbprint));
END;
CREATE TRIGGER audit_certificate_issued AFTER INSERT ON certificates BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'certificate_issued', NEW.serial,
            json_object('names', json(NEW.dns_names), 'account', NEW.account_id,
                        'order', NEW.order_id, 'issuer', NEW.issuer_id,
                        'profile', (SELECT profile FROM orders WHERE id = NEW.order_id),
                        'not_after', NEW.not_after));
END;
CREATE TRIGGER audit_certificate_revoked AFTER UPDATE OF revoked_at ON certificates
WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'certificate_revoked', NEW.serial,
            json_object('reason', NEW.revocation_reason, 'account', NEW.account_id));
END;
CREATE TRIGGER audit_certificate_renewal AFTER UPDATE OF renewal_advanced_at ON certificates
WHEN NEW.renewal_advanced_at IS NOT OLD.renewal_advanced_at BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'certificate_renewal_advanced',
            NEW.serial, json_object('explanation_url', NEW.renewal_explanation_url));
END;
CREATE TRIGGER audit_limit_set AFTER INSERT ON rate_limit_overrides BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'customer_limit_set', NEW.customer_id,
            json_object('limit', NEW.limit_name, 'value', NEW.value));
END;
CREATE TRIGGER audit_limit_changed AFTER UPDATE ON rate_limit_overrides
WHEN NEW.value IS NOT OLD.value BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'customer_limit_set', NEW.customer_id,
            json_object('limit', NEW.limit_name, 'value', NEW.value));
END;
CREATE TRIGGER audit_limit_removed AFTER DELETE ON rate_limit_overrides BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'customer_limit_removed',
            OLD.customer_id, json_object('limit', OLD.limit_name));
END;
CREATE TRIGGER audit_key_blocked AFTER INSERT ON blocked_keys BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'key_blocked', NEW.spki_sha256,
            json_object('reason', NEW.reason, 'serial', NEW.serial));
END;
CREATE TRIGGER audit_key_unblocked AFTER DELETE ON blocked_keys BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'key_unblocked', OLD.spki_sha256,
            json_object('reason', OLD.reason));
END;
CREATE TRIGGER audit_ca_certificate AFTER INSERT ON ca_certificates BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'ca_certificate_recorded', NEW.sha256,
            json_object('role', NEW.role));
END;
