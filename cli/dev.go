package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/chorusdb/chorus/internal/membership"
	"github.com/chorusdb/chorus/internal/node"
)

func devCmd() *cobra.Command {
	var nodes int
	var dir, logLevel string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a local cluster of real nodes on 127.0.0.1 (RESP 6380+i, HTTP 7380+i, gossip 8380+i, RPC 9380+i)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodes < 1 || nodes > 100 {
				return fmt.Errorf("--nodes must be between 1 and 100, got %d", nodes)
			}
			if dir == "" {
				d, err := os.MkdirTemp("", "chorus-dev-")
				if err != nil {
					return err
				}
				dir = d
			}
			logger, err := newLogger(logLevel, "text")
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			procs, err := startDevCluster(nodes, dir, func(c *node.Config) { c.Logger = logger.With("dev", c.NodeID) })
			defer func() {
				for _, p := range procs {
					p.stop()
				}
			}()
			if err != nil {
				return err
			}
			for i, p := range procs {
				c := devConfig(i, nodes, dir)
				fmt.Printf("%s resp=%s http=%s gossip=%s rpc=%s data=%s\n", p.node.NodeID(), c.RESPAddr, c.HTTPAddr, c.GossipAddr, c.RPCAddr, c.DataDir)
			}
			if err := waitAllAlive(ctx, procs); err != nil {
				return err
			}
			fmt.Println("ready")
			<-ctx.Done()
			fmt.Println("stopping")
			return nil
		},
	}
	cmd.Flags().IntVar(&nodes, "nodes", 3, "number of nodes")
	cmd.Flags().StringVar(&dir, "dir", "", "data directory (default: a new temporary folder)")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "log level of the nodes")
	return cmd
}

// devConfig is node i's configuration in a dev cluster of n nodes under dir.
func devConfig(i, n int, dir string) node.Config {
	c := node.DefaultConfig()
	c.NodeID = fmt.Sprintf("node%d", i)
	c.DataDir = filepath.Join(dir, c.NodeID)
	c.RESPAddr = addrWithPort("127.0.0.1", 6380+i)
	c.HTTPAddr = addrWithPort("127.0.0.1", 7380+i)
	c.GossipAddr = addrWithPort("127.0.0.1", 8380+i)
	c.RPCAddr = addrWithPort("127.0.0.1", 9380+i)
	c.ReplicationFactor = min(3, n)
	c.FastGossip = true
	for j := 0; j < n; j++ {
		if j != i {
			c.Join = append(c.Join, addrWithPort("127.0.0.1", 8380+j))
		}
	}
	return c
}

func startDevCluster(n int, dir string, adjust func(*node.Config)) ([]*process, error) {
	var procs []*process
	for i := 0; i < n; i++ {
		c := devConfig(i, n, dir)
		adjust(&c)
		p, err := startProcess(c, processOpts{})
		if err != nil {
			return procs, fmt.Errorf("%s: %w", c.NodeID, err)
		}
		procs = append(procs, p)
	}
	return procs, nil
}

// waitAllAlive waits until every node sees every node alive and none is filling.
func waitAllAlive(ctx context.Context, procs []*process) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok := true
		for _, p := range procs {
			alive := 0
			for _, m := range p.node.Members() {
				if m.Status == membership.Alive {
					alive++
				}
			}
			ok = ok && alive >= len(procs) && !p.node.Filling()
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the nodes did not all see each other within 60s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
