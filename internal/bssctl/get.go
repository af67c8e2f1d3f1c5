package bssctl

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bss-api/bss-api/client"
)

func (a *app) newGet() *cobra.Command {
	get := &cobra.Command{
		Use:   "get strategies|definitions|pods|metrics",
		Short: "Show resolved strategies, stored definitions, pods or metrics",
		Long: `Show one kind of thing as an aligned table, or with -o json or -o yaml as
data. The data is a list of the rows (a sample object for metrics), with
every field the server gave.`,
		Example: `  bssctl get strategies
  bssctl get definitions -o yaml > strategies.yaml
  bssctl get pods -n monitoring -l app=loki
  bssctl get metrics --since 15m`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE("strategies, definitions, pods, metrics"),
	}
	get.AddCommand(a.newGetStrategies(), a.newGetDefinitions(), a.newGetPods(), a.newGetMetrics())
	return get
}

func (a *app) newGetStrategies() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "strategies",
		Aliases: []string{"strategy", "st"},
		Short:   "The resolved strategies: one row per PID the scheduler boosts",
		Long: `The resolved strategies, what the scheduler applies: one row per PID, with
its priority level, time slice, the strategy that won it, its pod,
container and command. Sorted by PID.`,
		Example: `  bssctl get strategies
  bssctl get strategies -o wide
  bssctl get strategies -o json | jq '.[] | select(.strategy == "upf") | .pid'`,
		Args: cobra.NoArgs,
	}
	out := outputFlag(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkFormat(*out, true); err != nil {
			return err
		}
		c, err := a.newClient()
		if err != nil {
			return err
		}
		s, err := c.Strategies(cmd.Context(), client.Verbose())
		if err != nil {
			return err
		}
		return a.printStrategies(*out, s.Scheduling)
	}
	return cmd
}

func (a *app) printStrategies(format string, entries []client.SchedulingEntry) error {
	if format == formatJSON || format == formatYAML {
		return printData(a.io.Out, format, nonNil(entries))
	}
	if len(entries) == 0 {
		fmt.Fprintln(a.io.Err, "No PID is given a strategy.")
		return nil
	}
	header := []string{"PID", "PRIORITY", "SLICE", "STRATEGY", "POD", "CONTAINER", "COMMAND"}
	if format == formatWide {
		header = append(header, "POD-UID", "START", "THREAD-OF")
	}
	t := newTable(a.io.Out, header...)
	for _, e := range entries {
		cells := []string{itoa(e.PID), level(e.Priority), slice(e.ExecutionTime), e.Strategy,
			podName(e.Namespace, e.PodName, e.PodUID), e.ContainerName, e.Command}
		if format == formatWide {
			cells = append(cells, e.PodUID, fmt.Sprint(e.StartTime), itoa(e.ThreadOf))
		}
		t.row(cells...)
	}
	return t.flush()
}

func (a *app) newGetDefinitions() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "definitions",
		Aliases: []string{"definition", "defs", "def"},
		Short:   "The stored strategies as written, in precedence order",
		Long: `The stored strategies as written, with their names, in precedence order
(among selector strategies the first that matches a PID wins; a pid
strategy beats them all). -o yaml prints a file that apply -f takes back.`,
		Example: `  bssctl get definitions
  bssctl get definitions -o yaml > strategies.yaml`,
		Args: cobra.NoArgs,
	}
	out := outputFlag(cmd, false)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkFormat(*out, false); err != nil {
			return err
		}
		c, err := a.newClient()
		if err != nil {
			return err
		}
		d, err := c.Definitions(cmd.Context())
		if err != nil {
			return err
		}
		if *out != formatTable {
			return printData(a.io.Out, *out, nonNil(d.Strategies))
		}
		if len(d.Strategies) == 0 {
			fmt.Fprintln(a.io.Err, "No strategies are stored.")
			return nil
		}
		t := newTable(a.io.Out, "NAME", "PRIORITY", "SLICE", "TARGETS", "THREADS", "NODES")
		for _, s := range d.Strategies {
			if s.Unreadable != "" {
				t.row(s.Name, "", "", "unreadable: "+s.Unreadable, "", "")
				continue
			}
			threads := ""
			if s.Threads {
				threads = "yes"
			}
			t.row(s.Name, level(s.Priority), slice(s.ExecutionTime), targets(s.Strategy), threads, strings.Join(s.Nodes, ","))
		}
		return t.flush()
	}
	return cmd
}

// podProcess is one row of get pods: a process of a pod and what the
// scheduler gives it.
type podProcess struct {
	Namespace     string          `json:"namespace"`
	Pod           string          `json:"pod"`
	PodUID        string          `json:"pod_uid"`
	Container     string          `json:"container"`
	ContainerID   string          `json:"container_id"`
	Sandbox       bool            `json:"sandbox,omitempty"`
	PID           int             `json:"pid"`
	PPID          int             `json:"ppid"`
	Command       string          `json:"command"`
	StartTime     uint64          `json:"start_time"`
	Strategy      string          `json:"strategy,omitempty"` // the strategy that won it; "" for none
	Priority      client.Priority `json:"priority,omitempty"`
	ExecutionTime uint64          `json:"execution_time,omitempty"`
}

func (a *app) newGetPods() *cobra.Command {
	var f client.PodFilter
	cmd := &cobra.Command{
		Use:     "pods",
		Aliases: []string{"pod", "po"},
		Short:   "Processes of the node's pods and the strategy that won each",
		Long: `One row per process of every pod on the server's node: namespace, pod,
container, PID, command and the strategy that won it ("-": none). The
sandbox (pause) container shows as <sandbox>; strategies never target it.`,
		Example: `  bssctl get pods
  bssctl get pods -n monitoring -l 'app in (loki,mimir)'
  bssctl get pods --pid 718001 -o yaml`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVarP(&f.Namespace, "namespace", "n", "", "only pods of this namespace")
	cmd.Flags().StringVarP(&f.LabelSelector, "selector", "l", "", "only pods matching this label selector (app=loki, 'tier in (a,b)')")
	cmd.Flags().IntVar(&f.PID, "pid", 0, "only the pod that runs this PID")
	out := outputFlag(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkFormat(*out, true); err != nil {
			return err
		}
		c, err := a.newClient()
		if err != nil {
			return err
		}
		pods, err := c.PodPIDs(cmd.Context(), f)
		if err != nil {
			return err
		}
		s, err := c.Strategies(cmd.Context(), client.Verbose())
		if err != nil {
			return err
		}
		rows := podRows(pods.Pods, s.Scheduling)
		if *out == formatJSON || *out == formatYAML {
			return printData(a.io.Out, *out, rows)
		}
		if len(rows) == 0 {
			fmt.Fprintln(a.io.Err, "No pod processes found.")
			return nil
		}
		header := []string{"NAMESPACE", "POD", "CONTAINER", "PID", "COMMAND", "STRATEGY"}
		if *out == formatWide {
			header = append(header, "PRIORITY", "SLICE", "POD-UID", "CONTAINER-ID", "PPID")
		}
		t := newTable(a.io.Out, header...)
		for _, r := range rows {
			pod := r.Pod
			if pod == "" {
				pod = "uid:" + r.PodUID
			}
			container := r.Container
			if r.Sandbox {
				container = "<sandbox>"
			}
			cells := []string{r.Namespace, pod, container, itoa(r.PID), r.Command, r.Strategy}
			if *out == formatWide {
				prio, sl := "", ""
				if r.Strategy != "" {
					prio, sl = level(r.Priority), slice(r.ExecutionTime)
				}
				cells = append(cells, prio, sl, r.PodUID, shortID(r.ContainerID), itoa(r.PPID))
			}
			t.row(cells...)
		}
		return t.flush()
	}
	return cmd
}

// podRows joins the pods' processes with the resolved entries: a process
// gets the entry of its PID when the start times agree (a reused PID is
// another process).
func podRows(pods []client.Pod, entries []client.SchedulingEntry) []podProcess {
	byPID := make(map[int]client.SchedulingEntry, len(entries))
	for _, e := range entries {
		byPID[e.PID] = e
	}
	rows := []podProcess{}
	for _, p := range pods {
		sandbox := map[string]bool{}
		for _, c := range p.Containers {
			sandbox[c.ContainerID] = c.Sandbox
		}
		for _, proc := range p.Processes {
			r := podProcess{Namespace: p.Namespace, Pod: p.PodName, PodUID: p.PodUID, Container: proc.ContainerName,
				ContainerID: proc.ContainerID, Sandbox: sandbox[proc.ContainerID], PID: proc.PID, PPID: proc.PPID,
				Command: proc.Command, StartTime: proc.StartTime}
			if e, ok := byPID[proc.PID]; ok && (e.StartTime == 0 || proc.StartTime == 0 || e.StartTime == proc.StartTime) {
				r.Strategy, r.Priority, r.ExecutionTime = e.Strategy, e.Priority, e.ExecutionTime
			}
			rows = append(rows, r)
		}
	}
	return rows
}

func (a *app) newGetMetrics() *cobra.Command {
	var since string
	var limit int
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "The scheduler's latest metrics sample, or its history",
		Long: `The latest sample the scheduler posted, one row per counter and gauge; with
--since, the samples received since then (a duration before now, or an
RFC 3339 time), oldest first, one row each.`,
		Example: `  bssctl get metrics
  bssctl get metrics --since 15m
  bssctl get metrics --since 2026-11-25T22:00:00Z --limit 10 -o json`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&since, "since", "", "show the history since this duration ago (15m) or RFC 3339 time")
	cmd.Flags().IntVar(&limit, "limit", 100, "with --since: at most this many samples (1-10000)")
	out := outputFlag(cmd, false)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkFormat(*out, false); err != nil {
			return err
		}
		if limit < 1 || limit > 10000 {
			return usagef("--limit %d: want 1 to 10000", limit)
		}
		c, err := a.newClient()
		if err != nil {
			return err
		}
		if since != "" {
			return a.printHistory(cmd, c, since, limit, *out)
		}
		m, err := c.LatestMetrics(cmd.Context())
		if err != nil {
			return err
		}
		if *out != formatTable {
			return printData(a.io.Out, *out, m.Metrics)
		}
		fmt.Fprintf(a.io.Out, "Node %s, sample received at %s\n\n", m.Node, m.Metrics.ReceivedAt.UTC().Format(time.RFC3339Nano))
		t := newTable(a.io.Out, "METRIC", "KIND", "VALUE")
		for _, f := range metricFields {
			t.row(f.name, f.kind, fmt.Sprint(f.get(m.Metrics.Metrics)))
		}
		return t.flush()
	}
	return cmd
}

func (a *app) printHistory(cmd *cobra.Command, c *client.Client, since string, limit int, format string) error {
	h, err := c.MetricsHistory(cmd.Context(), client.HistoryQuery{Since: since, Limit: limit})
	if err != nil {
		return err
	}
	if format != formatTable {
		return printData(a.io.Out, format, nonNil(h.Samples))
	}
	if len(h.Samples) == 0 {
		fmt.Fprintln(a.io.Err, "No samples in that time.")
		return nil
	}
	header := []string{"RECEIVED"}
	for _, f := range metricFields[2:] {
		header = append(header, f.short)
	}
	t := newTable(a.io.Out, header...)
	for _, s := range h.Samples {
		cells := []string{s.ReceivedAt.UTC().Format(fixedNano)}
		for _, f := range metricFields[2:] {
			cells = append(cells, fmt.Sprint(f.get(s.Metrics)))
		}
		t.row(cells...)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if h.HasMore {
		fmt.Fprintf(a.io.Err, "More samples follow: --since %s\n", h.NextSince)
	}
	return nil
}

// fixedNano is RFC 3339 with all nine digits of the nanoseconds, so the
// rows of a history line up.
const fixedNano = "2006-01-02T15:04:05.000000000Z07:00"

// metricField is one field of a sample, in the API's order.
type metricField struct {
	name, short, kind string
	get               func(client.Metrics) uint64
}

var metricFields = []metricField{
	{"usersched_pid", "PID", "identity", func(m client.Metrics) uint64 { return m.UserschedPID }},
	{"usersched_last_run_at", "LAST-RUN", "identity", func(m client.Metrics) uint64 { return m.UserschedLastRunAt }},
	{"nr_queued", "QUEUED", "gauge", func(m client.Metrics) uint64 { return m.NrQueued }},
	{"nr_scheduled", "SCHEDULED", "gauge", func(m client.Metrics) uint64 { return m.NrScheduled }},
	{"nr_running", "RUNNING", "gauge", func(m client.Metrics) uint64 { return m.NrRunning }},
	{"nr_online_cpus", "CPUS", "gauge", func(m client.Metrics) uint64 { return m.NrOnlineCPUs }},
	{"nr_user_dispatches", "USER", "counter", func(m client.Metrics) uint64 { return m.NrUserDispatches }},
	{"nr_kernel_dispatches", "KERNEL", "counter", func(m client.Metrics) uint64 { return m.NrKernelDispatches }},
	{"nr_cancel_dispatches", "CANCEL", "counter", func(m client.Metrics) uint64 { return m.NrCancelDispatches }},
	{"nr_bounce_dispatches", "BOUNCE", "counter", func(m client.Metrics) uint64 { return m.NrBounceDispatches }},
	{"nr_failed_dispatches", "FAILED", "counter", func(m client.Metrics) uint64 { return m.NrFailedDispatches }},
	{"nr_sched_congested", "CONGESTED", "counter", func(m client.Metrics) uint64 { return m.NrSchedCongested }},
}

// nonNil makes a nil list print as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// shortID shows the first 12 characters of a container ID, as docker does.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
