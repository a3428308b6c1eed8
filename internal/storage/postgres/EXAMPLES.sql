-- Example queries over Chorus's PostgreSQL tables. Every row is scoped by node:
-- ReplicaState.node_id is the replica holding the row, HintedHandoff.holder_node the
-- node holding a hint for target_node, ReadRepairLog.node_id the node that repaired
-- stale_node_id. Names are shown percent-escaped where they are not printable UTF-8
-- (see doc.go): ordinary names read as they are.

-- Which node is stale most often (over the retained read-repair log)?
SELECT stale_node_id,
       count(*)         AS repairs,
       count(DISTINCT key) AS keys,
       max(repaired_at) AS last_repaired
FROM ReadRepairLog
GROUP BY stale_node_id
ORDER BY repairs DESC;

-- The same over the last day, split by the node that noticed.
SELECT node_id AS repaired_by, stale_node_id, count(*) AS repairs
FROM ReadRepairLog
WHERE repaired_at > now() - interval '1 day'
GROUP BY node_id, stale_node_id
ORDER BY repairs DESC;

-- Hint backlog by target: pending hints, the oldest, and how many already expired
-- (those will not be delivered: anti-entropy repairs their keys instead).
SELECT target_node,
       count(*)                                   AS pending,
       count(*) FILTER (WHERE expires_at <= now()) AS expired,
       min(created_at)                            AS oldest,
       count(DISTINCT holder_node)                AS held_by_nodes
FROM HintedHandoff
WHERE delivered_at IS NULL
GROUP BY target_node
ORDER BY pending DESC;

-- Hints delivered recently (delivered rows are purged a minute or two after delivery).
SELECT holder_node, target_node, count(*) AS delivered, max(delivered_at) AS last
FROM HintedHandoff
WHERE delivered_at IS NOT NULL
GROUP BY holder_node, target_node;

-- Keys repaired in the last hour, most repaired first.
SELECT keyspace, key, count(*) AS repairs,
       array_agg(DISTINCT stale_node_id) AS stale_nodes,
       max(repaired_at) AS last_repaired
FROM ReadRepairLog
WHERE repaired_at > now() - interval '1 hour'
GROUP BY keyspace, key
ORDER BY repairs DESC, last_repaired DESC;

-- Values of a keyspace: plain JSON registers as they are, the rest as envelopes.
SELECT node_id, key,
       CASE WHEN jsonb_typeof(value) = 'object' AND value ? 'chorus' THEN 'envelope' ELSE 'plain' END AS shape,
       value, vector_clock, updated_at
FROM ReplicaState
WHERE keyspace = 'default'
ORDER BY key, node_id
LIMIT 50;

-- Keys holding concurrent siblings (keyspaces that keep siblings).
SELECT node_id, key, jsonb_array_length(value -> 'siblings') AS siblings
FROM ReplicaState
WHERE value ? 'chorus' AND jsonb_array_length(value -> 'siblings') > 1
ORDER BY siblings DESC
LIMIT 50;

-- Keys whose replicas disagree right now (nodes sharing this database).
SELECT key, count(*) AS replicas, count(DISTINCT object) AS versions
FROM ReplicaState
GROUP BY key
HAVING count(DISTINCT object) > 1
ORDER BY versions DESC
LIMIT 50;

-- Tombstones per node and keyspace, waiting for garbage collection.
SELECT node_id, keyspace, count(*) AS tombstones, min(updated_at) AS oldest
FROM ReplicaState
WHERE tombstone
GROUP BY node_id, keyspace
ORDER BY tombstones DESC;

-- Which schema migrations were applied, and when.
SELECT version, name, applied_at FROM chorus_schema_version ORDER BY version;
