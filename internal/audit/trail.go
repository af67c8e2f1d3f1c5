package audit

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/strategy"
)

// appendTimeout bounds how long a record may take to store. Records are
// stored even when the request that caused them was cancelled: a
// committed change must be on record whether or not its client waited.
const appendTimeout = 5 * time.Second

// maxLoggedNames bounds each list of names an audit log line shows.
const maxLoggedNames = 20

// TrailOptions configure a Trail.
type TrailOptions struct {
	Store Store
	// Node is written on every record.
	Node string
	// Logger receives one line (msg=audit) per record, at level info, and
	// an error for each record that could not be stored. Default: discard.
	Logger   *slog.Logger
	Registry prometheus.Registerer // optional
	Now      func() time.Time
}

// Trail makes audit records, stores them, logs them and serves them. Safe
// for concurrent use.
//
// Recording never fails its caller: a record that cannot be stored is
// logged as an error (with the whole record) and counted in
// bss_audit_record_failures_total, and the change it describes stands.
type Trail struct {
	store Store
	node  string
	log   *slog.Logger
	now   func() time.Time

	mu   sync.Mutex
	last time.Time // the latest record time handed out

	refusals   *refusalLimiter
	recorded   *prometheus.CounterVec
	failed     *prometheus.CounterVec
	suppressed *prometheus.CounterVec
}

var _ strategy.Auditor = (*Trail)(nil)

// NewTrail returns a Trail over opts.Store.
func NewTrail(opts TrailOptions) *Trail {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t := &Trail{
		store: opts.Store, node: opts.Node, log: opts.Logger, now: opts.Now,
		refusals: newRefusalLimiter(),
		recorded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bss_audit_records_total",
			Help: "Audit records stored, by outcome: allowed (strategy changes) or denied (refused writes).",
		}, []string{"outcome"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bss_audit_record_failures_total",
			Help: "Audit records that could not be stored (each is logged as an error; the change it describes stands), by outcome.",
		}, []string{"outcome"}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bss_audit_refusals_suppressed_total",
			Help: "Refused writes counted but not recorded one by one, because their client refused too often, by route; the next record of that client and route carries the count.",
		}, []string{"route"}),
	}
	if opts.Registry != nil {
		opts.Registry.MustRegister(t.recorded, t.failed, t.suppressed)
	}
	return t
}

// StrategiesChanged implements strategy.Auditor: it records a committed
// change with the identity and request that ctx carries. The status is
// the one the write is answered with: 201 for a PUT that created its
// strategy, else 200.
func (t *Trail) StrategiesChanged(ctx context.Context, c strategy.Change) {
	id, _ := auth.IdentityFrom(ctx)
	req, _ := RequestFrom(ctx)
	rec := t.record(id, req)
	rec.Outcome, rec.Status = Allowed, http.StatusOK
	if c.Created {
		rec.Status = http.StatusCreated
	}
	change, sum, err := newChange(c.Before, c.After, MaxChangeBytes)
	if err != nil { // strategies always encode; should one not, the change is still on record
		rec.Reason = err.Error()
		change = &Change{BeforeCount: len(c.Before), AfterCount: len(c.After), Truncated: true}
	}
	rec.Change = change
	t.write(ctx, rec, sum)
}

// Refusal is a write refused before its handler ran.
type Refusal struct {
	// Identity is the caller as far as it is known. For a 401 only its
	// Method is set, to what the request presented: PresentedBearer,
	// auth.MethodCertificate or auth.MethodNone.
	Identity auth.Identity
	Request  Request
	Status   int    // 401, 403 or 429
	Reason   string // what the caller was told
}

// Refused records a refused write. The refusals of one client (an IPv4
// address, or an IPv6 /64) and route are recorded one by one up to a
// burst of 10, then one a minute (and at most 10 a second across all
// clients); those in between are counted in
// bss_audit_refusals_suppressed_total and in the next record of that
// client and route (Suppressed).
func (t *Trail) Refused(ctx context.Context, r Refusal) {
	ok, suppressed := t.refusals.admit(refusalKey(r.Request.Client, r.Request.Route), t.now())
	if !ok {
		t.suppressed.WithLabelValues(r.Request.Route).Inc()
		return
	}
	rec := t.record(r.Identity, r.Request)
	rec.Outcome, rec.Status, rec.Reason, rec.Suppressed = Denied, r.Status, r.Reason, suppressed
	t.write(ctx, rec, summary{})
}

// Range implements the reading side of the trail: see Store.Range.
func (t *Trail) Range(ctx context.Context, q Query) ([]Record, bool, error) {
	return t.store.Range(ctx, q)
}

// record starts a record of a request by id.
func (t *Trail) record(id auth.Identity, req Request) Record {
	path := req.Path
	if len(path) > MaxPathBytes {
		path = path[:MaxPathBytes]
	}
	return Record{
		Node: t.node, Identity: id.Name, Role: id.Role, Credential: id.Method,
		Method: req.Method, Route: req.Route, Path: path, Client: req.Client,
	}
}

// stamp returns a record time later than every one handed out before, so
// the records of this server never share a time.
func (t *Trail) stamp() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now().UTC()
	if !now.After(t.last) {
		now = t.last.Add(time.Nanosecond)
	}
	t.last = now
	return now
}

// write stores rec, then logs it.
func (t *Trail) write(ctx context.Context, rec Record, sum summary) {
	rec.At = t.stamp()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), appendTimeout)
	defer cancel()
	at, err := t.store.Append(sctx, rec)
	attrs := logAttrs(rec, sum)
	if err != nil {
		t.failed.WithLabelValues(string(rec.Outcome)).Inc()
		t.log.LogAttrs(ctx, slog.LevelError, "audit record could not be stored", append(attrs, slog.Any("err", err))...)
	} else {
		t.recorded.WithLabelValues(string(rec.Outcome)).Inc()
		attrs[0] = atAttr(at)
	}
	t.log.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
}

// logAttrs renders rec as the fields of its log line; "at" comes first.
func logAttrs(rec Record, sum summary) []slog.Attr {
	attrs := []slog.Attr{
		atAttr(rec.At),
		slog.String("node", rec.Node),
		slog.String("outcome", string(rec.Outcome)),
		slog.Int("status", rec.Status),
		slog.String("identity", rec.Identity),
		slog.String("role", string(rec.Role)),
		slog.String("credential", string(rec.Credential)),
		slog.String("method", rec.Method),
		slog.String("route", rec.Route),
		slog.String("path", rec.Path),
		slog.String("client", rec.Client),
	}
	if rec.Reason != "" {
		attrs = append(attrs, slog.String("reason", rec.Reason))
	}
	if rec.Suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", rec.Suppressed))
	}
	if c := rec.Change; c != nil {
		attrs = append(attrs,
			slog.Any("created", loggedNames(sum.created)),
			slog.Any("modified", loggedNames(sum.modified)),
			slog.Any("removed", loggedNames(sum.removed)),
			slog.Int("before_count", c.BeforeCount),
			slog.Int("after_count", c.AfterCount),
			slog.Bool("truncated", c.Truncated))
	}
	return attrs
}

// atAttr is a record's time as the API shows it, to the nanosecond (a
// text log would round a time attribute to the millisecond).
func atAttr(at time.Time) slog.Attr { return slog.String("at", at.UTC().Format(time.RFC3339Nano)) }

// loggedNames keeps a log line short: the first maxLoggedNames names, then
// how many more there are.
func loggedNames(names []string) []string {
	if names == nil {
		return []string{}
	}
	if len(names) <= maxLoggedNames {
		return names
	}
	return append(names[:maxLoggedNames:maxLoggedNames], fmt.Sprintf("(%d more)", len(names)-maxLoggedNames))
}
