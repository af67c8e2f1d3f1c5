package postgres

import (
	"context"
	"embed"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the pg_advisory_xact_lock key that serialises
// migrations of bss-api instances starting together on one database.
const migrationLock = 0x6273735f6d6967 // "bss_mig"

// migration is one schema step; its version is the number its file name
// starts with. The table schema_migrations records the applied versions.
type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its version number", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations are not numbered 1, 2, 3…: %s", m.name)
		}
	}
	return ms, nil
}

// LatestVersion is the schema version this binary creates.
func LatestVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// migrate applies the migrations after the database's version, each in its
// own transaction holding the migration advisory lock, up to target (0:
// all). A database from a newer bss-api is refused untouched.
func migrate(ctx context.Context, pool *pgxpool.Pool, target int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if target == 0 {
		target = len(ms)
	}
	for {
		done, err := migrateStep(ctx, pool, ms, target)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the next migration, if any is due, in one
// transaction; done reports that none was.
func migrateStep(ctx context.Context, pool *pgxpool.Pool, ms []migration, target int) (done bool, err error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return false, fmt.Errorf("take the migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER     NOT NULL PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return false, fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	if current > len(ms) {
		return false, fmt.Errorf("the database has schema version %d, newer than this bss-api knows (%d); refusing to open it (run a newer bss-api, or point it at another database)", current, len(ms))
	}
	if current >= target {
		return true, tx.Commit(ctx)
	}
	m := ms[current]
	// No arguments: pgx sends it with the simple protocol, so a file may
	// hold several statements.
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.version); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	return false, nil
}
