package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bss-api/bss-api/internal/store/migration"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the pg_advisory_xact_lock key that serialises
// migrations of bss-api instances starting together on one database.
const migrationLock = 0x6273735f6d6967 // "bss_mig"

func migrations() ([]migration.Migration, error) { return migration.Load(migrationFiles, "migrations") }

// LatestVersion is the schema version this binary creates.
func LatestVersion() int { return migration.Latest(migrationFiles, "migrations") }

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
func migrateStep(ctx context.Context, pool *pgxpool.Pool, ms []migration.Migration, target int) (done bool, err error) {
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
		return false, migration.Newer(current, len(ms))
	}
	if current >= target {
		return true, tx.Commit(ctx)
	}
	m := ms[current]
	// No arguments: pgx sends it with the simple protocol, so a file may
	// hold several statements.
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	return false, nil
}
