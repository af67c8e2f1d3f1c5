package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
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
	return StartPostgresCluster(t).DSN
}

// Postgres is a private cluster that a test can stop and start again.
type Postgres struct {
	DSN string
	t   testing.TB
	dir string
	env map[string]string
}

// Stop stops the server (fast shutdown), keeping its data.
func (p *Postgres) Stop() {
	p.t.Helper()
	cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(p.env["BSS_POSTGRES_BIN"], "pg_ctl"),
		"-D", p.env["BSS_POSTGRES_DATA"], "-s", "-w", "-m", "fast", "stop")
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("stop postgres: %v\n%s", err, out)
	}
}

// Start starts the stopped server again on the same port and data.
func (p *Postgres) Start() {
	p.t.Helper()
	cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(p.env["BSS_POSTGRES_BIN"], "pg_ctl"),
		"-D", p.env["BSS_POSTGRES_DATA"], "-l", filepath.Join(p.dir, "postgres.log"), "-s", "-w",
		"-o", "-c listen_addresses=127.0.0.1 -c port="+p.env["BSS_POSTGRES_PORT"]+" -c unix_socket_directories="+filepath.Join(p.dir, "sock"),
		"start")
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("start postgres: %v\n%s", err, out)
	}
}

// StartPostgresCluster is StartPostgres, returning the cluster.
func StartPostgresCluster(t testing.TB) *Postgres {
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
	p := &Postgres{t: t, dir: dir, env: readEnvFile(t, filepath.Join(dir, "env"))}
	p.DSN = p.env["BSS_POSTGRES_DSN"]
	if p.DSN == "" {
		t.Fatalf("start postgres: no BSS_POSTGRES_DSN in %s/env", dir)
	}
	return p
}
