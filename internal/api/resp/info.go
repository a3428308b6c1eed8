package resp

import (
	"strconv"
	"strings"

	"github.com/tidwall/redcon"

	"github.com/chorusdb/chorus/internal/membership"
)

// infoSection is one "# Name" block of INFO's reply.
type infoSection struct {
	name  string
	lines []string // "field:value"
}

// cmdInfo: INFO [section…] → a bulk string of sections, each a "# Name" line
// followed by "field:value" lines, sections separated by a blank line, lines ended by
// CRLF, as Redis formats it:
//
//	# Server
//	chorus_version:dev
//	node_id:n1
//	connected_clients:2
//
//	# Cluster
//	cluster_members:3
//	cluster_members_alive:3
//	replication_factor:3
//
// followed by the sections of Config.Info. With section names (case-insensitive)
// only those sections are returned; "all", "everything" and "default" return every
// section, and an unknown name none.
func (s *Server) cmdInfo(c *client, args [][]byte) {
	sections := s.infoSections()
	want := func(name string) bool {
		if len(args) == 1 {
			return true
		}
		for _, a := range args[1:] {
			if is(a, "ALL") || is(a, "EVERYTHING") || is(a, "DEFAULT") || is(a, strings.ToUpper(name)) {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	for _, sec := range sections {
		if !want(sec.name) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + sec.name + "\r\n")
		for _, l := range sec.lines {
			b.WriteString(l + "\r\n")
		}
	}
	c.out = redcon.AppendBulkString(c.out, b.String())
}

// infoSections gathers INFO's content.
func (s *Server) infoSections() []infoSection {
	members := s.cfg.Backend.Members()
	alive := 0
	for _, m := range members {
		if m.Status == membership.Alive {
			alive++
		}
	}
	sections := []infoSection{
		{name: "Server", lines: []string{
			"chorus_version:" + s.cfg.Version,
			"node_id:" + s.cfg.Backend.NodeID(),
			"connected_clients:" + strconv.Itoa(s.ConnectedClients()),
		}},
		{name: "Cluster", lines: []string{
			"cluster_members:" + strconv.Itoa(len(members)),
			"cluster_members_alive:" + strconv.Itoa(alive),
			"replication_factor:" + strconv.Itoa(s.cfg.Backend.ReplicationFactor()),
		}},
	}
	if s.cfg.Info != nil {
		sections = append(sections, parseInfoSections(s.cfg.Info())...)
	}
	return sections
}

// parseInfoSections splits extra INFO text into sections. Blank lines are dropped;
// lines before the first "# Name" line go into a section named "Extra".
func parseInfoSections(text string) []infoSection {
	var out []infoSection
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimRight(l, "\r")
		switch {
		case strings.TrimSpace(l) == "":
		case strings.HasPrefix(l, "# "):
			out = append(out, infoSection{name: strings.TrimSpace(l[2:])})
		default:
			if len(out) == 0 {
				out = append(out, infoSection{name: "Extra"})
			}
			out[len(out)-1].lines = append(out[len(out)-1].lines, l)
		}
	}
	return out
}
