package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/bss-api/bss-api/internal/metrics"
)

// The stored layout of a sample is the list of counters a metric row
// holds, by name, in stored order. The schema says what it is, so it never
// depends on the order of metrics.Fields: SQLite lists it in its
// sample_layout table (and packs a row's counters into one blob in that
// order); in PostgreSQL it is the metrics table's counter columns. Only
// migrations change it, and only by adding counters at the end.
//
// How to add a counter:
//
//  1. Add the field to metrics.Sample and its table (metrics.Fields).
//     Open now refuses every database, and TestLayoutStoresEveryField
//     fails, until step 2 is done.
//  2. Add one migration per database (see migrations/README.md):
//     SQLite: INSERT INTO sample_layout (position, name) VALUES (N, 'name')
//     with N the next position; PostgreSQL: ALTER TABLE metrics ADD COLUMN
//     name BIGINT NOT NULL DEFAULT 0.
//
// Rows written before the migration keep reading: a SQLite blob shorter
// than the layout leaves the counters it lacks at 0, and PostgreSQL fills
// the new column of old rows with its default, 0.

// storedLayout reads the stored layout from a migrated schema.
func (s *Store) storedLayout(ctx context.Context) ([]metrics.Field, error) {
	rows, err := s.write.QueryContext(ctx, s.d.layoutQuery())
	if err != nil {
		return nil, fmt.Errorf("read the stored sample layout: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("read the stored sample layout: %w", err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the stored sample layout: %w", err)
	}
	return resolveLayout(names)
}

// resolveLayout maps the stored counter names to fields. Every name must
// be a known field, once; every known field must be stored, or its values
// would be dropped without a word.
func resolveLayout(names []string) ([]metrics.Field, error) {
	known := map[string]metrics.Field{}
	for _, f := range metrics.Fields() {
		known[f.Name] = f
	}
	layout := make([]metrics.Field, 0, len(names))
	for _, name := range names {
		f, ok := known[name]
		if !ok {
			return nil, fmt.Errorf("the database stores a metric field %q that this bss-api does not know", name)
		}
		delete(known, name)
		layout = append(layout, f)
	}
	for _, f := range metrics.Fields() {
		if _, missing := known[f.Name]; missing {
			return nil, fmt.Errorf("metric field %q has no place in the stored sample: add a migration that stores it (see sqlstore/layout.go)", f.Name)
		}
	}
	return layout, nil
}

// layoutNames returns the names of layout's fields.
func layoutNames(layout []metrics.Field) []string {
	names := make([]string, len(layout))
	for i, f := range layout {
		names[i] = f.Name
	}
	return names
}

// columnList joins layout's names for a select list.
func columnList(layout []metrics.Field) string { return strings.Join(layoutNames(layout), ", ") }
