DROP TABLE rollout_evidence;
ALTER TABLE rollout_stages DROP COLUMN probe_orgs;
ALTER TABLE rollout_stages DROP COLUMN previous_stage;
