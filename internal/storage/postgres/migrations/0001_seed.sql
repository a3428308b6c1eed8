-- The schema Chorus was specified with (DESIGN.md section 5), unchanged. IF NOT EXISTS
-- adopts tables a user created from the specification beforehand.
CREATE TABLE IF NOT EXISTS ReplicaState (
    node_id      TEXT        NOT NULL,
    key          TEXT        NOT NULL,
    value        JSONB       NOT NULL,
    vector_clock JSONB       NOT NULL DEFAULT '{}'::jsonb,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, key)
);

CREATE TABLE IF NOT EXISTS HintedHandoff (
    hint_id      BIGSERIAL PRIMARY KEY,
    target_node  TEXT        NOT NULL,
    key          TEXT        NOT NULL,
    value        JSONB       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at TIMESTAMPTZ,
    expires_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_hints_target ON HintedHandoff (target_node, delivered_at NULLS FIRST);

CREATE TABLE IF NOT EXISTS ReadRepairLog (
    id            BIGSERIAL PRIMARY KEY,
    key           TEXT        NOT NULL,
    stale_node_id TEXT        NOT NULL,
    repaired_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
