// Command chorus is the one Chorus binary: a server node, a local development cluster,
// and client commands (get, put, del, cluster status).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	root := &cobra.Command{
		Use:           "chorus",
		Short:         "Chorus: a Dynamo-style replicated key-value store",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.AddCommand(serverCmd(), devCmd(), getCmd(), putCmd(), delCmd(), clusterCmd(), hintsCmd(), repairCmd(), benchCmd(), keyspaceCmd(), simCmd(), certsCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "chorus:", err)
		os.Exit(1)
	}
}
