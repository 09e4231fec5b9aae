-- PostgreSQL twin of migrations/001_init.sql: the event index (keys live here, never in
-- the journal) and the journal itself. Column types mirror SQLite's, so a row reads back
-- the same (data is the entry's JSON text exactly as written, not jsonb).
CREATE TABLE IF NOT EXISTS events (
    id              text PRIMARY KEY,
    title           text NOT NULL,
    created_at      text NOT NULL,
    participant_key text NOT NULL,
    moderator_key   text NOT NULL,
    status          text NOT NULL DEFAULT 'open',
    -- creation order for ties of created_at (SQLite's rowid); never shown
    created_order   bigint GENERATED ALWAYS AS IDENTITY
);

CREATE TABLE IF NOT EXISTS journal (
    event_id text   NOT NULL,
    seq      bigint NOT NULL,
    kind     text   NOT NULL,
    at       text   NOT NULL,
    room     text,
    audience text   NOT NULL,
    "to"     text,
    actor    text,
    data     text   NOT NULL,
    -- one row per (event, seq): a second writer of the same seq fails here (StoreConflict)
    PRIMARY KEY (event_id, seq)
);
