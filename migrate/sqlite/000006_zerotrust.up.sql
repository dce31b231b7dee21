-- Issue 12 (zero trust, strict API input).
--
-- Identical active bindings (same installation, selector, agent, persona and
-- priority) are refused by the store itself, so parallel identical POSTs give
-- one row. Existing duplicates are resolved first: the newest of each set
-- stays (it is the one that took over routing), the older ones are revoked
-- as of the newest one's creation.
-- Replicas notice the change through the generation, bumped only when there
-- is something to revoke.
UPDATE store_generation SET value = value + 1 WHERE id = 1 AND EXISTS (
    SELECT 1 FROM bindings b1 JOIN bindings b2
      ON b2.revoked_at IS NULL AND b2.installation_id = b1.installation_id
      AND b2.sel_account = b1.sel_account AND b2.sel_channel = b1.sel_channel
      AND b2.sel_peer = b1.sel_peer AND b2.sel_mention = b1.sel_mention
      AND b2.agent_id = b1.agent_id AND b2.persona = b1.persona AND b2.priority = b1.priority
      AND b2.id <> b1.id
    WHERE b1.revoked_at IS NULL);
UPDATE bindings SET revoked_at = (
    SELECT MAX(b2.created_at) FROM bindings b2
    WHERE b2.revoked_at IS NULL AND b2.installation_id = bindings.installation_id
      AND b2.sel_account = bindings.sel_account AND b2.sel_channel = bindings.sel_channel
      AND b2.sel_peer = bindings.sel_peer AND b2.sel_mention = bindings.sel_mention
      AND b2.agent_id = bindings.agent_id AND b2.persona = bindings.persona AND b2.priority = bindings.priority
      AND (b2.created_at > bindings.created_at OR (b2.created_at = bindings.created_at AND b2.id > bindings.id)))
WHERE revoked_at IS NULL AND EXISTS (
    SELECT 1 FROM bindings b2
    WHERE b2.revoked_at IS NULL AND b2.installation_id = bindings.installation_id
      AND b2.sel_account = bindings.sel_account AND b2.sel_channel = bindings.sel_channel
      AND b2.sel_peer = bindings.sel_peer AND b2.sel_mention = bindings.sel_mention
      AND b2.agent_id = bindings.agent_id AND b2.persona = bindings.persona AND b2.priority = bindings.priority
      AND (b2.created_at > bindings.created_at OR (b2.created_at = bindings.created_at AND b2.id > bindings.id)));
CREATE UNIQUE INDEX bindings_identical_active ON bindings
    (installation_id, sel_account, sel_channel, sel_peer, sel_mention, agent_id, persona, priority)
    WHERE revoked_at IS NULL;

-- API tokens get an optional expiry (NULL: none); rotation sets it on the
-- previous token when that one stays valid for a grace period.
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
