package pebble

import (
	"context"
	"fmt"
	"log/slog"

	pebbledb "github.com/cockroachdb/pebble/v2"
)

// logger routes Pebble's logging to a slog.Logger.
type logger struct{ l *slog.Logger }

var _ pebbledb.Logger = logger{}

// Infof logs Pebble's routine messages at Debug.
func (p logger) Infof(format string, args ...any) {
	if p.l.Enabled(context.Background(), slog.LevelDebug) {
		p.l.Debug(fmt.Sprintf(format, args...))
	}
}

// Errorf logs at Error.
func (p logger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...))
}

// Fatalf logs at Error and panics with a fatalError: Pebble calls it when it cannot go
// on (a failed write-ahead log write or fsync, among others) and expects it not to
// return. The Engine method that triggered it recovers the panic and fails the engine
// (see Engine.fail); a Fatalf on one of Pebble's background goroutines crashes the
// process, as Pebble's default logger (which calls os.Exit) would.
func (p logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "fatal", true)
	panic(fatalError{msg: msg})
}

// fatalError is the panic value of logger.Fatalf.
type fatalError struct{ msg string }

// Error returns the message Pebble passed to Fatalf.
func (f fatalError) Error() string { return f.msg }

// eventListener logs Pebble's events: routine ones through logger (Debug), slow disks
// and write stalls at Warn.
func eventListener(l *slog.Logger) *pebbledb.EventListener {
	el := pebbledb.MakeLoggingEventListener(logger{l})
	el.DiskSlow = func(info pebbledb.DiskSlowInfo) {
		l.Warn("slow disk", "detail", info.String())
	}
	el.WriteStallBegin = func(info pebbledb.WriteStallBeginInfo) {
		l.Warn("write stall", "reason", info.Reason)
	}
	el.WriteStallEnd = func() {
		l.Info("write stall ended")
	}
	return &el
}
