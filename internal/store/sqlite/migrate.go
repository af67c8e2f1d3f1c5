package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/bss-api/bss-api/internal/store/migration"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func migrations() ([]migration.Migration, error) { return migration.Load(migrationFiles, "migrations") }

// LatestVersion is the schema version this binary creates.
func LatestVersion() int { return migration.Latest(migrationFiles, "migrations") }

// migrate applies the migrations after the database's version, each in its
// own transaction, up to target (0: all). A database from a newer bss-api
// is refused untouched.
func migrate(ctx context.Context, db *sql.DB, target int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if target == 0 {
		target = len(ms)
	}
	var current int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(ms) {
		return migration.Newer(current, len(ms))
	}
	for _, m := range ms[current:target] {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.Version)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}
