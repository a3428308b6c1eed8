-- ReadRepairLog: the node that made the repair, and the keyspace.
ALTER TABLE ReadRepairLog
    ADD COLUMN node_id  TEXT NOT NULL,           -- escaped node id of the repairing node
    ADD COLUMN keyspace TEXT COLLATE "C" NOT NULL; -- escaped keyspace

-- RecentRepairs (newest first) and the retention trim.
CREATE INDEX readrepairlog_node ON ReadRepairLog (node_id, id);
