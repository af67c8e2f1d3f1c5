package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
)

// Scheduler tokens are what POST /api/v1/auth/token issues to a scheduler
// that presents the configured public key (the protocol of the Gthulhu
// schedulers, /api/v1/auth/token). Knowing that public key is the whole
// credential, so a token carries the scheduler role and nothing else.
//
// A token is "bss1." + base64url(claims JSON) + "." + base64url(MAC), the
// MAC being HMAC-SHA256 over everything before the second dot. The prefix
// tells them apart from every other bearer token without any work, so they
// are never sent to TokenReview. Nothing is stored per token: a token is
// valid while its MAC checks out with the signing key, its subject is the
// configured public key and it has not expired. So tokens survive a
// restart as long as the signing key does (kept in the store, or read from
// a file shared by a fleet), and replacing the public key or the signing
// key invalidates every token issued before.
const schedulerTokenPrefix = "bss1."

// MinSigningKeyBytes is the shortest signing key accepted: HMAC-SHA256
// wants at least its output size.
const MinSigningKeyBytes = 32

// maxSigningKeyBytes bounds a signing key file.
const maxSigningKeyBytes = 4096

// maxSchedulerTokenBytes bounds what is decoded: a real token is about
// 200 bytes.
const maxSchedulerTokenBytes = 512

// schedulerClaims is what a token says. Field names are short: the token
// travels with every request.
type schedulerClaims struct {
	Role     Role   `json:"role"`
	Subject  string `json:"sub"` // fingerprint of the public key presented
	KeyID    string `json:"kid"` // id of the signing key
	IssuedAt int64  `json:"iat"` // Unix seconds
	Expires  int64  `json:"exp"` // Unix seconds; valid before this second
}

// SchedulerTokenOptions configure SchedulerTokens.
type SchedulerTokenOptions struct {
	// PublicKey is the key a scheduler must present (the parsed
	// --scheduler-public-key-file). Required.
	PublicKey crypto.PublicKey
	// SigningKey signs and checks tokens, at least MinSigningKeyBytes
	// long. Optional here: SetSigningKey can give it later.
	SigningKey []byte
	// TTL is how long an issued token is valid. Required.
	TTL    time.Duration
	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default: discard
}

// SchedulerTokens issues scheduler tokens and authenticates them; it is a
// TokenAuthenticator and a TokenOwner. Until it has a signing key it
// issues none and accepts none. Safe for concurrent use.
type SchedulerTokens struct {
	public      equaler
	fingerprint string
	ttl         time.Duration
	now         func() time.Time
	log         *slog.Logger
	signer      atomic.Pointer[signer]
}

// equaler is what every crypto.PublicKey of the standard library is.
type equaler interface {
	Equal(crypto.PublicKey) bool
}

// signer is a signing key and its id.
type signer struct {
	key []byte
	id  string
}

// NewSchedulerTokens returns SchedulerTokens for opts.
func NewSchedulerTokens(opts SchedulerTokenOptions) (*SchedulerTokens, error) {
	pub, ok := opts.PublicKey.(equaler)
	if !ok {
		return nil, fmt.Errorf("scheduler tokens: unsupported public key type %T", opts.PublicKey)
	}
	der, err := x509.MarshalPKIXPublicKey(opts.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("scheduler tokens: %w", err)
	}
	if opts.TTL <= 0 {
		return nil, fmt.Errorf("scheduler tokens: the lifetime must be positive, got %s", opts.TTL)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	sum := sha256.Sum256(der)
	s := &SchedulerTokens{public: pub, fingerprint: hex.EncodeToString(sum[:8]), ttl: opts.TTL, now: opts.Now, log: opts.Logger}
	if opts.SigningKey != nil {
		if err := s.SetSigningKey(opts.SigningKey); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// SetSigningKey makes key the signing key: tokens signed with another key
// are no longer accepted. key is copied.
func (s *SchedulerTokens) SetSigningKey(key []byte) error {
	if len(key) < MinSigningKeyBytes {
		return fmt.Errorf("scheduler token signing key: %d bytes; at least %d are needed", len(key), MinSigningKeyBytes)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("bss-api scheduler token key id"))
	s.signer.Store(&signer{key: bytes.Clone(key), id: hex.EncodeToString(mac.Sum(nil)[:8])})
	return nil
}

// Fingerprint identifies the public key: the first 8 bytes of the SHA-256
// of its PKIX form, in hex. Identities are named scheduler:<fingerprint>.
func (s *SchedulerTokens) Fingerprint() string { return s.fingerprint }

// errKeyRefused is the one answer for every public key but the configured
// one: it does not say how close a key came.
var errKeyRefused = apperr.Errorf(apperr.Unauthenticated, "invalid credentials: the public key is not accepted")

// Issue returns a token for the scheduler that presents publicKeyPEM, a
// PEM "PUBLIC KEY" block (PKIX), and when it expires. Any other key, or
// anything that is not such a PEM block, is refused with Unauthenticated.
func (s *SchedulerTokens) Issue(_ context.Context, publicKeyPEM string) (token string, expires time.Time, err error) {
	presented, err := ParsePublicKeyPEM([]byte(publicKeyPEM))
	if err != nil {
		return "", time.Time{}, errKeyRefused
	}
	if !s.public.Equal(presented) {
		return "", time.Time{}, errKeyRefused
	}
	sg := s.signer.Load()
	if sg == nil {
		return "", time.Time{}, apperr.Errorf(apperr.Unavailable, "scheduler tokens cannot be issued yet: the signing key is not loaded")
	}
	now := s.now()
	expires = now.Add(s.ttl).Truncate(time.Second)
	claims, err := json.Marshal(schedulerClaims{Role: RoleScheduler, Subject: s.fingerprint, KeyID: sg.id,
		IssuedAt: now.Unix(), Expires: expires.Unix()})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("scheduler token: %w", err)
	}
	signed := schedulerTokenPrefix + base64.RawURLEncoding.EncodeToString(claims)
	return signed + "." + base64.RawURLEncoding.EncodeToString(sg.mac(signed)), expires, nil
}

func (sg *signer) mac(signed string) []byte {
	m := hmac.New(sha256.New, sg.key)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// OwnsToken implements TokenOwner: every token with the scheduler token
// prefix is decided here alone.
func (s *SchedulerTokens) OwnsToken(token string) bool {
	return strings.HasPrefix(token, schedulerTokenPrefix)
}

// AuthenticateToken implements TokenAuthenticator. It never fails to
// decide: the check needs nothing but the signing key.
func (s *SchedulerTokens) AuthenticateToken(ctx context.Context, token string) (Identity, bool, error) {
	if !s.OwnsToken(token) {
		return Identity{}, false, nil
	}
	c, err := s.verify(token)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelDebug, "scheduler token refused", slog.String("reason", err.Error()))
		return Identity{}, false, nil
	}
	return Identity{Name: "scheduler:" + c.Subject, Method: MethodScheduler, Role: RoleScheduler}, true, nil
}

// verify returns the claims of a valid token, or why it is not valid.
func (s *SchedulerTokens) verify(token string) (schedulerClaims, error) {
	var c schedulerClaims
	sg := s.signer.Load()
	if sg == nil {
		return c, errors.New("no signing key loaded")
	}
	if len(token) > maxSchedulerTokenBytes {
		return c, fmt.Errorf("%d bytes, more than a token can be", len(token))
	}
	i := strings.LastIndexByte(token, '.')
	signed, sig := token[:i], token[i+1:]
	// Strict: a token has one spelling (no stray bits in the last
	// character).
	b64 := base64.RawURLEncoding.Strict()
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, sg.mac(signed)) {
		return c, errors.New("the signature does not match (tampered, or signed with another key)")
	}
	// The claims are the server's own from here on; a failure to read them
	// means a token of another format version.
	raw, err := b64.DecodeString(strings.TrimPrefix(signed, schedulerTokenPrefix))
	if err != nil {
		return c, fmt.Errorf("claims: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("claims: %w", err)
	}
	switch now := s.now().Unix(); {
	case c.Role != RoleScheduler:
		return c, fmt.Errorf("role %q, not scheduler", c.Role)
	case c.KeyID != sg.id:
		return c, fmt.Errorf("signing key %s, not the current %s", c.KeyID, sg.id)
	case c.Subject != s.fingerprint:
		return c, fmt.Errorf("issued to public key %s, not the configured %s", c.Subject, s.fingerprint)
	case now >= c.Expires:
		return c, fmt.Errorf("expired at %s", time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	}
	return c, nil
}

// ParsePublicKeyPEM parses one PEM "PUBLIC KEY" block (PKIX, as
// `openssl pkey -pubout` writes it); nothing but white space may surround
// it.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	data = bytes.TrimSpace(data)
	block, rest := pem.Decode(data)
	switch {
	case block == nil || !bytes.HasPrefix(data, []byte("-----BEGIN ")):
		return nil, errors.New("no PEM block found")
	case block.Type != "PUBLIC KEY":
		return nil, fmt.Errorf("a PEM %q block, want PUBLIC KEY (make one with: openssl pkey -in KEY -pubout)", block.Type)
	case len(bytes.TrimSpace(rest)) > 0:
		return nil, errors.New("more than one PEM block")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PUBLIC KEY block: %w", err)
	}
	return key, nil
}

// NewSigningKey returns a new random signing key of MinSigningKeyBytes.
func NewSigningKey() ([]byte, error) {
	key := make([]byte, MinSigningKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("make a signing key: %w", err)
	}
	return key, nil
}
