-- The ballot box of anonymous polls. Kept apart from the journal on purpose: who took
-- part (poll_voters) and what was chosen (poll_counts, poll_texts) share no row, no time
-- and no order. Keys are ids or random values, so no rowid reveals arrival order.
CREATE TABLE IF NOT EXISTS poll_voters (
    event_id       TEXT NOT NULL,
    poll_id        TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    PRIMARY KEY (event_id, poll_id, participant_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS poll_counts (
    event_id TEXT    NOT NULL,
    poll_id  TEXT    NOT NULL,
    room     TEXT    NOT NULL,
    option   TEXT    NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (event_id, poll_id, room, option)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS poll_texts (
    event_id TEXT NOT NULL,
    poll_id  TEXT NOT NULL,
    shuffle  TEXT NOT NULL,
    room     TEXT NOT NULL,
    text     TEXT NOT NULL,
    PRIMARY KEY (event_id, poll_id, shuffle)
) WITHOUT ROWID;
