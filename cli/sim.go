package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/chorusdb/chorus/internal/sim"
)

// errViolations makes `chorus sim` exit with status 1 after printing its report.
var errViolations = errors.New("the simulation broke properties")

func simCmd() *cobra.Command {
	var (
		cfg              = sim.DefaultConfig(1)
		faults, history  string
		models           string
		logPath          string
		runs             int
		jsonOut, verbose bool
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate a cluster under faults, deterministically from a seed, and check what clients saw",
		Long: `sim runs the real core state machines of --nodes nodes in one process with a
virtual clock and a simulated network, from one seed: a workload of gets, puts and
deletes at ONE, QUORUM and ALL runs while the --faults are injected (partition,
crash, loss, dup, reorder, skew, pause, suspect; all; none); then everything heals
and replicas must converge. Checkers read the history and every replica's state: no
acknowledged write lost, no resurrection, convergence, failed writes never seen,
QUORUM reads that see acknowledged writes, no reused dot, no hint after its TTL.

The report gives the scenario the seed expanded into, the faults injected, the
violations (with the ids of the operations involved), the time to converge, a hash
of every event processed, and the command line that replays the run: the same seed
gives the same report, byte for byte. The exit status is 1 if any property broke.

--bug NAME runs a deliberately broken variant the checkers must catch (--bug list
names them); --runs N runs seeds --seed … --seed+N-1 and prints one line per seed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if cfg.Bug == "list" {
				return listBugs(out)
			}
			fs, err := sim.ParseFaults(faults)
			if err != nil {
				return err
			}
			cfg.Faults = fs
			if models != "" {
				if cfg.Models, err = sim.ParseModels(models); err != nil {
					return err
				}
			}
			if cfg.Bug != "" && !cmd.Flags().Changed("faults") {
				cfg.Faults = bugFaults(cfg.Bug, cfg.Faults)
			}
			if runs < 1 {
				return errors.New("--runs must be at least 1")
			}
			if runs == 1 {
				if logPath != "" {
					f, err := os.Create(logPath)
					if err != nil {
						return err
					}
					defer f.Close()
					cfg.Log = f
				}
				return simOnce(out, cfg, jsonOut, history)
			}
			return simRuns(out, cfg, runs, jsonOut, verbose)
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "the seed everything is drawn from")
	f.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "cluster size (1 to 2000)")
	f.IntVar(&cfg.Keys, "keys", cfg.Keys, "keys the workload touches")
	f.IntVar(&cfg.Ops, "ops", cfg.Ops, "client operations")
	f.StringVar(&faults, "faults", "all", "faults to inject: comma-separated partition,crash,loss,dup,reorder,skew,pause,suspect; all; none")
	f.StringVar(&cfg.Bug, "bug", "", "run a deliberately broken variant (list: show them)")
	f.StringVar(&models, "models", "", "data types the workload uses: comma-separated register,siblings,counter,set (default all)")
	f.BoolVar(&cfg.StrictLWW, "strict-lww", false, "count LWW losses explained by clocks as violations, not measurements")
	f.BoolVar(&jsonOut, "json", false, "print the report as JSON")
	f.IntVar(&runs, "runs", 1, "run this many consecutive seeds from --seed, one line each")
	f.BoolVar(&verbose, "verbose", false, "with --runs: print the full report of every failing seed")
	f.StringVar(&history, "history", "", "write the run's history to this file (one operation per line)")
	f.StringVar(&logPath, "log", "", "write a line per event of note (messages, commits, views, faults) to this file")
	return cmd
}

// simOnce runs one seed and prints its report.
func simOnce(out io.Writer, cfg sim.Config, jsonOut bool, history string) error {
	rep, err := sim.Run(cfg)
	if err != nil {
		return err
	}
	if jsonOut {
		err = rep.WriteJSON(out)
	} else {
		err = rep.WriteText(out)
	}
	if err != nil {
		return err
	}
	if history != "" {
		if err := writeHistory(history, rep); err != nil {
			return err
		}
	}
	if rep.Failed() {
		return fmt.Errorf("%w: %d violation(s); replay: %s", errViolations, len(rep.Violations), rep.Replay)
	}
	return nil
}

func writeHistory(path string, rep *sim.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteHistory(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// simRuns runs consecutive seeds and prints a line for each.
func simRuns(out io.Writer, cfg sim.Config, runs int, jsonOut, verbose bool) error {
	failed := 0
	for i := range runs {
		c := cfg
		c.Seed = cfg.Seed + uint64(i)
		rep, err := sim.Run(c)
		if err != nil {
			return err
		}
		if rep.Failed() {
			failed++
		}
		if jsonOut {
			rep.Scenario = "" // one compact line per run
			b, err := json.Marshal(rep)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s\n", b)
			continue
		}
		status := "ok"
		if rep.Failed() {
			status = fmt.Sprintf("FAIL %d violation(s), first [%s] %s", len(rep.Violations), rep.Violations[0].Property, rep.Violations[0].Detail)
		}
		fmt.Fprintf(out, "seed %d: %s; converged %d ms after heal; trace %s\n", c.Seed, status, rep.ConvergenceMs, rep.TraceHash)
		if rep.Failed() {
			fmt.Fprintf(out, "  replay: %s\n", rep.Replay)
			if verbose {
				rep.WriteText(out)
			}
		}
	}
	if !jsonOut {
		fmt.Fprintf(out, "%d runs, %d failed\n", runs, failed)
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d seeds failed", errViolations, failed, runs)
	}
	return nil
}

func listBugs(out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, b := range sim.Bugs() {
		if b.Hook == "" {
			fmt.Fprintf(tw, "%s\t%s (faults %s)\n", b.Name, b.Doc, b.Faults)
		} else {
			fmt.Fprintf(tw, "%s\t%s; needs a core hook: %s\n", b.Name, b.Doc, b.Hook)
		}
	}
	return tw.Flush()
}

// bugFaults returns the faults a bug shows under, or def if it names none.
func bugFaults(name string, def sim.Faults) sim.Faults {
	for _, b := range sim.Bugs() {
		if b.Name == name && b.Faults != 0 {
			return b.Faults
		}
	}
	return def
}
