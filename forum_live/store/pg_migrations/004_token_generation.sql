-- Twin of migrations/004_token_generation.sql: revoking every token of an event gives new
-- invite keys and a new token generation; tokens of older generations are refused.
ALTER TABLE events ADD COLUMN IF NOT EXISTS token_gen integer NOT NULL DEFAULT 0;
