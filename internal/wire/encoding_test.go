package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand"
	"reflect"
	"runtime"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// genDot draws a dot from a small set of actors so that vectors have repeats.
func genDot(t *rapid.T, label string) version.Dot {
	return version.Dot{
		Actor:   rapid.SampledFrom([]string{"", "a", "node-1", "node-2", "ñødé-∞"}).Draw(t, label+".actor"),
		Counter: rapid.Uint64().Draw(t, label+".counter"),
	}
}

// genObject draws an object in the canonical form that object.Decode produces: a
// normalized context, and nil rather than empty values.
func genObject(t *rapid.T) object.Object {
	var o object.Object
	o.Kind = rapid.SampledFrom([]object.Kind{object.KindRegister, object.KindSiblings, object.KindCounter, object.KindSet}).Draw(t, "kind")
	nctx := rapid.IntRange(0, 4).Draw(t, "nctx")
	for i := 0; i < nctx; i++ {
		o.Context = append(o.Context, genDot(t, "ctx"))
	}
	o.Context = version.Normalize(o.Context)
	nsib := rapid.IntRange(0, 3).Draw(t, "nsib")
	for i := 0; i < nsib; i++ {
		s := object.Sibling{
			Dot:       genDot(t, "dot"),
			Timestamp: version.Timestamp(rapid.Uint64().Draw(t, "ts")),
			Tombstone: rapid.Bool().Draw(t, "tombstone"),
			ExpiresAt: rapid.Int64().Draw(t, "expires"),
			Value:     rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "value"),
		}
		if len(s.Value) == 0 {
			s.Value = nil
		}
		o.Siblings = append(o.Siblings, s)
	}
	return o
}

func genMessage(t *rapid.T) Message {
	m := Message{
		Type:  Type(rapid.IntRange(int(PutReq), int(typeCount)-1).Draw(t, "type")),
		From:  rapid.String().Draw(t, "from"),
		To:    rapid.String().Draw(t, "to"),
		ID:    rapid.Uint64().Draw(t, "id"),
		Clock: version.Timestamp(rapid.Uint64().Draw(t, "clock")),
		Found: rapid.Bool().Draw(t, "found"),
		Err:   rapid.String().Draw(t, "err"),
	}
	if rapid.Bool().Draw(t, "hasKey") {
		m.Key = object.Key{Keyspace: rapid.String().Draw(t, "keyspace"), Key: rapid.StringN(0, 200, -1).Draw(t, "key")}
	}
	if rapid.Bool().Draw(t, "hasObject") {
		m.Object = genObject(t)
	}
	if rapid.Bool().Draw(t, "hasWall") {
		m.WallMs = rapid.Int64().Draw(t, "wall")
	}
	if m.Type == FwdReq || m.Type == FwdResp {
		m.Fwd = &Fwd{
			Op: rapid.Uint8().Draw(t, "op"), Level: rapid.Uint8().Draw(t, "level"),
			TTLMs: rapid.Int64().Draw(t, "ttl"), Acks: rapid.Uint32().Draw(t, "acks"),
		}
		if v := rapid.SliceOfN(rapid.Byte(), 0, 50).Draw(t, "value"); len(v) > 0 {
			m.Fwd.Value = v
		}
		if c := rapid.SliceOfN(rapid.Byte(), 0, 20).Draw(t, "crdt"); len(c) > 0 {
			m.Fwd.CRDT = c
		}
		for range rapid.IntRange(0, 3).Draw(t, "nctx") {
			m.Fwd.Context = append(m.Fwd.Context, genDot(t, "fctx"))
		}
		m.Fwd.Context = version.Normalize(m.Fwd.Context)
		if rapid.Bool().Draw(t, "hasBefore") {
			m.Fwd.Before = genObject(t)
		}
	}
	return m
}

// equalMessages compares messages field by field (object.Equal treats nil and empty
// values alike).
func equalMessages(a, b Message) bool {
	return a.Type == b.Type && a.From == b.From && a.To == b.To && a.ID == b.ID &&
		a.Clock == b.Clock && a.Key == b.Key && a.Found == b.Found && a.Err == b.Err &&
		object.Equal(a.Object, b.Object) && a.WallMs == b.WallMs && equalFwd(a.Fwd, b.Fwd)
}

func equalFwd(a, b *Fwd) bool {
	if a == nil || b == nil {
		return (a == nil || a.Op == 0 && len(a.Value) == 0) && (b == nil || b.Op == 0 && len(b.Value) == 0)
	}
	return a.Op == b.Op && a.Level == b.Level && a.TTLMs == b.TTLMs && bytes.Equal(a.Value, b.Value) &&
		slices.Equal(a.Context, b.Context) && bytes.Equal(a.CRDT, b.CRDT) && a.Acks == b.Acks && object.Equal(a.Before, b.Before)
}

func TestRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := genMessage(t)
		prefix := rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "prefix")
		buf := Append(append([]byte(nil), prefix...), m)
		if !bytes.Equal(buf[:len(prefix)], prefix) {
			t.Fatalf("Append clobbered dst")
		}
		got, err := Decode(buf[len(prefix):])
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if !equalMessages(m, got) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
		}
		if again := Append(nil, got); !bytes.Equal(again, buf[len(prefix):]) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func sampleMessages() []Message {
	obj := object.Object{
		Kind:     object.KindRegister,
		Context:  version.Vector{{Actor: "node-1", Counter: 42}},
		Siblings: []object.Sibling{{Value: []byte("hello, world"), Dot: version.Dot{Actor: "node-1", Counter: 42}, Timestamp: version.MakeTimestamp(1_700_000_000_000, 3), ExpiresAt: 1_800_000_000_000}},
	}
	key := object.Key{Keyspace: "default", Key: "user:1"}
	return []Message{
		{Type: PutReq, From: "node-1", To: "node-2", ID: 1, Clock: 99, Key: key, Object: obj},
		{Type: PutResp, From: "node-2", To: "node-1", ID: 1, Key: key, Found: true},
		{Type: PutResp, From: "node-2", To: "node-1", ID: 2, Key: key, Err: "storage: disk full"},
		{Type: GetReq, From: "node-1", To: "node-3", ID: 3, Key: key},
		{Type: GetResp, From: "node-3", To: "node-1", ID: 3, Key: key, Object: obj},
		{Type: GetResp, From: "node-3", To: "node-1", ID: 4},
		{Type: PutReq, Object: object.Object{Kind: object.KindCounter}},
	}
}

func TestSamplesRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		got, err := Decode(Append(nil, m))
		if err != nil || !equalMessages(m, got) {
			t.Errorf("%v: got %+v, %v", m.Type, got, err)
		}
	}
}

// TestTruncated checks that every strict prefix of a valid message or frame is
// rejected, and that a trailing byte is too.
func TestTruncated(t *testing.T) {
	for _, m := range sampleMessages() {
		buf := Append(nil, m)
		for i := 0; i < len(buf); i++ {
			if _, err := Decode(buf[:i]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%v prefix %d/%d: err = %v, want ErrMalformed", m.Type, i, len(buf), err)
			}
		}
		if _, err := Decode(append(buf, 0)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%v with a trailing byte: err = %v", m.Type, err)
		}
	}
	frame := AppendFrame(nil, sampleMessages())
	for i := 0; i < len(frame); i++ {
		called := false
		err := DecodeFrame(frame[:i], func(Message) error { called = true; return nil })
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("frame prefix %d/%d: err = %v, want ErrMalformed", i, len(frame), err)
		}
		if called {
			t.Fatalf("frame prefix %d/%d: a message was delivered from a truncated frame", i, len(frame))
		}
	}
	if err := DecodeFrame(append(frame, 0), func(Message) error { return nil }); !errors.Is(err, ErrMalformed) {
		t.Fatalf("frame with a trailing byte: err = %v", err)
	}
}

func TestRejects(t *testing.T) {
	good := Append(nil, sampleMessages()[0])
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	huge := binary.AppendUvarint(nil, 1<<62)
	cases := map[string][]byte{
		"empty":            nil,
		"bad version":      mutate(func(b []byte) []byte { b[0] = 2; return b }),
		"invalid type":     mutate(func(b []byte) []byte { b[1] = byte(TypeInvalid); return b }),
		"unknown type":     mutate(func(b []byte) []byte { b[1] = byte(typeCount); return b }),
		"type 255":         mutate(func(b []byte) []byte { b[1] = 255; return b }),
		"unknown flag":     mutate(func(b []byte) []byte { b[2] |= 0x80; return b }),
		"huge from length": append([]byte{formatVersion, byte(PutReq), 0}, huge...),
		"huge to length":   append([]byte{formatVersion, byte(PutReq), 0, 0}, huge...),
		"overlong varint":  {formatVersion, byte(PutReq), 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"bad object":       {formatVersion, byte(PutReq), flagObject, 0, 0, 0, 9, 9},
	}
	for name, buf := range cases {
		if _, err := Decode(buf); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	if _, err := Decode(cases["bad object"]); !errors.Is(err, object.ErrCorrupt) {
		t.Errorf("bad object: err = %v, want it to wrap object.ErrCorrupt", err)
	}

	frames := map[string][]byte{
		"empty":          nil,
		"huge count":     huge,
		"count > bytes":  {5, 1, 0},
		"huge entry":     append([]byte{1}, huge...),
		"entry overruns": {1, 10, 1, 1, 0},
		"bad message":    {1, 3, 9, 9, 9},
	}
	for name, buf := range frames {
		if err := DecodeFrame(buf, func(Message) error { return nil }); !errors.Is(err, ErrMalformed) {
			t.Errorf("frame %s: err = %v, want ErrMalformed", name, err)
		}
	}
	if err := DecodeFrame([]byte{0}, func(Message) error { t.Fatal("called"); return nil }); err != nil {
		t.Errorf("empty frame: %v", err)
	}
}

// TestHugeDeclaredLengthsDoNotAllocate checks that memory follows bytes received: a
// few bytes claiming an enormous length are refused without allocating for them.
func TestHugeDeclaredLengthsDoNotAllocate(t *testing.T) {
	msg := append([]byte{formatVersion, byte(PutReq), flagKey, 0, 0, 1}, binary.AppendUvarint(nil, 1<<40)...)
	frame := append(binary.AppendUvarint(nil, 1<<40), 1, 2, 3)
	const runs = 100
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < runs; i++ {
		if _, err := Decode(msg); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Decode: %v", err)
		}
		if err := DecodeFrame(frame, func(Message) error { return nil }); !errors.Is(err, ErrMalformed) {
			t.Fatalf("DecodeFrame: %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	// Only the error values may be allocated: a few hundred bytes per run.
	if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > 1024 {
		t.Fatalf("%d bytes allocated per run to reject tiny inputs", perRun)
	}
}

// TestGarbageNeverPanics feeds random and mutated bytes to both decoders.
func TestGarbageNeverPanics(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	seeds := [][]byte{AppendFrame(nil, sampleMessages())}
	for _, m := range sampleMessages() {
		seeds = append(seeds, Append(nil, m))
	}
	for i := 0; i < 20000; i++ {
		var buf []byte
		if i%2 == 0 {
			buf = make([]byte, rng.Intn(64))
			rng.Read(buf)
		} else {
			buf = append([]byte(nil), seeds[rng.Intn(len(seeds))]...)
			for j := 0; j < 1+rng.Intn(4); j++ {
				buf[rng.Intn(len(buf))] = byte(rng.Intn(256))
			}
		}
		checkDecode(t, buf)
		checkDecodeFrame(t, buf)
	}
}

// checkDecode asserts the decoder's contract on arbitrary input: no panic, errors wrap
// ErrMalformed, and a message that decodes is a fixed point of Append then Decode.
func checkDecode(t testing.TB, buf []byte) {
	m, err := Decode(buf)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
		return
	}
	again, err := Decode(Append(nil, m))
	if err != nil {
		t.Fatalf("re-decoding a decoded message: %v", err)
	}
	if !equalMessages(m, again) {
		t.Fatalf("decoded message is not a fixed point:\n%+v\n%+v", m, again)
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(Append(nil, m))
	}
	f.Add([]byte{})
	f.Add([]byte{formatVersion, byte(PutReq), flagsKnown})
	f.Add(append([]byte{formatVersion, byte(GetReq), flagKey, 0, 0, 1}, binary.AppendUvarint(nil, 1<<40)...))
	f.Fuzz(func(t *testing.T, buf []byte) { checkDecode(t, buf) })
}

// typicalPutReq is a PutReq of about 100 bytes encoded, as the benchmarks send.
func typicalPutReq() Message {
	return Message{
		Type: PutReq, From: "node-1", To: "node-2", ID: 123456, Clock: version.MakeTimestamp(1_700_000_000_000, 1),
		Key: object.Key{Keyspace: "default", Key: "user:000012345"},
		Object: object.Object{
			Context:  version.Vector{{Actor: "node-1", Counter: 981}},
			Siblings: []object.Sibling{{Value: []byte("0123456789abcdef0123"), Dot: version.Dot{Actor: "node-1", Counter: 981}, Timestamp: version.MakeTimestamp(1_700_000_000_000, 1)}},
		},
	}
}

func TestTypicalPutReqSize(t *testing.T) {
	n := len(Append(nil, typicalPutReq()))
	if n < 90 || n > 110 {
		t.Fatalf("typical PutReq encodes to %d bytes, want about 100", n)
	}
}

func TestAppendDoesNotAllocate(t *testing.T) {
	m := typicalPutReq()
	buf := make([]byte, 0, 1024)
	if a := testing.AllocsPerRun(100, func() { buf = Append(buf[:0], m) }); a != 0 {
		t.Fatalf("Append allocates %v times into a buffer with room", a)
	}
	if a := testing.AllocsPerRun(100, func() { buf = AppendFrameMessage(buf[:0], m) }); a != 0 {
		t.Fatalf("AppendFrameMessage allocates %v times into a buffer with room", a)
	}
}

func BenchmarkAppend(b *testing.B) {
	m := typicalPutReq()
	buf := Append(nil, m)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = Append(buf[:0], m)
	}
}

func BenchmarkDecode(b *testing.B) {
	buf := Append(nil, typicalPutReq())
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeNoObject isolates the message's own cost from object.Decode's.
func BenchmarkDecodeNoObject(b *testing.B) {
	m := typicalPutReq()
	m.Type, m.Object, m.Found = PutResp, object.Object{}, true
	buf := Append(nil, m)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSyncRoundTrip(t *testing.T) {
	m := Message{Type: SyncReq, From: "a", To: "b", ID: 7, Sync: &Sync{
		Step: SyncPush, Epoch: 99, Shard: 3, Ranges: []uint32{1, 500}, Nodes: []uint32{4}, Equal: []uint32{2},
		Hashes: []uint64{1, 1 << 63}, Digests: []uint64{5},
		Keys:    []object.Key{{Keyspace: "default", Key: "k\x00"}},
		Pull:    []object.Key{{Keyspace: "ks", Key: ""}},
		Objects: []object.Object{{Siblings: []object.Sibling{{Value: []byte("v"), Timestamp: 5}}}},
	}}
	buf := Append(nil, m)
	got, err := Decode(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Sync, m.Sync) {
		t.Fatalf("sync payload changed:\n got %+v\nwant %+v", got.Sync, m.Sync)
	}
	for i := 0; i < len(buf); i++ {
		if _, err := Decode(buf[:i]); err == nil {
			t.Fatalf("prefix of %d bytes decoded", i)
		}
	}
}
