package bssctl_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorsAreOneLineWithTheirExitStatus: every failure is one line on
// stderr, and its exit status says what kind it was.
func TestErrorsAreOneLineWithTheirExitStatus(t *testing.T) {
	srv := startServer(t, serverOpts{tokens: true})
	seedStrategies(t, srv)
	tokenFile := writeFile(t, "viewer.token", viewerToken+"\n")

	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		r := run(t, map[string]string{"BSS_SERVER": "http://" + addr}, "", "get", "pods")
		want := "error: cannot connect to http://" + addr + ": connection refused (is bss-api running?)\n"
		if r.err != want || r.code != 5 {
			t.Errorf("got exit %d, stderr %q; want 5, %q", r.code, r.err, want)
		}
	})
	t.Run("no token", func(t *testing.T) {
		r := srv.run(t, nil, "get", "pods")
		want := "error: unauthorized (401): the server wants a token; set --token or BSS_TOKEN\n"
		if r.err != want || r.code != 4 {
			t.Errorf("got exit %d, stderr %q; want 4, %q", r.code, r.err, want)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		srv.run(t, map[string]string{"BSS_TOKEN": "not-a-token-of-this-server"}, "get", "pods").
			fails(t, "get pods", 4, "unauthorized (401): the server refused the token of BSS_TOKEN")
		srv.run(t, nil, "get", "pods", "--token", "not-a-token-of-this-server").
			fails(t, "get pods", 4, "unauthorized (401): the server refused the token of --token")
	})
	t.Run("a viewer may read but not write", func(t *testing.T) {
		env := map[string]string{"BSS_TOKEN_FILE": tokenFile}
		srv.run(t, env, "get", "definitions").ok(t, "viewer: get definitions")
		srv.run(t, env, "delete", "loki").fails(t, "viewer: delete", 4, "forbidden (403): alice (role viewer) may not")
	})
	t.Run("not found", func(t *testing.T) {
		srv.run(t, nil, "get", "metrics", "--token", operatorToken).
			fails(t, "get metrics", 3, "not found (404): no metrics received yet")
	})
	t.Run("usage", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"frobnicate"}, `unknown command "frobnicate"`},
			{[]string{"get"}, "get needs one of: strategies, definitions, pods, metrics"},
			{[]string{"get", "nodes"}, `get "nodes": want one of`},
			{[]string{"get", "pods", "--bogus"}, "unknown flag: --bogus"},
			{[]string{"get", "definitions", "-o", "wide"}, `-o "wide": want json or yaml`},
			{[]string{"get", "pods", "-o", "xml"}, `-o "xml": want wide, json or yaml`},
			{[]string{"explain"}, "accepts 1 arg(s), received 0"},
			{[]string{"--server", "ftp://x", "get", "pods"}, `server "ftp://x": want http://HOST:PORT`},
			{[]string{"--token", "a", "--token-file", "b", "get", "pods"}, "--token and --token-file together"},
			{[]string{"--cert-file", "c.pem", "get", "pods"}, "needs both --cert-file and --key-file"},
			{[]string{"--ca-file", filepath.Join(t.TempDir(), "none.pem"), "get", "pods"}, "CA file: open"},
			{[]string{"top", "--interval", "1ms"}, "--interval 1ms: want at least 100ms"},
		} {
			srv.run(t, nil, tc.args...).fails(t, strings.Join(tc.args, " "), 2, tc.want)
		}
	})
	t.Run("token file", func(t *testing.T) {
		r := srv.run(t, nil, "--token-file", tokenFile, "get", "strategies").ok(t, "get strategies with a token file")
		if !strings.Contains(r.out, "weird") {
			t.Errorf("get strategies with a viewer token file:\n%s", r.out)
		}
		empty := writeFile(t, "empty.token", "\n")
		srv.run(t, nil, "--token-file", empty, "get", "strategies").fails(t, "empty token file", 1, "is empty")
	})
}

// TestVersion: --version prints the build's version.
func TestVersion(t *testing.T) {
	r := run(t, nil, "", "--version").ok(t, "--version")
	if !strings.HasPrefix(r.out, "bssctl ") {
		t.Errorf("--version = %q", r.out)
	}
}

// TestConfigContexts: contexts are made, chosen and shown with config, and
// flags win over the environment, which wins over the context.
func TestConfigContexts(t *testing.T) {
	srv := startServer(t, serverOpts{tokens: true})
	seedStrategies(t, srv)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bssctl", "config")
	env := map[string]string{"BSSCTL_CONFIG": cfg}

	run(t, env, "", "config", "set-context", "node-1", "--server", srv.url, "--token", operatorToken, "--use").ok(t, "set-context")
	run(t, env, "", "config", "set-context", "elsewhere", "--server", "http://127.0.0.1:1").ok(t, "set-context elsewhere")
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v, %v; want it written 0600", fi, err)
	}
	r := run(t, env, "", "config", "get-contexts").ok(t, "get-contexts")
	if !strings.Contains(r.out, "*        node-1     "+srv.url) {
		t.Errorf("get-contexts does not mark node-1 current:\n%s", r.out)
	}
	r = run(t, env, "", "config", "view").ok(t, "view")
	if strings.Contains(r.out, operatorToken) || !strings.Contains(r.out, "token: REDACTED") {
		t.Errorf("config view shows the token or does not say it is hidden:\n%s", r.out)
	}
	if r = run(t, env, "", "config", "view", "--raw").ok(t, "view --raw"); !strings.Contains(r.out, operatorToken) {
		t.Errorf("config view --raw hides the token:\n%s", r.out)
	}

	// The current context's server and token.
	r = run(t, env, "", "get", "strategies").ok(t, "get strategies through the context")
	if !strings.Contains(r.out, "weird") {
		t.Errorf("through the context:\n%s", r.out)
	}
	// The environment's token wins over the context's.
	env2 := map[string]string{"BSSCTL_CONFIG": cfg, "BSS_TOKEN": "not-a-token-of-this-server"}
	run(t, env2, "", "get", "strategies").fails(t, "BSS_TOKEN over the context", 4, "refused the token of BSS_TOKEN")
	// And a flag's wins over the environment's.
	run(t, env2, "", "--token", operatorToken, "get", "strategies").ok(t, "--token over BSS_TOKEN")
	// BSS_SERVER wins over the context; --server over BSS_SERVER.
	env3 := map[string]string{"BSSCTL_CONFIG": cfg, "BSS_SERVER": "http://127.0.0.1:1"}
	run(t, env3, "", "get", "strategies").fails(t, "BSS_SERVER over the context", 5, "cannot connect to http://127.0.0.1:1")
	run(t, env3, "", "--server", srv.url, "get", "strategies").ok(t, "--server over BSS_SERVER")
	// --context and BSS_CONTEXT pick another context.
	run(t, env, "", "--context", "elsewhere", "get", "strategies").fails(t, "--context", 5, "cannot connect to http://127.0.0.1:1")
	run(t, map[string]string{"BSSCTL_CONFIG": cfg, "BSS_CONTEXT": "elsewhere"}, "", "get", "strategies").
		fails(t, "BSS_CONTEXT", 5, "cannot connect to http://127.0.0.1:1")
	run(t, env, "", "--context", "nowhere", "get", "strategies").fails(t, "unknown context", 2, `context "nowhere" is not in the config file`)

	run(t, env, "", "config", "use-context", "elsewhere").ok(t, "use-context")
	if r := run(t, env, "", "config", "current-context").ok(t, "current-context"); r.out != "elsewhere\n" {
		t.Errorf("current-context = %q", r.out)
	}
	run(t, env, "", "config", "use-context", "nowhere").fails(t, "use-context nowhere", 2, `no context "nowhere"`)
	run(t, env, "", "config", "delete-context", "elsewhere").ok(t, "delete-context")
	run(t, env, "", "config", "current-context").fails(t, "current-context after deleting it", 3, "no current context")

	// A token file named relative to the config file, from $HOME's default
	// location.
	home := t.TempDir()
	defaultCfg := filepath.Join(home, ".config", "bssctl", "config")
	if err := os.MkdirAll(filepath.Dir(defaultCfg), 0o700); err != nil {
		t.Fatal(err)
	}
	writeTo(t, filepath.Join(filepath.Dir(defaultCfg), "op.token"), operatorToken)
	writeTo(t, defaultCfg, "current-context: home\ncontexts:\n- name: home\n  server: "+srv.url+"\n  tokenFile: op.token\n")
	run(t, map[string]string{"HOME": home}, "", "delete", "nobody").ok(t, "delete with the default config file's token file")

	fixed := filepath.Join(t.TempDir(), "config")
	writeTo(t, fixed, `current-context: node-2
contexts:
- name: node-1
  server: http://node-1:8080
  token: secret-token-of-node-1
- name: node-2
  server: https://node-2:8443
  tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
  caFile: /etc/bss/ca.crt
- name: mtls
  server: https://node-3:8443
  certFile: /etc/bss/client.crt
  keyFile: /etc/bss/client.key
`)
	r = run(t, map[string]string{"BSSCTL_CONFIG": fixed}, "", "config", "get-contexts").ok(t, "get-contexts")
	golden(t, "config-get-contexts", r.out)
	r = run(t, map[string]string{"BSSCTL_CONFIG": fixed}, "", "config", "view").ok(t, "view")
	golden(t, "config-view", strings.ReplaceAll(r.out, fixed, "CONFIG"))

	bad := filepath.Join(t.TempDir(), "config")
	writeTo(t, bad, "contexts:\n- name: x\n  sever: typo\n")
	run(t, map[string]string{"BSSCTL_CONFIG": bad}, "", "get", "pods").fails(t, "config with a typo", 2, `unknown field "sever"`)
}

func writeTo(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
