ALTER TABLE api_tokens DROP COLUMN expires_at;
DROP INDEX bindings_identical_active;
