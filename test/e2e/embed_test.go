package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmbeddedMergeFunction: a binary built around package cli with its own merge
// function registered (examples/embed) serves a keyspace that uses it.
func TestEmbeddedMergeFunction(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "embed")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/chorusdb/chorus/examples/embed").CombinedOutput(); err != nil {
		t.Fatalf("building examples/embed: %v\n%s", err, out)
	}
	c := newClusterWith(t, 1, func(int) []string { return []string{"--replication-factor", "1"} },
		func(_ int, s *server) { s.bin = bin })
	s := c.servers[0]
	if out, err := exec.Command(bin, "keyspace", "create", "scores", "--resolution", "merge:max", "--addr", s.http).CombinedOutput(); err != nil {
		t.Fatalf("keyspace create merge:max: %v\n%s", err, out)
	}
	if out, _ := exec.Command(bin, "keyspace", "create", "nope", "--resolution", "merge:unknown", "--addr", s.http).CombinedOutput(); !strings.Contains(string(out), "available: max, union") {
		t.Fatalf("an unregistered merge function: %s", out)
	}
	// Writes without a context are concurrent with what is stored: the merge keeps
	// the largest.
	for _, v := range []string{"5", "12", "3"} {
		if code, body := httpDo(t, "PUT", "http://"+s.http+"/v1/kv/scores/alice", v); code != 200 {
			t.Fatalf("PUT %s: %d %s", v, code, body)
		}
	}
	if code, body := httpDo(t, "GET", "http://"+s.http+"/v1/kv/scores/alice", ""); code != 200 || body != "12" {
		t.Fatalf("GET = %d %q, want the max, 12", code, body)
	}
	if code, body := httpDo(t, "PUT", "http://"+s.http+"/v1/kv/scores/bob", `"text"`); code != 400 || !strings.Contains(body, "merge:max needs JSON numbers") {
		t.Fatalf("a value the merge function refuses: %d %s", code, body)
	}
}
