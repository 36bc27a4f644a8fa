-- `audit_append` in PL/pgSQL rather than SQL. PostgreSQL parses and plans a SQL-language
-- function's body again on every call from a trigger, while PL/pgSQL keeps the plan of its
-- INSERT for the session: every audited change (an account bound, a certificate issued)
-- costs the insert alone. Same signature and behaviour, so the triggers are unchanged.
CREATE OR REPLACE FUNCTION audit_append(event TEXT, subject TEXT, details JSON) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES ((extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT, event, subject,
            details::TEXT);
END $$;
