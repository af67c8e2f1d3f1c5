package sqlstore

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bss-api/bss-api/internal/audit"
	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/strategy"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// TestPostgres runs every test against one private cluster (starting one
// takes a few seconds); each gets its own database.
func TestPostgres(t *testing.T) {
	t0 := time.Now()
	admin := testenv.StartPostgres(t)
	t.Logf("cluster started in %v", time.Since(t0).Round(time.Millisecond))
	var n atomic.Int64
	fresh := func(t *testing.T) string { return freshDB(t, admin, fmt.Sprintf("t%d", n.Add(1))) }

	t.Run("migrations", func(t *testing.T) { testMigrations(t, fresh(t)) })
	t.Run("concurrent open", func(t *testing.T) { testConcurrentOpen(t, fresh(t)) })
	t.Run("two nodes", func(t *testing.T) { testTwoNodes(t, fresh(t)) })
	t.Run("lost notification", func(t *testing.T) { testLostNotification(t, fresh(t)) })
	t.Run("retention", func(t *testing.T) { testRetention(t, fresh(t)) })
	t.Run("shared secret", func(t *testing.T) { testSharedSecret(t, fresh(t)) })
	t.Run("layout stores every field", func(t *testing.T) {
		checkLayoutStoresEveryField(t, openRunning(t, fresh(t), Options{Node: "a"}))
	})
}

// freshDB creates database name in the cluster of admin and returns its DSN.
func freshDB(t *testing.T, admin, name string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// openRunning opens a store and runs it until the test ends.
func openRunning(t *testing.T, dsn string, opts Options) *Store {
	t.Helper()
	s, err := OpenPostgres(context.Background(), dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	return run(t, s)
}

func testMigrations(t *testing.T, dsn string) {
	ctx := context.Background()
	// A database of the previous schema version, with data in it.
	ms, err := migrations(&postgresDialect{})
	if err != nil {
		t.Fatal(err)
	}
	old, err := OpenPostgres(ctx, dsn, Options{targetVersion: len(ms) - 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.write.ExecContext(ctx, `INSERT INTO metrics VALUES ('n',42,1,2,3,4,5,6,7,8,9,10,11,-1)`); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	s := openRunning(t, dsn, Options{Node: "n", MaxCount: 10, MaxAge: 1 << 62, Now: func() time.Time { return time.Unix(0, 100) }})
	got, _, err := s.Range(ctx, metrics.Query{})
	if err != nil || len(got) != 1 || got[0].NrQueued != 3 || got[0].NrSchedCongested != 1<<64-1 {
		t.Fatalf("data of the previous version after migrating: %+v, %v", got, err)
	}
	if list, _, err := s.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("strategies table after migrating: %v, %v", list, err)
	}
	var v int
	if err := s.read.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil || v != len(ms) {
		t.Errorf("schema version %d (%v), want %d", v, err, len(ms))
	}
	if r := s.Health(ctx); r.State != health.OK || strings.Contains(r.Detail, "@") {
		t.Errorf("Health = %+v", r)
	}

	// A database from a newer bss-api is refused, untouched.
	if _, err := s.write.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (99)`); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPostgres(ctx, dsn, Options{}); err == nil || !strings.Contains(err.Error(), "newer than this bss-api") {
		t.Errorf("Open(newer) = %v, want a refusal", err)
	}
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(ms)+1 {
		t.Errorf("schema_migrations has %d rows after the refusal (%v)", n, err)
	}
}

func testConcurrentOpen(t *testing.T, dsn string) {
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := OpenPostgres(context.Background(), dsn, Options{})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
}

func testTwoNodes(t *testing.T, dsn string) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	opts := func(node string) Options {
		return Options{Node: node, MaxCount: 100, MaxAge: time.Hour, Now: func() time.Time { return now }}
	}
	a, b := openRunning(t, dsn, opts("a")), openRunning(t, dsn, opts("b"))
	changes, stop := b.SubscribeStrategies()
	defer stop()

	// The first change may also be seen by b's listener starting up; the
	// second one travels by NOTIFY (or the 1 s re-read).
	for i, name := range []string{"w", "x"} {
		start := time.Now()
		if _, err := a.Replace(ctx, []strategy.Strategy{{Name: name, ExecutionTime: 1000, PID: 3}}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-changes:
			t.Logf("change %d: node b notified %v after node a's Replace", i+1, time.Since(start).Round(time.Microsecond))
		case <-time.After(2 * time.Second):
			t.Fatalf("change %d: node b was not notified within 2s of node a's Replace", i+1)
		}
	}
	list, _, err := b.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "x" {
		t.Errorf("node b's List = %+v, %v", list, err)
	}

	same := now.Add(-time.Second) // both nodes may store the same receive time
	for _, s := range []*Store{a, b} {
		if err := s.Append(ctx, []metrics.Record{{ReceivedAt: same, Sample: metrics.Sample{NrQueued: uint64(len(s.opts.Node))}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Append(ctx, []metrics.Record{{ReceivedAt: now.Add(-time.Millisecond), Sample: metrics.Sample{NrQueued: 7}}}); err != nil {
		t.Fatal(err)
	}
	ra, _, err := a.Range(ctx, metrics.Query{})
	if err != nil || len(ra) != 2 {
		t.Errorf("node a's Range = %+v, %v", ra, err)
	}
	rb, _, err := b.Range(ctx, metrics.Query{})
	if err != nil || len(rb) != 1 || !rb[0].ReceivedAt.Equal(same) {
		t.Errorf("node b's Range = %+v, %v (node a's rows leaked?)", rb, err)
	}
	if last, ok, err := b.Latest(ctx); err != nil || !ok || !last.ReceivedAt.Equal(same) {
		t.Errorf("node b's Latest = %+v, %v, %v", last, ok, err)
	}

	// The audit trail is every node's: both see both records, each with
	// its node, even when the two were made in the same nanosecond.
	for _, s := range []*Store{a, b} {
		if _, err := s.Audit().Append(ctx, audit.Record{At: same, Node: s.opts.Node, Outcome: audit.Denied, Status: 403}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*Store{a, b} {
		got, _, err := s.Audit().Range(ctx, audit.Query{})
		if err != nil || len(got) != 2 || got[0].Node != "a" || got[1].Node != "b" || !got[0].At.Equal(same) || !got[1].At.Equal(same.Add(time.Nanosecond)) {
			t.Errorf("node %s's audit records = %+v, %v; want a's, then b's a nanosecond later", s.opts.Node, got, err)
		}
	}
}

// A change without a notification (lost) is noticed by the re-read.
func testLostNotification(t *testing.T, dsn string) {
	ctx := context.Background()
	s := openRunning(t, dsn, Options{Node: "a"})
	changes, stop := s.SubscribeStrategies()
	defer stop()
	// Once the listener is past its start-up re-read, only the backstop
	// can notice a change that was not announced.
	deadline := time.Now().Add(10 * time.Second)
	for s.listen.sessions.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the listener did not start listening within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	if _, err := s.write.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'strategies_version'`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changes:
		t.Logf("silent change noticed after %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(3 * time.Second):
		t.Fatal("a change without a notification was not noticed within 3s")
	}
}

func testRetention(t *testing.T, dsn string) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	// Node b keeps more, so what a deletes of b's rows would show.
	a := openRunning(t, dsn, Options{Node: "a", MaxCount: 3, MaxAge: 100 * time.Second, Now: func() time.Time { return now }})
	b := openRunning(t, dsn, Options{Node: "b", MaxCount: 100, MaxAge: time.Hour, Now: func() time.Time { return now }})
	var recs []metrics.Record
	for i := range 10 {
		recs = append(recs, metrics.Record{ReceivedAt: time.Unix(850+int64(i)*20, 0), Sample: metrics.Sample{NrQueued: uint64(i)}})
	}
	for _, s := range []*Store{a, b} {
		if err := s.Append(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	count := func(node string) (n, counted int) {
		t.Helper()
		if err := a.read.QueryRowContext(ctx, `SELECT count(*) FROM metrics WHERE node = $1`, node).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if err := a.read.QueryRowContext(ctx, `SELECT samples FROM metric_counts WHERE node = $1`, node).Scan(&counted); err != nil {
			t.Fatal(err)
		}
		return n, counted
	}
	// Each node's commit bounds its own rows, and only those.
	for node, want := range map[string]int{"a": 3, "b": 10} {
		if n, counted := count(node); n != want || counted != want {
			t.Errorf("node %s: %d rows (%d counted) after its append, want %d", node, n, counted, want)
		}
	}
	if _, err := a.retain(ctx); err != nil {
		t.Fatal(err)
	}
	for node, want := range map[string]int{"a": 3, "b": 10} {
		if n, counted := count(node); n != want || counted != want {
			t.Errorf("node %s: %d rows (%d counted) after node a's retention, want %d", node, n, counted, want)
		}
	}
}
