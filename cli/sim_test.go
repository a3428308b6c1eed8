package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func runSimCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := simCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// TestSimSameSeedSameReport: the same command line prints the same report.
func TestSimSameSeedSameReport(t *testing.T) {
	args := []string{"--seed", "7", "--nodes", "6", "--keys", "8", "--ops", "300", "--faults", "partition,crash,loss,dup,skew,pause"}
	first, err := runSimCmd(t, args...)
	if err != nil {
		t.Fatalf("sim: %v\n%s", err, first)
	}
	second, _ := runSimCmd(t, args...)
	if first != second {
		t.Fatalf("two runs differ:\n%s\n---\n%s", first, second)
	}
	for _, want := range []string{"faults injected:", "violations: none", "trace hash:", "replay: chorus sim --seed 7 --nodes 6 --keys 8 --ops 300 --faults partition,crash,loss,dup,skew,pause"} {
		if !strings.Contains(first, want) {
			t.Errorf("report lacks %q:\n%s", want, first)
		}
	}
}

// TestSimBugFailsAndReplays: a caught bug exits non-zero, and the replay line it
// prints reproduces the report exactly.
func TestSimBugFailsAndReplays(t *testing.T) {
	out, err := runSimCmd(t, "--seed", "1", "--bug", "wallclock-lww")
	if !errors.Is(err, errViolations) {
		t.Fatalf("err = %v, want violations\n%s", err, out)
	}
	i := strings.Index(out, "replay: chorus sim ")
	if i < 0 {
		t.Fatalf("no replay line:\n%s", out)
	}
	line := strings.TrimSpace(strings.SplitN(out[i+len("replay: chorus sim "):], "\n", 2)[0])
	again, err := runSimCmd(t, strings.Fields(line)...)
	if !errors.Is(err, errViolations) || again != out {
		t.Fatalf("replaying %q gave (%v):\n%s\nwant:\n%s", line, err, again, out)
	}
}

func TestSimRunsAndJSON(t *testing.T) {
	out, err := runSimCmd(t, "--seed", "3", "--runs", "3", "--nodes", "4", "--ops", "100")
	if err != nil || !strings.Contains(out, "3 runs, 0 failed") {
		t.Fatalf("err %v:\n%s", err, out)
	}
	out, err = runSimCmd(t, "--seed", "3", "--nodes", "4", "--ops", "100", "--json")
	if err != nil || !strings.Contains(out, `"trace_hash"`) {
		t.Fatalf("err %v:\n%s", err, out)
	}
	if _, err := runSimCmd(t, "--faults", "earthquake"); err == nil {
		t.Error("an unknown fault was accepted")
	}
	if _, err := runSimCmd(t, "--bug", "sloppy-quorum", "--faults", "partition,crash", "--seed", "3"); err == nil || !strings.Contains(err.Error(), "violation") {
		t.Errorf("a deliberately broken variant ran clean: err = %v", err)
	}
}
