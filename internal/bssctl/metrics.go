package bssctl

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/bss-api/bss-api/client"
)

// counterNames and gaugeNames are the summary's keys, in the API's order.
var (
	counterNames = []string{"nr_user_dispatches", "nr_kernel_dispatches", "nr_cancel_dispatches",
		"nr_bounce_dispatches", "nr_failed_dispatches", "nr_sched_congested"}
	gaugeNames = []string{"nr_queued", "nr_scheduled", "nr_running", "nr_online_cpus"}
)

func (a *app) newMetrics() *cobra.Command {
	metrics := &cobra.Command{
		Use:   "metrics summary",
		Short: "Summaries of the scheduler's metrics",
		Example: `  bssctl metrics summary --window 5m
  bssctl get metrics          # the latest sample
  bssctl top                  # a live view`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE("summary"),
	}
	var window time.Duration
	cmd := &cobra.Command{
		Use:   "summary",
		Short: "Counter rates and gauge min/avg/max over a window",
		Long: `Per-second rates and total increases of the dispatch counters, and the
minimum, average and maximum of the gauges (queue depth, running tasks,
online CPUs), over the samples received in the last --window. Rates need
samples at least a second apart ("-" otherwise); a scheduler restart in
the window is counted in resets and never makes a rate negative.`,
		Example: `  bssctl metrics summary
  bssctl metrics summary --window 1h -o json`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().DurationVar(&window, "window", 5*time.Minute, "how far back to summarize (at most the server's --history-retention)")
	out := outputFlag(cmd, false)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkFormat(*out, false); err != nil {
			return err
		}
		if window <= 0 {
			return usagef("--window %s: want a positive duration", window)
		}
		c, err := a.newClient()
		if err != nil {
			return err
		}
		s, err := c.MetricsSummary(cmd.Context(), window)
		if err != nil {
			return err
		}
		if *out != formatTable {
			return printData(a.io.Out, *out, s)
		}
		return a.printSummary(s)
	}
	metrics.AddCommand(cmd)
	return metrics
}

func (a *app) printSummary(s *client.MetricsSummary) error {
	fmt.Fprintf(a.io.Out, "Node %s, window %s: %d samples, %d resets\n\n", s.Node, s.Window, s.Samples, s.Resets)
	t := newTable(a.io.Out, "COUNTER", "RATE/S", "INCREASE")
	for _, n := range counterNames {
		t.row(n, rate(s.Rates, n), fmt.Sprint(s.Increases[n]))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(a.io.Out)
	t = newTable(a.io.Out, "GAUGE", "MIN", "AVG", "MAX")
	for _, n := range gaugeNames {
		g, ok := s.Gauges[n]
		if !ok {
			t.row(n, "", "", "")
			continue
		}
		t.row(n, fmt.Sprint(g.Min), fmt.Sprintf("%.2f", g.Avg), fmt.Sprint(g.Max))
	}
	return t.flush()
}

// rate shows a counter's rate, "" (shown "-") when the window had none.
func rate(rates map[string]float64, name string) string {
	r, ok := rates[name]
	if !ok {
		return ""
	}
	return fmt.Sprintf("%.2f", r)
}
