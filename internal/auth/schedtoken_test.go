package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
)

// testClock is a clock that moves only when told to.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newEd25519(t *testing.T) crypto.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// pemOf encodes pub as a PEM block of type typ (PKIX DER), with headers.
func pemOf(t *testing.T, pub crypto.PublicKey, typ string, headers map[string]string) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: der}))
}

var (
	signingKeyA = []byte("0123456789abcdef0123456789abcdef")
	signingKeyB = []byte("fedcba9876543210fedcba9876543210")
)

// newTokens returns SchedulerTokens for pub signed with key, on clock.
func newTokens(t *testing.T, pub crypto.PublicKey, key []byte, clock *testClock) *SchedulerTokens {
	t.Helper()
	s, err := NewSchedulerTokens(SchedulerTokenOptions{PublicKey: pub, SigningKey: key, TTL: 24 * time.Hour, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func issue(t *testing.T, s *SchedulerTokens, pemText string) (string, time.Time) {
	t.Helper()
	token, expires, err := s.Issue(context.Background(), pemText)
	if err != nil {
		t.Fatalf("Issue = %v", err)
	}
	return token, expires
}

func TestSchedulerTokenRoundTrip(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 500, time.UTC)}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, pub := range map[string]crypto.PublicKey{"rsa": &rsaKey.PublicKey, "ecdsa": &ecKey.PublicKey, "ed25519": newEd25519(t)} {
		t.Run(name, func(t *testing.T) {
			s := newTokens(t, pub, signingKeyA, clock)
			token, expires := issue(t, s, pemOf(t, pub, "PUBLIC KEY", nil))
			if !strings.HasPrefix(token, "bss1.") || strings.Count(token, ".") != 2 || len(token) > maxSchedulerTokenBytes {
				t.Errorf("token %q: want bss1.<claims>.<mac>, at most %d bytes", token, maxSchedulerTokenBytes)
			}
			if want := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC); !expires.Equal(want) {
				t.Errorf("expires %s, want %s", expires, want)
			}
			id, ok, err := s.AuthenticateToken(ctx, token)
			want := Identity{Name: "scheduler:" + s.Fingerprint(), Method: MethodScheduler, Role: RoleScheduler}
			if err != nil || !ok || id.Name != want.Name || id.Method != want.Method || id.Role != want.Role {
				t.Errorf("AuthenticateToken = %+v, %v, %v; want %+v", id, ok, err, want)
			}
			if len(s.Fingerprint()) != 16 {
				t.Errorf("fingerprint %q", s.Fingerprint())
			}
		})
	}
}

func TestSchedulerTokenIssueComparesKeysNotText(t *testing.T) {
	clock := &testClock{now: time.Unix(1_800_000_000, 0)}
	pub := newEd25519(t)
	s := newTokens(t, pub, signingKeyA, clock)
	// The same key written differently: headers, CRLF line ends, white space around.
	for _, text := range []string{
		pemOf(t, pub, "PUBLIC KEY", map[string]string{"Comment": "scheduler key"}),
		strings.ReplaceAll(pemOf(t, pub, "PUBLIC KEY", nil), "\n", "\r\n"),
		"\n  " + pemOf(t, pub, "PUBLIC KEY", nil) + "\n\n",
	} {
		if _, _, err := s.Issue(context.Background(), text); err != nil {
			t.Errorf("the configured key as %q refused: %v", text, err)
		}
	}

	other := pemOf(t, newEd25519(t), "PUBLIC KEY", nil)
	refused := map[string]string{
		"another key":            other,
		"the key twice":          pemOf(t, pub, "PUBLIC KEY", nil) + pemOf(t, pub, "PUBLIC KEY", nil),
		"the key and another":    pemOf(t, pub, "PUBLIC KEY", nil) + other,
		"another block type":     pemOf(t, pub, "CERTIFICATE", nil),
		"not PEM":                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOvv",
		"text before the key":    "key:\n" + pemOf(t, pub, "PUBLIC KEY", nil),
		"empty":                  "",
		"bad DER":                string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("not DER")})),
		"the base64 without PEM": strings.Join(strings.Split(pemOf(t, pub, "PUBLIC KEY", nil), "\n")[1:2], ""),
	}
	for name, text := range refused {
		_, _, err := s.Issue(context.Background(), text)
		if apperr.CodeOf(err) != apperr.Unauthenticated || apperr.MessageOf(err) != apperr.MessageOf(errKeyRefused) {
			t.Errorf("%s: Issue = %v; want the one Unauthenticated answer %q", name, err, apperr.MessageOf(errKeyRefused))
		}
	}
}

// forge signs claims with key as Issue would, whatever they say.
func forge(t *testing.T, key []byte, claims string) string {
	t.Helper()
	sg := &signer{key: key}
	signed := schedulerTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(claims))
	return signed + "." + base64.RawURLEncoding.EncodeToString(sg.mac(signed))
}

func TestSchedulerTokenRefusals(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{now: time.Unix(1_800_000_000, 0)}
	pub := newEd25519(t)
	s := newTokens(t, pub, signingKeyA, clock)
	token, _ := issue(t, s, pemOf(t, pub, "PUBLIC KEY", nil))
	claimsPart := strings.Split(token, ".")[1]
	raw, _ := base64.RawURLEncoding.DecodeString(claimsPart)
	operatorClaims := strings.Replace(string(raw), `"role":"scheduler"`, `"role":"operator"`, 1)

	otherKey := newTokens(t, pub, signingKeyB, clock)
	fromOtherKey, _ := issue(t, otherKey, pemOf(t, pub, "PUBLIC KEY", nil))
	otherPub := newEd25519(t)
	forOtherPub, _ := issue(t, newTokens(t, otherPub, signingKeyA, clock), pemOf(t, otherPub, "PUBLIC KEY", nil))

	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	// The MAC's last character carries 2 unused bits: another spelling of
	// the same bytes is still another token.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, token[len(token)-1])
	respelt := token[:len(token)-1] + string(alphabet[last^1])
	refused := map[string]string{
		"MAC respelt, same bytes":       respelt,
		"claims changed, MAC kept":      "bss1." + base64.RawURLEncoding.EncodeToString([]byte(operatorClaims)) + "." + strings.Split(token, ".")[2],
		"one claims character flipped":  flip(token, len("bss1.")+3),
		"one MAC character flipped":     flip(token, len(token)-3),
		"MAC cut short":                 token[:len(token)-4],
		"no MAC":                        "bss1." + claimsPart,
		"no MAC, trailing dot":          "bss1." + claimsPart + ".",
		"signed with another key":       fromOtherKey,
		"issued for another public key": forOtherPub,
		"role operator, signed right":   forge(t, signingKeyA, operatorClaims),
		"unknown claim, signed right":   forge(t, signingKeyA, strings.TrimSuffix(string(raw), "}")+`,"admin":true}`),
		"claims not JSON, signed right": forge(t, signingKeyA, "scheduler"),
		"too long":                      token + strings.Repeat("A", maxSchedulerTokenBytes),
		"prefix only":                   "bss1.",
	}
	for name, tok := range refused {
		if id, ok, err := s.AuthenticateToken(ctx, tok); ok || err != nil {
			t.Errorf("%s: AuthenticateToken = %+v, %v, %v; want refused", name, id, ok, err)
		}
		if !s.OwnsToken(tok) {
			t.Errorf("%s: not owned", name)
		}
	}
	if s.OwnsToken("eyJhbGciOiJSUzI1NiJ9.e30.sig") {
		t.Error("a JWT counts as a scheduler token")
	}

	// Valid until the second it expires.
	clock.Advance(24*time.Hour - time.Second)
	if _, ok, _ := s.AuthenticateToken(ctx, token); !ok {
		t.Error("refused a second before it expires")
	}
	clock.Advance(time.Second)
	if _, ok, _ := s.AuthenticateToken(ctx, token); ok {
		t.Error("accepted once expired")
	}
}

func TestSchedulerTokensNeedASigningKey(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{now: time.Unix(1_800_000_000, 0)}
	pub := newEd25519(t)
	s := newTokens(t, pub, nil, clock)
	if _, _, err := s.Issue(ctx, pemOf(t, pub, "PUBLIC KEY", nil)); apperr.CodeOf(err) != apperr.Unavailable {
		t.Errorf("Issue without a key = %v, want Unavailable", err)
	}
	if err := s.SetSigningKey(signingKeyA[:31]); err == nil {
		t.Error("a 31-byte signing key was accepted")
	}
	if err := s.SetSigningKey(signingKeyA); err != nil {
		t.Fatal(err)
	}
	token, _ := issue(t, s, pemOf(t, pub, "PUBLIC KEY", nil))
	if _, ok, _ := s.AuthenticateToken(ctx, token); !ok {
		t.Error("refused its own token")
	}
	if err := s.SetSigningKey(signingKeyB); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.AuthenticateToken(ctx, token); ok {
		t.Error("accepted a token of the replaced key")
	}
	if _, err := NewSchedulerTokens(SchedulerTokenOptions{PublicKey: pub, TTL: 0}); err == nil {
		t.Error("a zero lifetime was accepted")
	}
}

// recordingTokens records the tokens it is shown and accepts none.
type recordingTokens struct {
	mu   sync.Mutex
	seen []string
}

func (r *recordingTokens) AuthenticateToken(_ context.Context, token string) (Identity, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, token)
	return Identity{}, false, nil
}

func TestGuardKeepsSchedulerTokensToThemselves(t *testing.T) {
	clock := &testClock{now: time.Unix(1_800_000_000, 0)}
	pub := newEd25519(t)
	s := newTokens(t, pub, signingKeyA, clock)
	token, _ := issue(t, s, pemOf(t, pub, "PUBLIC KEY", nil))
	later := &recordingTokens{}
	g := NewGuard(GuardOptions{Tokens: []TokenAuthenticator{s, later}})
	check := func(tok string, rule Rule) (Identity, error) {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return g.Check(r, rule)
	}
	if id, err := check(token, Require(ReadResolved)); err != nil || id.Role != RoleScheduler {
		t.Errorf("scheduler token on a scheduler route = %+v, %v", id, err)
	}
	if _, err := check(token, Require(WriteStrategies)); apperr.CodeOf(err) != apperr.Forbidden {
		t.Errorf("scheduler token on a write = %v, want Forbidden", err)
	}
	clock.Advance(25 * time.Hour)
	if _, err := check(token, Require(ReadResolved)); apperr.CodeOf(err) != apperr.Unauthenticated {
		t.Errorf("expired scheduler token = %v, want Unauthenticated", err)
	}
	if len(later.seen) != 0 {
		t.Errorf("scheduler tokens reached the next authenticator: %q", later.seen)
	}
	if _, err := check("some-kubernetes-token", Require(ReadResolved)); apperr.CodeOf(err) != apperr.Unauthenticated || len(later.seen) != 1 {
		t.Errorf("another token = %v, seen by the next authenticator %d times; want Unauthenticated after 1", err, len(later.seen))
	}
}

func TestSchedulerKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := func(name, content string) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, content)
		return p
	}
	if key, err := ReadSigningKey(path("key", "  "+string(signingKeyA)+"\n")); err != nil || string(key) != string(signingKeyA) {
		t.Errorf("ReadSigningKey = %q, %v; want the file's bytes without white space", key, err)
	}
	for name, content := range map[string]string{
		"short":     strings.Repeat("k", 31) + "\n",
		"too large": strings.Repeat("k", maxSigningKeyBytes+1),
	} {
		if _, err := ReadSigningKey(path(name, content)); err == nil {
			t.Errorf("%s signing key accepted", name)
		}
	}
	if _, err := ReadSigningKey(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing signing key file was accepted")
	}

	pub := newEd25519(t)
	got, err := ReadSchedulerPublicKey(path("pub.pem", pemOf(t, pub, "PUBLIC KEY", nil)))
	if err != nil || !pub.(ed25519.PublicKey).Equal(got) {
		t.Errorf("ReadSchedulerPublicKey = %v, %v", got, err)
	}
	_, err = ReadSchedulerPublicKey(path("priv.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	if err == nil || !strings.Contains(err.Error(), "want PUBLIC KEY") {
		t.Errorf("a private key file: %v", err)
	}
}
