package transport

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/tlsutil"
	"github.com/chorusdb/chorus/internal/wire"
)

// tlsIdentity writes a node certificate issued by ca for cluster and returns its
// source (the CA file holds caBundle).
func tlsIdentity(t *testing.T, ca tlsutil.PEM, caBundle []byte, cluster, id string) *tlsutil.Source {
	t.Helper()
	node, err := tlsutil.IssueNode(ca, cluster, id, []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := tlsutil.Files{Cert: filepath.Join(dir, "node.pem"), Key: filepath.Join(dir, "node-key.pem"), CA: filepath.Join(dir, "ca.pem")}
	for f, b := range map[string][]byte{files.Cert: node.Cert, files.Key: node.Key, files.CA: caBundle} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src, err := tlsutil.NewSource(files, "prod")
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func withTLS(src *tlsutil.Source) func(*Config) {
	return func(c *Config) {
		c.ServerTLS, c.ClientTLS = src.PeerServer(), src.PeerClient()
	}
}

// TestGRPCMutualTLS: two nodes with certificates of the cluster's CA and name talk;
// a plaintext peer, a peer whose certificate another CA issued, and a peer with the
// right CA but another cluster's name are refused in both directions.
func TestSocketMutualTLS(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, proto Protocol) {
		ca, err := tlsutil.NewCA("prod", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		other, err := tlsutil.NewCA("prod", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		recvA, recvB := newRecorder(), newRecorder()
		a := newTestSocket(t, proto, "a", recvA.handle, withTLS(tlsIdentity(t, ca, ca.Cert, "prod", "a")))
		b := newTestSocket(t, proto, "b", recvB.handle, withTLS(tlsIdentity(t, ca, ca.Cert, "prod", "b")))
		a.SetPeers(map[string]string{"b": b.Addr().String()})
		b.SetPeers(map[string]string{"a": a.Addr().String()})
		var id uint64
		waitFor(t, 10*time.Second, "a→b over mutual TLS", func() bool { return recvB.n() > 0 }, func() { a.Send(putReq("b", id)); id++ })
		waitFor(t, 10*time.Second, "b→a over mutual TLS", func() bool { return recvA.n() > 0 }, func() { b.Send(putReq("a", id)); id++ })

		for name, tweak := range map[string]func(*Config){
			"plaintext":     nil,
			"wrong CA":      withTLS(tlsIdentity(t, other, other.Cert, "prod", "x")),
			"wrong cluster": withTLS(tlsIdentity(t, ca, ca.Cert, "staging", "x")),
		} {
			t.Run(name, func(t *testing.T) {
				recvX := newRecorder()
				x := newTestSocket(t, proto, "x", recvX.handle, tweak)
				x.SetPeers(map[string]string{"a": a.Addr().String()})
				a.SetPeers(map[string]string{"b": b.Addr().String(), "x": x.Addr().String()})
				defer a.SetPeers(map[string]string{"b": b.Addr().String()})
				waitFor(t, 10*time.Second, "a to refuse x and x to refuse a", func() bool {
					return stateOf(x, "a") == peerDown && stateOf(a, "x") == peerDown
				}, func() { x.Send(putReq("a", 1)); a.Send(wire.Message{Type: wire.PutReq, To: "x", ID: 1}) })
				recvA.mu.Lock()
				_, fromX := recvA.next["x"]
				recvA.mu.Unlock()
				if recvX.n() != 0 || fromX {
					t.Fatalf("a message crossed: x got %d, a got one from x: %v", recvX.n(), fromX)
				}
			})
		}
	})
}
