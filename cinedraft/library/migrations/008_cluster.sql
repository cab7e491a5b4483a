-- 008: cluster mode (cinedraft/cluster). Which worker ran each job; the parts a job is split
-- into (some of its images), each leased to one worker at a time until a deadline the
-- worker's heartbeat renews; and the workers the head has seen, for `cluster status`.
ALTER TABLE jobs ADD COLUMN worker TEXT;
CREATE TABLE job_parts (
    job_id      TEXT    NOT NULL REFERENCES jobs (id),
    part        INTEGER NOT NULL,
    prompts     TEXT    NOT NULL,             -- JSON list, one per image of the part
    seeds       TEXT    NOT NULL,             -- JSON list
    state       TEXT    NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'leased', 'done', 'failed')),
    worker      TEXT,                         -- who holds (or last held) the lease
    lease_until REAL,                         -- unix time
    attempts    INTEGER NOT NULL DEFAULT 0,   -- leases given
    outputs     TEXT,                         -- JSON list of asset ids once stored
    error       TEXT,
    PRIMARY KEY (job_id, part)
);
CREATE TABLE cluster_workers (
    name        TEXT PRIMARY KEY,
    node        TEXT NOT NULL,
    device      TEXT NOT NULL,
    version     TEXT NOT NULL,
    state       TEXT NOT NULL,                -- idle, busy, gone, refused
    models      TEXT NOT NULL DEFAULT '[]',   -- JSON: the models it has loaded
    lease       TEXT,                         -- job:part it holds
    images      INTEGER NOT NULL DEFAULT 0,   -- images it rendered
    busy_s      REAL    NOT NULL DEFAULT 0,   -- seconds it spent rendering them
    joined      TEXT    NOT NULL,
    seen        TEXT    NOT NULL,
    note        TEXT                          -- why it is gone or refused
);
