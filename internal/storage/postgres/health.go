package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chorusdb/chorus/internal/storage"
)

// healthInterval is how often the janitor pings the server when no operation has
// succeeded in that time, so that Healthy notices an outage (and the end of one) even
// when the node is idle.
const healthInterval = time.Second

// health tracks whether the database answered recently. Operations report their
// outcome; the janitor pings when they are quiet.
type health struct {
	log         *slog.Logger
	healthy     atomic.Bool
	lastSuccess atomic.Int64 // unix nanoseconds of the last successful round trip
}

func (h *health) init(log *slog.Logger) {
	h.log = log
	h.healthy.Store(true)
	h.lastSuccess.Store(time.Now().UnixNano())
}

// observe records the outcome of a round trip: success, a statement refused by a
// reachable server (which says nothing about health), or the server out of reach.
func (h *health) observe(err error) {
	switch {
	case errors.Is(err, context.Canceled):
		// The engine is closing (or a caller gave up): says nothing about the server.
	case err == nil:
		h.lastSuccess.Store(time.Now().UnixNano())
		if !h.healthy.Swap(true) {
			h.log.Info("database reachable again")
		}
	case unavailable(err):
		if h.healthy.Swap(false) {
			h.log.Warn("database unreachable", "err", err)
		}
	}
}

// quiet reports whether no round trip succeeded in the last d.
func (h *health) quiet(d time.Duration) bool {
	return time.Since(time.Unix(0, h.lastSuccess.Load())) >= d
}

// Healthy reports whether the database answered the engine's last round trip (or, when
// the engine is idle, its last ping, made every second). It does not block; a node
// serves it on /healthz and as a metric. A database that is down makes it false within
// about a second; it turns true again by itself when the server is back.
func (e *Engine) Healthy() bool {
	return !e.closed.Load() && e.health.healthy.Load()
}

// Ping makes a round trip to the database within ctx and reports the outcome (wrapping
// ErrUnavailable when the server cannot be reached). It updates Healthy.
func (e *Engine) Ping(ctx context.Context) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	err := e.pool.Ping(ctx)
	e.health.observe(err)
	return e.wrap("ping", err)
}

// unavailable reports whether err comes from not reaching the server, rather than from
// the server refusing a statement: a connection that failed or closed, a timeout, or
// the server shutting down or starting up.
func unavailable(err error) bool {
	if err == nil || errors.Is(err, storage.ErrCorrupt) || errors.Is(err, storage.ErrInvalid) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case len(pgErr.Code) == 5 && pgErr.Code[:2] == "08": // connection exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // shutdown, crash, starting up
			return true
		}
		return false
	}
	return true // network errors, timeouts, closed connections, pool errors
}

// wrap turns an error from the server into the engine's: prefixed with what was being
// done, and wrapping ErrUnavailable when the server could not be reached.
func (e *Engine) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s: no answer within %v: %w", ErrUnavailable, what, e.timeout, err)
	}
	if unavailable(err) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	return fmt.Errorf("storage/postgres: %s: %w", what, err)
}
