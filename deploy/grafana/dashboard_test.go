package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/node"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/testutil"
)

// panel is the part of a Grafana panel the test checks.
type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasource              `json:"datasource"`
	GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
	Targets    []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("chorus.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("chorus.json: %v", err)
	}
	return d
}

// TestDashboardShape checks what Grafana needs to import the dashboard and what makes
// it portable: a data source variable every query uses, a node variable, unique panel
// ids, panels inside the 24-column grid and not overlapping.
func TestDashboardShape(t *testing.T) {
	d := loadDashboard(t)
	if d.Title == "" || d.UID == "" || d.SchemaVersion == 0 {
		t.Errorf("title %q, uid %q, schemaVersion %d: all are needed", d.Title, d.UID, d.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Type == "datasource" && string(v.Query) != `"prometheus"` {
			t.Errorf("variable %s: query %s, want \"prometheus\"", v.Name, v.Query)
		}
	}
	if vars["datasource"] != "datasource" {
		t.Errorf("no data source variable named datasource: %v", vars)
	}
	if vars["instance"] != "query" {
		t.Errorf("no query variable named instance: %v", vars)
	}
	ids := map[int]string{}
	panels := allPanels(d.Panels)
	for i, p := range panels {
		for _, q := range panels[:i] {
			a, b := p.GridPos, q.GridPos
			if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
				t.Errorf("panels %q and %q overlap: %+v, %+v", p.Title, q.Title, a, b)
			}
		}
		if prev, dup := ids[p.ID]; dup || p.ID == 0 {
			t.Errorf("panel %q: id %d (also %q)", p.Title, p.ID, prev)
		}
		ids[p.ID] = p.Title
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v, want uid ${datasource}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource != nil && tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q query %s: datasource %+v, want uid ${datasource}", p.Title, tg.RefID, tg.Datasource)
			}
			if !strings.Contains(tg.Expr, `instance=~"$instance"`) {
				t.Errorf("panel %q query %s does not filter on $instance: %s", p.Title, tg.RefID, tg.Expr)
			}
			if err := balanced(tg.Expr); err != nil {
				t.Errorf("panel %q query %s: %v: %s", p.Title, tg.RefID, err, tg.Expr)
			}
		}
	}
}

// TestDashboardMetricsExist starts a two-node cluster in process, gathers what its
// registries hold, and checks every metric (and every label) the dashboard's queries
// name against it. It also lists the registered metrics no panel shows.
func TestDashboardMetricsExist(t *testing.T) {
	d := loadDashboard(t)
	known := registeredMetrics(t)
	used := map[string]bool{}
	for _, q := range dashboardQueries(d) {
		names := metricRE.FindAllString(q.expr, -1)
		if len(names) == 0 {
			t.Errorf("%s: no chorus_ metric in %s", q.where, q.expr)
		}
		labelsInExpr := map[string]bool{"job": true, "instance": true}
		for _, name := range names {
			used[name] = true
			labels, ok := known[name]
			if !ok {
				t.Errorf("%s: metric %s is not registered by a node (%s)", q.where, name, q.expr)
				continue
			}
			for l := range labels {
				labelsInExpr[l] = true
			}
		}
		for _, m := range selectorRE.FindAllStringSubmatch(q.expr, -1) {
			labels, ok := known[m[1]]
			if !ok {
				continue
			}
			for _, lm := range matcherRE.FindAllStringSubmatch(m[2], -1) {
				if l := lm[1]; l != "job" && l != "instance" && !labels[l] {
					t.Errorf("%s: %s has no label %q (%s)", q.where, m[1], l, q.expr)
				}
			}
		}
		for _, m := range byRE.FindAllStringSubmatch(q.expr, -1) {
			for _, l := range strings.Split(m[1], ",") {
				if l = strings.TrimSpace(l); l != "" && !labelsInExpr[l] {
					t.Errorf("%s: grouping by %q, a label none of its metrics has (%s)", q.where, l, q.expr)
				}
			}
		}
	}
	usedFamilies := map[string]bool{}
	for name := range used {
		usedFamilies[family(known, name)] = true
	}
	var unused []string
	for name := range known {
		if f := family(known, name); !usedFamilies[f] && !slices.Contains(unused, f) {
			unused = append(unused, f)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Logf("registered metrics no panel shows: %s", strings.Join(unused, ", "))
	}
}

// TestOperationsGuideListsEveryMetric: docs/operations.md explains every metric a node
// registers (add a line there when adding a metric), and names no metric that does not
// exist (its alert rules included).
func TestOperationsGuideListsEveryMetric(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	known := registeredMetrics(t)
	documented := map[string]bool{}
	for _, name := range metricRE.FindAllString(string(doc), -1) {
		documented[family(known, name)] = true
		if _, ok := known[name]; !ok && family(known, name) == name && known[name+"_bucket"] == nil {
			t.Errorf("docs/operations.md names %s, which no node registers", name)
		}
	}
	for name := range known {
		if f := family(known, name); !documented[f] {
			t.Errorf("metric %s is not described in docs/operations.md", f)
		}
	}
}

// family returns the metric family a series name belongs to: a histogram's _bucket,
// _sum and _count series belong to the histogram.
func family(known map[string]map[string]bool, name string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && known[base+"_bucket"] != nil {
			return base
		}
	}
	return name
}

var (
	metricRE   = regexp.MustCompile(`\bchorus_[a-zA-Z0-9_]*[a-zA-Z0-9]`)
	selectorRE = regexp.MustCompile(`\b(chorus_[a-zA-Z0-9_]+)\{([^}]*)\}`)
	matcherRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	byRE       = regexp.MustCompile(`\b(?:by|without|on|ignoring)\s*\(([^)]*)\)`)
)

type query struct{ where, expr string }

// dashboardQueries returns every PromQL expression of the dashboard: panel queries and
// query variables.
func dashboardQueries(d dashboard) []query {
	var qs []query
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			qs = append(qs, query{fmt.Sprintf("panel %q query %s", p.Title, tg.RefID), tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			qs = append(qs, query{"variable " + v.Name, v.Definition})
		}
	}
	return qs
}

func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// balanced reports unbalanced brackets or quotes in a PromQL expression.
func balanced(expr string) error {
	var stack []rune
	inString := false
	for _, r := range expr {
		if inString {
			if r == '"' {
				inString = false
			}
			continue
		}
		switch r {
		case '"':
			inString = true
		case '(', '{', '[':
			stack = append(stack, r)
		case ')', '}', ']':
			open := map[rune]rune{')': '(', '}': '{', ']': '['}[r]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return fmt.Errorf("unbalanced %q", r)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if inString || len(stack) > 0 {
		return fmt.Errorf("unclosed %q", string(stack))
	}
	return nil
}

var registered map[string]map[string]bool

// registeredMetrics returns the series names two real nodes (pebble storage, gRPC
// transport, gossip) expose once they have served requests to each other, with the
// label names of each; a histogram contributes its _bucket (with le), _sum and _count
// series. The cluster is started once per test binary.
func registeredMetrics(t *testing.T) map[string]map[string]bool {
	t.Helper()
	if registered != nil {
		return registered
	}
	ports := testutil.FreePorts(t, 4)
	var nodes []*node.Node
	var regs []*prometheus.Registry
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Close()
		}
	})
	for i := range 2 {
		cfg := node.DefaultConfig()
		cfg.NodeID = fmt.Sprintf("n%d", i)
		cfg.DataDir = t.TempDir()
		cfg.Durability = "nosync"
		cfg.GossipAddr = fmt.Sprintf("127.0.0.1:%d", ports[2*i])
		cfg.RPCAddr = fmt.Sprintf("127.0.0.1:%d", ports[2*i+1])
		cfg.ReplicationFactor = 2
		cfg.FastGossip = true
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.Registry = prometheus.NewRegistry()
		if i > 0 {
			cfg.Join = []string{fmt.Sprintf("127.0.0.1:%d", ports[0])}
		}
		n, err := node.Start(cfg)
		if err != nil {
			t.Fatalf("start n%d: %v", i, err)
		}
		nodes = append(nodes, n)
		regs = append(regs, cfg.Registry)
	}

	// Requests at ALL through each node make both coordinate (request metrics) and hear
	// from the other (clock offsets, labelled by peer).
	families := func() map[string]*dto.MetricFamily {
		out := map[string]*dto.MetricFamily{}
		for _, reg := range regs {
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatalf("Gather: %v", err)
			}
			for _, mf := range mfs {
				if prev, ok := out[mf.GetName()]; ok {
					prev.Metric = append(prev.Metric, mf.Metric...)
				} else {
					out[mf.GetName()] = mf
				}
			}
		}
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		for i, n := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			key := object.Key{Keyspace: "default", Key: fmt.Sprintf("k%d", i)}
			r := n.Do(ctx, core.Request{Op: core.OpPut, Key: key, Value: []byte("v"), Level: core.All})
			if r.Err == nil {
				r = n.Do(ctx, core.Request{Op: core.OpGet, Key: key, Level: core.All})
			}
			cancel()
			ok = ok && r.Err == nil
		}
		fs := families()
		if mf := fs["chorus_clock_offset_seconds"]; ok && mf != nil && len(mf.Metric) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the two nodes did not serve requests at ALL within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}

	out := map[string]map[string]bool{}
	add := func(name string, labels map[string]bool) {
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		for l := range labels {
			out[name][l] = true
		}
	}
	for name, mf := range families() {
		if !strings.HasPrefix(name, "chorus_") {
			continue
		}
		labels := map[string]bool{}
		for _, m := range mf.Metric {
			for _, lp := range m.Label {
				labels[lp.GetName()] = true
			}
		}
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM:
			add(name+"_sum", labels)
			add(name+"_count", labels)
			labels["le"] = true
			add(name+"_bucket", labels)
		case dto.MetricType_SUMMARY:
			add(name+"_sum", labels)
			add(name+"_count", labels)
			labels["quantile"] = true
			add(name, labels)
		default:
			add(name, labels)
		}
	}
	for _, want := range []string{"chorus_members", "chorus_transport_messages_dropped_total", "chorus_storage_disk_bytes", "chorus_requests_total"} {
		if _, ok := out[want]; !ok {
			t.Fatalf("the cluster does not register %s; it has %v", want, slices.Sorted(maps.Keys(out)))
		}
	}
	registered = out
	return out
}
