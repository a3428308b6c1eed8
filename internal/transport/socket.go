package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/chorusdb/chorus/internal/wire"
)

// Defaults for zero fields of Config.
const (
	DefaultQueueLen       = 65536
	DefaultQueueBytes     = 64 << 20
	DefaultMaxFrameBytes  = 4 << 20
	DefaultDialTimeout    = 5 * time.Second
	DefaultMinBackoff     = 50 * time.Millisecond
	DefaultMaxBackoff     = time.Second
	DefaultReconnectGrace = 2 * time.Second
)

// Protocol is how a Socket talks to its peers. Every node of a cluster must use the
// same one: a server refuses the other's connections (and logs why).
type Protocol int

const (
	// ProtocolTCP (the default) writes length-prefixed wire frames straight onto a TCP
	// connection (TLS when configured), one per peer and direction.
	ProtocolTCP Protocol = iota
	// ProtocolGRPC carries the same frames as the messages of one long-lived gRPC
	// client stream per peer.
	ProtocolGRPC
)

// String returns the protocol's name as the --transport flag spells it.
func (p Protocol) String() string {
	switch p {
	case ProtocolTCP:
		return "tcp"
	case ProtocolGRPC:
		return "grpc"
	}
	return fmt.Sprintf("Protocol(%d)", int(p))
}

// ParseProtocol parses "tcp" or "grpc".
func ParseProtocol(s string) (Protocol, error) {
	switch s {
	case "tcp":
		return ProtocolTCP, nil
	case "grpc":
		return ProtocolGRPC, nil
	}
	return 0, fmt.Errorf("unknown transport %q (want tcp or grpc)", s)
}

// Config configures a Socket. A zero numeric field takes its default.
type Config struct {
	// Protocol is how frames travel (default ProtocolTCP).
	Protocol Protocol
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
	// ServerTLS, if set, is the TLS configuration of the server side of every
	// connection (peers dialing in); ClientTLS, if set, that of the connections this node
	// dials. Nil means plaintext. Both protocols use them.
	ServerTLS, ClientTLS *tls.Config
	// ServerOptions and DialOptions (ProtocolGRPC only) are added after the transport's
	// own gRPC options (codec, limits, keepalive, credentials from the TLS fields).
	ServerOptions []grpc.ServerOption
	DialOptions   []grpc.DialOption
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
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
func (c Config) Validate() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("NodeID is empty"))
	}
	if c.Handler == nil {
		errs = append(errs, errors.New("Handler is nil"))
	}
	if c.Protocol != ProtocolTCP && c.Protocol != ProtocolGRPC {
		errs = append(errs, fmt.Errorf("unknown Protocol %d", int(c.Protocol)))
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
		return fmt.Errorf("transport: invalid Config: %w", err)
	}
	return nil
}

// Socket is the production Transport: a server that receives frames from peers, and
// per peer one persistent connection fed by a sender goroutine that batches whatever
// queued while it was writing into one frame. Its Protocol says what carries the
// frames: a plain TCP connection (default) or a gRPC stream.
//
// Send, SetPeers, Addr and Stats are safe for concurrent use; Send never blocks on the
// network. The Handler is called from one goroutine per incoming connection (so
// concurrently across peers, in order for each peer) and is never called after Close
// returns; Close must therefore not be called from the Handler.
type Socket struct {
	cfg      Config
	log      *slog.Logger
	counters counters
	// unregister removes the metrics; lis is where peers connect.
	unregister func()
	lis        net.Listener
	server     server
	dialer     func(p *peer) (dialer, error) // makes a peer's connection factory

	peers  atomic.Pointer[map[string]*peer] // replaced whole by SetPeers
	closed atomic.Bool
	wg     sync.WaitGroup // the server and the peers' senders

	mu        sync.Mutex // serializes SetPeers and Close
	closeOnce sync.Once
}

var _ Transport = (*Socket)(nil)

// server is the receiving side of a protocol.
type server interface {
	// serve accepts peers on lis until stop; it returns nil once stopped.
	serve(lis net.Listener) error
	// stop closes the listener and every connection, and waits for running Handlers.
	stop()
}

// New validates cfg, listens (unless given a Listener) and starts serving. It fails if
// the address cannot be listened on, e.g. because the port is taken.
func New(cfg Config) (*Socket, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	t := &Socket{cfg: cfg, log: cfg.Logger.With("component", "transport", "protocol", cfg.Protocol.String())}
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
	switch cfg.Protocol {
	case ProtocolGRPC:
		t.server, t.dialer = t.newGRPC()
	default:
		t.server, t.dialer = t.newTCP()
	}
	empty := map[string]*peer{}
	t.peers.Store(&empty)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		if err := t.server.serve(t.lis); err != nil {
			t.log.Error("peer server stopped", "err", err)
		}
	}()
	t.log.Debug("listening for peers", "addr", t.lis.Addr().String())
	return t, nil
}

// Keepalive settings: a silent peer is declared dead after keepaliveTime +
// keepaliveTimeout, which ends its connection so that the sender reconnects.
const (
	keepaliveTime    = 10 * time.Second
	keepaliveTimeout = 5 * time.Second
)

// Addr returns the address peers connect to (useful with ListenAddr ":0").
func (t *Socket) Addr() net.Addr { return t.lis.Addr() }

// Stats returns the transport's counters.
func (t *Socket) Stats() Stats { return t.counters.stats() }

// Send queues each message for the peer named by its To field and returns without
// waiting for the network. A message whose From is empty is sent with From = NodeID.
// Messages are encoded before Send returns, so the caller may reuse them and
// everything they reference. Messages to one peer are delivered in the order of Send
// calls, except that any may be dropped (and counted): an invalid Type, an unknown
// peer, a full queue, a peer that is unreachable, or one larger than MaxFrameBytes.
func (t *Socket) Send(msgs ...wire.Message) {
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
func (t *Socket) SetPeers(addrs map[string]string) {
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
		p, err := t.newPeer(id, addr)
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
func (t *Socket) Close() error {
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
		t.server.stop()
		t.wg.Wait()
		t.unregister()
	})
	return nil
}

// deliver hands one received message to the Handler.
func (t *Socket) deliver(m wire.Message) error {
	t.counters.received.Add(1)
	t.cfg.Handler(m)
	return nil
}

// refuse counts a connection ended because its peer sent what does not decode, and
// logs it once.
func (t *Socket) refuse(remote string, err error) {
	t.counters.rejected.Add(1)
	t.log.Warn("refusing a peer connection that sent a malformed frame", "remote", remote, "err", err)
}
