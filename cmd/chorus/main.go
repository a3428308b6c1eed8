// Command chorus is the one Chorus binary: a server node, a local development cluster,
// the simulator, and client commands (get, put, del, cluster status, …). The commands
// live in package cli, so that programs embedding Chorus can build the same binary
// with their own merge functions registered.
package main

import "github.com/chorusdb/chorus/cli"

func main() { cli.Main() }
