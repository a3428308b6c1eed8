package pebble

import (
	"errors"
	"fmt"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
)

// Hints are kept under 'h' + target + 0x00 + id, so one target's hints are one
// contiguous range in id order, and the whole 'h' range is in (target, id) order. A
// delete names only the id, so an index 'i' + id → target finds the key to delete with
// one point read. Storing a hint whose id is already stored replaces it, also when the
// target differs.
//
// Because those commits read the index before writing, they are serialized by hintMu
// from the read until the batch is visible. With storage.Sync they do not hold the
// mutex while the log is fsynced: they use Pebble's ApplyNoSyncWait (the batch is
// visible once it returns; Pebble publishes a batch before its fsync completes in every
// case) and wait for the fsync with SyncWait after unlocking, so hint commits still
// share fsyncs with each other and with other commits.

// commitHints adds b's hints and hint deletions to pb, which already holds b's other
// writes, and applies it. An error applying it fails the engine (see Engine.fail).
func (e *Engine) commitHints(pb *pebbledb.Batch, b *record.Batch) error {
	e.hintMu.Lock()
	locked := true
	defer func() {
		if locked {
			e.hintMu.Unlock()
		}
	}()
	// staged maps the ids this batch has touched to their target ("" once deleted), so
	// later writes of the same batch see the earlier ones.
	staged := make(map[uint64]string, len(b.Hints)+len(b.HintDeletes))
	targetOf := func(id uint64) (string, error) {
		if t, ok := staged[id]; ok {
			return t, nil
		}
		return e.hintTarget(id)
	}
	var buf []byte
	for _, h := range b.Hints {
		old, err := targetOf(h.ID)
		if err != nil {
			return err
		}
		if old != "" && old != h.Target {
			if err := pb.Delete(hintKey(old, h.ID), nil); err != nil {
				return fmt.Errorf("storage/pebble: batch: %w", err)
			}
		}
		buf = appendHint(buf[:0], h)
		if err := pb.Set(hintKey(h.Target, h.ID), buf, nil); err != nil {
			return fmt.Errorf("storage/pebble: batch: %w", err)
		}
		if err := pb.Set(hintIndexKey(h.ID), []byte(h.Target), nil); err != nil {
			return fmt.Errorf("storage/pebble: batch: %w", err)
		}
		staged[h.ID] = h.Target
	}
	for _, id := range b.HintDeletes {
		old, err := targetOf(id)
		if err != nil {
			return err
		}
		if old == "" {
			continue
		}
		if err := pb.Delete(hintKey(old, id), nil); err != nil {
			return fmt.Errorf("storage/pebble: batch: %w", err)
		}
		if err := pb.Delete(hintIndexKey(id), nil); err != nil {
			return fmt.Errorf("storage/pebble: batch: %w", err)
		}
		staged[id] = ""
	}

	var err error
	if e.writeOpts.GetSync() {
		err = e.db.ApplyNoSyncWait(pb, e.writeOpts)
		e.hintMu.Unlock()
		locked = false
		if err == nil {
			err = pb.SyncWait()
		}
	} else {
		err = e.db.Apply(pb, e.writeOpts)
		e.hintMu.Unlock()
		locked = false
	}
	if err != nil {
		return e.fail(err)
	}
	return nil
}

// hintTarget returns the target of the stored hint with this id, or "" if there is
// none.
func (e *Engine) hintTarget(id uint64) (string, error) {
	v, closer, err := e.db.Get(hintIndexKey(id))
	if errors.Is(err, pebbledb.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", readError("hint index", err)
	}
	defer closer.Close()
	if len(v) == 0 {
		return "", fmt.Errorf("%w: hint %d: empty index entry", storage.ErrCorrupt, id)
	}
	return string(v), nil
}

// ScanHints calls fn for target's hints in id order, or with target "" for every hint
// ordered by target then id.
func (e *Engine) ScanHints(target string, fn func(h record.Hint) bool) (err error) {
	if target != "" {
		if err := storage.ValidTarget(target); err != nil {
			return err
		}
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	defer e.recoverFatal(&err)
	lower, upper := hintBounds(target)
	it, err := e.db.NewIter(&pebbledb.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return readError("hints", err)
	}
	defer closeIter(it, "hints", &err)
	for valid := it.First(); valid; valid = it.Next() {
		h, err := e.iterHint(it)
		if err != nil {
			return err
		}
		if !fn(h) {
			return nil
		}
	}
	if err := it.Error(); err != nil {
		return readError("hints", err)
	}
	return nil
}

// iterHint decodes the hint at it and checks it against its key.
func (e *Engine) iterHint(it *pebbledb.Iterator) (record.Hint, error) {
	target, id, err := parseHintKey(it.Key())
	if err != nil {
		return record.Hint{}, err
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return record.Hint{}, readError("hints", err)
	}
	h, err := decodeHint(v)
	if err != nil {
		return record.Hint{}, err
	}
	if h.ID != id || h.Target != target {
		return record.Hint{}, fmt.Errorf("%w: hint stored as %s/%d holds %s/%d",
			storage.ErrCorrupt, target, id, h.Target, h.ID)
	}
	return h, nil
}
