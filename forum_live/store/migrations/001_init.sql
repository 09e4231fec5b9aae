-- The event index (keys live here, never in the journal) and the journal itself.
CREATE TABLE IF NOT EXISTS events (
    id              TEXT PRIMARY KEY,
    title           TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    participant_key TEXT NOT NULL,
    moderator_key   TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'open'
);

CREATE TABLE IF NOT EXISTS journal (
    event_id TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    at       TEXT    NOT NULL,
    room     TEXT,
    audience TEXT    NOT NULL,
    "to"     TEXT,
    actor    TEXT,
    data     TEXT    NOT NULL,
    PRIMARY KEY (event_id, seq)
) WITHOUT ROWID;
