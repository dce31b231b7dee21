-- Canary-first rollout (issue 11). See the SQLite migration for the why.
ALTER TABLE rollout_stages ADD COLUMN previous_stage TEXT NOT NULL DEFAULT '';
ALTER TABLE rollout_stages ADD COLUMN probe_orgs TEXT NOT NULL DEFAULT '[]';

CREATE TABLE rollout_evidence (
    id          TEXT PRIMARY KEY,
    provider    TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('matrix', 'load')),
    passed      BOOLEAN NOT NULL,
    stage       TEXT NOT NULL,
    canary_orgs TEXT NOT NULL DEFAULT '[]',
    recorded_at TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    report      TEXT NOT NULL,
    signature   TEXT NOT NULL,
    key_id      TEXT NOT NULL
);
CREATE INDEX rollout_evidence_provider ON rollout_evidence(provider, recorded_at);

INSERT INTO audit_events (at, actor, org_id, action, target, detail)
SELECT now(), 'migration', '', 'stage.set', p.provider,
       '{"stage":"on","previous":"","reason":"migration 000005: providers without a stage row were served; kept on"}'
FROM (VALUES ('slack'), ('telegram'), ('whatsapp'), ('messenger'), ('instagram'), ('discord'), ('twilio'), ('line'), ('standardwebhooks'), ('github')) AS p(provider)
WHERE EXISTS (SELECT 1 FROM app_profiles)
  AND NOT EXISTS (SELECT 1 FROM rollout_stages r WHERE r.provider = p.provider);
INSERT INTO rollout_stages (provider, stage, canary_orgs, updated_at, previous_stage)
SELECT p.provider, 'on', '[]', now(), ''
FROM (VALUES ('slack'), ('telegram'), ('whatsapp'), ('messenger'), ('instagram'), ('discord'), ('twilio'), ('line'), ('standardwebhooks'), ('github')) AS p(provider)
WHERE EXISTS (SELECT 1 FROM app_profiles)
  AND NOT EXISTS (SELECT 1 FROM rollout_stages r WHERE r.provider = p.provider);
