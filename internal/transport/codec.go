package transport

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"

	"github.com/chorusdb/chorus/internal/wire"
)

// The gRPC service that carries frames: one client-streaming method on which a node
// sends every frame for one peer. It is described by hand (no generated code); the
// messages are wire frames, passed through frameCodec as raw bytes.
const (
	serviceName = "chorus.transport.v1.Transport"
	methodName  = "Frames"
	fullMethod  = "/" + serviceName + "/" + methodName
)

var framesStreamDesc = grpc.StreamDesc{
	StreamName:    methodName,
	ClientStreams: true,
}

func serviceDesc(handler grpc.StreamHandler) *grpc.ServiceDesc {
	d := framesStreamDesc
	d.Handler = handler
	return &grpc.ServiceDesc{
		ServiceName: serviceName,
		HandlerType: (*any)(nil),
		Streams:     []grpc.StreamDesc{d},
		Metadata:    "chorus/internal/transport",
	}
}

// frameCodec is a gRPC codec that moves bytes as they are: the sender hands it a
// pending chunk of frame entries, the receiver gets the frame in a pooled buffer. It is
// passed to the client and server explicitly (ForceCodecV2, ForceServerCodecV2), not
// registered globally.
type frameCodec struct{}

// frameCodecName becomes the content-subtype: application/grpc+chorus-frame.
const frameCodecName = "chorus-frame"

// inFrame receives one frame; the receiver must Free buf when done with it.
type inFrame struct{ buf mem.Buffer }

// streamEnd is the empty message the server answers with when a client closes its
// stream.
type streamEnd struct{}

func (frameCodec) Name() string { return frameCodecName }

// Marshal writes the frame header and entries of a chunk into one buffer from gRPC's
// pool (gRPC frees it once written), so the chunk may be reused as soon as SendMsg
// returns. Raw byte slices are copied likewise.
func (frameCodec) Marshal(v any) (mem.BufferSlice, error) {
	pool := mem.DefaultBufferPool()
	switch v := v.(type) {
	case *chunk:
		size := v.frameLen()
		buf := pool.Get(size)
		b := wire.AppendFrameHeader((*buf)[:0], v.n)
		*buf = append(b, v.body...)
		return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
	case []byte:
		return mem.BufferSlice{mem.Copy(v, pool)}, nil
	case *[]byte:
		return mem.BufferSlice{mem.Copy(*v, pool)}, nil
	case *streamEnd:
		return nil, nil
	}
	return nil, fmt.Errorf("transport: frame codec cannot marshal %T", v)
}

// Unmarshal hands the received frame over without copying when it arrived in one
// buffer.
func (frameCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch v := v.(type) {
	case *inFrame:
		v.buf = data.MaterializeToBuffer(mem.DefaultBufferPool())
		return nil
	case *[]byte:
		*v = data.Materialize()
		return nil
	case *streamEnd:
		return nil
	}
	return fmt.Errorf("transport: frame codec cannot unmarshal into %T", v)
}
