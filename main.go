// Command bss-api is the per-node API server that runs beside a sched_ext
// userspace scheduler: it receives BSS counters, maps pods to PIDs and serves
// scheduling strategies.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bss-api/bss-api/internal/app"
)

func main() {
	// The kubelet stops pods with SIGTERM; a terminal sends SIGINT.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bss-api:", err)
		os.Exit(app.ExitCode(err))
	}
}
