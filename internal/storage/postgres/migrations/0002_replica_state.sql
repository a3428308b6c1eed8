-- ReplicaState: what the engine needs beyond the seed columns. key keeps its seed
-- meaning (the row's key, now "escaped-keyspace/escaped-key"); value and vector_clock
-- are the JSON view; object is the authoritative encoding (object.Encode).
ALTER TABLE ReplicaState
    ADD COLUMN keyspace   TEXT COLLATE "C" NOT NULL, -- escaped keyspace
    ADD COLUMN raw_key    BYTEA   NOT NULL,          -- the key within the keyspace, unescaped: scan order
    ADD COLUMN kind       TEXT    NOT NULL,          -- register, counter or set
    ADD COLUMN object     BYTEA   NOT NULL,          -- object.Encode: what Get returns
    ADD COLUMN tombstone  BOOLEAN NOT NULL DEFAULT false, -- every sibling is a tombstone
    ADD COLUMN expires_at TIMESTAMPTZ;               -- when the last live sibling expires, if all do

-- ScanObjects (one keyspace, in key byte order) and Keyspaces (a skip scan). Not
-- UNIQUE, though (node_id, keyspace, raw_key) is unique as (node_id, key) is: a second
-- unique index would make two concurrent upserts of a new key fail on it, since
-- ON CONFLICT arbitrates on the primary key only.
CREATE INDEX replicastate_scan ON ReplicaState (node_id, keyspace, raw_key);
