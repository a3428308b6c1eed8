package node

import (
	"context"
	"fmt"
	"time"

	"github.com/chorusdb/chorus/internal/storage"
	"github.com/chorusdb/chorus/internal/storage/memory"
	"github.com/chorusdb/chorus/internal/storage/pebble"
	"github.com/chorusdb/chorus/internal/storage/postgres"
)

// openEngine opens the storage engine the configuration names.
func openEngine(cfg Config) (storage.Engine, error) {
	dur := storage.Sync
	if cfg.Durability != "sync" {
		dur = storage.NoSync
	}
	switch cfg.Storage {
	case "memory":
		return memory.New(memory.Options{}), nil
	case "pebble":
		e, err := pebble.Open(cfg.DataDir, pebble.Options{Durability: dur, Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		return e, nil
	case "postgres":
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		e, err := postgres.Open(ctx, postgres.Options{DSN: cfg.PostgresDSN, NodeID: cfg.NodeID, Durability: dur, Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		return e, nil
	}
	return nil, fmt.Errorf("storage %q is not available in this build", cfg.Storage)
}

// engineHealth is an engine that knows whether its server is reachable (postgres).
type engineHealth interface{ Healthy() bool }

// walSyncer is an engine that can fsync its log on demand (pebble).
type walSyncer interface{ SyncWAL() error }

// syncPeriodically fsyncs the engine's log every interval until the node stops
// (Durability "periodic").
func (n *Node) syncPeriodically() {
	e, ok := n.engine.(walSyncer)
	if !ok {
		return
	}
	t := time.NewTicker(n.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := e.SyncWAL(); err != nil {
				n.storageFailed(err)
			}
		case <-n.stopping:
			return
		}
	}
}
