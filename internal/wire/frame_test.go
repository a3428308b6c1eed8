package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

func TestFrameRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		msgs := rapid.SliceOfN(rapid.Custom(genMessage), 0, 20).Draw(t, "msgs")
		frame := AppendFrame(nil, msgs)

		// Built incrementally, the frame is the same bytes.
		var body []byte
		for _, m := range msgs {
			body = AppendFrameMessage(body, m)
		}
		if inc := append(AppendFrameHeader(nil, len(msgs)), body...); !bytes.Equal(inc, frame) {
			t.Fatalf("incremental frame differs")
		}
		if FrameHeaderLen(len(msgs)) != len(AppendFrameHeader(nil, len(msgs))) {
			t.Fatalf("FrameHeaderLen wrong")
		}

		var got []Message
		if err := DecodeFrame(frame, func(m Message) error { got = append(got, m); return nil }); err != nil {
			t.Fatalf("DecodeFrame: %v", err)
		}
		if len(got) != len(msgs) {
			t.Fatalf("got %d messages, want %d", len(got), len(msgs))
		}
		for i := range msgs {
			if !equalMessages(msgs[i], got[i]) {
				t.Fatalf("message %d:\n got %+v\nwant %+v", i, got[i], msgs[i])
			}
		}
	})
}

// TestLongMessageLengthPrefix covers entries whose length needs several varint bytes.
func TestLongMessageLengthPrefix(t *testing.T) {
	for _, size := range []int{0, 100, 127, 128, 200, 16383, 16384, 1 << 20} {
		m := Message{Type: PutReq, From: "a", To: "b", Key: object.Key{Keyspace: "k", Key: "x"},
			Object: object.Object{Siblings: []object.Sibling{{Value: bytes.Repeat([]byte{7}, size), Dot: version.Dot{Actor: "a", Counter: 1}}}}}
		frame := AppendFrame([]byte("prefix"), []Message{m, m})
		n := 0
		err := DecodeFrame(frame[len("prefix"):], func(got Message) error {
			n++
			if !equalMessages(m, got) {
				t.Fatalf("size %d: message differs", size)
			}
			return nil
		})
		if err != nil || n != 2 {
			t.Fatalf("size %d: n=%d err=%v", size, n, err)
		}
	}
}

func TestDecodeFrameStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := DecodeFrame(AppendFrame(nil, sampleMessages()), func(Message) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("err = %v after %d calls, want stop after 1", err, n)
	}
}

func checkDecodeFrame(t testing.TB, buf []byte) {
	var msgs []Message
	err := DecodeFrame(buf, func(m Message) error { msgs = append(msgs, m); return nil })
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
		return
	}
	var n int
	if err := DecodeFrame(AppendFrame(nil, msgs), func(m Message) error {
		if !equalMessages(m, msgs[n]) {
			t.Fatalf("frame message %d is not a fixed point", n)
		}
		n++
		return nil
	}); err != nil || n != len(msgs) {
		t.Fatalf("re-decoding a decoded frame: %d messages, %v", n, err)
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(AppendFrame(nil, sampleMessages()))
	f.Add(AppendFrame(nil, sampleMessages()[:1]))
	f.Add(AppendFrame(nil, nil))
	f.Add([]byte{})
	f.Add(binary.AppendUvarint(nil, 1<<40))
	f.Add([]byte{2, 3, 1, 1, 0})
	f.Fuzz(func(t *testing.T, buf []byte) { checkDecodeFrame(t, buf) })
}

func BenchmarkAppendFrame(b *testing.B) {
	msgs := make([]Message, 100)
	for i := range msgs {
		msgs[i] = typicalPutReq()
	}
	buf := AppendFrame(nil, msgs)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendFrame(buf[:0], msgs)
	}
}

func BenchmarkDecodeFrame(b *testing.B) {
	msgs := make([]Message, 100)
	for i := range msgs {
		msgs[i] = typicalPutReq()
	}
	buf := AppendFrame(nil, msgs)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	fn := func(Message) error { return nil }
	for b.Loop() {
		if err := DecodeFrame(buf, fn); err != nil {
			b.Fatal(err)
		}
	}
}
