package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chorusdb/chorus/internal/record"
)

// The read-repair log is ReadRepairLog: node_id names the node that made the repair,
// id (a bigserial) orders entries by when their Commit inserted them, and repaired_at
// holds record.Repair.RepairedAt. Retention is a window of the newest MaxRepairs rows
// per node: RecentRepairs never reads past it, and the janitor deletes the rows behind
// it — every PurgeInterval, and as soon as a quarter of a window has been appended
// since its last trim — so a Commit pays no trimming cost.

const (
	sqlRecentRepairs = `SELECT key, stale_node_id, repaired_at FROM ReadRepairLog
WHERE node_id = $1 ORDER BY id DESC LIMIT $2`

	sqlTrimRepairs = `DELETE FROM ReadRepairLog WHERE node_id = $1 AND id < (
	SELECT id FROM ReadRepairLog WHERE node_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)`
)

// RecentRepairs returns up to limit read-repair log entries, newest first.
func (e *Engine) RecentRepairs(limit int) ([]record.Repair, error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.exit()
	limit = min(limit, e.maxRepairs)
	if limit <= 0 {
		return []record.Repair{}, nil
	}
	ctx, cancel := e.opContext()
	defer cancel()
	type row struct {
		key, stale string
		at         time.Time
	}
	var rows []row
	err := e.roundTrip(ctx, "recent repairs", func(ctx context.Context) error {
		rs, _ := e.pool.Query(ctx, sqlRecentRepairs, e.node, limit)
		var err error
		rows, err = pgx.CollectRows(rs, func(r pgx.CollectableRow) (row, error) {
			var out row
			err := r.Scan(&out.key, &out.stale, &out.at)
			return out, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]record.Repair, 0, len(rows))
	for _, r := range rows {
		key, err := parseRowKey(r.key)
		if err != nil {
			return nil, err
		}
		stale, err := unescape(r.stale)
		if err != nil {
			return nil, err
		}
		out = append(out, record.Repair{Key: key, StaleNode: stale, RepairedAt: r.at.UnixMilli()})
	}
	return out, nil
}

// trimRepairs deletes this node's entries behind the retention window.
func (e *Engine) trimRepairs(ctx context.Context) (int64, error) {
	e.appended.Store(0)
	tctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	tag, err := e.pool.Exec(tctx, sqlTrimRepairs, e.node, e.maxRepairs-1)
	e.health.observe(err)
	if err != nil {
		return 0, e.wrap("trim repair log", err)
	}
	return tag.RowsAffected(), nil
}
