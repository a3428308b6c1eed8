package pebble

import (
	"fmt"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/chorusdb/chorus/internal/record"
)

// The read-repair log is kept under 'r' + sequence number. Sequence numbers are handed
// out by an atomic counter, so entries are ordered by when their Commit began; after a
// restart the counter continues after the newest stored entry. Retention is a sliding
// window: the Commit that appends entry s deletes entry s-maxRepairs, so steady state
// costs one point delete per entry and no scan. A Commit that fails (or a concurrent
// Commit that lands more than maxRepairs entries late) can leave an entry behind the
// window; Open trims everything behind it with one range deletion.

// deleteRangeMin is the number of stale entries above which trimming uses one range
// deletion instead of point deletions.
const deleteRangeMin = 64

// loadRepairSeq sets nextRepair after the newest stored entry and trims entries that
// fell behind the retention window.
func (e *Engine) loadRepairSeq() (err error) {
	it, err := e.db.NewIter(&pebbledb.IterOptions{
		LowerBound: []byte{prefixRepair},
		UpperBound: []byte{prefixRepair + 1},
	})
	if err != nil {
		return readError("repair log", err)
	}
	defer closeIter(it, "repair log", &err)
	if !it.First() {
		return it.Error()
	}
	first, err := parseRepairKey(it.Key())
	if err != nil {
		return err
	}
	it.Last()
	last, err := parseRepairKey(it.Key())
	if err != nil {
		return err
	}
	e.nextRepair.Store(last + 1)
	if last+1-first <= e.maxRepairs {
		return nil
	}
	keepFrom := last + 1 - e.maxRepairs
	if err := e.db.DeleteRange(repairKey(0), repairKey(keepFrom), pebbledb.Sync); err != nil {
		return fmt.Errorf("storage/pebble: trim repair log: %w", err)
	}
	return nil
}

// appendRepairs adds rs to pb with fresh sequence numbers, and deletes the entries they
// push out of the retention window.
func (e *Engine) appendRepairs(pb *pebbledb.Batch, rs []record.Repair) error {
	if len(rs) == 0 {
		return nil
	}
	n := uint64(len(rs))
	first := e.nextRepair.Add(n) - n
	end := first + n
	var buf []byte
	for i, r := range rs {
		seq := first + uint64(i)
		if seq+e.maxRepairs < end {
			continue // this batch alone pushes it out of the window
		}
		buf = appendRepair(buf[:0], r)
		if err := pb.Set(repairKey(seq), buf, nil); err != nil {
			return fmt.Errorf("storage/pebble: batch: %w", err)
		}
	}
	// Entries before first in [end-maxRepairs-n, end-maxRepairs) leave the window.
	if end <= e.maxRepairs {
		return nil
	}
	hi := min(end-e.maxRepairs, first)
	lo := uint64(0)
	if first > e.maxRepairs {
		lo = first - e.maxRepairs
	}
	if hi <= lo {
		return nil
	}
	if hi-lo > deleteRangeMin {
		if err := pb.DeleteRange(repairKey(lo), repairKey(hi), nil); err != nil {
			return fmt.Errorf("storage/pebble: batch: %w", err)
		}
		return nil
	}
	for seq := lo; seq < hi; seq++ {
		if err := pb.Delete(repairKey(seq), nil); err != nil {
			return fmt.Errorf("storage/pebble: batch: %w", err)
		}
	}
	return nil
}

// RecentRepairs returns up to limit read-repair log entries, newest first.
func (e *Engine) RecentRepairs(limit int) (out []record.Repair, err error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.exit()
	defer e.recoverFatal(&err)
	limit = min(limit, int(e.maxRepairs))
	if limit <= 0 {
		return []record.Repair{}, nil
	}
	it, err := e.db.NewIter(&pebbledb.IterOptions{
		LowerBound: []byte{prefixRepair},
		UpperBound: []byte{prefixRepair + 1},
	})
	if err != nil {
		return nil, readError("repair log", err)
	}
	defer closeIter(it, "repair log", &err)
	out = make([]record.Repair, 0, min(limit, 64))
	for valid := it.Last(); valid && len(out) < limit; valid = it.Prev() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, readError("repair log", err)
		}
		r, err := decodeRepair(v)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := it.Error(); err != nil {
		return nil, readError("repair log", err)
	}
	return out, nil
}
