package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// component is one long-running part of the process: run blocks until its
// context is cancelled (returning nil) or it fails.
type component struct {
	name string
	run  func(ctx context.Context) error
}

// stage is a group of components started together and stopped together.
type stage struct {
	name       string
	components []component
}

// runStages is the process's start and stop order, stated once. Stages
// start in order; each has its own context. When ctx is cancelled, or any
// component returns (an error, or nil before it was asked to stop), the
// stages stop in reverse order: every component of a stage has returned
// before the stage below it is told to stop. So the HTTP server drains
// while the resolver and the store still run, and the store stops last.
//
// It returns the first component failure, or nil after a clean stop.
func runStages(ctx context.Context, log *slog.Logger, stages []stage) error {
	// stop is cancelled at the first failure, or when ctx is.
	stop, cancelStop := context.WithCancelCause(ctx)
	defer cancelStop(nil)

	type running struct {
		cancel context.CancelFunc
		wg     sync.WaitGroup
	}
	started := make([]*running, 0, len(stages))
	var (
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancelStop(err)
	}
	for _, st := range stages {
		// A stage's context is not derived from ctx: it is cancelled only
		// in the stop order below.
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r := &running{cancel: cancel}
		started = append(started, r)
		for _, c := range st.components {
			r.wg.Go(func() {
				err := c.run(sctx)
				switch {
				case err != nil:
					fail(fmt.Errorf("%s: %w", c.name, err))
				case sctx.Err() == nil:
					// A component that returns on its own leaves the
					// process without it: stop everything.
					fail(fmt.Errorf("%s: %w", c.name, errStoppedEarly))
				}
			})
		}
	}

	<-stop.Done()
	if cause := context.Cause(stop); cause != nil && !errors.Is(cause, context.Canceled) {
		log.Error("stopping after a component failed", "err", cause)
	}
	for i := len(started) - 1; i >= 0; i-- {
		started[i].cancel()
		started[i].wg.Wait()
		log.Debug("stage stopped", "stage", stages[i].name)
	}
	return firstErr
}

// errStoppedEarly marks a component that returned before it was asked to.
var errStoppedEarly = errors.New("stopped unexpectedly")
