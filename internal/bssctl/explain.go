package bssctl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bss-api/bss-api/client"
)

// explained is what explain PID prints with -o json or yaml.
type explained struct {
	client.ExplainedPID
	Priority      client.Priority `json:"priority"`
	ExecutionTime uint64          `json:"execution_time"`
}

func (a *app) newExplain() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "explain PID",
		Short: "Why a PID gets its priority and slice: every strategy that matched and the winner",
		Long: `For one PID: its pod, container and command, every strategy that matched it
in precedence order, the one that won, and what the scheduler gives it.
A PID that no strategy matches is exit status 3.`,
		Example: `  bssctl explain 718001
  bssctl explain 718001 -o json`,
		Args: cobra.ExactArgs(1),
	}
	out := outputFlag(cmd, false)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkFormat(*out, false); err != nil {
			return err
		}
		pid, err := strconv.Atoi(args[0])
		if err != nil || pid < 1 {
			return usagef("PID %q: want a positive integer", args[0])
		}
		c, err := a.newClient()
		if err != nil {
			return err
		}
		ex, err := c.Explain(cmd.Context())
		if err != nil {
			return err
		}
		var found *client.ExplainedPID
		for i := range ex.PIDs {
			if ex.PIDs[i].PID == pid {
				found = &ex.PIDs[i]
				break
			}
		}
		if found == nil {
			return a.explainUnmatched(cmd, c, pid)
		}
		res := explained{ExplainedPID: *found}
		s, err := c.Strategies(cmd.Context())
		if err != nil {
			return err
		}
		for _, e := range s.Scheduling {
			if e.PID == pid {
				res.Priority, res.ExecutionTime = e.Priority, e.ExecutionTime
			}
		}
		if *out != formatTable {
			return printData(a.io.Out, *out, res)
		}
		t := newTable(a.io.Out)
		t.row("PID:", fmt.Sprint(res.PID))
		if res.ThreadOf != 0 {
			t.row("Thread of:", fmt.Sprint(res.ThreadOf))
		}
		pod := podName(res.Namespace, res.PodName, res.PodUID)
		if pod == "" {
			pod = "(not in a pod)"
		}
		t.row("Pod:", pod)
		t.row("Container:", res.ContainerName)
		t.row("Command:", res.Command)
		t.row("Matched:", strings.Join(res.Matched, ", "))
		t.row("Winner:", res.Winner)
		t.row("Priority:", level(res.Priority))
		t.row("Slice:", slice(res.ExecutionTime))
		return t.flush()
	}
	return cmd
}

// explainUnmatched says why a PID has no strategy: it is not a process of
// a pod on the node, or no strategy matches it.
func (a *app) explainUnmatched(cmd *cobra.Command, c *client.Client, pid int) error {
	pods, err := c.PodPIDs(cmd.Context(), client.PodFilter{PID: pid})
	if err != nil && !errors.Is(err, client.ErrNotFound) {
		return err
	}
	if err == nil && len(pods.Pods) > 0 {
		p := pods.Pods[0]
		return &notFoundError{fmt.Sprintf("no strategy matches PID %d (pod %s); see bssctl get definitions",
			pid, podName(p.Namespace, p.PodName, p.PodUID))}
	}
	return &notFoundError{fmt.Sprintf("no strategy matches PID %d, and it is not a process of a pod on this node", pid)}
}
