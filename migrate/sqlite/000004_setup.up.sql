-- Setup (issue 10): agency handoff records, OAuth clients of app profiles,
-- and the OAuth states already used (single use).

-- record: JSON object (setup.Handoff without updated_*), never a secret.
CREATE TABLE installation_handoffs (
    installation_id TEXT PRIMARY KEY REFERENCES installations(id),
    record          TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    updated_by      TEXT NOT NULL
);

-- The client id of a profile's OAuth app; its client secret is a sealed
-- secret of the profile (purpose client_secret).
CREATE TABLE oauth_clients (
    profile_id TEXT PRIMARY KEY REFERENCES app_profiles(id),
    client_id  TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- A state's nonce is inserted when its callback arrives: a second insert
-- (a replay) conflicts. expires_at lets old rows be pruned.
CREATE TABLE oauth_states_used (
    nonce      TEXT PRIMARY KEY,
    used_at    TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
