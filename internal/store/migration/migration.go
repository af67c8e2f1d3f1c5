// Package migration reads a store's embedded schema migrations: files named
// NNNN_description.sql, applied in order, whose number is the schema
// version they bring the database to. Each backend applies them its own way.
package migration

import (
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migration is one schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Load reads the *.sql files in dir of fsys (an embedded directory),
// ordered by version. The versions must be 1, 2, 3… without gaps.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	fsys, err := fs.Sub(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its version number", e.Name())
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations are not numbered 1, 2, 3…: %s", m.Name)
		}
	}
	return ms, nil
}

// Latest returns the version the migrations in dir of fsys lead to, or 0
// when they cannot be loaded (Load reports why).
func Latest(fsys fs.FS, dir string) int {
	ms, err := Load(fsys, dir)
	if err != nil {
		return 0
	}
	return len(ms)
}

// Newer is the error for a database whose schema is newer than the
// migrations this binary has: it is refused, never modified.
func Newer(dbVersion, known int) error {
	return fmt.Errorf("the database has schema version %d, newer than this bss-api knows (%d); refusing to open it (run a newer bss-api, or point --store elsewhere)", dbVersion, known)
}
