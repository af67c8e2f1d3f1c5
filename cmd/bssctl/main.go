// Command bssctl is the command line of bss-api: strategies, pods, metrics
// and a live view of a server. See docs/bssctl.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/bss-api/bss-api/internal/bssctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := bssctl.Run(ctx, os.Args[1:], bssctl.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
