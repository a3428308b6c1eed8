package version

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"sort"
	"strings"
)

// Dot names one write: the actor (node) that coordinated it and that actor's counter
// at the time. A dot is issued once, never reused, even across restarts.
type Dot struct {
	Actor   string
	Counter uint64
}

// IsZero reports whether d is the zero dot (no actor).
func (d Dot) IsZero() bool { return d.Actor == "" && d.Counter == 0 }

// Vector is a version vector: for each actor, the highest counter seen, kept sorted by
// actor with no zero entries. The nil Vector is the empty vector. Methods never modify
// their receiver; they return new vectors.
type Vector []Dot

// Get returns the counter recorded for actor (0 if none).
func (v Vector) Get(actor string) uint64 {
	i := sort.Search(len(v), func(i int) bool { return v[i].Actor >= actor })
	if i < len(v) && v[i].Actor == actor {
		return v[i].Counter
	}
	return 0
}

// Contains reports whether the vector has seen dot d.
func (v Vector) Contains(d Dot) bool { return d.Counter <= v.Get(d.Actor) }

// Add returns v with d included (counter raised to at least d.Counter). A dot with a
// zero counter adds nothing.
func (v Vector) Add(d Dot) Vector {
	if d.Counter == 0 {
		return v.Join(nil)
	}
	return v.Join(Vector{d})
}

// Join returns the entry-wise maximum of v and o.
func (v Vector) Join(o Vector) Vector {
	out := make(Vector, 0, len(v)+len(o))
	i, j := 0, 0
	for i < len(v) || j < len(o) {
		switch {
		case j == len(o) || (i < len(v) && v[i].Actor < o[j].Actor):
			out = append(out, v[i])
			i++
		case i == len(v) || o[j].Actor < v[i].Actor:
			out = append(out, o[j])
			j++
		default:
			c := v[i].Counter
			if o[j].Counter > c {
				c = o[j].Counter
			}
			out = append(out, Dot{Actor: v[i].Actor, Counter: c})
			i++
			j++
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Descends reports whether v has seen everything o has (v ≥ o entry-wise).
func (v Vector) Descends(o Vector) bool {
	for _, d := range o {
		if v.Get(d.Actor) < d.Counter {
			return false
		}
	}
	return true
}

// Compare orders two vectors: -1 if v < o, 1 if v > o, 0 if equal, and concurrent=true
// when neither descends the other.
func (v Vector) Compare(o Vector) (order int, concurrent bool) {
	vo, ov := v.Descends(o), o.Descends(v)
	switch {
	case vo && ov:
		return 0, false
	case vo:
		return 1, false
	case ov:
		return -1, false
	default:
		return 0, true
	}
}

// Normalize returns v sorted by actor with duplicate actors joined and zero entries
// dropped; decoders call it so that every Vector in memory is canonical.
// It takes O(n log n) time and one allocation, however many entries v has.
func Normalize(v Vector) Vector {
	out := make(Vector, 0, len(v))
	for _, d := range v {
		if d.Counter > 0 {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.SortFunc(out, func(a, b Dot) int { return strings.Compare(a.Actor, b.Actor) })
	w := 0
	for _, d := range out {
		if w > 0 && out[w-1].Actor == d.Actor {
			out[w-1].Counter = max(out[w-1].Counter, d.Counter)
			continue
		}
		out[w] = d
		w++
	}
	return out[:w]
}

// String renders the vector as {a:1,b:2}.
func (v Vector) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, d := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d.Actor)
		b.WriteByte(':')
		b.WriteString(uitoa(d.Counter))
	}
	b.WriteByte('}')
	return b.String()
}

func uitoa(u uint64) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	return string(buf[i:])
}

// EncodeContext renders a causal context as an opaque URL-safe token for clients
// (HTTP header X-Chorus-Context, RESP replies). The empty vector encodes as "".
func EncodeContext(v Vector) string {
	if len(v) == 0 {
		return ""
	}
	var buf []byte
	for _, d := range v {
		buf = binary.AppendUvarint(buf, uint64(len(d.Actor)))
		buf = append(buf, d.Actor...)
		buf = binary.AppendUvarint(buf, d.Counter)
	}
	return base64.RawURLEncoding.EncodeToString(buf)
}

// ErrBadContext is returned by DecodeContext for a token it did not produce.
var ErrBadContext = errors.New("version: malformed causal context")

// DecodeContext parses a token made by EncodeContext.
func DecodeContext(s string) (Vector, error) {
	if s == "" {
		return nil, nil
	}
	buf, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadContext
	}
	var v Vector
	for len(buf) > 0 {
		n, k := binary.Uvarint(buf)
		if k <= 0 || n > uint64(len(buf)-k) {
			return nil, ErrBadContext
		}
		actor := string(buf[k : k+int(n)])
		buf = buf[k+int(n):]
		c, k := binary.Uvarint(buf)
		if k <= 0 {
			return nil, ErrBadContext
		}
		buf = buf[k:]
		v = append(v, Dot{Actor: actor, Counter: c})
	}
	return Normalize(v), nil
}
