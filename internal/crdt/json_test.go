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
