-- Installation activity (issue 15, the console's "first verified event"):
-- when ingest first and last accepted a verified event of an installation.
-- Written at most once per installation every 30 s per ingest process.
CREATE TABLE installation_activity (
    installation_id   TEXT PRIMARY KEY REFERENCES installations(id),
    first_accepted_at TIMESTAMPTZ NOT NULL,
    last_accepted_at  TIMESTAMPTZ NOT NULL
);
