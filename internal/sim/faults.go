package sim

// The fault injector. During the fault phase, at exponentially distributed intervals,
// it injects one fault of a kind drawn from the enabled ones; each fault ends by
// itself after a while (a partition heals, a crashed node restarts, a paused one
// resumes), and whatever is still going on when the workload ends is healed then.
// Loss, duplication and reordering are not events but rates (see send).

// discreteFaults are the faults injected as events.
var discreteFaults = [...]Fault{FaultPartition, FaultCrash, FaultPause, FaultSkew, FaultSuspect}

func (s *simulation) startFaults() {
	if s.enabledFaults() == nil {
		return
	}
	s.after(s.faultGap(), "fault", s.injectFault)
}

func (s *simulation) enabledFaults() []Fault {
	var out []Fault
	for _, f := range discreteFaults {
		if s.cfg.Faults.Has(f) {
			out = append(out, f)
		}
	}
	return out
}

func (s *simulation) faultGap() int64 {
	return 1 + int64(s.rFault.ExpFloat64()*float64(s.sc.faultGapUs))
}

func (s *simulation) injectFault() {
	if s.phase != phaseFaults {
		return
	}
	kinds := s.enabledFaults()
	switch kinds[s.rFault.IntN(len(kinds))] {
	case FaultPartition:
		s.partition()
	case FaultCrash:
		s.crashSome()
	case FaultPause:
		s.pauseSome()
	case FaultSkew:
		s.skewSome()
	case FaultSuspect:
		s.suspectSome()
	}
	s.after(s.faultGap(), "fault", s.injectFault)
}

// partition cuts the network for 1 to 10 s (40 s in some scenarios): one node
// isolated, a random minority split from the rest, or a split in one direction only.
func (s *simulation) partition() {
	n := len(s.nodes)
	if n < 2 {
		return
	}
	a, b := make([]bool, n), make([]bool, n)
	kind := s.rFault.IntN(3)
	size := 1
	if kind > 0 {
		size = 1 + s.rFault.IntN(max(1, n/2))
	}
	for i, j := range s.rFault.Perm(n) {
		a[j] = i < size
		b[j] = i >= size
	}
	var ids []int
	switch kind {
	case 0:
		s.injected.isolations++
		ids = append(ids, s.net.addCut(a, b), s.net.addCut(b, a))
	case 1:
		s.injected.partitions++
		ids = append(ids, s.net.addCut(a, b), s.net.addCut(b, a))
	default:
		s.injected.oneWay++
		ids = append(ids, s.net.addCut(a, b))
	}
	s.traceValue("partition", kind)
	if s.cfg.Log != nil {
		var side []string
		for i, in := range a {
			if in {
				side = append(side, s.nodes[i].id)
			}
		}
		s.logf("partition: %v cut from the rest%s", side, map[bool]string{true: " (one way: their messages out are dropped)", false: ""}[kind == 2])
	}
	s.membershipChanged()
	s.after(s.between(s.rFault, 1*usPerSec, s.sc.partitionMaxUs), "partition end", func() {
		if s.phase != phaseFaults {
			return
		}
		for _, id := range ids {
			s.net.removeCut(id)
		}
		s.membershipChanged()
	})
}

// down counts the nodes crashed or paused.
func (s *simulation) down() int {
	d := 0
	for _, n := range s.nodes {
		if !n.alive || n.paused || n.torn {
			d++
		}
	}
	return d
}

// pickNode returns a random node that ok accepts, or nil.
func (s *simulation) pickNode(ok func(*simNode) bool) *simNode {
	var cand []*simNode
	for _, n := range s.nodes {
		if ok(n) {
			cand = append(cand, n)
		}
	}
	if len(cand) == 0 {
		return nil
	}
	return cand[s.rFault.IntN(len(cand))]
}

// crashSome crashes a node (for 0.5 to 8 s by default); half the time the crash is torn: it strikes
// at the node's next commit, between the Ready and the batch being durable.
func (s *simulation) crashSome() {
	if s.down() >= s.sc.maxDown {
		return
	}
	n := s.pickNode(func(n *simNode) bool { return n.alive && !n.torn })
	if n == nil {
		return
	}
	downtime := s.between(s.rFault, s.sc.crashMinUs, s.sc.crashMaxUs)
	if s.rFault.IntN(2) == 0 {
		s.crash(n, downtime)
		return
	}
	n.torn, n.tornDowntime = true, downtime
	gen := n.gen
	s.after(2*usPerSec, "torn crash fallback", func() {
		if n.alive && n.gen == gen && n.torn && s.phase == phaseFaults {
			n.torn = false // no commit came: crash anyway, untorn
			s.crash(n, downtime)
		}
	})
}

// pauseSome pauses a node for 0.3 to 6 s: past the failure detector, and past request
// deadlines.
func (s *simulation) pauseSome() {
	if s.down() >= s.sc.maxDown {
		return
	}
	n := s.pickNode(func(n *simNode) bool { return n.alive && !n.paused })
	if n == nil {
		return
	}
	s.pause(n)
	s.after(s.between(s.rFault, 300*usPerMs, 6*usPerSec), "resume", func() {
		if s.phase == phaseFaults {
			s.resume(n)
		}
	})
}

// skewSome steps a node's clock (up to ±2 s, within ±skewMaxMs overall) or changes its
// drift (up to ±1000 ppm).
func (s *simulation) skewSome() {
	n := s.nodes[s.rFault.IntN(len(s.nodes))]
	s.injected.skews++
	if s.rFault.IntN(2) == 0 {
		off := n.clock.offsetMs + s.between(s.rFault, -2000, 2000)
		n.clock.offsetMs = min(max(off, -s.sc.skewMaxMs), s.sc.skewMaxMs)
	} else {
		n.clock.setDrift(s.now, s.between(s.rFault, -1000, 1000))
	}
	s.traceNote("skew", n.idx)
}

// suspectSome makes one node see another as down, wrongly, for 0.5 to 5 s.
func (s *simulation) suspectSome() {
	if len(s.nodes) < 2 {
		return
	}
	o := s.rFault.IntN(len(s.nodes))
	t := (o + 1 + s.rFault.IntN(len(s.nodes)-1)) % len(s.nodes)
	key := suspicion{o, t}
	if s.suspected[key] {
		return
	}
	s.suspected[key] = true
	s.injected.suspicions++
	s.traceNote("suspect", o)
	s.noticeLater(s.nodes[o])
	s.after(s.between(s.rFault, 500*usPerMs, 5*usPerSec), "suspicion end", func() {
		if s.phase == phaseFaults {
			delete(s.suspected, key)
			s.noticeLater(s.nodes[o])
		}
	})
}

// noticeLater has n's failure detector refresh its view after a detection delay.
func (s *simulation) noticeLater(n *simNode) {
	if n.alive {
		s.schedule(s.now+s.between(s.rNode, s.sc.detectMinUs, s.sc.detectMaxUs), &event{kind: evView, node: n.idx, gen: n.gen})
	}
}
