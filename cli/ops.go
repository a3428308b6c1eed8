package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/chorusdb/chorus/internal/api"
)

func hintsCmd() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "hints",
		Short: "Show the hints a node holds for replicas that missed writes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, body, err := call(http.MethodGet, "http://"+f.addr+"/v1/hints", nil)
			if err != nil {
				return err
			}
			var v struct {
				Targets []struct {
					Target string    `json:"target"`
					Count  int       `json:"count"`
					Bytes  int64     `json:"bytes"`
					Oldest time.Time `json:"oldest"`
				} `json:"targets"`
			}
			if err := json.Unmarshal(body, &v); err != nil {
				return fmt.Errorf("bad answer from %s: %w", f.addr, err)
			}
			if len(v.Targets) == 0 {
				fmt.Println("no hints pending")
				return nil
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TARGET\tHINTS\tBYTES\tOLDEST AGE")
			for _, t := range v.Targets {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", t.Target, t.Count, t.Bytes, time.Since(t.Oldest).Round(time.Second))
			}
			return tw.Flush()
		},
	}
	addClientFlags(cmd, f, "")
	return cmd
}

// repairLine is one line of POST /v1/repair's stream: progress, or the error that
// ended the repair.
type repairLine struct {
	api.RepairProgress
	Error string `json:"error"`
}

func repairCmd() *cobra.Command {
	f := &clientFlags{}
	var keyspace string
	cmd := &cobra.Command{
		Use:   "repair",
		Short: "Run a full Merkle-tree anti-entropy exchange of one node with its peers now",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u := "http://" + f.addr + "/v1/repair"
			if keyspace != "" {
				u += "?keyspace=" + url.QueryEscape(keyspace)
			}
			client := &http.Client{Timeout: 10 * time.Minute}
			resp, err := client.Post(u, "application/json", nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("repair refused: %s", resp.Status)
			}
			var last repairLine
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				var p repairLine
				if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
					return fmt.Errorf("bad progress line %q: %w", sc.Text(), err)
				}
				if p.Error != "" {
					return fmt.Errorf("repair: %s", p.Error)
				}
				last = p
				drawBar(p.RepairProgress)
			}
			fmt.Fprintln(os.Stderr)
			if !last.Done {
				return fmt.Errorf("repair ended before it finished: %v", sc.Err())
			}
			fmt.Printf("repair done: %d exchanges, %d ranges compared, %d differing, %d keys repaired, %d bytes sent\n",
				last.Exchanges, last.RangesCompared, last.RangesDiffering, last.KeysRepaired, last.BytesSent)
			return nil
		},
	}
	addClientFlags(cmd, f, "")
	cmd.Flags().StringVar(&keyspace, "keyspace", "", "exchange only this keyspace's keys")
	return cmd
}

// drawBar redraws a one-line progress bar on stderr.
func drawBar(p api.RepairProgress) {
	const width = 30
	frac := 1.0
	if p.Exchanges > 0 {
		frac = float64(p.Finished) / float64(p.Exchanges)
	}
	n := int(frac * width)
	fmt.Fprintf(os.Stderr, "\r[%s%s] %d/%d exchanges, %d keys repaired", strings.Repeat("#", n), strings.Repeat(".", width-n), p.Finished, p.Exchanges, p.KeysRepaired)
}
