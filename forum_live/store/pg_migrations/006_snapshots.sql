-- Twin of migrations/006_snapshots.sql: the last snapshot of each event's state, a cache
-- that reloading starts from (then the journal after `seq`). Never the truth, and nothing
-- of the ballot box in it.
CREATE TABLE IF NOT EXISTS snapshots (
    event_id text   PRIMARY KEY,
    seq      bigint NOT NULL,
    data     bytea  NOT NULL
);
