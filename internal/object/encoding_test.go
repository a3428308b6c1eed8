package object

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"pgregory.net/rapid"

	"github.com/chorusdb/chorus/internal/version"
)

// genEncodable draws any object the encoding must carry: any kind, a canonical
// context, siblings with arbitrary fields.
func genEncodable() *rapid.Generator[Object] {
	actor := rapid.OneOf(
		rapid.SampledFrom([]string{"", "a", "node-1", "node-2"}),
		rapid.String(),
		rapid.Map(rapid.SliceOfN(rapid.Byte(), maxActorLen, maxActorLen), func(b []byte) string { return string(b) }),
	)
	dot := rapid.Custom(func(t *rapid.T) version.Dot {
		return version.Dot{Actor: actor.Draw(t, "actor"), Counter: rapid.Uint64().Draw(t, "counter")}
	})
	sibling := rapid.Custom(func(t *rapid.T) Sibling {
		return Sibling{
			Value:     rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "value"),
			Dot:       dot.Draw(t, "dot"),
			Timestamp: version.Timestamp(rapid.Uint64().Draw(t, "ts")),
			Tombstone: rapid.Bool().Draw(t, "tombstone"),
			ExpiresAt: rapid.OneOf(rapid.Just(int64(0)), rapid.Int64()).Draw(t, "expires"),
		}
	})
	return rapid.Custom(func(t *rapid.T) Object {
		return Object{
			Kind:     rapid.SampledFrom([]Kind{KindRegister, KindCounter, KindSet}).Draw(t, "kind"),
			Siblings: rapid.SliceOfN(sibling, 0, 5).Draw(t, "siblings"),
			Context:  version.Normalize(rapid.SliceOfN(dot, 0, 5).Draw(t, "context")),
		}
	})
}

func TestEncodeRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		o := genEncodable().Draw(t, "object")
		buf := Encode(o)
		got, err := Decode(buf)
		if err != nil {
			t.Fatalf("Decode(Encode(%s)): %v", show(o), err)
		}
		if !Equal(got, o) {
			t.Fatalf("round trip:\n got  %s\n want %s", show(got), show(o))
		}
		if Digest(got) != Digest(o) {
			t.Fatalf("digest changed across a round trip")
		}
		prefix := []byte("prefix")
		if app := Append(prefix, o); !bytes.Equal(app[:len(prefix)], []byte("prefix")) || !bytes.Equal(app[len(prefix):], buf) {
			t.Fatalf("Append(prefix, o) != prefix + Encode(o)")
		}
		// Decode copies values: reusing the buffer must not change the object.
		clear(buf)
		if !Equal(got, o) {
			t.Fatalf("decoded object shares the input buffer")
		}
	})
}

func TestDecodeRejectsPrefixes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		buf := Encode(genEncodable().Draw(t, "object"))
		for n := 0; n < len(buf); n++ {
			if o, err := Decode(buf[:n]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decode of %d of %d bytes = %s, %v; want ErrCorrupt", n, len(buf), show(o), err)
			}
		}
		if _, err := Decode(append(buf, 0)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Decode with a trailing byte: %v, want ErrCorrupt", err)
		}
	})
}

// uv appends uvarints.
func uv(b []byte, vs ...uint64) []byte {
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

// corruptInputs are hand-made encodings, each wrong in one way.
func corruptInputs() map[string][]byte {
	head := []byte{formatVersion, byte(KindRegister)}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	sib := func(flags byte) []byte {
		return cat([]byte{flags}, uv(nil, 7, 1), []byte("a"), uv(nil, 1, 1), []byte("v"))
	}
	return map[string][]byte{
		"empty":                  {},
		"version only":           {formatVersion},
		"unknown version":        {2, 0, 0, 0},
		"unknown kind":           {formatVersion, 3, 0, 0},
		"no counts":              head,
		"huge context count":     uv(cat(head), 1<<63),
		"huge sibling count":     uv(cat(head), 0, 1<<40),
		"count just too big":     cat(uv(cat(head), 0, 2), sib(0)),
		"huge actor length":      uv(cat(head), 1, 1<<50),
		"actor over the limit":   cat(uv(cat(head), 1, maxActorLen+1), make([]byte, maxActorLen+1), uv(nil, 1, 0)),
		"huge value length":      cat(uv(cat(head), 0, 1), []byte{0}, uv(nil, 7, 1), []byte("a"), uv(nil, 1, 1<<62)),
		"varint overflow":        cat(head, bytes.Repeat([]byte{0xff}, 10), []byte{1}),
		"unterminated varint":    cat(head, []byte{0x80, 0x80}),
		"unknown flag":           cat(uv(cat(head), 0, 1), sib(0x80)),
		"expiry flag, no expiry": cat(uv(cat(head), 0, 1), []byte{flagExpires}, uv(nil, 7, 1), []byte("a"), uv(nil, 1)),
		"trailing bytes":         cat(uv(cat(head), 0, 1), sib(0), []byte{0}),
	}
}

func TestDecodeRejectsCorrupt(t *testing.T) {
	for name, buf := range corruptInputs() {
		if o, err := Decode(buf); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Decode = %s, %v; want ErrCorrupt", name, show(o), err)
		}
	}
	// The same builders make a valid object when nothing is wrong.
	ok := uv([]byte{formatVersion, 0}, 0, 1)
	ok = append(ok, 0)
	ok = uv(ok, 7, 1)
	ok = append(ok, 'a')
	ok = uv(ok, 1, 1)
	ok = append(ok, 'v')
	if _, err := Decode(ok); err != nil {
		t.Errorf("valid hand-made encoding: %v", err)
	}
}

// allocatedBytes returns the bytes the heap allocated while f ran.
func allocatedBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecodeMemoryFollowsInput checks that declared lengths cannot make Decode
// allocate: a corrupt input costs about nothing, and the densest valid inputs (every
// dot and sibling as small as the format allows) cost a bounded multiple of their size
// (one Dot is 24 bytes in memory for 2 on the wire, one Sibling 72 for 5; a context
// that is not canonical is copied once more by Normalize: measured 24× and 14.4×).
func TestDecodeMemoryFollowsInput(t *testing.T) {
	for name, buf := range corruptInputs() {
		if n := allocatedBytes(func() { Decode(buf) }); n > 4096 {
			t.Errorf("%s: Decode of %d bytes allocated %d bytes", name, len(buf), n)
		}
	}
	const k = 100_000
	dense := map[string][]byte{
		"dense context":  append(uv([]byte{formatVersion, 0}, k), bytes.Repeat([]byte{0, 1}, k)...),
		"dense siblings": append(uv([]byte{formatVersion, 0}, 0, k), bytes.Repeat([]byte{0, 0, 0, 0, 0}, k)...),
	}
	dense["dense context"] = uv(dense["dense context"], 0)
	for name, buf := range dense {
		if _, err := Decode(buf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n := allocatedBytes(func() { Decode(buf) })
		t.Logf("%s: %d bytes in, %d allocated (%.1f×)", name, len(buf), n, float64(n)/float64(len(buf)))
		if n > 25*uint64(len(buf)) {
			t.Errorf("%s: Decode of %d bytes allocated %d bytes", name, len(buf), n)
		}
	}
}

func TestEncodeLongActor(t *testing.T) {
	// Append cannot refuse an actor longer than the decoder accepts; such an object
	// must at least fail to decode cleanly rather than decode wrong.
	o := Object{Siblings: []Sibling{{Dot: version.Dot{Actor: string(make([]byte, maxActorLen+1)), Counter: 1}}}}
	if _, err := Decode(Encode(o)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Decode of an over-long actor: %v, want ErrCorrupt", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, o := range []Object{
		{},
		{Kind: KindCounter},
		{Siblings: []Sibling{{Value: []byte("hello"), Dot: version.Dot{Actor: "n1", Counter: 3}, Timestamp: version.MakeTimestamp(1_700_000_000_000, 2)}},
			Context: version.Vector{{Actor: "n1", Counter: 3}}},
		{Kind: KindSet, Siblings: []Sibling{
			{Tombstone: true, Dot: version.Dot{Actor: "a", Counter: 1}, Timestamp: 5},
			{Value: []byte("x"), Dot: version.Dot{Actor: "b", Counter: 9}, ExpiresAt: 1 << 40},
			{Value: []byte{}, ExpiresAt: -1},
		}, Context: version.Vector{{Actor: "a", Counter: 2}, {Actor: "b", Counter: 9}}},
	} {
		f.Add(Encode(o))
	}
	for _, buf := range corruptInputs() {
		f.Add(buf)
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		o, err := Decode(buf)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decode error %v is not ErrCorrupt", err)
			}
			return
		}
		again, err := Decode(Encode(o))
		if err != nil || !Equal(again, o) {
			t.Fatalf("re-encoding %s decodes as %s, %v", show(o), show(again), err)
		}
		if !bytes.Equal(Encode(again), Encode(o)) {
			t.Fatalf("encoding of a decoded object is not stable")
		}
	})
}

func benchObject(siblings int) Object {
	o := Object{Context: version.Vector{{Actor: "node-1", Counter: 1041}, {Actor: "node-2", Counter: 88}, {Actor: "node-3", Counter: 7}}}
	for i := 0; i < siblings; i++ {
		o.Siblings = append(o.Siblings, Sibling{
			Value:     bytes.Repeat([]byte("v"), 100),
			Dot:       o.Context[i%3],
			Timestamp: version.MakeTimestamp(1_700_000_000_000+int64(i), 0),
		})
	}
	return o
}

func BenchmarkEncode(b *testing.B) {
	for _, n := range []int{1, 3} {
		o := benchObject(n)
		b.Run(map[int]string{1: "1sibling", 3: "3siblings"}[n]+"/Append", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 1024)
			for b.Loop() {
				buf = Append(buf[:0], o)
			}
			b.SetBytes(int64(len(buf)))
		})
		b.Run(map[int]string{1: "1sibling", 3: "3siblings"}[n]+"/Encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Encode(o)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, n := range []int{1, 3} {
		buf := Encode(benchObject(n))
		b.Run(map[int]string{1: "1sibling", 3: "3siblings"}[n], func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if _, err := Decode(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDigest(b *testing.B) {
	o := benchObject(1)
	b.ReportAllocs()
	for b.Loop() {
		Digest(o)
	}
}
