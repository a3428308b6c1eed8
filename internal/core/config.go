package core

import (
	"errors"
	"fmt"
)

// Config configures one Core. DefaultConfig gives every field's default.
type Config struct {
	// NodeID names this node; it is the actor of the dots this node issues.
	NodeID string
	// Shard is this core's shard index within the node; it names the metadata the core
	// persists (its HLC high-water mark).
	Shard int
	// ReplicationFactor is N, the number of replicas of each key. Default 3.
	ReplicationFactor int
	// RequestTimeoutMs is how long a coordinator waits for replicas before answering
	// TIMEOUT. Default 2000. Shorter fails faster under slow replicas; longer rides out
	// pauses but keeps clients waiting.
	RequestTimeoutMs int64
	// MaxKeyBytes and MaxValueBytes bound what a request may carry; larger requests fail
	// with ErrTooLarge before anything is sent or stored. Defaults 2 KiB and 8 MiB.
	MaxKeyBytes   int
	MaxValueBytes int
	// ReadRepair is the read-repair mode of keyspaces without their own setting.
	ReadRepair ReadRepairMode
	// IDBase is the first request id this core uses; the driver sets it from the start
	// time (or the simulator from its seed) so that answers addressed to a previous run
	// of the node cannot match a new request.
	IDBase uint64
}

// DefaultConfig returns the defaults for a node named id.
func DefaultConfig(id string) Config {
	return Config{
		NodeID:            id,
		ReplicationFactor: 3,
		RequestTimeoutMs:  2000,
		MaxKeyBytes:       2048,
		MaxValueBytes:     8 << 20,
	}
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("core: NodeID is required"))
	}
	if c.ReplicationFactor < 1 {
		errs = append(errs, fmt.Errorf("core: ReplicationFactor must be at least 1, got %d", c.ReplicationFactor))
	}
	if c.RequestTimeoutMs < 1 {
		errs = append(errs, fmt.Errorf("core: RequestTimeoutMs must be positive, got %d", c.RequestTimeoutMs))
	}
	if c.MaxKeyBytes < 1 || c.MaxValueBytes < 1 {
		errs = append(errs, errors.New("core: MaxKeyBytes and MaxValueBytes must be positive"))
	}
	return errors.Join(errs...)
}
