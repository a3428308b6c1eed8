package postgres

import (
	"context"
	"errors"
	"time"
)

// janitor is the engine's one background goroutine. Every purgeEvery it deletes
// delivered hints and trims the read-repair log (and does so once at start, so that a
// smaller MaxRepairs applies at once); it trims early when Commit signals that a
// quarter of a window was appended; and while no operation has succeeded for a
// healthInterval it pings the server, so that Healthy follows the server even when the
// node is idle. It returns when ctx is done.
func (e *Engine) janitor(ctx context.Context, purgeEvery time.Duration) {
	defer close(e.janitorDone)
	e.housekeep(ctx, purgeEvery)
	purge := time.NewTicker(purgeEvery)
	defer purge.Stop()
	ping := time.NewTicker(healthInterval)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-purge.C:
			e.housekeep(ctx, purgeEvery)
		case <-e.trim:
			e.report("trim repair log", e.trimOnly(ctx))
		case <-ping.C:
			if e.health.quiet(healthInterval) {
				pctx, cancel := context.WithTimeout(ctx, 2*healthInterval)
				e.health.observe(e.pool.Ping(pctx))
				cancel()
			}
		}
	}
}

// housekeep purges delivered hints (those delivered more than keep ago) and trims the
// repair log.
func (e *Engine) housekeep(ctx context.Context, keep time.Duration) {
	if n, err := e.purgeDelivered(ctx, keep); err != nil {
		e.report("purge delivered hints", err)
	} else if n > 0 {
		e.log.Debug("purged delivered hints", "rows", n)
	}
	e.report("trim repair log", e.trimOnly(ctx))
}

func (e *Engine) trimOnly(ctx context.Context) error {
	_, err := e.trimRepairs(ctx)
	return err
}

// report logs a janitor failure: at Debug when the database is out of reach (the
// health tracker already said so) or the engine is closing, at Warn otherwise.
func (e *Engine) report(what string, err error) {
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled), errors.Is(err, ErrUnavailable):
		e.log.Debug(what+" failed", "err", err)
	default:
		e.log.Warn(what+" failed", "err", err)
	}
}
