package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// TokenSource gives the bearer token to send. Token is called before every
// attempt of every request, concurrently, so it must be safe for
// concurrent use and cheap when it has a token at hand.
//
// A TokenSource that also has an Invalidate() method is told when the
// server refuses its token (401); the request is then retried once with
// the token Token gives next.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// invalidator is a TokenSource that can drop the token it holds.
type invalidator interface{ Invalidate() }

// TokenFunc adapts a function to TokenSource.
type TokenFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f TokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// StaticToken always gives token.
func StaticToken(token string) TokenSource {
	return TokenFunc(func(context.Context) (string, error) { return token, nil })
}

// fileTokenTTL is how long a token read from a file is used before the
// file is read again: kubelet rotates projected ServiceAccount tokens well
// before they expire, and client-go re-reads them as often.
const fileTokenTTL = time.Minute

// FileToken gives the token in the file at path (surrounding white space
// removed), read again after a minute and after the server refused it.
// It suits a Kubernetes ServiceAccount token
// (/var/run/secrets/kubernetes.io/serviceaccount/token).
func FileToken(path string) TokenSource {
	return &fileToken{path: path, now: time.Now}
}

type fileToken struct {
	path string
	now  func() time.Time

	mu     sync.Mutex
	token  string
	readAt time.Time
}

func (f *fileToken) Token(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.token != "" && f.now().Sub(f.readAt) < fileTokenTTL {
		return f.token, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	tok := string(bytes.TrimSpace(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", f.path)
	}
	f.token, f.readAt = tok, f.now()
	return tok, nil
}

func (f *fileToken) Invalidate() {
	f.mu.Lock()
	f.token = ""
	f.mu.Unlock()
}

// assumedTokenLife is how long a token is taken to be valid when the
// server does not say: the 23 hours the older schedulers assume.
const assumedTokenLife = 23 * time.Hour

// schedulerTokens gets and renews tokens with the scheduler token
// protocol. Requests wait while one of them asks for a token, so the
// server is asked once, not once per request.
type schedulerTokens struct {
	issue        func(ctx context.Context, publicKeyPEM string) (*Token, error)
	publicKeyPEM string
	now          func() time.Time

	mu      sync.Mutex
	token   string
	renewAt time.Time
}

func (s *schedulerTokens) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Before(s.renewAt) {
		return s.token, nil
	}
	t, err := s.issue(ctx, s.publicKeyPEM)
	if err != nil {
		return "", fmt.Errorf("scheduler token: %w", err)
	}
	tok := t.Value()
	if tok == "" {
		return "", errors.New("scheduler token: the server answered without a token")
	}
	expires := t.Expires()
	if expires.IsZero() {
		expires = now.Add(assumedTokenLife)
	}
	// Renew when a tenth of the lifetime is left, so clocks that differ a
	// little and requests in flight never present an expired token.
	s.token, s.renewAt = tok, now.Add(expires.Sub(now)*9/10)
	return tok, nil
}

func (s *schedulerTokens) Invalidate() {
	s.mu.Lock()
	s.token = ""
	s.mu.Unlock()
}
