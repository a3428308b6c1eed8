// Package record defines the durable records a node keeps — objects by key, hints for
// replicas that were down, read-repair log entries and small metadata values — and
// Batch, a group of writes that the driver makes durable together (one group commit).
//
// The core produces Batches as effects; storage engines apply them. The package is
// pure data: no I/O.
package record

import (
	"github.com/chorusdb/chorus/internal/object"
)

// Hint is a write kept for a replica that did not receive it, to be handed off when
// that replica is reachable again.
type Hint struct {
	ID        uint64 // assigned by the holder; increasing in creation order
	Target    string // node id of the replica the write was meant for
	Key       object.Key
	Object    object.Object
	CreatedAt int64 // unix milliseconds
	ExpiresAt int64 // unix milliseconds; never delivered at or after this time
}

// Repair is one entry of the read-repair log: a stale replica that was sent a newer
// copy of a key.
type Repair struct {
	Key        object.Key
	StaleNode  string
	RepairedAt int64 // unix milliseconds
}

// ObjectWrite stores Object under Key, replacing what was there. A zero Object with
// Purge set removes the key entirely (tombstone garbage collection).
type ObjectWrite struct {
	Key    object.Key
	Object object.Object
	Purge  bool
}

// MetaWrite stores a small named value (HLC high-water mark, dot counter reservation,
// known members, keyspace settings).
type MetaWrite struct {
	Name  string
	Value []byte
}

// Batch is a set of writes made durable together. The zero Batch is empty and ready.
type Batch struct {
	Objects     []ObjectWrite
	Meta        []MetaWrite
	Hints       []Hint   // hints to store
	HintDeletes []uint64 // ids of hints delivered or expired
	Repairs     []Repair // read-repair log entries to append
}

// Empty reports whether the batch holds no writes.
func (b *Batch) Empty() bool {
	return len(b.Objects) == 0 && len(b.Meta) == 0 && len(b.Hints) == 0 &&
		len(b.HintDeletes) == 0 && len(b.Repairs) == 0
}

// Reset empties the batch, keeping its capacity.
func (b *Batch) Reset() {
	clear(b.Objects)
	clear(b.Hints)
	clear(b.Repairs)
	b.Objects, b.Meta, b.Hints, b.HintDeletes, b.Repairs = b.Objects[:0], b.Meta[:0], b.Hints[:0], b.HintDeletes[:0], b.Repairs[:0]
}

// Append adds every write of o to b.
func (b *Batch) Append(o *Batch) {
	b.Objects = append(b.Objects, o.Objects...)
	b.Meta = append(b.Meta, o.Meta...)
	b.Hints = append(b.Hints, o.Hints...)
	b.HintDeletes = append(b.HintDeletes, o.HintDeletes...)
	b.Repairs = append(b.Repairs, o.Repairs...)
}
