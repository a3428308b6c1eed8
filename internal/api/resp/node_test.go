package resp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/chorusdb/chorus/internal/membership"
	"github.com/chorusdb/chorus/internal/node"
	"github.com/chorusdb/chorus/internal/transport"
)

// startNodes starts three in-process nodes (memory storage, in-memory network,
// replication factor 3) and serves RESP on the first; it returns the address.
func startNodes(t *testing.T) string {
	t.Helper()
	network := transport.NewNetwork(1)
	ids := []string{"n1", "n2", "n3"}
	var ms []membership.Member
	for _, id := range ids {
		ms = append(ms, membership.Member{ID: id, Status: membership.Alive})
	}
	view := membership.NewStatic(ms...)
	var nodes []*node.Node
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Close()
		}
		network.Close()
	})
	for _, id := range ids {
		cfg := node.DefaultConfig()
		cfg.NodeID, cfg.Storage, cfg.View = id, "memory", view
		cfg.AntiEntropyInterval = 0 // nothing to fill from: the nodes start empty
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.NewTransport = func(id string, h transport.Handler) (transport.Transport, error) {
			return network.Join(id, h), nil
		}
		n, err := node.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	s := NewServer(Config{Backend: nodes[0]})
	if s.starter == nil {
		t.Fatal("node.Node does not implement Start as the RESP server expects")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return l.Addr().String()
}

// TestNodeBackend runs pipelines of every kind of command against real nodes, whose
// requests the server starts without waiting: replies come in order, a command sees
// the ones before it on its key, and session changes apply in order.
func TestNodeBackend(t *testing.T) {
	addr := startNodes(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
	defer rdb.Close()

	const n = 200
	pipe := rdb.Pipeline()
	var sets []*redis.StatusCmd
	var vals []*redis.StringCmd
	for i := range n {
		sets = append(sets, pipe.Set(ctx, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i), 0))
		vals = append(vals, pipe.Get(ctx, fmt.Sprintf("k%d", i)))
	}
	incr := pipe.IncrBy(ctx, "hits", 5)
	decr := pipe.Decr(ctx, "hits")
	sadd := pipe.SAdd(ctx, "tags", "a", "b", "a")
	srem := pipe.SRem(ctx, "tags", "b", "c")
	members := pipe.SMembers(ctx, "tags")
	card := pipe.SCard(ctx, "tags")
	isMember := pipe.SIsMember(ctx, "tags", "a")
	typ := pipe.Type(ctx, "tags")
	del := pipe.Del(ctx, "k0", "k1", "nope")
	exists := pipe.Exists(ctx, "k0", "k2")
	gone := pipe.Get(ctx, "k0")
	wrong := pipe.Get(ctx, "hits")
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil && !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Fatalf("pipeline: %v", err)
	}
	for i := range n {
		if err := sets[i].Err(); err != nil {
			t.Fatalf("SET %d: %v", i, err)
		}
		if got, err := vals[i].Result(); err != nil || got != fmt.Sprintf("v%d", i) {
			t.Fatalf("GET %d = %q, %v", i, got, err)
		}
	}
	check := func(what string, got, want any, err error) {
		t.Helper()
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, %v; want %v", what, got, err, want)
		}
	}
	v1, err := incr.Result()
	check("INCRBY", v1, 5, err)
	v2, err := decr.Result()
	check("DECR", v2, 4, err)
	v3, err := sadd.Result()
	check("SADD", v3, 2, err)
	v4, err := srem.Result()
	check("SREM", v4, 1, err)
	v5, err := members.Result()
	slices.Sort(v5)
	check("SMEMBERS", v5, []string{"a"}, err)
	v6, err := card.Result()
	check("SCARD", v6, 1, err)
	v7, err := isMember.Result()
	check("SISMEMBER", v7, true, err)
	v8, err := typ.Result()
	check("TYPE", v8, "set", err)
	v9, err := del.Result()
	check("DEL", v9, 2, err)
	v10, err := exists.Result()
	check("EXISTS", v10, 1, err)
	if err := gone.Err(); err != redis.Nil {
		t.Errorf("GET of a deleted key: %v, want nil", err)
	}
	if err := wrong.Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Errorf("GET of a counter: %v, want WRONGTYPE", err)
	}

	// A session change in the middle of a pipeline applies from the next command on.
	c := dial(t, addr)
	got := sendPipeline(c,
		[]string{"SET", "x", "default"},
		[]string{"KEYSPACE", "other"},
		[]string{"GET", "x"},
		[]string{"SET", "x", "other"},
		[]string{"CONSISTENCY", "ALL"},
		[]string{"GET", "x"},
		[]string{"KEYSPACE", "default"},
		[]string{"GET", "x"},
	)
	want := []string{"+OK\r\n", "+OK\r\n", "$-1\r\n", "+OK\r\n", "+OK\r\n", bulk("other"), "+OK\r\n", bulk("default")}
	if !slices.Equal(got, want) {
		t.Errorf("replies %q, want %q", got, want)
	}
}
