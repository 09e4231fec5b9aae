-- One row that /healthz rewrites while writes fail, to learn when they work again.
CREATE TABLE IF NOT EXISTS store_probe (id INTEGER PRIMARY KEY, at TEXT NOT NULL);
