-- Provider settings of an installation (name -> value), validated by its
-- provider at the API: Standard Webhooks' conversation_pointer, reply_url.
-- Configuration, never secrets.
CREATE TABLE installation_settings (
    installation_id TEXT NOT NULL REFERENCES installations(id),
    name            TEXT NOT NULL,
    value           TEXT NOT NULL,
    PRIMARY KEY (installation_id, name)
);
