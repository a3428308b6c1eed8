package api

import (
	"errors"
	"testing"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

func TestLimits(t *testing.T) {
	var l Limits // defaults
	if err := l.CheckKey(2048); err != nil {
		t.Errorf("key at the limit: %v", err)
	}
	err := l.CheckKey(2049)
	if !errors.Is(err, core.ErrTooLarge) || err.Error() != "TOOLARGE key of 2049 bytes exceeds the 2048-byte limit" {
		t.Errorf("CheckKey(2049) = %v", err)
	}
	if err := l.CheckValue(8 << 20); err != nil {
		t.Errorf("value at the limit: %v", err)
	}
	err = Limits{MaxValueBytes: 10}.CheckValue(11)
	if !errors.Is(err, core.ErrTooLarge) || err.Error() != "TOOLARGE value of 11 bytes exceeds the 10-byte limit" {
		t.Errorf("CheckValue(11) = %v", err)
	}
	if got := (Limits{MaxValueBytes: 10}).MaxArgBytes(); got != 2048 {
		t.Errorf("MaxArgBytes = %d", got)
	}
}

func TestSiblings(t *testing.T) {
	live := func(v string, c uint64) object.Sibling {
		return object.Sibling{Value: []byte(v), Dot: version.Dot{Actor: "a", Counter: c}}
	}
	dead := object.Sibling{Tombstone: true}
	expired := object.Sibling{Value: []byte("old"), ExpiresAt: 5}
	for _, tc := range []struct {
		name string
		rep  core.Reply
		want []string
	}{
		{"absent", core.Reply{}, nil},
		{"one", core.Reply{Found: true, Obj: object.Object{Siblings: []object.Sibling{live("x", 1)}}}, nil},
		{"two live", core.Reply{Found: true, Obj: object.Object{Kind: object.KindSiblings, Siblings: []object.Sibling{live("x", 1), live("y", 2)}}}, []string{"x", "y"}},
		{"merged", core.Reply{Found: true, Merged: true, Obj: object.Object{Kind: object.KindSiblings, Siblings: []object.Sibling{live("x", 1), live("y", 2)}}}, nil},
		{"one live, others not", core.Reply{Found: true, Obj: object.Object{Kind: object.KindSiblings, Siblings: []object.Sibling{dead, live("y", 2), expired}}}, nil},
		{"not found", core.Reply{Obj: object.Object{Kind: object.KindSiblings, Siblings: []object.Sibling{live("x", 1), live("y", 2)}}}, nil},
		{"counter", core.Reply{Found: true, Obj: object.Object{Kind: object.KindCounter, Siblings: []object.Sibling{live("x", 1), live("y", 2)}}}, nil},
	} {
		got := Siblings(tc.rep, 10)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if string(got[i]) != tc.want[i] {
				t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
			}
		}
	}
}
