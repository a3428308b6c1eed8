package client

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/redcon"
)

// fakeNode is a RESP server that stores values in a map and keeps a log of the keys
// it was sent, so tests can see where the client routed each request. It checks that
// every connection was set up (levels, keyspace) before it carries a data command.
type fakeNode struct {
	id, zone string
	ln       net.Listener
	want     connState // what a connection must be set to before data commands

	mu     sync.Mutex
	data   map[string][]byte
	keys   []string          // keys of data commands, in arrival order
	errors map[string]string // key → error reply to send for it
}

// connState is a connection's session settings.
type connState struct {
	read, write, keyspace string
}

func startFakeNode(t *testing.T, id, zone string, want connState) *fakeNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &fakeNode{id: id, zone: zone, ln: ln, want: want, data: map[string][]byte{}, errors: map[string]string{}}
	go redcon.Serve(ln, n.handle, func(c redcon.Conn) bool {
		c.SetContext(&connState{read: "QUORUM", write: "QUORUM", keyspace: "default"})
		return true
	}, nil)
	t.Cleanup(n.stop)
	return n
}

func (n *fakeNode) addr() string { return n.ln.Addr().String() }

// stop closes the listener and every connection: the node is gone.
func (n *fakeNode) stop() { n.ln.Close() }

func (n *fakeNode) failKey(key, reply string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.errors[key] = reply
}

func (n *fakeNode) received() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.keys...)
}

func (n *fakeNode) handle(c redcon.Conn, cmd redcon.Command) {
	st := c.Context().(*connState)
	name := strings.ToUpper(string(cmd.Args[0]))
	switch name {
	case "HELLO": // as a Redis older than 6: clients fall back to RESP2
		c.WriteError("ERR unknown command 'HELLO'")
		return
	case "CONSISTENCY":
		if len(cmd.Args) == 3 && strings.EqualFold(string(cmd.Args[1]), "READ") {
			st.read = string(cmd.Args[2])
		} else if len(cmd.Args) == 3 {
			st.write = string(cmd.Args[2])
		}
		c.WriteString("OK")
		return
	case "KEYSPACE":
		st.keyspace = string(cmd.Args[1])
		c.WriteString("OK")
		return
	}
	if *st != n.want {
		c.WriteError("ERR connection not set up: " + st.read + " " + st.write + " " + st.keyspace)
		return
	}
	key := string(cmd.Args[1])
	n.mu.Lock()
	defer n.mu.Unlock()
	n.keys = append(n.keys, key)
	if e, ok := n.errors[key]; ok {
		c.WriteError(e)
		return
	}
	switch name {
	case "SET":
		n.data[key] = append([]byte(nil), cmd.Args[2]...)
		c.WriteString("OK")
	case "GET":
		if v, ok := n.data[key]; ok {
			c.WriteBulk(v)
		} else {
			c.WriteNull()
		}
	case "INCR":
		v, _ := strconv.ParseInt(string(n.data[key]), 10, 64)
		v++
		n.data[key] = strconv.AppendInt(nil, v, 10)
		c.WriteInt64(v)
	case "DEL", "EXISTS":
		_, ok := n.data[key]
		if ok && name == "DEL" {
			delete(n.data, key)
		}
		if ok {
			c.WriteInt(1)
		} else {
			c.WriteInt(0)
		}
	default:
		c.WriteError("ERR unknown command '" + name + "'")
	}
}

// fakeCluster serves GET /v1/cluster for a set of fake nodes; the status of each can
// be changed.
type fakeCluster struct {
	http  *httptest.Server
	mu    sync.Mutex
	nodes []*fakeNode
	state map[string]string // id → status
	rf    int
}

func startFakeCluster(t *testing.T, rf int, nodes ...*fakeNode) *fakeCluster {
	t.Helper()
	fc := &fakeCluster{nodes: nodes, state: map[string]string{}, rf: rf}
	for _, n := range nodes {
		fc.state[n.id] = "alive"
	}
	fc.http = httptest.NewServer(http.HandlerFunc(fc.serve))
	t.Cleanup(fc.http.Close)
	return fc
}

func (fc *fakeCluster) setStatus(id, status string) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.state[id] = status
}

func (fc *fakeCluster) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/cluster" {
		http.NotFound(w, r)
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	type member struct {
		ID     string            `json:"id"`
		Status string            `json:"status"`
		Zone   string            `json:"zone"`
		Addrs  map[string]string `json:"addrs"`
	}
	body := struct {
		Node              string   `json:"node"`
		ReplicationFactor int      `json:"replication_factor"`
		Members           []member `json:"members"`
	}{Node: fc.nodes[0].id, ReplicationFactor: fc.rf}
	for _, n := range fc.nodes {
		body.Members = append(body.Members, member{
			ID: n.id, Status: fc.state[n.id], Zone: n.zone,
			Addrs: map[string]string{"resp": n.addr(), "http": fc.http.Listener.Addr().String()},
		})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

// seed is the HTTP address of the fake cluster.
func (fc *fakeCluster) seed() string { return fc.http.Listener.Addr().String() }
