-- Operator credentials: admin API credentials of the CA's operator, tied to no customer (what
-- `ferrite credential create --operator` makes). Kept apart from `api_credentials`, whose rows
-- each belong to a customer and hold its MAC keys: an operator credential holds no MAC key
-- (`eab_mac_keys.credential_id` references `api_credentials` only), so it binds no ACME
-- account. Only an argon2 hash (PHC string) of the secret is kept. Its changes are audited as
-- those of `api_credentials` are (0016).
CREATE TABLE operator_credentials (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    secret_hash TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at  INTEGER NOT NULL
);

CREATE TRIGGER audit_operator_credential_created AFTER INSERT ON operator_credentials BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'operator_credential_created',
            NEW.id, json_object('role', 'operator'));
END;
CREATE TRIGGER audit_operator_credential_status AFTER UPDATE OF status ON operator_credentials
WHEN NEW.status IS NOT OLD.status BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER),
            'operator_credential_' || NEW.status, NEW.id, json_object('role', 'operator'));
END;
