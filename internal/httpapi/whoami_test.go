package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/internal/auth"
	"github.com/bss-api/bss-api/internal/web"
)

type whoami struct {
	CredentialsRequired bool `json:"credentials_required"`
	Authenticated       bool
	Identity, Role      string
	Credential, Node    string
	Allowed             []string
}

func getWho(t *testing.T, env *testEnv, token string) whoami {
	t.Helper()
	req := env.client.NewRequest(t, http.MethodGet, "/api/v1/auth/whoami", "", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res := env.client.Do(t, req) // checked against openapi.yaml
	if res.StatusCode != http.StatusOK {
		t.Fatalf("whoami = %d %s", res.StatusCode, res.Body)
	}
	var w whoami
	if err := json.Unmarshal(res.Body, &w); err != nil {
		t.Fatal(err)
	}
	return w
}

// routesFor lists, from the route table and the role table, the routes
// role may call: the public ones and those whose permission it has. An
// empty role stands for a caller without a credential.
func routesFor(cfg Config, role auth.Role) []string {
	var out []string
	for _, rt := range testRoutes(cfg) {
		if rt.rule.IsPublic() || (role != "" && auth.Allows(role, rt.rule.Permission())) {
			ep := rt.endpoint()
			out = append(out, ep.Method+" "+ep.Path)
		}
	}
	return out
}

func TestWhoamiWithCredentials(t *testing.T) {
	env := guardedEnv(t)
	for _, c := range []struct {
		token, name string
		role        auth.Role
	}{
		{operatorToken, "bob", auth.RoleOperator},
		{viewerToken, "alice", auth.RoleViewer},
		{schedulerToken, "sched", auth.RoleScheduler},
	} {
		t.Run(string(c.role), func(t *testing.T) {
			got := getWho(t, env, c.token)
			if !got.CredentialsRequired || !got.Authenticated || got.Identity != c.name || got.Role != string(c.role) || got.Credential != "token" {
				t.Errorf("whoami = %+v, want %s authenticated as %s by token", got, c.name, c.role)
			}
			if want := routesFor(env.cfg, c.role); !slices.Equal(got.Allowed, want) {
				t.Errorf("allowed = %v\nwant %v", got.Allowed, want)
			}
		})
	}
	// Who may edit strategies, as the dashboard asks it.
	const put = "PUT /api/v1/scheduling/strategies/definitions/{name}"
	if !slices.Contains(getWho(t, env, operatorToken).Allowed, put) {
		t.Errorf("the operator may not %s", put)
	}
	if slices.Contains(getWho(t, env, viewerToken).Allowed, put) {
		t.Errorf("the viewer may %s", put)
	}

	for name, token := range map[string]string{"no credential": "", "unknown token": "no-such-token-0123456789"} {
		t.Run(name, func(t *testing.T) {
			got := getWho(t, env, token)
			if !got.CredentialsRequired || got.Authenticated || got.Role != "" || got.Credential != "none" {
				t.Errorf("whoami = %+v, want unauthenticated without a role", got)
			}
			want := routesFor(env.cfg, "")
			if !slices.Equal(got.Allowed, want) {
				t.Errorf("allowed = %v, want only the public routes %v", got.Allowed, want)
			}
			if slices.ContainsFunc(got.Allowed, func(s string) bool { return strings.Contains(s, "/scheduling/") }) {
				t.Errorf("an unauthenticated caller is told it may reach strategies: %v", got.Allowed)
			}
		})
	}
}

func TestWhoamiWithoutCredentialMethods(t *testing.T) {
	env := newTestEnv(t, newValidator(t), nil)
	got := getWho(t, env, "")
	if got.CredentialsRequired || got.Authenticated || got.Identity != "anonymous" || got.Role != "operator" {
		t.Errorf("whoami = %+v, want the anonymous operator of an open server", got)
	}
	var all []string
	for _, rt := range testRoutes(env.cfg) {
		ep := rt.endpoint()
		all = append(all, ep.Method+" "+ep.Path)
	}
	if !slices.Equal(got.Allowed, all) {
		t.Errorf("allowed = %v, want every route %v", got.Allowed, all)
	}
}

// The dashboard is served through the same middleware as the API: public,
// with its security headers, and /ui redirects to /ui/.
func TestDashboardRoute(t *testing.T) {
	env := guardedEnv(t)
	res := env.client.Get(t, "/ui/") // no credential: the page is public
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /ui/ = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if got := res.Header.Get("Content-Security-Policy"); got != web.CSP {
		t.Errorf("CSP = %q", got)
	}
	// The files beneath /ui/ are not operations of the document: plain
	// requests.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(env.client.NewRequest(t, http.MethodGet, "/ui/app.js", "", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("GET /ui/app.js = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, err = noFollow.Do(env.client.NewRequest(t, http.MethodGet, "/ui", "", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui = %d Location %q, want a redirect to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
}
