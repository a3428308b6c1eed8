// Package membership tells a node who is in the cluster and whether each member is
// alive, suspect, dead or left, with each member's addresses and zone. Gossip wraps
// hashicorp/memberlist (SWIM gossip with Lifeguard); Static is an in-memory view for
// tests and the simulator.
package membership
