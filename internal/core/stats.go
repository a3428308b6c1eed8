package core

// Stats are a core's cumulative counters. The driver copies them after each Ready and
// exports the sum over shards as metrics.
type Stats struct {
	ReadRepairs        uint64 // stale replicas sent a newer copy by a read
	SpeculativeReads   uint64 // reads that asked more replicas because the first were slow
	HintsStored        uint64 // hints written for replicas that missed a write
	HintsDelivered     uint64 // hints acknowledged by their target and removed
	HintsExpired       uint64 // hints dropped at their TTL, never delivered
	HintsDropped       uint64 // hints refused because their target's cap was reached
	HintsPending       int64  // hints held now
	HintBytesPending   int64  // bytes of hints held now
	AERangesCompared   uint64 // ranges whose roots were compared with a peer
	AERangesDiffering  uint64 // ranges found different
	AEKeysRepaired     uint64 // keys sent or received by anti-entropy
	AEBytesSent        uint64 // bytes of anti-entropy messages sent (hashes, keys, objects)
	TombstonesPurged   uint64 // tombstones removed after every replica held them
	AESessionsFinished uint64 // exchanges completed
	StorageErrors      uint64 // storage reads that failed in background work
	FillingRanges      int64  // ranges not yet filled after an empty-disk start
	Forwarded          uint64 // requests forwarded to a replica of their key
	SiblingsRead       uint64 // siblings returned by reads (with Reads: siblings per read)
	Reads              uint64 // reads answered with a value or not-found
	SkewedMessages     uint64 // messages from a peer whose clock was off by more than MaxClockSkewMs
}

// Stats returns the core's counters.
func (c *Core) Stats() Stats { return c.stats }
