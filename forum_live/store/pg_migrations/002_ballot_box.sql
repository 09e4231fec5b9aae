-- The ballot box of anonymous polls (twin of migrations/002_ballot_box.sql). Who took part
-- (poll_voters) and what was chosen (poll_counts, poll_texts) share no row, no time and no
-- order: no timestamps, no serial ids; poll_texts is keyed by a random value.
-- (Physical order and the hidden xmin of rows do follow arrival while a poll is open;
-- PostgresStore.reseal rewrites a closed poll's rows in random order in one transaction
-- and then VACUUM FULL drops the old row versions.)
CREATE TABLE IF NOT EXISTS poll_voters (
    event_id       text NOT NULL,
    poll_id        text NOT NULL,
    participant_id text NOT NULL,
    PRIMARY KEY (event_id, poll_id, participant_id)
);

CREATE TABLE IF NOT EXISTS poll_counts (
    event_id text   NOT NULL,
    poll_id  text   NOT NULL,
    room     text   NOT NULL,
    option   text   NOT NULL,
    n        bigint NOT NULL,
    PRIMARY KEY (event_id, poll_id, room, option)
);

CREATE TABLE IF NOT EXISTS poll_texts (
    event_id text NOT NULL,
    poll_id  text NOT NULL,
    shuffle  text NOT NULL,
    room     text NOT NULL,
    text     text NOT NULL,
    PRIMARY KEY (event_id, poll_id, shuffle)
);
