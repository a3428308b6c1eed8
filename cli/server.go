package cli

import (
	"context"
	"crypto/tls"
	"encoding/base64"
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
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/chorusdb/chorus/internal/api"
	httpapi "github.com/chorusdb/chorus/internal/api/http"
	"github.com/chorusdb/chorus/internal/api/resp"
	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/node"
	"github.com/chorusdb/chorus/internal/tlsutil"
	"github.com/chorusdb/chorus/internal/transport"
)

// serverFlags are the settings of one node, as flags (see CONTRACT.md).
type serverFlags struct {
	cfg        node.Config
	join       []string
	readRepair string
	readFanout string
	transport  string
	pprof      bool
	logLevel   string
	logFormat  string
	security   securityFlags
}

// securityFlags are the TLS and authentication settings.
type securityFlags struct {
	cert, key, ca string   // node certificate, key and CA bundle
	clientTLS     bool     // serve RESP and HTTP over TLS too
	gossipKeys    []string // base64 keys, the first encrypts
	password      string   // token of the default user
	usersFile     string   // "user token" lines
	maxClients    int      // RESP and HTTP connections, each
	idleTimeout   time.Duration
	maxPipeline   int
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
	fs.StringVar(&f.readFanout, "read-fanout", d.ReadFanout.String(), "replicas a read asks: level (as many as its level needs, the others after --speculative-read) or all (every replica at once)")
	fs.DurationVar(&f.cfg.SpeculativeRead, "speculative-read", d.SpeculativeRead, "with --read-fanout level, how long a read waits for the replicas it asked before asking the others too")
	fs.IntVar(&f.cfg.MaxValueBytes, "max-value-bytes", d.MaxValueBytes, "largest value accepted")
	fs.StringVar(&f.transport, "transport", d.Transport.String(), "node-to-node protocol: tcp (length-prefixed frames on TCP) or grpc (the same frames on a gRPC stream); the same on every node")
	fs.BoolVar(&f.cfg.FastGossip, "fast-gossip", false, "detect failures faster (for loopback clusters and tests)")
	fs.DurationVar(&f.cfg.MaxClockSkew, "max-clock-skew", d.MaxClockSkew, "report a peer whose clock differs from this node's by more than this")
	// Test-only: skew this node's clock, or stamp writes with it alone (naive LWW).
	fs.DurationVar(&f.cfg.ClockOffset, "test-clock-offset", 0, "TESTS ONLY: add this to the node's clock")
	fs.BoolVar(&f.cfg.NaiveClock, "test-naive-clock", false, "TESTS ONLY: stamp writes with this node's clock alone (loses causally later writes under skew)")
	_ = fs.MarkHidden("test-clock-offset")
	_ = fs.MarkHidden("test-naive-clock")
	fs.BoolVar(&f.pprof, "pprof", false, "serve Go profiling endpoints under /debug/pprof/ on the HTTP port")
	fs.StringVar(&f.cfg.ClusterName, "cluster-name", d.ClusterName, "cluster name: labels gossip, and peers' certificates must carry it")
	fs.StringVar(&f.security.cert, "tls-cert", "", "node certificate (PEM): with --tls-key and --tls-ca, node-to-node traffic uses mutual TLS")
	fs.StringVar(&f.security.key, "tls-key", "", "private key of --tls-cert")
	fs.StringVar(&f.security.ca, "tls-ca", "", "CA bundle (PEM) that peers' certificates must chain to; may hold an old and a new CA during a rotation")
	fs.BoolVar(&f.security.clientTLS, "client-tls", false, "serve RESP and HTTP over TLS with --tls-cert")
	fs.StringSliceVar(&f.security.gossipKeys, "gossip-key", nil, "base64 AES keys (16, 24 or 32 bytes) encrypting gossip, comma-separated; the first encrypts, all decrypt")
	fs.StringVar(&f.security.password, "auth-password", "", "require clients to authenticate: the token of user \"default\" (RESP AUTH password, HTTP Bearer)")
	fs.StringVar(&f.security.usersFile, "auth-users", "", "file of \"user token\" lines: named users for RESP AUTH user token and HTTP Bearer user:token")
	fs.IntVar(&f.security.maxClients, "max-clients", 10000, "most open client connections on the RESP port and on the HTTP port, each")
	fs.DurationVar(&f.security.idleTimeout, "idle-timeout", 0, "close a RESP connection silent for this long (0: never, as Redis)")
	fs.IntVar(&f.security.maxPipeline, "max-pipeline", 64, "most pipelined commands of one RESP connection run at once")
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
			if f.cfg.ReadFanout, err = core.ParseReadFanout(f.readFanout); err != nil {
				return fmt.Errorf("--read-fanout: %w", err)
			}
			if f.cfg.Transport, err = transport.ParseProtocol(f.transport); err != nil {
				return fmt.Errorf("--transport: %w", err)
			}
			if !cmd.Flags().Changed("tombstone-grace") && f.cfg.TombstoneGrace <= f.cfg.HintTTL {
				f.cfg.TombstoneGrace = f.cfg.HintTTL + time.Hour
			}
			opts, err := f.security.apply(&f.cfg)
			if err != nil {
				return err
			}
			opts.pprof = f.pprof
			p, err := startProcess(f.cfg, opts)
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

// processOpts are the settings of the client-facing servers.
type processOpts struct {
	pprof       bool
	maxClients  int
	idleTimeout time.Duration
	maxPipeline int
	clientTLS   *tls.Config // RESP and HTTP over TLS
	auth        *api.Auth   // clients must authenticate
}

// apply checks the security flags, sets the node's TLS and gossip keys, and returns
// the client servers' settings.
func (s securityFlags) apply(cfg *node.Config) (processOpts, error) {
	var opts processOpts
	if (s.cert == "") != (s.key == "") {
		return opts, errors.New("--tls-cert and --tls-key go together")
	}
	if s.ca != "" && s.cert == "" {
		return opts, errors.New("--tls-ca needs --tls-cert and --tls-key (node-to-node TLS is mutual)")
	}
	if s.clientTLS && s.cert == "" {
		return opts, errors.New("--client-tls needs --tls-cert and --tls-key")
	}
	if s.cert != "" && s.ca == "" && !s.clientTLS {
		return opts, errors.New("--tls-cert is used with --tls-ca (mutual TLS between nodes) and/or --client-tls")
	}
	if s.cert != "" {
		src, err := tlsutil.NewSource(tlsutil.Files{Cert: s.cert, Key: s.key, CA: s.ca}, cfg.ClusterName)
		if err != nil {
			return opts, err
		}
		if s.ca != "" {
			cfg.PeerTLS = src
		}
		if s.clientTLS {
			opts.clientTLS = src.ClientServer()
		}
	}
	for i, k := range s.gossipKeys {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k))
		if err != nil {
			return opts, fmt.Errorf("--gossip-key %d is not base64: %w", i+1, err)
		}
		cfg.GossipKeys = append(cfg.GossipKeys, key)
	}
	users := map[string]string{}
	if s.usersFile != "" {
		var err error
		if users, err = api.LoadUsers(s.usersFile); err != nil {
			return opts, fmt.Errorf("--auth-users: %w", err)
		}
	}
	if s.password != "" {
		if _, dup := users[api.DefaultUser]; dup {
			return opts, fmt.Errorf("--auth-password and user %q in --auth-users both set the default user", api.DefaultUser)
		}
		users[api.DefaultUser] = s.password
	}
	auth, err := api.NewAuth(users)
	if err != nil {
		return opts, err
	}
	opts.auth = auth
	if s.maxClients < 1 || s.maxPipeline < 1 || s.idleTimeout < 0 {
		return opts, errors.New("--max-clients and --max-pipeline must be positive, --idle-timeout not negative")
	}
	opts.maxClients, opts.idleTimeout, opts.maxPipeline = s.maxClients, s.idleTimeout, s.maxPipeline
	return opts, nil
}

// startProcess listens on the client ports (failing fast if taken), starts the node,
// then serves RESP and HTTP.
func startProcess(cfg node.Config, opts processOpts) (*process, error) {
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
		cfg.Registry = newRegistry()
	}
	n, err := node.Start(cfg)
	if err != nil {
		respL.Close()
		httpL.Close()
		return nil, err
	}
	limits := api.Limits{MaxKeyBytes: cfg.MaxKeyBytes, MaxValueBytes: cfg.MaxValueBytes}
	p := &process{node: n, failed: make(chan error, 2)}
	p.resp = resp.NewServer(resp.Config{Backend: n, Limits: limits, Logger: cfg.Logger, RequestTimeout: cfg.RequestTimeout + time.Second, Auth: opts.auth,
		MaxClients: opts.maxClients, IdleTimeout: opts.idleTimeout, MaxPipeline: opts.maxPipeline})
	hc := httpapi.Config{Backend: n, Limits: limits, Logger: cfg.Logger, Gatherer: cfg.Registry, Healthy: n.Healthy, Filling: n.Filling}
	hc.Auth, hc.MaxConns = opts.auth, opts.maxClients
	if opts.clientTLS != nil {
		respL, httpL = tls.NewListener(respL, opts.clientTLS), tls.NewListener(httpL, opts.clientTLS)
	}
	if opts.pprof {
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

// newRegistry returns the registry of a server's /metrics: the node's own metrics
// (registered by node.Start) beside the Go runtime's (go_*: goroutines, GC, memory,
// GOMAXPROCS) and the process's (process_*: CPU seconds, resident memory, open file
// descriptors).
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
