-- Twin of migrations/005_store_probe.sql: one row that /healthz rewrites while writes
-- fail, to learn when they work again.
CREATE TABLE IF NOT EXISTS store_probe (id integer PRIMARY KEY, at text NOT NULL);
