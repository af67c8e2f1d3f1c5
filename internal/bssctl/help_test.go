package bssctl_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

// commands lists every command path, found from the root's help and each
// group's, so a new command cannot be left without help.
func commands(t *testing.T) [][]string {
	t.Helper()
	sub := regexp.MustCompile(`(?m)^  ([a-z][a-z-]*)\s{2,}\S`)
	var all [][]string
	var walk func(path []string)
	walk = func(path []string) {
		all = append(all, path)
		r := run(t, nil, "", append(append([]string{}, path...), "--help")...).ok(t, strings.Join(path, " ")+" --help")
		i := strings.Index(r.out, "Available Commands:")
		if i < 0 {
			return
		}
		block := r.out[i:]
		if j := strings.Index(block, "\n\n"); j >= 0 {
			block = block[:j]
		}
		for _, m := range sub.FindAllStringSubmatch(block, -1) {
			if m[1] != "help" {
				walk(append(append([]string{}, path...), m[1]))
			}
		}
	}
	walk(nil)
	return all
}

// TestEveryCommandHasHelpWithExamples: --help of every command exits 0 and
// shows examples that start with bssctl.
func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	all := commands(t)
	if len(all) < 20 {
		t.Fatalf("found %d commands, want every one (get, apply, …, completion): %v", len(all), all)
	}
	for _, path := range all {
		if len(path) > 0 && path[0] == "completion" {
			continue // cobra's own, with its own long help
		}
		r := run(t, nil, "", append(append([]string{}, path...), "--help")...)
		name := "bssctl " + strings.Join(path, " ")
		if r.code != 0 {
			t.Errorf("%s --help: exit %d", name, r.code)
			continue
		}
		i := strings.Index(r.out, "Examples:\n")
		if i < 0 || !strings.HasPrefix(strings.TrimSpace(r.out[i+len("Examples:\n"):]), "bssctl") {
			t.Errorf("%s --help has no examples:\n%s", name, r.out)
		}
	}
}

// TestCompletion: the shell scripts are generated, and names complete from
// the server.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := run(t, nil, "", "completion", shell).ok(t, "completion "+shell)
		if !strings.Contains(r.out, "bssctl") || len(r.out) < 500 {
			t.Errorf("completion %s: %d bytes", shell, len(r.out))
		}
	}
	srv := startServer(t, serverOpts{})
	seedStrategies(t, srv)
	if err := srv.api.DeleteDefinition(context.Background(), "nobody"); err != nil {
		t.Fatal(err)
	}
	// What the shell scripts run: cobra's __complete.
	r := srv.run(t, nil, "__complete", "delete", "loki", "").ok(t, "__complete delete")
	if got := completions(r.out); got != "weird pinned" {
		t.Errorf("delete completes %q, want the other stored names in order: weird pinned", got)
	}
	r = srv.run(t, nil, "__complete", "get", "").ok(t, "__complete get")
	if got := completions(r.out); got != "definitions metrics pods strategies" {
		t.Errorf("get completes %q", got)
	}
	r = srv.run(t, nil, "__complete", "get", "pods", "-o", "").ok(t, "__complete -o")
	if got := completions(r.out); got != "json yaml wide" {
		t.Errorf("get pods -o completes %q", got)
	}
}

// completions returns the candidates of a __complete answer (one per line,
// a tab before any description, then a :directive line).
func completions(out string) string {
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, ":") {
			break
		}
		name, _, _ := strings.Cut(l, "\t")
		names = append(names, name)
	}
	return strings.Join(names, " ")
}
