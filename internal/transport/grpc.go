package transport

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	grpcpeer "google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/chorusdb/chorus/internal/wire"
)

// Defaults for zero fields of GRPCConfig.
const (
	DefaultQueueLen       = 65536
	DefaultQueueBytes     = 64 << 20
	DefaultMaxFrameBytes  = 4 << 20
	DefaultDialTimeout    = 5 * time.Second
	DefaultMinBackoff     = 50 * time.Millisecond
	DefaultMaxBackoff     = time.Second
	DefaultReconnectGrace = 2 * time.Second
)

// GRPCConfig configures a GRPC transport. A zero numeric field takes its default.
type GRPCConfig struct {
	// NodeID is this node's id; Send fills it into messages whose From is empty.
	NodeID string
	// Listener is where peers connect. The transport owns it and closes it on Close.
	// If nil, the transport listens on ListenAddr; exactly one of them must be set.
	Listener net.Listener
	// ListenAddr is the TCP address to listen on when Listener is nil ("host:port";
	// port 0 picks a free one, see Addr).
	ListenAddr string
	// Handler receives every message that arrives from a peer (see Handler).
	Handler Handler
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// Registerer receives the chorus_transport_* metrics; nil means no metrics. Close
	// unregisters them. Two transports cannot share one Registerer unless it is wrapped
	// (prometheus.WrapRegistererWith) with a distinguishing label.
	Registerer prometheus.Registerer
	// QueueLen caps the messages waiting for one peer (default 65536). Beyond it Send
	// drops. Larger absorbs longer bursts to a slow peer; smaller bounds memory and
	// staleness.
	QueueLen int
	// QueueBytes caps the encoded bytes waiting for one peer (default 64 MiB), so that a
	// slow peer sent large objects cannot exhaust memory before QueueLen is reached.
	QueueBytes int
	// MaxFrameBytes caps one frame, hence one message (default 4 MiB). It is also the
	// largest frame the server accepts, so every node must use the same value.
	MaxFrameBytes int
	// DialTimeout bounds opening a stream to a peer (default 5s).
	DialTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnection attempts, which
	// doubles from MinBackoff up to MaxBackoff (defaults 50ms and 1s). While a peer is
	// unreachable its messages are dropped, so a smaller MaxBackoff loses fewer
	// messages after it returns, at the cost of more connection attempts to a dead one.
	MinBackoff, MaxBackoff time.Duration
	// ReconnectGrace is how long messages keep queueing for a peer whose working stream
	// broke (a restart, most likely) before the peer is declared unreachable and they
	// are dropped (default 2s).
	ReconnectGrace time.Duration
	// ServerOptions are added after the transport's own (codec, limits, keepalive),
	// e.g. grpc.Creds for TLS.
	ServerOptions []grpc.ServerOption
	// DialOptions are added after the transport's own (insecure credentials, codec,
	// backoff, keepalive); a grpc.WithTransportCredentials here replaces the insecure
	// default.
	DialOptions []grpc.DialOption
}

// withDefaults returns c with zero fields set to their defaults.
func (c GRPCConfig) withDefaults() GRPCConfig {
	setDefault(&c.QueueLen, DefaultQueueLen)
	setDefault(&c.QueueBytes, DefaultQueueBytes)
	setDefault(&c.MaxFrameBytes, DefaultMaxFrameBytes)
	setDefault(&c.DialTimeout, DefaultDialTimeout)
	setDefault(&c.MinBackoff, DefaultMinBackoff)
	setDefault(&c.MaxBackoff, DefaultMaxBackoff)
	setDefault(&c.ReconnectGrace, DefaultReconnectGrace)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func setDefault[T int | time.Duration](v *T, d T) {
	if *v == 0 {
		*v = d
	}
}

// Validate reports every problem with the configuration at once. Zero numeric fields
// are valid (they take defaults).
func (c GRPCConfig) Validate() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("NodeID is empty"))
	}
	if c.Handler == nil {
		errs = append(errs, errors.New("Handler is nil"))
	}
	if (c.Listener == nil) == (c.ListenAddr == "") {
		errs = append(errs, errors.New("exactly one of Listener and ListenAddr must be set"))
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"QueueLen", int64(c.QueueLen)}, {"QueueBytes", int64(c.QueueBytes)}, {"MaxFrameBytes", int64(c.MaxFrameBytes)},
		{"DialTimeout", int64(c.DialTimeout)}, {"MinBackoff", int64(c.MinBackoff)}, {"MaxBackoff", int64(c.MaxBackoff)},
		{"ReconnectGrace", int64(c.ReconnectGrace)},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s is negative", f.name))
		}
	}
	d := c.withDefaults()
	if d.MinBackoff > d.MaxBackoff {
		errs = append(errs, fmt.Errorf("MinBackoff %v exceeds MaxBackoff %v", d.MinBackoff, d.MaxBackoff))
	}
	if d.MaxFrameBytes < 64 {
		errs = append(errs, fmt.Errorf("MaxFrameBytes %d is too small for any message", d.MaxFrameBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("transport: invalid GRPCConfig: %w", err)
	}
	return nil
}

// GRPC is the production Transport: a gRPC server that receives frames from peers, and
// per peer one persistent connection with one long-lived stream, fed by a sender
// goroutine that batches whatever queued while it was writing into one frame.
//
// Send, SetPeers, Addr and Stats are safe for concurrent use; Send never blocks on the
// network. The Handler is called from one goroutine per incoming stream (so
// concurrently across peers, in order for each peer) and is never called after Close
// returns; Close must therefore not be called from the Handler.
type GRPC struct {
	cfg         GRPCConfig
	log         *slog.Logger
	counters    counters
	unregister  func()
	lis         net.Listener
	server      *grpc.Server
	dialOptions []grpc.DialOption

	peers  atomic.Pointer[map[string]*peer] // replaced whole by SetPeers
	closed atomic.Bool
	wg     sync.WaitGroup // the server and the peers' senders

	mu        sync.Mutex // serializes SetPeers and Close
	closeOnce sync.Once
}

var _ Transport = (*GRPC)(nil)

// NewGRPC validates cfg, listens (unless given a Listener) and starts serving. It
// fails if the address cannot be listened on, e.g. because the port is taken.
func NewGRPC(cfg GRPCConfig) (*GRPC, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	t := &GRPC{cfg: cfg, log: cfg.Logger.With("component", "transport")}
	unregister, err := t.counters.register(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	t.unregister = unregister
	t.lis = cfg.Listener
	if t.lis == nil {
		if t.lis, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
			t.unregister()
			return nil, fmt.Errorf("transport: cannot listen for peers on %s: %w", cfg.ListenAddr, err)
		}
	}
	t.dialOptions = t.buildDialOptions()
	t.server = grpc.NewServer(t.buildServerOptions()...)
	t.server.RegisterService(serviceDesc(t.serveStream), t)
	empty := map[string]*peer{}
	t.peers.Store(&empty)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		if err := t.server.Serve(t.lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.log.Error("peer server stopped", "err", err)
		}
	}()
	t.log.Debug("listening for peers", "addr", t.lis.Addr().String())
	return t, nil
}

// Keepalive settings: a silent peer is declared dead after keepaliveTime +
// keepaliveTimeout, which ends its stream so that the sender reconnects.
const (
	keepaliveTime    = 10 * time.Second
	keepaliveTimeout = 5 * time.Second
)

// flowWindow is the HTTP/2 flow-control window of a peer stream and its connection.
// One stream per peer carries everything, so a window as large as a few frames lets
// a burst go out without waiting for window updates, and a fixed window turns off
// gRPC's bandwidth-delay estimation, which pings the peer as data arrives.
const flowWindow = 8 << 20

func (t *GRPC) buildServerOptions() []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(frameCodec{}),
		grpc.MaxRecvMsgSize(t.cfg.MaxFrameBytes),
		grpc.WaitForHandlers(true),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveTime / 2, PermitWithoutStream: true}),
		grpc.InitialWindowSize(flowWindow),
		grpc.InitialConnWindowSize(flowWindow),
	}
	return append(opts, t.cfg.ServerOptions...)
}

func (t *GRPC) buildDialOptions() []grpc.DialOption {
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(frameCodec{})),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay: t.cfg.MinBackoff, Multiplier: 2, Jitter: 0.2, MaxDelay: t.cfg.MaxBackoff,
			},
			MinConnectTimeout: t.cfg.DialTimeout,
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: keepaliveTime, Timeout: keepaliveTimeout, PermitWithoutStream: true}),
		// A frame is sent once: gRPC must not buffer frames to replay them.
		grpc.WithDisableRetry(),
		grpc.WithInitialWindowSize(flowWindow),
		grpc.WithInitialConnWindowSize(flowWindow),
	}
	return append(opts, t.cfg.DialOptions...)
}

// Addr returns the address peers connect to (useful with ListenAddr ":0").
func (t *GRPC) Addr() net.Addr { return t.lis.Addr() }

// Stats returns the transport's counters.
func (t *GRPC) Stats() Stats { return t.counters.stats() }

// Send queues each message for the peer named by its To field and returns without
// waiting for the network. A message whose From is empty is sent with From = NodeID.
// Messages are encoded before Send returns, so the caller may reuse them and
// everything they reference. Messages to one peer are delivered in the order of Send
// calls, except that any may be dropped (and counted): an invalid Type, an unknown
// peer, a full queue, a peer that is unreachable, or one larger than MaxFrameBytes.
func (t *GRPC) Send(msgs ...wire.Message) {
	if t.closed.Load() {
		t.counters.drop(dropClosed, len(msgs))
		return
	}
	peers := *t.peers.Load()
	for i := range msgs {
		m := &msgs[i]
		if !m.Type.Valid() {
			t.counters.drop(dropInvalid, 1)
			continue
		}
		p := peers[m.To]
		if p == nil {
			t.counters.drop(dropUnknownPeer, 1)
			continue
		}
		if m.From == "" {
			c := *m
			c.From = t.cfg.NodeID
			m = &c
		}
		p.enqueue(m)
	}
}

// SetPeers replaces the address book (node id → host:port). A new peer gets a
// connection and a sender; a peer whose address changed is reconnected (what was queued
// for the old address is dropped); a peer no longer listed is stopped and its queue
// dropped. Connections are made lazily by the senders, so SetPeers does not block on
// the network.
func (t *GRPC) SetPeers(addrs map[string]string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return
	}
	old := *t.peers.Load()
	next := make(map[string]*peer, len(addrs))
	for id, addr := range addrs {
		if p := old[id]; p != nil && p.addr == addr {
			next[id] = p
			continue
		}
		if addr == "" {
			continue
		}
		p, err := newPeer(t, id, addr)
		if err != nil {
			t.log.Warn("ignoring peer", "peer", id, "err", err)
			continue
		}
		next[id] = p
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			p.run()
		}()
	}
	t.peers.Store(&next)
	for id, p := range old {
		if next[id] != p {
			p.stop(dropUnknownPeer)
		}
	}
}

// Close stops the senders (dropping what they had queued), closes the connections and
// the server, and waits for every goroutine it started, including running Handler
// calls. It is idempotent; later Sends are dropped.
func (t *GRPC) Close() error {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closed.Store(true)
		old := *t.peers.Load()
		empty := map[string]*peer{}
		t.peers.Store(&empty)
		t.mu.Unlock()
		for _, p := range old {
			p.stop(dropClosed)
		}
		t.server.Stop()
		t.wg.Wait()
		t.unregister()
	})
	return nil
}

// serveStream receives the frames of one peer's stream and hands each message to the
// Handler, in order. A frame that does not decode is refused: the stream ends with
// InvalidArgument and one log line, and other streams are unaffected.
func (t *GRPC) serveStream(_ any, ss grpc.ServerStream) error {
	for {
		var f inFrame
		if err := ss.RecvMsg(&f); err != nil {
			if errors.Is(err, io.EOF) {
				return ss.SendMsg(&streamEnd{})
			}
			return err
		}
		err := wire.DecodeFrame(f.buf.ReadOnlyData(), t.deliver)
		f.buf.Free()
		if err != nil {
			t.counters.rejected.Add(1)
			remote := "unknown"
			if p, ok := grpcpeer.FromContext(ss.Context()); ok {
				remote = p.Addr.String()
			}
			t.log.Warn("refusing a peer stream that sent a malformed frame", "remote", remote, "err", err)
			return status.Errorf(codes.InvalidArgument, "chorus transport: %v", err)
		}
	}
}

func (t *GRPC) deliver(m wire.Message) error {
	t.counters.received.Add(1)
	t.cfg.Handler(m)
	return nil
}
