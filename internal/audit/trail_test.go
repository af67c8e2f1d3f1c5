package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/strategy"
)

// fakeStore keeps records in a slice; fail makes Append fail.
type fakeStore struct {
	mu   sync.Mutex
	recs []Record
	fail error
	ctxs []error // the context's error at each Append
}

func (s *fakeStore) Append(ctx context.Context, rec Record) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ctxs = append(s.ctxs, ctx.Err())
	if s.fail != nil {
		return time.Time{}, s.fail
	}
	s.recs = append(s.recs, rec.Clone())
	return rec.At, nil
}

func (s *fakeStore) Range(context.Context, Query) ([]Record, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recs), false, nil
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

type trailEnv struct {
	trail *Trail
	store *fakeStore
	clock *clock
	logs  *bytes.Buffer
	reg   *prometheus.Registry
}

func newTrailEnv() trailEnv {
	e := trailEnv{store: &fakeStore{}, clock: &clock{now: t0}, logs: &bytes.Buffer{}, reg: prometheus.NewRegistry()}
	e.trail = NewTrail(TrailOptions{Store: e.store, Node: "node-a", Now: e.clock.Now, Registry: e.reg,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
	return e
}

// logLines decodes the JSON log lines whose msg is msg.
func (e trailEnv) logLines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(e.logs.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

var bob = auth.Identity{Name: "bob", Method: auth.MethodToken, Role: auth.RoleOperator}

func putRequest(name string) Request {
	return Request{Method: "PUT", Route: "/api/v1/scheduling/strategies/definitions/{name}",
		Path: "/api/v1/scheduling/strategies/definitions/" + name, Client: "10.0.0.9:41000"}
}

func TestTrailRecordsAChange(t *testing.T) {
	e := newTrailEnv()
	ctx := WithRequest(auth.WithIdentity(context.Background(), bob), putRequest("upf"))
	old := strategy.Strategy{Name: "upf", ExecutionTime: 1000, CommandRegex: "^upf$"}
	updated := old
	updated.ExecutionTime = 2000
	e.trail.StrategiesChanged(ctx, strategy.Change{Before: []strategy.Strategy{old}, After: []strategy.Strategy{updated}})
	e.trail.StrategiesChanged(ctx, strategy.Change{After: []strategy.Strategy{{Name: "gnb", ExecutionTime: 1000, PID: 3}}, Created: true})

	recs, _, _ := e.trail.Range(ctx, Query{})
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	got := recs[0]
	want := Record{At: t0, Node: "node-a", Identity: "bob", Role: auth.RoleOperator, Credential: auth.MethodToken,
		Method: "PUT", Route: "/api/v1/scheduling/strategies/definitions/{name}", Path: "/api/v1/scheduling/strategies/definitions/upf",
		Client: "10.0.0.9:41000", Outcome: Allowed, Status: 200}
	change := got.Change
	got.Change = nil
	if !got.At.Equal(want.At) {
		t.Errorf("record at %v, want %v", got.At, want.At)
	}
	if got.At = want.At; got != want {
		t.Errorf("record = %+v, want %+v", got, want)
	}
	if change == nil || len(change.Before) != 1 || len(change.After) != 1 || !strings.Contains(string(change.Before[0]), `"execution_time":1000`) ||
		!strings.Contains(string(change.After[0]), `"execution_time":2000`) {
		t.Errorf("change = %+v", change)
	}
	if recs[1].Status != 201 || len(recs[1].Change.Before) != 0 || !recs[1].At.After(recs[0].At) {
		t.Errorf("a creation: status %d, before %s, at %v after %v; want 201, [], a later time", recs[1].Status, recs[1].Change.Before, recs[1].At, recs[0].At)
	}

	lines := e.logLines(t, "audit")
	if len(lines) != 2 {
		t.Fatalf("%d audit log lines, want 2:\n%s", len(lines), e.logs)
	}
	if lines[1]["at"] != recs[1].At.Format(time.RFC3339Nano) {
		t.Errorf("log line at = %v, want the record's time to the nanosecond, %s", lines[1]["at"], recs[1].At.Format(time.RFC3339Nano))
	}
	for k, v := range map[string]any{"identity": "bob", "role": "operator", "credential": "token", "outcome": "allowed", "status": 200.0,
		"route": "/api/v1/scheduling/strategies/definitions/{name}", "node": "node-a", "client": "10.0.0.9:41000", "before_count": 1.0} {
		if lines[0][k] != v {
			t.Errorf("log line %s = %v, want %v", k, lines[0][k], v)
		}
	}
	if m, ok := lines[0]["modified"].([]any); !ok || len(m) != 1 || m[0] != "upf" {
		t.Errorf("log line modified = %v, want [upf]", lines[0]["modified"])
	}
	if got := testutil.ToFloat64(e.trail.recorded.WithLabelValues("allowed")); got != 2 {
		t.Errorf("bss_audit_records_total{outcome=allowed} = %v, want 2", got)
	}
}

// A record is stored even when the request that made it was cancelled:
// the change was committed.
func TestTrailStoresWhenTheRequestIsGone(t *testing.T) {
	e := newTrailEnv()
	ctx, cancel := context.WithCancel(auth.WithIdentity(context.Background(), bob))
	cancel()
	e.trail.StrategiesChanged(ctx, strategy.Change{Before: []strategy.Strategy{{Name: "x", ExecutionTime: 1000, PID: 1}}})
	if len(e.store.recs) != 1 || e.store.ctxs[0] != nil {
		t.Errorf("stored %d records, context error %v; want 1, none", len(e.store.recs), e.store.ctxs)
	}
}

func TestTrailStoreFailure(t *testing.T) {
	e := newTrailEnv()
	e.store.fail = errors.New("disk full")
	ctx := WithRequest(auth.WithIdentity(context.Background(), bob), putRequest("upf"))
	e.trail.StrategiesChanged(ctx, strategy.Change{After: []strategy.Strategy{{Name: "upf", ExecutionTime: 1000, PID: 1}}, Created: true})
	if got := testutil.ToFloat64(e.trail.failed.WithLabelValues("allowed")); got != 1 {
		t.Errorf("bss_audit_record_failures_total{outcome=allowed} = %v, want 1", got)
	}
	errs := e.logLines(t, "audit record could not be stored")
	if len(errs) != 1 || errs[0]["level"] != "ERROR" || errs[0]["err"] != "disk full" || errs[0]["identity"] != "bob" {
		t.Errorf("error lines = %v", errs)
	}
	if len(e.logLines(t, "audit")) != 1 {
		t.Errorf("the audit line is missing when the store failed:\n%s", e.logs)
	}
}

func TestTrailTimesAreUnique(t *testing.T) {
	e := newTrailEnv() // the clock never moves
	ctx := auth.WithIdentity(context.Background(), bob)
	for range 3 {
		e.trail.StrategiesChanged(ctx, strategy.Change{})
	}
	for i, r := range e.store.recs {
		if want := t0.Add(time.Duration(i)); !r.At.Equal(want) {
			t.Errorf("record %d at %v, want %v", i, r.At, want)
		}
	}
}

func refusal(client, route string) Refusal {
	return Refusal{Identity: auth.Identity{Method: PresentedBearer}, Status: 401, Reason: "invalid credentials",
		Request: Request{Method: "POST", Route: route, Path: route, Client: client}}
}

// A flood of refusals from one client is recorded up to a burst, then one
// a minute, each carrying how many were counted instead; other clients
// and routes have their own allowance.
func TestTrailRefusalsAreBounded(t *testing.T) {
	e := newTrailEnv()
	ctx := context.Background()
	const metrics, writes = "/api/v1/metrics", "/api/v1/scheduling/strategies"
	for range 25 {
		e.trail.Refused(ctx, refusal("10.0.0.1:1000", metrics))
	}
	if n := len(e.store.recs); n != refusalBurst {
		t.Fatalf("%d of 25 refusals recorded, want the burst of %d", n, refusalBurst)
	}
	if got := testutil.ToFloat64(e.trail.suppressed.WithLabelValues(metrics)); got != 15 {
		t.Errorf("suppressed counter = %v, want 15", got)
	}
	e.trail.Refused(ctx, refusal("10.0.0.1:2000", writes))  // same host, another route
	e.trail.Refused(ctx, refusal("10.0.0.2:1000", metrics)) // another host
	if n := len(e.store.recs); n != refusalBurst+2 {
		t.Errorf("%d records, want %d: other clients and routes have their own allowance", n, refusalBurst+2)
	}

	e.clock.Advance(refusalEvery)
	e.trail.Refused(ctx, refusal("10.0.0.1:3000", metrics))
	last := e.store.recs[len(e.store.recs)-1]
	if last.Suppressed != 15 || last.Outcome != Denied || last.Status != 401 || last.Credential != PresentedBearer || last.Reason != "invalid credentials" {
		t.Errorf("record after a minute = %+v, want the denial carrying 15 suppressed", last)
	}
	e.trail.Refused(ctx, refusal("10.0.0.1:3000", metrics))
	if got := testutil.ToFloat64(e.trail.suppressed.WithLabelValues(metrics)); got != 16 {
		t.Errorf("suppressed counter = %v, want 16", got)
	}
	if lines := e.logLines(t, "audit"); len(lines) != len(e.store.recs) || lines[len(lines)-1]["suppressed"] != 15.0 {
		t.Errorf("%d audit lines for %d records; last %v", len(lines), len(e.store.recs), lines[len(lines)-1])
	}
}
