package resp

import (
	"io"

	"github.com/chorusdb/chorus/internal/core"
)

// errProtocol is a malformed request; the connection is answered with
// "-ERR Protocol error: …" and closed, because the byte stream cannot be trusted to
// resynchronise. It wraps core.ErrBadRequest.
type errProtocol struct{ reason string }

// Error returns the reply text: "ERR Protocol error: " and the reason.
func (e *errProtocol) Error() string { return "ERR Protocol error: " + e.reason }

// Unwrap makes a protocol error a bad request.
func (e *errProtocol) Unwrap() error { return core.ErrBadRequest }

// Protocol bounds that do not depend on Limits. They follow Redis's own.
const (
	// maxLine bounds an inline command and a multibulk or bulk header line.
	maxLine = 64 << 10
	// maxArgs bounds the number of arguments one command may declare.
	maxArgs = 1 << 20
	// maxBulk is the largest bulk length accepted at all. A bulk longer than the
	// reader's argument limit but within maxBulk is read and discarded, and the command
	// is answered with TOOLARGE; anything longer is a protocol error.
	maxBulk = 512 << 20
	// initialBuf is a connection's read buffer to begin with, and what it shrinks back
	// to once a large command has been handled.
	initialBuf = 4 << 10
)

// command is one parsed client request. args alias the reader's buffer and are valid
// only until the next call to parse or fill.
type command struct {
	args [][]byte
	// oversize is the index of the first argument longer than the reader's argument
	// limit (its bytes were discarded and args holds an empty slice for it), or -1.
	oversize    int
	oversizeLen int64
}

// reader parses client requests from a byte stream: RESP arrays of bulk strings (what
// every client library sends) and inline commands (a line of words separated by
// spaces, as typed into telnet). Memory follows the bytes received, never the lengths
// declared: the buffer only grows when it is full of real data, an argument longer
// than maxArg is skipped as it streams in, and one command may hold at most maxCommand
// bytes. Parsing is incremental, so a command arriving in many small reads is scanned
// once. A reader is not safe for concurrent use.
type reader struct {
	src io.Reader
	buf []byte
	r   int // start of the command being parsed
	w   int // end of the buffered bytes

	// State of the array command being parsed; offsets are relative to r.
	pos     int   // next byte to examine
	nargs   int   // declared argument count; 0 while no header has been parsed
	marks   []int // start and end offsets of each argument parsed so far
	skip    int64 // bytes (CRLF included) still to discard of an oversized argument
	over    int   // index of the first oversized argument, or -1
	overLen int64

	maxArg     int
	maxCommand int
	maxCount   int  // most arguments a command may declare (maxArgs, less before AUTH)
	strict     bool // an argument over maxArg is a protocol error, not skipped (before AUTH)
	args       [][]byte
}

func newReader(src io.Reader, maxArg int) *reader {
	return &reader{
		src:        src,
		buf:        make([]byte, initialBuf),
		over:       -1,
		maxArg:     maxArg,
		maxCommand: 2*maxArg + maxLine,
		maxCount:   maxArgs,
	}
}

// limit sets the largest argument and the most arguments a command may have; the
// server lowers them until a connection has authenticated.
func (rd *reader) limit(maxArg, maxCount int) {
	rd.maxArg, rd.maxCommand, rd.maxCount = maxArg, 2*maxArg+maxLine, maxCount
	rd.strict = maxCount < maxArgs
}

// parse returns the next complete command held in the buffer, ok=false when more
// bytes are needed first (call fill), or a *errProtocol.
func (rd *reader) parse() (cmd command, ok bool, err error) {
	for rd.r+rd.pos < rd.w || rd.skip > 0 {
		if rd.nargs > 0 {
			return rd.parseArgs()
		}
		if rd.buf[rd.r] != '*' {
			cmd, ok, err := rd.parseInline()
			if ok && len(cmd.args) == 0 {
				continue // an empty line is ignored
			}
			return cmd, ok, err
		}
		line, ok, err := rd.line(true)
		if !ok || err != nil {
			return command{}, false, err
		}
		n, valid := parseCount(line[1:])
		if !valid || n > rd.maxCount {
			return command{}, false, &errProtocol{"invalid multibulk length"}
		}
		if n <= 0 { // "*0" and "*-1" are empty requests: skip them, as Redis does
			rd.consume()
			continue
		}
		rd.nargs = n
	}
	return command{}, false, nil
}

// parseArgs continues the array command whose header has been parsed.
func (rd *reader) parseArgs() (command, bool, error) {
	for len(rd.marks) < 2*rd.nargs || rd.skip > 0 {
		if rd.skip > 0 {
			if !rd.discard() {
				return command{}, false, nil
			}
			continue
		}
		line, ok, err := rd.line(true)
		if !ok || err != nil {
			return command{}, false, err
		}
		if line[0] != '$' {
			return command{}, false, &errProtocol{"expected '$', got '" + printable(line[:1]) + "'"}
		}
		size, valid := parseCount(line[1:])
		if !valid || size < 0 || size > maxBulk {
			return command{}, false, &errProtocol{"invalid bulk length"}
		}
		if size > rd.maxArg {
			if rd.strict {
				return command{}, false, &errProtocol{"argument too large for a connection that has not authenticated"}
			}
			if rd.over < 0 {
				rd.over, rd.overLen = len(rd.marks)/2, int64(size)
			}
			rd.marks = append(rd.marks, rd.pos, rd.pos)
			rd.skip = int64(size) + 2
			continue
		}
		end := rd.pos + size
		if rd.r+end+2 > rd.w {
			rd.pos -= len(line) + 2 // re-read the header once the data is here
			return command{}, false, nil
		}
		if rd.buf[rd.r+end] != '\r' || rd.buf[rd.r+end+1] != '\n' {
			return command{}, false, &errProtocol{"invalid bulk length"}
		}
		rd.marks = append(rd.marks, rd.pos, end)
		rd.pos = end + 2
		if rd.pos > rd.maxCommand {
			return command{}, false, &errProtocol{"request too large"}
		}
	}
	base := rd.buf[rd.r:]
	rd.args = rd.args[:0]
	for i := 0; i < len(rd.marks); i += 2 {
		rd.args = append(rd.args, base[rd.marks[i]:rd.marks[i+1]:rd.marks[i+1]])
	}
	cmd := command{args: rd.args, oversize: rd.over, oversizeLen: rd.overLen}
	rd.consume()
	return cmd, true, nil
}

// parseInline parses a command sent as one line of words; an empty line yields a
// command without arguments.
func (rd *reader) parseInline() (command, bool, error) {
	line, ok, err := rd.line(false)
	if !ok || err != nil {
		return command{}, false, err
	}
	rd.args = rd.args[:0]
	for i := 0; i < len(line); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if j > i {
			rd.args = append(rd.args, line[i:j:j])
		}
		i = j
	}
	rd.consume()
	return command{args: rd.args, oversize: -1}, true, nil
}

// line returns the next line at pos without its line ending and moves pos past it.
// strict demands CRLF; otherwise a bare LF ends the line too (inline commands).
func (rd *reader) line(strict bool) ([]byte, bool, error) {
	start := rd.r + rd.pos
	for i := start; i < rd.w; i++ {
		if rd.buf[i] != '\n' {
			continue
		}
		end := i
		if end > start && rd.buf[end-1] == '\r' {
			end--
		} else if strict {
			return nil, false, &errProtocol{"expected CRLF"}
		}
		if end == start && strict {
			return nil, false, &errProtocol{"empty header line"}
		}
		rd.pos = i + 1 - rd.r
		return rd.buf[start:end], true, nil
	}
	if rd.w-start > maxLine {
		return nil, false, &errProtocol{"too big inline request or header"}
	}
	return nil, false, nil
}

// discard drops buffered bytes of an oversized argument; it reports whether the
// whole argument has been dropped.
func (rd *reader) discard() bool {
	at := rd.r + rd.pos
	avail := int64(rd.w - at)
	if avail <= rd.skip {
		rd.skip -= avail
		rd.w = at
		return rd.skip == 0
	}
	rd.w = at + copy(rd.buf[at:], rd.buf[at+int(rd.skip):rd.w])
	rd.skip = 0
	return true
}

// consume marks the command parsed so far as done and resets the parse state.
func (rd *reader) consume() {
	rd.r += rd.pos
	rd.pos, rd.nargs, rd.over, rd.overLen = 0, 0, -1, 0
	rd.marks = rd.marks[:0]
}

// buffered reports whether unparsed bytes remain.
func (rd *reader) buffered() bool { return rd.r < rd.w }

// fill reads more bytes from the source. It may move buffered bytes, so the args of
// a command returned earlier are invalid afterwards.
func (rd *reader) fill() error {
	if rd.r == rd.w {
		rd.r, rd.w = 0, 0
		if len(rd.buf) > initialBuf {
			rd.buf = make([]byte, initialBuf) // release the memory of a large command
		}
	}
	if rd.r > 0 {
		rd.w = copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.r = 0
	}
	if rd.w == len(rd.buf) {
		grown := make([]byte, 2*len(rd.buf))
		copy(grown, rd.buf[:rd.w])
		rd.buf = grown
	}
	for {
		n, err := rd.src.Read(rd.buf[rd.w:])
		rd.w += n
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// parseCount parses a decimal length or count, "-1" included; at most 10 digits, so
// the result never overflows.
func parseCount(b []byte) (int, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		return -n, true
	}
	return n, true
}

// printable renders client bytes for an error message: at most 64 bytes, control
// characters and quotes replaced, so the reply stays one line.
func printable(b []byte) string {
	const limit = 64
	cut := len(b) > limit
	if cut {
		b = b[:limit]
	}
	out := make([]byte, 0, len(b)+3)
	for _, c := range b {
		if c < 0x20 || c == 0x7f || c == '\'' {
			c = '?'
		}
		out = append(out, c)
	}
	if cut {
		out = append(out, "..."...)
	}
	return string(out)
}
