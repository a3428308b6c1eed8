package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/chorusdb/chorus/internal/api"
	httpapi "github.com/chorusdb/chorus/internal/api/http"
	"github.com/chorusdb/chorus/internal/api/resp"
	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/node"
)

// serverFlags are the settings of one node, as flags (see CONTRACT.md).
type serverFlags struct {
	cfg        node.Config
	join       []string
	readRepair string
	pprof      bool
	logLevel   string
	logFormat  string
}

func addServerFlags(cmd *cobra.Command, f *serverFlags) {
	d := node.DefaultConfig()
	f.cfg = d
	fs := cmd.Flags()
	fs.String("config", "", "YAML file of settings (keys are flag names)")
	fs.StringVar(&f.cfg.NodeID, "node-id", "", "node id (default: the id stored in --data-dir, else host-rpcport)")
	fs.StringVar(&f.cfg.DataDir, "data-dir", "", "directory for embedded storage (required with --storage pebble)")
	fs.StringVar(&f.cfg.Storage, "storage", d.Storage, "storage engine: pebble, postgres or memory")
	fs.StringVar(&f.cfg.PostgresDSN, "postgres-dsn", "", "PostgreSQL connection string (with --storage postgres)")
	fs.StringVar(&f.cfg.Durability, "durability", d.Durability, "sync: acknowledge writes after fsync (group commit); periodic: fsync every --sync-interval; nosync: never fsync")
	fs.DurationVar(&f.cfg.SyncInterval, "sync-interval", d.SyncInterval, "fsync period with --durability periodic")
	fs.StringVar(&f.cfg.RESPAddr, "resp-addr", d.RESPAddr, "RESP (Redis protocol) listen address")
	fs.StringVar(&f.cfg.HTTPAddr, "http-addr", d.HTTPAddr, "HTTP listen address")
	fs.StringVar(&f.cfg.GossipAddr, "gossip-addr", d.GossipAddr, "gossip listen address (TCP and UDP)")
	fs.StringVar(&f.cfg.RPCAddr, "rpc-addr", d.RPCAddr, "node-to-node RPC listen address")
	fs.StringSliceVar(&f.join, "join", nil, "gossip addresses of members to join, comma-separated")
	fs.IntVar(&f.cfg.ReplicationFactor, "replication-factor", d.ReplicationFactor, "replicas of each key (N)")
	fs.StringVar(&f.cfg.Zone, "zone", "", "failure zone; replicas are spread across zones first")
	fs.DurationVar(&f.cfg.HintTTL, "hint-ttl", d.HintTTL, "how long hints for a down replica are kept")
	fs.DurationVar(&f.cfg.AntiEntropyInterval, "anti-entropy-interval", d.AntiEntropyInterval, "period of Merkle-tree anti-entropy; 0 turns it off")
	fs.DurationVar(&f.cfg.RequestTimeout, "request-timeout", d.RequestTimeout, "how long a coordinator waits for replicas before TIMEOUT")
	fs.IntVar(&f.cfg.Shards, "shards", d.Shards, "core shards (parallel event loops); must be the same on every node")
	fs.DurationVar(&f.cfg.TombstoneGrace, "tombstone-grace", d.TombstoneGrace, "least time a tombstone is kept after every replica has it; must exceed --hint-ttl")
	fs.Int64Var(&f.cfg.HintCapBytes, "hint-cap-bytes", d.HintCapBytes, "bytes of hints kept per target replica; past it writes are not hinted")
	fs.Int64Var(&f.cfg.AntiEntropyBytesPerSec, "anti-entropy-bytes-per-sec", d.AntiEntropyBytesPerSec, "I/O budget of background anti-entropy")
	fs.StringVar(&f.readRepair, "read-repair", "async", "default read repair: async, blocking or off")
	fs.IntVar(&f.cfg.MaxValueBytes, "max-value-bytes", d.MaxValueBytes, "largest value accepted")
	fs.BoolVar(&f.cfg.FastGossip, "fast-gossip", false, "detect failures faster (for loopback clusters and tests)")
	fs.DurationVar(&f.cfg.MaxClockSkew, "max-clock-skew", d.MaxClockSkew, "report a peer whose clock differs from this node's by more than this")
	// Test-only: skew this node's clock, or stamp writes with it alone (naive LWW).
	fs.DurationVar(&f.cfg.ClockOffset, "test-clock-offset", 0, "TESTS ONLY: add this to the node's clock")
	fs.BoolVar(&f.cfg.NaiveClock, "test-naive-clock", false, "TESTS ONLY: stamp writes with this node's clock alone (loses causally later writes under skew)")
	_ = fs.MarkHidden("test-clock-offset")
	_ = fs.MarkHidden("test-naive-clock")
	fs.BoolVar(&f.pprof, "pprof", false, "serve Go profiling endpoints under /debug/pprof/ on the HTTP port")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
}

func serverCmd() *cobra.Command {
	f := &serverFlags{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run one Chorus node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnvAndFile(cmd); err != nil {
				return err
			}
			logger, err := newLogger(f.logLevel, f.logFormat)
			if err != nil {
				return err
			}
			f.cfg.Join = f.join
			f.cfg.Logger = logger
			if f.cfg.ReadRepair, err = core.ParseReadRepairMode(f.readRepair); err != nil {
				return fmt.Errorf("--read-repair: %w", err)
			}
			if !cmd.Flags().Changed("tombstone-grace") && f.cfg.TombstoneGrace <= f.cfg.HintTTL {
				f.cfg.TombstoneGrace = f.cfg.HintTTL + time.Hour
			}
			p, err := startProcess(f.cfg, f.pprof)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			select {
			case <-ctx.Done():
			case err := <-p.failed:
				p.stop()
				return err
			}
			logger.Info("shutting down")
			return p.stop()
		},
	}
	addServerFlags(cmd, f)
	return cmd
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

// process is one running node with its client-facing servers.
type process struct {
	node   *node.Node
	resp   *resp.Server
	http   *httpapi.Server
	failed chan error // a server stopped on its own
}

// startProcess listens on the client ports (failing fast if taken), starts the node,
// then serves RESP and HTTP.
func startProcess(cfg node.Config, withPprof bool) (*process, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err // settings first: a bad flag is reported before any port is taken
	}
	respL, err := net.Listen("tcp", cfg.RESPAddr)
	if err != nil {
		return nil, fmt.Errorf("resp: %w", err)
	}
	httpL, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		respL.Close()
		return nil, fmt.Errorf("http: %w", err)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	n, err := node.Start(cfg)
	if err != nil {
		respL.Close()
		httpL.Close()
		return nil, err
	}
	limits := api.Limits{MaxKeyBytes: cfg.MaxKeyBytes, MaxValueBytes: cfg.MaxValueBytes}
	p := &process{node: n, failed: make(chan error, 2)}
	p.resp = resp.NewServer(resp.Config{Backend: n, Limits: limits, Logger: cfg.Logger, RequestTimeout: cfg.RequestTimeout + time.Second})
	hc := httpapi.Config{Backend: n, Limits: limits, Logger: cfg.Logger, Gatherer: cfg.Registry, Healthy: n.Healthy, Filling: n.Filling}
	if withPprof {
		hc.Extra = func(mux *http.ServeMux) {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
	}
	p.http = httpapi.NewServer(hc)
	go p.serve("resp", func() error { return p.resp.Serve(respL) }, resp.ErrServerClosed)
	go p.serve("http", func() error { return p.http.Serve(httpL) }, httpapi.ErrServerClosed)
	return p, nil
}

func (p *process) serve(name string, serve func() error, closed error) {
	if err := serve(); err != nil && !errors.Is(err, closed) {
		p.failed <- fmt.Errorf("%s server: %w", name, err)
	}
}

// stop shuts the servers, then the node (flushing storage).
func (p *process) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	errs = append(errs, p.resp.Shutdown(ctx), p.http.Shutdown(ctx), p.node.Close())
	return errors.Join(errs...)
}

// addrWithPort replaces the port of a host:port address.
func addrWithPort(host string, port int) string {
	return net.JoinHostPort(strings.Trim(host, "[]"), fmt.Sprint(port))
}
