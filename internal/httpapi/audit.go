package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/audit"
	"github.com/bss-api/bss-api/internal/auth"
)

const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// AuditTrail is the audit trail: it records the writes the HTTP layer
// refuses and serves the records. (Changes are recorded by the strategy
// service.)
type AuditTrail interface {
	refusalRecorder
	auditReader
}

type refusalRecorder interface {
	// Refused records a refused write; it never fails the caller and
	// bounds what a flood of refusals costs.
	Refused(ctx context.Context, r audit.Refusal)
}

type auditReader interface {
	Range(ctx context.Context, q audit.Query) ([]audit.Record, bool, error)
}

// isWrite reports whether a request with method may change state: the
// requests the audit trail follows.
func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// requestOf describes r for the audit trail. r must have been routed by
// the mux (r.Pattern set).
func requestOf(r *http.Request) audit.Request {
	route := r.Pattern
	if _, path, ok := strings.Cut(route, " "); ok {
		route = path
	}
	return audit.Request{Method: r.Method, Route: route, Path: r.URL.Path, Client: r.RemoteAddr}
}

// changeContext is the context a strategy write is made in: r's, which
// carries the caller's identity, and what the audit trail records of r.
// Only the strategy writes pay for it.
func changeContext(r *http.Request) context.Context {
	return audit.WithRequest(r.Context(), requestOf(r))
}

// presented names the credential an unauthenticated request sent.
func presented(r *http.Request) auth.Method {
	switch {
	case len(r.Header.Values("Authorization")) > 0:
		return audit.PresentedBearer
	case r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
		return auth.MethodCertificate
	}
	return auth.MethodNone
}

// refusals reports refused writes to the audit trail.
type refusals struct{ rec refusalRecorder }

// refused records that the write r was refused with err, when err is a
// 401, 403 or 429 and r a write (any method but GET, HEAD and OPTIONS);
// anything else it ignores. id is the caller as far as it is known: for a
// 403 or 429 the identity the Guard established, for a 401 nothing (the
// record then says what the request presented). It is called wherever a
// write is refused before its handler runs: by guarded (401, 403), the
// write rate limit (429) and the Host check (403, through routed).
func (a refusals) refused(r *http.Request, id auth.Identity, err error) {
	if a.rec == nil || !isWrite(r.Method) {
		return
	}
	status := statusOf(apperr.CodeOf(err))
	switch status {
	case http.StatusUnauthorized:
		id = auth.Identity{Method: presented(r)}
	case http.StatusForbidden, http.StatusTooManyRequests:
	default:
		return
	}
	a.rec.Refused(r.Context(), audit.Refusal{Identity: id, Request: requestOf(r), Status: status, Reason: apperr.MessageOf(err)})
}

// routed returns refused for requests refused before routing (the Host
// check): a request that mux routes to a write is recorded with its
// route, as the anonymous caller (nothing was authenticated); one that no
// route matches is not a write of the API and is not recorded.
func (a refusals) routed(mux *http.ServeMux) func(*http.Request, error) {
	return func(r *http.Request, err error) {
		_, pattern := mux.Handler(r)
		if pattern == "" {
			return
		}
		rr := r.WithContext(r.Context()) // a copy, to name its route
		rr.Pattern = pattern
		a.refused(rr, auth.Identity{Method: auth.MethodNone}, err)
	}
}

type auditResponse struct {
	envelope
	Count     int            `json:"count"`
	HasMore   bool           `json:"has_more"`
	NextSince string         `json:"next_since,omitempty"`
	Records   []audit.Record `json:"records"`
}

// getAudit serves the audit trail, oldest first, a page at a time.
func getAudit(trail auditReader, now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := parseRange(r.URL.Query(), now(), defaultAuditLimit, maxAuditLimit)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		recs, more, err := trail.Range(r.Context(), audit.Query{Since: p.since, Until: p.until, Limit: p.limit})
		if err != nil {
			rs.error(w, r, err)
			return
		}
		if recs == nil {
			recs = []audit.Record{}
		}
		resp := auditResponse{envelope: ok(now(), "Audit records retrieved successfully"), Count: len(recs), HasMore: more, Records: recs}
		if more {
			// Record times are unique, so the next page starts just after the last.
			resp.NextSince = recs[len(recs)-1].At.Add(time.Nanosecond).UTC().Format(time.RFC3339Nano)
		}
		rs.json(w, r, http.StatusOK, resp)
	})
}
