package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

type keyspaceView struct {
	Name              string `json:"name"`
	Resolution        string `json:"resolution,omitempty"`
	ReplicationFactor int    `json:"replication_factor,omitempty"`
	ReadRepair        string `json:"read_repair,omitempty"`
	SiblingCap        int    `json:"sibling_cap,omitempty"`
}

func keyspaceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keyspace", Short: "Create and list keyspaces (cluster-wide settings)"}
	f := &clientFlags{}
	var ks keyspaceView
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create or update a keyspace",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ks.Name = args[0]
			body, _ := json.Marshal(ks)
			_, out, err := call(http.MethodPut, "http://"+f.addr+"/v1/keyspaces/"+url.PathEscape(args[0]), body)
			if err != nil {
				return err
			}
			fmt.Println(string(out))
			return nil
		},
	}
	addClientFlags(create, f, "")
	create.Flags().StringVar(&ks.Resolution, "resolution", "", "conflict resolution: lww, siblings or merge:NAME (merge:union built in)")
	create.Flags().IntVar(&ks.SiblingCap, "sibling-cap", 0, "siblings keyspaces: most siblings a key may hold before writes without context fail (default 64)")
	create.Flags().IntVar(&ks.ReplicationFactor, "replication-factor", 0, "replicas per key (must equal the cluster's)")
	create.Flags().StringVar(&ks.ReadRepair, "read-repair", "", "read repair: async, blocking or off")
	lf := &clientFlags{}
	list := &cobra.Command{
		Use:   "list",
		Short: "List keyspaces",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, body, err := call(http.MethodGet, "http://"+lf.addr+"/v1/keyspaces", nil)
			if err != nil {
				return err
			}
			var all []keyspaceView
			if err := json.Unmarshal(body, &all); err != nil {
				return fmt.Errorf("bad answer from %s: %w", lf.addr, err)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tRESOLUTION\tREPLICATION\tREAD REPAIR\tSIBLING CAP")
			for _, k := range all {
				sc := "-"
				if k.SiblingCap > 0 {
					sc = fmt.Sprint(k.SiblingCap)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", k.Name, k.Resolution, k.ReplicationFactor, k.ReadRepair, sc)
			}
			return tw.Flush()
		},
	}
	addClientFlags(list, lf, "")
	cmd.AddCommand(create, list)
	return cmd
}
