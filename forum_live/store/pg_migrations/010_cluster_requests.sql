-- The cluster (issue 14, PostgreSQL only): the outcome of each command a follower node
-- forwarded to an event's owner, so a reply lost on its way back (Redis restarted) does
-- not turn an applied action into `unavailable`, and a request its asker gave up on can
-- never be applied after all. One row per request id (random, from the asking node):
--   done       the owner applied it; written in the same transaction as its entries
--              (forwarded HTTP requests: once the owner's app answered), `reply` is the
--              reply the asker would have got
--   started    a forwarded HTTP request the owner is running (its outcome comes later)
--   abandoned  the asker got no reply in time and said `unavailable`; the owner's commit of
--              the same id now fails on the primary key, so it is never applied
-- `until` is the asker's deadline; a request is applied only within 10 minutes of it (the
-- CHECK, on the database's clock), so forgetting rows an hour after it (Cluster's lease
-- round) can never let a late commit through.
CREATE TABLE IF NOT EXISTS cluster_requests (
    id       text        PRIMARY KEY,
    event_id text        NOT NULL,
    until    timestamptz NOT NULL,
    state    text        NOT NULL CHECK (state IN ('done', 'started', 'abandoned')),
    reply    text,
    at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT applied_in_time CHECK (state = 'abandoned' OR at < until + interval '10 minutes')
);
CREATE INDEX IF NOT EXISTS cluster_requests_until ON cluster_requests (until);
