package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// readAlone stops every other server and checks, through s alone at ONE, that want
// holds (the node's own copy is what answers).
func (c *cluster) aloneClient(t *testing.T, s *server) *redis.Client {
	t.Helper()
	for _, o := range c.servers {
		if o != s {
			o.stop()
		}
	}
	cl := redisClient(t, s.resp)
	if err := cl.Do(context.Background(), "CONSISTENCY", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	return cl
}

// metric reads one unlabelled metric from a server's /metrics.
func (s *server) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := s.get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.WriteString(string(buf[:n]))
		if err != nil {
			break
		}
	}
	m := regexp.MustCompile(`(?m)^` + name + ` ([0-9.e+-]+)$`).FindStringSubmatch(b.String())
	if m == nil {
		t.Fatalf("metric %s not found", name)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestHintsDrainAfterRestart: with one of three nodes killed, 1,000 QUORUM writes leave
// hints on the coordinators; after the restart the hints drain and the node holds
// every key on its own.
func TestHintsDrainAfterRestart(t *testing.T) {
	c := newCluster(t, 3, "--anti-entropy-interval", "0")
	ctx := context.Background()
	down := c.servers[2]
	down.kill9()
	a, b := redisClient(t, c.servers[0].resp), redisClient(t, c.servers[1].resp)
	const n = 1000
	for i := 0; i < n; i++ {
		cl := a
		if i%2 == 1 {
			cl = b
		}
		if err := cl.Set(ctx, fmt.Sprintf("h-%d", i), i, 0).Err(); err != nil {
			t.Fatalf("QUORUM SET with a node down: %v", err)
		}
	}
	// Writes sent before the failure was detected are hinted at their deadline.
	waitFor(t, 10*time.Second, "one hint per write", func() error {
		if p := c.servers[0].metric(t, "chorus_hints_pending") + c.servers[1].metric(t, "chorus_hints_pending"); p != n {
			return fmt.Errorf("hints pending = %v, want %d (one per write for the down replica)", p, n)
		}
		return nil
	})
	// Hints survive a restart of the node holding them.
	held := c.servers[0].metric(t, "chorus_hints_pending")
	c.servers[0].stop()
	c.servers[0].start()
	if got := c.servers[0].metric(t, "chorus_hints_pending"); got != held {
		t.Fatalf("after its restart n0 holds %v hints, want %v", got, held)
	}
	out, err := runChorus(t, "hints", "--addr", c.servers[0].http)
	if err != nil || !strings.Contains(out, down.id) {
		t.Fatalf("chorus hints: %v\n%s", err, out)
	}
	down.start()
	waitFor(t, 60*time.Second, "hints to drain", func() error {
		p := c.servers[0].metric(t, "chorus_hints_pending") + c.servers[1].metric(t, "chorus_hints_pending")
		if p != 0 {
			return fmt.Errorf("%v hints pending", p)
		}
		return nil
	})
	if d := c.servers[0].metric(t, "chorus_hints_delivered_total") + c.servers[1].metric(t, "chorus_hints_delivered_total"); d != n {
		t.Fatalf("hints delivered = %v, want %d", d, n)
	}
	alone := c.aloneClient(t, down)
	for i := 0; i < n; i++ {
		got, err := alone.Get(ctx, fmt.Sprintf("h-%d", i)).Int()
		if err != nil || got != i {
			t.Fatalf("restarted node alone: h-%d = %d, %v", i, got, err)
		}
	}
}

// TestWipedNodeRestoredByAntiEntropy: a node whose data directory is wiped gets every
// key back from anti-entropy alone (no hints: the writes happened while it was up), and
// until it is filled its empty copy never makes a read answer "not found".
func TestWipedNodeRestoredByAntiEntropy(t *testing.T) {
	c := newCluster(t, 3, "--anti-entropy-interval", "1h")
	ctx := context.Background()
	a := redisClient(t, c.servers[0].resp)
	a.Do(ctx, "CONSISTENCY", "ALL")
	const n = 2000
	value := strings.Repeat("v", 100)
	for i := 0; i < n; i++ {
		if err := a.Set(ctx, fmt.Sprintf("w-%d", i), value, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	wiped := c.servers[2]
	wiped.stop()
	if err := os.RemoveAll(wiped.dir); err != nil {
		t.Fatal(err)
	}
	var before float64
	for _, s := range c.servers[:2] {
		before += s.metric(t, "chorus_antientropy_bytes_sent_total")
	}
	wiped.start()
	// Reads through the wiped node never answer "not found" while it refills.
	w := redisClient(t, wiped.resp)
	w.Do(ctx, "CONSISTENCY", "ONE")
	for i := 0; i < n; i += 50 {
		if got, err := w.Get(ctx, fmt.Sprintf("w-%d", i)).Result(); err == redis.Nil {
			t.Fatalf("wiped node answered not found for w-%d while refilling", i)
		} else if err == nil && got != value {
			t.Fatalf("w-%d = %q", i, got)
		}
	}
	c.waitAlive(3) // includes: no node filling
	sent := wiped.metric(t, "chorus_antientropy_bytes_sent_total") - before
	for _, s := range c.servers[:2] {
		sent += s.metric(t, "chorus_antientropy_bytes_sent_total")
	}
	repaired := wiped.metric(t, "chorus_antientropy_keys_repaired_total")
	t.Logf("refill of %d keys of %d-byte values: %.0f anti-entropy bytes sent (data ≈ %d bytes), %v keys repaired", n, len(value), sent, n*(len(value)+8), repaired)
	if repaired < n {
		t.Fatalf("keys repaired on the wiped node = %v, want ≥ %d", repaired, n)
	}
	// A repair now finds every range equal.
	out, err := runChorus(t, "repair", "--addr", wiped.http)
	if err != nil || !strings.Contains(out, " 0 differing") {
		t.Fatalf("chorus repair after the refill: %v\n%s", err, out)
	}
	alone := c.aloneClient(t, wiped)
	for i := 0; i < n; i++ {
		if got, err := alone.Get(ctx, fmt.Sprintf("w-%d", i)).Result(); err != nil || got != value {
			t.Fatalf("wiped node alone: w-%d = %q, %v", i, got, err)
		}
	}
}

// TestReadRepairFixesStaleReplica: with the hint expired and anti-entropy off, a read
// at ALL returns the newest value, repairs the stale replica and logs it.
func TestReadRepairFixesStaleReplica(t *testing.T) {
	c := newCluster(t, 3, "--anti-entropy-interval", "0", "--hint-ttl", "1s")
	ctx := context.Background()
	a := redisClient(t, c.servers[0].resp)
	if err := a.Set(ctx, "rr", "old", 0).Err(); err != nil {
		t.Fatal(err)
	}
	stale := c.servers[2]
	stale.kill9()
	if err := a.Set(ctx, "rr", "new", 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the hint to expire", func() error {
		if e := c.servers[0].metric(t, "chorus_hints_expired_total"); e < 1 {
			return fmt.Errorf("expired = %v", e)
		}
		return nil
	})
	stale.start()
	c.waitAlive(3)
	a.Do(ctx, "CONSISTENCY", "ALL")
	// Right after a restart a read at ALL may find the view or a connection not yet
	// settled (UNAVAILABLE or TIMEOUT): retried. A stale value fails at once.
	waitFor(t, 30*time.Second, "a read at ALL", func() error {
		got, err := a.Get(ctx, "rr").Result()
		if err == nil && got != "new" {
			t.Fatalf("GET at ALL = %q, want new", got)
		}
		return err
	})
	waitFor(t, 10*time.Second, "the repair to be logged", func() error {
		resp, err := http.Get("http://" + c.servers[0].http + "/v1/read-repairs?limit=10")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var log []struct {
			Key       string `json:"key"`
			StaleNode string `json:"stale_node"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&log); err != nil {
			return err
		}
		for _, e := range log {
			if e.Key == "rr" && e.StaleNode == stale.id {
				return nil
			}
		}
		return fmt.Errorf("log = %+v", log)
	})
	if r := c.servers[0].metric(t, "chorus_read_repairs_total"); r < 1 {
		t.Fatalf("chorus_read_repairs_total = %v", r)
	}
	alone := c.aloneClient(t, stale)
	if got, err := alone.Get(ctx, "rr").Result(); err != nil || got != "new" {
		t.Fatalf("repaired node alone = %q, %v", got, err)
	}
}

// TestNoResurrection: a key deleted while one replica was down never comes back,
// whichever mechanism reaches the stale replica first.
func TestNoResurrection(t *testing.T) {
	cases := []struct {
		name  string
		flags []string
		heal  func(t *testing.T, c *cluster, stale *server)
	}{
		{"hints first", []string{"--anti-entropy-interval", "0"}, func(t *testing.T, c *cluster, stale *server) {
			waitFor(t, 30*time.Second, "hints to drain", func() error {
				if p := c.servers[0].metric(t, "chorus_hints_pending") + c.servers[1].metric(t, "chorus_hints_pending"); p != 0 {
					return fmt.Errorf("%v pending", p)
				}
				return nil
			})
		}},
		{"anti-entropy first", []string{"--anti-entropy-interval", "0", "--hint-ttl", "1s"}, func(t *testing.T, c *cluster, stale *server) {
			if out, err := runChorus(t, "repair", "--addr", stale.http); err != nil {
				t.Fatalf("repair: %v\n%s", err, out)
			}
		}},
		{"read first", []string{"--anti-entropy-interval", "0", "--hint-ttl", "1s"}, func(t *testing.T, c *cluster, stale *server) {
			cl := redisClient(t, c.servers[1].resp)
			cl.Do(context.Background(), "CONSISTENCY", "ALL")
			waitFor(t, 30*time.Second, "a read at ALL", func() error {
				v, err := cl.Get(context.Background(), "gone").Result()
				if err == nil {
					t.Fatalf("read at ALL after the delete returned %q", v)
				}
				if err == redis.Nil {
					return nil
				}
				return err
			})
			time.Sleep(200 * time.Millisecond) // let the async repair land (checked below)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 3, tc.flags...)
			ctx := context.Background()
			a := redisClient(t, c.servers[0].resp)
			a.Do(ctx, "CONSISTENCY", "ALL")
			waitFor(t, 30*time.Second, "a write at ALL", func() error { // rides out a false suspicion under load
				return a.Set(ctx, "gone", "zombie", 0).Err()
			})
			stale := c.servers[2]
			stale.kill9()
			a.Do(ctx, "CONSISTENCY", "QUORUM")
			if n, err := a.Del(ctx, "gone").Result(); err != nil || n != 1 {
				t.Fatalf("DEL = %d, %v", n, err)
			}
			if len(tc.flags) > 2 { // short hint TTL: wait until the delete's hint expired
				waitFor(t, 30*time.Second, "the hint to expire", func() error {
					if e := c.servers[0].metric(t, "chorus_hints_expired_total"); e < 1 {
						return fmt.Errorf("expired = %v", e)
					}
					return nil
				})
			}
			stale.start()
			c.waitAlive(3)
			tc.heal(t, c, stale)
			for _, s := range c.servers {
				cl := redisClient(t, s.resp)
				cl.Do(ctx, "CONSISTENCY", "ALL")
				// A TIMEOUT right after a restart (a connection still coming up) is
				// retried; a value is a resurrection and fails at once.
				waitFor(t, 30*time.Second, "a read at ALL through "+s.id, func() error {
					v, err := cl.Get(ctx, "gone").Result()
					switch {
					case err == redis.Nil:
						return nil
					case err == nil:
						t.Fatalf("%s: deleted key came back: %q", s.id, v)
					}
					return err
				})
			}
			alone := c.aloneClient(t, stale)
			if v, err := alone.Get(ctx, "gone").Result(); err != redis.Nil {
				t.Fatalf("stale replica alone returns the deleted value: %q, %v", v, err)
			}
		})
	}
}
