-- The cluster (issue 14, PostgreSQL only): the secrets every node must share, so a link or
-- a participant token from one node works on every node (contract §6): the key that signs
-- participant tokens and, unless FORUM_ORGANIZER_TOKEN is given, the organizer token. The
-- first node to start puts its own in; every other node takes them from here.
CREATE TABLE IF NOT EXISTS cluster_secrets (
    name  text PRIMARY KEY,
    value text NOT NULL
);
