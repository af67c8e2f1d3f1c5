package strategy

import (
	"reflect"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestStrategyEqual changes each field of a strategy in turn: every change
// must make it unequal, or the resolver would keep a stale compiled form
// of a changed strategy. A field added to Strategy without a case here
// fails the test.
func TestStrategyEqual(t *testing.T) {
	base := func() Strategy {
		return Strategy{Name: "a", Priority: LevelPriority(1), ExecutionTime: 5000, PID: 7,
			Selectors: []LabelSelector{{"app", "x"}}, Namespaces: []string{"ns"},
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"k": "v"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "t", Operator: metav1.LabelSelectorOpIn, Values: []string{"1"}}}},
			CommandRegex: "^w$", Threads: true, Nodes: []string{"n1"}}
	}
	changes := map[string]func(*Strategy){
		"Name":          func(s *Strategy) { s.Name = "b" },
		"Priority":      func(s *Strategy) { s.Priority = BoolPriority(true) },
		"ExecutionTime": func(s *Strategy) { s.ExecutionTime++ },
		"PID":           func(s *Strategy) { s.PID++ },
		"Selectors":     func(s *Strategy) { s.Selectors[0].Value = "y" },
		"Namespaces":    func(s *Strategy) { s.Namespaces = append(s.Namespaces, "other") },
		"LabelSelector": func(s *Strategy) { s.LabelSelector.MatchExpressions[0].Values[0] = "2" },
		"CommandRegex":  func(s *Strategy) { s.CommandRegex = "^v$" },
		"Threads":       func(s *Strategy) { s.Threads = false },
		"Nodes":         func(s *Strategy) { s.Nodes[0] = "n2" },
		"unreadable":    func(s *Strategy) { s.unreadable = "bad json" },
		"storedBytes":   func(s *Strategy) { s.storedBytes = 10 },
	}
	if n := reflect.TypeFor[Strategy]().NumField(); n != len(changes) {
		t.Fatalf("Strategy has %d fields, the test changes %d: add the new field to Equal and here", n, len(changes))
	}
	if !base().Equal(base()) {
		t.Fatal("a strategy is not equal to its copy")
	}
	for field, change := range changes {
		s := base()
		change(&s)
		if s.Equal(base()) || base().Equal(s) {
			t.Errorf("changing %s leaves the strategies equal", field)
		}
	}
	for _, tt := range []struct {
		name string
		a, b *metav1.LabelSelector
	}{
		{"nil and empty", nil, &metav1.LabelSelector{}},
		{"labels and none", &metav1.LabelSelector{MatchLabels: map[string]string{"k": "v"}}, &metav1.LabelSelector{}},
	} {
		a, b := base(), base()
		a.LabelSelector, b.LabelSelector = tt.a, tt.b
		if a.Equal(b) {
			t.Errorf("%s: equal", tt.name)
		}
	}
}

// pidRecorder is a PIDWatcher keeping the last PIDs it was given.
type pidRecorder struct{ pids []int }

func (p *pidRecorder) WatchPIDs(pids []int) { p.pids = slices.Clone(pids) }

// TestReloadWatchesEachLocalPIDOnce: the watcher reads /proc for every
// PID it is given at every poll, so a PID targeted by many strategies is
// given once, and PIDs of strategies for other nodes not at all.
func TestReloadWatchesEachLocalPIDOnce(t *testing.T) {
	list := []Strategy{
		{Name: "a", ExecutionTime: 1000, PID: 42},
		{Name: "b", ExecutionTime: 1000, PID: 42, Nodes: []string{testNode}},
		{Name: "c", ExecutionTime: 1000, PID: 7},
		{Name: "d", ExecutionTime: 1000, PID: 99, Nodes: []string{"elsewhere"}},
		{Name: "e", ExecutionTime: 1000, Namespaces: []string{"ns"}},
	}
	w := &pidRecorder{}
	r := NewResolver(ResolverOptions{Store: &fakeStore{list: list}, Views: newSettableView(nil), Watcher: w, Node: testNode})
	if err := r.reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if want := []int{7, 42}; !slices.Equal(w.pids, want) {
		t.Errorf("watched PIDs %v, want %v", w.pids, want)
	}
}
