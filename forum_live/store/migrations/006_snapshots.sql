-- The last snapshot of each event's state (issue 12): a cache that reloading an unloaded
-- event starts from, then the journal after `seq`. Never the truth: without it (or with
-- one that does not fit the code) the journal is folded from the start. It holds nothing
-- of the ballot box (no voter, count or answer of an anonymous poll).
CREATE TABLE IF NOT EXISTS snapshots (
    event_id TEXT    PRIMARY KEY,
    seq      INTEGER NOT NULL,
    data     BLOB    NOT NULL
) WITHOUT ROWID;
