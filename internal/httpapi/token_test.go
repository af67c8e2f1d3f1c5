package httpapi

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/testsupport/contract"
)

// schedulerKey is a scheduler's key pair, its public half as PEM.
type schedulerKey struct {
	public crypto.PublicKey
	pem    string
}

func newSchedulerKey(t *testing.T) schedulerKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return schedulerKey{public: pub, pem: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
}

// tokenEnv is guardedEnv (static tokens for every role) with scheduler
// tokens for key, signed with signingKey, on the env's clock.
func tokenEnv(t *testing.T, key schedulerKey, signingKey string, limits TokenLimits) *testEnv {
	t.Helper()
	tf := testTokenFile(t)
	return newTestEnv(t, newValidator(t), func(cfg *Config) {
		tokens, err := auth.NewSchedulerTokens(auth.SchedulerTokenOptions{PublicKey: key.public, SigningKey: []byte(signingKey),
			TTL: 24 * time.Hour, Now: cfg.Now})
		if err != nil {
			t.Fatal(err)
		}
		cfg.SchedulerTokens = tokens
		cfg.TokenLimits = limits
		cfg.Guard = auth.NewGuard(auth.GuardOptions{Tokens: []auth.TokenAuthenticator{tokens, tf}})
	})
}

const (
	signingKey1 = "signing-key-one-0123456789abcdef"
	signingKey2 = "signing-key-two-0123456789abcdef"
)

// tokenBody is the request a scheduler sends.
func tokenBody(pemText string) string {
	b, _ := json.Marshal(map[string]string{"public_key": pemText})
	return string(b)
}

// issued is what a token answer holds, in both shapes.
type issued struct {
	Success bool   `json:"success"`
	Token   string `json:"token"`
	Data    struct {
		Token     string `json:"token"`
		ExpiredAt int64  `json:"expired_at"`
	} `json:"data"`
}

func getToken(t *testing.T, env *testEnv, pemText string) issued {
	t.Helper()
	res := env.client.Post(t, "/api/v1/auth/token", "application/json", []byte(tokenBody(pemText)))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v1/auth/token = %d %s", res.StatusCode, res.Body)
	}
	var got issued
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestTokenEndpointNotEnabled(t *testing.T) {
	env := guardedEnv(t)
	run(t, env, []exchange{
		{name: "not enabled", method: http.MethodPost, path: "/api/v1/auth/token", contentType: "application/json",
			body: tokenBody(newSchedulerKey(t).pem), wantStatus: http.StatusNotFound,
			check: errorContains("the token endpoint is not enabled on this server")},
	})
}

func TestTokenEndpoint(t *testing.T) {
	key := newSchedulerKey(t)
	env := tokenEnv(t, key, signingKey1, TokenLimits{PerSecond: 1, Burst: 1000})
	const appJSON = "application/json"
	post := func(name, contentType, body string, want int, check func(*testing.T, *contract.Response)) exchange {
		return exchange{name: name, method: http.MethodPost, path: "/api/v1/auth/token", contentType: contentType,
			body: body, wantStatus: want, check: check}
	}
	refused := errorContains("invalid credentials: the public key is not accepted")
	run(t, env, []exchange{
		post("the accepted key", appJSON, tokenBody(key.pem), http.StatusOK, func(t *testing.T, res *contract.Response) {
			var got issued
			if err := json.Unmarshal(res.Body, &got); err != nil {
				t.Fatal(err)
			}
			if !got.Success || got.Token == "" || got.Data.Token != got.Token || got.Data.ExpiredAt != start.Add(24*time.Hour).Unix() {
				t.Errorf("answer %s: want the same token at the top and in data, expiring 24h after %s", res.Body, start)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
		}),
		post("the key with a charset", "application/json; charset=utf-8", tokenBody(key.pem), http.StatusOK, nil),
		post("another key", appJSON, tokenBody(newSchedulerKey(t).pem), http.StatusUnauthorized, refused),
		post("not PEM", appJSON, tokenBody("ssh-ed25519 AAAA"), http.StatusUnauthorized, refused),
		post("the key's base64 without PEM", appJSON, tokenBody(strings.Split(key.pem, "\n")[1]), http.StatusUnauthorized, refused),
		post("unknown field", appJSON, `{"public_key":"x","role":"operator"}`, http.StatusBadRequest, errorContains(`unknown field "role"`)),
		post("public_key twice", appJSON, `{"public_key":"x",`+tokenBody(key.pem)[1:], http.StatusBadRequest,
			errorContains("public_key: the key is given more than once")),
		post("public_key in another case", appJSON, strings.Replace(tokenBody(key.pem), "public_key", "Public_Key", 1), http.StatusBadRequest,
			errorContains(`Public_Key: unknown field; field names are case-sensitive: did you mean "public_key"?`)),
		post("no public_key", appJSON, `{}`, http.StatusBadRequest, errorContains("public_key: required")),
		post("empty public_key", appJSON, `{"public_key":"  "}`, http.StatusBadRequest, errorContains("public_key: required")),
		post("public_key not a string", appJSON, `{"public_key":42}`, http.StatusBadRequest, errorContains("public_key: must be a string")),
		post("an array", appJSON, `[]`, http.StatusBadRequest, errorContains("must be a JSON object")),
		post("null", appJSON, `null`, http.StatusBadRequest, errorContains("public_key: required")),
		post("two objects", appJSON, tokenBody(key.pem)+`{}`, http.StatusBadRequest, errorContains("unexpected data")),
		post("bad JSON", appJSON, `{"public_key":`, http.StatusBadRequest, errorContains("Invalid JSON format")),
		post("empty body", appJSON, ``, http.StatusBadRequest, errorContains("request body is empty")),
		post("no Content-Type", "", tokenBody(key.pem), http.StatusUnsupportedMediaType, errorContains("Content-Type is missing")),
		post("text/plain", "text/plain", tokenBody(key.pem), http.StatusUnsupportedMediaType, nil),
		post("form", "application/x-www-form-urlencoded", "public_key=x", http.StatusUnsupportedMediaType, nil),
		post("over 16 KiB", appJSON, tokenBody(strings.Repeat("A", 16<<10)), http.StatusRequestEntityTooLarge, nil),
	})
}

// TestSchedulerTokenGrantsTheSchedulerRoleOnly: a scheduler token reads
// and posts what a scheduler needs and nothing else; refused requests
// change nothing; a token that was tampered with, signed with another key
// or expired is a 401.
func TestSchedulerTokenGrantsTheSchedulerRoleOnly(t *testing.T) {
	key := newSchedulerKey(t)
	env := tokenEnv(t, key, signingKey1, TokenLimits{PerSecond: 1, Burst: 10})
	token := getToken(t, env, key.pem).Data.Token
	other := tokenEnv(t, key, signingKey2, TokenLimits{PerSecond: 1, Burst: 10})
	fromOtherKey := getToken(t, other, key.pem).Token
	tampered := token[:len(token)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(token, "AA")]

	const write = `{"strategies":[{"name":"a","execution_time":1000,"command_regex":"x"}]}`
	cases := []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"posts metrics", "POST", "/api/v1/metrics", token, `{"nr_queued":1}`, 200},
		{"reads resolved strategies", "GET", "/api/v1/scheduling/strategies", token, "", 200},
		{"reads pods", "GET", "/api/v1/pods/pids", token, "", 200},
		{"reads the latest sample", "GET", "/api/v1/metrics", token, "", 200},
		{"may not write strategies", "POST", "/api/v1/scheduling/strategies", token, write, 403},
		{"may not put a definition", "PUT", "/api/v1/scheduling/strategies/definitions/a", token, `{"execution_time":1000,"command_regex":"x"}`, 403},
		{"may not delete a definition", "DELETE", "/api/v1/scheduling/strategies/definitions/a", token, "", 403},
		{"may not preview", "POST", "/api/v1/scheduling/strategies/preview", token, write, 403},
		{"may not read definitions", "GET", "/api/v1/scheduling/strategies/definitions", token, "", 403},
		{"may not explain", "GET", "/api/v1/scheduling/strategies/explain", token, "", 403},
		{"may not read history", "GET", "/api/v1/metrics/history", token, "", 403},
		{"may not scrape", "GET", "/metrics", token, "", 403},
		{"tampered", "GET", "/api/v1/scheduling/strategies", tampered, "", 401},
		{"signed with another key", "GET", "/api/v1/scheduling/strategies", fromOtherKey, "", 401},
		{"tampered write", "POST", "/api/v1/scheduling/strategies", tampered, write, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := definitions(t, env)
			res := doWithToken(t, env, c.method, c.path, c.token, c.body)
			if res.StatusCode != c.want {
				t.Fatalf("%s %s = %d %s, want %d", c.method, c.path, res.StatusCode, res.Body, c.want)
			}
			if after := definitions(t, env); after != before {
				t.Errorf("definitions went from %s to %s", before, after)
			}
		})
	}

	env.clock.Advance(24*time.Hour - time.Second)
	if res := doWithToken(t, env, "GET", "/api/v1/scheduling/strategies", token, ""); res.StatusCode != http.StatusOK {
		t.Errorf("a second before it expires: %d %s", res.StatusCode, res.Body)
	}
	env.clock.Advance(time.Second)
	res := doWithToken(t, env, "GET", "/api/v1/scheduling/strategies", token, "")
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("expired: %d %s, want 401 with WWW-Authenticate", res.StatusCode, res.Body)
	}
}

func doWithToken(t *testing.T, env *testEnv, method, path, token, body string) *contract.Response {
	t.Helper()
	var b []byte
	ct := ""
	if body != "" {
		b, ct = []byte(body), "application/json"
	}
	req := env.client.NewRequest(t, method, path, ct, b)
	req.Header.Set("Authorization", "Bearer "+token)
	return env.client.Do(t, req)
}

// TestTokenEndpointRateLimit: every request counts, granted or refused;
// past the burst the answer is 429 with Retry-After, until the bucket
// refills.
func TestTokenEndpointRateLimit(t *testing.T) {
	key := newSchedulerKey(t)
	env := tokenEnv(t, key, signingKey1, TokenLimits{PerSecond: 0.5, Burst: 3})
	post := func(name, pemText string, want int, advance time.Duration) exchange {
		return exchange{name: name, method: http.MethodPost, path: "/api/v1/auth/token", contentType: "application/json",
			body: tokenBody(pemText), wantStatus: want, advance: advance}
	}
	wrong := newSchedulerKey(t).pem
	run(t, env, []exchange{
		post("wrong key 1", wrong, http.StatusUnauthorized, 0),
		post("wrong key 2", wrong, http.StatusUnauthorized, 0),
		post("right key", key.pem, http.StatusOK, 0),
		{name: "flood", method: http.MethodPost, path: "/api/v1/auth/token", contentType: "application/json",
			body: tokenBody(key.pem), wantStatus: http.StatusTooManyRequests,
			check: func(t *testing.T, res *contract.Response) {
				if got := res.Header.Get("Retry-After"); got != "2" {
					t.Errorf("Retry-After %q, want 2 (one request every 2 s)", got)
				}
				errorContains("too many token requests")(t, res)
			}},
		post("still limited after 1s", key.pem, http.StatusTooManyRequests, time.Second),
		post("allowed after 2s", key.pem, http.StatusOK, time.Second),
		post("limited again", key.pem, http.StatusTooManyRequests, 0),
	})
}
