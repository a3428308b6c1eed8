package transport

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chorusdb/chorus/internal/wire"
)

// memInboxLen caps the messages waiting for one in-memory node; beyond it messages are
// dropped (and counted), as a full GRPC queue drops them.
const memInboxLen = 1 << 16

// Network is an in-memory network for tests and in-process clusters. Nodes join it
// with Join; it delivers messages between them asynchronously and injects faults:
// partitions (two-way and one-way), isolation, random loss, duplication and delay.
// Random choices come from one generator seeded by NewNetwork, so a test that sends
// from one goroutine sees the same losses for the same seed.
//
// Messages go through the wire encoding (encoded on Send, decoded on delivery), so
// receivers get their own copies and every message is checked to survive the codec.
// Fault settings apply to messages sent after they change; messages already in flight
// are delivered. All methods are safe for concurrent use.
type Network struct {
	mu       sync.Mutex
	rng      *rand.Rand
	nodes    map[string]*MemTransport
	cut      map[memLink]bool // one-way cuts, from → to
	isolated map[string]bool
	dropRate float64
	dupRate  float64
	minDelay time.Duration
	maxDelay time.Duration
	closed   bool

	sent, delivered, duplicated                         atomic.Uint64
	droppedPartition, droppedRandom, droppedUnknown     atomic.Uint64
	droppedOverflow, droppedInvalid, droppedAfterClosed atomic.Uint64
}

type memLink struct{ from, to string }

// NetworkStats counts what a Network did with the messages sent on it.
type NetworkStats struct {
	Sent       uint64 // messages passed to Send on any node
	Delivered  uint64 // Handler calls (a duplicated message counts twice)
	Duplicated uint64 // extra copies injected by SetDuplicateRate
	Dropped    MemDropStats
}

// MemDropStats counts messages a Network dropped, by reason.
type MemDropStats struct {
	Partition uint64 // cut by Partition, PartitionOneWay or Isolate
	Random    uint64 // lost by SetDropRate
	Unknown   uint64 // no node with the destination id has joined (or it left)
	Overflow  uint64 // the receiver already had too many messages waiting
	Invalid   uint64 // not a valid message type
	Closed    uint64 // the sender or the network was closed
}

// Total returns the number of dropped messages.
func (d MemDropStats) Total() uint64 {
	return d.Partition + d.Random + d.Unknown + d.Overflow + d.Invalid + d.Closed
}

// NewNetwork returns an empty, fault-free network whose random choices derive from
// seed.
func NewNetwork(seed int64) *Network {
	return &Network{
		rng:      rand.New(rand.NewPCG(uint64(seed), 0x636f727573)),
		nodes:    map[string]*MemTransport{},
		cut:      map[memLink]bool{},
		isolated: map[string]bool{},
	}
}

// Join attaches a node with the given id, whose incoming messages go to h, and
// returns its transport. The id must not belong to a node that joined and has not
// been closed (Join panics then); closing a node and joining again under the same id
// models a restart. Joining a closed network returns a transport that drops
// everything.
func (n *Network) Join(id string, h Handler) *MemTransport {
	t := &MemTransport{
		net: n, id: id, handler: h,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		t.closed.Store(true)
		t.closeOnce.Do(func() {}) // born closed: Close has nothing to do
		return t
	}
	if _, ok := n.nodes[id]; ok {
		panic(fmt.Sprintf("transport: node %q joined the network twice", id))
	}
	n.nodes[id] = t
	go t.deliverLoop()
	return t
}

// Partition cuts the links between a and b in both directions.
func (n *Network) Partition(a, b string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[memLink{a, b}] = true
	n.cut[memLink{b, a}] = true
}

// PartitionOneWay cuts the link from → to only; messages to → from still pass.
func (n *Network) PartitionOneWay(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[memLink{from, to}] = true
}

// Isolate cuts every link to and from id.
func (n *Network) Isolate(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.isolated[id] = true
}

// HealAll removes every partition and isolation. Loss, duplication and delay stay as
// set.
func (n *Network) HealAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cut)
	clear(n.isolated)
}

// SetDropRate makes every message be lost with probability p (clamped to [0, 1]).
func (n *Network) SetDropRate(p float64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dropRate = clamp01(p)
}

// SetDuplicateRate makes every message be delivered twice with probability p (clamped
// to [0, 1]); each copy gets its own delay.
func (n *Network) SetDuplicateRate(p float64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dupRate = clamp01(p)
}

// SetDelay delays every message by a uniform random duration in [min, max]. With a
// nonzero spread messages on one link may be reordered; with min == max == 0 (the
// default) each link delivers in order. Negative values count as 0 and a max below
// min as min.
func (n *Network) SetDelay(min, max time.Duration) {
	min = maxDuration(min, 0)
	max = maxDuration(max, min)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.minDelay, n.maxDelay = min, max
}

// Stats returns the network's counters.
func (n *Network) Stats() NetworkStats {
	return NetworkStats{
		Sent: n.sent.Load(), Delivered: n.delivered.Load(), Duplicated: n.duplicated.Load(),
		Dropped: MemDropStats{
			Partition: n.droppedPartition.Load(), Random: n.droppedRandom.Load(), Unknown: n.droppedUnknown.Load(),
			Overflow: n.droppedOverflow.Load(), Invalid: n.droppedInvalid.Load(), Closed: n.droppedAfterClosed.Load(),
		},
	}
}

// Close closes every node's transport; later Joins get closed transports.
func (n *Network) Close() error {
	n.mu.Lock()
	n.closed = true
	nodes := make([]*MemTransport, 0, len(n.nodes))
	for _, t := range n.nodes {
		nodes = append(nodes, t)
	}
	n.mu.Unlock()
	for _, t := range nodes {
		t.Close()
	}
	return nil
}

// route decides the fate of one encoded message and queues its copies at the
// receiver. Taking the time under n.mu keeps delivery times in send order, so a link
// without delay is FIFO.
func (n *Network) route(from, to string, buf []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	dst := n.nodes[to]
	switch {
	case dst == nil:
		n.droppedUnknown.Add(1)
		return
	case n.cut[memLink{from, to}] || n.isolated[from] || n.isolated[to]:
		n.droppedPartition.Add(1)
		return
	case n.dropRate > 0 && n.rng.Float64() < n.dropRate:
		n.droppedRandom.Add(1)
		return
	}
	copies := 1
	if n.dupRate > 0 && n.rng.Float64() < n.dupRate {
		copies = 2
		n.duplicated.Add(1)
	}
	now := time.Now()
	for range copies {
		delay := n.minDelay
		if spread := n.maxDelay - n.minDelay; spread > 0 {
			delay += time.Duration(n.rng.Int64N(int64(spread) + 1))
		}
		if !dst.push(now.Add(delay), buf) {
			n.droppedOverflow.Add(1)
		}
	}
}

// MemTransport is one node's Transport on a Network. Send encodes the messages and
// returns at once; a goroutine of the receiving node decodes them and calls its
// Handler, one message at a time, at their delivery time. SetPeers is a no-op:
// messages are routed by node id.
type MemTransport struct {
	net     *Network
	id      string
	handler Handler

	mu    sync.Mutex
	inbox memInbox
	seq   uint64

	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
}

var _ Transport = (*MemTransport)(nil)

// ID returns the node id the transport joined with.
func (t *MemTransport) ID() string { return t.id }

// Send routes each message to the node named by its To field (From defaults to this
// node's id). It never blocks and never calls a Handler itself.
func (t *MemTransport) Send(msgs ...wire.Message) {
	n := t.net
	n.sent.Add(uint64(len(msgs)))
	if t.closed.Load() {
		n.droppedAfterClosed.Add(uint64(len(msgs)))
		return
	}
	for _, m := range msgs {
		if !m.Type.Valid() {
			n.droppedInvalid.Add(1)
			continue
		}
		if m.From == "" {
			m.From = t.id
		}
		n.route(t.id, m.To, wire.Append(nil, m))
	}
}

// SetPeers does nothing: the network routes by node id.
func (t *MemTransport) SetPeers(map[string]string) {}

// Close leaves the network: messages to this node are dropped from now on, and those
// waiting are discarded. It waits for a running Handler call to return, so it must
// not be called from the Handler. It is idempotent.
func (t *MemTransport) Close() error {
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		n := t.net
		n.mu.Lock()
		if n.nodes[t.id] == t {
			delete(n.nodes, t.id)
		}
		n.mu.Unlock()
		close(t.stop)
		<-t.done
	})
	return nil
}

// push queues a message for delivery at the given time; false if the inbox is full.
func (t *MemTransport) push(at time.Time, buf []byte) bool {
	t.mu.Lock()
	if len(t.inbox) >= memInboxLen {
		t.mu.Unlock()
		return false
	}
	t.seq++
	heap.Push(&t.inbox, memDelivery{at: at, seq: t.seq, buf: buf})
	t.mu.Unlock()
	// Wake the loop even if it is busy or waiting for a later message: this one may be
	// due earlier.
	select {
	case t.wake <- struct{}{}:
	default:
	}
	return true
}

// next pops the first message that is due, or returns how long until one is (0 when
// the inbox is empty).
func (t *MemTransport) next() (buf []byte, wait time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.inbox) == 0 {
		return nil, 0
	}
	if wait := time.Until(t.inbox[0].at); wait > 0 {
		return nil, wait
	}
	return heap.Pop(&t.inbox).(memDelivery).buf, 0
}

func (t *MemTransport) deliverLoop() {
	defer close(t.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		buf, wait := t.next()
		if buf != nil {
			select {
			case <-t.stop:
				return
			default:
			}
			m, err := wire.Decode(buf)
			if err != nil {
				panic(fmt.Sprintf("transport: in-memory message failed to decode: %v", err))
			}
			t.net.delivered.Add(1)
			t.handler(m)
			continue
		}
		var due <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			due = timer.C
		}
		select {
		case <-t.wake:
		case <-due:
		case <-t.stop:
			return
		}
		timer.Stop()
	}
}

// memDelivery is a message waiting in an inbox until its delivery time.
type memDelivery struct {
	at  time.Time
	seq uint64 // breaks ties in arrival order
	buf []byte
}

// memInbox is a min-heap of deliveries by (time, arrival).
type memInbox []memDelivery

func (h memInbox) Len() int { return len(h) }
func (h memInbox) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h memInbox) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *memInbox) Push(x any)   { *h = append(*h, x.(memDelivery)) }
func (h *memInbox) Pop() any {
	old := *h
	d := old[len(old)-1]
	*h = old[:len(old)-1]
	return d
}

func clamp01(p float64) float64 {
	if p != p || p < 0 { // NaN or negative
		return 0
	}
	if p > 1 {
		return 1
	}
	return p
}

func maxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}
