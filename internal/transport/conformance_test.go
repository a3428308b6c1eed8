package transport

import (
	"net"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/wire"
)

// pair is two connected transports, "a" and "b", and what each received.
type pair struct {
	a, b         Transport
	recvA, recvB *recorder
}

// implementations builds a connected pair of each Transport implementation; the
// conformance tests below run against all of them.
var implementations = map[string]func(t *testing.T) pair{
	"tcp":  socketPair(ProtocolTCP),
	"grpc": socketPair(ProtocolGRPC),
	"mem": func(t *testing.T) pair {
		n := NewNetwork(1)
		t.Cleanup(func() { n.Close() })
		p := pair{recvA: newRecorder(), recvB: newRecorder()}
		p.a, p.b = n.Join("a", p.recvA.handle), n.Join("b", p.recvB.handle)
		return p
	},
}

func socketPair(proto Protocol) func(t *testing.T) pair {
	return func(t *testing.T) pair {
		p := pair{recvA: newRecorder(), recvB: newRecorder()}
		a := newTestSocket(t, proto, "a", p.recvA.handle, nil)
		b := newTestSocket(t, proto, "b", p.recvB.handle, nil)
		a.SetPeers(map[string]string{"b": b.Addr().String()})
		b.SetPeers(map[string]string{"a": a.Addr().String()})
		p.a, p.b = a, b
		return p
	}
}

// protocols are the Socket protocols; forEachProtocol runs a test once with each.
var protocols = []Protocol{ProtocolTCP, ProtocolGRPC}

func forEachProtocol(t *testing.T, test func(t *testing.T, proto Protocol)) {
	for _, proto := range protocols {
		t.Run(proto.String(), func(t *testing.T) { test(t, proto) })
	}
}

// newTestSocket starts a Socket on a free loopback port, closed at cleanup.
func newTestSocket(t testing.TB, proto Protocol, id string, h Handler, tweak func(*Config)) *Socket {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Protocol: proto, NodeID: id, Listener: lis, Handler: h, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	if tweak != nil {
		tweak(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func TestConformance(t *testing.T) {
	for name, newPair := range implementations {
		t.Run(name, func(t *testing.T) {
			t.Run("DeliversInOrderBothWays", func(t *testing.T) {
				p := newPair(t)
				const n = 2000
				for i := range uint64(n) {
					p.a.Send(putReq("b", i))
					p.b.Send(putReq("a", i))
				}
				waitFor(t, 20*time.Second, "delivery", func() bool { return p.recvA.n() == n && p.recvB.n() == n }, nil)
				p.recvA.checkOrdered(t, true)
				p.recvB.checkOrdered(t, true)
			})
			t.Run("FillsFromAndKeepsFields", func(t *testing.T) {
				p := newPair(t)
				sent := wire.Message{Type: wire.GetResp, To: "b", ID: 7, Clock: 42, Key: object.Key{Keyspace: "ks", Key: "k"}, Found: true, Err: "boom"}
				p.a.Send(sent)
				waitFor(t, 10*time.Second, "delivery", func() bool { return p.recvB.n() == 1 }, nil)
				got := p.recvB.lastMessage()
				sent.From = "a"
				if got.From != sent.From || got.To != sent.To || got.ID != sent.ID || got.Clock != sent.Clock ||
					got.Key != sent.Key || got.Found != sent.Found || got.Err != sent.Err || got.Type != sent.Type {
					t.Fatalf("got %+v, want %+v", got, sent)
				}
				spoofed := sent
				spoofed.From, spoofed.ID = "someone-else", 8
				p.a.Send(spoofed)
				waitFor(t, 10*time.Second, "delivery", func() bool { return p.recvB.n() == 2 }, nil)
				if got := p.recvB.lastMessage(); got.From != "someone-else" {
					t.Fatalf("From = %q, want the sender's value kept", got.From)
				}
			})
			t.Run("CallerMayReuseMessages", func(t *testing.T) {
				p := newPair(t)
				m := putReq("b", 1)
				p.a.Send(m)
				m.Object.Siblings[0].Value[0] = 'X' // after Send returns
				waitFor(t, 10*time.Second, "delivery", func() bool { return p.recvB.n() == 1 }, nil)
				if v := p.recvB.lastMessage().Object.Siblings[0].Value[0]; v != '0' {
					t.Fatalf("receiver saw the sender's later change: %q", v)
				}
			})
			t.Run("DropsUnknownAndInvalidWithoutBlocking", func(t *testing.T) {
				p := newPair(t)
				p.a.Send(putReq("nobody", 1), wire.Message{Type: wire.TypeInvalid, To: "b"}, wire.Message{Type: 200, To: "b"})
				p.a.Send(putReq("b", 2))
				waitFor(t, 10*time.Second, "delivery", func() bool { return p.recvB.n() == 1 }, nil)
				if got := p.recvB.lastMessage(); got.ID != 2 {
					t.Fatalf("got %+v", got)
				}
			})
			t.Run("CloseIsIdempotentAndFinal", func(t *testing.T) {
				p := newPair(t)
				p.a.Send(putReq("b", 1))
				waitFor(t, 10*time.Second, "delivery", func() bool { return p.recvB.n() == 1 }, nil)
				if err := p.b.Close(); err != nil {
					t.Fatal(err)
				}
				if err := p.b.Close(); err != nil {
					t.Fatal(err)
				}
				for i := range uint64(100) {
					p.a.Send(putReq("b", 2+i))
					p.b.Send(putReq("a", i)) // after Close: dropped, no panic
				}
				p.b.SetPeers(map[string]string{"a": "127.0.0.1:1"})
				time.Sleep(50 * time.Millisecond) // give a wrong implementation time to deliver
				if n := p.recvB.n(); n != 1 {
					t.Fatalf("closed transport received %d messages", n)
				}
				if n := p.recvA.n(); n != 0 {
					t.Fatalf("closed transport sent %d messages", n)
				}
			})
		})
	}
}
