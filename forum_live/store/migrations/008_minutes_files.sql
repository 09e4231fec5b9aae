-- The bytes of every approved minutes version, rendered once at approval (issue 16), so
-- `?version=N` downloads the same bytes forever, whatever later code renders. Keyed by
-- the SHA-256 of the bytes, which the journal's `minutes.approved` entry names per format
-- and language: the journal stays the truth, this table only keeps what it names. Erased
-- with the event.
CREATE TABLE IF NOT EXISTS minutes_files (
    event_id TEXT NOT NULL,
    sha256   TEXT NOT NULL,
    data     BLOB NOT NULL,
    PRIMARY KEY (event_id, sha256)
) WITHOUT ROWID;
