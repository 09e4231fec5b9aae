-- Twin of migrations/008_minutes_files.sql: the bytes of every approved minutes version,
-- rendered once at approval and keyed by their SHA-256 (named by the journal's
-- `minutes.approved` entry). Erased with the event.
CREATE TABLE IF NOT EXISTS minutes_files (
    event_id text  NOT NULL,
    sha256   text  NOT NULL,
    data     bytea NOT NULL,
    PRIMARY KEY (event_id, sha256)
);
