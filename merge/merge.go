// Package merge is where Go programs that embed Chorus register application merge
// rules: the functions a keyspace with resolution "merge:NAME" uses to merge the
// concurrent versions (siblings) of a key into one value.
//
// Register a function before any node starts (in an init function, or at the top of
// main, before cli.Main — see examples/embed), and register the same functions on
// every node of a cluster:
//
//	func init() {
//		merge.Register("maxbid", func(values [][]byte) ([]byte, error) {
//			// values are the live siblings' bytes; return the one merged value
//		})
//	}
//
// A merge function must be deterministic and, because replicas merge in any order and
// any grouping, commutative and associative, and must accept its own output as an
// input. It gets at least one value (one: it may check or normalise a new write). An
// error fails the write that needed the merge, with the error's text.
//
// "union" is built in: JSON arrays merge as sets, objects key by key (recursively),
// different scalars keep the greater. An item removed in one version and still present
// in a concurrent one comes back under union; a CRDT map (POST /v1/crdt) avoids that.
package merge

import (
	"fmt"
	"sort"
	"sync"

	"github.com/chorusdb/chorus/internal/core"
)

// Func merges the values of a key's concurrent siblings into one.
type Func func(values [][]byte) ([]byte, error)

// Union is the built-in "union" merge function.
func Union(values [][]byte) ([]byte, error) { return core.MergeUnion(values) }

var (
	mu  sync.Mutex
	fns = map[string]Func{"union": Union}
)

// Register makes f available as resolution "merge:"+name to nodes started afterwards
// in this process. It panics if name is empty or taken, or f is nil: registration is
// program setup, and a clash is a programming error.
func Register(name string, f Func) {
	mu.Lock()
	defer mu.Unlock()
	if name == "" || f == nil {
		panic("merge: Register with an empty name or a nil function")
	}
	if _, taken := fns[name]; taken {
		panic(fmt.Sprintf("merge: %q is already registered", name))
	}
	fns[name] = f
}

// Names lists the registered functions, sorted.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	out := make([]string, 0, len(fns))
	for n := range fns {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the function registered under name.
func Lookup(name string) (Func, bool) {
	mu.Lock()
	defer mu.Unlock()
	f, ok := fns[name]
	return f, ok
}
