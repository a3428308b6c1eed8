// Package console is the web console every node serves at /ui/: one page of plain
// HTML, CSS and JavaScript (no build step), embedded in the binary with go:embed.
//
// The page polls the node's own HTTP API about once a second and draws, as that node
// sees the cluster:
//
//   - the ring as an SVG circle: each arc is a token range coloured by the member that
//     owns it as primary (down members red), with an outer band in the member's zone
//     colour, and a table of members with status, vnodes and ownership (GET /v1/cluster
//     and GET /ui/api/ring);
//   - health: this node's GET /healthz and how many members are up;
//   - request rates, error rates and p50/p99 latencies per operation, computed in the
//     browser from the differences between two scrapes of GET /metrics;
//   - the hints this node holds, per target (GET /v1/hints), and the newest read
//     repairs it logged (GET /v1/read-repairs);
//   - a key inspector that shows each replica's copy of a key
//     (GET /v1/inspect/{keyspace}/{key}) and marks the key on the ring.
//
// Handler serves the page and one JSON route of its own, GET /ui/api/ring, the ring's
// layout: token ranges merged into arcs by primary owner, as fractions of the ring,
// rebuilt from the members the Backend reports in the same way the node builds its
// ring (every member not left, ring.DefaultVnodes tokens each). With ?keyspace=K&key=KEY
// it also places that key: its ring position and preference list. The route is for the
// console; its shape may change with it.
//
// Everything the page shows is inserted as text (never as HTML), and responses carry a
// Content-Security-Policy that allows only the node's own scripts and styles.
package console
