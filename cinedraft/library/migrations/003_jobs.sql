-- 003: the persistent job queue (cinedraft/jobs/queue.py); jobs survive restarts.
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,                 -- generate | promote | edit ...
    priority    INTEGER NOT NULL,              -- lower runs first: drafts before long renders
    state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    request     TEXT NOT NULL,                 -- JSON
    result      TEXT,                          -- JSON, when done (or partial, when failed)
    error       TEXT,
    idem_key    TEXT UNIQUE,                   -- idempotency key given on submit
    cancel      INTEGER NOT NULL DEFAULT 0,    -- cancel requested while running
    attempts    INTEGER NOT NULL DEFAULT 0,
    progress    TEXT,                          -- JSON {stage, done, total}
    created     TEXT NOT NULL,
    started     TEXT,
    finished    TEXT
);
CREATE INDEX jobs_next ON jobs (state, priority, created);
