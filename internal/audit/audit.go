// Package audit is the accountability half of the trust boundary: a
// record of every strategy change (who, with which credential, through
// which route, from where, and the definitions before and after) and of
// every write refused before its handler ran (401, 403, 429).
//
// Records are kept by the store backend (Store, implemented in
// internal/store), shared when the store is shared, pruned by age and
// count by the store's retention job, served at GET /api/v1/audit, and
// each one is also logged as one structured line (msg=audit). Trail makes
// the records: the strategy service reports committed changes to it, the
// HTTP layer reports refusals.
package audit

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"time"

	"github.com/bss-api/bss-api/internal/auth"
)

// Outcome says whether the request a record describes was carried out.
type Outcome string

// The outcomes.
const (
	// Allowed: a strategy write that was committed.
	Allowed Outcome = "allowed"
	// Denied: a write refused before its handler ran, with 401, 403 or 429.
	Denied Outcome = "denied"
)

// Outcomes lists the outcomes; retention by count applies to each apart.
func Outcomes() []Outcome { return []Outcome{Allowed, Denied} }

// Presented credentials of a refused request that was not authenticated
// (401): what it sent, since no identity could be established.
const (
	// PresentedBearer: an Authorization header that proved nothing.
	PresentedBearer auth.Method = "bearer"
)

// Record is one entry of the audit trail. It is a value: a store keeps
// and returns copies (Clone).
type Record struct {
	// At is when the record was made; unique within a store (Append moves
	// it forward by nanoseconds if needed), so it is a paging cursor.
	At   time.Time `json:"at"`
	Node string    `json:"node"` // the node whose server handled the request

	// Identity is the caller's name; empty when it was not authenticated.
	Identity string `json:"identity"`
	// Role is the role the credential carried; empty for identities
	// authorized by the Kubernetes API server, and for unauthenticated
	// callers.
	Role auth.Role `json:"role"`
	// Credential is how the identity was established; for an
	// unauthenticated caller, what it presented: bearer, certificate or
	// none.
	Credential auth.Method `json:"credential"`

	Method string `json:"method"` // HTTP method
	Route  string `json:"route"`  // route pattern, such as /api/v1/scheduling/strategies/definitions/{name}
	Path   string `json:"path"`   // the request's path, at most MaxPathBytes
	Client string `json:"client"` // the client's address (host:port), as the server saw it

	Outcome Outcome `json:"outcome"`
	// Status is the HTTP status the request was answered with.
	Status int `json:"status"`
	// Reason is what a refused caller was told.
	Reason string `json:"reason,omitempty"`
	// Suppressed counts the refusals of the same client and route that
	// were not recorded one by one since its previous record (see
	// Trail.Refused).
	Suppressed int `json:"suppressed,omitempty"`

	// Change is what an allowed write changed; nil for refusals.
	Change *Change `json:"change,omitempty"`
}

// MaxPathBytes bounds the path a record keeps.
const MaxPathBytes = 1024

// Change is what one strategy write changed: the definitions it touched,
// as stored, before and after. For a replace-all those are the whole
// lists; for a PUT the named strategy (Before empty when it was created);
// for a DELETE the deleted one (After empty).
//
// A record holds at most MaxChangeBytes of definitions. When the write
// touched more, Truncated is set and definitions are left out: first those
// a replace-all left as they were (same name, same definition), then the
// last ones of each list; BeforeCount and AfterCount still count them all.
type Change struct {
	Before      []json.RawMessage `json:"before"`
	After       []json.RawMessage `json:"after"`
	BeforeCount int               `json:"before_count"`
	AfterCount  int               `json:"after_count"`
	Truncated   bool              `json:"truncated"`
}

// Clone returns a deep copy of r.
func (r Record) Clone() Record {
	if r.Change != nil {
		c := *r.Change
		c.Before, c.After = cloneRaw(c.Before), cloneRaw(c.After)
		r.Change = &c
	}
	return r
}

func cloneRaw(in []json.RawMessage) []json.RawMessage {
	out := make([]json.RawMessage, len(in))
	for i, m := range in {
		out[i] = slices.Clone(m)
	}
	return out
}

// Query selects records: Since <= At < Until (a zero bound is
// unbounded), at most Limit (0: all).
type Query struct {
	Since time.Time
	Until time.Time
	Limit int
}

// Bounds gives a store what to fetch for q, as Unix nanoseconds: records
// with since <= At < until, where since is no earlier than now-maxAge
// (older records are past retention; maxAge 0: no bound); at most fetch
// of them, one more than q.Limit so Page can tell whether there are more,
// or -1 for all.
func (q Query) Bounds(now time.Time, maxAge time.Duration) (since, until int64, fetch int) {
	since = math.MinInt64
	if !q.Since.IsZero() {
		since = q.Since.UnixNano()
	}
	if maxAge > 0 {
		since = max(since, now.Add(-maxAge).UnixNano())
	}
	until = math.MaxInt64
	if !q.Until.IsZero() {
		until = q.Until.UnixNano()
	}
	fetch = -1
	if q.Limit > 0 {
		fetch = q.Limit + 1
	}
	return since, until, fetch
}

// Page cuts records fetched with Bounds to q.Limit and reports whether
// there were more.
func (q Query) Page(recs []Record) ([]Record, bool) {
	if q.Limit > 0 && len(recs) > q.Limit {
		return recs[:q.Limit], true
	}
	return recs, false
}

// Retention bounds what a store keeps: records older than MaxAge are
// dropped, and of each outcome only the newest MaxCount are kept, so a
// flood of refusals can never push a change record out. A zero field is
// no bound.
type Retention struct {
	MaxAge   time.Duration
	MaxCount int
}

// Store keeps audit records. Implementations are safe for concurrent use,
// keep no slice passed in and return copies. A shared store holds the
// records of every node that uses it, each with its node, and returns all
// of them.
type Store interface {
	// Append stores rec and returns the time it was stored under: rec.At,
	// or a few nanoseconds later when a record (of any node) already has
	// that time, so that times are unique.
	Append(ctx context.Context, rec Record) (time.Time, error)
	// Range returns up to q.Limit records with q.Since <= At < q.Until,
	// oldest first, and whether more matched. Records past the retention
	// age are not returned, even before the retention job deleted them.
	Range(ctx context.Context, q Query) (recs []Record, more bool, err error)
}

// Request is the HTTP request behind a change, as the audit trail records
// it. The HTTP layer attaches it to the request's context (WithRequest),
// next to the caller's identity.
type Request struct {
	Method string // HTTP method
	Route  string // route pattern, without the method
	Path   string
	Client string // remote address
}

type requestKey struct{}

// WithRequest returns ctx carrying req.
func WithRequest(ctx context.Context, req Request) context.Context {
	return context.WithValue(ctx, requestKey{}, req)
}

// RequestFrom returns the request attached to ctx, and whether there is
// one.
func RequestFrom(ctx context.Context) (Request, bool) {
	req, ok := ctx.Value(requestKey{}).(Request)
	return req, ok
}
