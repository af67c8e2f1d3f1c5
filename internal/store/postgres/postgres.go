// Package postgres is the shared store: metric history and strategy
// definitions in PostgreSQL, so several bss-api nodes can share one
// database. Each node writes and reads only its own metric rows; the
// strategies are common to all, and a change made through one node reaches
// the others by LISTEN/NOTIFY, with a periodic re-read of the version as a
// backstop for lost notifications. Metric writes are group-committed:
// concurrent requests share one transaction, each answered after it
// commits.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/notify"
	"github.com/bss-api/bss-api/internal/store/groupcommit"
	"github.com/bss-api/bss-api/internal/strategy"
)

// Channel is the NOTIFY channel of strategy changes; the payload is the
// new strategies version.
const Channel = "bss_strategies"

// backstopEvery is the period of the strategies version re-read that
// catches a lost notification.
const backstopEvery = time.Second

// Options configure a Store.
type Options struct {
	Node        string        // written on every metric row; reads see only this node's rows
	MaxAge      time.Duration // metric retention by age
	MaxCount    int           // metric retention by rows (of this node)
	RetainEvery time.Duration // period of the retention job
	Logger      *slog.Logger
	Now         func() time.Time
	// targetVersion stops migrations early; tests use it to build a
	// database of an older schema.
	targetVersion int
}

// Store implements metrics.History, strategy.Store and
// strategy.ChangeSource. Safe for concurrent use. Run must be running for
// metric appends to complete and for changes made elsewhere to be noticed.
type Store struct {
	opts    Options
	log     *slog.Logger
	pool    *pgxpool.Pool
	where   string // host:port/database, for messages (no password)
	group   *groupcommit.Committer
	changes notify.Notifier

	mu   sync.Mutex
	seen uint64 // highest strategies version observed
}

var (
	_ metrics.History       = (*Store)(nil)
	_ strategy.Store        = (*Store)(nil)
	_ strategy.ChangeSource = (*Store)(nil)
)

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value string) and migrates it.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetainEvery <= 0 {
		opts.RetainEvery = time.Minute
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The error may quote the DSN, password included; do not pass it on.
		return nil, errors.New("postgres: the connection string cannot be parsed")
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres %s: %w", where, err)
	}
	if err := migrate(ctx, pool, opts.targetVersion); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres %s: %w", where, err)
	}
	s := &Store{opts: opts, log: opts.Logger, pool: pool, where: where}
	s.group = groupcommit.New(s.commit)
	if opts.targetVersion == 0 || opts.targetVersion >= 2 {
		v, err := s.version(ctx)
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres %s: read the strategies version: %w", where, err)
		}
		s.seen = v
	}
	return s, nil
}

// Close closes the connections. Run must have returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Run commits metric appends in groups, enforces retention, and listens
// for strategy changes made through other nodes until ctx is cancelled;
// appends waiting then get an error.
func (s *Store) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.group.Run(ctx) })
	wg.Go(func() { s.listen(ctx) })
	wg.Go(func() { s.backstop(ctx) })
	tick := time.NewTicker(s.opts.RetainEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := s.retain(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("metric retention failed", "err", err)
			}
		}
	}
}

// unavailable classifies a database failure for the HTTP layer: 503.
func unavailable(err error, what string) error {
	return apperr.Wrap(apperr.Unavailable, err, "the store cannot "+what+"; retry later")
}

// The metric columns are named after metrics.Fields, in its order.
var (
	metricColumns = append([]string{"node", "received_at"}, fieldNames()...)
	selectMetrics = "SELECT received_at, " + strings.Join(fieldNames(), ", ") + " FROM metrics"
)

func fieldNames() []string {
	var names []string
	for _, f := range metrics.Fields() {
		names = append(names, f.Name)
	}
	return names
}

func (s *Store) commit(ctx context.Context, recs []metrics.Record) error {
	rows := make([][]any, 0, len(recs))
	for i := range recs {
		rec := &recs[i]
		row := []any{s.opts.Node, rec.ReceivedAt.UnixNano()}
		for _, f := range metrics.Fields() {
			row = append(row, int64(f.Get(&rec.Sample))) // bit for bit; read back as uint64
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return unavailable(err, "be written")
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"metrics"}, metricColumns, pgx.CopyFromRows(rows)); err != nil {
		return unavailable(err, "be written")
	}
	if err := tx.Commit(ctx); err != nil {
		return unavailable(err, "be written")
	}
	return nil
}

// Append implements metrics.History: it returns after the records'
// transaction has committed.
func (s *Store) Append(ctx context.Context, recs []metrics.Record) error {
	err := s.group.Append(ctx, recs)
	if errors.Is(err, groupcommit.ErrClosed) {
		return unavailable(err, "be written")
	}
	return err
}

func scanRecord(rows interface{ Scan(...any) error }) (metrics.Record, error) {
	fields := metrics.Fields()
	var at int64
	vals := make([]int64, len(fields)) // bit for bit what commit wrote
	dest := make([]any, 0, 1+len(fields))
	dest = append(dest, &at)
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	if err := rows.Scan(dest...); err != nil {
		return metrics.Record{}, err
	}
	rec := metrics.Record{ReceivedAt: time.Unix(0, at).UTC()}
	for i, f := range fields {
		f.Set(&rec.Sample, uint64(vals[i]))
	}
	return rec, nil
}

// Range implements metrics.History, over this node's rows.
func (s *Store) Range(ctx context.Context, q metrics.Query) ([]metrics.Record, bool, error) {
	since, until, fetch := q.Bounds(s.opts.Now(), s.opts.MaxAge)
	var limit *int // NULL: no limit
	if fetch >= 0 {
		limit = &fetch
	}
	rows, err := s.pool.Query(ctx, selectMetrics+` WHERE node = $1 AND received_at >= $2 AND received_at < $3
		ORDER BY received_at LIMIT $4`, s.opts.Node, since, until, limit)
	if err != nil {
		return nil, false, unavailable(err, "be read")
	}
	defer rows.Close()
	out := []metrics.Record{}
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, false, unavailable(err, "be read")
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, false, unavailable(err, "be read")
	}
	out, more := q.Page(out)
	return out, more, nil
}

// Latest implements metrics.History, over this node's rows.
func (s *Store) Latest(ctx context.Context) (metrics.Record, bool, error) {
	rec, err := scanRecord(s.pool.QueryRow(ctx, selectMetrics+` WHERE node = $1 ORDER BY received_at DESC LIMIT 1`, s.opts.Node))
	if errors.Is(err, pgx.ErrNoRows) {
		return metrics.Record{}, false, nil
	}
	if err != nil {
		return metrics.Record{}, false, unavailable(err, "be read")
	}
	return rec, true, nil
}

// retain deletes this node's samples older than the age bound or beyond
// the count.
func (s *Store) retain(ctx context.Context) error {
	cutoff := s.opts.Now().Add(-s.opts.MaxAge).UnixNano()
	if _, err := s.pool.Exec(ctx, `DELETE FROM metrics WHERE node = $1 AND received_at < $2`, s.opts.Node, cutoff); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM metrics WHERE node = $1 AND received_at < (
		SELECT received_at FROM metrics WHERE node = $1 ORDER BY received_at DESC LIMIT 1 OFFSET $2)`,
		s.opts.Node, int64(max(s.opts.MaxCount-1, 0)))
	return err
}

// version reads the strategies version.
func (s *Store) version(ctx context.Context) (uint64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT value FROM counters WHERE name = 'strategies_version'`).Scan(&v)
	return uint64(v), err
}

// List implements strategy.Store.
func (s *Store) List(ctx context.Context) ([]strategy.Strategy, uint64, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, 0, unavailable(err, "be read")
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var version int64
	if err := tx.QueryRow(ctx, `SELECT value FROM counters WHERE name = 'strategies_version'`).Scan(&version); err != nil {
		return nil, 0, unavailable(err, "be read")
	}
	rows, err := tx.Query(ctx, `SELECT body FROM strategies ORDER BY position`)
	if err != nil {
		return nil, 0, unavailable(err, "be read")
	}
	defer rows.Close()
	out, err := strategy.ScanStored(rows, func(err error) error { return unavailable(err, "be read") })
	if err != nil {
		return nil, 0, err
	}
	return out, uint64(version), nil
}

// writeTx runs fn in a write transaction that also moves the strategies
// version and notifies the other nodes on commit. Moving the version
// first locks its row, so strategy writers of all nodes take turns.
func (s *Store) writeTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return unavailable(err, "be written")
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var version int64
	if err := tx.QueryRow(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'strategies_version' RETURNING value`).Scan(&version); err != nil {
		return unavailable(err, "be written")
	}
	if err := fn(tx); err != nil {
		if apperr.CodeOf(err) != apperr.Internal {
			return err
		}
		return unavailable(err, "be written")
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, strconv.FormatInt(version, 10)); err != nil {
		return unavailable(err, "be written")
	}
	if err := tx.Commit(ctx); err != nil {
		return unavailable(err, "be written")
	}
	s.observe(uint64(version))
	return nil
}

func insertStrategy(ctx context.Context, tx pgx.Tx, pos int, st strategy.Strategy) error {
	body, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO strategies (position, name, body) VALUES ($1, $2, $3)`, pos, st.Name, string(body))
	return err
}

// Replace implements strategy.Store.
func (s *Store) Replace(ctx context.Context, list []strategy.Strategy) error {
	return s.writeTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM strategies`); err != nil {
			return err
		}
		for i, st := range list {
			if err := insertStrategy(ctx, tx, i, st); err != nil {
				return err
			}
		}
		return nil
	})
}

// Put implements strategy.Store.
func (s *Store) Put(ctx context.Context, st strategy.Strategy, max int) (bool, error) {
	created := false
	err := s.writeTx(ctx, func(tx pgx.Tx) error {
		body, err := json.Marshal(st)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE strategies SET body = $1 WHERE name = $2`, string(body), st.Name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var count, next int
		if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(max(position), -1) + 1 FROM strategies`).Scan(&count, &next); err != nil {
			return err
		}
		if count >= max {
			return apperr.Errorf(apperr.Invalid, "strategies: %d stored, at most %d allowed", count, max)
		}
		created = true
		return insertStrategy(ctx, tx, next, st)
	})
	if err != nil {
		created = false
	}
	return created, err
}

// Delete implements strategy.Store.
func (s *Store) Delete(ctx context.Context, name string) error {
	return s.writeTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM strategies WHERE name = $1`, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return apperr.Errorf(apperr.NotFound, "no strategy named %q", name)
		}
		return nil
	})
}

// SubscribeStrategies implements strategy.ChangeSource: the channel
// receives a value after strategy changes, made through this node or
// another one on the same database.
func (s *Store) SubscribeStrategies() (<-chan struct{}, func()) {
	return s.changes.Subscribe()
}

// observe records a strategies version seen in a notification, a re-read
// or an own write, and wakes the subscribers if it is new.
func (s *Store) observe(v uint64) {
	s.mu.Lock()
	moved := v > s.seen
	if moved {
		s.seen = v
	}
	s.mu.Unlock()
	if moved {
		s.changes.Changed()
	}
}

// listen holds a dedicated connection that LISTENs for strategy changes,
// reconnecting with backoff, until ctx is cancelled.
func (s *Store) listen(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		connected, err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff = 100 * time.Millisecond
		}
		s.log.Warn("postgres: strategy change listener failed; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context) (connected bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
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
	if v, err := s.version(ctx); err == nil {
		s.observe(v)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		if v, err := strconv.ParseUint(n.Payload, 10, 64); err == nil {
			s.observe(v)
		} else {
			s.changes.Changed()
		}
	}
}

// backstop re-reads the strategies version every second, so a lost
// notification delays a change by about that much at worst.
func (s *Store) backstop(ctx context.Context) {
	tick := time.NewTicker(backstopEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			rctx, cancel := context.WithTimeout(ctx, backstopEvery)
			v, err := s.version(rctx)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					s.log.Debug("postgres: strategies version re-read failed", "err", err)
				}
				continue
			}
			s.observe(v)
		}
	}
}

// Health pings the database.
func (s *Store) Health(ctx context.Context) health.Report {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM strategies`).Scan(&n); err != nil {
		return health.Report{State: health.Down, Detail: "postgres " + s.where + ": " + err.Error()}
	}
	return health.Report{State: health.OK, Detail: fmt.Sprintf("postgres %s: %d strategies", s.where, n)}
}
