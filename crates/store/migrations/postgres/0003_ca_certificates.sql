-- The CA certificates the deployment serves, by SHA-256 fingerprint (openssl's form): one root,
-- recorded by the first instance to start (an instance under another root is refused at start),
-- and every intermediate under it an instance has served (an operator rolls a new one through
-- the instances one by one). recorded_at: microseconds since the Unix epoch.
CREATE TABLE ca_certificates (
    sha256      TEXT   PRIMARY KEY,
    role        TEXT   NOT NULL CHECK (role IN ('root', 'intermediate')),
    recorded_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ca_certificates_one_root ON ca_certificates (role) WHERE role = 'root';
