package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	grpcpeer "google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/chorusdb/chorus/internal/wire"
)

// ProtocolGRPC: frames are the messages of one client stream per peer, on a service
// described by hand (codec.go).

// flowWindow is the HTTP/2 flow-control window of a peer stream and its connection.
// One stream per peer carries everything, so a window as large as a few frames lets
// a burst go out without waiting for window updates, and a fixed window turns off
// gRPC's bandwidth-delay estimation, which pings the peer as data arrives.
const flowWindow = 8 << 20

// grpcServer serves the Frames stream.
type grpcServer struct{ s *grpc.Server }

func (g grpcServer) serve(lis net.Listener) error {
	if err := g.s.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

func (g grpcServer) stop() { g.s.Stop() }

// newGRPC builds the gRPC server and the peers' dialer.
func (t *Socket) newGRPC() (server, func(*peer) (dialer, error)) {
	s := grpc.NewServer(t.grpcServerOptions()...)
	s.RegisterService(serviceDesc(t.serveStream), t)
	opts := t.grpcDialOptions()
	return grpcServer{s}, func(p *peer) (dialer, error) {
		conn, err := grpc.NewClient(p.addr, opts...)
		if err != nil {
			return nil, fmt.Errorf("transport: peer %s at %q: %w", p.id, p.addr, err)
		}
		return grpcDialer{conn}, nil
	}
}

func (t *Socket) grpcServerOptions() []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(frameCodec{}),
		grpc.MaxRecvMsgSize(t.cfg.MaxFrameBytes),
		grpc.WaitForHandlers(true),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveTime / 2, PermitWithoutStream: true}),
		grpc.InitialWindowSize(flowWindow),
		grpc.InitialConnWindowSize(flowWindow),
	}
	if t.cfg.ServerTLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(t.cfg.ServerTLS)))
	}
	return append(opts, t.cfg.ServerOptions...)
}

func (t *Socket) grpcDialOptions() []grpc.DialOption {
	creds := insecure.NewCredentials()
	if t.cfg.ClientTLS != nil {
		creds = credentials.NewTLS(t.cfg.ClientTLS)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(frameCodec{})),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay: t.cfg.MinBackoff, Multiplier: 2, Jitter: 0.2, MaxDelay: t.cfg.MaxBackoff,
			},
			MinConnectTimeout: t.cfg.DialTimeout,
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: keepaliveTime, Timeout: keepaliveTimeout, PermitWithoutStream: true}),
		// A frame is sent once: gRPC must not buffer frames to replay them.
		grpc.WithDisableRetry(),
		grpc.WithInitialWindowSize(flowWindow),
		grpc.WithInitialConnWindowSize(flowWindow),
	}
	return append(opts, t.cfg.DialOptions...)
}

// serveStream receives the frames of one peer's stream and hands each message to the
// Handler, in order. A frame that does not decode is refused: the stream ends with
// InvalidArgument and one log line, and other streams are unaffected.
func (t *Socket) serveStream(_ any, ss grpc.ServerStream) error {
	for {
		var f inFrame
		if err := ss.RecvMsg(&f); err != nil {
			if errors.Is(err, io.EOF) {
				return ss.SendMsg(&streamEnd{})
			}
			return err
		}
		err := wire.DecodeFrame(f.buf.ReadOnlyData(), t.deliver)
		f.buf.Free()
		if err != nil {
			remote := "unknown"
			if p, ok := grpcpeer.FromContext(ss.Context()); ok {
				remote = p.Addr.String()
			}
			t.refuse(remote, err)
			return status.Errorf(codes.InvalidArgument, "chorus transport: %v", err)
		}
	}
}

// grpcDialer holds a peer's gRPC connection, on which each link is a new stream.
type grpcDialer struct{ conn *grpc.ClientConn }

func (d grpcDialer) close() { d.conn.Close() }

func (d grpcDialer) dial(ctx context.Context, timeout time.Duration) (link, error) {
	sctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(timeout, cancel)
	stream, err := d.conn.NewStream(sctx, &framesStreamDesc, fullMethod)
	if !timer.Stop() && err == nil {
		err = fmt.Errorf("no stream after %v", timeout)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	l := &grpcLink{stream: stream, cancel: cancel, end: make(chan error, 1), done: make(chan struct{})}
	// The server answers only when the stream ends, so a pending RecvMsg returns exactly
	// when the server or the connection ends it, even while there is nothing to send.
	go func() {
		defer close(l.done)
		l.end <- stream.RecvMsg(&streamEnd{})
	}()
	return l, nil
}

// grpcLink is one client stream.
type grpcLink struct {
	stream grpc.ClientStream
	cancel context.CancelFunc
	end    chan error
	done   chan struct{}
}

func (l *grpcLink) write(c *chunk) error {
	err := l.stream.SendMsg(c)
	if errors.Is(err, io.EOF) {
		// The stream is over; its status says why.
		select {
		case e := <-l.end:
			l.end <- e // for ended
			return endError(e)
		case <-time.After(keepaliveTimeout):
		}
	}
	return err
}

func (l *grpcLink) ended() <-chan error         { return l.end }
func (l *grpcLink) heartbeat() <-chan time.Time { return nil } // gRPC keepalives
func (l *grpcLink) beat() error                 { return nil }

func (l *grpcLink) close() {
	l.cancel()
	<-l.done
}
