package pebble

import (
	"github.com/chorusdb/chorus/internal/storage"
)

var _ storage.StatsReporter = (*Engine)(nil)

// Stats returns the store's sizes and compaction figures from Pebble's own metrics
// (in memory: no I/O, no scan). It works on a failed engine too — its disk is still
// there — and returns storage.ErrClosed after Close.
func (e *Engine) Stats() (storage.Stats, error) {
	e.inflight.Add(1)
	defer e.exit()
	if e.closed.Load() {
		return storage.Stats{}, storage.ErrClosed
	}
	m := e.db.Metrics()
	// Pebble measures a log file's physical size when the file is opened, so the log
	// being written counts as empty (or as its recycled size) until it is rotated; its
	// logical size (m.WAL.Size) is current. Take the larger, and count the difference
	// on disk too.
	wal := max(m.WAL.PhysicalSize, m.WAL.Size)
	s := storage.Stats{
		DiskBytes:     m.DiskSpaceUsage() + (wal - m.WAL.PhysicalSize),
		LiveDataBytes: m.Table.Local.LiveSize + m.BlobFiles.Local.LiveSize,
		WALBytes:      wal,
		MemtableBytes: m.MemTable.Size,

		L0Files:           nonNegative(m.Levels[0].TablesCount),
		L0Sublevels:       nonNegative(int64(m.Levels[0].Sublevels)),
		ReadAmplification: nonNegative(int64(m.ReadAmp())),

		Compactions:           nonNegative(m.Compact.Count),
		CompactionsFailed:     nonNegative(m.Compact.FailedCount),
		CompactionsInProgress: nonNegative(m.Compact.NumInProgress),
		CompactionDebtBytes:   m.Compact.EstimatedDebt,

		Flushes:         nonNegative(m.Flush.Count),
		WALWrittenBytes: m.WAL.BytesWritten,

		BlockCacheBytes:  nonNegative(m.BlockCache.Size),
		BlockCacheHits:   nonNegative(m.BlockCache.Hits),
		BlockCacheMisses: nonNegative(m.BlockCache.Misses),

		RecentObjectHits:   e.recentHits.Load(),
		RecentObjectMisses: e.recentMisses.Load(),
		KeyFilterSkips:     e.filterSkips.Load(),
	}
	for _, l := range m.Levels {
		s.Tables += nonNegative(l.TablesCount)
		s.CompactionBytes += l.TableBytesCompacted + l.BlobBytesCompacted
		s.FlushBytes += l.TableBytesFlushed + l.BlobBytesFlushed
	}
	return s, nil
}

func nonNegative(n int64) uint64 {
	if n < 0 {
		return 0
	}
	return uint64(n)
}
