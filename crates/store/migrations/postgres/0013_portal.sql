-- The customer portal's sign-in sessions. A session is found by the SHA-256 of its cookie
-- token (hex): the token itself is never stored, so a copy of the database signs nobody in.
-- `csrf_token` is put in every form the session is shown and must come back with each POST.
-- Times: microseconds since the Unix epoch. Expired rows are deleted by housekeeping; signing
-- out deletes the row.
CREATE TABLE portal_sessions (
    token_hash    TEXT   PRIMARY KEY,
    credential_id TEXT   NOT NULL,
    csrf_token    TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX portal_session_expiry ON portal_sessions (expires_at);

CREATE FUNCTION audit_portal_sessions() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    PERFORM audit_append('portal_signed_in', NEW.credential_id,
        json_build_object('expires_at', NEW.expires_at));
    RETURN NULL;
END;
$$;
CREATE TRIGGER audit_portal_sessions AFTER INSERT ON portal_sessions
    FOR EACH ROW EXECUTE FUNCTION audit_portal_sessions();

-- When a challenge failed, for the portal's "validation failures by cause" chart: set by the
-- database (its clock, as the audit log's) when a challenge becomes invalid. NULL for
-- failures recorded before this column existed.
ALTER TABLE challenges ADD COLUMN failed_at BIGINT;
CREATE FUNCTION challenge_failed_at() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'invalid' AND OLD.status IS DISTINCT FROM 'invalid' THEN
        NEW.failed_at := (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER challenge_failed_at BEFORE UPDATE OF status ON challenges
    FOR EACH ROW EXECUTE FUNCTION challenge_failed_at();
CREATE INDEX challenge_failed ON challenges (failed_at) WHERE failed_at IS NOT NULL;
