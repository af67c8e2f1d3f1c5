package testenv

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// StartPostgres starts a private PostgreSQL cluster with
// hack/postgres/start.sh for one test, stops it when the test ends, and
// returns the DSN of its fresh database `bss` (role bss may create more
// databases). It needs Debian's postgresql package (initdb and pg_ctl under
// /usr/lib/postgresql/*/bin); without it the test skips (strict: fails).
// Each call starts its own cluster, about 3 s.
func StartPostgres(t testing.TB) string {
	t.Helper()
	initdb, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	pgctl, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	Require(t, len(initdb) > 0 && len(pgctl) > 0,
		"no PostgreSQL server (initdb, pg_ctl under /usr/lib/postgresql/*/bin): install Debian's postgresql package")
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	scripts := filepath.Join(root, "hack", "postgres")
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		// The server runs as the postgres user, which must reach dir:
		// t.TempDir and its parent are private to root.
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() {
		if out, err := exec.Command(filepath.Join(scripts, "stop.sh"), dir).CombinedOutput(); err != nil {
			t.Errorf("stop postgres: %v\n%s", err, out)
		}
	})
	if out, err := exec.Command(filepath.Join(scripts, "start.sh"), dir).CombinedOutput(); err != nil {
		t.Fatalf("start postgres: %v\n%s", err, out)
	}
	f, err := os.Open(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok && k == "BSS_POSTGRES_DSN" {
			return strings.Trim(v, `'"`)
		}
	}
	t.Fatalf("start postgres: no BSS_POSTGRES_DSN in %s/env", dir)
	return ""
}
