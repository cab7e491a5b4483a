-- 009: catalogue runs (cinedraft/catalogue) find what an earlier run of the same rows already
-- made by the key each output's record carries, so a resumed run makes only what is missing.
CREATE INDEX assets_catalogue_key ON assets (json_extract(record, '$.catalogue.key'))
    WHERE json_extract(record, '$.catalogue.key') IS NOT NULL;
