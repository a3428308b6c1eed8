// Package membership tells a node who is in the cluster and whether each member is
// alive, suspect, dead or left, with each member's addresses and zone. Gossip wraps
// hashicorp/memberlist (SWIM gossip with Lifeguard); Static is an in-memory view for
// tests and the simulator. Both implement View.
//
// A node starts gossip once and keeps it for its lifetime:
//
//	g, err := membership.NewGossip(membership.GossipConfig{
//		NodeID:   "n1",
//		BindAddr: "127.0.0.1:8380",
//		Zone:     "a",
//		Addrs:    membership.Addrs{RESP: "127.0.0.1:6380", RPC: "127.0.0.1:9380"},
//		Join:     []string{"127.0.0.1:8380", "127.0.0.1:8381"}, // own address skipped
//		Known:    remembered, // members saved by the last run, seen dead until they gossip
//	})
//	g.Subscribe(func() { rebuildRing(g.Members()) })
//	...
//	g.Close() // an ordinary stop: the others see this node dead and keep it in the ring
//
// Leave (then Close) is for a node that leaves the cluster for good. Members never
// disappear from a view: dead and left members stay, so that the ring can keep or
// hand over their ranges deliberately.
//
// Timing (failure-detection speed against traffic and false alarms) is described on
// Timing; DefaultTiming sees a kill -9 dead in about 3 s in a small cluster,
// FastTiming (tests, `chorus dev`) in about 1.2 s.
package membership
