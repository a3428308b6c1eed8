package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/ring"
)

// fixture is three fake nodes in two zones, RF 2, and a client for keyspace "ks"
// reading at ONE and writing at ALL.
type fixture struct {
	nodes   []*fakeNode
	cluster *fakeCluster
	c       *Client
	ring    *ring.Ring
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	want := connState{read: "ONE", write: "ALL", keyspace: "ks"}
	f := &fixture{nodes: []*fakeNode{
		startFakeNode(t, "n1", "a", want),
		startFakeNode(t, "n2", "a", want),
		startFakeNode(t, "n3", "b", want),
	}}
	f.cluster = startFakeCluster(t, 2, f.nodes...)
	f.ring = ring.New([]ring.Member{{ID: "n1", Zone: "a"}, {ID: "n2", Zone: "a"}, {ID: "n3", Zone: "b"}}, ring.DefaultVnodes)
	opts.Seeds = []string{"127.0.0.1:1", f.cluster.seed()} // the first seed is not reachable
	opts.Keyspace, opts.ReadLevel, opts.WriteLevel = "ks", "one", "all"
	c, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	f.c = c
	return f
}

func (f *fixture) node(id string) *fakeNode {
	for _, n := range f.nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}

// prefs is the servers' preference list of key in keyspace "ks", computed here
// independently of the client.
func (f *fixture) prefs(key string) []string {
	return f.ring.PreferenceList(ring.KeyHash("ks", key), 2)
}

func keys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("key:%d", i)
	}
	return ks
}

func TestRequestsGoToThePrimary(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	want := map[string][]string{}
	for _, k := range keys(200) {
		if err := f.c.Set(ctx, k, []byte("v-"+k), 0); err != nil {
			t.Fatal(err)
		}
		primary := f.prefs(k)[0]
		want[primary] = append(want[primary], k)
		if got := f.c.Replicas(k); !slices.Equal(got, f.prefs(k)) {
			t.Fatalf("Replicas(%q) = %v, want %v", k, got, f.prefs(k))
		}
		if got := f.c.Coordinator(k); got != primary {
			t.Fatalf("Coordinator(%q) = %q, want %q", k, got, primary)
		}
	}
	for _, n := range f.nodes {
		if got := n.received(); !slices.Equal(got, want[n.id]) {
			t.Errorf("node %s received %d keys, want %d (its primary keys)", n.id, len(got), len(want[n.id]))
		}
		if len(want[n.id]) == 0 {
			t.Errorf("node %s is primary of none of 200 keys", n.id)
		}
	}
	for _, k := range keys(200) {
		v, err := f.c.Get(ctx, k)
		if err != nil || string(v) != "v-"+k {
			t.Fatalf("Get(%q) = %q, %v", k, v, err)
		}
	}
}

func TestGetMissingKeyIsErrNotFound(t *testing.T) {
	f := newFixture(t, Options{})
	_, err := f.c.Get(context.Background(), "absent")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(absent) error = %v, want ErrNotFound", err)
	}
}

func TestErrorRepliesMapToSentinels(t *testing.T) {
	f := newFixture(t, Options{RefreshInterval: -1})
	ctx := context.Background()
	cases := []struct {
		key, reply string
		want       error
	}{
		{"u", "UNAVAILABLE need 2 replicas for QUORUM, 1 alive", ErrUnavailable},
		{"t", "TIMEOUT 1 of 2 replicas answered", ErrTimeout},
		{"l", "TOOLARGE value of 9000000 bytes exceeds 8388608", ErrTooLarge},
		{"w", "WRONGTYPE the key holds a counter", ErrWrongType},
		{"e", "ERR syntax error", nil},
	}
	for _, tc := range cases {
		primary := f.prefs(tc.key)[0]
		f.node(primary).failKey(tc.key, tc.reply)
		err := f.c.Set(ctx, tc.key, []byte("x"), 0)
		var se *ServerError
		if !errors.As(err, &se) {
			t.Fatalf("Set(%q) error = %v, want a *ServerError", tc.key, err)
		}
		if se.Node != primary || se.Code+" "+se.Message != tc.reply {
			t.Errorf("Set(%q): ServerError %+v, want node %s reply %q", tc.key, se, primary, tc.reply)
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("Set(%q) error = %v, want errors.Is %v", tc.key, err, tc.want)
		}
		if got := f.node(primary).received(); len(got) != 1 {
			t.Errorf("an error reply was retried on other nodes: %s received %v", primary, got)
		}
		f.node(primary).mu.Lock()
		f.node(primary).keys = nil
		f.node(primary).mu.Unlock()
	}
}

func TestUnreachablePrimaryFailsOverToTheNextReplica(t *testing.T) {
	f := newFixture(t, Options{RefreshInterval: -1})
	ctx := context.Background()
	f.nodes[0].stop() // n1 is gone, but the cluster still reports it alive
	for _, k := range keys(100) {
		if err := f.c.Set(ctx, k, []byte("v"), 0); err != nil {
			t.Fatalf("Set(%q): %v", k, err)
		}
	}
	for _, k := range keys(100) {
		p := f.prefs(k)
		want := p[0]
		if want == "n1" {
			want = p[1]
		}
		if !slices.Contains(f.node(want).received(), k) {
			t.Errorf("key %q (replicas %v) did not reach %s", k, p, want)
		}
	}
}

func TestDeadNodesAreSkippedAfterRefresh(t *testing.T) {
	f := newFixture(t, Options{RefreshInterval: 20 * time.Millisecond})
	f.cluster.setStatus("n3", "dead")
	deadline := time.Now().Add(5 * time.Second)
	for {
		ms := f.c.Members()
		if len(ms) == 3 && ms[2].Status == "dead" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client did not see n3 dead: %+v", ms)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, k := range keys(100) {
		if f.c.Coordinator(k) == "n3" {
			t.Fatalf("key %q is routed to dead n3", k)
		}
		// The ring still holds n3: the servers keep dead members on it.
		if !slices.Equal(f.c.Replicas(k), f.prefs(k)) {
			t.Fatalf("Replicas(%q) = %v, want %v", k, f.c.Replicas(k), f.prefs(k))
		}
	}
	f.cluster.setStatus("n3", "left")
	for f.c.topo.Load().ring.Len() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the client did not drop n3 after it left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPipelineRoutesEachKeyAndFailsOver(t *testing.T) {
	f := newFixture(t, Options{RefreshInterval: -1})
	ctx := context.Background()
	p := f.c.Pipeline()
	var sets []*SetResult
	for _, k := range keys(60) {
		sets = append(sets, p.Set(k, []byte("v-"+k), 0))
	}
	if p.Len() != 60 {
		t.Fatalf("Len = %d, want 60", p.Len())
	}
	if err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i, s := range sets {
		if s.Err() != nil {
			t.Fatalf("set %d: %v", i, s.Err())
		}
	}
	for _, n := range f.nodes {
		for _, k := range n.received() {
			if f.prefs(k)[0] != n.id {
				t.Errorf("pipelined key %q went to %s, not its primary %s", k, n.id, f.prefs(k)[0])
			}
		}
	}

	// Values live on the primary only in the fake, so reads after a failover miss;
	// what matters is that every read is answered.
	f.node("n2").stop()
	var gets []*GetResult
	for _, k := range keys(60) {
		gets = append(gets, p.Get(k))
	}
	missing := p.Get("absent")
	if err := p.Exec(ctx); err != nil {
		t.Fatalf("Exec with n2 down: %v", err)
	}
	for i, g := range gets {
		v, err := g.Result()
		k := keys(60)[i]
		if f.prefs(k)[0] != "n2" && (err != nil || string(v) != "v-"+k) {
			t.Errorf("get %q = %q, %v", k, v, err)
		}
		if f.prefs(k)[0] == "n2" && !errors.Is(err, ErrNotFound) {
			t.Errorf("get %q (failed over) = %q, %v; want ErrNotFound from the fake's next replica", k, v, err)
		}
	}
	if _, err := missing.Result(); !errors.Is(err, ErrNotFound) {
		t.Errorf("get absent: %v, want ErrNotFound", err)
	}
}

func TestDelAndExistsCountAcrossNodes(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	ks := keys(10)
	for _, k := range ks[:6] {
		if err := f.c.Set(ctx, k, []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := f.c.Exists(ctx, ks...); n != 6 || err != nil {
		t.Fatalf("Exists = %d, %v; want 6", n, err)
	}
	if n, err := f.c.Del(ctx, ks[0]); n != 1 || err != nil {
		t.Fatalf("Del one = %d, %v; want 1", n, err)
	}
	if n, err := f.c.Del(ctx, ks...); n != 5 || err != nil {
		t.Fatalf("Del all = %d, %v; want 5", n, err)
	}
	if n, err := f.c.Del(ctx); n != 0 || err != nil {
		t.Fatalf("Del none = %d, %v", n, err)
	}
}

func TestEveryNodeUnreachableIsErrNoNodes(t *testing.T) {
	f := newFixture(t, Options{RefreshInterval: -1})
	for _, n := range f.nodes {
		n.stop()
	}
	_, err := f.c.Get(context.Background(), "k")
	if !errors.Is(err, ErrNoNodes) {
		t.Fatalf("Get with every node down: %v, want ErrNoNodes", err)
	}
}

func TestContextDeadlineIsErrTimeout(t *testing.T) {
	f := newFixture(t, Options{})
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := f.c.Get(ctx, "k")
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get past the deadline: %v, want ErrTimeout and DeadlineExceeded", err)
	}
}

func TestCloseIsIdempotentAndFailsLaterRequests(t *testing.T) {
	f := newFixture(t, Options{})
	if err := f.c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Get(context.Background(), "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
	p := f.c.Pipeline()
	r := p.Set("k", nil, 0)
	if err := p.Exec(context.Background()); !errors.Is(err, ErrClosed) || !errors.Is(r.Err(), ErrClosed) {
		t.Fatalf("Exec after Close: %v / %v, want ErrClosed", err, r.Err())
	}
}

func TestNewFailsWithoutAReachableSeed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := New(ctx, Options{Seeds: []string{"127.0.0.1:1"}})
	if !errors.Is(err, ErrNoNodes) {
		t.Fatalf("New: %v, want ErrNoNodes", err)
	}
}

func TestOptionsValidateReportsEveryProblem(t *testing.T) {
	err := Options{ReadLevel: "ANY", WriteLevel: "MOST", PoolSize: -1, Timeout: -1}.EnsureDefaults().Validate()
	if err == nil {
		t.Fatal("Validate accepted bad options")
	}
	for _, want := range []string{"Seeds", "ReadLevel", "WriteLevel", "PoolSize", "Timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error does not mention %s:\n%v", want, err)
		}
	}
	o := Options{Seeds: []string{"x:1"}, ReadLevel: "quorum", WriteLevel: "any"}.EnsureDefaults()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.Keyspace != DefaultKeyspace || o.ReadLevel != "QUORUM" || o.WriteLevel != "ANY" ||
		o.RefreshInterval != DefaultRefreshInterval || o.Timeout != DefaultTimeout {
		t.Fatalf("EnsureDefaults = %+v", o)
	}
}

// TestDoRoutesAnyCommand: Do and Pipeline.Do send a command the client has no method
// for to the key's primary and return the decoded reply; a null reply is ErrNotFound.
func TestDoRoutesAnyCommand(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		v, err := f.c.Do(ctx, "hits", "INCR", "hits")
		if err != nil || v != int64(i) {
			t.Fatalf("INCR hits #%d = %v (%T), %v", i, v, v, err)
		}
	}
	if got := f.node(f.prefs("hits")[0]).received(); !slices.Equal(got, []string{"hits", "hits", "hits"}) {
		t.Errorf("the primary of hits received %v", got)
	}
	if _, err := f.c.Do(ctx, "nope", "GET", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Do GET of a missing key: %v, want ErrNotFound", err)
	}
	if _, err := f.c.Do(ctx, "k"); err == nil {
		t.Error("Do without a command succeeded")
	}

	p := f.c.Pipeline()
	var rs []*DoResult
	for _, k := range keys(20) {
		rs = append(rs, p.Do(k, "INCR", k))
	}
	empty := p.Do("k")
	if err := p.Exec(ctx); err == nil {
		t.Error("Exec with an empty Do succeeded")
	}
	for i, r := range rs {
		if v, err := r.Result(); err != nil || v != int64(1) {
			t.Errorf("pipelined INCR #%d = %v, %v", i, v, err)
		}
	}
	if _, err := empty.Result(); err == nil {
		t.Error("an empty pipelined Do has no error")
	}
}
