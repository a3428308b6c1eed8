package node

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chorusdb/chorus/internal/storage"
)

// storageMetric is one chorus_storage_* metric computed from storage.Stats.
type storageMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(storage.Stats) float64
}

// storageCollector exports an engine's Stats. It reads them once per scrape, so one
// scrape sees one consistent set of figures; an engine that is closed (or cannot report)
// yields no samples rather than zeros.
type storageCollector struct {
	engine  storage.StatsReporter
	metrics []storageMetric
}

// registerStorageStats registers the chorus_storage_* size and compaction metrics when
// the node's engine reports them (storage.StatsReporter: pebble).
func registerStorageStats(reg prometheus.Registerer, n *Node) {
	sr, ok := n.engine.(storage.StatsReporter)
	if !ok {
		return
	}
	reg.MustRegister(newStorageCollector(sr))
}

func newStorageCollector(sr storage.StatsReporter) *storageCollector {
	c := &storageCollector{engine: sr}
	add := func(kind prometheus.ValueType, name, help string, f func(storage.Stats) uint64) {
		c.metrics = append(c.metrics, storageMetric{
			desc:  prometheus.NewDesc(name, help, nil, nil),
			kind:  kind,
			value: func(s storage.Stats) float64 { return float64(f(s)) },
		})
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	add(gauge, "chorus_storage_disk_bytes",
		"Disk space taken by the storage engine's files: data files (live and obsolete), write-ahead log, manifest.",
		func(s storage.Stats) uint64 { return s.DiskBytes })
	add(gauge, "chorus_storage_live_data_bytes",
		"Size of the data files (sstables, blob files) holding the current data.",
		func(s storage.Stats) uint64 { return s.LiveDataBytes })
	add(gauge, "chorus_storage_wal_bytes",
		"Size on disk of the live write-ahead log files.",
		func(s storage.Stats) uint64 { return s.WALBytes })
	add(gauge, "chorus_storage_memtable_bytes",
		"Memory held by memtables (writes not yet flushed to a data file).",
		func(s storage.Stats) uint64 { return s.MemtableBytes })
	add(gauge, "chorus_storage_tables",
		"Live sstables, all levels.",
		func(s storage.Stats) uint64 { return s.Tables })
	add(gauge, "chorus_storage_l0_files",
		"Sstables in level 0; a growing count means compactions are not keeping up with writes.",
		func(s storage.Stats) uint64 { return s.L0Files })
	add(gauge, "chorus_storage_l0_sublevels",
		"Sublevels of level 0 (overlapping layers a read may consult); writes stall when it grows large.",
		func(s storage.Stats) uint64 { return s.L0Sublevels })
	add(gauge, "chorus_storage_read_amplification",
		"Sstable layers a point read may consult: level-0 sublevels plus non-empty lower levels.",
		func(s storage.Stats) uint64 { return s.ReadAmplification })
	add(counter, "chorus_storage_compactions_total",
		"Compactions finished since the engine was opened.",
		func(s storage.Stats) uint64 { return s.Compactions })
	add(counter, "chorus_storage_compaction_bytes_total",
		"Bytes written by compactions since the engine was opened.",
		func(s storage.Stats) uint64 { return s.CompactionBytes })
	add(counter, "chorus_storage_compactions_failed_total",
		"Compactions that ended with an error since the engine was opened.",
		func(s storage.Stats) uint64 { return s.CompactionsFailed })
	add(gauge, "chorus_storage_compactions_in_progress",
		"Compactions running now.",
		func(s storage.Stats) uint64 { return s.CompactionsInProgress })
	add(gauge, "chorus_storage_compaction_debt_bytes",
		"Estimated bytes still to compact for the store to reach its steady shape.",
		func(s storage.Stats) uint64 { return s.CompactionDebtBytes })
	add(counter, "chorus_storage_flushes_total",
		"Memtable flushes since the engine was opened.",
		func(s storage.Stats) uint64 { return s.Flushes })
	add(counter, "chorus_storage_flush_bytes_total",
		"Bytes written by memtable flushes since the engine was opened.",
		func(s storage.Stats) uint64 { return s.FlushBytes })
	add(counter, "chorus_storage_wal_written_bytes_total",
		"Bytes written to the write-ahead log since the engine was opened.",
		func(s storage.Stats) uint64 { return s.WALWrittenBytes })
	add(gauge, "chorus_storage_block_cache_bytes",
		"Memory held by the block cache.",
		func(s storage.Stats) uint64 { return s.BlockCacheBytes })
	add(counter, "chorus_storage_block_cache_hits_total",
		"Block cache lookups that found the block.",
		func(s storage.Stats) uint64 { return s.BlockCacheHits })
	add(counter, "chorus_storage_block_cache_misses_total",
		"Block cache lookups that had to read the block from a file.",
		func(s storage.Stats) uint64 { return s.BlockCacheMisses })
	add(counter, "chorus_storage_recent_object_hits_total",
		"Object reads answered by the recently-written-objects cache, without an LSM lookup.",
		func(s storage.Stats) uint64 { return s.RecentObjectHits })
	add(counter, "chorus_storage_recent_object_misses_total",
		"Object reads that missed the recently-written-objects cache (looked up in the LSM unless the key filter answered them).",
		func(s storage.Stats) uint64 { return s.RecentObjectMisses })
	add(counter, "chorus_storage_key_filter_skips_total",
		"Object reads of keys the store never held, answered by its key filter without an LSM lookup (first writes of new keys).",
		func(s storage.Stats) uint64 { return s.KeyFilterSkips })
	return c
}

// Describe implements prometheus.Collector.
func (c *storageCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

// Collect implements prometheus.Collector.
func (c *storageCollector) Collect(ch chan<- prometheus.Metric) {
	s, err := c.engine.Stats()
	if err != nil {
		return
	}
	for _, m := range c.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(s))
	}
}
