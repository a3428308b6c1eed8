package postgres

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/storage"
)

// Names (keys, keyspaces, node ids) are arbitrary bytes, but a TEXT column holds only
// valid UTF-8 without NUL. Text columns therefore hold names percent-escaped: every byte
// that is '%', an ASCII control (0x00-0x1F, 0x7F), part of a C1 control (U+0080-U+009F)
// or part of an invalid UTF-8 sequence is written as '%' and two upper-case hex digits;
// in a keyspace, '/' is escaped too. Everything else, printable UTF-8 included, is kept
// as is, so ordinary names read the same in SQL as in Chorus. The rule depends on no
// Unicode table, so a name's escaped form never changes between Go versions (it is part
// of the primary key).
//
// ReplicaState.key (and HintedHandoff.key, ReadRepairLog.key) hold
// escape(keyspace) + "/" + escape(key): the first '/' ends the keyspace, since a
// keyspace's own slashes are escaped.

const hexDigits = "0123456789ABCDEF"

// escape returns s percent-escaped as described above; slash also escapes '/'.
func escape(s string, slash bool) string {
	i := 0
	for i < len(s) {
		n := keptLen(s[i:], slash)
		if n == 0 {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		if n := keptLen(s[i:], slash); n > 0 {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		c := s[i]
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
		i++
	}
	return b.String()
}

// keptLen returns the length of the character at the start of s if it is kept as is,
// and 0 if its first byte must be escaped.
func keptLen(s string, slash bool) int {
	c := s[0]
	if c < utf8.RuneSelf {
		if c < 0x20 || c == 0x7f || c == '%' || (slash && c == '/') {
			return 0
		}
		return 1
	}
	r, n := utf8.DecodeRuneInString(s)
	if (r == utf8.RuneError && n == 1) || (r >= 0x80 && r <= 0x9f) {
		return 0
	}
	return n
}

// unescape reverses escape. It accepts hex digits of either case.
func unescape(s string) (string, error) {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("%w: truncated escape in %q", storage.ErrCorrupt, s)
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("%w: bad escape in %q", storage.ErrCorrupt, s)
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// rowKey is the text stored in the key columns: escaped keyspace, '/', escaped key.
func rowKey(k object.Key) string {
	return escape(k.Keyspace, true) + "/" + escape(k.Key, false)
}

// parseRowKey reverses rowKey.
func parseRowKey(s string) (object.Key, error) {
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return object.Key{}, fmt.Errorf("%w: key %q has no keyspace separator", storage.ErrCorrupt, s)
	}
	ks, err := unescape(s[:i])
	if err != nil {
		return object.Key{}, err
	}
	key, err := unescape(s[i+1:])
	if err != nil {
		return object.Key{}, err
	}
	return object.Key{Keyspace: ks, Key: key}, nil
}
