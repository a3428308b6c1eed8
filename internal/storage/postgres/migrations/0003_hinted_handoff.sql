-- HintedHandoff: the node that holds the hint and the id it gave it, the target's raw
-- bytes (for ScanHints' byte order) and the hinted object.
ALTER TABLE HintedHandoff
    ADD COLUMN holder_node    TEXT   NOT NULL,          -- escaped node id of the holder
    ADD COLUMN holder_hint_id BIGINT NOT NULL,          -- record.Hint.ID, unique per holder
    ADD COLUMN target_raw     BYTEA  NOT NULL,          -- target node id, unescaped
    ADD COLUMN keyspace       TEXT COLLATE "C" NOT NULL, -- escaped keyspace
    ADD COLUMN kind           TEXT   NOT NULL,
    ADD COLUMN object         BYTEA  NOT NULL;          -- object.Encode

-- A holder's pending hints by id (upsert and delete), and in ScanHints' order.
CREATE UNIQUE INDEX hints_pending_id ON HintedHandoff (holder_node, holder_hint_id)
    WHERE delivered_at IS NULL;
CREATE INDEX hints_pending_target ON HintedHandoff (holder_node, target_raw, holder_hint_id)
    WHERE delivered_at IS NULL;
-- The janitor's purge of delivered rows.
CREATE INDEX hints_delivered ON HintedHandoff (holder_node, delivered_at)
    WHERE delivered_at IS NOT NULL;
