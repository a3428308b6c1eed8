package transport

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
	"github.com/chorusdb/chorus/internal/wire"
)

// TestMain fails the package if its tests, all together, leave goroutines behind.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if err := waitGoroutines(before, 10*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// waitGoroutines waits until at most n goroutines run, and describes them if they do
// not get there before the deadline.
func waitGoroutines(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			return fmt.Errorf("goroutine leak: %d running, want at most %d:\n%s", runtime.NumGoroutine(), n, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// waitFor polls cond until it holds, failing the test at the deadline. poll, if not
// nil, runs before each check (e.g. to keep sending while waiting for a reconnect).
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool, poll func()) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if poll != nil {
			poll()
		}
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recorder is a Handler that checks that messages from each sender arrive with
// consecutive IDs (starting anywhere), and counts them.
type recorder struct {
	mu      sync.Mutex
	next    map[string]uint64
	count   int
	gaps    int // IDs skipped: allowed where loss is expected
	reorder []string
	last    wire.Message
}

func newRecorder() *recorder { return &recorder{next: map[string]uint64{}} }

func (r *recorder) handle(m wire.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if want, seen := r.next[m.From]; seen && m.ID != want {
		if m.ID < want {
			r.reorder = append(r.reorder, fmt.Sprintf("from %s: id %d after %d", m.From, m.ID, want-1))
		} else {
			r.gaps++
		}
	}
	r.next[m.From] = m.ID + 1
	r.count++
	r.last = m
}

func (r *recorder) n() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

func (r *recorder) lastMessage() wire.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// checkOrdered fails the test if any link delivered out of order or, when lossless,
// with gaps.
func (r *recorder) checkOrdered(t testing.TB, lossless bool) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reorder) > 0 {
		t.Fatalf("%d messages out of order, first: %s", len(r.reorder), r.reorder[0])
	}
	if lossless && r.gaps > 0 {
		t.Fatalf("%d gaps in a lossless stream", r.gaps)
	}
}

// putReq is a PutReq of about 100 bytes encoded, the typical small write.
func putReq(to string, id uint64) wire.Message {
	return wire.Message{
		Type: wire.PutReq, To: to, ID: id, Clock: version.MakeTimestamp(1_700_000_000_000, 1),
		Key: object.Key{Keyspace: "default", Key: "user:000012345"},
		Object: object.Object{
			Context:  version.Vector{{Actor: "node-1", Counter: 981}},
			Siblings: []object.Sibling{{Value: []byte("0123456789abcdef0123"), Dot: version.Dot{Actor: "node-1", Counter: 981}, Timestamp: version.MakeTimestamp(1_700_000_000_000, 1)}},
		},
	}
}

func TestPutReqIsAbout100Bytes(t *testing.T) {
	m := putReq("node-2", 123456)
	m.From = "node-1"
	if n := len(wire.Append(nil, m)); n < 90 || n > 110 {
		t.Fatalf("putReq encodes to %d bytes", n)
	}
}
