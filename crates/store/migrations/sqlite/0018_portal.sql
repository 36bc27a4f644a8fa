-- The customer portal's sign-in sessions. A session is found by the SHA-256 of its cookie
-- token (hex): the token itself is never stored, so a copy of the database signs nobody in.
-- `csrf_token` is put in every form the session is shown and must come back with each POST.
-- Times: microseconds since the Unix epoch. Expired rows are deleted by housekeeping; signing
-- out deletes the row.
CREATE TABLE portal_sessions (
    token_hash    TEXT    PRIMARY KEY NOT NULL,
    credential_id TEXT    NOT NULL,
    csrf_token    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX portal_session_expiry ON portal_sessions (expires_at);

CREATE TRIGGER audit_portal_sign_in AFTER INSERT ON portal_sessions BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES (CAST(unixepoch('subsec') * 1000000 AS INTEGER), 'portal_signed_in', NEW.credential_id,
            json_object('expires_at', NEW.expires_at));
END;

-- When a challenge failed, for the portal's "validation failures by cause" chart: set by the
-- database (its clock, as the audit log's) when a challenge becomes invalid. NULL for
-- failures recorded before this column existed.
ALTER TABLE challenges ADD COLUMN failed_at INTEGER;
CREATE TRIGGER challenge_failed_at AFTER UPDATE OF status ON challenges
WHEN NEW.status = 'invalid' AND OLD.status IS NOT 'invalid' BEGIN
    UPDATE challenges SET failed_at = CAST(unixepoch('subsec') * 1000000 AS INTEGER)
    WHERE id = NEW.id;
END;
CREATE INDEX challenge_failed ON challenges (failed_at) WHERE failed_at IS NOT NULL;
