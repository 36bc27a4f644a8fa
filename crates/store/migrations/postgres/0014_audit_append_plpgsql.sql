-- audit_append in PL/pgSQL: its INSERT is planned once per connection and kept, where
-- PostgreSQL 15 (Debian 12's) plans a SQL function's body again at every call from a trigger
-- (a cost paid by every account, certificate and other audited change).
CREATE OR REPLACE FUNCTION audit_append(event TEXT, subject TEXT, details JSON) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (at, event, subject, details)
    VALUES ((extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT, event, subject,
            details::TEXT);
END $$;
