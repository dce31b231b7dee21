-- Binding store schema (SQLite). Timestamps are UTC text, fixed width
-- (YYYY-MM-DDTHH:MM:SS.ffffffZ) so they sort as text. Empty optional
-- references are NULL so foreign keys hold.
CREATE TABLE agencies (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE orgs (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    agency_id  TEXT REFERENCES agencies(id),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX orgs_agency ON orgs(agency_id);

-- owner_org_id NULL: a platform profile.
CREATE TABLE app_profiles (
    id              TEXT PRIMARY KEY,
    owner_org_id    TEXT REFERENCES orgs(id),
    provider        TEXT NOT NULL,
    name            TEXT NOT NULL,
    external_app_id TEXT NOT NULL DEFAULT '',
    ingress_id      TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    revoked_at      TEXT
);
CREATE INDEX app_profiles_owner ON app_profiles(owner_org_id);
CREATE UNIQUE INDEX app_profiles_ingress ON app_profiles(ingress_id) WHERE ingress_id <> '';

CREATE TABLE installations (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES orgs(id),
    profile_id           TEXT NOT NULL REFERENCES app_profiles(id),
    provider             TEXT NOT NULL,
    external_id          TEXT NOT NULL DEFAULT '',
    ingress_id           TEXT NOT NULL UNIQUE,
    platform_credentials INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL,
    revoked_at           TEXT
);
CREATE INDEX installations_org ON installations(org_id);
-- One live installation per provider-side id of a profile (shared platform apps
-- resolve the tenant from it).
CREATE UNIQUE INDEX installations_external ON installations(profile_id, external_id)
    WHERE external_id <> '' AND revoked_at IS NULL;

-- Owner is polymorphic (profile, installation, agent): no foreign key.
CREATE TABLE secrets (
    id          TEXT PRIMARY KEY,
    owner_kind  TEXT NOT NULL,
    owner_id    TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    ciphertext  BLOB NOT NULL,
    fingerprint TEXT NOT NULL,
    not_before  TEXT NOT NULL,
    not_after   TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX secrets_owner ON secrets(owner_kind, owner_id, purpose);

CREATE TABLE agents (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    name       TEXT NOT NULL,
    url        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX agents_org ON agents(org_id);

CREATE TABLE bindings (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs(id),
    installation_id TEXT NOT NULL REFERENCES installations(id),
    sel_account     TEXT NOT NULL DEFAULT '',
    sel_channel     TEXT NOT NULL DEFAULT '',
    sel_peer        TEXT NOT NULL DEFAULT '',
    sel_mention     TEXT NOT NULL DEFAULT '',
    agent_id        TEXT NOT NULL REFERENCES agents(id),
    persona         TEXT NOT NULL DEFAULT '',
    priority        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    revoked_at      TEXT
);
CREATE INDEX bindings_installation ON bindings(installation_id);
CREATE INDEX bindings_org ON bindings(org_id);

-- canary_orgs: JSON array of org ids.
CREATE TABLE rollout_stages (
    provider    TEXT PRIMARY KEY,
    stage       TEXT NOT NULL CHECK (stage IN ('off', 'canary', 'on')),
    canary_orgs TEXT NOT NULL DEFAULT '[]',
    updated_at  TEXT NOT NULL
);

-- AUTOINCREMENT: ids never reused, strictly increasing.
CREATE TABLE audit_events (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    org_id TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_org ON audit_events(org_id, id);

CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('platform', 'agency', 'org')),
    subject_id TEXT NOT NULL DEFAULT '',
    hash       BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- Bumped by every mutating transaction; replicas poll it to notice changes.
CREATE TABLE store_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO store_generation (id, value) VALUES (1, 0);
