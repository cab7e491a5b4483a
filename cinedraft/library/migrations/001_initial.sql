-- 001: assets with their full record, lineage, tags, and a full-text index over prompts.
CREATE TABLE assets (
    seq             INTEGER PRIMARY KEY,          -- insertion order; the FTS rowid
    id              TEXT    NOT NULL UNIQUE,      -- 12 hex digits, shown to users
    kind            TEXT    NOT NULL,             -- image | video | edit | import
    tier            TEXT,
    model           TEXT,
    prompt          TEXT    NOT NULL DEFAULT '',
    negative_prompt TEXT    NOT NULL DEFAULT '',
    seed            INTEGER,
    created         TEXT    NOT NULL,             -- ISO 8601, UTC, 'Z'
    width           INTEGER,
    height          INTEGER,
    mime            TEXT    NOT NULL,
    path            TEXT    NOT NULL,             -- relative to the library root
    sha256          TEXT    NOT NULL UNIQUE,
    bytes           INTEGER NOT NULL,
    rating          INTEGER NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
    favourite       INTEGER NOT NULL DEFAULT 0 CHECK (favourite IN (0, 1)),
    record          TEXT    NOT NULL              -- the whole JSON record
);
CREATE INDEX assets_created ON assets (created);
CREATE INDEX assets_kind ON assets (kind, seq);
CREATE INDEX assets_tier ON assets (tier, seq);
CREATE INDEX assets_model ON assets (model, seq);
CREATE INDEX assets_favourite ON assets (favourite, seq) WHERE favourite = 1;

-- A parent need not be in this library (an imported file may name one it never saw).
CREATE TABLE lineage (
    child  TEXT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    parent TEXT NOT NULL,
    role   TEXT NOT NULL,                          -- draft | source | rerender | converted ...
    PRIMARY KEY (child, parent)
);
CREATE INDEX lineage_parent ON lineage (parent);

CREATE TABLE tags (
    asset_id TEXT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    tag      TEXT NOT NULL,
    PRIMARY KEY (tag, asset_id)
);
CREATE INDEX tags_asset ON tags (asset_id);

-- A file being written: recorded (durably) before the file, removed with the asset's insert.
-- What is left here after a crash is exactly what the reconciler must look at.
CREATE TABLE pending (
    path    TEXT PRIMARY KEY,                      -- relative to the library root
    started TEXT NOT NULL
);

-- External-content FTS5: the text lives once, in assets.
CREATE VIRTUAL TABLE assets_fts USING fts5 (
    prompt, negative_prompt, content = 'assets', content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER assets_ai AFTER INSERT ON assets BEGIN
    INSERT INTO assets_fts (rowid, prompt, negative_prompt)
    VALUES (new.seq, new.prompt, new.negative_prompt);
END;
CREATE TRIGGER assets_ad AFTER DELETE ON assets BEGIN
    INSERT INTO assets_fts (assets_fts, rowid, prompt, negative_prompt)
    VALUES ('delete', old.seq, old.prompt, old.negative_prompt);
END;
CREATE TRIGGER assets_au AFTER UPDATE OF prompt, negative_prompt ON assets BEGIN
    INSERT INTO assets_fts (assets_fts, rowid, prompt, negative_prompt)
    VALUES ('delete', old.seq, old.prompt, old.negative_prompt);
    INSERT INTO assets_fts (rowid, prompt, negative_prompt)
    VALUES (new.seq, new.prompt, new.negative_prompt);
END;
