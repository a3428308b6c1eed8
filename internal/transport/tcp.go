package transport

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/chorusdb/chorus/internal/wire"
)

// ProtocolTCP: after a TCP connect (and a TLS handshake when configured) the dialing
// node writes tcpPreface, then frames, each a 4-byte big-endian length and that many
// bytes of wire frame. A length of 0 is a ping, which the server answers with the
// single byte tcpPong; that is all it ever writes. The dialer pings every
// keepaliveTime, so each side knows within keepaliveTime + keepaliveTimeout (or
// twice keepaliveTime + keepaliveTimeout, for the server) that the other went silent.
const (
	tcpPreface = "chorus frames/1\n"
	tcpPong    = 0x01
	// tcpHeaderLen is the length prefix of a frame.
	tcpHeaderLen = 4
	// tcpReadBuffer is the size of a server connection's read buffer.
	tcpReadBuffer = 64 << 10
	// tcpSpareFrameBytes bounds the frame buffer a server connection keeps between
	// frames, so that one large frame does not pin its size for the connection's life.
	tcpSpareFrameBytes = 1 << 20
)

// grpcPreface starts every HTTP/2 connection: a node of a gRPC cluster dialed us.
const grpcPreface = "PRI * HTTP/2.0\r\n"

// newTCP builds the TCP server and the peers' dialer.
func (t *Socket) newTCP() (server, func(*peer) (dialer, error)) {
	return &tcpServer{t: t, conns: map[net.Conn]struct{}{}}, func(p *peer) (dialer, error) {
		return &tcpDialer{t: t, addr: p.addr}, nil
	}
}

// tcpServer accepts peers' connections and serves each on its own goroutine.
type tcpServer struct {
	t       *Socket
	mu      sync.Mutex
	lis     net.Listener
	conns   map[net.Conn]struct{}
	stopped bool
	wg      sync.WaitGroup
}

func (s *tcpServer) serve(lis net.Listener) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.lis = lis
	s.mu.Unlock()
	backoff := 5 * time.Millisecond
	for {
		conn, err := lis.Accept()
		if err != nil {
			s.mu.Lock()
			stopped := s.stopped
			s.mu.Unlock()
			if stopped {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of file descriptors or the like: wait and try again.
				time.Sleep(backoff)
				backoff = min(2*backoff, time.Second)
				continue
			}
			return err
		}
		backoff = 5 * time.Millisecond
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			conn.Close()
			return nil
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serveConn(conn)
			s.mu.Lock()
			delete(s.conns, conn)
			s.mu.Unlock()
			conn.Close()
		}()
	}
}

func (s *tcpServer) stop() {
	s.mu.Lock()
	s.stopped = true
	if s.lis != nil {
		s.lis.Close()
	} else {
		s.t.lis.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// serveConn reads one peer's frames and hands each message to the Handler, in order,
// until the connection ends. A connection that does not start like a Chorus peer, or
// that sends a frame that does not decode, is closed with one log line.
func (s *tcpServer) serveConn(raw net.Conn) {
	t := s.t
	remote := raw.RemoteAddr().String()
	_ = raw.SetDeadline(time.Now().Add(t.cfg.DialTimeout))
	conn := raw
	if t.cfg.ServerTLS != nil {
		tc := tls.Server(raw, t.cfg.ServerTLS)
		if err := tc.Handshake(); err != nil {
			t.log.Warn("refusing a peer connection: TLS handshake failed", "remote", remote, "err", err)
			return
		}
		conn = tc
	}
	r := bufio.NewReaderSize(conn, tcpReadBuffer)
	preface := make([]byte, len(tcpPreface))
	if _, err := io.ReadFull(r, preface); err != nil {
		t.log.Debug("peer connection ended before its preface", "remote", remote, "err", err)
		return
	}
	if string(preface) != tcpPreface {
		t.counters.rejected.Add(1)
		why := "it is not a Chorus peer"
		if string(preface) == grpcPreface {
			why = "it speaks gRPC: every node must run with the same --transport (this one: tcp)"
		}
		t.log.Warn("refusing a peer connection: "+why, "remote", remote)
		return
	}
	idle := 2*keepaliveTime + keepaliveTimeout
	var hdr [tcpHeaderLen]byte
	var frame []byte
	for {
		_ = conn.SetReadDeadline(time.Now().Add(idle))
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				t.log.Debug("peer connection ended", "remote", remote, "err", err)
			}
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n == 0 {
			_ = conn.SetWriteDeadline(time.Now().Add(keepaliveTimeout))
			if _, err := conn.Write([]byte{tcpPong}); err != nil {
				return
			}
			continue
		}
		if n > uint32(t.cfg.MaxFrameBytes) {
			t.refuse(remote, fmt.Errorf("%w: frame of %d bytes exceeds the limit of %d", wire.ErrMalformed, n, t.cfg.MaxFrameBytes))
			return
		}
		if cap(frame) < int(n) {
			frame = make([]byte, n)
		}
		frame = frame[:n]
		if _, err := io.ReadFull(r, frame); err != nil {
			t.log.Debug("peer connection ended inside a frame", "remote", remote, "err", err)
			return
		}
		if err := wire.DecodeFrame(frame, t.deliver); err != nil {
			t.refuse(remote, err)
			return
		}
		if cap(frame) > tcpSpareFrameBytes {
			frame = nil
		}
	}
}

// tcpDialer opens connections to one peer.
type tcpDialer struct {
	t    *Socket
	addr string
}

func (d *tcpDialer) close() {}

func (d *tcpDialer) dial(life context.Context, timeout time.Duration) (link, error) {
	ctx, cancel := context.WithTimeout(life, timeout)
	defer cancel()
	nd := net.Dialer{KeepAlive: keepaliveTime}
	raw, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	conn := raw
	if cfg := d.t.cfg.ClientTLS; cfg != nil {
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			cfg = cfg.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(d.addr)
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		conn = tc
	}
	l := &tcpLink{conn: conn, end: make(chan error, 1), done: make(chan struct{}), ticker: time.NewTicker(keepaliveTime)}
	// The preface and a first ping, whose answer shows that the server took the
	// preface (and, with TLS, this node's certificate).
	l.buf = append(l.buf[:0], tcpPreface...)
	l.buf = append(l.buf, 0, 0, 0, 0)
	err = l.send()
	if err == nil {
		err = l.firstPong(ctx)
	}
	if err != nil {
		l.ticker.Stop()
		conn.Close()
		return nil, err
	}
	// Closing the connection unblocks a write stalled on a peer that stopped reading.
	l.stop = context.AfterFunc(life, func() { conn.Close() })
	go l.readPongs()
	return l, nil
}

// firstPong waits, until ctx's deadline, for the answer to the first ping.
func (l *tcpLink) firstPong(ctx context.Context) error {
	if d, ok := ctx.Deadline(); ok {
		_ = l.conn.SetReadDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = l.conn.SetReadDeadline(time.Now()) })
	defer stop()
	var b [1]byte
	if _, err := io.ReadFull(l.conn, b[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the peer closed the connection at once: it refused this node (see its log)")
		}
		return err
	}
	if b[0] != tcpPong {
		return fmt.Errorf("the peer answered %#x: it is not a Chorus node using --transport tcp", b[0])
	}
	return nil
}

// tcpLink is one connection to a peer.
type tcpLink struct {
	conn   net.Conn
	buf    []byte // the bytes being written
	end    chan error
	done   chan struct{}
	ticker *time.Ticker
	stop   func() bool // cancels the close when the peer stops
}

// readPongs reads the server's answers to pings until the connection ends or falls
// silent for longer than a ping interval plus keepaliveTimeout.
func (l *tcpLink) readPongs() {
	defer close(l.done)
	var b [16]byte
	for {
		_ = l.conn.SetReadDeadline(time.Now().Add(keepaliveTime + keepaliveTimeout))
		n, err := l.conn.Read(b[:])
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				err = fmt.Errorf("the peer did not answer keepalives for %v", keepaliveTime+keepaliveTimeout)
			}
			l.end <- err
			return
		}
		if i := bytes.IndexFunc(b[:n], func(r rune) bool { return r != tcpPong }); i >= 0 {
			l.end <- fmt.Errorf("the peer sent %#x, not a keepalive answer", b[i])
			return
		}
	}
}

// send writes buf within the write deadline.
func (l *tcpLink) send() error {
	_ = l.conn.SetWriteDeadline(time.Now().Add(keepaliveTime + keepaliveTimeout))
	_, err := l.conn.Write(l.buf)
	if cap(l.buf) > maxSpareChunkBytes {
		l.buf = nil
	}
	return err
}

func (l *tcpLink) write(c *chunk) error {
	size := c.frameLen()
	l.buf = binary.BigEndian.AppendUint32(l.buf[:0], uint32(size))
	l.buf = wire.AppendFrameHeader(l.buf, c.n)
	l.buf = append(l.buf, c.body...)
	return l.send()
}

func (l *tcpLink) beat() error {
	l.buf = append(l.buf[:0], 0, 0, 0, 0)
	return l.send()
}

func (l *tcpLink) ended() <-chan error         { return l.end }
func (l *tcpLink) heartbeat() <-chan time.Time { return l.ticker.C }

func (l *tcpLink) close() {
	l.stop()
	l.ticker.Stop()
	l.conn.Close()
	<-l.done
}
