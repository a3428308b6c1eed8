package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/chorusdb/chorus/internal/tlsutil"
)

// certsCmd: `chorus certs init|issue`, a development certificate authority and node
// certificates, so that a secure cluster starts with two commands.
func certsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "certs", Short: "Make a development CA and node certificates for TLS"}
	var dir, cluster string
	var validity time.Duration
	init := &cobra.Command{
		Use:   "init",
		Short: "Create a certificate authority (ca.pem, ca-key.pem) in --dir",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			certPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
			if _, err := os.Stat(keyPath); err == nil {
				return fmt.Errorf("%s exists; refusing to replace a CA (delete it first)", keyPath)
			}
			ca, err := tlsutil.NewCA(cluster, validity)
			if err != nil {
				return err
			}
			if err := writePair(dir, certPath, keyPath, ca); err != nil {
				return err
			}
			fmt.Printf("CA for cluster %q: %s (key %s, keep it secret)\n", cluster, certPath, keyPath)
			return nil
		},
	}
	var hosts []string
	issue := &cobra.Command{
		Use:   "issue NODE-ID",
		Short: "Issue a certificate for a node (NODE-ID.pem, NODE-ID-key.pem) signed by the CA in --dir",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			caCert, err1 := os.ReadFile(filepath.Join(dir, "ca.pem"))
			caKey, err2 := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
			if err := errors.Join(err1, err2); err != nil {
				return fmt.Errorf("reading the CA (run chorus certs init first): %w", err)
			}
			id := args[0]
			cert, err := tlsutil.IssueNode(tlsutil.PEM{Cert: caCert, Key: caKey}, cluster, id, hosts, validity)
			if err != nil {
				return err
			}
			certPath, keyPath := filepath.Join(dir, id+".pem"), filepath.Join(dir, id+"-key.pem")
			if err := writePair(dir, certPath, keyPath, cert); err != nil {
				return err
			}
			fmt.Printf("certificate of node %q in cluster %q: %s (key %s)\n", id, cluster, certPath, keyPath)
			return nil
		},
	}
	for _, c := range []*cobra.Command{init, issue} {
		c.Flags().StringVar(&dir, "dir", "certs", "directory of the CA and the certificates")
		c.Flags().StringVar(&cluster, "cluster", "chorus", "cluster name (must match the nodes' --cluster-name)")
		c.Flags().DurationVar(&validity, "validity", 365*24*time.Hour, "how long the certificate is valid")
	}
	issue.Flags().StringSliceVar(&hosts, "host", []string{"localhost", "127.0.0.1"}, "host names and IP addresses clients use to reach the node")
	cmd.AddCommand(init, issue)
	return cmd
}

// writePair writes a certificate (readable) and its key (owner only).
func writePair(dir, certPath, keyPath string, p tlsutil.PEM) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, p.Key, 0o600); err != nil {
		return err
	}
	return os.WriteFile(certPath, p.Cert, 0o644)
}
