// Command bss-abuse runs every attack of the abuse table
// (internal/testsupport/abuse) against the built server, each inside a
// fresh memory cgroup with the manifest's limit (192 MiB) while a normal
// client (a scheduler posting samples and reading its strategies) keeps
// using it, and prints per attack: whether the server survived, its peak
// RSS and the cgroup's peak charge, the normal client's answers and p99,
// anything acknowledged that was lost, and what the attack saw. It only
// prints; TestAbuse in the root package asserts.
//
// It needs root (it creates cgroups) and Linux.
//
// Usage:
//
//	go run ./cmd/bss-abuse [flags]
//
// Flags:
//
//	-bin PATH       server binary (default: build one with hack/build.sh)
//	-limit SIZE     the cgroup's memory limit in MiB (default 192)
//	-only NAMES     comma-separated attacks to run (default: all)
//	-server-args    extra server flags, split on spaces
//	-dir DIR        where the servers' data and logs go (default: a temporary directory, removed)
//	-list           print the attacks and exit
//
// The exit status is 0 when the server survived every attack, 1 when it
// did not or a run failed, 2 for bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/bss-api/bss-api/internal/testsupport/abuse"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bss-abuse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "", "server binary (default: build one with hack/build.sh)")
	limitMiB := fs.Int64("limit", abuse.ManifestLimit>>20, "the cgroup's memory limit in `MiB`")
	only := fs.String("only", "", "comma-separated attacks to run (default: all)")
	serverArgs := fs.String("server-args", "", "extra server flags, split on spaces")
	dir := fs.String("dir", "", "where the servers' data and logs go (default: a temporary directory, removed)")
	list := fs.Bool("list", false, "print the attacks and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	attacks := abuse.Attacks()
	if *list {
		for _, a := range attacks {
			fmt.Fprintf(stdout, "%-26s %s\n", a.Name, a.What)
		}
		return 0
	}
	if *only != "" {
		want := strings.Split(*only, ",")
		for _, w := range want {
			if !slices.Contains(abuse.Names(attacks), w) {
				fmt.Fprintf(stderr, "bss-abuse: no attack %q (see -list)\n", w)
				return 2
			}
		}
		attacks = slices.DeleteFunc(attacks, func(a abuse.Attack) bool { return !slices.Contains(want, a.Name) })
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "bss-abuse: needs root, to create memory cgroups")
		return 1
	}
	work := *dir
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "bss-abuse-"); err != nil {
			fmt.Fprintln(stderr, "bss-abuse:", err)
			return 1
		}
		defer os.RemoveAll(work)
	}
	if *bin == "" {
		*bin = filepath.Join(work, "bss-api")
		fmt.Fprintln(stderr, "building the server with hack/build.sh")
		cmd := exec.CommandContext(ctx, "./hack/build.sh", *bin)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(stderr, "bss-abuse: hack/build.sh (run from the repository root): %v\n%s", err, out)
			return 1
		}
	}
	opts := abuse.Options{
		Binary: *bin, Limit: *limitMiB << 20, Dir: work, Args: strings.Fields(*serverArgs),
		Logf: func(format string, a ...any) { fmt.Fprintf(stderr, time.Now().Format("15:04:05 ")+format+"\n", a...) },
	}
	var results []abuse.Result
	failed := false
	for _, a := range attacks {
		res, err := abuse.Run(ctx, opts, a)
		if err != nil {
			fmt.Fprintf(stderr, "bss-abuse: %s: %v\n", a.Name, err)
			failed = true
			continue
		}
		results = append(results, res)
		failed = failed || !res.Survived()
	}
	if len(results) > 0 {
		fmt.Fprintln(stdout, strings.Join(results[0].Limits, "\n"))
	}
	print(stdout, results)
	if failed {
		return 1
	}
	return 0
}

// print writes the results as a table, then each attack's notes.
func print(w io.Writer, results []abuse.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "attack\tsurvived\tpeak RSS\tpeak heap\tcgroup peak\tnormal answered\tnormal p99\tlost")
	for _, r := range results {
		survived := "yes"
		if !r.Survived() {
			survived = "NO: " + verdict(r)
		}
		lost := "nothing"
		if len(r.Lost) > 0 {
			lost = strings.Join(r.Lost, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f MiB\t%.1f MiB\t%.1f MiB\t%d/%d\t%s\t%s\n", r.Attack, survived,
			float64(r.PeakRSS)/(1<<20), float64(r.PeakHeap)/(1<<20), float64(r.CgroupPeak)/(1<<20), r.Normal.OK, r.Normal.OK+r.Normal.Failed,
			r.Normal.P(0.99).Round(100*time.Microsecond), lost)
	}
	_ = tw.Flush()
	for _, r := range results {
		fmt.Fprintf(w, "\n%s: %s", r.Attack, r.Notes)
		if r.Normal.FirstError != "" {
			fmt.Fprintf(w, "\n  normal client's first error: %s", r.Normal.FirstError)
		}
		if r.Restart != "" {
			fmt.Fprintf(w, "\n  restart on its data: %s", r.Restart)
		}
	}
	fmt.Fprintln(w)
}

func verdict(r abuse.Result) string {
	switch {
	case r.OOMKills > 0:
		return fmt.Sprintf("OOM-killed (%d)", r.OOMKills)
	case r.Killed:
		return "died: " + r.Exit
	case !r.Ready:
		return "not ready"
	case r.Restart != "" && r.Restart != "ok":
		return "restart: " + r.Restart
	}
	return "lost writes"
}
