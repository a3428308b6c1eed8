// Package sim is the deterministic simulator of a Chorus cluster: it runs the real core
// state machines of many nodes (internal/core, one core per node, each over a memory
// storage engine) in one goroutine, with a virtual clock and a simulated network, from
// one seed. The same Config gives the same run, event for event: the Report's trace
// hash covers every event processed, in order.
//
// # What is simulated
//
//   - An event queue ordered by (virtual time in microseconds, a seeded tie-break).
//   - A network with a latency distribution (and a long tail that reorders messages),
//     loss, duplication, and symmetric and one-way partitions. Messages cross it
//     encoded (wire.Append / wire.Decode), as they would cross a socket.
//   - Nodes that act on each core Ready as internal/node does: step a burst of inputs,
//     make the batch durable (a disk latency), only then send the messages and give the
//     replies, then Advance. A crash loses whatever was not yet durable — the batch
//     being written, the queued inputs, the core's memory — and a restart rebuilds the
//     core with core.New from the memory engine's durable contents: the persisted HLC
//     high-water mark and the stored hints. A torn crash strikes exactly between Ready
//     and the commit.
//   - Paused nodes (SIGSTOP): inputs queue up, time passes, nothing is stepped.
//   - Per-node clocks with an offset and a drift, stepped by the skew fault.
//   - A membership view per node that is late (detection delays) and can be wrong
//     (false suspicion), fed to each core with SetView.
//   - A closed-loop workload of clients issuing operations at ONE, QUORUM and ALL on
//     keys of four data types (models): last-write-wins registers, a siblings
//     keyspace whose writes carry the context their client last saw, PN-counters and
//     OR-sets; recorded in a History (invoke, ok, fail, timeout, with virtual times,
//     the dot each write was stamped with and the node that stamped it, and what each
//     operation returned).
//
// A run has a fault phase (the workload runs while faults are injected), then a
// liveness phase that heals everything, lets the cores' own anti-entropy and hinted
// handoff run, and requires every replica of every key to hold the same object within
// a bounded virtual time; then one QUORUM read per key gives the final state.
//
// # Checkers
//
// Checkers read the history and an all-seeing view of every replica, hint and message:
//
//   - P1: no acknowledged write lost. The final value is never older (by LWW order)
//     than an acknowledged write; a live value older than an acknowledged delete is a
//     resurrection. A final value superseded in real time by an acknowledged write that
//     began after it completed, but with a smaller timestamp (clock skew, or the HLC
//     window a restarted node resumes above), is the documented LWW loss: it is
//     measured and reported, and is a violation only with Config.StrictLWW.
//   - Quorum overlap: a read at R that began after a write at W was acknowledged, with
//     R+W > N, returns that write or a newer one; with blocking read repair, such reads
//     are also monotonic.
//   - P2: convergence after heal, within a bounded virtual time.
//   - P3: a write that failed (UNAVAILABLE, or refused by a node that was down) is never
//     observed, in any read or on any replica; TIMEOUT is unknown.
//   - Durability: a replica that acknowledged a write still holds it after a crash.
//   - No reused dot, no timestamp below what the coordinator's HLC had observed (HLC
//     causality), no hint sent at or after its TTL, no value that no client wrote, no
//     request applied twice (a duplicated or replayed forward).
//   - Siblings, against a causal oracle: after convergence the live siblings are
//     exactly the acknowledged puts that no write's context covered (plus possibly
//     unknown ones), none that an acknowledged write's context covered, and no more
//     than there were concurrent writers.
//   - Counters: the final value, and each replica's share of it, lies within
//     [acknowledged, acknowledged + unknown] increments: no acknowledged increment
//     lost, no failed or duplicated one applied.
//   - Sets: every acknowledged add that no remove observed is present; no dot that an
//     acknowledged remove (or add) observed comes back.
//
// # Extending the workload
//
// A model (model.go) is one data type the workload exercises: it picks operations on
// its keys, turns them into core requests, learns their outcome as its client would,
// and checks each of its keys' histories. The models are register.go, siblings.go and
// crdt.go (counters and sets, with crdtstate.go, the oracle's reading of CRDT
// states); Config.Models chooses among them (all by default). A new data type comes
// as a model of its own, with its keyspace, its operation kinds (OpKind) and its
// checker.
//
// # Experiments
//
// scale.go measures the cluster at scale on the simulator (convergence after a
// partition heals as the cluster grows, anti-entropy bytes against divergence,
// probabilistically bounded staleness, availability against failure rates);
// scale_test.go prints the tables of BENCHMARKS.md when CHORUS_SIM_SCALE is set.
//
// # Deliberate bugs
//
// Config.Bug selects a broken variant (bugs.go) that the checkers must catch; the
// tests check that each is caught within a few seeds. docs/simulation.md tells how to
// run and replay.
package sim
