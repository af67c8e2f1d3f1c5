package sqlstore

import (
	"context"
	"embed"
	"fmt"

	"github.com/bss-api/bss-api/internal/store/migration"
)

// migrationFiles holds each dialect's migrations: migrations/sqlite and
// migrations/postgres. Their README says how to add one.
//
//go:embed migrations
var migrationFiles embed.FS

// migrations returns the dialect's migrations, in order.
func migrations(d dialect) ([]migration.Migration, error) {
	return migration.Load(migrationFiles, d.migrationDir())
}

// migrate applies the migrations after the database's version, each in
// its own transaction, up to target (0: all), and sets s.schema to the
// version reached. It returns the latest version there is. A database
// from a newer bss-api is refused untouched.
func (s *Store) migrate(ctx context.Context, target int) (latest int, err error) {
	ms, err := migrations(s.d)
	if err != nil {
		return 0, err
	}
	if target == 0 {
		target = len(ms)
	}
	for {
		done, err := s.migrateStep(ctx, ms, target)
		if err != nil || done {
			return len(ms), err
		}
	}
}

// migrateStep applies the next migration, if one is due, in one
// transaction; done reports that none was.
func (s *Store) migrateStep(ctx context.Context, ms []migration.Migration, target int) (done bool, err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin a migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	current, err := s.d.schemaVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	s.schema = current
	if current > len(ms) {
		return false, migration.Newer(current, len(ms))
	}
	if current >= target {
		return true, tx.Commit()
	}
	m := ms[current]
	// No arguments: PostgreSQL gets it with the simple protocol, so a
	// file may hold several statements (as SQLite allows anyway).
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if err := s.d.setSchemaVersion(ctx, tx, m.Version); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	return false, nil
}
