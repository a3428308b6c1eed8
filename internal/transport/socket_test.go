package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/chorusdb/chorus/internal/wire"
)

// sendWindowed sends n messages from src to dst's id, keeping at most window of them
// unacknowledged by received() so that no queue overflows: Send never blocks, so a
// sender that wants no loss must pace itself like this.
func sendWindowed(src Transport, to string, n, window int, received func() int) {
	for i := 0; i < n; i++ {
		for i-received() >= window {
			time.Sleep(50 * time.Microsecond)
		}
		src.Send(putReq(to, uint64(i)))
	}
}

func TestSocketExchange100kInOrder(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto Protocol) {
		const n = 100_000
		recvA, recvB := newRecorder(), newRecorder()
		a := newTestSocket(t, proto, "a", recvA.handle, nil)
		b := newTestSocket(t, proto, "b", recvB.handle, nil)
		a.SetPeers(map[string]string{"b": b.Addr().String()})
		b.SetPeers(map[string]string{"a": a.Addr().String()})

		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); sendWindowed(a, "b", n, 20_000, recvB.n) }()
		go func() { defer wg.Done(); sendWindowed(b, "a", n, 20_000, recvA.n) }()
		wg.Wait()
		waitFor(t, 60*time.Second, "100k messages each way",
			func() bool { return recvA.n() == n && recvB.n() == n }, nil)
		recvA.checkOrdered(t, true)
		recvB.checkOrdered(t, true)

		for name, g := range map[string]*Socket{"a": a, "b": b} {
			s := g.Stats()
			t.Logf("%s: %d messages in %d frames (%.1f messages/frame), %d bytes, dropped %+v",
				name, s.MessagesSent, s.FramesSent, float64(s.MessagesSent)/float64(s.FramesSent), s.BytesSent, s.Dropped)
			if s.MessagesSent != n || s.MessagesReceived != n || s.Dropped.Total() != 0 {
				t.Errorf("%s: stats %+v", name, s)
			}
			if s.FramesSent >= s.MessagesSent {
				t.Errorf("%s: %d frames for %d messages: no batching under load", name, s.FramesSent, s.MessagesSent)
			}
		}
	})
}

// TestSocketBatchesUnderLoad stalls the receiver so that messages pile up behind a
// frame in flight, and checks that they then leave in few, large frames. Each message
// carries 1 KiB, so that the 20 MB sent are more than the loopback socket buffers
// hold: the writer then really waits on the stalled receiver (with 100-byte messages a
// TCP connection's buffers took them all, and how many left per frame depended only on
// how fast the sender ran).
func TestSocketBatchesUnderLoad(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto Protocol) {
		const n = 20_000
		value := bytes.Repeat([]byte("v"), 1024)
		release := make(chan struct{})
		var got atomic.Int64
		b := newTestSocket(t, proto, "b", func(wire.Message) {
			<-release
			got.Add(1)
		}, nil)
		a := newTestSocket(t, proto, "a", func(wire.Message) {}, nil)
		a.SetPeers(map[string]string{"b": b.Addr().String()})
		for i := range uint64(n) {
			m := putReq("b", i)
			m.Object.Siblings[0].Value = value
			a.Send(m)
		}
		close(release)
		waitFor(t, 30*time.Second, "delivery", func() bool { return got.Load() == n }, nil)
		s := a.Stats()
		t.Logf("%d messages in %d frames", s.MessagesSent, s.FramesSent)
		if s.MessagesSent != n || s.FramesSent > n/50 {
			t.Fatalf("%d messages in %d frames, want at least 50 messages per frame", s.MessagesSent, s.FramesSent)
		}
	})
}

func TestSocketDownPeerDropsThenReconnects(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto Protocol) {
		recvB := newRecorder()
		b := newTestSocket(t, proto, "b", recvB.handle, nil)
		addr := b.Addr().String()
		a := newTestSocket(t, proto, "a", func(wire.Message) {}, nil)
		a.SetPeers(map[string]string{"b": addr})

		var id uint64
		send := func() { a.Send(putReq("b", id)); id++ }
		waitFor(t, 10*time.Second, "first delivery", func() bool { return recvB.n() > 0 }, send)

		// b goes away: a notices without having to send, drops instead of queueing, and
		// never blocks.
		b.Close()
		waitFor(t, 10*time.Second, "a to see b down while idle", func() bool { return stateOf(a, "b") == peerDown }, nil)
		waitFor(t, 10*time.Second, "drops for the dead peer",
			func() bool { return a.Stats().Dropped.Unreachable > 0 }, send)
		start := time.Now()
		for range 100_000 {
			send()
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("100k Sends to a dead peer took %v", d)
		}
		p := (*a.peers.Load())["b"]
		p.mu.Lock()
		queued, queuedBytes := p.queued, p.queuedBytes
		p.mu.Unlock()
		if queued != 0 || queuedBytes != 0 {
			t.Fatalf("a dead peer holds %d queued messages (%d bytes)", queued, queuedBytes)
		}

		// b comes back on the same address: messages flow again, in order.
		recvB2 := newRecorder()
		lis := listenRetry(t, addr)
		newTestSocket(t, proto, "b", recvB2.handle, func(c *Config) { c.Listener = lis })
		waitFor(t, 10*time.Second, "delivery after reconnect", func() bool { return recvB2.n() > 0 }, send)
		for range 1000 {
			send()
		}
		last := id - 1
		waitFor(t, 10*time.Second, "the last of 1000 more messages", func() bool { return recvB2.lastMessage().ID == last }, nil)
		recvB2.checkOrdered(t, true)
		t.Logf("stats of a: %+v", a.Stats())
	})
}

// stateOf returns the state of g's peer id.
func stateOf(g *Socket, id string) peerState {
	p := (*g.peers.Load())[id]
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// listenRetry listens on addr again, retrying briefly while the old socket lets go.
func listenRetry(t *testing.T, addr string) net.Listener {
	t.Helper()
	var lis net.Listener
	var err error
	waitFor(t, 5*time.Second, "listening on "+addr, func() bool {
		lis, err = net.Listen("tcp", addr)
		return err == nil
	}, nil)
	return lis
}

// TestTCPRefusesGarbageAndKeepsServing: connections that are not Chorus peers, or that
// send frames that do not decode, are closed and counted; a good peer is undisturbed.
func TestTCPRefusesGarbageAndKeepsServing(t *testing.T) {
	recvB := newRecorder()
	b := newTestSocket(t, ProtocolTCP, "b", recvB.handle, nil)
	a := newTestSocket(t, ProtocolTCP, "a", func(wire.Message) {}, nil)
	a.SetPeers(map[string]string{"b": b.Addr().String()})
	var id uint64
	send := func() { a.Send(putReq("b", id)); id++ }
	waitFor(t, 10*time.Second, "delivery", func() bool { return recvB.n() > 0 }, send)

	framed := func(frame []byte) []byte {
		return append(binary.BigEndian.AppendUint32([]byte(tcpPreface), uint32(len(frame))), frame...)
	}
	bad := map[string][]byte{
		"http":           []byte("GET / HTTP/1.0\r\n\r\n\x00\x01\x02 garbage garbage garbage"),
		"grpc preface":   []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
		"garbage frame":  framed([]byte("this is not a frame")),
		"huge count":     framed([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}),
		"invalid type":   framed(wire.AppendFrame(nil, []wire.Message{{Type: wire.TypeInvalid, To: "b"}})),
		"truncated body": framed(wire.AppendFrame(nil, []wire.Message{putReq("b", 1)})[:20]),
		"too large":      binary.BigEndian.AppendUint32([]byte(tcpPreface), DefaultMaxFrameBytes+1),
	}
	for name, b0 := range bad {
		raw, err := net.Dial("tcp", b.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = raw.Write(b0)
		_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(raw) // until the server hangs up
		raw.Close()
		if err != nil || len(got) != 0 {
			t.Fatalf("%s: the server answered %q, %v; want it to hang up", name, got, err)
		}
	}
	if got := b.Stats().FramesRejected; got != uint64(len(bad)) {
		t.Fatalf("FramesRejected = %d, want %d", got, len(bad))
	}
	before := recvB.n()
	waitFor(t, 10*time.Second, "delivery after garbage", func() bool { return recvB.n() > before+10 }, send)
	recvB.checkOrdered(t, true)
}

// TestTCPAndGRPCNodesRefuseEachOther: a node started with the other protocol never
// counts as reachable, so a misconfigured cluster shows its peers down.
func TestTCPAndGRPCNodesRefuseEachOther(t *testing.T) {
	recvT, recvG := newRecorder(), newRecorder()
	tn := newTestSocket(t, ProtocolTCP, "t", recvT.handle, nil)
	gn := newTestSocket(t, ProtocolGRPC, "g", recvG.handle, nil)
	tn.SetPeers(map[string]string{"g": gn.Addr().String()})
	gn.SetPeers(map[string]string{"t": tn.Addr().String()})
	waitFor(t, 10*time.Second, "both to find the other down", func() bool {
		return stateOf(tn, "g") == peerDown && stateOf(gn, "t") == peerDown
	}, func() { tn.Send(putReq("g", 1)); gn.Send(putReq("t", 1)) })
	if recvT.n()+recvG.n() != 0 {
		t.Fatalf("messages crossed protocols")
	}
	if tn.Stats().FramesRejected == 0 {
		t.Fatalf("the TCP node did not count the gRPC node's connection as refused")
	}
}

func TestGRPCRefusesGarbageAndKeepsServing(t *testing.T) {
	recvB := newRecorder()
	b := newTestSocket(t, ProtocolGRPC, "b", recvB.handle, nil)
	a := newTestSocket(t, ProtocolGRPC, "a", func(wire.Message) {}, nil)
	a.SetPeers(map[string]string{"b": b.Addr().String()})
	var id uint64
	send := func() { a.Send(putReq("b", id)); id++ }
	waitFor(t, 10*time.Second, "delivery", func() bool { return recvB.n() > 0 }, send)

	// A gRPC client that speaks the protocol but sends frames that do not decode.
	conn, err := grpc.NewClient(b.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(frameCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	bad := map[string][]byte{
		"garbage":        []byte("this is not a frame"),
		"huge count":     {0xff, 0xff, 0xff, 0xff, 0x0f},
		"invalid type":   wire.AppendFrame(nil, []wire.Message{{Type: wire.TypeInvalid, To: "b"}}),
		"truncated body": wire.AppendFrame(nil, []wire.Message{putReq("b", 1)})[:20],
	}
	for name, frame := range bad {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		stream, err := conn.NewStream(ctx, &framesStreamDesc, fullMethod)
		if err != nil {
			t.Fatal(err)
		}
		_ = stream.SendMsg(frame)
		err = stream.RecvMsg(&streamEnd{})
		cancel()
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("%s: stream ended with %v, want InvalidArgument", name, err)
		}
	}
	if got := b.Stats().FramesRejected; got != uint64(len(bad)) {
		t.Fatalf("FramesRejected = %d, want %d", got, len(bad))
	}

	// Bytes that are not even HTTP/2.
	raw, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = raw.Write([]byte("GET / HTTP/1.0\r\n\r\n\x00\x01\x02 garbage garbage garbage"))
	_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.Copy(io.Discard, raw) // until the server hangs up
	raw.Close()

	// The well-behaved peer was never disturbed and still gets through.
	before := recvB.n()
	waitFor(t, 10*time.Second, "delivery after garbage", func() bool { return recvB.n() > before+10 }, send)
	recvB.checkOrdered(t, true)
}

func TestSocketSetPeersChangesAndRemoves(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto Protocol) {
		recv1, recv2 := newRecorder(), newRecorder()
		b1 := newTestSocket(t, proto, "b", recv1.handle, nil)
		b2 := newTestSocket(t, proto, "b", recv2.handle, nil)
		a := newTestSocket(t, proto, "a", func(wire.Message) {}, nil)

		var id uint64
		send := func() { a.Send(putReq("b", id)); id++ }
		a.SetPeers(map[string]string{"b": b1.Addr().String()})
		waitFor(t, 10*time.Second, "delivery to the first address", func() bool { return recv1.n() > 0 }, send)

		a.SetPeers(map[string]string{"b": b2.Addr().String()})
		waitFor(t, 10*time.Second, "delivery to the new address", func() bool { return recv2.n() > 0 }, send)
		n1 := recv1.n()

		a.SetPeers(map[string]string{"b": b2.Addr().String()}) // unchanged: same connection
		a.SetPeers(nil)
		dropped := a.Stats().Dropped.UnknownPeer
		send()
		if a.Stats().Dropped.UnknownPeer != dropped+1 {
			t.Fatalf("a message to a removed peer was not dropped as unknown")
		}
		if recv1.n() != n1 {
			t.Fatalf("the old address kept receiving after the address changed")
		}
	})
}

func TestSocketDropsTooLargeAndFullQueue(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto Protocol) {
		release := make(chan struct{})
		stalled := make(chan struct{}, 1)
		b := newTestSocket(t, proto, "b", func(wire.Message) {
			select {
			case stalled <- struct{}{}:
			default:
			}
			<-release
		}, func(c *Config) { c.MaxFrameBytes = 1024 })
		a := newTestSocket(t, proto, "a", func(wire.Message) {}, func(c *Config) { c.MaxFrameBytes = 1024; c.QueueLen = 100 })
		a.SetPeers(map[string]string{"b": b.Addr().String()})
		defer close(release)

		big := putReq("b", 0)
		big.Object.Siblings[0].Value = make([]byte, 2000)
		a.Send(big)
		if s := a.Stats(); s.Dropped.TooLarge != 1 {
			t.Fatalf("oversized message: %+v", s.Dropped)
		}
		// With b's Handler stalled and small frames, a's sender falls behind: once the
		// queue holds QueueLen messages, Send drops instead of blocking.
		a.Send(putReq("b", 1))
		<-stalled
		start := time.Now()
		for i := uint64(2); a.Stats().Dropped.QueueFull == 0; i++ {
			if time.Since(start) > 20*time.Second {
				t.Fatalf("queue never filled: %+v", a.Stats())
			}
			a.Send(putReq("b", i))
		}
		p := (*a.peers.Load())["b"]
		p.mu.Lock()
		queued := p.queued
		p.mu.Unlock()
		if queued > 100 {
			t.Fatalf("%d messages queued, over QueueLen", queued)
		}
		t.Logf("queue full after %v; a: %+v", time.Since(start), a.Stats())
	})
}

func TestSocketFramesRespectMaxFrameBytes(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto Protocol) {
		recvB := newRecorder()
		b := newTestSocket(t, proto, "b", recvB.handle, func(c *Config) { c.MaxFrameBytes = 1000 })
		a := newTestSocket(t, proto, "a", func(wire.Message) {}, func(c *Config) { c.MaxFrameBytes = 1000 })
		a.SetPeers(map[string]string{"b": b.Addr().String()})
		const n = 5000
		for i := range uint64(n) {
			a.Send(putReq("b", i))
		}
		waitFor(t, 20*time.Second, "delivery", func() bool { return recvB.n() == n }, nil)
		recvB.checkOrdered(t, true)
		s := a.Stats()
		if s.FramesSent < n*100/1000 || s.BytesSent > s.FramesSent*1000 {
			t.Fatalf("frames over the limit: %+v", s)
		}
		if b.Stats().FramesRejected != 0 {
			t.Fatalf("the receiver rejected frames")
		}
	})
}

func TestConfigErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, err = New(Config{NodeID: "a", ListenAddr: taken.Addr().String(), Handler: func(wire.Message) {}})
	if err == nil || !strings.Contains(err.Error(), "cannot listen") || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Fatalf("port taken: err = %v", err)
	}

	err = Config{QueueLen: -1, MinBackoff: time.Second, MaxBackoff: time.Millisecond}.Validate()
	for _, want := range []string{"NodeID", "Handler", "Listener", "QueueLen", "MinBackoff"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want a problem about %s", err, want)
		}
	}
}

func TestSocketMetrics(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto Protocol) {
		reg := prometheus.NewRegistry()
		recvB := newRecorder()
		b := newTestSocket(t, proto, "b", recvB.handle, nil)
		a := newTestSocket(t, proto, "a", func(wire.Message) {}, func(c *Config) { c.Registerer = reg })
		a.SetPeers(map[string]string{"b": b.Addr().String()})
		for i := range uint64(10) {
			a.Send(putReq("b", i))
		}
		a.Send(putReq("nobody", 0))
		waitFor(t, 10*time.Second, "delivery", func() bool { return recvB.n() == 10 }, nil)
		waitFor(t, 10*time.Second, "sent count", func() bool { return a.Stats().MessagesSent == 10 }, nil)

		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		values := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				name := mf.GetName()
				for _, l := range m.GetLabel() {
					name += "{" + l.GetName() + "=" + l.GetValue() + "}"
				}
				values[name] = m.GetCounter().GetValue()
			}
		}
		for name, want := range map[string]float64{
			"chorus_transport_messages_sent_total":                         10,
			"chorus_transport_messages_dropped_total{reason=unknown_peer}": 1,
			"chorus_transport_messages_dropped_total{reason=queue_full}":   0,
			"chorus_transport_messages_received_total":                     0,
		} {
			if got, ok := values[name]; !ok || got != want {
				t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
			}
		}
		for _, name := range []string{"chorus_transport_frames_sent_total", "chorus_transport_bytes_sent_total"} {
			if values[name] <= 0 {
				t.Errorf("%s = %v", name, values[name])
			}
		}

		// A second transport on the same registry is refused; after Close it is accepted.
		if _, err := New(Config{NodeID: "c", ListenAddr: "127.0.0.1:0", Handler: func(wire.Message) {}, Registerer: reg}); err == nil {
			t.Fatal("duplicate metrics registration accepted")
		}
		a.Close()
		c := newTestSocket(t, proto, "c", func(wire.Message) {}, func(cfg *Config) { cfg.Registerer = reg })
		c.Close()
	})
}

func TestSocketCloseLeavesNoGoroutines(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto Protocol) {
		before := runtime.NumGoroutine()
		recvA, recvB := newRecorder(), newRecorder()
		a := newTestSocket(t, proto, "a", recvA.handle, nil)
		b := newTestSocket(t, proto, "b", recvB.handle, nil)
		a.SetPeers(map[string]string{"b": b.Addr().String(), "dead": "127.0.0.1:1"})
		b.SetPeers(map[string]string{"a": a.Addr().String()})
		for i := range uint64(1000) {
			a.Send(putReq("b", i), putReq("dead", i))
			b.Send(putReq("a", i))
		}
		waitFor(t, 10*time.Second, "delivery", func() bool { return recvA.n() == 1000 && recvB.n() == 1000 }, nil)
		a.SetPeers(map[string]string{"b": b.Addr().String()}) // stops "dead"'s sender
		var wg sync.WaitGroup
		for _, g := range []*Socket{a, b, a} { // concurrently, and twice
			wg.Add(1)
			go func() { defer wg.Done(); g.Close() }()
		}
		wg.Wait()
		if err := waitGoroutines(before, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSocketCloseWhileStalled closes a transport whose peer's Handler is blocked and
// whose sender is blocked in flow control: Close must still return.
func TestSocketCloseWhileStalled(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto Protocol) {
		release := make(chan struct{})
		b := newTestSocket(t, proto, "b", func(wire.Message) { <-release }, nil)
		a := newTestSocket(t, proto, "a", func(wire.Message) {}, nil)
		a.SetPeers(map[string]string{"b": b.Addr().String()})
		for i := range uint64(50_000) {
			a.Send(putReq("b", i))
		}
		done := make(chan struct{})
		start := time.Now()
		go func() { a.Close(); t.Logf("a closed in %v", time.Since(start)); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Close of the sender hung while its peer was stalled")
		}
		close(release)
		start = time.Now()
		b.Close()
		t.Logf("a closed; b closed in %v", time.Since(start))
	})
}

func TestFrameCodec(t *testing.T) {
	c := &chunk{}
	msgs := []wire.Message{putReq("b", 1), putReq("b", 2)}
	for _, m := range msgs {
		c.body = wire.AppendFrameMessage(c.body, m)
		c.n++
	}
	data, err := frameCodec{}.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := wire.AppendFrame(nil, msgs)
	var f inFrame
	if err := (frameCodec{}).Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if string(f.buf.ReadOnlyData()) != string(want) {
		t.Fatalf("frame bytes differ")
	}
	f.buf.Free()
	data.Free()
	if _, err := (frameCodec{}).Marshal(42); err == nil {
		t.Fatal("marshaled an int")
	}
	if err := (frameCodec{}).Unmarshal(nil, new(int)); err == nil {
		t.Fatal("unmarshaled into an int")
	}
	if !errors.Is(wire.DecodeFrame(want[:5], func(wire.Message) error { return nil }), wire.ErrMalformed) {
		t.Fatal("truncated frame accepted")
	}
}

// BenchmarkSocketSend measures one-way throughput of ~100-byte PutReqs between two
// transports on loopback, with at most `window` messages in flight so that nothing is
// dropped. It reports messages/s and how many messages each frame carried.
func BenchmarkSocketSend(b *testing.B) {
	for _, c := range benchCases() {
		proto, window := c.proto, c.window
		b.Run(fmt.Sprintf("%v/window=%d", proto, window), func(b *testing.B) {
			var got atomic.Int64
			dst := newTestSocket(b, proto, "b", func(wire.Message) { got.Add(1) }, nil)
			src := newTestSocket(b, proto, "a", func(wire.Message) {}, nil)
			src.SetPeers(map[string]string{"b": dst.Addr().String()})
			src.Send(putReq("b", 0))
			waitFor(b, 10*time.Second, "connection", func() bool { return got.Load() == 1 }, nil)
			got.Store(0)
			before := src.Stats()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			sendWindowed(src, "b", b.N, window, func() int { return int(got.Load()) })
			waitFor(b, time.Minute, "delivery", func() bool { return got.Load() == int64(b.N) }, nil)
			elapsed := time.Since(start)
			b.StopTimer()
			s := src.Stats()
			frames := s.FramesSent - before.FramesSent
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(float64(b.N)/float64(frames), "msgs/frame")
			if s.Dropped.Total() != 0 {
				b.Fatalf("dropped %+v", s.Dropped)
			}
		})
	}
}

type benchCase struct {
	proto  Protocol
	window int
}

func benchCases() []benchCase {
	var cs []benchCase
	for _, proto := range protocols {
		for _, window := range []int{1, 100, 10_000} {
			cs = append(cs, benchCase{proto, window})
		}
	}
	return cs
}

// TestSocketQuickRestartLosesNothing: a peer whose working stream breaks and that is
// back within ReconnectGrace (a restart) is never declared unreachable: what is sent
// meanwhile queues and arrives, in order. (Frames already written into the dead
// connection before the sender noticed the break may be lost with it; that is TCP's
// part, and no drop is counted for them.)
func TestSocketQuickRestartLosesNothing(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto Protocol) {
		recvB := newRecorder()
		b := newTestSocket(t, proto, "b", recvB.handle, nil)
		addr := b.Addr().String()
		// A grace far longer than the restart, so that a slow (loaded, race-instrumented)
		// machine still restarts within it.
		a := newTestSocket(t, proto, "a", func(wire.Message) {}, func(c *Config) { c.ReconnectGrace = time.Minute })
		a.SetPeers(map[string]string{"b": addr})
		var id uint64
		send := func() { a.Send(putReq("b", id)); id++ }
		waitFor(t, 10*time.Second, "first delivery", func() bool { return recvB.n() > 0 }, send)
		time.Sleep(300 * time.Millisecond) // the stream has worked longer than MaxBackoff
		b.Close()
		for range 100 {
			send()
		}
		recvB2 := newRecorder()
		lis := listenRetry(t, addr)
		newTestSocket(t, proto, "b", recvB2.handle, func(c *Config) { c.Listener = lis })
		waitFor(t, 30*time.Second, "delivery to the restarted peer", func() bool { return recvB2.n() > 0 }, send)
		for range 100 {
			send()
		}
		last := id - 1
		waitFor(t, 30*time.Second, "the last message at the restarted peer", func() bool { return recvB2.lastMessage().ID == last }, nil)
		recvB2.checkOrdered(t, true)
		if d := a.Stats().Dropped; d.Unreachable != 0 || d.QueueFull != 0 {
			t.Fatalf("messages were dropped during a quick restart: %+v", d)
		}
	})
}
