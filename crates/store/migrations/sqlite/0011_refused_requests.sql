-- The support trail: requests answered with a problem document (any 4xx or 5xx), kept for 30
-- days (housekeeping deletes older ones) so that a request id a customer quotes leads to why it
-- was refused. No secret is kept: the detail is the one the client was sent.
-- Times: microseconds since the Unix epoch.
CREATE TABLE refused_requests (
    request_id  TEXT PRIMARY KEY,
    at          INTEGER NOT NULL,
    listener    TEXT NOT NULL,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      INTEGER NOT NULL,
    problem     TEXT NOT NULL,
    detail      TEXT NOT NULL,
    account_id  TEXT,
    customer_id TEXT,
    client      TEXT
);
CREATE INDEX refused_requests_at ON refused_requests (at);
