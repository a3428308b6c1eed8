package postgres

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/storage"
)

func TestEscape(t *testing.T) {
	cases := []struct {
		in, key, keyspace string
	}{
		{"", "", ""},
		{"users", "users", "users"},
		{"a/b", "a/b", "a%2Fb"},
		{"100%", "100%25", "100%25"},
		{"%41", "%2541", "%2541"},
		{"\x00", "%00", "%00"},
		{"a\x00b", "a%00b", "a%00b"},
		{"tab\there", "tab%09here", "tab%09here"},
		{"del\x7f", "del%7F", "del%7F"},
		{"\xff", "%FF", "%FF"},
		{"\xff\xff\x00", "%FF%FF%00", "%FF%FF%00"},
		{"café", "café", "café"},
		{"日本語/キー", "日本語/キー", "日本語%2Fキー"},
		{"\u0085", "%C2%85", "%C2%85"},             // C1 control (NEL)
		{"\u00a0", "\u00a0", "\u00a0"},             // first printable after C1
		{"\xc3", "%C3", "%C3"},                     // truncated sequence
		{"\xed\xa0\x80", "%ED%A0%80", "%ED%A0%80"}, // a surrogate: not UTF-8
		{"\uFFFD", "\uFFFD", "\uFFFD"},             // a real replacement character is kept
		{"emoji 🎉", "emoji 🎉", "emoji 🎉"},
		{"space and ~!@#$^&*()", "space and ~!@#$^&*()", "space and ~!@#$^&*()"},
	}
	for _, c := range cases {
		if got := escape(c.in, false); got != c.key {
			t.Errorf("escape(%q, key) = %q, want %q", c.in, got, c.key)
		}
		if got := escape(c.in, true); got != c.keyspace {
			t.Errorf("escape(%q, keyspace) = %q, want %q", c.in, got, c.keyspace)
		}
		for _, esc := range []string{c.key, c.keyspace} {
			if !utf8.ValidString(esc) {
				t.Errorf("escape(%q) = %q is not UTF-8", c.in, esc)
			}
			if back, err := unescape(esc); err != nil || back != c.in {
				t.Errorf("unescape(%q) = %q, %v; want %q", esc, back, err, c.in)
			}
		}
	}
}

func TestUnescapeRejects(t *testing.T) {
	for _, bad := range []string{"%", "%4", "a%G0", "%0g", "x%"} {
		if _, err := unescape(bad); !errors.Is(err, storage.ErrCorrupt) {
			t.Errorf("unescape(%q): error %v, want ErrCorrupt", bad, err)
		}
	}
	if got, err := unescape("%c3%a9"); err != nil || got != "é" {
		t.Errorf("unescape accepts lower-case hex: got %q, %v", got, err)
	}
}

func TestRowKey(t *testing.T) {
	cases := []struct {
		key  object.Key
		want string
	}{
		{object.Key{Keyspace: "users", Key: "alice"}, "users/alice"},
		{object.Key{Keyspace: "", Key: ""}, "/"},
		{object.Key{Keyspace: "a/b", Key: "c"}, "a%2Fb/c"},
		{object.Key{Keyspace: "a", Key: "b/c"}, "a/b/c"},
		{object.Key{Keyspace: "odd", Key: "d\x00x"}, "odd/d%00x"},
		{object.Key{Keyspace: "od", Key: "d\x00x"}, "od/d%00x"},
	}
	for _, c := range cases {
		if got := rowKey(c.key); got != c.want {
			t.Errorf("rowKey(%q) = %q, want %q", c.key, got, c.want)
		}
		if back, err := parseRowKey(c.want); err != nil || back != c.key {
			t.Errorf("parseRowKey(%q) = %q, %v; want %q", c.want, back, err, c.key)
		}
	}
	if _, err := parseRowKey("no separator"); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("parseRowKey without '/': %v, want ErrCorrupt", err)
	}
}

// FuzzRowKey checks that the key text is valid UTF-8 without NUL (what a TEXT column
// holds), that it decodes back, and that two keys never share a text.
func FuzzRowKey(f *testing.F) {
	for _, s := range []string{"", "a", "/", "%", "\x00", "\xff", "a/b", "é", "\xc3"} {
		f.Add(s, s+"/x")
	}
	f.Fuzz(func(t *testing.T, ks, key string) {
		k := object.Key{Keyspace: ks, Key: key}
		text := rowKey(k)
		if !utf8.ValidString(text) {
			t.Fatalf("rowKey(%q) = %q: not UTF-8", k, text)
		}
		for i := 0; i < len(text); i++ {
			if text[i] == 0 {
				t.Fatalf("rowKey(%q) = %q holds a NUL", k, text)
			}
		}
		back, err := parseRowKey(text)
		if err != nil || back != k {
			t.Fatalf("parseRowKey(rowKey(%q)) = %q, %v", k, back, err)
		}
		// Injective across the keyspace boundary: moving a '/' from the key into the
		// keyspace changes the text.
		other := object.Key{Keyspace: ks + "/", Key: key}
		if rowKey(other) == text {
			t.Fatalf("rowKey(%q) == rowKey(%q)", k, other)
		}
	})
}

func TestPrefixEnd(t *testing.T) {
	cases := []struct{ in, want []byte }{
		{nil, nil},
		{[]byte("a"), []byte("b")},
		{[]byte("a/"), []byte("a0")},
		{[]byte("a\xff"), []byte("b")},
		{[]byte("\xff\xff"), nil},
	}
	for _, c := range cases {
		got := prefixEnd(c.in)
		if string(got) != string(c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("prefixEnd(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
