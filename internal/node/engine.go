package node

import (
	"fmt"

	"github.com/chorusdb/chorus/internal/storage"
	"github.com/chorusdb/chorus/internal/storage/memory"
	"github.com/chorusdb/chorus/internal/storage/pebble"
)

// openEngine opens the storage engine the configuration names.
func openEngine(cfg Config) (storage.Engine, error) {
	dur := storage.Sync
	if cfg.Durability == "nosync" {
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
	}
	return nil, fmt.Errorf("storage %q is not available in this build", cfg.Storage)
}
