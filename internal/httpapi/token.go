package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/ratelimit"
	"github.com/bss-api/bss-api/internal/strictjson"
)

// TokenIssuer issues scheduler tokens (POST /api/v1/auth/token).
type TokenIssuer interface {
	// Issue returns a token for the scheduler that presents publicKeyPEM,
	// and when it expires. A key that is not accepted is an
	// apperr.Unauthenticated error that does not say why.
	Issue(ctx context.Context, publicKeyPEM string) (token string, expires time.Time, err error)
}

// TokenLimits bound token requests per client address.
type TokenLimits struct {
	PerSecond float64 // average
	Burst     int     // at once
}

// tokenBodyLimit bounds a token request: a PEM public key is at most a few
// kilobytes (an RSA 8192 key is 1.5 KB).
const tokenBodyLimit = 16 << 10

// tokenClients bounds how many client addresses the token endpoint's rate
// limit remembers at once.
const tokenClients = 10_000

// tokenResponse answers in both shapes schedulers read: C2 and C3 take
// the top-level token (and assume 23 hours), C4 and C5 take data.token and
// data.expired_at.
type tokenResponse struct {
	envelope
	Token string    `json:"token"`
	Data  tokenData `json:"data"`
}

type tokenData struct {
	Token     string `json:"token"`
	ExpiredAt int64  `json:"expired_at"` // Unix seconds
}

// postToken issues a scheduler token to a caller presenting the accepted
// public key. Every request counts against its client address's limit,
// refused or not. Without an issuer the endpoint is not enabled, and says
// so with a 404.
func postToken(issuer TokenIssuer, limits TokenLimits, now func() time.Time, rs responder) http.Handler {
	if issuer == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rs.error(w, r, apperr.Errorf(apperr.NotFound,
				"the token endpoint is not enabled on this server; it issues scheduler tokens when started with --scheduler-public-key-file"))
		})
	}
	limiter := ratelimit.New(limits.PerSecond, limits.Burst, tokenClients)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allowed, wait := limiter.Allow(ratelimit.ClientKey(r.RemoteAddr), now()); !allowed {
			seconds := int(math.Ceil(wait.Seconds()))
			rs.error(w, r, &apperr.Error{Code: apperr.TooMany, RetryAfter: wait,
				Message: fmt.Sprintf("too many token requests from this address; retry in %d s", seconds)})
			return
		}
		if r.Header.Get("Content-Type") == "" {
			rs.error(w, r, apperr.Errorf(apperr.Unsupported, "Content-Type is missing; send the body as application/json"))
			return
		}
		body, err := readJSONBody(w, r, tokenBodyLimit)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		publicKey, err := decodeTokenRequest(body)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		token, expires, err := issuer.Issue(r.Context(), publicKey)
		if err != nil {
			if apperr.CodeOf(err) == apperr.Unauthenticated {
				rs.log.LogAttrs(r.Context(), slog.LevelWarn, "scheduler token refused: not the accepted public key",
					slog.String("remote", r.RemoteAddr))
			}
			rs.error(w, r, err)
			return
		}
		rs.log.LogAttrs(r.Context(), slog.LevelInfo, "scheduler token issued",
			slog.String("remote", r.RemoteAddr), slog.Time("expires", expires))
		// A token is a credential: no cache may keep it (RFC 6749, 5.1).
		w.Header().Set("Cache-Control", "no-store")
		rs.json(w, r, http.StatusOK, tokenResponse{
			envelope: ok(now(), "Token issued for the scheduler role, valid until "+expires.UTC().Format(time.RFC3339)),
			Token:    token,
			Data:     tokenData{Token: token, ExpiredAt: expires.Unix()},
		})
	})
}

// tokenRequest is the body of POST /api/v1/auth/token.
type tokenRequest struct {
	PublicKey *string `json:"public_key"`
}

// tokenRequestSchema holds tokenRequest's exact field names. Immutable.
var tokenRequestSchema = strictjson.For[tokenRequest]()

// decodeTokenRequest reads {"public_key": "<PEM>"} strictly: exactly that
// field, once and in that case, a non-empty string, and nothing after the
// object.
func decodeTokenRequest(body []byte) (string, error) {
	const want = `send {"public_key": "<PEM of the scheduler's public key>"}`
	if len(bytes.TrimSpace(body)) == 0 {
		return "", apperr.Errorf(apperr.Invalid, "request body is empty; %s", want)
	}
	if err := tokenRequestSchema.Check(body); err != nil {
		return "", apperr.Errorf(apperr.Invalid, "%v; %s", err, want)
	}
	var req tokenRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil {
		if _, next := dec.Token(); !errors.Is(next, io.EOF) {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	if te, isType := errors.AsType[*json.UnmarshalTypeError](err); isType {
		if te.Field == "" {
			return "", apperr.Errorf(apperr.Invalid, "the body must be a JSON object; %s", want)
		}
		return "", apperr.Errorf(apperr.Invalid, "%s: must be a string, got %s", te.Field, te.Value)
	}
	if err != nil {
		msg := err.Error()
		if strings.HasPrefix(msg, "json: unknown field ") {
			return "", apperr.Errorf(apperr.Invalid, "%s; %s", strings.TrimPrefix(msg, "json: "), want)
		}
		return "", apperr.Errorf(apperr.Invalid, "Invalid JSON format: %s", msg)
	}
	if req.PublicKey == nil || strings.TrimSpace(*req.PublicKey) == "" {
		return "", apperr.Errorf(apperr.Invalid, "public_key: required; %s", want)
	}
	return *req.PublicKey, nil
}
