// Package postgres is the storage.Engine on PostgreSQL (through pgx v5 and its pool):
// a node's objects, hints, read-repair log and metadata in the relational schema Chorus
// was specified with, so that operators can query replica state with SQL
// (EXAMPLES.sql). Several nodes may share one database — every row is scoped by its
// node — or each use their own.
//
//	e, err := postgres.Open(ctx, postgres.Options{
//		DSN:    "postgres://chorus:secret@db:5432/chorus?sslmode=disable",
//		NodeID: "n1",
//	})
//
// Open connects, migrates the schema and returns a ready engine; reopening with the
// same DSN and NodeID finds the same data. The engine passes the storage conformance
// suite (storagetest.Run and RunDurable) against a real server.
//
// # Schema
//
// The three seed tables keep every specified column, type, default, key and index
// (migrations/0001_seed.sql); later migrations only add columns, indexes and tables:
//
//	ReplicaState   (node_id, key, value jsonb, vector_clock jsonb, updated_at,
//	                PRIMARY KEY (node_id, key))
//	  + keyspace text, raw_key bytea, kind text, object bytea, tombstone bool,
//	    expires_at timestamptz; INDEX replicastate_scan (node_id, keyspace, raw_key)
//	HintedHandoff  (hint_id bigserial PRIMARY KEY, target_node, key, value jsonb,
//	                created_at, delivered_at, expires_at),
//	                INDEX idx_hints_target (target_node, delivered_at NULLS FIRST)
//	  + holder_node text, holder_hint_id bigint, target_raw bytea, keyspace text,
//	    kind text, object bytea; partial indexes on the pending rows
//	    (holder_node, holder_hint_id) UNIQUE and (holder_node, target_raw,
//	    holder_hint_id), and on the delivered rows (holder_node, delivered_at)
//	ReadRepairLog  (id bigserial PRIMARY KEY, key, stale_node_id, repaired_at)
//	  + node_id text, keyspace text; INDEX readrepairlog_node (node_id, id)
//	chorus_meta    (node_id text, name bytea, value bytea, updated_at,
//	                PRIMARY KEY (node_id, name))
//	chorus_schema_version (version, name, applied_at): the migrations applied
//
// ReplicaState.node_id is the replica holding the row; HintedHandoff.holder_node the
// node holding a hint and target_node the node it is for (holder_hint_id is the id
// Chorus gave the hint — record.Hint.ID — unique per holder; hint_id is the table's own
// key and means nothing to Chorus); ReadRepairLog.node_id the node that made the
// repair and stale_node_id the replica it repaired. Node columns hold node ids escaped
// as below.
//
// # Keys
//
// The seed primary key is (node_id, key), and two keyspaces may hold the same key, so
// the key column holds the keyspace too, unambiguously:
//
//	key = escape(keyspace, with '/') + "/" + escape(key)
//
// e.g. "users/alice", "carts/bob/1" (keyspace carts, key bob/1), "a%2Fb/c" (keyspace
// a/b). The escape makes any bytes storable in TEXT (valid UTF-8, no NUL): each byte
// that is '%', an ASCII control (0x00-0x1F, 0x7F), part of a C1 control (U+0080-U+009F)
// or part of an invalid UTF-8 sequence becomes '%' and two upper-case hex digits; a
// keyspace also escapes '/', so the first '/' of the key column ends the keyspace.
// All other characters, non-ASCII letters included, are kept, so ordinary names read
// the same in SQL as in Chorus. The rule uses no Unicode tables, so a name's escaped
// form never changes. The keyspace column holds the escaped keyspace (the part of key
// before the first '/'). raw_key holds the key within the keyspace as bytes, which
// gives ScanObjects Go's byte order (an escaped text does not sort like its bytes);
// target_raw does the same for hint targets. Node ids, stale_node_id and the actors in
// the JSON columns use the same escape (without the '/' rule).
//
// # Values
//
// object holds the object's binary encoding (object.Encode); the engine reads objects
// only from it, so every object round-trips exactly. value and vector_clock are a JSON
// view for people and SQL.
//
// A plain register — kind register, one sibling, not a tombstone, no expiry — whose
// bytes are JSON stores that JSON as value, as is: a register holding {"age":30} shows
// {"age": 30}. JSON that PostgreSQL's jsonb would refuse (\u escapes, nesting deeper
// than 100, numbers beyond numeric's range) and JSON objects with a top-level "chorus"
// key do not count as plain, so that a plain value is never taken for an envelope.
// Every other object stores an envelope, recognised by its top-level "chorus" key:
//
//	{"chorus": 1, "kind": "register" | "counter" | "set",
//	 "siblings": [{"value": <JSON> | "text": "<string>" | "base64": "<bytes>",
//	               "tombstone": false, "ts": "<physical ms>.<logical>",
//	               "time": "<RFC 3339 of the physical time>",
//	               "dot": {"actor": "n1", "counter": 3},
//	               "expires_at": "<RFC 3339>" | null}, …]}
//
// A sibling's bytes appear under exactly one of three names: "value" when they are
// JSON (as above), "text" when they are other text (UTF-8 without control characters
// but tab, newline and carriage return), "base64" otherwise (CRDT states, binary
// values); a tombstone without bytes has none of them. vector_clock is the object's
// causal context as {"actor": counter, …}. tombstone is true when the object has
// siblings and all are tombstones; expires_at is when the last live sibling expires if
// every live sibling expires, NULL otherwise; kind is register, counter or set.
// HintedHandoff.value uses the same view of the hinted object.
//
// # Commits, reads and scans
//
// A Commit is one transaction in one round trip (commit.go): its statements — one
// multi-row statement per kind of write — are pipelined in a pgx.Batch, which the
// server runs as one implicit transaction. Row locks are taken in key order, so
// concurrent Commits of the same keys serialize and the last to commit wins, whole;
// they never interleave. Get, GetMeta, Keyspaces and RecentRepairs are one statement
// each. pgx prepares each statement once per connection (its statement cache). A scan
// reads through a cursor in a read-only transaction, fetching 256 rows per round trip:
// the cursor sees the snapshot of its DECLARE, so the whole scan sees one snapshot
// (a batch committed meanwhile wholly or not at all), rows stream to the callback one
// at a time, and a scan that stops early costs at most one page more. While a scan
// runs it holds a connection from a second, smaller pool, so that its callback may
// call Get and Commit without waiting for a connection held by the scans around it.
//
// Hints: HintDeletes set delivered_at instead of deleting (ScanHints never returns a
// delivered row); the janitor deletes delivered rows a PurgeInterval later. Expired
// hints are the core's to drop: the engine returns every hint not deleted. Repairs:
// RecentRepairs reads at most MaxRepairs newest rows of the node; the janitor deletes
// older ones in the background. Times (created_at, expires_at, repaired_at) hold the
// record's unix milliseconds exactly; a hint or repair time outside timestamptz's range
// is refused with storage.ErrInvalid.
//
// # Migrations
//
// The schema is created and upgraded by the numbered SQL files in migrations/,
// embedded in the binary and applied by a small runner (migrate.go) that records
// each applied file in chorus_schema_version. Open runs all pending migrations in one
// transaction (PostgreSQL's DDL is transactional, so a failed migration leaves
// nothing behind) after taking a transaction-scoped advisory lock
// (pg_advisory_xact_lock): when several nodes start at once on an empty database, one
// migrates and the others wait, then find nothing left to do. A transaction-scoped lock
// rather than a session lock because it is released by the commit or rollback, or by
// the server when the connection dies, so a crashed node can never leave it held, and
// it works through PgBouncer in transaction pooling mode. A hand-written runner rather
// than a migration library because the whole job is one short file — a library
// (golang-migrate, goose) would bring its own dependencies, CLI and version-table
// conventions for no gain. The version table is named chorus_schema_version rather than
// schema_version so as not to collide with another tool's (Flyway's, for one) in a
// shared database. A database already migrated past what this binary knows is refused.
// Migrations only ever add, and the seed tables are created with IF NOT EXISTS, so a
// database whose seed tables were created from the specification is adopted — if they
// are empty, since rows without the added columns (object above all) cannot be read.
// The database must use the UTF8 encoding.
//
// # Failure
//
// Open tries to connect once and fails with a one-line error wrapping ErrUnavailable
// if the server cannot be reached within Options.ConnectTimeout (5 s by default). While
// running, a round trip that cannot reach the server fails with an error wrapping
// ErrUnavailable, and Healthy turns false (within about a second when idle: the janitor
// pings). A Commit never reports success for a transaction the server did not commit;
// one that fails after its batch was sent may or may not have been applied. Failures
// that guarantee nothing was applied (a dead pooled connection detected before sending,
// a deadlock the server rolled back) are retried a few times at once. The pool opens
// new connections as needed, so the engine recovers by itself when the server is back,
// and Healthy turns true again. Node operators serve Healthy (or Ping) on /healthz.
package postgres
