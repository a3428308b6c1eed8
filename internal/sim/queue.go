package sim

import "container/heap"

// evKind says what an event does.
type evKind uint8

const (
	evDeliver       evKind = iota + 1 // a message arrives at node
	evFlushed                         // node's batch is durable
	evTick                            // node's ticker fires
	evView                            // node's failure detector refreshes its view
	evInvoke                          // client node issues its next operation
	evClientTimeout                   // a client gives up on op
	evCall                            // run fn (faults starting and ending, checks)
)

// event is one entry of the queue. Fields a kind does not use are zero.
type event struct {
	at   int64  // virtual µs
	tie  uint64 // seeded tie-break among events at the same time
	seq  uint64 // insertion order: a total order even if two tie-breaks collide
	kind evKind
	node int    // the node; for evInvoke, the client
	from int    // evDeliver: the sender
	gen  uint64 // the node incarnation the event belongs to
	data []byte // evDeliver: the encoded message
	op   *Op
	fn   func()
	name string // evCall: what fn does, for the trace
}

// eventQueue is a min-heap of events by (at, tie, seq).
type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	a, b := q[i], q[j]
	if a.at != b.at {
		return a.at < b.at
	}
	if a.tie != b.tie {
		return a.tie < b.tie
	}
	return a.seq < b.seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

// schedule queues e at virtual time at (never before now).
func (s *simulation) schedule(at int64, e *event) {
	e.at = max(at, s.now)
	e.tie = s.rTie.Uint64()
	s.seq++
	e.seq = s.seq
	heap.Push(&s.queue, e)
}

// after runs fn d µs from now; name labels it in the trace.
func (s *simulation) after(d int64, name string, fn func()) {
	s.schedule(s.now+d, &event{kind: evCall, fn: fn, name: name})
}

func (s *simulation) next() *event { return heap.Pop(&s.queue).(*event) }
