package postgres

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/chorusdb/chorus/internal/storage"
)

// Defaults for the zero fields of Options.
const (
	// DefaultMaxConns is the size of the pool for point operations when
	// Options.MaxConns is zero.
	DefaultMaxConns = 16
	// DefaultConnectTimeout bounds each attempt to open a connection when neither
	// Options.ConnectTimeout nor the DSN's connect_timeout is set.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultQueryTimeout bounds each point operation when Options.QueryTimeout is zero.
	DefaultQueryTimeout = 10 * time.Second
	// DefaultPurgeInterval is how often the background janitor runs when
	// Options.PurgeInterval is zero.
	DefaultPurgeInterval = time.Minute
)

// Options configures Open. DSN and NodeID are required; every other zero field means
// its default.
type Options struct {
	// DSN is the PostgreSQL connection string, as a URL
	// (postgres://user:pass@host:5432/db?sslmode=disable) or in key=value form; any
	// libpq setting pgx understands may be given, such as search_path=chorus to keep
	// Chorus's tables in their own schema, or connect_timeout (seconds).
	DSN string

	// NodeID scopes every row this engine reads and writes: several nodes may share one
	// database, each seeing only its own rows. Reopening with the same NodeID finds the
	// same data.
	NodeID string

	// MaxRepairs is how many read-repair log entries are kept for this node; zero means
	// storage.DefaultMaxRepairs. RecentRepairs never returns more; the janitor deletes
	// older rows in the background. More keeps a longer history for SQL queries at the
	// cost of table size (a row is roughly the key's size plus 80 bytes).
	MaxRepairs int

	// Logger receives the engine's log lines (migrations applied, the database becoming
	// unreachable and reachable again, janitor errors), tagged component=postgres. Nil
	// discards them.
	Logger *slog.Logger

	// MaxConns is the most connections the engine holds for point operations (Get,
	// Commit, GetMeta, Keyspaces, RecentRepairs); zero means DefaultMaxConns. Commits
	// run concurrently on separate connections and PostgreSQL groups their WAL flushes,
	// so more connections raise commit throughput under concurrency, at the cost of one
	// server process each. Scans use a separate pool of max(2, MaxConns/4) connections,
	// because a scan holds its connection while the caller's callback runs and that
	// callback may itself call Get or Commit.
	MaxConns int32

	// Durability says when Commit returns. storage.Sync (the zero value) keeps the
	// server's synchronous_commit (on by default): Commit returns once the transaction's
	// WAL is flushed, and the server's group commit shares flushes among concurrent
	// transactions. storage.NoSync sets synchronous_commit=off on the engine's
	// connections: Commit returns before the WAL flush, so a crash of the server (not of
	// the node) can lose the last few hundred milliseconds of commits; the database
	// stays consistent either way.
	Durability storage.Durability

	// ConnectTimeout bounds each attempt to open a connection; zero means the DSN's
	// connect_timeout, or DefaultConnectTimeout if that is unset too. Open fails after
	// one attempt, so an unreachable server is reported within this time.
	ConnectTimeout time.Duration

	// QueryTimeout bounds each point operation, from acquiring a connection to the
	// server's answer; zero means DefaultQueryTimeout. A Commit that times out returns
	// an error and may or may not have been applied (the caller treats it as unknown).
	// Scans are not bounded: their length depends on the caller's callback.
	QueryTimeout time.Duration

	// PurgeInterval is how often the background janitor deletes delivered hints (those
	// delivered more than one interval ago, so recent deliveries stay visible to SQL)
	// and read-repair log entries that fell out of the retention window; zero means
	// DefaultPurgeInterval.
	PurgeInterval time.Duration
}

// Validate reports every problem with o at once.
func (o Options) Validate() error {
	var errs []error
	if o.DSN == "" {
		errs = append(errs, errors.New("storage/postgres: DSN is required"))
	}
	if o.NodeID == "" {
		errs = append(errs, errors.New("storage/postgres: NodeID is required"))
	}
	if o.MaxRepairs < 0 {
		errs = append(errs, fmt.Errorf("storage/postgres: MaxRepairs %d is negative", o.MaxRepairs))
	}
	if o.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("storage/postgres: MaxConns %d is negative", o.MaxConns))
	}
	if o.Durability != storage.Sync && o.Durability != storage.NoSync {
		errs = append(errs, fmt.Errorf("storage/postgres: unknown durability %d", o.Durability))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ConnectTimeout", o.ConnectTimeout}, {"QueryTimeout", o.QueryTimeout}, {"PurgeInterval", o.PurgeInterval}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("storage/postgres: %s %v is negative", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns o with every zero field that has a default filled in.
// ConnectTimeout stays zero here: Open lets the DSN's connect_timeout apply first.
func (o Options) withDefaults() Options {
	if o.MaxRepairs == 0 {
		o.MaxRepairs = storage.DefaultMaxRepairs
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.QueryTimeout == 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	if o.PurgeInterval == 0 {
		o.PurgeInterval = DefaultPurgeInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// scanConns is the size of the scan pool for a point pool of maxConns.
func scanConns(maxConns int32) int32 { return max(2, maxConns/4) }
