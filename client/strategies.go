package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// QueryOption sets a parameter of Strategies or PodPIDs.
type QueryOption func(*query)

type query struct {
	verbose bool
	wait    time.Duration
	etag    string
	version uint64
}

// Verbose asks Strategies to say why: each entry's strategy, pod, container,
// command and start time.
func Verbose() QueryOption { return func(q *query) { q.verbose = true } }

// IfNoneMatch sends etag (an earlier answer's ETag) in If-None-Match: the
// server answers 304, returned as ErrNotModified, while its answer is
// unchanged.
func IfNoneMatch(etag string) QueryOption { return func(q *query) { q.etag = etag } }

// SinceVersion asks for the answer only once its version differs from v (an
// earlier answer's Version); with WithWait, an alternative to IfNoneMatch.
func SinceVersion(v uint64) QueryOption { return func(q *query) { q.version = v } }

// WithWait makes the query a blocking one: with IfNoneMatch or
// SinceVersion, the server holds the request until its answer changes, and
// answers 304 (ErrNotModified) if d passes first. The server caps d
// (--watch-max-wait, 5m by default) and adds up to a sixteenth of it as
// jitter. Without IfNoneMatch or SinceVersion the server ignores it.
func WithWait(d time.Duration) QueryOption { return func(q *query) { q.wait = d } }

func collect(opts []QueryOption) query {
	var q query
	for _, o := range opts {
		o(&q)
	}
	return q
}

// conditional fills cl's query and headers for q's watch parameters.
func (q query) conditional(cl *call) {
	if q.etag != "" {
		cl.header = http.Header{"If-None-Match": {q.etag}}
	}
	if q.version != 0 {
		cl.query.Set("version", strconv.FormatUint(q.version, 10))
	}
	if q.wait > 0 {
		cl.query.Set("wait", q.wait.String())
		cl.hold = q.wait + q.wait/16
	}
}

// Strategies returns the resolved strategies: what the scheduler applies,
// one entry per PID. Keep the previous answer on any error: ErrNotModified
// (unchanged), ErrUnavailable (the server cannot yet resolve completely),
// or a connection error. See WatchStrategies to follow changes.
func (c *Client) Strategies(ctx context.Context, opts ...QueryOption) (*Strategies, error) {
	return c.strategies(ctx, collect(opts), false)
}

func (c *Client) strategies(ctx context.Context, q query, watching bool) (*Strategies, error) {
	cl := call{method: http.MethodGet, path: "/api/v1/scheduling/strategies", query: url.Values{},
		idempotent: true, noRetry: watching}
	if q.verbose {
		cl.query.Set("verbose", "true")
	}
	return conditionalGet[Strategies](ctx, c, cl, q)
}

// versioned is an answer of the watchable GETs.
type versioned[T any] interface {
	*T
	setTag(h http.Header)
}

func (s *Strategies) setTag(h http.Header) {
	s.ETag, s.Version = h.Get("ETag"), headerVersion(h, s.Version)
}

func (p *Pods) setTag(h http.Header) {
	p.ETag, p.Version = h.Get("ETag"), headerVersion(h, p.Version)
}

// conditionalGet performs cl with q's watch parameters and keeps the
// answer's ETag and version.
func conditionalGet[T any, P versioned[T]](ctx context.Context, c *Client, cl call, q query) (*T, error) {
	q.conditional(&cl)
	out := new(T)
	ans, err := c.do(ctx, cl, out)
	if err != nil {
		return nil, err
	}
	P(out).setTag(ans.header)
	return out, nil
}

// headerVersion returns the X-BSS-Version header's value, or fallback when
// it is absent or malformed.
func headerVersion(h http.Header, fallback uint64) uint64 {
	if v, err := strconv.ParseUint(h.Get("X-BSS-Version"), 10, 64); err == nil {
		return v
	}
	return fallback
}

// PodPIDs returns the processes of every pod on the server's node,
// narrowed by f. It takes IfNoneMatch, SinceVersion and WithWait as
// Strategies does.
func (c *Client) PodPIDs(ctx context.Context, f PodFilter, opts ...QueryOption) (*Pods, error) {
	return c.podPIDs(ctx, f, collect(opts), false)
}

func (c *Client) podPIDs(ctx context.Context, f PodFilter, q query, watching bool) (*Pods, error) {
	cl := call{method: http.MethodGet, path: "/api/v1/pods/pids", query: f.values(), idempotent: true, noRetry: watching}
	return conditionalGet[Pods](ctx, c, cl, q)
}

func (f PodFilter) values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("namespace", f.Namespace)
	set("label_selector", f.LabelSelector)
	set("pod_uid", f.PodUID)
	set("container_id", f.ContainerID)
	if f.PID > 0 {
		v.Set("pid", strconv.Itoa(f.PID))
	}
	if f.IncludeThreads {
		v.Set("include_threads", "true")
	}
	return v
}

// ReplaceStrategies replaces every stored strategy with list, atomically
// (the seed's POST). It answers once the new resolution is published, so a
// Strategies call after it reflects it.
func (c *Client) ReplaceStrategies(ctx context.Context, list []Strategy) (*SaveResult, error) {
	var out SaveResult
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "/api/v1/scheduling/strategies",
		body: strategyList(list), idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// strategyList is the body of a POST of strategies and of a preview; a nil
// list is sent as [] (clear every strategy), never null.
func strategyList(list []Strategy) any {
	if list == nil {
		list = []Strategy{}
	}
	return struct {
		Strategies []Strategy `json:"strategies"`
	}{list}
}

// Definitions returns the stored strategies as written, with their names.
func (c *Client) Definitions(ctx context.Context) (*Definitions, error) {
	return getJSON[Definitions](ctx, c, "/api/v1/scheduling/strategies/definitions", nil)
}

// PutDefinition creates or replaces the strategy called name (s.Name, if
// set, must be name).
func (c *Client) PutDefinition(ctx context.Context, name string, s Strategy) (*DefinitionResult, error) {
	var out DefinitionResult
	ans, err := c.do(ctx, call{method: http.MethodPut, path: definitionPath(name), body: s,
		idempotent: true, okStatus: []int{http.StatusCreated}}, &out)
	if err != nil {
		return nil, err
	}
	out.Created = ans.status == http.StatusCreated
	return &out, nil
}

// DeleteDefinition deletes the strategy called name; ErrNotFound when there
// is none.
func (c *Client) DeleteDefinition(ctx context.Context, name string) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, path: definitionPath(name), idempotent: true}, nil)
	return err
}

func definitionPath(name string) string {
	return "/api/v1/scheduling/strategies/definitions/" + url.PathEscape(name)
}

// Preview resolves list without saving it, with per-strategy counts.
func (c *Client) Preview(ctx context.Context, list []Strategy) (*Preview, error) {
	var out Preview
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "/api/v1/scheduling/strategies/preview",
		body: strategyList(list), idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Explain returns, for each resolved PID, every strategy that matched and
// the winner.
func (c *Client) Explain(ctx context.Context) (*Explanation, error) {
	return getJSON[Explanation](ctx, c, "/api/v1/scheduling/strategies/explain", nil)
}
