package membership

import (
	"slices"
	"strings"
	"sync"
)

// Static is an in-memory View whose members and statuses are set by hand, for tests
// and the simulator. It is deterministic: nothing changes unless Set or Add is
// called, and Subscribe callbacks run synchronously on the goroutine that made the
// change, before Set or Add returns, in registration order. A callback may itself
// call Set or Add: the nested change is reported by running the callbacks again
// once the current round finishes, still before the outermost Set or Add returns.
// If another goroutine is already running the callbacks when a change is made, that
// goroutine runs them again and the change's own Set or Add returns at once; so
// callbacks never run concurrently with each other. All methods are safe for
// concurrent use.
type Static struct {
	mu      sync.Mutex
	members map[string]Member
	subs    []func()

	notifying bool // some goroutine is running the callbacks
	pending   bool // a change arrived while they ran
}

var _ View = (*Static)(nil)

// NewStatic returns a Static view holding members (a later duplicate id replaces an
// earlier one), each with the status it carries.
func NewStatic(members ...Member) *Static {
	s := &Static{members: make(map[string]Member, len(members))}
	for _, m := range members {
		s.members[m.ID] = m
	}
	return s
}

// Members returns the members sorted by id.
func (s *Static) Members() []Member {
	s.mu.Lock()
	out := make([]Member, 0, len(s.members))
	for _, m := range s.members {
		out = append(out, m)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Subscribe registers fn, called synchronously after every change made by Set or
// Add (see Static).
func (s *Static) Subscribe(fn func()) {
	s.mu.Lock()
	s.subs = append(s.subs, fn)
	s.mu.Unlock()
}

// Set changes the status of member id and notifies the subscribers if it changed.
// Setting the status of a member that is not in the view is a bug: Set panics.
func (s *Static) Set(id string, st Status) {
	s.mu.Lock()
	m, ok := s.members[id]
	if !ok {
		s.mu.Unlock()
		panic("membership: Static.Set of unknown member " + id)
	}
	changed := m.Status != st
	m.Status = st
	s.members[id] = m
	s.mu.Unlock()
	if changed {
		s.notify()
	}
}

// Add adds m, or replaces the member with its id, and notifies the subscribers if
// anything changed.
func (s *Static) Add(m Member) {
	s.mu.Lock()
	old, ok := s.members[m.ID]
	s.members[m.ID] = m
	s.mu.Unlock()
	if !ok || old != m {
		s.notify()
	}
}

// notify runs the callbacks, or asks the goroutine already running them to run
// them again.
func (s *Static) notify() {
	s.mu.Lock()
	if s.notifying {
		s.pending = true
		s.mu.Unlock()
		return
	}
	s.notifying = true
	for {
		s.pending = false
		subs := slices.Clone(s.subs)
		s.mu.Unlock()
		for _, fn := range subs {
			fn()
		}
		s.mu.Lock()
		if !s.pending {
			break
		}
	}
	s.notifying = false
	s.mu.Unlock()
}
