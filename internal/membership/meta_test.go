package membership

import (
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestMetaRoundTripIsCompact(t *testing.T) {
	m := nodeMeta{Zone: "eu-1a", Addrs: Addrs{RESP: "10.0.0.1:6380", HTTP: "10.0.0.1:7380", Gossip: "10.0.0.1:8380", RPC: "10.0.0.1:9380"}}
	b := encodeMeta(m)
	want := `{"zone":"eu-1a","addrs":{"resp":"10.0.0.1:6380","http":"10.0.0.1:7380","gossip":"10.0.0.1:8380","rpc":"10.0.0.1:9380"}}`
	if string(b) != want {
		t.Fatalf("encodeMeta = %s\nwant %s", b, want)
	}
	got, err := decodeMeta(b)
	if err != nil || got != m {
		t.Fatalf("decodeMeta = %+v, %v", got, err)
	}
	if got, err := decodeMeta(nil); err != nil || got != (nodeMeta{}) {
		t.Fatalf("decodeMeta(nil) = %+v, %v", got, err)
	}
	if _, err := decodeMeta([]byte("{")); err == nil {
		t.Fatal("decodeMeta accepted garbage")
	}
}

func TestCheckMetaSize(t *testing.T) {
	addrs := Addrs{RESP: "127.0.0.1:6380", HTTP: "127.0.0.1:7380", RPC: "127.0.0.1:9380"}
	if err := checkMetaSize("zone", addrs); err != nil {
		t.Fatalf("ordinary metadata: %v", err)
	}
	// The largest zone that fits, with the leaving flag and a worst-case address.
	fixed := len(encodeMeta(nodeMeta{Zone: "", Addrs: Addrs{RESP: addrs.RESP, HTTP: addrs.HTTP, RPC: addrs.RPC, Gossip: worstGossipAddr}, Leaving: true}))
	room := 512 - fixed - len(`"zone":"",`)
	if err := checkMetaSize(strings.Repeat("z", room), addrs); err != nil {
		t.Fatalf("zone of %d bytes should fit: %v", room, err)
	}
	if err := checkMetaSize(strings.Repeat("z", room+1), addrs); !errors.Is(err, ErrMetaTooLarge) {
		t.Fatalf("zone of %d bytes: %v, want ErrMetaTooLarge", room+1, err)
	}
}

func TestMemberlistLogSeesFailedProbes(t *testing.T) {
	var suspects []string
	w := &memberlistLog{log: slog.New(slog.DiscardHandler), onSuspect: func(id string) { suspects = append(suspects, id) }}
	for _, line := range []string{
		"[INFO] memberlist: Suspect node-1 has failed, no acks received\n",
		"[INFO] memberlist: Suspect node with spaces has failed, no acks received\n",
		"[DEBUG] memberlist: Stream connection from=127.0.0.1:1234\n",
		"[INFO] memberlist: Marking node-2 as failed, suspect timeout reached (0 peer confirmations)\n",
		"garbage\n",
	} {
		if n, err := w.Write([]byte(line)); n != len(line) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if want := []string{"node-1", "node with spaces"}; !slices.Equal(suspects, want) {
		t.Fatalf("suspects %q, want %q", suspects, want)
	}
}

func TestTimingDefaultsAndValidation(t *testing.T) {
	c := GossipConfig{NodeID: "a", BindAddr: "127.0.0.1:0", Timing: Timing{ProbeInterval: 300e6}}
	if got := c.timing(); got.ProbeInterval != 300e6 || got.ProbeTimeout != DefaultTiming().ProbeTimeout {
		t.Errorf("zero fields should come from DefaultTiming: %+v", got)
	}
	c.Fast = true
	if got := c.timing(); got.ProbeInterval != 300e6 || got.SuspicionMult != FastTiming().SuspicionMult || got.GossipInterval != FastTiming().GossipInterval {
		t.Errorf("zero fields should come from FastTiming: %+v", got)
	}
	for _, tm := range []Timing{DefaultTiming(), FastTiming()} {
		if err := tm.validate(); err != nil {
			t.Errorf("built-in timing invalid: %v", err)
		}
	}
	bad := GossipConfig{BindAddr: "127.0.0.1:99999", Known: []Member{{}}, Timing: Timing{ProbeInterval: -1, RejoinInterval: 10e9}}
	err := bad.Validate()
	for _, want := range []string{"NodeID", "bad port", "Known[0]", "ProbeInterval must be positive", "RejoinMaxInterval"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want it to mention %q", err, want)
		}
	}
}

func TestSelfAddrsFilter(t *testing.T) {
	s := selfAddrs{id: "me", literal: map[string]bool{"127.0.0.1:8380": true}, ip: []byte{127, 0, 0, 1}, port: 8380}
	got := s.filter([]string{"127.0.0.1:8380", "localhost:8380", "me/10.0.0.9:1", " 127.0.0.1:8381 ", "127.0.0.1:8381", "", "other/127.0.0.1:8380"})
	if want := []string{"127.0.0.1:8381"}; !slices.Equal(got, want) {
		t.Fatalf("filter = %q, want %q", got, want)
	}
}
