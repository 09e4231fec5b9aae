-- Revoking every token of an event (issue 13): new invite keys and a new token generation;
-- tokens carry the generation they were issued in, older ones are refused.
ALTER TABLE events ADD COLUMN token_gen INTEGER NOT NULL DEFAULT 0
