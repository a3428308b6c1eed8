// Package merkle provides the fixed-shape hash trees that anti-entropy compares.
//
// A Tree covers the keys of one ring range (on one core shard). It has 256 leaf
// buckets under 16 inner nodes under one root. A key falls in the bucket chosen by its
// key hash; a leaf is an order-independent set hash — the sum modulo 2⁶⁴ of the item
// hashes of its (key, version digest) pairs — so a write, delete or repair updates its
// leaf by subtracting the old item and adding the new one, with no scan. Inner nodes
// and the root are hashes of their 16 children, recomputed lazily, so an update costs
// O(depth) and reading the root after many updates costs at most one pass per dirty
// inner node.
//
// Two replicas compare roots, then the 16 children of differing roots, then the 16
// leaves of differing inner nodes, and finally exchange the (key, digest) lists of the
// differing buckets only: bytes sent grow with the difference, not with the data.
//
// The package is pure: no I/O, no clock.
package merkle
