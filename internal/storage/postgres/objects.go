package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/storage"
)

const (
	sqlGetObject = `SELECT object FROM ReplicaState WHERE node_id = $1 AND key = $2`

	sqlScanObjects = `SELECT raw_key, object FROM ReplicaState
WHERE node_id = $1 AND keyspace = $2 AND raw_key >= $3 ORDER BY raw_key`

	// sqlKeyspaces is a skip scan of replicastate_scan: one index probe per keyspace,
	// however many keys each holds.
	sqlKeyspaces = `WITH RECURSIVE ks(keyspace) AS (
	(SELECT keyspace FROM ReplicaState WHERE node_id = $1 ORDER BY keyspace LIMIT 1)
	UNION ALL
	SELECT (SELECT r.keyspace FROM ReplicaState r
		WHERE r.node_id = $1 AND r.keyspace > ks.keyspace ORDER BY r.keyspace LIMIT 1)
	FROM ks WHERE ks.keyspace IS NOT NULL
)
SELECT keyspace FROM ks WHERE keyspace IS NOT NULL`
)

// Get returns the object stored under key, decoded from the object column.
func (e *Engine) Get(key object.Key) (object.Object, bool, error) {
	if err := storage.ValidKeyspace(key.Keyspace); err != nil {
		return object.Object{}, false, err
	}
	if err := e.enter(); err != nil {
		return object.Object{}, false, err
	}
	defer e.exit()
	ctx, cancel := e.opContext()
	defer cancel()
	var buf []byte
	found := false
	err := e.roundTrip(ctx, "get", func(ctx context.Context) error {
		err := e.pool.QueryRow(ctx, sqlGetObject, e.node, rowKey(key)).Scan(&buf)
		found = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil || !found {
		return object.Object{}, false, err
	}
	obj, err := decodeObject(key, buf)
	if err != nil {
		return object.Object{}, false, err
	}
	return obj, true, nil
}

// ScanObjects calls fn for every object in keyspace ks with key >= start, in key
// (byte) order. The scan reads one snapshot (through a cursor): a batch committed
// meanwhile is seen wholly or not at all. fn runs while the scan's connection (from
// the scan pool) is held; it may call the engine's other methods, but not Close.
func (e *Engine) ScanObjects(ks string, start string, fn func(key object.Key, obj object.Object) bool) error {
	if err := storage.ValidKeyspace(ks); err != nil {
		return err
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	return e.scan("scan objects", sqlScanObjects, []any{e.node, escape(ks, true), []byte(start)}, func(rows pgx.Rows) (bool, error) {
		var raw, buf []byte
		if err := rows.Scan(&raw, &buf); err != nil {
			return false, err
		}
		key := object.Key{Keyspace: ks, Key: string(raw)}
		obj, err := decodeObject(key, buf)
		if err != nil {
			return false, err
		}
		return fn(key, obj), nil
	})
}

// Keyspaces lists the keyspaces holding at least one object, sorted by their bytes.
func (e *Engine) Keyspaces() ([]string, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.exit()
	ctx, cancel := e.opContext()
	defer cancel()
	var escaped []string
	err := e.roundTrip(ctx, "keyspaces", func(ctx context.Context) error {
		rows, _ := e.pool.Query(ctx, sqlKeyspaces, e.node)
		var err error
		escaped, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(escaped))
	for _, s := range escaped {
		ks, err := unescape(s)
		if err != nil {
			return nil, err
		}
		out = append(out, ks)
	}
	sort.Strings(out)
	return out, nil
}

// scanPage is how many rows a scan fetches per round trip. A scan that stops early
// has read at most this many rows past the last one it wanted.
const scanPage = 256

// scan runs query through a cursor on a scan pool connection and calls each for every
// row until it returns false or an error. The cursor lives in a read-only transaction
// and sees the snapshot of its DECLARE, so the whole scan sees one snapshot however
// many pages it fetches; pages stream row by row, so memory holds one row at a time.
// Acquiring the connection is bounded by the query timeout; the rest is not, since a
// scan's length depends on its caller. Failures before the first row are retried like
// any round trip; later ones are returned, since each must not see a row twice.
func (e *Engine) scan(what, query string, args []any, each func(pgx.Rows) (bool, error)) error {
	delivered := false
	err := e.roundTrip(context.Background(), what, func(ctx context.Context) error {
		err := e.scanOnce(ctx, query, args, func(rows pgx.Rows) (bool, error) {
			delivered = true
			return each(rows)
		})
		if err != nil && delivered {
			return noRetry{err}
		}
		return err
	})
	return err
}

// scanOnce is one attempt of scan.
func (e *Engine) scanOnce(ctx context.Context, query string, args []any, each func(pgx.Rows) (bool, error)) error {
	actx, cancel := e.opContext()
	conn, err := e.scanPool.Acquire(actx)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Release()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // read only: nothing to lose; a failed rollback discards the connection
	// The cursor's name depends on the query, so each kind of scan has its own FETCH
	// text: pgx caches a statement's result columns by its text.
	cursor := fmt.Sprintf("chorus_scan_%08x", crc32.ChecksumIEEE([]byte(query)))
	if _, err := tx.Exec(ctx, "DECLARE "+cursor+" NO SCROLL CURSOR FOR "+query, args...); err != nil {
		return err
	}
	fetch := fmt.Sprintf("FETCH %d FROM %s", scanPage, cursor)
	for {
		rows, err := tx.Query(ctx, fetch)
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			n++
			more, err := each(rows)
			if err != nil || !more {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if n < scanPage {
			return nil
		}
	}
}

// noRetry marks an error that roundTrip must return rather than retry.
type noRetry struct{ error }

func (n noRetry) Unwrap() error { return n.error }

// decodeObject decodes a stored object; errors wrap storage.ErrCorrupt.
func decodeObject(key object.Key, buf []byte) (object.Object, error) {
	obj, err := object.Decode(buf)
	if err != nil {
		return object.Object{}, fmt.Errorf("%w: object %q: %w", storage.ErrCorrupt, key.String(), err)
	}
	return obj, nil
}
