package storage

// StatsReporter is an Engine that can report its size and background work. It is
// optional: the node exports chorus_storage_* metrics only for an engine that
// implements it (pebble does; memory and postgres do not).
type StatsReporter interface {
	// Stats returns the engine's current figures. It must be cheap enough to call on
	// every metrics scrape (no scan of the data) and safe to call concurrently with
	// every other method. After Close it returns ErrClosed.
	Stats() (Stats, error)
}

// Stats are a storage engine's sizes and background-work counters. The counters
// (Compactions, CompactionBytes, …) count since the engine was opened. They are laid
// out for an LSM store (pebble); a field an engine has no notion of is zero.
type Stats struct {
	// DiskBytes is the space the engine's files take on disk: live and obsolete data
	// files, the write-ahead log and the manifest.
	DiskBytes uint64
	// LiveDataBytes is the size of the data files (sstables and blob files) that hold
	// the current data. DiskBytes − LiveDataBytes − WALBytes is mostly obsolete files
	// waiting to be deleted.
	LiveDataBytes uint64
	// WALBytes is the size on disk of the live write-ahead log files.
	WALBytes uint64
	// MemtableBytes is the memory held by memtables (writes not yet flushed to a
	// data file).
	MemtableBytes uint64

	// Tables is the number of live sstables across all levels.
	Tables uint64
	// L0Files and L0Sublevels describe level 0, where flushes land: a growing count
	// means compactions are not keeping up with writes (reads slow down, then Pebble
	// stalls writes).
	L0Files     uint64
	L0Sublevels uint64
	// ReadAmplification is the number of sstable layers a point read may have to
	// consult (L0 sublevels plus non-empty lower levels).
	ReadAmplification uint64

	// Compactions counts finished compactions; CompactionBytes the bytes they wrote;
	// CompactionsFailed those that ended with an error.
	Compactions       uint64
	CompactionBytes   uint64
	CompactionsFailed uint64
	// CompactionsInProgress is the number of compactions running now.
	CompactionsInProgress uint64
	// CompactionDebtBytes estimates how many bytes must still be compacted for the
	// store to reach its steady shape.
	CompactionDebtBytes uint64

	// Flushes counts memtable flushes; FlushBytes the bytes they wrote.
	Flushes    uint64
	FlushBytes uint64
	// WALWrittenBytes counts the bytes written to the write-ahead log. Together with
	// FlushBytes and CompactionBytes it gives the write amplification:
	// (WALWrittenBytes + FlushBytes + CompactionBytes) / WALWrittenBytes.
	WALWrittenBytes uint64

	// BlockCacheBytes is the memory the block cache holds; BlockCacheHits and
	// BlockCacheMisses count its lookups.
	BlockCacheBytes  uint64
	BlockCacheHits   uint64
	BlockCacheMisses uint64

	// RecentObjectHits counts the object reads answered by the recently-written-objects
	// cache (no LSM lookup); RecentObjectMisses those that missed it (they went to the
	// LSM, unless the key filter answered them: KeyFilterSkips). Engines without such a
	// cache report zero for both.
	RecentObjectHits   uint64
	RecentObjectMisses uint64

	// KeyFilterSkips counts the object reads answered "not found" by a filter of the
	// keys the store holds, without an LSM lookup (the first write of a new key);
	// engines without one report zero.
	KeyFilterSkips uint64
}
