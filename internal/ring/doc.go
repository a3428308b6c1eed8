// Package ring places keys on members with consistent hashing.
//
// Each member owns a fixed number of tokens (virtual nodes) on a 64-bit hash ring,
// derived from nothing but its id, so every node that knows the same members builds
// the same ring without coordination. A key hashes (KeyHash) to a point on the ring;
// its preference list is the first N distinct members met walking clockwise from that
// point, taking members from zones not yet used first, so that the N replicas of a key
// span as many failure domains as the cluster has.
//
// The token ranges between consecutive tokens (Ranges) are the unit of anti-entropy:
// every key in one range has the same preference list (RangePreferenceList).
//
// A Ring is immutable once built and safe for concurrent use. A membership change
// builds a new Ring; adding a member moves only the keys whose ranges the new member's
// tokens take over (about 1/(N+1) of them as primary owner).
//
// Usage:
//
//	r := ring.New([]ring.Member{{ID: "n1", Zone: "a"}, {ID: "n2", Zone: "b"}}, ring.DefaultVnodes)
//	replicas := r.AppendPreferenceList(buf[:0], ring.KeyHash("users", "alice"), 3)
//
// The package is pure: no I/O, clock or randomness.
package ring
