-- 004: the server job that made an asset, as a column (recovery and live progress look it up).
ALTER TABLE assets ADD COLUMN job_id TEXT;
UPDATE assets SET job_id = json_extract(record, '$.job_id') WHERE json_extract(record, '$.job_id') IS NOT NULL;
CREATE INDEX assets_job ON assets (job_id) WHERE job_id IS NOT NULL;
