-- Small named values per node (HLC high-water mark, dot counter reservations, known
-- members, keyspace settings). Names are bytes, so ScanMeta's prefix ranges and order
-- are byte-wise.
CREATE TABLE chorus_meta (
    node_id    TEXT        NOT NULL,
    name       BYTEA       NOT NULL,
    value      BYTEA       NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, name)
);
