package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/chorusdb/chorus/internal/core"
)

// Report is the outcome of one run. Everything in it is a function of the Config: the
// same seed gives the same report, byte for byte.
type Report struct {
	Seed   uint64 `json:"seed"`
	Nodes  int    `json:"nodes"`
	Keys   int    `json:"keys"`
	Ops    int    `json:"ops"`
	Faults string `json:"faults"`
	// Models are the data types the workload used.
	Models    string `json:"models"`
	Bug       string `json:"bug,omitempty"`
	StrictLWW bool   `json:"strict_lww,omitempty"`
	// Scenario is what the seed expanded into (settings, rates, distributions).
	Scenario string `json:"scenario"`
	// Injected counts the faults injected, in a fixed order.
	Injected []Count `json:"faults_injected"`
	// Workload counts the client operations (final reads apart) by model.
	Workload []Count `json:"workload"`
	// Operations counts the client operations by kind and outcome (final reads apart).
	Operations []OpCount `json:"operations"`
	FinalReads int       `json:"final_reads"`
	// HealAtMs is the virtual time the fault phase ended; ConvergenceMs how long after
	// it every replica of every key held the same object (-1: not within the bound).
	HealAtMs      int64       `json:"heal_at_ms"`
	ConvergenceMs int64       `json:"convergence_ms"`
	VirtualMs     int64       `json:"virtual_ms"`
	Events        uint64      `json:"events"`
	Messages      uint64      `json:"messages"`
	Bytes         uint64      `json:"bytes"` // the messages' encoded size
	Violations    []Violation `json:"violations"`
	// Mechanisms counts what the repair mechanisms did, summed over every core of
	// the run (those that crashed included).
	Mechanisms []Count `json:"mechanisms"`
	// ClockLosses are LWW losses explained by clocks (see Config.StrictLWW): measured,
	// not violations.
	ClockLosses []Violation `json:"lww_clock_losses,omitempty"`
	TraceHash   string      `json:"trace_hash"`
	// Replay is the command line that replays the run.
	Replay string `json:"replay"`

	// History is the run's full history, for tools; it is not part of the report's
	// text or JSON.
	History *History `json:"-"`
	// show renders what an OK read returned, as its model sees it.
	show func(*Op) string
}

// Count is a named counter.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// OpCount counts one kind of operation by outcome.
type OpCount struct {
	Kind    string `json:"kind"`
	OK      int    `json:"ok"`
	Fail    int    `json:"fail"`
	Timeout int    `json:"timeout"`
}

// Failed reports whether the run broke any property.
func (r *Report) Failed() bool { return len(r.Violations) > 0 }

func (s *simulation) report() *Report {
	r := &Report{
		Seed: s.cfg.Seed, Nodes: s.cfg.Nodes, Keys: s.cfg.Keys, Ops: s.cfg.Ops, Faults: s.cfg.Faults.String(), Models: s.cfg.models().String(),
		Bug: s.cfg.Bug, StrictLWW: s.cfg.StrictLWW, Scenario: s.sc.String(),
		HealAtMs: s.healAt / usPerMs, ConvergenceMs: -1, VirtualMs: s.now / usPerMs,
		Events: s.events, Messages: s.messages, Bytes: s.bytes,
		Violations: dedupe(s.violations), ClockLosses: dedupe(s.clockLosses),
		TraceHash: fmt.Sprintf("%016x", s.trace.Sum64()), Replay: s.cfg.Command(),
		History: &s.history,
	}
	models := s.models
	r.show = func(op *Op) string { return models[op.model].show(op) }
	if r.Violations == nil {
		r.Violations = []Violation{}
	}
	if s.convergedAt >= 0 {
		r.ConvergenceMs = (s.convergedAt - s.healAt) / usPerMs
	}
	in := s.injected
	r.Injected = []Count{
		{"isolations", in.isolations}, {"partitions", in.partitions}, {"one-way", in.oneWay},
		{"crashes", in.crashes}, {"torn-crashes", in.tornCrashes}, {"pauses", in.pauses},
		{"skews", in.skews}, {"suspicions", in.suspicions},
		{"lost", in.lost}, {"duplicated", in.duplicated}, {"delayed", in.delayed}, {"cut", in.cutMessages},
	}
	st := s.mechanisms
	for _, n := range s.nodes {
		if n.alive {
			addStats(&st, n.core.Stats())
		}
	}
	r.Mechanisms = []Count{
		{"hints-stored", int(st.HintsStored)}, {"hints-delivered", int(st.HintsDelivered)},
		{"hints-expired", int(st.HintsExpired)}, {"hints-refused", int(st.HintsDropped)},
		{"read-repairs", int(st.ReadRepairs)}, {"ae-exchanges", int(st.AESessionsFinished)},
		{"ae-keys", int(st.AEKeysRepaired)}, {"tombstones-purged", int(st.TombstonesPurged)},
		{"skewed-messages", int(st.SkewedMessages)},
	}
	counts := s.history.counts()
	for k := OpKind(0); k < opKindCount; k++ {
		c := counts[k]
		if k > OpDelete && c == [4]int{} {
			continue // the CRDT kinds, when the run had none
		}
		r.Operations = append(r.Operations, OpCount{Kind: k.String(), OK: c[OK], Fail: c[Fail], Timeout: c[Timeout]})
	}
	perModel := make([]int, len(s.models))
	for _, op := range s.history.Ops {
		if op.Final {
			r.FinalReads++
		} else {
			perModel[op.model]++
		}
	}
	for i, m := range s.models {
		r.Workload = append(r.Workload, Count{m.name(), perModel[i]})
	}
	return r
}

// dedupe merges violations with the same property, key and ops, counting them.
func dedupe(vs []Violation) []Violation {
	var out []Violation
	index := map[string]int{}
	for _, v := range vs {
		k := fmt.Sprintf("%s\x00%s\x00%v", v.Property, v.Key, v.Ops)
		if i, ok := index[k]; ok {
			out[i].Count++
			continue
		}
		v.Count = 1
		v.Ops = slices.Compact(slices.Sorted(slices.Values(v.Ops)))
		index[k] = len(out)
		out = append(out, v)
	}
	return out
}

// maxListed is how many violations (and clock losses) the text report lists.
const maxListed = 20

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "chorus sim: seed %d, %d nodes, %d keys, %d ops, faults %s, models %s", r.Seed, r.Nodes, r.Keys, r.Ops, r.Faults, r.Models)
	if r.Bug != "" {
		fmt.Fprintf(&b, ", bug %s", r.Bug)
	}
	if r.StrictLWW {
		b.WriteString(", strict LWW")
	}
	fmt.Fprintf(&b, "\nscenario: %s\n", r.Scenario)
	b.WriteString("faults injected:")
	for _, c := range r.Injected {
		fmt.Fprintf(&b, " %s=%d", c.Name, c.Count)
	}
	b.WriteString("\nworkload:")
	for _, c := range r.Workload {
		fmt.Fprintf(&b, " %s=%d", c.Name, c.Count)
	}
	b.WriteString(" ops\noperations:")
	for _, c := range r.Operations {
		fmt.Fprintf(&b, " %s ok=%d fail=%d timeout=%d;", c.Kind, c.OK, c.Fail, c.Timeout)
	}
	fmt.Fprintf(&b, " final reads=%d\n", r.FinalReads)
	b.WriteString("mechanisms:")
	for _, c := range r.Mechanisms {
		fmt.Fprintf(&b, " %s=%d", c.Name, c.Count)
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "virtual time: %s s (heal at %s s), %d events, %d messages (%d kB)\n",
		msString(r.VirtualMs), msString(r.HealAtMs), r.Events, r.Messages, (r.Bytes+512)/1024)
	if r.ConvergenceMs >= 0 {
		fmt.Fprintf(&b, "convergence: %d ms after heal\n", r.ConvergenceMs)
	} else {
		b.WriteString("convergence: not reached\n")
	}
	fmt.Fprintf(&b, "lww clock losses: %d (measured, not violations)\n", len(r.ClockLosses))
	listViolations(&b, r.ClockLosses, "  ")
	if len(r.Violations) == 0 {
		b.WriteString("violations: none\n")
	} else {
		fmt.Fprintf(&b, "violations: %d\n", len(r.Violations))
		listViolations(&b, r.Violations, "  ")
	}
	fmt.Fprintf(&b, "trace hash: %s\n", r.TraceHash)
	fmt.Fprintf(&b, "replay: %s\n", r.Replay)
	_, err := io.WriteString(w, b.String())
	return err
}

func listViolations(b *strings.Builder, vs []Violation, indent string) {
	for i, v := range vs {
		if i == maxListed {
			fmt.Fprintf(b, "%s… and %d more\n", indent, len(vs)-maxListed)
			break
		}
		fmt.Fprintf(b, "%s[%s]", indent, v.Property)
		if v.Key != "" {
			fmt.Fprintf(b, " key %s", v.Key)
		}
		if len(v.Ops) > 0 {
			fmt.Fprintf(b, " ops %v", v.Ops)
		}
		if v.Count > 1 {
			fmt.Fprintf(b, " (×%d)", v.Count)
		}
		fmt.Fprintf(b, ": %s\n", v.Detail)
	}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteHistory writes the run's history, one operation per line.
func (r *Report) WriteHistory(w io.Writer) error {
	if r.History == nil {
		return nil
	}
	var b strings.Builder
	for _, op := range r.History.Ops {
		b.WriteString(op.String())
		switch {
		case op.Outcome == OK && op.Kind == OpGet:
			fmt.Fprintf(&b, " -> %s", r.show(op))
		case op.Err != "":
			fmt.Fprintf(&b, " err=%q", op.Err)
		}
		if v, _, ok := strings.Cut(string(op.Value), "."); ok {
			fmt.Fprintf(&b, " value=%s", v)
		}
		if op.Kind.IsWrite() && op.Key.Keyspace == siblingsKeyspace {
			fmt.Fprintf(&b, " ctx=%s", op.Context)
		}
		if op.Dot.Actor != "" {
			fmt.Fprintf(&b, " dot=%s:%d", op.Dot.Actor, op.Dot.Counter)
		}
		if op.Applier != "" && op.Applier != op.Node {
			fmt.Fprintf(&b, " applied-by=%s", op.Applier)
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// addStats adds the counters the report shows.
func addStats(dst *core.Stats, st core.Stats) {
	dst.HintsStored += st.HintsStored
	dst.HintsDelivered += st.HintsDelivered
	dst.HintsExpired += st.HintsExpired
	dst.HintsDropped += st.HintsDropped
	dst.ReadRepairs += st.ReadRepairs
	dst.AESessionsFinished += st.AESessionsFinished
	dst.AEKeysRepaired += st.AEKeysRepaired
	dst.TombstonesPurged += st.TombstonesPurged
	dst.SkewedMessages += st.SkewedMessages
}

func (s *simulation) addStats(st core.Stats) { addStats(&s.mechanisms, st) }
