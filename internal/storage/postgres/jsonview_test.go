package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// reg returns a one-sibling register holding v.
func reg(v string) object.Object {
	dot := version.Dot{Actor: "n1", Counter: 3}
	return object.Object{
		Kind:     object.KindRegister,
		Siblings: []object.Sibling{{Value: []byte(v), Dot: dot, Timestamp: version.MakeTimestamp(1_700_000_000_123, 7)}},
		Context:  version.Vector{dot},
	}
}

const sib = `"tombstone":false,"ts":"1700000000123.7","time":"2023-11-14T22:13:20.123Z","dot":{"actor":"n1","counter":3},"expires_at":null`

func TestValueJSON(t *testing.T) {
	ts := version.MakeTimestamp(1_700_000_000_123, 7)
	cases := []struct {
		name string
		obj  object.Object
		want string
	}{
		{"json object", reg(`{"name": "alice", "age": 30}`), `{"name": "alice", "age": 30}`},
		{"json string", reg(`"hello"`), `"hello"`},
		{"json number", reg(`42`), `42`},
		{"text", reg("hello"), `{"chorus":1,"kind":"register","siblings":[{"text":"hello",` + sib + `}]}`},
		{"empty", reg(""), `{"chorus":1,"kind":"register","siblings":[{"text":"",` + sib + `}]}`},
		{"binary", reg("\x00\xff"), `{"chorus":1,"kind":"register","siblings":[{"base64":"AP8=",` + sib + `}]}`},
		{"looks like an envelope", reg(`{"chorus": 2}`), `{"chorus":1,"kind":"register","siblings":[{"value":{"chorus":2},` + sib + `}]}`},
		{"json with NUL escape", reg(`"a\u0000b"`), `{"chorus":1,"kind":"register","siblings":[{"text":"\"a\\u0000b\"",` + sib + `}]}`},
		{"huge exponent", reg(`1e100000`), `{"chorus":1,"kind":"register","siblings":[{"text":"1e100000",` + sib + `}]}`},
		{"deep nesting", reg(strings.Repeat("[", 200) + strings.Repeat("]", 200)), ""},
		{"tombstone", object.Object{
			Kind:     object.KindRegister,
			Siblings: []object.Sibling{{Dot: version.Dot{Actor: "n1", Counter: 3}, Timestamp: ts, Tombstone: true}},
		}, `{"chorus":1,"kind":"register","siblings":[{"tombstone":true,"ts":"1700000000123.7","time":"2023-11-14T22:13:20.123Z","dot":{"actor":"n1","counter":3},"expires_at":null}]}`},
		{"expiring", object.Object{
			Kind:     object.KindRegister,
			Siblings: []object.Sibling{{Value: []byte("1"), Dot: version.Dot{Actor: "n1", Counter: 3}, Timestamp: ts, ExpiresAt: 1_700_000_060_000}},
		}, `{"chorus":1,"kind":"register","siblings":[{"value":1,"tombstone":false,"ts":"1700000000123.7","time":"2023-11-14T22:13:20.123Z","dot":{"actor":"n1","counter":3},"expires_at":"2023-11-14T22:14:20.000Z"}]}`},
		{"counter", object.Object{
			Kind:     object.KindCounter,
			Siblings: []object.Sibling{{Value: []byte{1, 2}, Dot: version.Dot{Actor: "n\x00", Counter: 3}, Timestamp: ts}},
		}, `{"chorus":1,"kind":"pncounter","siblings":[{"base64":"AQI=","tombstone":false,"ts":"1700000000123.7","time":"2023-11-14T22:13:20.123Z","dot":{"actor":"n%00","counter":3},"expires_at":null}]}`},
		{"zero object", object.Object{}, `{"chorus":1,"kind":"register","siblings":[]}`},
	}
	for _, c := range cases {
		got := string(valueJSON(c.obj))
		if c.want == "" {
			if !strings.HasPrefix(got, `{"chorus":1,"kind":"register","siblings":[{"text":"[[[`) {
				t.Errorf("%s: valueJSON = %.80s…, want a text envelope", c.name, got)
			}
			continue
		}
		if got != c.want {
			t.Errorf("%s: valueJSON =\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
}

func TestClockJSON(t *testing.T) {
	v := version.Vector{{Actor: "n1", Counter: 4}, {Actor: "n\xff", Counter: 1 << 60}}
	if got, want := string(clockJSON(v)), `{"n1":4,"n%FF":1152921504606846976}`; got != want {
		t.Errorf("clockJSON = %s, want %s", got, want)
	}
	if got := string(clockJSON(nil)); got != "{}" {
		t.Errorf("clockJSON(nil) = %s, want {}", got)
	}
}

// TestJSONAcceptedByServer sends values at the edges of safeJSON through the server's
// jsonb input: whatever valueJSON produces, PostgreSQL must accept, or a Commit would
// fail on a value.
func TestJSONAcceptedByServer(t *testing.T) {
	dsn := testDSN(t)
	values := []string{
		`{"a": [1, 2.5, -3e10, true, null, "x"]}`,
		`"\ud83c\udf89"`, `"\ud800"`, `"\u0000"`, `"a\\u0000"`,
		"1e999", "-1e-999", "1e1000", "1E+999", strings.Repeat("9", 300), strings.Repeat("9", 301),
		"0." + strings.Repeat("0", 290) + "1e-999",
		strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth),
		strings.Repeat(`{"a":`, maxJSONDepth) + "1" + strings.Repeat("}", maxJSONDepth),
		strings.Repeat("[", 5000) + strings.Repeat("]", 5000),
		" \t\n{} ", "\"\xff\"", "\x00", "", "{\"k\": \"\x01\"}", "\"\u2028\"",
	}
	withConn(t, dsn, func(ctx context.Context, conn *pgx.Conn) {
		for _, v := range values {
			for _, js := range []string{string(valueJSON(reg(v))), string(clockJSON(version.Vector{{Actor: v, Counter: 1}}))} {
				if _, err := conn.Exec(ctx, "SELECT $1::text::jsonb", js); err != nil {
					t.Errorf("server refused the JSON for %.40q: %v", v, err)
				}
			}
		}
	})
}
