package sqlstore

import (
	"context"
	"testing"

	"github.com/bss-api/bss-api/internal/metrics"
)

// run runs s until the test ends, then closes it.
func run(t testing.TB, s *Store) *Store {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// sampleByName sets the fields of a sample by name, so a test does not
// depend on the order of metrics.Fields.
func sampleByName(t testing.TB, values map[string]uint64) metrics.Sample {
	t.Helper()
	var smp metrics.Sample
	for name, v := range values {
		f, ok := fieldNamed(name)
		if !ok {
			t.Fatalf("no metric field %q", name)
		}
		f.Set(&smp, v)
	}
	return smp
}

func fieldNamed(name string) (metrics.Field, bool) {
	for _, f := range metrics.Fields() {
		if f.Name == name {
			return f, true
		}
	}
	return metrics.Field{}, false
}

// checkLayoutStoresEveryField fails for each metric field that s does not
// store.
func checkLayoutStoresEveryField(t *testing.T, s *Store) {
	t.Helper()
	stored := map[string]bool{}
	for _, name := range layoutNames(s.layout) {
		stored[name] = true
	}
	for _, f := range metrics.Fields() {
		if !stored[f.Name] {
			t.Errorf("metric field %q is not stored by %s: add a migration (see migrations/README.md)", f.Name, s.d.describe())
		}
	}
}
