package bssctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/bss-api/bss-api/client"
)

// errWatchDone ends a watch that printed its --count answers.
var errWatchDone = errors.New("watch done")

func (a *app) newWatch() *cobra.Command {
	watch := &cobra.Command{
		Use:   "watch strategies",
		Short: "Follow changes as they happen",
		Example: `  bssctl watch strategies
  bssctl watch strategies -o json | jq -c '.scheduling | length'`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE("strategies"),
	}
	var count int
	var wait time.Duration
	cmd := &cobra.Command{
		Use:     "strategies",
		Aliases: []string{"strategy", "st"},
		Short:   "Print each change of the resolved strategies as it happens",
		Long: `Print the resolved strategies, then every change as soon as the server
has it: one line per PID that was ADDED, MODIFIED (another priority,
slice or winning strategy) or DELETED, with the version of the answer.
It uses the server's blocking queries (?wait= with the last ETag), so
nothing polls. While the server is unreachable or restarting the watch
keeps waiting and says so on standard error. Ctrl-C ends it.

With -o json, each new answer is one line of JSON (the API's answer,
with version and scheduling); with -o yaml, one YAML document each.`,
		Example: `  bssctl watch strategies
  bssctl watch strategies --count 2 -o json`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().IntVar(&count, "count", 0, "stop after this many answers (0: until Ctrl-C)")
	cmd.Flags().DurationVar(&wait, "wait", time.Minute, "how long the server may hold each request")
	out := outputFlag(cmd, false)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkFormat(*out, false); err != nil {
			return err
		}
		if count < 0 {
			return usagef("--count %d: want 0 or more", count)
		}
		c, err := a.newClient()
		if err != nil {
			return err
		}
		w := &strategyWatcher{out: a.io.Out, format: *out}
		n := 0
		err = c.WatchStrategies(cmd.Context(), client.WatchOptions{
			Wait:    wait,
			OnError: func(err error) { fmt.Fprintf(a.io.Err, "watch: %s; retrying\n", a.describe(err)) },
		}, func(s *client.Strategies) error {
			if err := w.show(s); err != nil {
				return err
			}
			n++
			if count > 0 && n >= count {
				return errWatchDone
			}
			return nil
		}, client.Verbose())
		if errors.Is(err, errWatchDone) {
			return nil
		}
		return err
	}
	watch.AddCommand(cmd)
	return watch
}

// strategyWatcher prints the answers of a watch as events.
type strategyWatcher struct {
	out     io.Writer
	format  string
	prev    map[int]client.SchedulingEntry
	started bool
}

const watchRow = "%-9s %-8s %-8s %-9s %-8s %-20s %-30s %s\n"

func (w *strategyWatcher) show(s *client.Strategies) error {
	switch w.format {
	case formatJSON:
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w.out, "%s\n", b)
		return err
	case formatYAML:
		b, err := yaml.Marshal(s)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w.out, "---\n%s", b)
		return err
	}
	if !w.started {
		fmt.Fprintf(w.out, watchRow, "EVENT", "VERSION", "PID", "PRIORITY", "SLICE", "STRATEGY", "POD", "COMMAND")
		w.started = true
	}
	next := make(map[int]client.SchedulingEntry, len(s.Scheduling))
	version := fmt.Sprint(s.Version)
	for _, e := range s.Scheduling {
		next[e.PID] = e
		old, had := w.prev[e.PID]
		switch {
		case !had:
			w.row("ADDED", version, e)
		case old.Priority != e.Priority || old.ExecutionTime != e.ExecutionTime || old.Strategy != e.Strategy:
			w.row("MODIFIED", version, e)
		}
	}
	for _, pid := range slices.Sorted(maps.Keys(w.prev)) {
		if _, ok := next[pid]; !ok {
			w.row("DELETED", version, w.prev[pid])
		}
	}
	w.prev = next
	return nil
}

func (w *strategyWatcher) row(event, version string, e client.SchedulingEntry) {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	fmt.Fprintf(w.out, watchRow, event, version, fmt.Sprint(e.PID), level(e.Priority), slice(e.ExecutionTime),
		dash(e.Strategy), dash(podName(e.Namespace, e.PodName, e.PodUID)), dash(e.Command))
}
