// Package version holds the causality types every stored object carries: hybrid
// logical clock (HLC) timestamps, which order writes even when wall clocks are skewed,
// and dots and version vectors, which detect concurrent writes (the dotted version
// vector sets of Almeida et al.).
//
// The package is pure: it never reads the clock. Callers pass the physical time in.
package version
