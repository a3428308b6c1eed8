package node

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/membership"
	"github.com/chorusdb/chorus/internal/tlsutil"
	"github.com/chorusdb/chorus/internal/transport"
	"github.com/chorusdb/chorus/merge"
)

// Config configures a node. DefaultConfig gives each field's default; a zero field is
// not a default (call DefaultConfig and override).
type Config struct {
	// NodeID names the node in the cluster. It is stored in the data directory on first
	// start; a later start with another id fails, so a data directory is never served
	// under two names. Empty: the stored id, else one derived from the host name and
	// RPC port.
	NodeID string
	// DataDir holds the embedded storage (pebble). Required for pebble.
	DataDir string
	// Storage is the engine: "pebble" (default), "memory" (lost on exit; tests) or
	// "postgres".
	Storage string
	// PostgresDSN is the connection string for Storage "postgres".
	PostgresDSN string
	// Durability is when a replica acknowledges a write:
	//   - "sync" (default): after fsync, group-committed with concurrent writes. Nothing
	//     acknowledged is lost by a crash or power loss. Bound by the disk's fsync rate.
	//   - "periodic": once in the write-ahead log buffer; the log is fsynced every
	//     SyncInterval (like Redis appendfsync everysec or Cassandra's periodic commit
	//     log). A crash of this node may lose its last interval of writes; with W ≥ 2
	//     another replica still holds each acknowledged write.
	//   - "nosync": never fsync explicitly (tests, throwaway clusters).
	Durability string
	// SyncInterval is the fsync period of Durability "periodic". Default 100ms.
	SyncInterval time.Duration
	// GossipAddr and RPCAddr are the host:port this node listens on for membership
	// gossip (TCP and UDP) and node-to-node RPC; RESPAddr and HTTPAddr are advertised to
	// the cluster (the servers themselves are started by the caller).
	GossipAddr, RPCAddr, RESPAddr, HTTPAddr string
	// Join lists gossip addresses of members to join. Empty: start a new cluster (other
	// nodes may join this one).
	Join []string
	// Zone is the failure zone (rack, availability zone); replicas of a key are spread
	// across zones first.
	Zone string
	// ReplicationFactor is N, the number of replicas of each key. Default 3.
	ReplicationFactor int
	// RequestTimeout bounds how long a coordinator waits for replicas. Default 2s.
	RequestTimeout time.Duration
	// HintTTL is how long a hint for a down replica is kept. Default 3h.
	HintTTL time.Duration
	// AntiEntropyInterval is the period of background Merkle exchanges; 0 turns them
	// off. Default 1m.
	AntiEntropyInterval time.Duration
	// Shards is the number of core shards (goroutines); keys are split among them by
	// hash, and anti-entropy pairs shard i of one node with shard i of another, so every
	// node of a cluster must use the same number. Default 8.
	Shards int
	// HintCapBytes caps the hints kept for one target; past it writes for that target
	// are not hinted (logged, counted; anti-entropy repairs the replica). Default 256 MiB.
	HintCapBytes int64
	// AntiEntropyBytesPerSec is the I/O budget of background anti-entropy. Default 8 MiB/s.
	AntiEntropyBytesPerSec int64
	// TombstoneGrace is the least time a delete's tombstone is kept after every replica
	// has it; it must exceed HintTTL. Default 4h (HintTTL + 1h when HintTTL is changed
	// and TombstoneGrace is not).
	TombstoneGrace time.Duration
	// ReadRepair is the read-repair mode of keyspaces without their own setting.
	ReadRepair core.ReadRepairMode
	// ReadFanout is which replicas a read asks (see core.Config.ReadFanout). Default
	// level: as many as the read's level needs, the rest after SpeculativeRead.
	ReadFanout core.ReadFanout
	// SpeculativeRead is how long a read waits for the replicas it asked before it
	// asks the others too (read fan-out level). Default 50ms.
	SpeculativeRead time.Duration
	// MaxKeyBytes and MaxValueBytes bound requests. Defaults 2 KiB and 8 MiB.
	MaxKeyBytes, MaxValueBytes int
	// MaxClockSkew: a peer whose clock differs from this node's by more than this is
	// reported (metric chorus_clock_skewed_messages_total, a log line, `chorus cluster
	// status`). Default 500ms.
	MaxClockSkew time.Duration
	// Mergers are the merge functions keyspaces may name as resolution merge:NAME.
	// Default: those registered with package merge ("union" built in).
	Mergers map[string]core.MergeFunc
	// ClusterName names the cluster: gossip packets are labelled with it (a node of
	// another cluster is not heard) and, with PeerTLS, peers' certificates must name it.
	// Default "chorus".
	ClusterName string
	// Transport is the node-to-node protocol (transport.ProtocolTCP, the default, or
	// ProtocolGRPC); every node of a cluster must use the same.
	Transport transport.Protocol
	// PeerTLS, if set, secures node-to-node RPC with mutual TLS: both ends present a
	// certificate of the cluster's CA naming ClusterName.
	PeerTLS *tlsutil.Source
	// GossipKeys, if set, encrypt gossip (see membership.GossipConfig.Keys).
	GossipKeys [][]byte
	// ClockOffset is added to this node's clock (tests of clock skew only).
	ClockOffset time.Duration
	// NaiveClock stamps writes with this node's clock alone, ignoring what peers'
	// clocks said: the naive last-write-wins (tests only).
	NaiveClock bool
	// FastGossip shortens failure-detection timers (tests and `chorus dev`).
	FastGossip bool

	// NewTransport, when set, replaces the gRPC transport (in-process clusters in tests
	// use transport.Network). It is called once with the node id and the handler.
	NewTransport func(id string, h transport.Handler) (transport.Transport, error)
	// View, when set, replaces gossip membership (tests use membership.Static).
	View membership.View

	// Logger receives the node's logs. Default slog.Default().
	Logger *slog.Logger
	// Registerer and Gatherer hold the node's metrics. Default: a new registry.
	Registry *prometheus.Registry
}

// DefaultShards is the default number of core shards per node.
const DefaultShards = 8

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Storage:                "pebble",
		Durability:             "sync",
		SyncInterval:           100 * time.Millisecond,
		GossipAddr:             "127.0.0.1:8380",
		RPCAddr:                "127.0.0.1:9380",
		RESPAddr:               "127.0.0.1:6380",
		HTTPAddr:               "127.0.0.1:7380",
		ReplicationFactor:      3,
		RequestTimeout:         2 * time.Second,
		HintTTL:                3 * time.Hour,
		AntiEntropyInterval:    time.Minute,
		Shards:                 DefaultShards,
		HintCapBytes:           256 << 20,
		AntiEntropyBytesPerSec: 8 << 20,
		TombstoneGrace:         4 * time.Hour,
		MaxKeyBytes:            2048,
		MaxValueBytes:          8 << 20,
		MaxClockSkew:           500 * time.Millisecond,
		ReadFanout:             core.FanoutLevel,
		SpeculativeRead:        50 * time.Millisecond,
		ClusterName:            "chorus",
		Mergers:                Mergers(),
	}
}

// Mergers returns the merge functions registered with package merge (github.com/
// chorusdb/chorus/merge), "union" included.
func Mergers() map[string]core.MergeFunc {
	out := map[string]core.MergeFunc{}
	for _, name := range merge.Names() {
		f, _ := merge.Lookup(name)
		out[name] = core.MergeFunc(f)
	}
	return out
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	switch c.Storage {
	case "pebble":
		if c.DataDir == "" {
			errs = append(errs, errors.New("--data-dir is required with --storage pebble"))
		}
	case "memory":
	case "postgres":
		if c.PostgresDSN == "" {
			errs = append(errs, errors.New("--postgres-dsn is required with --storage postgres"))
		}
		if c.NodeID == "" {
			errs = append(errs, errors.New("--node-id is required with --storage postgres (rows are scoped by node id)"))
		}
	default:
		errs = append(errs, fmt.Errorf("--storage must be pebble, postgres or memory, not %q", c.Storage))
	}
	switch c.Durability {
	case "sync", "nosync":
	case "periodic":
		if c.SyncInterval <= 0 {
			errs = append(errs, fmt.Errorf("--sync-interval must be positive, got %s", c.SyncInterval))
		}
	default:
		errs = append(errs, fmt.Errorf("--durability must be sync, periodic or nosync, not %q", c.Durability))
	}
	if c.ReplicationFactor < 1 {
		errs = append(errs, fmt.Errorf("--replication-factor must be at least 1, got %d", c.ReplicationFactor))
	}
	if c.SpeculativeRead <= 0 {
		errs = append(errs, fmt.Errorf("--speculative-read must be positive, got %s", c.SpeculativeRead))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--request-timeout must be positive, got %s", c.RequestTimeout))
	}
	if c.HintTTL <= 0 {
		errs = append(errs, fmt.Errorf("--hint-ttl must be positive, got %s", c.HintTTL))
	}
	if c.AntiEntropyInterval < 0 {
		errs = append(errs, fmt.Errorf("--anti-entropy-interval must not be negative, got %s", c.AntiEntropyInterval))
	}
	if c.Shards < 1 || c.Shards > core.MaxShards {
		errs = append(errs, fmt.Errorf("--shards must be between 1 and %d, got %d", core.MaxShards, c.Shards))
	}
	if c.TombstoneGrace <= c.HintTTL {
		errs = append(errs, fmt.Errorf("--tombstone-grace (%s) must exceed --hint-ttl (%s), or a late hint could resurrect a purged delete", c.TombstoneGrace, c.HintTTL))
	}
	if c.HintCapBytes < 1 || c.AntiEntropyBytesPerSec < 1 {
		errs = append(errs, errors.New("--hint-cap-bytes and --anti-entropy-bytes-per-sec must be positive"))
	}
	if c.MaxKeyBytes < 1 || c.MaxValueBytes < 1 {
		errs = append(errs, errors.New("key and value limits must be positive"))
	}
	if c.GossipAddr == "" || c.RPCAddr == "" {
		errs = append(errs, errors.New("--gossip-addr and --rpc-addr are required"))
	}
	return errors.Join(errs...)
}
