-- 007: who asked for a job (the server's token name; NULL: auth off), for the audit trail.
ALTER TABLE jobs ADD COLUMN actor TEXT;
