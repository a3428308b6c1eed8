package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// parseAll runs a reader over src until EOF or a protocol error and renders every
// command (arguments and oversize mark) and the final error, one per line.
func parseAll(src io.Reader, maxArg int) (string, *reader) {
	rd := newReader(src, maxArg)
	var out strings.Builder
	for {
		cmd, ok, err := rd.parse()
		if err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
			return out.String(), rd
		}
		if !ok {
			if err := rd.fill(); err != nil {
				if err != io.EOF {
					fmt.Fprintf(&out, "read error: %v\n", err)
				}
				return out.String(), rd
			}
			continue
		}
		fmt.Fprintf(&out, "%q", cmd.args)
		if cmd.oversize >= 0 {
			fmt.Fprintf(&out, " oversize arg %d of %d bytes", cmd.oversize, cmd.oversizeLen)
		}
		out.WriteString("\n")
	}
}

func TestReader(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"array", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", `["GET" "k"]` + "\n"},
		{"pipeline", "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", `["PING"]` + "\n" + `["ECHO" ""]` + "\n"},
		{"binary", "*1\r\n$4\r\n\r\n\x00\xff\r\n", `["\r\n\x00\xff"]` + "\n"},
		{"inline", "PING\r\nset  a\tb\n\r\n\n", `["PING"]` + "\n" + `["set" "a" "b"]` + "\n"},
		{"empty arrays", "*0\r\n*-1\r\n*1\r\n$1\r\nx\r\n", `["x"]` + "\n"},
		{"oversize middle", "*3\r\n$3\r\nSET\r\n$12\r\n0123456789ab\r\n$1\r\nv\r\n", `["SET" "" "v"] oversize arg 1 of 12 bytes` + "\n"},
		{"oversize last", "*2\r\n$3\r\nGET\r\n$11\r\n0123456789a\r\n*1\r\n$4\r\nPING\r\n", `["GET" ""] oversize arg 1 of 11 bytes` + "\n" + `["PING"]` + "\n"},
		{"two oversize", "*3\r\n$1\r\nX\r\n$11\r\n0123456789a\r\n$12\r\n0123456789ab\r\n", `["X" "" ""] oversize arg 1 of 11 bytes` + "\n"},
		{"at limit", "*1\r\n$10\r\n0123456789\r\n", `["0123456789"]` + "\n"},
		{"bad count", "*a\r\n", "error: ERR Protocol error: invalid multibulk length\n"},
		{"too many args", "*1048577\r\n", "error: ERR Protocol error: invalid multibulk length\n"},
		{"max args ok", "*1048576\r\n$1\r\nx\r\n", ""},
		{"bad length", "*1\r\n$1x\r\n", "error: ERR Protocol error: invalid bulk length\n"},
		{"length over protocol max", "*1\r\n$536870913\r\n", "error: ERR Protocol error: invalid bulk length\n"},
		{"long length digits", "*1\r\n$99999999999\r\n", "error: ERR Protocol error: invalid bulk length\n"},
		{"missing CRLF", "*1\r\n$1\r\nxyz", "error: ERR Protocol error: invalid bulk length\n"},
		{"bare LF", "*1\r\n$1\nx\r\n", "error: ERR Protocol error: expected CRLF\n"},
		{"empty header", "*1\r\n\r\n", "error: ERR Protocol error: empty header line\n"},
		{"dollar expected", "*1\r\n+x\r\n", "error: ERR Protocol error: expected '$', got '+'\n"},
		{"truncated", "*2\r\n$3\r\nGET\r\n$1\r\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := parseAll(strings.NewReader(tc.in), 10)
			if got != tc.want {
				t.Errorf("whole input:\ngot  %q\nwant %q", got, tc.want)
			}
			got, _ = parseAll(iotest.OneByteReader(strings.NewReader(tc.in)), 10)
			if got != tc.want {
				t.Errorf("one byte at a time:\ngot  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestReaderMemoryFollowsBytes: declared lengths allocate nothing; the buffer grows
// with the bytes actually received and shrinks back after a large command.
func TestReaderMemoryFollowsBytes(t *testing.T) {
	const maxArg = 8 << 20
	sent := 10 << 10
	for _, header := range []string{
		"*1\r\n$2147483647\r\n",              // beyond the protocol limit: error at once
		"*1\r\n$100000000\r\n",               // beyond the argument limit: discarded
		fmt.Sprintf("*1\r\n$%d\r\n", maxArg), // within: buffered as it arrives
		"*1048576\r\n",                       // many arguments declared, few sent
	} {
		in := header + strings.Repeat("x", sent)
		_, rd := parseAll(strings.NewReader(in), maxArg)
		if len(rd.buf) > 4*sent {
			t.Errorf("%q + %d bytes: buffer of %d bytes", header, sent, len(rd.buf))
		}
	}
	big := fmt.Sprintf("*1\r\n$%d\r\n%s\r\n*1\r\n$4\r\nPING\r\n", 1<<20, strings.Repeat("x", 1<<20))
	rd := newReader(strings.NewReader(big), maxArg)
	for n := 0; n < 2; {
		_, ok, err := rd.parse()
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			n++
			continue
		}
		if err := rd.fill(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rd.fill(); !errors.Is(err, io.EOF) {
		t.Fatalf("fill at end = %v", err)
	}
	if len(rd.buf) != initialBuf {
		t.Errorf("buffer kept %d bytes after a large command", len(rd.buf))
	}
}

// FuzzReader: the commands parsed do not depend on how the input is split into reads,
// and parsing never panics.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"PING\r\necho a b\n",
		"*3\r\n$3\r\nSET\r\n$12\r\n0123456789ab\r\n$1\r\nv\r\n",
		"*1\r\n$2147483647\r\n",
		"*1\r\n$9223372036854775807\r\nxx\r\n",
		"*-1\r\n*0\r\n",
		"*1\r\n$-1\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, _ := parseAll(bytes.NewReader(in), 10)
		split, _ := parseAll(iotest.OneByteReader(bytes.NewReader(in)), 10)
		if whole != split {
			t.Fatalf("whole input:\n%s\none byte at a time:\n%s", whole, split)
		}
	})
}
