package node

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/record"
)

// Keyspace settings are cluster metadata: a map from name to settings in which each
// entry is a last-writer-wins register (stamp: wall milliseconds, then node id), so two
// copies merge by taking the newer entry per name — a CRDT map that gossip spreads by
// push/pull and broadcast, and that every node stores durably.

const metaKeyspaces = "keyspaces"

// keyspaceEntry is one keyspace's settings with its LWW stamp.
type keyspaceEntry struct {
	api.Keyspace
	StampMs int64  `json:"stamp_ms"`
	StampBy string `json:"stamp_by"`
}

func (e keyspaceEntry) newer(o keyspaceEntry) bool {
	if e.StampMs != o.StampMs {
		return e.StampMs > o.StampMs
	}
	return e.StampBy > o.StampBy
}

// keyspaceState is the node's copy of the keyspace map; it implements
// membership.StateDelegate.
type keyspaceState struct {
	n       *Node
	mu      sync.Mutex
	entries map[string]keyspaceEntry
}

func (s *keyspaceState) LocalState() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := json.Marshal(s.entries)
	return b
}

// MergeRemoteState joins a peer's map (or one update); a change is persisted and
// applied to the shards.
func (s *keyspaceState) MergeRemoteState(buf []byte) {
	var in map[string]keyspaceEntry
	if err := json.Unmarshal(buf, &in); err != nil {
		s.n.log.Warn("ignoring malformed keyspace metadata from a peer", "err", err)
		return
	}
	if s.merge(in) {
		s.n.keyspacesChanged()
	}
}

func (s *keyspaceState) merge(in map[string]keyspaceEntry) (changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, e := range in {
		if core.ValidateKeyspace(name) != nil || e.Name != name {
			continue
		}
		if cur, ok := s.entries[name]; !ok || e.newer(cur) {
			s.entries[name] = e
			changed = true
		}
	}
	return changed
}

// loadKeyspaces reads the persisted keyspace map.
func (n *Node) loadKeyspaces() error {
	n.keyspaces = &keyspaceState{n: n, entries: map[string]keyspaceEntry{}}
	v, found, err := n.engine.GetMeta(metaKeyspaces)
	if err != nil || !found {
		return err
	}
	var m map[string]keyspaceEntry
	if err := json.Unmarshal(v, &m); err != nil {
		return fmt.Errorf("keyspace metadata: %w", err)
	}
	n.keyspaces.merge(m)
	return nil
}

// keyspacesChanged persists the map and hands the settings to every shard.
func (n *Node) keyspacesChanged() {
	state := n.keyspaces.LocalState()
	if err := n.engine.Commit(&record.Batch{Meta: []record.MetaWrite{{Name: metaKeyspaces, Value: state}}}); err != nil {
		n.log.Warn("could not persist keyspace settings", "err", err)
	}
	settings := n.coreKeyspaces()
	for _, s := range n.shards {
		select {
		case s.inbox <- event{call: func(c *core.Core) { c.SetKeyspaces(settings) }}:
		case <-n.stopping:
			return
		}
	}
}

func (n *Node) coreKeyspaces() map[string]core.KeyspaceSettings {
	out := map[string]core.KeyspaceSettings{}
	for _, ks := range n.Keyspaces() {
		mode, err := core.ParseReadRepairMode(ks.ReadRepair)
		if err != nil {
			mode = n.cfg.ReadRepair
		}
		res, merge, err := core.ParseResolution(ks.Resolution)
		if err != nil {
			n.log.Error("keyspace with an unknown resolution; treating it as lww", "keyspace", ks.Name, "resolution", ks.Resolution)
		}
		out[ks.Name] = core.KeyspaceSettings{ReadRepair: mode, Resolution: res, Merge: merge, SiblingCap: ks.SiblingCap}
	}
	return out
}

func (n *Node) defaultKeyspace(name string) api.Keyspace {
	return api.Keyspace{Name: name, Resolution: "lww", ReplicationFactor: n.cfg.ReplicationFactor, ReadRepair: n.cfg.ReadRepair.String()}
}

func (n *Node) mergerNames() []string {
	var out []string
	for name := range n.cfg.Mergers {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Keyspaces lists every keyspace, "default" included, sorted by name.
func (n *Node) Keyspaces() []api.Keyspace {
	n.keyspaces.mu.Lock()
	out := []api.Keyspace{}
	seenDefault := false
	for _, e := range n.keyspaces.entries {
		out = append(out, e.Keyspace)
		seenDefault = seenDefault || e.Name == "default"
	}
	n.keyspaces.mu.Unlock()
	if !seenDefault {
		out = append(out, n.defaultKeyspace("default"))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// PutKeyspace creates or updates a keyspace and spreads the change by gossip. The
// resolution is fixed when a keyspace is created (objects already written keep the
// kind they were written with), and a replication factor other than the cluster's is
// refused (moving data to a new replica set is not built yet).
func (n *Node) PutKeyspace(ctx context.Context, ks api.Keyspace) (api.Keyspace, error) {
	if err := core.ValidateKeyspace(ks.Name); err != nil {
		return api.Keyspace{}, err
	}
	cur, exists := n.defaultKeyspace(ks.Name), false
	for _, e := range n.Keyspaces() {
		if e.Name == ks.Name {
			cur, exists = e, true
		}
	}
	if ks.Resolution == "" {
		ks.Resolution = cur.Resolution
	}
	if ks.ReplicationFactor == 0 {
		ks.ReplicationFactor = cur.ReplicationFactor
	}
	if ks.ReadRepair == "" {
		ks.ReadRepair = cur.ReadRepair
	}
	if ks.SiblingCap == 0 {
		ks.SiblingCap = cur.SiblingCap
	}
	res, merge, err := core.ParseResolution(ks.Resolution)
	if err != nil {
		return api.Keyspace{}, err
	}
	if res == core.ResolutionMerge && n.cfg.Mergers[merge] == nil {
		return api.Keyspace{}, fmt.Errorf("%w no merge function %q is registered (available: %s)", core.ErrBadRequest, merge, strings.Join(n.mergerNames(), ", "))
	}
	if (exists || ks.Name == "default") && ks.Resolution != cur.Resolution {
		return api.Keyspace{}, fmt.Errorf("%w changing the resolution of keyspace %q from %s to %s is refused: keys already written keep theirs; create a new keyspace", core.ErrBadRequest, ks.Name, cur.Resolution, ks.Resolution)
	}
	if ks.SiblingCap < 0 {
		return api.Keyspace{}, fmt.Errorf("%w sibling_cap must not be negative", core.ErrBadRequest)
	}
	if ks.ReplicationFactor != cur.ReplicationFactor {
		return api.Keyspace{}, fmt.Errorf("%w changing the replication factor of keyspace %q from %d to %d is refused: moving data to a new replica set is not implemented", core.ErrBadRequest, ks.Name, cur.ReplicationFactor, ks.ReplicationFactor)
	}
	if _, err := core.ParseReadRepairMode(ks.ReadRepair); err != nil {
		return api.Keyspace{}, err
	}
	e := keyspaceEntry{Keyspace: ks, StampMs: time.Now().UnixMilli(), StampBy: n.id}
	update, _ := json.Marshal(map[string]keyspaceEntry{ks.Name: e})
	if n.keyspaces.merge(map[string]keyspaceEntry{ks.Name: e}) {
		n.keyspacesChanged()
	}
	if n.gossip != nil {
		n.gossip.Broadcast(update)
	}
	return ks, nil
}
