package membership

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// rejoinLoop keeps this node in the cluster. While it sees no other live member it
// joins every address it knows (GossipConfig.Join and the gossip addresses of every
// member in the view but left ones), waiting RejoinInterval between rounds, doubled
// after each fruitless one up to RejoinMaxInterval; so nodes started in any order
// converge, and a restarted node finds the others. Once in a cluster, every
// ReconnectInterval it joins the addresses of members it sees dead, so that a
// partition longer than GossipToTheDeadTime heals and a restarted node that was
// told of nobody is found. It stops after Leave.
func (g *Gossip) rejoinLoop() {
	defer g.wg.Done()
	wait := g.timing.RejoinInterval
	lastReconnect := time.Now()
	for {
		if !sleepCtx(g.ctx, wait) {
			return
		}
		if g.isLeaving() {
			return
		}
		if g.ml.NumMembers() <= 1 {
			targets := g.rejoinTargets()
			if len(targets) > 0 && g.joinEach(targets) == 0 {
				wait = min(2*wait, g.timing.RejoinMaxInterval)
			} else {
				wait = g.timing.RejoinInterval
			}
			continue
		}
		wait = g.timing.RejoinInterval
		if time.Since(lastReconnect) >= g.timing.ReconnectInterval {
			lastReconnect = time.Now()
			g.joinEach(g.deadTargets())
		}
	}
}

// sleepCtx waits d, or returns false as soon as ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// rejoinTargets is every gossip address worth trying when alone.
func (g *Gossip) rejoinTargets() []string {
	addrs := slices.Clone(g.cfg.Join)
	g.mu.Lock()
	for id, ms := range g.members {
		if id != g.cfg.NodeID && ms.Status != Left && ms.Addrs.Gossip != "" {
			addrs = append(addrs, ms.Addrs.Gossip)
		}
	}
	g.mu.Unlock()
	return g.self.filter(addrs)
}

// deadTargets is the gossip addresses of the members seen dead.
func (g *Gossip) deadTargets() []string {
	var addrs []string
	g.mu.Lock()
	for id, ms := range g.members {
		if id != g.cfg.NodeID && ms.Status == Dead && ms.Addrs.Gossip != "" {
			addrs = append(addrs, ms.Addrs.Gossip)
		}
	}
	g.mu.Unlock()
	return g.self.filter(addrs)
}

// joinEach joins the addresses one at a time, stopping early on Close, and returns
// how many answered.
func (g *Gossip) joinEach(addrs []string) int {
	joined := 0
	for _, a := range addrs {
		if g.ctx.Err() != nil {
			break
		}
		if _, err := g.ml.Join([]string{a}); err != nil {
			g.log.Debug("join failed", "addr", a, "err", err)
			continue
		}
		g.log.Debug("joined", "addr", a)
		joined++
	}
	return joined
}

// selfAddrs recognises this node's own gossip address in a join list.
type selfAddrs struct {
	id      string
	literal map[string]bool // addresses exactly as configured or bound
	ip      net.IP          // bound IP; unspecified for all interfaces
	port    int
}

// newSelfAddrs collects the spellings of this node's gossip address.
func newSelfAddrs(id string, local *memberlist.Node, bindAddr, advertised string) selfAddrs {
	s := selfAddrs{id: id, literal: map[string]bool{}, ip: local.Addr, port: int(local.Port)}
	for _, a := range []string{bindAddr, advertised, local.Address()} {
		if a != "" {
			s.literal[a] = true
		}
	}
	if host, _, err := net.SplitHostPort(bindAddr); err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			s.ip = net.IPv4zero
		}
	}
	return s
}

// filter returns addrs without duplicates and without this node's own address.
func (s selfAddrs) filter(addrs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range addrs {
		a = strings.TrimSpace(a)
		if a == "" || seen[a] || s.is(a) {
			continue
		}
		seen[a] = true
		out = append(out, a)
	}
	return out
}

// is reports whether addr (host:port, optionally "name/host:port" as memberlist
// accepts) is this node.
func (s selfAddrs) is(addr string) bool {
	if name, rest, ok := strings.Cut(addr, "/"); ok {
		if name == s.id {
			return true
		}
		addr = rest
	}
	if s.literal[addr] {
		return true
	}
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if port, err := strconv.Atoi(ps); err != nil || port != s.port {
		return false
	}
	ips := []net.IP{net.ParseIP(host)}
	if ips[0] == nil {
		if ips, err = net.LookupIP(host); err != nil {
			return false
		}
	}
	for _, ip := range ips {
		if ip.Equal(s.ip) || (s.ip.IsUnspecified() && isLocalIP(ip)) {
			return true
		}
	}
	return false
}

// isLocalIP reports whether ip is loopback or belongs to one of this host's
// interfaces.
func isLocalIP(ip net.IP) bool {
	if ip.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
