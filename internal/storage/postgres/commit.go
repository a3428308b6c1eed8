package postgres

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
)

// A Commit is one pgx.Batch: up to six writing statements (purges, object upserts, meta
// upserts, hint upserts, hint deliveries, repair log appends; plus the locking
// statements described below), each one multi-row statement over arrays (unnest),
// sent together in one round trip. pgx sends them as
// one pipeline ending in a single Sync, so the server runs them in one implicit
// transaction: all of the batch is applied, or none of it. pgx prepares each
// statement once per connection and reuses it (its statement cache).
//
// A Batch is reduced first to its final effect: for each key, the last write (a purge
// or an object); for each hint id, the last hint, dropped if the batch also deletes
// that id (Hints apply before HintDeletes, so the delete wins); for each meta name the
// last value.
//
// Locking: every statement writes its rows in key (or id) order, and the statements
// come in a fixed order, so two concurrent Commits take the row locks they share in the
// same order and cannot deadlock — except where one table gets two statements (purges
// and upserts of objects; hint upserts and deliveries): there a batch first locks all
// its existing rows of that table in order (SELECT … ORDER BY … FOR UPDATE). Should
// the server still detect a deadlock, it rolls one transaction back and roundTrip
// retries it. Concurrent Commits of the same key thus serialize on its row lock: the
// one that commits last wins, whole.

// The statements of a Commit. $1 is always the engine's node id.
const (
	sqlLockObjects = `SELECT count(*) FROM (SELECT 1 FROM ReplicaState
	WHERE node_id = $1 AND key = ANY($2::text[]) ORDER BY key FOR UPDATE) AS locked`

	sqlLockHints = `SELECT count(*) FROM (SELECT 1 FROM HintedHandoff
	WHERE holder_node = $1 AND holder_hint_id = ANY($2::bigint[]) AND delivered_at IS NULL
	ORDER BY holder_hint_id FOR UPDATE) AS locked`

	sqlPurgeObjects = `DELETE FROM ReplicaState WHERE node_id = $1 AND key = ANY($2::text[])`

	sqlUpsertObjects = `INSERT INTO ReplicaState
	(node_id, key, keyspace, raw_key, kind, value, vector_clock, object, tombstone, expires_at, updated_at)
SELECT $1, u.key, u.keyspace, u.raw_key, u.kind, u.value::jsonb, u.clock::jsonb, u.object, u.tombstone, u.expires_at, now()
FROM unnest($2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::text[], $8::bytea[], $9::bool[], $10::timestamptz[])
	AS u(key, keyspace, raw_key, kind, value, clock, object, tombstone, expires_at)
ON CONFLICT (node_id, key) DO UPDATE SET
	keyspace = EXCLUDED.keyspace, raw_key = EXCLUDED.raw_key, kind = EXCLUDED.kind,
	value = EXCLUDED.value, vector_clock = EXCLUDED.vector_clock, object = EXCLUDED.object,
	tombstone = EXCLUDED.tombstone, expires_at = EXCLUDED.expires_at, updated_at = now()`

	sqlUpsertMeta = `INSERT INTO chorus_meta (node_id, name, value, updated_at)
SELECT $1, u.name, u.value, now() FROM unnest($2::bytea[], $3::bytea[]) AS u(name, value)
ON CONFLICT (node_id, name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`

	sqlUpsertHints = `INSERT INTO HintedHandoff
	(holder_node, holder_hint_id, target_node, target_raw, key, keyspace, kind, value, object, created_at, expires_at)
SELECT $1, u.id, u.target, u.target_raw, u.key, u.keyspace, u.kind, u.value::jsonb, u.object, u.created_at, u.expires_at
FROM unnest($2::bigint[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bytea[], $10::timestamptz[], $11::timestamptz[])
	AS u(id, target, target_raw, key, keyspace, kind, value, object, created_at, expires_at)
ON CONFLICT (holder_node, holder_hint_id) WHERE delivered_at IS NULL DO UPDATE SET
	target_node = EXCLUDED.target_node, target_raw = EXCLUDED.target_raw, key = EXCLUDED.key,
	keyspace = EXCLUDED.keyspace, kind = EXCLUDED.kind, value = EXCLUDED.value, object = EXCLUDED.object,
	created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`

	sqlDeliverHints = `UPDATE HintedHandoff SET delivered_at = now()
WHERE holder_node = $1 AND holder_hint_id = ANY($2::bigint[]) AND delivered_at IS NULL`

	sqlAppendRepairs = `INSERT INTO ReadRepairLog (node_id, key, keyspace, stale_node_id, repaired_at)
SELECT $1, u.key, u.keyspace, u.stale, u.repaired_at
FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY AS u(key, keyspace, stale, repaired_at, ord)
ORDER BY u.ord`
)

// The range of timestamptz, in unix milliseconds: 4713-11-24 BC to 294276-12-31 AD.
// Hint and repair times outside it cannot be stored.
const (
	minMillis = -210866803200000
	maxMillis = 9224318015999999
)

// Commit applies b in one transaction, in one round trip (two the first time a
// connection runs one of its statements, which pgx then prepares): all of it or none
// of it is applied and visible. It returns only once the server has committed (with
// storage.Sync, once the commit is in the server's flushed WAL). An error means the
// transaction was not applied — except an error wrapping ErrUnavailable, after which
// it may or may not have been (the connection was lost after the batch was sent).
func (e *Engine) Commit(b *record.Batch) error {
	if err := storage.ValidateBatch(b); err != nil {
		return err
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	if b.Empty() {
		return nil
	}
	pb, repairs, err := e.plan(b)
	if err != nil {
		return err
	}
	ctx, cancel := e.opContext()
	defer cancel()
	err = e.roundTrip(ctx, "commit", func(ctx context.Context) error {
		return e.pool.SendBatch(ctx, pb.batch()).Close()
	})
	if err != nil {
		return err
	}
	if repairs > 0 && e.appended.Add(int64(repairs)) >= int64(max(1, e.maxRepairs/4)) {
		select {
		case e.trim <- struct{}{}:
		default:
		}
	}
	return nil
}

// statements is the list of statements of one transaction.
type statements []statement

type statement struct {
	sql  string
	args []any
}

// Queue appends a statement.
func (s *statements) Queue(sql string, args ...any) { *s = append(*s, statement{sql, args}) }

// batch returns the statements as a fresh pgx.Batch. A pgx.Batch is not reused across
// attempts: pgx keeps in it what it learnt about the statements on one connection.
func (s statements) batch() *pgx.Batch {
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(s))}
	for _, st := range s {
		b.Queue(st.sql, st.args...)
	}
	return b
}

// plan turns b into the statements of its transaction and counts the repair log
// entries it appends. It rejects, with an error wrapping storage.ErrInvalid, a hint id
// above math.MaxInt64 or a hint or repair time outside timestamptz's range.
func (e *Engine) plan(b *record.Batch) (statements, int, error) {
	pb := &statements{}
	e.planObjects(pb, b.Objects)
	e.planMeta(pb, b.Meta)
	if err := e.planHints(pb, b.Hints, b.HintDeletes); err != nil {
		return nil, 0, err
	}
	n, err := e.planRepairs(pb, b.Repairs)
	if err != nil {
		return nil, 0, err
	}
	return *pb, n, nil
}

func (e *Engine) planObjects(pb *statements, ws []record.ObjectWrite) {
	if len(ws) == 0 {
		return
	}
	final := make(map[string]int, len(ws)) // row key → index in ws of its last write
	keys := make([]string, 0, len(ws))
	for i, w := range ws {
		k := rowKey(w.Key)
		if _, ok := final[k]; !ok {
			keys = append(keys, k)
		}
		final[k] = i
	}
	sort.Strings(keys)
	var purges []string
	var up struct {
		keys, keyspaces, kinds, values, clocks []string
		rawKeys, objects                       [][]byte
		tombstones                             []bool
		expires                                []pgtype.Timestamptz
	}
	for _, k := range keys {
		w := ws[final[k]]
		if w.Purge {
			purges = append(purges, k)
			continue
		}
		o := w.Object
		up.keys = append(up.keys, k)
		up.keyspaces = append(up.keyspaces, escape(w.Key.Keyspace, true))
		up.rawKeys = append(up.rawKeys, append([]byte{}, w.Key.Key...))
		up.kinds = append(up.kinds, o.Kind.String())
		up.values = append(up.values, string(valueJSON(o)))
		up.clocks = append(up.clocks, string(clockJSON(o.Context)))
		up.objects = append(up.objects, object.Encode(o))
		up.tombstones = append(up.tombstones, allTombstones(o))
		up.expires = append(up.expires, lastExpiry(o))
	}
	if len(purges) > 0 && len(up.keys) > 0 {
		pb.Queue(sqlLockObjects, e.node, keys)
	}
	if len(purges) > 0 {
		pb.Queue(sqlPurgeObjects, e.node, purges)
	}
	if len(up.keys) > 0 {
		pb.Queue(sqlUpsertObjects, e.node, up.keys, up.keyspaces, up.rawKeys, up.kinds, up.values,
			up.clocks, up.objects, up.tombstones, up.expires)
	}
}

// allTombstones reports whether o has siblings and all of them are tombstones.
func allTombstones(o object.Object) bool {
	for _, s := range o.Siblings {
		if !s.Tombstone {
			return false
		}
	}
	return len(o.Siblings) > 0
}

// lastExpiry is the expires_at column: when the last live sibling expires, if every
// live sibling expires; NULL otherwise (clamped to timestamptz's range).
func lastExpiry(o object.Object) pgtype.Timestamptz {
	var last int64
	for _, s := range o.Siblings {
		if s.Tombstone {
			continue
		}
		if s.ExpiresAt == 0 {
			return pgtype.Timestamptz{}
		}
		last = max(last, s.ExpiresAt)
	}
	if last == 0 {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: time.UnixMilli(min(max(last, minMillis), maxMillis)).UTC(), Valid: true}
}

func (e *Engine) planMeta(pb *statements, ms []record.MetaWrite) {
	if len(ms) == 0 {
		return
	}
	final := make(map[string][]byte, len(ms))
	for _, m := range ms {
		final[m.Name] = m.Value
	}
	names := make([]string, 0, len(final))
	for name := range final {
		names = append(names, name)
	}
	sort.Strings(names)
	nameBytes := make([][]byte, len(names))
	values := make([][]byte, len(names))
	for i, name := range names {
		nameBytes[i] = append([]byte{}, name...)
		values[i] = append([]byte{}, final[name]...) // never nil: NULL is not a value
	}
	pb.Queue(sqlUpsertMeta, e.node, nameBytes, values)
}

func (e *Engine) planHints(pb *statements, hs []record.Hint, deletes []uint64) error {
	deleted := make(map[uint64]bool, len(deletes))
	var ids []int64
	for _, id := range deletes {
		if id > math.MaxInt64 || deleted[id] {
			continue // never stored, or already listed
		}
		deleted[id] = true
		ids = append(ids, int64(id))
	}
	final := make(map[uint64]record.Hint, len(hs))
	for _, h := range hs {
		if h.ID > math.MaxInt64 {
			return fmt.Errorf("%w: hint id %d exceeds the bigint range", storage.ErrInvalid, h.ID)
		}
		if err := checkMillis("hint created_at", h.CreatedAt); err != nil {
			return err
		}
		if err := checkMillis("hint expires_at", h.ExpiresAt); err != nil {
			return err
		}
		if !deleted[h.ID] {
			final[h.ID] = h
		}
	}
	if len(final) > 0 {
		order := make([]uint64, 0, len(final))
		for id := range final {
			order = append(order, id)
		}
		sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
		var a struct {
			ids                                     []int64
			targets, keys, keyspaces, kinds, values []string
			targetRaw, objects                      [][]byte
			created, expires                        []time.Time
		}
		for _, id := range order {
			h := final[id]
			a.ids = append(a.ids, int64(id))
			a.targets = append(a.targets, escape(h.Target, false))
			a.targetRaw = append(a.targetRaw, append([]byte{}, h.Target...))
			a.keys = append(a.keys, rowKey(h.Key))
			a.keyspaces = append(a.keyspaces, escape(h.Key.Keyspace, true))
			a.kinds = append(a.kinds, h.Object.Kind.String())
			a.values = append(a.values, string(valueJSON(h.Object)))
			a.objects = append(a.objects, object.Encode(h.Object))
			a.created = append(a.created, time.UnixMilli(h.CreatedAt).UTC())
			a.expires = append(a.expires, time.UnixMilli(h.ExpiresAt).UTC())
		}
		if len(ids) > 0 {
			pb.Queue(sqlLockHints, e.node, sortedUnion(a.ids, ids))
		}
		pb.Queue(sqlUpsertHints, e.node, a.ids, a.targets, a.targetRaw, a.keys, a.keyspaces, a.kinds,
			a.values, a.objects, a.created, a.expires)
	}
	if len(ids) > 0 {
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		pb.Queue(sqlDeliverHints, e.node, ids)
	}
	return nil
}

// sortedUnion returns the ids of a and b (each without duplicates), sorted.
func sortedUnion(a, b []int64) []int64 {
	out := append(append(make([]int64, 0, len(a)+len(b)), a...), b...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// planRepairs appends the entries of rs that fit in the retention window (a batch
// larger than the window keeps only its newest entries) and returns how many.
func (e *Engine) planRepairs(pb *statements, rs []record.Repair) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	for _, r := range rs {
		if err := checkMillis("repaired_at", r.RepairedAt); err != nil {
			return 0, err
		}
	}
	if len(rs) > e.maxRepairs {
		rs = rs[len(rs)-e.maxRepairs:]
	}
	keys := make([]string, len(rs))
	keyspaces := make([]string, len(rs))
	stale := make([]string, len(rs))
	at := make([]time.Time, len(rs))
	for i, r := range rs {
		keys[i] = rowKey(r.Key)
		keyspaces[i] = escape(r.Key.Keyspace, true)
		stale[i] = escape(r.StaleNode, false)
		at[i] = time.UnixMilli(r.RepairedAt).UTC()
	}
	pb.Queue(sqlAppendRepairs, e.node, keys, keyspaces, stale, at)
	return len(rs), nil
}

// checkMillis rejects a time that timestamptz cannot hold.
func checkMillis(what string, ms int64) error {
	if ms < minMillis || ms > maxMillis {
		return fmt.Errorf("%w: %s %d ms is outside PostgreSQL's timestamp range", storage.ErrInvalid, what, ms)
	}
	return nil
}
