package resp

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/api/apitest"
	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
)

// concurrencyBackend records how many Do calls ran at once.
type concurrencyBackend struct {
	*apitest.Backend
	cur, max atomic.Int64
}

func (b *concurrencyBackend) Do(ctx context.Context, req core.Request) core.Reply {
	n := b.cur.Add(1)
	defer b.cur.Add(-1)
	for m := b.max.Load(); n > m && !b.max.CompareAndSwap(m, n); m = b.max.Load() {
	}
	return b.Backend.Do(ctx, req)
}

// sendPipeline sends the commands in one write and returns their replies.
func sendPipeline(c *rawConn, cmds ...[]string) []string {
	c.t.Helper()
	var b strings.Builder
	for _, cmd := range cmds {
		b.WriteString(encodeCommand(cmd...))
	}
	c.send(b.String())
	out := make([]string, len(cmds))
	for i := range cmds {
		out[i] = c.reply()
	}
	return out
}

// TestPipelineRunsConcurrently: pipelined commands on distinct keys run at once (at
// most maxPipeline of them), and their replies come back in order.
func TestPipelineRunsConcurrently(t *testing.T) {
	be := &concurrencyBackend{Backend: apitest.NewBackend("n1")}
	_, addr, _ := start(t, func(c *Config) { c.Backend = be })
	c := dial(t, addr)
	for i := range 3 * maxPipeline {
		c.do("SET", fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
	}
	be.SetDelay(100 * time.Millisecond)
	var cmds [][]string
	for i := range 3 * maxPipeline {
		cmds = append(cmds, []string{"GET", fmt.Sprintf("k%d", i)})
	}
	began := time.Now()
	for i, got := range sendPipeline(c, cmds...) {
		if want := bulk(fmt.Sprintf("v%d", i)); got != want {
			t.Fatalf("reply %d = %q, want %q", i, got, want)
		}
	}
	// One after another, the GETs would take 3*64*100ms = 19s.
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("%d pipelined GETs took %v: they did not run concurrently", len(cmds), d)
	}
	if m := be.max.Load(); m < 2 || m > maxPipeline {
		t.Errorf("at most %d requests ran at once, want 2…%d", m, maxPipeline)
	}
}

// TestPipelineOrder: commands naming the same key run in order, and a command that
// changes the session applies exactly from the next command on.
func TestPipelineOrder(t *testing.T) {
	_, addr, be := start(t, nil)
	be.SetDelay(10 * time.Millisecond)
	c := dial(t, addr)
	got := sendPipeline(c,
		[]string{"SET", "k", "v1"},
		[]string{"SET", "other", "x"},
		[]string{"SET", "k", "v2"},
		[]string{"DEL", "other", "k"},
		[]string{"SET", "k", "v3"},
		[]string{"GET", "k"},
		[]string{"CONSISTENCY", "ONE"},
		[]string{"GET", "k"},
		[]string{"KEYSPACE", "ks2"},
		[]string{"GET", "k"},
		[]string{"EXISTS", "k"},
		[]string{"KEYSPACE", "default"},
		[]string{"EXISTS", "k", "other"},
		[]string{"BOGUS"},
		[]string{"GET", "k"},
		[]string{"GET", "k", "extra"},
		[]string{"PING"},
	)
	want := []string{"+OK\r\n", "+OK\r\n", "+OK\r\n", ":2\r\n", "+OK\r\n", bulk("v3"),
		"+OK\r\n", bulk("v3"), "+OK\r\n", "$-1\r\n", ":0\r\n", "+OK\r\n", ":1\r\n",
		"-ERR unknown command 'BOGUS'\r\n", bulk("v3"),
		"-ERR wrong number of arguments for 'get' command\r\n", "+PONG\r\n"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("reply %d = %q, want %q", i, got[i], want[i])
		}
	}
	type seen struct {
		op       core.Op
		keyspace string
		level    core.Level
	}
	var reqs []seen
	for _, r := range be.Requests() {
		if r.Op == core.OpGet {
			reqs = append(reqs, seen{r.Op, r.Key.Keyspace, r.Level})
		}
	}
	wantReqs := []seen{
		{core.OpGet, "default", core.Quorum},
		{core.OpGet, "default", core.One},
		{core.OpGet, "ks2", core.One},
		{core.OpGet, "ks2", core.One},
		{core.OpGet, "default", core.One},
		{core.OpGet, "default", core.One},
		{core.OpGet, "default", core.One},
	}
	if len(reqs) != len(wantReqs) {
		t.Fatalf("reads = %v, want %v", reqs, wantReqs)
	}
	// Reads of one pipeline may reach the backend in any order; count them.
	count := map[seen]int{}
	for _, r := range reqs {
		count[r]++
	}
	for _, r := range wantReqs {
		count[r]--
	}
	for r, n := range count {
		if n != 0 {
			t.Errorf("read %+v seen %+d times more than expected", r, n)
		}
	}
}

// TestPipelineQuit: QUIT answers after every earlier command, and later commands are
// not run.
func TestPipelineQuit(t *testing.T) {
	_, addr, be := start(t, nil)
	be.SetDelay(20 * time.Millisecond)
	c := dial(t, addr)
	got := sendPipeline(c, []string{"SET", "a", "1"}, []string{"SET", "b", "2"}, []string{"QUIT"})
	if strings.Join(got, "") != "+OK\r\n+OK\r\n+OK\r\n" {
		t.Errorf("replies %q", got)
	}
	c.send(encodeCommand("SET", "c", "3"))
	c.expectClosed()
	if _, ok := be.Object(object.Key{Keyspace: "default", Key: "c"}); ok {
		t.Error("a command after QUIT ran")
	}
}

// TestPipelinePanic: a pipelined command that panics closes its connection, after
// logging the panic, and leaves the server running.
func TestPipelinePanic(t *testing.T) {
	logs := &errorLog{}
	_, addr, be := start(t, func(c *Config) { c.Logger = slog.New(logs) })
	be.SetFailure(func(r core.Request) error {
		if r.Key.Key == "boom" {
			panic("backend exploded")
		}
		return nil
	})
	c := dial(t, addr)
	c.send(encodeCommand("GET", "a") + encodeCommand("GET", "boom") + encodeCommand("GET", "c"))
	c.expectClosed()
	logs.mu.Lock()
	msgs := strings.Join(logs.msgs, "\n")
	logs.mu.Unlock()
	frame := "apitest.(*Backend).Do"
	if starting {
		frame = "finishCall" // startingBackend raises it again there
	}
	if !strings.Contains(msgs, "backend exploded") || !strings.Contains(msgs, frame) {
		t.Errorf("logged %q, want the panic and the stack where it happened", msgs)
	}
	if got := dial(t, addr).do("PING"); got != "+PONG\r\n" {
		t.Errorf("server after a panic: PING = %q", got)
	}
}

// TestPipelineOneWrite: the replies to commands that arrive together leave in one
// write.
func TestPipelineOneWrite(t *testing.T) {
	s := NewServer(Config{Backend: apitest.NewBackend("n1")})
	var in strings.Builder
	for i := range 40 {
		in.WriteString(encodeCommand("SET", fmt.Sprintf("k%d", i), "v"))
		in.WriteString(encodeCommand("GET", fmt.Sprintf("k%d", i)))
	}
	if in.Len() > initialBuf {
		t.Fatalf("input of %d bytes does not fit one read", in.Len())
	}
	pc := &pipeConn{in: bytes.NewReader([]byte(in.String()))}
	c := s.newClient(pc)
	s.register(c)
	s.serveClient(c)
	if want := strings.Repeat("+OK\r\n"+bulk("v"), 40); pc.out.String() != want {
		t.Fatalf("replies %q, want %q", pc.out.String(), want)
	}
	if pc.writes != 1 {
		t.Errorf("%d writes, want 1", pc.writes)
	}
}

// TestStarterBackend runs the tests of commands and pipelines again with a Backend
// that can start requests without waiting (as node.Node can), which the server uses
// differently.
func TestStarterBackend(t *testing.T) {
	for _, tc := range []struct {
		name string
		test func(*testing.T)
	}{
		{"CommandsRaw", TestCommandsRaw},
		{"ConsistencyPerConnection", TestConsistencyPerConnection},
		{"KeyspaceIsolation", TestKeyspaceIsolation},
		{"TooLarge", TestTooLarge},
		{"BackendErrors", TestBackendErrors},
		{"Siblings", TestSiblings},
		{"Pipelining", TestPipelining},
		{"PipelineRunsConcurrently", TestPipelineRunsConcurrently},
		{"PipelineOrder", TestPipelineOrder},
		{"PipelineQuit", TestPipelineQuit},
		{"PipelinePanic", TestPipelinePanic},
		{"UnreadRepliesStopReading", TestUnreadRepliesStopReading},
		{"Shutdown", TestShutdown},
		{"ShutdownDeadline", TestShutdownDeadline},
		{"GoRedis", TestGoRedis},
	} {
		t.Run(tc.name, func(t *testing.T) {
			starting = true
			t.Cleanup(func() { starting = false })
			tc.test(t)
		})
	}
}

// TestUnreadRepliesStopReading: a client that pipelines without reading its replies
// makes the server stop running its commands once the replies fill the socket, rather
// than buffer them without bound.
func TestUnreadRepliesStopReading(t *testing.T) {
	_, addr, be := start(t, nil)
	c := dial(t, addr)
	big := strings.Repeat("v", 100<<10)
	if got := c.do("SET", "big", big); got != "+OK\r\n" {
		t.Fatal(got)
	}
	be.ResetRequests()
	const n = 20000 // 2 GB of replies
	go func() {
		var b strings.Builder
		for range n {
			b.WriteString(encodeCommand("GET", "big"))
		}
		c.nc.Write([]byte(b.String())) // blocks once the server stops reading; ends with the test
	}()
	time.Sleep(time.Second)
	ran := len(be.Requests())
	time.Sleep(200 * time.Millisecond)
	t.Logf("ran %d of %d", ran, n)
	if again := len(be.Requests()); again != ran || ran > n/4 {
		t.Errorf("the server ran %d, then %d of %d GETs whose replies are not read", ran, again, n)
	}
}
