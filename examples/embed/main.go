// Command embed is a Chorus binary with an application merge rule of its own: a
// keyspace created with resolution "merge:max" keeps, of concurrent JSON numbers, the
// largest (a high-water mark, a best score). It is the whole of what an embedder
// writes; the rest is the stock chorus command.
//
//	go build ./examples/embed && ./embed server …
//	./embed keyspace create scores --resolution merge:max
package main

import (
	"encoding/json"
	"fmt"

	"github.com/chorusdb/chorus/cli"
	"github.com/chorusdb/chorus/merge"
)

// maxNumber merges JSON numbers by keeping the largest. It is deterministic,
// commutative and associative, as every merge function must be.
func maxNumber(values [][]byte) ([]byte, error) {
	var best float64
	for i, v := range values {
		var n float64
		if err := json.Unmarshal(v, &n); err != nil {
			return nil, fmt.Errorf("merge:max needs JSON numbers: %v", err)
		}
		if i == 0 || n > best {
			best = n
		}
	}
	return json.Marshal(best)
}

func main() {
	merge.Register("max", maxNumber)
	cli.Main()
}
