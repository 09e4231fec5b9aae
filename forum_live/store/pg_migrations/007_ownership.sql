-- The cluster (FORUM_REDIS_URL, issue 14; PostgreSQL only, SQLite has no twin): one owner
-- node per event holds a lease and an epoch (fencing token). Taking an event over raises
-- the epoch; an append names the epoch of its writer and is refused (in the transaction,
-- under a share lock of this row) unless that epoch is still the current one, so an owner
-- that was paused past its lease can never commit after a takeover.
CREATE TABLE IF NOT EXISTS event_owners (
    event_id    text        PRIMARY KEY,
    node        text        NOT NULL,
    epoch       bigint      NOT NULL,
    lease_until timestamptz NOT NULL
);
