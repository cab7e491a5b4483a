-- 002: quality metrics measured on every stored file (see cinedraft/quality/metrics.py).
CREATE TABLE metrics (
    asset_id TEXT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    value    REAL NOT NULL,
    PRIMARY KEY (asset_id, name)
);
CREATE INDEX metrics_by_value ON metrics (name, value);
