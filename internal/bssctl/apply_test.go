package bssctl_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/client"
)

const strategiesYAML = `# two strategies, as an operator writes them
- name: loki
  priority: 2
  execution_time: 20000000
  namespaces: [monitoring]
  command_regex: ^loki$
- name: weird
  priority: true
  execution_time: 5000000
  label_selector:
    matchLabels: {app: weird}
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func definitions(t *testing.T, srv *server) []client.Definition {
	t.Helper()
	d, err := srv.api.Definitions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d.Strategies
}

func names(defs []client.Definition) string {
	var n []string
	for _, d := range defs {
		n = append(n, d.Name)
	}
	return strings.Join(n, ",")
}

// TestApply: a dry run changes nothing and shows the diff and the preview;
// apply creates, then leaves unchanged, then replaces in place; a file
// with one bad strategy changes nothing.
func TestApply(t *testing.T) {
	srv := startServer(t, serverOpts{})
	if _, err := srv.api.PutDefinition(context.Background(), "pinned",
		client.Strategy{ExecutionTime: 1_000_000, PID: 718001, Nodes: []string{"test-node"}}); err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, "strategies.yaml", strategiesYAML)
	mask := func(s string) string { return strings.ReplaceAll(s, file, "strategies.yaml") }

	r := srv.run(t, nil, "apply", "-f", file, "--dry-run").ok(t, "apply --dry-run")
	golden(t, "apply-dry-run-create", mask(r.out))
	if got := names(definitions(t, srv)); got != "pinned" {
		t.Fatalf("after a dry run the definitions are %s, want only pinned", got)
	}

	r = srv.run(t, nil, "apply", "-f", file).ok(t, "apply")
	golden(t, "apply-create", r.out)
	if got := names(definitions(t, srv)); got != "pinned,loki,weird" {
		t.Errorf("after apply the definitions are %s, want pinned,loki,weird", got)
	}

	r = srv.run(t, nil, "apply", "-f", file).ok(t, "apply again")
	if want := "strategy/loki unchanged\nstrategy/weird unchanged\n"; r.out != want {
		t.Errorf("apply of the same file = %q, want %q", r.out, want)
	}

	// Standard input, JSON, the POST body's form; a changed slice and a
	// strategy that now targets the pinned process too.
	changed := `{"strategies": [{"name": "loki", "priority": 2, "execution_time": 10000000, "namespaces": ["monitoring"], "command_regex": "^loki$"}]}`
	env := map[string]string{"BSS_SERVER": srv.url}
	r = run(t, env, changed, "apply", "-f", "-", "--dry-run").ok(t, "apply -f - --dry-run")
	golden(t, "apply-dry-run-change", r.out)
	r = run(t, env, changed, "apply", "-f", "-").ok(t, "apply -f -")
	if r.out != "strategy/loki configured\n" {
		t.Errorf("apply of a change = %q", r.out)
	}
	defs := definitions(t, srv)
	if names(defs) != "pinned,loki,weird" || defs[1].ExecutionTime != 10_000_000 {
		t.Errorf("after the change: %s, loki slice %d; want loki replaced in place with 10ms", names(defs), defs[1].ExecutionTime)
	}

	t.Run("one bad strategy changes nothing", func(t *testing.T) {
		bad := writeFile(t, "bad.yaml", "name: new-one\nexecution_time: 20000000\ncommand_regex: x\n---\nname: weird\nexecution_time: 5\ncommand_regex: x\n")
		srv.run(t, nil, "apply", "-f", bad).fails(t, "apply of a bad strategy", 1,
			`strategy "weird": execution_time: must be from 1000 to 10000000000 nanoseconds`)
		if got := names(definitions(t, srv)); got != "pinned,loki,weird" {
			t.Errorf("after a refused apply the definitions are %s", got)
		}
	})

	t.Run("file errors are usage errors", func(t *testing.T) {
		for _, tc := range []struct{ name, content, want string }{
			{"unknown field", "name: x\nexecution_time: 1000000\ncommand_regex: x\nslice: 3\n", `unknown field "slice"`},
			{"duplicate field", "name: x\nname: y\nexecution_time: 1000000\n", `"name" already set`},
			{"no name", "- execution_time: 1000000\n  command_regex: x\n", "strategy 1 has no name"},
			{"same name twice", "- {name: a, execution_time: 1000000, pid: 1}\n- {name: a, execution_time: 1000000, pid: 2}\n", `strategy "a" is given twice`},
			{"empty", "# nothing\n", "no strategy in it"},
			{"not a strategy", "42\n", "want a strategy"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := writeFile(t, "s.yaml", tc.content)
				srv.run(t, nil, "apply", "-f", f).fails(t, "apply", 2, tc.want)
			})
		}
		srv.run(t, nil, "apply", "-f", filepath.Join(t.TempDir(), "missing.yaml")).fails(t, "missing file", 2, "no such file")
		srv.run(t, nil, "apply").fails(t, "apply without -f", 2, `"filename" not set`)
	})
}

func TestDelete(t *testing.T) {
	srv := startServer(t, serverOpts{})
	seedStrategies(t, srv)
	r := srv.run(t, nil, "delete", "weird", "nobody").ok(t, "delete")
	if r.out != "strategy/weird deleted\nstrategy/nobody deleted\n" {
		t.Errorf("delete = %q", r.out)
	}
	if got := names(definitions(t, srv)); got != "loki,pinned" {
		t.Errorf("after delete: %s, want loki,pinned", got)
	}
	r = srv.run(t, nil, "delete", "gone", "loki")
	r.fails(t, "delete of a missing name", 3, `no stored strategy named "gone"`)
	if r.out != "strategy/loki deleted\n" || names(definitions(t, srv)) != "pinned" {
		t.Errorf("delete of a missing and a stored name: stdout %q, left %s; want the stored one deleted", r.out, names(definitions(t, srv)))
	}
	srv.run(t, nil, "delete").fails(t, "delete without a name", 2, "requires at least 1 arg")
}
