-- An organisation's traffic limits, set by the platform (docs/api.md,
-- "Organisation limits"): the edge's per-org token bucket (rate_per_sec,
-- burst) and the worker's per-org in-flight limit (max_in_flight). 0 means
-- not set: the deployment's default applies. A row exists only while some
-- limit is set.
CREATE TABLE org_limits (
    org_id        TEXT PRIMARY KEY REFERENCES orgs(id),
    rate_per_sec  INTEGER NOT NULL CHECK (rate_per_sec >= 0),
    burst         INTEGER NOT NULL CHECK (burst >= 0),
    max_in_flight INTEGER NOT NULL CHECK (max_in_flight >= 0),
    updated_at    TEXT NOT NULL
);
