package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
)

// Hints live in HintedHandoff, one row per hint, holder_node naming the node that holds
// it and holder_hint_id its record.Hint.ID (hint_id, the table's own bigserial key, is
// unique across every node sharing the database and means nothing to Chorus). A
// HintDeletes entry does not delete the row: it sets delivered_at, which takes the row
// out of every pending index at once, and the janitor deletes delivered rows one
// PurgeInterval later, so recent deliveries stay visible to SQL. Expired hints are left
// to the core, which counts them and deletes them like delivered ones; the engine never
// drops an undelivered hint by itself.

const (
	sqlScanHintsAll = `SELECT holder_hint_id, target_raw, key, object, created_at, expires_at FROM HintedHandoff
WHERE holder_node = $1 AND delivered_at IS NULL ORDER BY target_raw, holder_hint_id`

	sqlScanHintsTarget = `SELECT holder_hint_id, target_raw, key, object, created_at, expires_at FROM HintedHandoff
WHERE holder_node = $1 AND target_raw = $2 AND delivered_at IS NULL ORDER BY holder_hint_id`

	// purgeChunk bounds the rows one purge statement deletes.
	purgeChunk = 10000

	sqlPurgeDelivered = `DELETE FROM HintedHandoff WHERE hint_id IN (
	SELECT hint_id FROM HintedHandoff
	WHERE holder_node = $1 AND delivered_at IS NOT NULL AND delivered_at < now() - $2::interval
	LIMIT $3)`
)

// ScanHints calls fn for the pending (undelivered) hints held for target in id order;
// with target "" it visits every pending hint, ordered by target (bytes) then id. The
// scan sees one snapshot (see Engine.ScanObjects). fn may call the engine's other
// methods, Commit included, but not Close.
func (e *Engine) ScanHints(target string, fn func(h record.Hint) bool) error {
	sql, args := sqlScanHintsAll, []any{e.node}
	if target != "" {
		if err := storage.ValidTarget(target); err != nil {
			return err
		}
		sql, args = sqlScanHintsTarget, []any{e.node, []byte(target)}
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	return e.scan("scan hints", sql, args, func(rows pgx.Rows) (bool, error) {
		var (
			id               int64
			target, buf      []byte
			key              string
			created, expires time.Time
		)
		if err := rows.Scan(&id, &target, &key, &buf, &created, &expires); err != nil {
			return false, err
		}
		k, err := parseRowKey(key)
		if err != nil {
			return false, err
		}
		obj, err := decodeObject(k, buf)
		if err != nil {
			return false, err
		}
		return fn(record.Hint{
			ID:        uint64(id),
			Target:    string(target),
			Key:       k,
			Object:    obj,
			CreatedAt: created.UnixMilli(),
			ExpiresAt: expires.UnixMilli(),
		}), nil
	})
}

// purgeDelivered deletes this node's hints delivered more than keep ago, in chunks.
func (e *Engine) purgeDelivered(ctx context.Context, keep time.Duration) (int64, error) {
	var total int64
	for {
		tctx, cancel := context.WithTimeout(ctx, e.timeout)
		tag, err := e.pool.Exec(tctx, sqlPurgeDelivered, e.node, keep, purgeChunk)
		cancel()
		e.health.observe(err)
		if err != nil {
			return total, e.wrap("purge delivered hints", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < purgeChunk {
			return total, nil
		}
	}
}
