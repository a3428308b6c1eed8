package storage

import (
	"errors"
	"strings"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
)

func TestValidateBatch(t *testing.T) {
	good := object.Key{Keyspace: "ks\xff", Key: "k\x00"}
	bad := object.Key{Keyspace: "k\x00s", Key: "k"}
	cases := []struct {
		name     string
		b        record.Batch
		problems int
	}{
		{"empty", record.Batch{}, 0},
		{"valid", record.Batch{
			Objects: []record.ObjectWrite{{Key: good}, {Key: object.Key{}}},
			Hints:   []record.Hint{{Target: "n1", Key: good}},
		}, 0},
		{"object keyspace", record.Batch{Objects: []record.ObjectWrite{{Key: bad}}}, 1},
		{"hint target and key", record.Batch{Hints: []record.Hint{{Target: "", Key: bad}, {Target: "n\x00"}}}, 3},
		{"repairs and meta are free-form", record.Batch{
			Meta:    []record.MetaWrite{{Name: "\x00"}},
			Repairs: []record.Repair{{Key: bad, StaleNode: "\x00"}},
		}, 0},
	}
	for _, c := range cases {
		err := ValidateBatch(&c.b)
		if c.problems == 0 {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", c.name, err)
			continue
		}
		if n := strings.Count(err.Error(), "storage: invalid name"); n != c.problems {
			t.Errorf("%s: %d problems reported, want %d: %v", c.name, n, c.problems, err)
		}
	}
}
