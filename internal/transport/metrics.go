package transport

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// dropReason says why a message was not sent.
type dropReason int

// The reasons a message is dropped; each is a value of the reason label of
// chorus_transport_messages_dropped_total.
const (
	dropQueueFull   dropReason = iota // the peer's queue is at QueueLen messages or QueueBytes
	dropUnknownPeer                   // no address for the message's To (or the peer was just removed)
	dropUnreachable                   // the peer's stream is down, or broke with the message in it
	dropTooLarge                      // the message alone exceeds MaxFrameBytes
	dropInvalid                       // the message's Type is not a valid wire.Type
	dropClosed                        // Send after Close, or queued when Close was called
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{
	dropQueueFull:   "queue_full",
	dropUnknownPeer: "unknown_peer",
	dropUnreachable: "unreachable",
	dropTooLarge:    "too_large",
	dropInvalid:     "invalid",
	dropClosed:      "closed",
}

// Stats are a GRPC transport's counters since it started. They are the values behind
// its Prometheus metrics.
type Stats struct {
	MessagesSent     uint64 // messages in frames written to a stream
	FramesSent       uint64 // frames written to a stream
	BytesSent        uint64 // bytes of those frames
	MessagesReceived uint64 // messages decoded from peers and passed to the Handler
	FramesRejected   uint64 // received frames that did not decode; each closed its stream
	Dropped          DropStats
}

// DropStats counts messages that Send did not deliver, by reason.
type DropStats struct {
	QueueFull   uint64 // the peer's queue was full (QueueLen or QueueBytes)
	UnknownPeer uint64 // no address for the destination
	Unreachable uint64 // the peer's stream was down or broke
	TooLarge    uint64 // larger than MaxFrameBytes on its own
	Invalid     uint64 // not a valid message type
	Closed      uint64 // the transport was closed
}

// Total returns the number of dropped messages.
func (d DropStats) Total() uint64 {
	return d.QueueFull + d.UnknownPeer + d.Unreachable + d.TooLarge + d.Invalid + d.Closed
}

// counters are updated on the hot paths with atomics; Prometheus reads them through
// CounterFuncs, so an unregistered transport pays nothing more.
type counters struct {
	sent, frames, bytes, received, rejected atomic.Uint64
	dropped                                 [numDropReasons]atomic.Uint64
}

func (c *counters) drop(r dropReason, n int) { c.dropped[r].Add(uint64(n)) }

func (c *counters) stats() Stats {
	d := func(r dropReason) uint64 { return c.dropped[r].Load() }
	return Stats{
		MessagesSent:     c.sent.Load(),
		FramesSent:       c.frames.Load(),
		BytesSent:        c.bytes.Load(),
		MessagesReceived: c.received.Load(),
		FramesRejected:   c.rejected.Load(),
		Dropped: DropStats{
			QueueFull: d(dropQueueFull), UnknownPeer: d(dropUnknownPeer), Unreachable: d(dropUnreachable),
			TooLarge: d(dropTooLarge), Invalid: d(dropInvalid), Closed: d(dropClosed),
		},
	}
}

// register exposes the counters as chorus_transport_* metrics and returns a function
// that unregisters them. On error nothing stays registered.
func (c *counters) register(reg prometheus.Registerer) (unregister func(), err error) {
	if reg == nil {
		return func() {}, nil
	}
	counter := func(name, help string, v *atomic.Uint64, labels prometheus.Labels) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "chorus", Subsystem: "transport", Name: name, Help: help, ConstLabels: labels,
		}, func() float64 { return float64(v.Load()) })
	}
	cs := []prometheus.Collector{
		counter("messages_sent_total", "Messages written to peer streams.", &c.sent, nil),
		counter("frames_sent_total", "Frames (batches of messages) written to peer streams.", &c.frames, nil),
		counter("bytes_sent_total", "Bytes of frames written to peer streams.", &c.bytes, nil),
		counter("messages_received_total", "Messages received from peers and handed to the node.", &c.received, nil),
		counter("frames_rejected_total", "Received frames that did not decode; each closed its stream.", &c.rejected, nil),
	}
	for r := range numDropReasons {
		cs = append(cs, counter("messages_dropped_total", "Messages not sent, by reason.",
			&c.dropped[r], prometheus.Labels{"reason": dropReasonNames[r]}))
	}
	var errs []error
	var done []prometheus.Collector
	for _, col := range cs {
		if err := reg.Register(col); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, col)
	}
	unregister = func() {
		for _, col := range done {
			reg.Unregister(col)
		}
	}
	if err := errors.Join(errs...); err != nil {
		unregister()
		return nil, fmt.Errorf("transport: registering metrics: %w", err)
	}
	return unregister, nil
}
