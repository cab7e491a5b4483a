-- 005: which open library wrote a pending note (its owners/<owner>.lock is flocked while it
-- lives), so any process can tell a crash's leftover from a write still in flight.
ALTER TABLE pending ADD COLUMN owner TEXT;

-- Files recovery set aside in lost+found/ (kept, reported by `library check`, never retried).
CREATE TABLE quarantine (
    name    TEXT PRIMARY KEY,                      -- file name inside lost+found/
    reason  TEXT NOT NULL,
    at      TEXT NOT NULL
);
