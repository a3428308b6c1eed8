package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/api/http/console"
	"github.com/chorusdb/chorus/internal/core"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

// DefaultRequestTimeout is Config.RequestTimeout's default.
const DefaultRequestTimeout = 2 * time.Second

// Timeouts of the underlying http.Server.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
)

// kvPrefix starts the paths of the key-value routes.
const kvPrefix = "/v1/kv/"

// Config configures a Server. The zero value of every field but Backend is valid.
type Config struct {
	// Backend runs the requests. Required.
	Backend api.Backend
	// MaxConns bounds the open connections: past it, new connections wait to be
	// accepted until one closes. 0 means no limit.
	MaxConns int
	// Limits bounds keys and values; zero fields take the defaults (2 KiB, 8 MiB).
	Limits api.Limits
	// Logger receives internal errors and the http.Server's own log. Nil discards.
	Logger *slog.Logger
	// Gatherer is what GET /metrics exposes. Nil exposes an empty registry.
	Gatherer prometheus.Gatherer
	// Healthy, if set, is asked by GET /healthz; false answers 503 (storage failing).
	Healthy func() bool
	// Filling, if set, is reported by GET /healthz as "filling": true while the node
	// refills after an empty-disk start (its answers do not count yet).
	Filling func() bool
	// Auth, if enabled, requires "Authorization: Bearer TOKEN" (or USER:TOKEN) on every
	// route except /healthz and the console's static files; others get 401.
	Auth *api.Auth
	// Extra, if set, is called once by NewServer to add routes (e.g. /v1/keyspaces,
	// /v1/hints) to the server's mux. Routes under /v1/kv/ never reach the mux.
	Extra func(mux *http.ServeMux)
	// DefaultReadLevel and DefaultWriteLevel apply when a request has no ?r= or ?w=.
	// The zero value is QUORUM. ANY is not a read level.
	DefaultReadLevel  core.Level
	DefaultWriteLevel core.Level
	// RequestTimeout bounds each Backend.Do call (its context deadline). Zero means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Backend == nil {
		errs = append(errs, errors.New("httpapi: Config.Backend is required"))
	}
	if c.DefaultReadLevel == core.Any {
		errs = append(errs, errors.New("httpapi: Config.DefaultReadLevel cannot be ANY, a write-only level"))
	}
	if c.DefaultReadLevel > core.Any || c.DefaultWriteLevel > core.Any {
		errs = append(errs, errors.New("httpapi: Config has an unknown default consistency level"))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("httpapi: Config.RequestTimeout %v is negative", c.RequestTimeout))
	}
	if c.Limits.MaxKeyBytes < 0 || c.Limits.MaxValueBytes < 0 {
		errs = append(errs, errors.New("httpapi: Config.Limits must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	c.Limits = c.Limits.WithDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Gatherer == nil {
		c.Gatherer = prometheus.NewRegistry()
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	return c
}

// Server serves Chorus's HTTP JSON API (CONTRACT.md): the key-value routes under
// /v1/kv/, /v1/cluster, /healthz and /metrics, plus whatever Config.Extra adds. It is
// safe for concurrent use.
type Server struct {
	cfg Config
	mux *http.ServeMux
	srv *http.Server
}

// NewServer returns a Server ready to Serve. It panics if cfg does not Validate: a
// bad configuration is a programming error of the caller, who can Validate first.
func NewServer(cfg Config) *Server {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	s := &Server{cfg: cfg.withDefaults(), mux: http.NewServeMux()}
	s.mux.Handle("/v1/cluster", only(http.MethodGet, s.handleCluster))
	s.mux.Handle("/healthz", only(http.MethodGet, s.handleHealth))
	s.mux.Handle("/metrics", promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelError),
	}))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, s.cfg.Logger, fmt.Errorf("%w: no route for %s %s", errNotFound, r.Method, r.URL.Path))
	})
	s.mux.Handle(console.Prefix, console.Handler(s.cfg.Backend)) // the web console, /ui/
	s.registerOps()
	s.registerKeyspaces()
	s.registerStaleness()
	s.mux.HandleFunc(crdtPrefix, s.serveCRDT)
	s.mux.Handle(inspectPrefix, only(http.MethodGet, s.serveInspect))
	if s.cfg.Extra != nil {
		s.cfg.Extra(s.mux)
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
	}
	return s
}

// Handler returns the server's routes as an http.Handler (for httptest or another
// http.Server).
func (s *Server) Handler() http.Handler { return s }

// ServeHTTP routes a request. Key-value paths are routed here rather than by the
// mux, because the mux cleans paths ("a//b", "a/../b") and a key may be any string.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Auth.Enabled() && !s.open(r) {
		if err := s.cfg.Auth.CheckBearer(bearer(r)); err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="chorus"`)
			writeError(w, nil, fmt.Errorf("%w: %s", errUnauthorized, "send Authorization: Bearer TOKEN (or USER:TOKEN)"))
			return
		}
	}
	if strings.HasPrefix(r.URL.EscapedPath(), kvPrefix) {
		s.serveKV(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// open reports whether a request needs no authentication: the health check (load
// balancers) and the console's static files (its API calls carry the token).
func (s *Server) open(r *http.Request) bool {
	p := r.URL.Path
	return p == "/healthz" || (strings.HasPrefix(p, console.Prefix) && !strings.HasPrefix(p, console.Prefix+"api/"))
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// Serve accepts HTTP connections on l until Shutdown or Close, when it returns
// ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	if s.cfg.MaxConns > 0 {
		l = &limitListener{Listener: l, sem: make(chan struct{}, s.cfg.MaxConns)}
	}
	return s.srv.Serve(l)
}

// limitListener accepts a connection only while fewer than cap(sem) are open.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Shutdown stops accepting connections and waits, until ctx is done, for the
// requests in flight to finish (see http.Server.Shutdown).
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close closes the listeners and every connection at once. It is idempotent.
func (s *Server) Close() error { return s.srv.Close() }

// only wraps h so that other methods are answered with 405.
func only(method string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, nil, fmt.Errorf("%w: %s %s", errMethod, r.Method, r.URL.Path))
			return
		}
		h(w, r)
	})
}
