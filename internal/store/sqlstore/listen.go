package sqlstore

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bss-api/bss-api/internal/notify"
)

// Channel is the PostgreSQL NOTIFY channel of strategy changes; the
// payload is the new strategies version.
const Channel = "bss_strategies"

// backstopEvery is the period of the strategies version re-read that
// catches a lost notification.
const backstopEvery = time.Second

// listener tells subscribers when the strategies version of a shared
// database moves: by a write of this node, a notification from another,
// or the re-read that backs notifications up. Its methods are safe for
// concurrent use; run belongs to Store.Run.
type listener struct {
	connConfig *pgx.ConnConfig // for the dedicated LISTEN connection
	// Set by open.
	log     *slog.Logger
	version func(context.Context) (uint64, error)

	changes notify.Notifier
	// sessions counts the LISTEN sessions that got past their start-up
	// re-read: from then on a change is announced or found by the backstop.
	sessions atomic.Int64

	mu   sync.Mutex
	seen uint64 // highest strategies version observed
}

// run listens and re-reads until ctx is cancelled.
func (l *listener) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { l.listen(ctx) })
	wg.Go(func() { l.backstop(ctx) })
	wg.Wait()
}

// observe records a strategies version seen in a notification, a re-read
// or an own write, and wakes the subscribers if it is new.
func (l *listener) observe(v uint64) {
	l.mu.Lock()
	moved := v > l.seen
	if moved {
		l.seen = v
	}
	l.mu.Unlock()
	if moved {
		l.changes.Changed()
	}
}

// listen holds a dedicated connection that LISTENs for strategy changes,
// reconnecting with backoff, until ctx is cancelled.
func (l *listener) listen(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		connected, err := l.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff = 100 * time.Millisecond
		}
		l.log.Warn("postgres: strategy change listener failed; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (l *listener) listenOnce(ctx context.Context) (connected bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, l.connConfig.Copy())
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return false, err
	}
	// Changes made while no one listened: the re-read catches them.
	if v, err := l.version(ctx); err == nil {
		l.observe(v)
	}
	l.sessions.Add(1)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		if v, err := strconv.ParseUint(n.Payload, 10, 64); err == nil {
			l.observe(v)
		} else {
			l.changes.Changed()
		}
	}
}

// backstop re-reads the strategies version every second, so a lost
// notification delays a change by about that much at worst.
func (l *listener) backstop(ctx context.Context) {
	tick := time.NewTicker(backstopEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			rctx, cancel := context.WithTimeout(ctx, backstopEvery)
			v, err := l.version(rctx)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					l.log.Debug("postgres: strategies version re-read failed", "err", err)
				}
				continue
			}
			l.observe(v)
		}
	}
}
