package httpapi

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bss-api/bss-api/internal/apperr"
)

// versionHeader carries the version of the snapshot an answer shows, on
// every answer of the watchable GETs (200 and 304).
const versionHeader = "X-BSS-Version"

// Why a held request was answered (bss_watch_returns_total's reason).
const (
	returnChanged  = "changed"
	returnTimeout  = "timeout"
	returnShutdown = "shutdown"
)

// WatchOptions configure blocking queries: GET strategies and GET pods
// with ?wait= and If-None-Match or ?version= are held until their answer
// changes.
type WatchOptions struct {
	// MaxWait caps ?wait (default 5m).
	MaxWait time.Duration
	// WriteTimeout is the server's http.Server.WriteTimeout (0: none). A
	// held request's write deadline is moved to the end of its wait plus
	// WriteTimeout, so the server's own timeout never cuts it.
	WriteTimeout time.Duration
	// Stopping is closed when the server starts to shut down: every held
	// request is answered at once, so shutdown does not wait for waits
	// to end (optional).
	Stopping <-chan struct{}
}

// watcher holds blocking queries. Each held request waits in its own
// handler goroutine on the channel its source closes at the next change
// (no polling, no goroutine of its own). Safe for concurrent use.
type watcher struct {
	opts    WatchOptions
	waiters *prometheus.GaugeVec
	returns *prometheus.CounterVec
}

// newWatcher returns a watcher whose metrics reg receives (optional).
func newWatcher(o WatchOptions, reg prometheus.Registerer) *watcher {
	if o.MaxWait <= 0 {
		o.MaxWait = 5 * time.Minute
	}
	w := &watcher{
		opts: o,
		waiters: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bss_watch_waiters",
			Help: "Blocking queries (?wait=) held now, waiting for their answer to change, by route.",
		}, []string{"route"}),
		returns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bss_watch_returns_total",
			Help: "Blocking queries answered after being held, by route and reason: changed (200), timeout (304) or shutdown. A client that hangs up first is not counted.",
		}, []string{"route", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(w.waiters, w.returns)
	}
	return w
}

// watchQuery is what a request asks of a watchable GET: how long it may
// be held, and the copy it holds (If-None-Match, else ?version=).
type watchQuery struct {
	wait       time.Duration // 0: answer at once
	inm        string        // If-None-Match
	version    uint64
	hasVersion bool
}

// parseWatch reads ?wait= and ?version=. Wait is capped at max; it holds
// the request only with If-None-Match or ?version=.
func parseWatch(r *http.Request, maxWait time.Duration) (watchQuery, error) {
	q := watchQuery{inm: r.Header.Get("If-None-Match")}
	v := r.URL.Query()
	if raw := v.Get("version"); raw != "" {
		n, err := strconv.ParseUint(raw, 10, 64)
		if err != nil {
			return q, apperr.Errorf(apperr.Invalid, "version: must be the non-negative integer an earlier answer carried in %s, got %q", versionHeader, raw)
		}
		q.version, q.hasVersion = n, true
	}
	if raw := v.Get("wait"); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 {
			return q, apperr.Errorf(apperr.Invalid, "wait: must be a duration such as 30s or 5m (at most %s), got %q", maxWait, raw)
		}
		q.wait = min(d, maxWait)
	}
	if q.inm == "" && !q.hasVersion {
		q.wait = 0 // nothing to compare with: answer at once
	}
	return q, nil
}

// current is what a request would be answered now.
type current struct {
	version uint64
	tag     string
}

// unchanged reports whether the client already holds c: its
// If-None-Match names c's tag (it takes precedence), else its ?version=
// is c's.
func (q watchQuery) unchanged(c current) bool {
	if q.inm != "" {
		return matchesTag(q.inm, c.tag)
	}
	return q.hasVersion && q.version == c.version
}

// hold keeps r while the client holds what now returns, up to the
// query's wait (plus jitter of up to 1/16 of it, so the waiters of one
// change do not all come back at once). next must return a channel closed
// at the source's next change; hold calls it before now. It returns what
// to answer with and false when the client went away (nothing to write).
func (wt *watcher) hold(w http.ResponseWriter, r *http.Request, route string, q watchQuery,
	next func() <-chan struct{}, now func() current) (current, bool) {
	cur := now()
	if q.wait <= 0 || !q.unchanged(cur) {
		return cur, true
	}
	wait := jittered(q.wait)
	if wt.opts.WriteTimeout > 0 {
		// The server set the write deadline as the request came in; move
		// it past the wait. A writer that cannot (none in this server)
		// keeps the wait within the timeout instead.
		err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + wt.opts.WriteTimeout))
		if err != nil {
			wait = min(wait, wt.opts.WriteTimeout*3/4)
		}
	}
	waiters := wt.waiters.WithLabelValues(route)
	waiters.Inc()
	defer waiters.Dec()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	// Next before now: a change in between shows in cur or closes changed.
	changed, reason := next(), ""
	for cur = now(); reason == "" && q.unchanged(cur); {
		select {
		case <-changed:
			// Most wakes are this answer's change: look before taking
			// the next channel, which every waiter would queue for.
			if cur = now(); q.unchanged(cur) {
				changed = next()
				cur = now()
			}
		case <-timer.C:
			reason = returnTimeout
		case <-wt.opts.Stopping:
			reason = returnShutdown
		case <-r.Context().Done():
			return cur, false
		}
	}
	if reason != "" {
		cur = now() // it may have changed as the wait ended
	}
	if !q.unchanged(cur) {
		reason = returnChanged
	}
	wt.returns.WithLabelValues(route, reason).Inc()
	return cur, true
}

// jittered returns d plus a random part of up to d/16.
func jittered(d time.Duration) time.Duration { return d + rand.N(d/16+1) }

// answeredCurrent sets c's validators (ETag, Vary, X-BSS-Version) and
// answers 304 when the client holds c.
func answeredCurrent(w http.ResponseWriter, q watchQuery, c current) bool {
	h := w.Header()
	h.Set("ETag", c.tag)
	h.Add("Vary", "Accept-Encoding")
	h.Set(versionHeader, strconv.FormatUint(c.version, 10))
	if q.unchanged(c) {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	return false
}

// representationQuery is the query that names a representation in its
// ETag: the request's query without wait and version, which only say how
// to wait for it, so a watcher's tag is a plain GET's tag.
func representationQuery(raw string) string {
	if !strings.Contains(raw, "wait=") && !strings.Contains(raw, "version=") {
		return raw
	}
	parts := strings.Split(raw, "&")
	kept := parts[:0]
	for _, p := range parts {
		if key, _, _ := strings.Cut(p, "="); key != "wait" && key != "version" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "&")
}
