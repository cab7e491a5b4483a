-- 006: the audit trail: who did what, with which model, and what the policy said; no pixels.
-- Each row holds the hash of the row before (prev) and its own (hash, over its fields and
-- prev), so `cinedraft audit verify` finds a row deleted, edited or moved.
CREATE TABLE audit (
    seq          INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    request_hash TEXT,
    assets       TEXT NOT NULL,                    -- JSON list of asset ids
    model        TEXT,
    model_hash   TEXT,
    policy       TEXT,                             -- JSON {flagged, hits} or NULL
    flagged      INTEGER NOT NULL DEFAULT 0,
    marked       INTEGER NOT NULL DEFAULT 0,       -- watermark and C2PA applied
    prev         TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_at ON audit (at);

-- Where the chain starts after retention pruned older rows: the last pruned row's seq and
-- hash, so what is left still verifies.
CREATE TABLE audit_anchor (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);

-- Append-only: rows are never changed, and only rows the anchor has passed are deleted.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit rows are append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
WHEN OLD.seq > COALESCE((SELECT seq FROM audit_anchor WHERE id = 1), 0)
BEGIN
    SELECT RAISE(ABORT, 'audit rows are append-only (retention prunes only anchored rows)');
END;
