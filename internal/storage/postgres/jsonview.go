package postgres

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// The JSONB columns (value, vector_clock) are a view for people and SQL; the engine
// reads objects back only from the object column (object.Encode), so the view may
// simplify. doc.go describes the format; this file renders it.

// envelopeVersion is the "chorus" field of every envelope.
const envelopeVersion = 1

// Limits under which bytes that are valid JSON are also accepted by PostgreSQL's jsonb
// input (which rejects \u0000, unpaired surrogates, numbers beyond numeric's range and
// nesting deeper than its stack allows). Values outside them are shown as text or
// base64 instead, so that no value can make a Commit fail.
const (
	maxJSONDepth     = 100
	maxJSONNumberLen = 300
)

// envelope is the value column of every object that is not a plain JSON register.
type envelope struct {
	Chorus   int           `json:"chorus"`
	Kind     string        `json:"kind"`
	Siblings []siblingView `json:"siblings"`
}

// siblingView shows one sibling. At most one of Value, Text and Base64 is set: Value
// when the bytes are JSON, Text when they are other text (valid UTF-8 without control
// characters but tab, newline and carriage return), Base64 otherwise. A
// tombstone with no bytes has none of them.
type siblingView struct {
	Value     json.RawMessage `json:"value,omitempty"`
	Text      *string         `json:"text,omitempty"`
	Base64    *string         `json:"base64,omitempty"`
	Tombstone bool            `json:"tombstone"`
	TS        string          `json:"ts"`
	Time      string          `json:"time"`
	Dot       dotView         `json:"dot"`
	ExpiresAt *string         `json:"expires_at"`
}

type dotView struct {
	Actor   string `json:"actor"`
	Counter uint64 `json:"counter"`
}

// valueJSON renders the value column for o.
func valueJSON(o object.Object) []byte {
	if len(o.Siblings) == 1 && o.Kind == object.KindRegister {
		s := o.Siblings[0]
		if !s.Tombstone && s.ExpiresAt == 0 && safeJSON(s.Value) && !looksLikeEnvelope(s.Value) {
			return s.Value
		}
	}
	env := envelope{Chorus: envelopeVersion, Kind: o.Kind.String(), Siblings: make([]siblingView, len(o.Siblings))}
	for i, s := range o.Siblings {
		env.Siblings[i] = viewSibling(s)
	}
	out, err := json.Marshal(env)
	if err != nil {
		panic("postgres: marshal envelope: " + err.Error()) // only plain strings and checked JSON go in
	}
	return out
}

func viewSibling(s object.Sibling) siblingView {
	v := siblingView{
		Tombstone: s.Tombstone,
		TS:        s.Timestamp.String(),
		Time:      formatMillis(s.Timestamp.Physical()),
		Dot:       dotView{Actor: escape(s.Dot.Actor, false), Counter: s.Dot.Counter},
	}
	switch {
	case s.Tombstone && len(s.Value) == 0:
	case safeJSON(s.Value):
		v.Value = s.Value
	case isText(s.Value):
		t := string(s.Value)
		v.Text = &t
	default:
		b := base64.StdEncoding.EncodeToString(s.Value)
		v.Base64 = &b
	}
	if s.ExpiresAt != 0 {
		t := formatMillis(s.ExpiresAt)
		v.ExpiresAt = &t
	}
	return v
}

// isText reports whether b is valid UTF-8 without control characters other than tab,
// newline and carriage return.
func isText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
			return false
		}
	}
	return utf8.Valid(b)
}

// formatMillis renders unix milliseconds as an RFC 3339 UTC time with milliseconds.
func formatMillis(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// clockJSON renders the vector_clock column: {actor: counter}, actors escaped.
func clockJSON(v version.Vector) []byte {
	out := make([]byte, 0, 2+len(v)*16)
	out = append(out, '{')
	for i, d := range v {
		if i > 0 {
			out = append(out, ',')
		}
		actor, _ := json.Marshal(escape(d.Actor, false)) // a string always marshals
		out = append(out, actor...)
		out = append(out, ':')
		out = strconv.AppendUint(out, d.Counter, 10)
	}
	return append(out, '}')
}

// looksLikeEnvelope reports whether JSON b is an object with a top-level "chorus" key,
// which a reader would take for an envelope; such values are wrapped in one instead.
func looksLikeEnvelope(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return true // cannot tell: wrap it
	}
	_, ok := top["chorus"]
	return ok
}

// safeJSON reports whether b is JSON that PostgreSQL's jsonb input accepts: valid
// UTF-8 and JSON, no \u escapes (\u0000 and unpaired surrogates are refused), nesting
// at most maxJSONDepth deep and numbers of at most maxJSONNumberLen characters with an
// exponent of at most three digits.
func safeJSON(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) || bytes.Contains(b, []byte(`\u`)) || !json.Valid(b) {
		return false
	}
	depth := 0
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case c == '[' || c == '{':
			if depth++; depth > maxJSONDepth {
				return false
			}
			i++
		case c == ']' || c == '}':
			depth--
			i++
		case c == '-' || (c >= '0' && c <= '9'):
			j := i
			for j < len(b) && bytes.IndexByte([]byte("+-.eE0123456789"), b[j]) >= 0 {
				j++
			}
			if !saneNumber(b[i:j]) {
				return false
			}
			i = j
		default:
			i++
		}
	}
	return true
}

// saneNumber reports whether a JSON number is within PostgreSQL numeric's range.
func saneNumber(n []byte) bool {
	if len(n) > maxJSONNumberLen {
		return false
	}
	e := bytes.IndexAny(n, "eE")
	if e < 0 {
		return true
	}
	exp := bytes.TrimLeft(n[e+1:], "+-")
	exp = bytes.TrimLeft(exp, "0")
	return len(exp) <= 3
}
