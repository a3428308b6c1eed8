package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// maxAttempts bounds how often a round trip is tried when it fails in a way that
// guarantees nothing was applied.
const maxAttempts = 4

// roundTrip runs fn, retrying it (with a short backoff, within ctx) while it fails in
// a way that guarantees it had no effect: the request never reached the server (a dead
// pooled connection, a refused connection), or the server rolled the transaction back
// for a deadlock or serialization failure. Any other failure — in particular a
// connection lost after the request was sent, when a Commit may or may not have been
// applied — is returned at once. It reports the outcome to the health tracker and
// wraps the error for the caller.
func (e *Engine) roundTrip(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = fn(ctx)
		e.health.observe(err)
		if err == nil || attempt == maxAttempts || !retryable(err) {
			break
		}
		select {
		case <-ctx.Done():
			return e.wrap(what, err)
		case <-time.After(time.Duration(attempt*attempt) * 5 * time.Millisecond):
		}
	}
	return e.wrap(what, err)
}

// retryable reports whether err guarantees that the failed round trip had no effect.
func retryable(err error) bool {
	if errors.As(err, new(noRetry)) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01" // serialization failure, deadlock
	}
	return pgconn.SafeToRetry(err)
}
