package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/api/http/console/consoletest"
)

// TestConsole drives the web console (/ui/) of a three-node cluster in a headless
// Chromium: it shows the members up; requests under way show as rates; the key
// inspector shows the replicas of a key, or the API's error; a stopped node turns down
// and red; writes made while it is down show as hints for it; once they expire and the
// node is back, a read at ALL repairs it and the repair shows in the log. Screenshots
// are saved as test artefacts ($CHORUS_ARTIFACTS, or go test -artifacts).
func TestConsole(t *testing.T) {
	consoletest.Require(t)
	// Hints expire soon and anti-entropy is off, so that the stopped node comes back
	// stale and a read repairs it.
	c := newCluster(t, 3, "--hint-ttl", "8s", "--anti-entropy-interval", "0")
	s0, down := c.servers[0], c.servers[2]
	ids := []string{c.servers[0].id, c.servers[1].id, c.servers[2].id}
	ctx := context.Background()
	page := consoletest.Open(t, "http://"+s0.http+"/ui/")
	page.WaitMembers(30*time.Second, map[string]string{ids[0]: "up", ids[1]: "up", ids[2]: "up"})
	if got := page.Text("#overall"); got != "healthy" {
		t.Errorf("overall health %q with every member up", got)
	}

	// Requests under way show as a rate with latency percentiles.
	a := redisClient(t, s0.resp)
	writing, wrote := make(chan struct{}), make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-writing:
				wrote <- nil
				return
			case <-time.After(5 * time.Millisecond):
			}
			if err := a.Set(ctx, fmt.Sprintf("console-%d", i), i, 0).Err(); err != nil {
				wrote <- err
				return
			}
		}
	}()
	page.WaitFor(15*time.Second, "the rate of writes", func() error {
		ok := page.Bool(`(() => {
			const c = [...document.querySelectorAll('#rates tr[data-op="put"] td')].map((td) => td.textContent);
			return c.length === 5 && Number(c[1]) > 0 && /[0-9] (µs|ms|s)$/.test(c[3]) && /[0-9] (µs|ms|s)$/.test(c[4]);
		})()`)
		if !ok {
			return fmt.Errorf("put row %q", page.Text(`#rates tr[data-op="put"]`))
		}
		return nil
	})
	close(writing)
	if err := <-wrote; err != nil {
		t.Fatalf("writing: %v", err)
	}

	checkInspector(t, page, s0.http, ids)

	// A stopped node is shown down, in red, and the cluster degraded.
	down.stop()
	page.WaitMembers(60*time.Second, map[string]string{ids[0]: "up", ids[1]: "up", ids[2]: "down"})
	page.WaitFor(10*time.Second, "the health panel", func() error {
		if got := page.Text("#overall"); got != "degraded" {
			return fmt.Errorf("overall %q", got)
		}
		return nil
	})
	// QUORUM writes go on; those the stopped node missed are hints for it.
	for i := 0; i < 20; i++ {
		if err := a.Set(ctx, fmt.Sprintf("while-down-%d", i), i, 0).Err(); err != nil {
			t.Fatalf("QUORUM SET with a node down: %v", err)
		}
	}
	page.WaitFor(7*time.Second, "hints for the stopped node", func() error {
		if !page.Bool(fmt.Sprintf(`!!document.querySelector('#hints tr[data-target=%q]')`, ids[2])) {
			return fmt.Errorf("hints panel: %q", page.Text("#hints tbody"))
		}
		return nil
	})
	page.Screenshot("console-node-down.png")

	// The hints expire; the node comes back stale; a read at ALL repairs it.
	waitFor(t, 30*time.Second, "the hints to expire", func() error {
		if e := s0.metric(t, "chorus_hints_expired_total"); e < 20 {
			return fmt.Errorf("expired = %v", e)
		}
		return nil
	})
	down.start()
	c.waitAlive(3)
	page.WaitMembers(30*time.Second, map[string]string{ids[0]: "up", ids[1]: "up", ids[2]: "up"})
	if err := a.Do(ctx, "CONSISTENCY", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a read at ALL", func() error {
		got, err := a.Get(ctx, "while-down-7").Result()
		if err == nil && got != "7" {
			t.Fatalf("GET at ALL = %q", got)
		}
		return err
	})
	page.WaitFor(15*time.Second, "the read repair in the log", func() error {
		rows := page.Text("#repairs tbody")
		if !strings.Contains(rows, "while-down-7") || !strings.Contains(rows, ids[2]) {
			return fmt.Errorf("read repairs panel: %q", rows)
		}
		return nil
	})
	page.WaitFor(10*time.Second, "the health panel", func() error {
		if got := page.Text("#overall"); got != "healthy" {
			return fmt.Errorf("overall %q", got)
		}
		return nil
	})
	page.Screenshot("console.png")
}

// checkInspector inspects a key written at ALL: every replica is listed with the value
// and the key is marked on the ring. An invalid keyspace shows the API's error.
func checkInspector(t *testing.T, page *consoletest.Page, httpAddr string, ids []string) {
	t.Helper()
	page.Inspect("no such/keyspace", "k")
	page.WaitFor(15*time.Second, "the inspector's error", func() error {
		if !page.Bool(`document.getElementById('inspect-status').className === 'error'`) ||
			!strings.Contains(page.Text("#inspect-status"), "bad_request") {
			return fmt.Errorf("inspector says %q", page.Text("#inspect-status"))
		}
		return nil
	})
	if code, body := httpDo(t, http.MethodPut, "http://"+httpAddr+"/v1/kv/default/inspect%20me?w=ALL", `"hello"`); code != 200 {
		t.Fatalf("PUT at ALL = %d %s", code, body)
	}
	page.Inspect("default", "inspect me")
	page.WaitFor(15*time.Second, "the key inspector", func() error {
		status := page.Text("#inspect-status")
		for _, id := range ids {
			row := page.Text(fmt.Sprintf(`#inspect tr[data-replica=%q]`, id))
			if !strings.Contains(row, "hello") || !strings.Contains(row, "ok") {
				return fmt.Errorf("replica %s: row %q (status %q)", id, row, status)
			}
		}
		if !strings.Contains(status, "3 of 3 replicas answered; their copies agree") {
			return fmt.Errorf("inspector says %q", status)
		}
		if !page.Bool(`document.querySelector('#ring .key-marker') !== null`) {
			return fmt.Errorf("no key marker on the ring")
		}
		return nil
	})
}
