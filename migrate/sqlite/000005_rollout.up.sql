-- Canary-first rollout (issue 11).
-- previous_stage: the stage before the last change (a rollback's target).
-- probe_orgs: JSON array of the probe organisations of `switchboard matrix
-- run` / `loadtest run`, admitted like canary orgs while the provider is at
-- canary; changing them is not a stage change (evidence stays valid).
ALTER TABLE rollout_stages ADD COLUMN previous_stage TEXT NOT NULL DEFAULT '';
ALTER TABLE rollout_stages ADD COLUMN probe_orgs TEXT NOT NULL DEFAULT '[]';

-- Evidence for promotion: failure-path matrix reports and load-stage
-- results, signed by the control plane when stored.
CREATE TABLE rollout_evidence (
    id          TEXT PRIMARY KEY,
    provider    TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('matrix', 'load')),
    passed      INTEGER NOT NULL,
    stage       TEXT NOT NULL,
    canary_orgs TEXT NOT NULL DEFAULT '[]',
    recorded_at TEXT NOT NULL,
    actor       TEXT NOT NULL,
    report      TEXT NOT NULL,
    signature   TEXT NOT NULL,
    key_id      TEXT NOT NULL
);
CREATE INDEX rollout_evidence_provider ON rollout_evidence(provider, recorded_at);

-- A provider without a stage row used to be served as 'on'. Stages are
-- explicit now (no row: not served), so a deployment that already holds
-- profiles keeps what it did: every provider without a row gets 'on',
-- audited. A new (empty) store gets no rows: serve --initial-stage states them.
INSERT INTO audit_events (at, actor, org_id, action, target, detail)
SELECT strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z', 'migration', '', 'stage.set', p.column1,
       '{"stage":"on","previous":"","reason":"migration 000005: providers without a stage row were served; kept on"}'
FROM (VALUES ('slack'), ('telegram'), ('whatsapp'), ('messenger'), ('instagram'), ('discord'), ('twilio'), ('line'), ('standardwebhooks'), ('github')) AS p
WHERE EXISTS (SELECT 1 FROM app_profiles)
  AND NOT EXISTS (SELECT 1 FROM rollout_stages r WHERE r.provider = p.column1);
INSERT INTO rollout_stages (provider, stage, canary_orgs, updated_at, previous_stage)
SELECT p.column1, 'on', '[]', strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z', ''
FROM (VALUES ('slack'), ('telegram'), ('whatsapp'), ('messenger'), ('instagram'), ('discord'), ('twilio'), ('line'), ('standardwebhooks'), ('github')) AS p
WHERE EXISTS (SELECT 1 FROM app_profiles)
  AND NOT EXISTS (SELECT 1 FROM rollout_stages r WHERE r.provider = p.column1);
