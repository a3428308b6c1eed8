package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

const (
	sqlGetMeta = `SELECT value FROM chorus_meta WHERE node_id = $1 AND name = $2`

	sqlScanMeta = `SELECT name, value FROM chorus_meta
WHERE node_id = $1 AND name >= $2 AND ($3::bytea IS NULL OR name < $3) ORDER BY name`
)

// GetMeta returns a copy of the named metadata value.
func (e *Engine) GetMeta(name string) ([]byte, bool, error) {
	if err := e.enter(); err != nil {
		return nil, false, err
	}
	defer e.exit()
	ctx, cancel := e.opContext()
	defer cancel()
	var value []byte
	found := false
	err := e.roundTrip(ctx, "get meta", func(ctx context.Context) error {
		err := e.pool.QueryRow(ctx, sqlGetMeta, e.node, []byte(name)).Scan(&value)
		found = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil || !found {
		return nil, false, err
	}
	if value == nil {
		value = []byte{}
	}
	return value, true, nil
}

// ScanMeta calls fn for each metadata entry whose name starts with prefix, in name
// (byte) order, from one snapshot. fn gets a copy of each value and may call the
// engine's other methods, but not Close.
func (e *Engine) ScanMeta(prefix string, fn func(name string, value []byte) bool) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	return e.scan("scan meta", sqlScanMeta, []any{e.node, []byte(prefix), prefixEnd([]byte(prefix))}, func(rows pgx.Rows) (bool, error) {
		var name, value []byte
		if err := rows.Scan(&name, &value); err != nil {
			return false, err
		}
		if value == nil {
			value = []byte{}
		}
		return fn(string(name), value), nil
	})
}

// prefixEnd returns the smallest byte string greater than every string with prefix p,
// or nil (no bound) if there is none (p is empty or all 0xff).
func prefixEnd(p []byte) []byte {
	end := append([]byte{}, p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
