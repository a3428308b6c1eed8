package membership

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// Suspicion. memberlist v0.7.0 keeps a member's state (alive, suspect, dead, left)
// in a private field: Node.State, which its API hands out, is never filled in, and
// no delegate hears of suspicion. Gossip therefore observes the one suspicion it can
// see, its own: when a probe by this node goes unanswered, memberlist logs
// "Suspect <name> has failed, no acks received" just before marking the member
// suspect, and memberlistLog turns that line into a Suspect status. The status is
// cleared when the member answers one of memberlist's probes (PingDelegate) or one
// of the pings suspectLoop sends to suspects every ProbeInterval, and replaced by
// Dead or Left when memberlist gives up on the member. TestGossipKillSuspectThenDead
// fails if an upgrade of memberlist changes the log line.

// suspectPrefix and suspectSuffix frame the member name in memberlist's log line for
// a failed probe.
const (
	suspectPrefix = "Suspect "
	suspectSuffix = " has failed, no acks received"
)

// memberlistLog is the io.Writer behind memberlist's *log.Logger: it passes each
// line to slog at debug level and reports failed probes to onSuspect. memberlist
// may write while holding its node lock, so onSuspect must not call into it.
type memberlistLog struct {
	log       *slog.Logger
	onSuspect func(id string)
}

// Write handles one log line ("[LEVEL] memberlist: message").
func (w *memberlistLog) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\r\n")
	level, msg := "", line
	if rest, ok := strings.CutPrefix(line, "["); ok {
		if l, m, ok := strings.Cut(rest, "] "); ok {
			level, msg = l, m
		}
	}
	msg = strings.TrimPrefix(msg, "memberlist: ")
	if name, ok := strings.CutPrefix(msg, suspectPrefix); ok {
		if name, ok = strings.CutSuffix(name, suspectSuffix); ok {
			w.onSuspect(name)
		}
	}
	if w.log.Enabled(context.Background(), slog.LevelDebug) {
		w.log.Debug(msg, "lib", "memberlist", "lib_level", level)
	}
	return len(p), nil
}

// observeSuspect marks an alive member suspect after this node's probe of it failed.
func (g *Gossip) observeSuspect(id string) {
	g.update(id, func(ms *memberState, isNew bool) bool {
		if isNew || ms.Status != Alive || id == g.cfg.NodeID {
			return false
		}
		ms.Status = Suspect
		return true
	})
}

// clearSuspect marks a suspect member alive again after it answered a ping.
func (g *Gossip) clearSuspect(id string) {
	g.update(id, func(ms *memberState, isNew bool) bool {
		if isNew || ms.Status != Suspect {
			return false
		}
		ms.Status = Alive
		return true
	})
}

// suspectLoop pings every suspect member once per ProbeInterval, so that one which
// refuted its suspicion is seen alive again without waiting for memberlist's
// round-robin probe to come back to it.
func (g *Gossip) suspectLoop() {
	defer g.wg.Done()
	t := time.NewTicker(g.timing.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-t.C:
		}
		g.pingSuspects()
	}
}

// pingSuspects pings the current suspects in parallel and waits for the answers
// (each ping waits at most ProbeInterval).
func (g *Gossip) pingSuspects() {
	type target struct{ id, addr string }
	var targets []target
	g.mu.Lock()
	for id, ms := range g.members {
		if ms.Status == Suspect && ms.mlAddr != "" {
			targets = append(targets, target{id, ms.mlAddr})
		}
	}
	g.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range targets {
		addr, err := net.ResolveUDPAddr("udp", t.addr)
		if err != nil {
			continue
		}
		wg.Go(func() {
			if _, err := g.ml.Ping(t.id, addr); err == nil {
				g.clearSuspect(t.id)
			}
		})
	}
	wg.Wait()
}
