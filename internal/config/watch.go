package config

import (
	"flag"
	"fmt"
	"time"
)

// Watch configures blocking queries (GET …?wait=) on the resolved
// strategies and the pods: how long one request may be held.
type Watch struct {
	// WatchMaxWait caps a request's ?wait. A held request costs a
	// goroutine and a connection, and must come back now and then so a
	// client notices a server that went away.
	WatchMaxWait time.Duration
}

// maxWatchWait bounds --watch-max-wait: past an hour a lost answer (a
// NAT or proxy dropping the idle-looking connection) is noticed too late.
const maxWatchWait = time.Hour

func defaultWatch() Watch { return Watch{WatchMaxWait: 5 * time.Minute} }

func (w *Watch) watchFlags(fs *flag.FlagSet) {
	fs.DurationVar(&w.WatchMaxWait, "watch-max-wait", w.WatchMaxWait,
		"longest a blocking query (?wait= on GET strategies and GET pods/pids) is held before it is answered 304; up to 1/16 more is added as jitter")
}

func (w Watch) validateWatch() error {
	if w.WatchMaxWait < time.Second || w.WatchMaxWait > maxWatchWait {
		return fmt.Errorf("invalid --watch-max-wait %s: must be from 1s to %s", w.WatchMaxWait, maxWatchWait)
	}
	return nil
}
