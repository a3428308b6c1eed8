package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chorusdb/chorus/internal/storage"
)

// Engine is a storage.Engine on PostgreSQL: one node's rows in tables that several
// nodes may share. It is safe for concurrent use by many goroutines. Every method
// blocks on a round trip to the server.
type Engine struct {
	node       string // escaped node id: the value of the node columns
	pool       *pgxpool.Pool
	scanPool   *pgxpool.Pool
	log        *slog.Logger
	timeout    time.Duration
	maxRepairs int

	health health

	// janitor: stop ends its loop, janitorDone is closed when it has returned; trim
	// asks it to trim the repair log early.
	stop        context.CancelFunc
	janitorDone chan struct{}
	trim        chan struct{}
	appended    atomic.Int64 // repair entries appended since the last trim

	// Lifecycle: every call but Close runs between enter and exit; Close sets closed
	// and waits for inflight to drain.
	inflight  atomic.Int64
	closed    atomic.Bool
	drained   chan struct{}
	closeOnce sync.Once
}

var _ storage.Engine = (*Engine)(nil)

// ErrUnavailable is wrapped by errors that come from not reaching the database (it is
// down, restarting, unreachable, or did not answer within the timeout), as opposed to
// the database refusing a statement. A Commit that fails with it may or may not have
// been applied.
var ErrUnavailable = errors.New("storage/postgres: database unavailable")

// Open connects to the database opts.DSN names, migrates its schema to the current
// version and returns an engine for node opts.NodeID. If the server cannot be reached
// it fails after one connection attempt (Options.ConnectTimeout) with a one-line error
// wrapping ErrUnavailable. ctx bounds connecting and migrating.
func Open(ctx context.Context, opts Options) (*Engine, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	cfg, err := poolConfig(opts)
	if err != nil {
		return nil, err
	}
	pool, scanPool, err := openPools(ctx, cfg)
	if err != nil {
		return nil, err
	}
	log := opts.Logger.With("component", "postgres", "node", opts.NodeID)
	applied, err := migrate(ctx, pool)
	if err != nil {
		scanPool.Close()
		pool.Close()
		return nil, errors.New(oneLine(err))
	}
	if len(applied) > 0 {
		log.Info("schema migrated", "versions", applied)
	}
	jctx, stop := context.WithCancel(context.Background())
	e := &Engine{
		node:        escape(opts.NodeID, false),
		pool:        pool,
		scanPool:    scanPool,
		log:         log,
		timeout:     opts.QueryTimeout,
		maxRepairs:  opts.MaxRepairs,
		stop:        stop,
		janitorDone: make(chan struct{}),
		trim:        make(chan struct{}, 1),
		drained:     make(chan struct{}, 1),
	}
	e.health.init(log)
	go e.janitor(jctx, opts.PurgeInterval)
	return e, nil
}

// openPools creates the point and scan pools (connecting lazily) and makes one round
// trip, so that an unreachable server is reported now, in one line.
func openPools(ctx context.Context, cfg *pgxpool.Config) (pool, scanPool *pgxpool.Pool, err error) {
	if pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, nil, fmt.Errorf("storage/postgres: %w", err)
	}
	scanCfg := cfg.Copy()
	scanCfg.MaxConns = scanConns(cfg.MaxConns)
	if scanPool, err = pgxpool.NewWithConfig(ctx, scanCfg); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("storage/postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		scanPool.Close()
		pool.Close()
		return nil, nil, fmt.Errorf("%w: cannot connect to PostgreSQL at %s: %s", ErrUnavailable, target(cfg), oneLine(err))
	}
	return pool, scanPool, nil
}

// poolConfig turns opts into the point pool's configuration.
func poolConfig(opts Options) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("storage/postgres: bad DSN: %s", oneLine(err))
	}
	cc := cfg.ConnConfig
	if opts.ConnectTimeout > 0 {
		cc.ConnectTimeout = opts.ConnectTimeout
	} else if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	// pgx applies ConnectTimeout per host: the TLS and plaintext attempts of sslmode
	// "prefer" share it, several hosts in the DSN get one each.
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = applicationName(opts.NodeID)
	}
	if opts.Durability == storage.NoSync {
		cc.RuntimeParams["synchronous_commit"] = "off"
	}
	cfg.MaxConns = opts.MaxConns
	cfg.PingTimeout = opts.QueryTimeout
	cfg.HealthCheckPeriod = 10 * time.Second
	return cfg, nil
}

// applicationName is what pg_stat_activity shows for the engine's connections.
func applicationName(node string) string {
	name := "chorus/" + escape(node, false)
	if len(name) > 63 { // NAMEDATALEN-1: the server would truncate it
		name = name[:63]
	}
	return name
}

// target names the server a config connects to, for error messages (no password).
func target(cfg *pgxpool.Config) string {
	cc := cfg.ConnConfig
	return fmt.Sprintf("%s:%d/%s", cc.Host, cc.Port, cc.Database)
}

// oneLine flattens an error's message onto one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// enter admits a call, or refuses it once the engine is closed.
func (e *Engine) enter() error {
	e.inflight.Add(1)
	if e.closed.Load() {
		e.exit()
		return storage.ErrClosed
	}
	return nil
}

// exit ends a call admitted by enter.
func (e *Engine) exit() {
	if e.inflight.Add(-1) == 0 && e.closed.Load() {
		select {
		case e.drained <- struct{}{}:
		default:
		}
	}
}

// opContext bounds one point operation.
func (e *Engine) opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), e.timeout)
}

// Close waits for calls in progress, stops the janitor and closes the connections. It
// is idempotent: later calls return nil.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		for e.inflight.Load() != 0 {
			select {
			case <-e.drained:
			case <-time.After(10 * time.Millisecond):
			}
		}
		e.stop()
		<-e.janitorDone
		e.scanPool.Close()
		e.pool.Close()
	})
	return nil
}
