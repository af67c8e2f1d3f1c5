// Package bssctl is the bssctl command line: it reads and writes a bss-api
// server's strategies, pods and metrics through the Go client package.
//
// Run takes everything from the outside world as arguments (arguments,
// environment, standard streams), so tests run commands in process exactly
// as the binary does.
package bssctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/bss-api/bss-api/internal/buildinfo"
)

// IO is what a command reads from and writes to. Getenv is the process's
// environment (os.Getenv in main, a map in tests).
type IO struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	Getenv func(string) string
}

// app is one invocation: its streams, its global flags and the client
// settings they resolve to.
type app struct {
	io   IO
	now  func() time.Time
	conn connFlags
}

// Run runs bssctl with args (without the program name) and returns the
// process's exit status (see exitCode). Errors are printed to io.Err as one
// line.
func Run(ctx context.Context, args []string, io IO) int {
	a := &app{io: io, now: time.Now}
	root := a.newRoot()
	root.SetArgs(args)
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return ExitOK // Ctrl-C ends watch and top: not a failure
	}
	fmt.Fprintln(io.Err, "error: "+a.describe(err))
	return exitCode(err)
}

func (a *app) newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "bssctl",
		Short: "Read and change a bss-api server's strategies, pods and metrics",
		Long: `bssctl talks to a bss-api server: the strategies it resolves for the
scheduler and the definitions they come from, the pods and processes of
its node, the scheduler's metrics, and a live view of them.

The server is --server, else $BSS_SERVER, else the current context of the
config file ($BSSCTL_CONFIG, else ~/.config/bssctl/config), else
http://127.0.0.1:8080. Credentials come the same way: flags, then
environment variables, then the context.`,
		Example: `  bssctl get strategies
  bssctl --server http://node-1:8080 --token "$TOKEN" get pods -n monitoring
  bssctl apply -f strategies.yaml --dry-run
  bssctl top`,
		Version:       buildinfo.Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("bssctl {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err) })
	a.conn.register(root)
	root.AddCommand(a.newGet(), a.newApply(), a.newDelete(), a.newExplain(), a.newWatch(),
		a.newMetrics(), a.newTop(), a.newConfig())
	for _, c := range root.Commands() {
		markRuntime(c)
	}
	return root
}

// markRuntime wraps the RunE of c and its subcommands so that their errors
// are told apart from cobra's own (unknown command, bad flag), which are
// usage errors.
func markRuntime(c *cobra.Command) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if err := run(cmd, args); err != nil {
				var u *usageError
				if errors.As(err, &u) {
					return err
				}
				return &runtimeError{err}
			}
			return nil
		}
	}
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return usageErr(err)
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markRuntime(sub)
	}
}

// groupRunE makes a command that only groups others (get, watch, …) fail
// as a usage error when called without one of them or with an unknown one,
// instead of printing its help and succeeding.
func groupRunE(kinds string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usagef("%s needs one of: %s (see bssctl %s --help)", cmd.Name(), kinds, cmd.Name())
		}
		return usagef("%s %q: want one of: %s", cmd.Name(), args[0], kinds)
	}
}
