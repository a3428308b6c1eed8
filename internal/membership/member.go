package membership

// Status is a member's state as this node sees it.
type Status uint8

// The member states.
const (
	Alive Status = iota
	Suspect
	Dead
	Left
)

// String returns the status as CONTRACT.md names it: alive, suspect, dead or left.
func (s Status) String() string {
	switch s {
	case Alive:
		return "alive"
	case Suspect:
		return "suspect"
	case Dead:
		return "dead"
	case Left:
		return "left"
	}
	return "unknown"
}

// Addrs are the addresses a member serves on.
type Addrs struct {
	RESP   string `json:"resp"`
	HTTP   string `json:"http"`
	Gossip string `json:"gossip"`
	RPC    string `json:"rpc"`
}

// Member is one node of the cluster.
type Member struct {
	ID     string `json:"id"`
	Zone   string `json:"zone"`
	Status Status `json:"-"`
	Addrs  Addrs  `json:"addrs"`
}

// View is a node's picture of the cluster. Implementations are safe for concurrent
// use; Members does not block.
type View interface {
	// Members returns every member known to this node, the local node included, with
	// its status (dead and left members too), sorted by id.
	Members() []Member
	// Subscribe registers fn to be called after every change of membership, status,
	// zone or addresses; one call may cover several changes, so fn reads Members.
	// Calls are never concurrent with each other. Gossip makes them from a
	// background goroutine; Static synchronously from the Set or Add that made the
	// change. fn must not block for long: it delays every later notification.
	Subscribe(fn func())
}
