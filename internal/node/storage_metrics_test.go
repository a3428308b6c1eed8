package node

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/membership"
	"github.com/chorusdb/chorus/internal/transport"
)

// startSoloForStorageMetrics starts one node alone in a static view on the given storage, with its own
// registry, and closes it when the test ends.
func startSoloForStorageMetrics(t *testing.T, storageName string) (*Node, *prometheus.Registry) {
	t.Helper()
	net := transport.NewNetwork(1)
	cfg := DefaultConfig()
	cfg.NodeID, cfg.Storage = "solo", storageName
	if storageName == "pebble" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Durability = "nosync"
	cfg.ReplicationFactor = 1
	cfg.AntiEntropyInterval = 0
	cfg.Registry = prometheus.NewRegistry()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.View = membership.NewStatic(membership.Member{ID: "solo", Status: membership.Alive})
	cfg.NewTransport = func(id string, h transport.Handler) (transport.Transport, error) {
		return net.Join(id, h), nil
	}
	n, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Close()
		net.Close()
	})
	return n, cfg.Registry
}

// gatherStorageMetrics returns the value of every chorus_storage_* metric without labels.
func gatherStorageMetrics(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "chorus_storage_") || len(mf.GetMetric()) != 1 ||
			mf.GetName() == "chorus_storage_commit_errors_total" { // the node's, not the engine's

			continue
		}
		m := mf.GetMetric()[0]
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			out[mf.GetName()] = m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			out[mf.GetName()] = m.GetGauge().GetValue()
		}
	}
	return out
}

// TestStorageMetrics: a pebble node exports its sizes and write activity, and they grow
// with writes; a memory node exports none of them.
func TestStorageMetrics(t *testing.T) {
	n, reg := startSoloForStorageMetrics(t, "pebble")
	before := gatherStorageMetrics(t, reg)
	for _, name := range []string{
		"chorus_storage_disk_bytes", "chorus_storage_live_data_bytes", "chorus_storage_wal_bytes",
		"chorus_storage_memtable_bytes", "chorus_storage_tables", "chorus_storage_l0_files",
		"chorus_storage_l0_sublevels", "chorus_storage_read_amplification",
		"chorus_storage_compactions_total", "chorus_storage_compaction_bytes_total",
		"chorus_storage_compactions_failed_total", "chorus_storage_compactions_in_progress",
		"chorus_storage_compaction_debt_bytes", "chorus_storage_flushes_total",
		"chorus_storage_flush_bytes_total", "chorus_storage_wal_written_bytes_total",
		"chorus_storage_block_cache_bytes", "chorus_storage_block_cache_hits_total",
		"chorus_storage_block_cache_misses_total",
	} {
		if _, ok := before[name]; !ok {
			t.Errorf("metric %s missing", name)
		}
	}

	const writes = 200
	value := strings.Repeat("x", 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range writes {
		req := put(fmt.Sprintf("key-%d", i), value, core.One)
		req.Key.Keyspace = "default"
		r := n.Do(ctx, req)
		if r.Err != nil {
			t.Fatalf("put %d: %v", i, r.Err)
		}
	}
	after := gatherStorageMetrics(t, reg)
	t.Logf("after %d writes of 1 KB: %v", writes, after)
	if got, least := after["chorus_storage_wal_written_bytes_total"]-before["chorus_storage_wal_written_bytes_total"], float64(writes*len(value)); got < least {
		t.Errorf("chorus_storage_wal_written_bytes_total grew by %.0f, want ≥ %.0f", got, least)
	}
	if after["chorus_storage_wal_bytes"] < writes*1000 || after["chorus_storage_disk_bytes"] < after["chorus_storage_wal_bytes"] {
		t.Errorf("chorus_storage_disk_bytes = %v, chorus_storage_wal_bytes = %v", after["chorus_storage_disk_bytes"], after["chorus_storage_wal_bytes"])
	}
	if after["chorus_storage_disk_bytes"] > 1<<30 {
		t.Errorf("chorus_storage_disk_bytes = %v for 200 KB written", after["chorus_storage_disk_bytes"])
	}
	if after["chorus_storage_memtable_bytes"] <= 0 {
		t.Errorf("chorus_storage_memtable_bytes = %v", after["chorus_storage_memtable_bytes"])
	}
	if after["chorus_storage_compactions_failed_total"] != 0 {
		t.Errorf("chorus_storage_compactions_failed_total = %v", after["chorus_storage_compactions_failed_total"])
	}

	// After Close the collector reports nothing instead of failing the scrape.
	n.Close()
	if got := gatherStorageMetrics(t, reg); len(got) != 0 {
		t.Errorf("after Close: %v", got)
	}

	_, memReg := startSoloForStorageMetrics(t, "memory")
	if got := gatherStorageMetrics(t, memReg); len(got) != 0 {
		t.Errorf("memory storage exports %v", got)
	}
}
