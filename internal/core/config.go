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
	// HintTTLMs is how long a hint is kept; one past it is never delivered. Default 3h.
	HintTTLMs int64
	// HintCapBytes caps the hints this core keeps per target; past it a write's hint is
	// refused (counted, and anti-entropy repairs the replica later). Default 64 MiB.
	HintCapBytes int64
	// Shards is how many core shards each node runs (keys are split among them by key
	// hash); anti-entropy pairs shard i of one node with shard i of another, so every node
	// of a cluster must use the same number. Default 1.
	Shards int
	// AntiEntropyIntervalMs is the period of background Merkle exchanges; 0 turns
	// anti-entropy off entirely (including targeted exchanges after expired hints).
	// Default 60000.
	AntiEntropyIntervalMs int64
	// AntiEntropyBytesPerSec is the I/O budget of anti-entropy: no new exchange starts
	// while the bytes sent exceed it (foreground requests keep their latency). Default
	// 8 MiB/s.
	AntiEntropyBytesPerSec int64
	// TombstoneGraceMs is how long a tombstone is kept at least, after every replica
	// has it; it must exceed HintTTLMs so that no hint can bring the value back.
	// Default 4h.
	TombstoneGraceMs int64
	// Filling starts the core filling: its data directory was empty at start, so its
	// answers do not count toward R or W for a range until an anti-entropy exchange
	// has filled that range once (see fill.go).
	Filling bool
	// ReadRepair is the read-repair mode of keyspaces without their own setting.
	ReadRepair ReadRepairMode
	// IDBase is the first request id this core uses; the driver sets it from the start
	// time (or the simulator from its seed) so that answers addressed to a previous run
	// of the node cannot match a new request.
	IDBase uint64
	// Actor is the id this node writes CRDT entries under; it must change when the
	// node loses its data (the driver appends an incarnation made when the data
	// directory was created), or a wiped node would count its increments from zero
	// again and lose them in the merge. Default NodeID.
	Actor string
	// Mergers are the merge functions keyspaces with resolution merge:NAME may name.
	Mergers map[string]MergeFunc
	// MaxClockSkewMs: a peer whose clock reading differs from ours by more than this is
	// counted in Stats.SkewedMessages (and reported by the driver). Default 500.
	MaxClockSkewMs int64
	// NaiveWallClock stamps writes with this node's clock alone, ignoring the clocks
	// of peers: the naive last-write-wins that loses causally later writes under clock
	// skew. For tests and the simulator only.
	NaiveWallClock bool
	// ReadFanout says which replicas a read asks: FanoutLevel asks only as many as its
	// level needs (this node first when it is a replica), and the others only when one
	// of them fails, answers while filling, or has not answered within
	// SpeculativeReadMs; FanoutAll asks every up replica at once, as Dynamo does: more
	// stale copies found by read repair, at the cost of N reads for every read.
	// Default FanoutLevel.
	ReadFanout ReadFanout
	// SpeculativeReadMs is how long a FanoutLevel read waits for the replicas it asked
	// before it asks the others too. Default 50.
	SpeculativeReadMs int64
	// Bug runs a deliberately broken variant (simulator only; see Bug).
	Bug Bug
}

// ReadFanout is which replicas a read asks; see Config.ReadFanout.
type ReadFanout uint8

// The read fan-outs.
const (
	FanoutAll ReadFanout = iota
	FanoutLevel
)

func (f ReadFanout) String() string {
	if f == FanoutLevel {
		return "level"
	}
	return "all"
}

// ParseReadFanout parses "level" or "all".
func ParseReadFanout(s string) (ReadFanout, error) {
	switch s {
	case "level":
		return FanoutLevel, nil
	case "all":
		return FanoutAll, nil
	}
	return 0, fmt.Errorf("unknown read fan-out %q (want level or all)", s)
}

// MaxShards is the most shards a node may run (hint ids hold the shard in 6 bits).
const MaxShards = 64

// DefaultConfig returns the defaults for a node named id.
func DefaultConfig(id string) Config {
	return Config{
		NodeID:                 id,
		ReplicationFactor:      3,
		RequestTimeoutMs:       2000,
		HintTTLMs:              3 * 3600 * 1000,
		HintCapBytes:           64 << 20,
		Shards:                 1,
		AntiEntropyIntervalMs:  60_000,
		AntiEntropyBytesPerSec: 8 << 20,
		TombstoneGraceMs:       4 * 3600 * 1000,
		MaxKeyBytes:            2048,
		MaxValueBytes:          8 << 20,
		MaxClockSkewMs:         500,
		ReadFanout:             FanoutLevel,
		SpeculativeReadMs:      50,
		Mergers:                map[string]MergeFunc{"union": MergeUnion},
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
	if c.HintTTLMs < 1 || c.HintCapBytes < 1 {
		errs = append(errs, errors.New("core: HintTTLMs and HintCapBytes must be positive"))
	}
	if c.Shards < 1 || c.Shards > MaxShards || c.Shard < 0 || c.Shard >= c.Shards {
		errs = append(errs, fmt.Errorf("core: Shard %d must be in [0, Shards=%d)", c.Shard, c.Shards))
	}
	if c.AntiEntropyIntervalMs < 0 {
		errs = append(errs, errors.New("core: AntiEntropyIntervalMs must not be negative"))
	}
	if c.TombstoneGraceMs <= c.HintTTLMs {
		errs = append(errs, fmt.Errorf("core: TombstoneGraceMs (%d) must exceed HintTTLMs (%d), or a late hint could resurrect a purged delete", c.TombstoneGraceMs, c.HintTTLMs))
	}
	if c.ReadFanout == FanoutLevel && c.SpeculativeReadMs < 1 {
		errs = append(errs, fmt.Errorf("core: SpeculativeReadMs must be positive, got %d", c.SpeculativeReadMs))
	}
	if c.MaxKeyBytes < 1 || c.MaxValueBytes < 1 {
		errs = append(errs, errors.New("core: MaxKeyBytes and MaxValueBytes must be positive"))
	}
	return errors.Join(errs...)
}
