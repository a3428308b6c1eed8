package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"sort"
)

// MergeUnion is the merge function "union", for the Dynamo shopping cart: values are
// JSON; arrays merge as sets (the union of their elements, in a canonical order),
// objects key by key (recursively), and two different scalars, or values of different
// JSON types, keep the greater by canonical encoding, so that every replica picks the
// same. It is commutative, associative and idempotent.
//
// The known anomaly of a union cart: an item removed in one sibling and still present
// in a concurrent one comes back. An OR-set or a map CRDT keeps removals that the
// remover had observed.
func MergeUnion(values [][]byte) ([]byte, error) {
	var acc any
	for i, v := range values {
		var x any
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		if err := d.Decode(&x); err != nil {
			return nil, errors.New("values must be JSON: " + err.Error())
		}
		if d.More() {
			return nil, errors.New("values must be one JSON value each, found trailing data")
		}
		if i == 0 {
			acc = canonical(x)
			continue
		}
		acc = unionOf(acc, canonical(x))
	}
	return json.Marshal(acc)
}

// canonical sorts and deduplicates every array of x, recursively.
func canonical(x any) any {
	switch v := x.(type) {
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			out = append(out, canonical(e))
		}
		return setOf(out)
	case map[string]any:
		for k, e := range v {
			v[k] = canonical(e)
		}
		return v
	}
	return x
}

func unionOf(a, b any) any {
	switch av := a.(type) {
	case []any:
		if bv, ok := b.([]any); ok {
			return setOf(append(slices.Clone(av), bv...))
		}
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			out := make(map[string]any, len(av)+len(bv))
			for k, e := range av {
				out[k] = e
			}
			for k, e := range bv {
				if old, ok := out[k]; ok {
					out[k] = unionOf(old, e)
				} else {
					out[k] = e
				}
			}
			return out
		}
	}
	if bytes.Compare(encode(a), encode(b)) >= 0 {
		return a
	}
	return b
}

// setOf sorts elements by canonical encoding and drops duplicates.
func setOf(elems []any) []any {
	type enc struct {
		key []byte
		v   any
	}
	es := make([]enc, len(elems))
	for i, e := range elems {
		es[i] = enc{encode(e), e}
	}
	sort.SliceStable(es, func(i, j int) bool { return bytes.Compare(es[i].key, es[j].key) < 0 })
	out := make([]any, 0, len(es))
	for i, e := range es {
		if i > 0 && bytes.Equal(e.key, es[i-1].key) {
			continue
		}
		out = append(out, e.v)
	}
	return out
}

// encode is the canonical encoding (encoding/json sorts object keys).
func encode(x any) []byte {
	b, _ := json.Marshal(x)
	return b
}
