package resp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/core"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("resp: server closed")

// DefaultRequestTimeout is Config.RequestTimeout's default.
const DefaultRequestTimeout = 2 * time.Second

// flushThreshold is how many reply bytes a connection buffers before it writes them
// out even though more pipelined commands are waiting.
const flushThreshold = 64 << 10

// Config configures a Server. The zero value of every field but Backend is valid.
type Config struct {
	// Backend runs the requests. Required.
	Backend api.Backend
	// Limits bounds keys and values; zero fields take the defaults (2 KiB, 8 MiB).
	Limits api.Limits
	// Logger receives protocol errors (debug) and recovered panics (error). Nil
	// discards.
	Logger *slog.Logger
	// DefaultReadLevel and DefaultWriteLevel are a new connection's consistency levels
	// until it sends CONSISTENCY. The zero value is QUORUM. ANY is not a read level.
	DefaultReadLevel  core.Level
	DefaultWriteLevel core.Level
	// RequestTimeout bounds each Backend.Do call (its context deadline); the core has
	// its own deadline too, and the shorter wins. Zero means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Version is the Chorus version INFO reports. Empty means the main module's
	// version from the build information ("dev" if there is none).
	Version string
	// MaxClients bounds the open connections; one more is answered "ERR max number of
	// clients reached" and closed. Default 10000.
	MaxClients int
	// IdleTimeout closes a connection that sends nothing for this long (a client that
	// went away without closing, a slow-loris). 0 (default) never does, as Redis.
	IdleTimeout time.Duration
	// MaxPipeline bounds how many of a connection's pipelined commands run at once
	// (and so the replies held for it). Default 64.
	MaxPipeline int
	// Auth, if enabled, makes connections authenticate (AUTH or HELLO … AUTH) before
	// any command but PING, AUTH, HELLO and QUIT.
	Auth *api.Auth
	// Info, if set, returns extra INFO text: sections of "# Name" followed by
	// "field:value" lines, separated by blank lines. It is called on every INFO and
	// must be safe for concurrent use.
	Info func() string
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Backend == nil {
		errs = append(errs, errors.New("resp: Config.Backend is required"))
	}
	if c.MaxClients < 0 || c.MaxPipeline < 0 || c.IdleTimeout < 0 {
		errs = append(errs, errors.New("resp: Config.MaxClients, MaxPipeline and IdleTimeout must not be negative"))
	}
	if c.DefaultReadLevel == core.Any {
		errs = append(errs, errors.New("resp: Config.DefaultReadLevel cannot be ANY, a write-only level"))
	}
	if c.DefaultReadLevel > core.Any || c.DefaultWriteLevel > core.Any {
		errs = append(errs, errors.New("resp: Config has an unknown default consistency level"))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("resp: Config.RequestTimeout %v is negative", c.RequestTimeout))
	}
	if c.Limits.MaxKeyBytes < 0 || c.Limits.MaxValueBytes < 0 {
		errs = append(errs, errors.New("resp: Config.Limits must not be negative"))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	c.Limits = c.Limits.WithDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxClients == 0 {
		c.MaxClients = 10000
	}
	if c.MaxPipeline == 0 {
		c.MaxPipeline = maxPipeline
	}
	if c.Version == "" {
		c.Version = "dev"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			c.Version = bi.Main.Version
		}
	}
	return c
}

// Server serves the RESP protocol (Redis's wire protocol, version 2) to clients and
// runs their commands on a Backend. Each connection is served by one goroutine that
// reads its commands in order; the Backend commands among those that arrived
// together (a pipeline) run concurrently, and their replies are written in order, in
// one batch. A Server is safe for concurrent use.
type Server struct {
	cfg      Config
	commands map[string]*commandSpec
	// ctx is the parent of every request's context; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
	// starter is the Backend if it can start requests without waiting (see pipeline).
	starter starter
	// jobs hands pipelined calls to idle workers (unbuffered: a send succeeds only if
	// a worker is waiting).
	jobs chan job

	closing atomic.Bool
	nextID  atomic.Uint64

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*client]struct{}
	wg        sync.WaitGroup // one per connection goroutine
}

// NewServer returns a Server ready to Serve. It panics if cfg does not Validate: a
// bad configuration is a programming error of the caller, who can Validate first.
func NewServer(cfg Config) *Server {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:       cfg.withDefaults(),
		ctx:       ctx,
		cancel:    cancel,
		jobs:      make(chan job),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*client]struct{}),
	}
	s.commands = s.commandTable()
	s.starter, _ = cfg.Backend.(starter)
	return s
}

// Serve accepts connections on l and serves each in its own goroutine until Shutdown
// or Close, when it returns ErrServerClosed; it returns any other accept error as is.
// Serve closes l when it returns. It may be called for several listeners.
func (s *Server) Serve(l net.Listener) error {
	if !s.track(l) {
		l.Close()
		return ErrServerClosed
	}
	defer s.untrack(l)
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.cfg.Logger.Warn("resp: accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := s.newClient(nc)
		switch s.register(c) {
		case registerClosing:
			nc.Close()
			return ErrServerClosed
		case registerFull:
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			nc.Write([]byte("-ERR max number of clients reached\r\n"))
			nc.Close()
			continue
		}
		go s.serveClient(c)
	}
}

// Shutdown stops accepting connections, lets every connection finish the commands it
// has received and closes it, and waits for that until ctx is done; then it closes
// the remaining connections, cancels their requests and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		// Wake connections blocked reading; a connection running a command notices
		// when it next reads.
		c.nc.SetReadDeadline(time.Unix(1, 0))
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// Close stops accepting connections, closes every connection at once and cancels the
// requests in flight. It does not wait for connection goroutines to end. It is
// idempotent and returns nil.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	return nil
}

// ConnectedClients returns the number of open client connections.
func (s *Server) ConnectedClients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) track(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) untrack(l net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.listeners, l)
	l.Close()
}

// register adds c to the open connections unless the server is closing.
// The outcomes of register.
const (
	registered = iota
	registerClosing
	registerFull
)

func (s *Server) register(c *client) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return registerClosing
	}
	if len(s.conns) >= s.cfg.MaxClients {
		return registerFull
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return registered
}

func (s *Server) unregister(c *client) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.releaseRequestCtx()
	c.nc.Close()
	s.wg.Done()
}

// serveClient reads, runs and answers c's commands until c disconnects, sends QUIT
// or a malformed request, or the server shuts down. The commands that arrived
// together are answered together: the Backend commands among them run concurrently
// (see pipeline) and their replies are written in order, in one write unless they
// exceed flushThreshold bytes.
func (s *Server) serveClient(c *client) {
	defer s.unregister(c)
	defer func() {
		if p := recover(); p != nil {
			stack := debug.Stack()
			if cp, ok := p.(callPanic); ok {
				p, stack = cp.value, cp.stack
			}
			s.cfg.Logger.Error("resp: panic serving a connection; closing it",
				"remote", c.nc.RemoteAddr().String(), "panic", p, "stack", string(stack))
		}
	}()
	for {
		cmd, ok, err := c.rd.parse()
		if err != nil {
			s.runPipeline(c)
			s.cfg.Logger.Debug("resp: malformed request; closing connection",
				"remote", c.nc.RemoteAddr().String(), "err", err)
			c.out = appendError(c.out, err)
			c.flush()
			return
		}
		if !ok {
			s.runPipeline(c) // before fill, which may move the bytes its arguments alias
			if c.flush() != nil {
				return
			}
			if s.cfg.IdleTimeout > 0 {
				c.nc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
			}
			if err := c.rd.fill(); err != nil {
				return
			}
			continue
		}
		s.dispatch(c, cmd)
		if c.quit {
			c.flush()
			return
		}
		if len(c.out) >= flushThreshold && c.flush() != nil {
			return
		}
	}
}
