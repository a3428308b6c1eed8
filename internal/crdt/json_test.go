package crdt

import "testing"

func TestJSONViews(t *testing.T) {
	vs := samples(t)
	want := []string{
		`1099511627779`,
		`-2`,
		`["a","b"]`,
		`["b"]`,
		`["eggs","milk"]`,
		`"hello"`,
		`["red",{"base64":"/wA="}]`,
		`{"addr":{"city":"Porto","visits":1},"apple":1,"note":["hi"],"owner":"ann","tags":["x"]}`,
		`0`, `0`, `[]`, `[]`, `[]`, `null`, `[]`, `{}`,
	}
	for i, v := range vs {
		got, err := v.MarshalJSON()
		if err != nil || string(got) != want[i] {
			t.Errorf("%s: %s (%v), want %s", v.Type(), got, err, want[i])
		}
	}
}

func TestRegisterJSONShowsJSONValuesAsThemselves(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{`{"color":"blue"}`, `{"color":"blue"}`},
		{`42`, `42`},
		{`plain text`, `"plain text"`},
		{"\xff\x00", `{"base64":"/wA="}`},
	} {
		r := NewLWWRegister()
		r.Set("a", 1, []byte(tc.value))
		got, err := r.MarshalJSON()
		if err != nil || string(got) != tc.want {
			t.Errorf("register %q renders %s, %v; want %s", tc.value, got, err, tc.want)
		}
	}
}
