// Package cli is the chorus command: a server node, a local development cluster, the
// simulator and the client commands. cmd/chorus is a thin main around Main.
//
// Go programs that embed Chorus — to register their own merge functions with package
// merge, say — build their own binary around it:
//
//	package main
//
//	import (
//		"github.com/chorusdb/chorus/cli"
//		"github.com/chorusdb/chorus/merge"
//	)
//
//	func main() {
//		merge.Register("maxbid", maxBid)
//		cli.Main()
//	}
package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Version is the version the binary reports; set it at build time with
// -ldflags "-X github.com/chorusdb/chorus/cli.Version=…".
var Version = "dev"

// Command returns the root command with every subcommand, for programs that want to
// add their own.
func Command() *cobra.Command {
	root := &cobra.Command{
		Use:           "chorus",
		Short:         "Chorus: a Dynamo-style replicated key-value store",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.AddCommand(serverCmd(), devCmd(), getCmd(), putCmd(), delCmd(), clusterCmd(), hintsCmd(), repairCmd(), benchCmd(), keyspaceCmd(), simCmd(), certsCmd())
	return root
}

// Main runs the command line in os.Args and exits: status 1 on an error (printed to
// stderr), and whatever a subcommand chose otherwise (chorus sim exits 1 on a
// violation).
func Main() {
	if err := Command().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "chorus:", err)
		os.Exit(1)
	}
	os.Exit(0)
}
