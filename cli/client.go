package cli

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/tlsutil"
)

// clientFlags are the flags every client command shares.
type clientFlags struct {
	addr     string
	keyspace string
	level    string
}

func addClientFlags(cmd *cobra.Command, f *clientFlags, levelFlag string) {
	addr := os.Getenv("CHORUS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:7380"
	}
	cmd.Flags().StringVar(&f.addr, "addr", addr, "HTTP address of any node (env CHORUS_ADDR)")
	if levelFlag != "" {
		cmd.Flags().StringVar(&f.keyspace, "keyspace", "default", "keyspace")
		cmd.Flags().StringVar(&f.level, "level", "QUORUM", levelFlag)
	}
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// call sends one HTTP request and returns the status and body, or an error carrying
// the server's error message. With CHORUS_CA_FILE set it speaks HTTPS, trusting that CA
// bundle; with CHORUS_TOKEN set it sends the token as a bearer token.
func call(method, u string, body []byte) (int, []byte, error) {
	if ca := os.Getenv("CHORUS_CA_FILE"); ca != "" {
		pool, err := tlsutil.ClientPool(ca)
		if err != nil {
			return 0, nil, fmt.Errorf("CHORUS_CA_FILE: %w", err)
		}
		u = "https://" + strings.TrimPrefix(u, "http://")
		httpClient = &http.Client{Timeout: httpClient.Timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if tok := os.Getenv("CHORUS_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	if resp.StatusCode >= 400 && resp.StatusCode != http.StatusNotFound {
		var e struct{ Error, Message string }
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			return resp.StatusCode, b, fmt.Errorf("%s: %s", e.Error, e.Message)
		}
		return resp.StatusCode, b, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return resp.StatusCode, b, nil
}

func kvURL(f *clientFlags, key, levelParam string) string {
	return fmt.Sprintf("http://%s/v1/kv/%s/%s?%s=%s", f.addr, url.PathEscape(f.keyspace), url.PathEscape(key), levelParam, url.QueryEscape(f.level))
}

func getCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Read a key and print its JSON value",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			status, body, err := call(http.MethodGet, kvURL(f, args[0], "r"), nil)
			if err != nil {
				return err
			}
			if status == http.StatusNotFound {
				return fmt.Errorf("key %q not found", args[0])
			}
			fmt.Println(string(bytes.TrimSpace(body)))
			return nil
		},
	}
	addClientFlags(cmd, f, "read consistency level")
	return cmd
}

func putCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "put KEY VALUE",
		Short: "Write a key; VALUE is stored as JSON if it parses as JSON, else as a JSON string",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := []byte(args[1])
			if !json.Valid(body) {
				body, _ = json.Marshal(args[1])
			}
			_, _, err := call(http.MethodPut, kvURL(f, args[0], "w"), body)
			if err == nil {
				fmt.Println("OK")
			}
			return err
		},
	}
	addClientFlags(cmd, f, "write consistency level")
	return cmd
}

func delCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "del KEY",
		Short: "Delete a key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, _, err := call(http.MethodDelete, kvURL(f, args[0], "w"), nil)
			if err == nil {
				fmt.Println("OK")
			}
			return err
		},
	}
	addClientFlags(cmd, f, "write consistency level")
	return cmd
}

func clusterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Cluster administration"}
	f := &clientFlags{}
	status := &cobra.Command{
		Use:   "status",
		Short: "Print the members as one node sees them, with the share of keys each holds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, body, err := call(http.MethodGet, "http://"+f.addr+"/v1/cluster", nil)
			if err != nil {
				return err
			}
			var v api.ClusterView
			if err := json.Unmarshal(body, &v); err != nil {
				return fmt.Errorf("bad answer from %s: %w", f.addr, err)
			}
			fmt.Printf("Cluster seen by %s (replication factor %d)\n", v.Node, v.ReplicationFactor)
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tZONE\tADDRESS\tOWNS (EFFECTIVE)\tCLOCK")
			for _, m := range v.Members {
				zone := m.Zone
				if zone == "" {
					zone = "-"
				}
				clock := "-"
				if m.ClockOffsetMs != nil {
					clock = fmt.Sprintf("%+dms", *m.ClockOffsetMs)
					if m.ClockSkewed {
						clock += " SKEWED"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f%%\t%s\n", m.ID, m.Status, zone, m.Addrs.RPC, 100*m.Ownership, clock)
			}
			return tw.Flush()
		},
	}
	addClientFlags(status, f, "")
	cmd.AddCommand(status)
	return cmd
}
