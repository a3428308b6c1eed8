package transport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/chorusdb/chorus/internal/wire"
)

// chunk is a frame being filled: the entries (length-prefixed encoded messages) and
// their number. The frame header is written in front when the chunk is sent.
type chunk struct {
	body []byte
	n    int
}

func (c *chunk) frameLen() int { return wire.FrameHeaderLen(c.n) + len(c.body) }

// maxSpareChunkBytes bounds the capacity of a chunk buffer kept for reuse, so that an
// idle peer does not hold on to the largest frame it ever sent.
const maxSpareChunkBytes = 1 << 20

// peerState says whether Send queues messages for a peer.
type peerState int

const (
	// peerConnecting: no link yet and no failure yet; messages queue (bounded).
	peerConnecting peerState = iota
	// peerUp: a link is open; messages queue and the sender writes them.
	peerUp
	// peerDown: the last attempt failed or the link broke; messages are dropped
	// until a new link opens, so a dead peer costs no memory.
	peerDown
	// peerStopped: removed by SetPeers or Close; messages are dropped.
	peerStopped
)

// dialer opens links to one peer; close releases what it holds (a gRPC connection).
type dialer interface {
	// dial opens a link within timeout; the link ends when ctx is done.
	dial(ctx context.Context, timeout time.Duration) (link, error)
	close()
}

// link is one open connection (or stream) to a peer, written by the peer's sender only.
type link interface {
	// write sends one frame: the chunk's header and entries. The chunk may be reused
	// once write returns.
	write(c *chunk) error
	// ended receives (once) why the link ended when the remote end closes or breaks it.
	ended() <-chan error
	// heartbeat is a channel that fires when the sender should call beat (nil: never).
	heartbeat() <-chan time.Time
	// beat writes a keepalive, or reports that the peer stopped answering them.
	beat() error
	// close ends the link and waits for the goroutines it started.
	close()
}

// peer is one destination: a connection (a link, reopened when it breaks) and the queue
// of messages waiting for it. Send encodes into the queue under mu; the sender
// goroutine (run) takes whole chunks, so under load each frame carries everything that
// queued while the previous one was being written.
type peer struct {
	id, addr string
	cfg      *Config
	counters *counters
	log      *slog.Logger
	dialer   dialer
	ctx      context.Context
	cancel   context.CancelFunc
	wake     chan struct{} // capacity 1: the queue went from empty to non-empty

	mu          sync.Mutex
	state       peerState
	queue       []*chunk // FIFO; only the last one is appended to
	queued      int      // messages in queue
	queuedBytes int      // bytes of entries in queue
	spare       []*chunk
}

func (t *Socket) newPeer(id, addr string) (*peer, error) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &peer{
		id: id, addr: addr, cfg: &t.cfg, counters: &t.counters,
		log: t.log.With("peer", id, "addr", addr),
		ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1),
	}
	d, err := t.dialer(p)
	if err != nil {
		cancel()
		return nil, err
	}
	p.dialer = d
	return p, nil
}

// enqueue encodes m at the end of the queue, or drops it and counts why. It never
// blocks on the network: the lock is held only while encoding.
func (p *peer) enqueue(m *wire.Message) {
	p.mu.Lock()
	switch p.state {
	case peerDown:
		p.mu.Unlock()
		p.counters.drop(dropUnreachable, 1)
		return
	case peerStopped:
		p.mu.Unlock()
		p.counters.drop(dropUnknownPeer, 1)
		return
	}
	if p.queued >= p.cfg.QueueLen {
		p.mu.Unlock()
		p.counters.drop(dropQueueFull, 1)
		return
	}
	c := p.tail()
	start := len(c.body)
	c.body = wire.AppendFrameMessage(c.body, *m)
	size := len(c.body) - start
	reason := dropReason(-1)
	switch {
	case wire.FrameHeaderLen(1)+size > p.cfg.MaxFrameBytes:
		reason = dropTooLarge
	case p.queuedBytes+size > p.cfg.QueueBytes:
		reason = dropQueueFull
	}
	if reason >= 0 {
		c.body = c.body[:start]
		if c.n == 0 {
			p.queue = p.queue[:len(p.queue)-1]
			p.recycleLocked(c)
		}
		p.mu.Unlock()
		p.counters.drop(reason, 1)
		return
	}
	if c.n > 0 && wire.FrameHeaderLen(c.n+1)+len(c.body) > p.cfg.MaxFrameBytes {
		// The entry does not fit this frame: move it to a new one.
		next := p.newChunk()
		next.body = append(next.body, c.body[start:]...)
		c.body = c.body[:start]
		p.queue = append(p.queue, next)
		c = next
	}
	c.n++
	p.queued++
	p.queuedBytes += size
	first := p.queued == 1
	p.mu.Unlock()
	if first {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// tail returns the chunk to append to, adding one when the queue is empty.
func (p *peer) tail() *chunk {
	if len(p.queue) == 0 {
		p.queue = append(p.queue, p.newChunk())
	}
	return p.queue[len(p.queue)-1]
}

func (p *peer) newChunk() *chunk {
	if n := len(p.spare); n > 0 {
		c := p.spare[n-1]
		p.spare = p.spare[:n-1]
		return c
	}
	return &chunk{}
}

func (p *peer) recycleLocked(c *chunk) {
	c.body, c.n = c.body[:0], 0
	if cap(c.body) <= maxSpareChunkBytes && len(p.spare) < 2 {
		p.spare = append(p.spare, c)
	}
}

func (p *peer) recycle(c *chunk) {
	p.mu.Lock()
	p.recycleLocked(c)
	p.mu.Unlock()
}

// requeue puts back at the front of the queue a chunk that take returned but that could
// not be sent, unless the peer is down or stopped by now (then it is dropped, counted).
func (p *peer) requeue(c *chunk) {
	p.mu.Lock()
	if p.state == peerDown || p.state == peerStopped {
		n := c.n
		p.recycleLocked(c)
		p.mu.Unlock()
		p.counters.drop(dropUnreachable, n)
		return
	}
	p.queue = append(p.queue, nil)
	copy(p.queue[1:], p.queue)
	p.queue[0] = c
	p.queued += c.n
	p.queuedBytes += len(c.body)
	p.mu.Unlock()
}

// take removes the oldest non-empty chunk from the queue, or returns nil.
func (p *peer) take() *chunk {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) > 0 {
		c := p.queue[0]
		p.queue = append(p.queue[:0], p.queue[1:]...)
		if c.n == 0 {
			p.recycleLocked(c)
			continue
		}
		p.queued -= c.n
		p.queuedBytes -= len(c.body)
		return c
	}
	return nil
}

// setState moves the peer to s (unless it was stopped) and, when Send must no longer
// queue, drops what is queued. It returns the previous state and the number dropped.
func (p *peer) setState(s peerState) (prev peerState, dropped int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev = p.state
	if prev == peerStopped {
		return prev, 0
	}
	p.state = s
	if s == peerDown || s == peerStopped {
		dropped = p.queued
		for _, c := range p.queue {
			p.recycleLocked(c)
		}
		p.queue = p.queue[:0]
		p.queued, p.queuedBytes = 0, 0
	}
	return prev, dropped
}

// stop makes Send drop messages for this peer and ends its sender, which closes the
// connection on its way out. reason counts what was still queued.
func (p *peer) stop(reason dropReason) {
	_, n := p.setState(peerStopped)
	p.counters.drop(reason, n)
	p.cancel()
}

// run is the peer's sender goroutine: it opens a link, writes frames until the
// link breaks, and reconnects with capped exponential backoff, dropping messages
// while the peer is unreachable. It returns when the peer is stopped.
//
// When a link that worked for a while breaks, the peer is most likely restarting:
// for ReconnectGrace the messages keep queueing (bounded as always) while reconnection
// is retried, so that a quick restart loses nothing; only then is the peer down and
// its queue dropped.
func (p *peer) run() {
	defer p.dialer.close()
	backoff := p.cfg.MinBackoff
	var graceUntil time.Time
	for {
		l, err := p.open()
		if err == nil {
			if prev, _ := p.setState(peerUp); prev == peerDown {
				p.log.Info("peer reachable again")
			}
			began := time.Now()
			err = p.writeFrames(l)
			l.close()
			if p.ctx.Err() != nil {
				return
			}
			if time.Since(began) >= p.cfg.MaxBackoff {
				backoff = p.cfg.MinBackoff
				graceUntil = time.Now().Add(p.cfg.ReconnectGrace)
				p.setState(peerConnecting)
				p.log.Debug("connection to peer broke; queueing while reconnecting", "err", err)
			}
		}
		if p.ctx.Err() != nil {
			return
		}
		if time.Now().Before(graceUntil) {
			if !p.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, p.cfg.MaxBackoff)
			continue
		}
		prev, n := p.setState(peerDown)
		p.counters.drop(dropUnreachable, n)
		if prev != peerDown {
			p.log.Warn("peer unreachable; dropping its messages until it is back", "err", err)
		}
		if !p.sleep(backoff) {
			return
		}
		backoff = min(2*backoff, p.cfg.MaxBackoff)
	}
}

// sleep waits for about d (±20%, so that peers do not retry in lockstep) and reports
// false if the peer was stopped meanwhile.
func (p *peer) sleep(d time.Duration) bool {
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// open opens a link, giving up after DialTimeout. The link ends when the peer stops.
func (p *peer) open() (link, error) { return p.dialer.dial(p.ctx, p.cfg.DialTimeout) }

// writeFrames writes queued chunks to the link, one frame each, until the link breaks
// or the peer stops, and returns why.
func (p *peer) writeFrames(l link) error {
	for {
		c := p.take()
		if c == nil {
			select {
			case <-p.wake:
				// Let the goroutines that are ready to run (other shards finishing
				// their turns, readers delivering answers) queue their messages
				// before this frame leaves: under load the frame then carries more,
				// and fewer writes (each a syscall here and a wakeup at the peer) are
				// made. Idle, nothing else is runnable and it returns at once.
				// Measured: 15-20% less CPU per replicated request (BENCHMARKS.md).
				runtime.Gosched()
				continue
			case <-l.heartbeat():
				if err := l.beat(); err != nil {
					return err
				}
				continue
			case err := <-l.ended():
				return endError(err)
			case <-p.ctx.Done():
				return p.ctx.Err()
			}
		}
		n, size := c.n, c.frameLen()
		if err := l.write(c); err != nil {
			// Not sent: back to the front of the queue, for the next link (or dropped
			// and counted if the peer turns out to be down).
			p.requeue(c)
			return err
		}
		p.recycle(c)
		p.counters.sent.Add(uint64(n))
		p.counters.frames.Add(1)
		p.counters.bytes.Add(uint64(size))
		// A queue that never empties must not starve the keepalive: the TCP link's
		// reader declares the peer silent when no answer to a ping arrives for
		// keepaliveTime + keepaliveTimeout, and it is only pinged from here.
		select {
		case <-l.heartbeat():
			if err := l.beat(); err != nil {
				return err
			}
		case err := <-l.ended():
			return endError(err)
		default:
		}
	}
}

// endError describes a link that ended although this side never closed it.
func endError(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return errors.New("the peer closed the connection")
	}
	return err
}
