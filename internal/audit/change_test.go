package audit

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/bss-api/bss-api/internal/strategy"
)

// names decodes the names of recorded definitions.
func names(t *testing.T, defs []json.RawMessage) []string {
	t.Helper()
	out := []string{}
	for _, d := range defs {
		var st strategy.Strategy
		if err := json.Unmarshal(d, &st); err != nil {
			t.Fatalf("recorded definition %s: %v", d, err)
		}
		out = append(out, st.Name)
	}
	return out
}

func many(prefix string, n int, exec uint64) []strategy.Strategy {
	out := make([]strategy.Strategy, n)
	for i := range out {
		out[i] = strategy.Strategy{Name: fmt.Sprintf("%s%03d", prefix, i), ExecutionTime: exec, CommandRegex: "^worker$"}
	}
	return out
}

func TestNewChangeKeepsWhatFits(t *testing.T) {
	a := strategy.Strategy{Name: "a", ExecutionTime: 1000, PID: 7}
	b := strategy.Strategy{Name: "b", ExecutionTime: 2000, CommandRegex: "x"}
	b2 := b
	b2.ExecutionTime = 3000
	c := strategy.Strategy{Name: "c", ExecutionTime: 1000, Namespaces: []string{"n"}}
	got, sum, err := newChange([]strategy.Strategy{a, b}, []strategy.Strategy{b2, c}, MaxChangeBytes)
	if err != nil {
		t.Fatal(err)
	}
	if got.Truncated || got.BeforeCount != 2 || got.AfterCount != 2 {
		t.Errorf("change = %+v, want whole, 2 and 2", got)
	}
	if !slices.Equal(names(t, got.Before), []string{"a", "b"}) || !slices.Equal(names(t, got.After), []string{"b", "c"}) {
		t.Errorf("before %s after %s", got.Before, got.After)
	}
	var back strategy.Strategy
	if err := json.Unmarshal(got.After[0], &back); err != nil || back.ExecutionTime != 3000 {
		t.Errorf("after[0] = %s, want b as written", got.After[0])
	}
	want := summary{created: []string{"c"}, modified: []string{"b"}, removed: []string{"a"}}
	if !slices.Equal(sum.created, want.created) || !slices.Equal(sum.modified, want.modified) || !slices.Equal(sum.removed, want.removed) {
		t.Errorf("summary = %+v, want %+v", sum, want)
	}

	created, _, err := newChange(nil, []strategy.Strategy{c}, MaxChangeBytes)
	if err != nil || created.Before == nil || len(created.Before) != 0 || len(created.After) != 1 {
		t.Errorf("a creation = %+v, %v; want before [] (not null) and after [c]", created, err)
	}
}

// A replace-all too large for one record keeps what changed: the
// definitions it left as they were go first.
func TestNewChangeDropsUnchangedFirst(t *testing.T) {
	before := many("s", 1000, 1000)
	after := slices.Clone(before)
	after[10].ExecutionTime = 2000
	after = append(after[:500], after[501:]...) // s500 removed
	after = append(after, strategy.Strategy{Name: "new", ExecutionTime: 1000, PID: 1})

	got, sum, err := newChange(before, after, 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Truncated || got.BeforeCount != 1000 || got.AfterCount != 1000 {
		t.Errorf("change: truncated %v, counts %d/%d; want truncated, 1000/1000", got.Truncated, got.BeforeCount, got.AfterCount)
	}
	if b, a := names(t, got.Before), names(t, got.After); !slices.Equal(b, []string{"s010", "s500"}) || !slices.Equal(a, []string{"s010", "new"}) {
		t.Errorf("kept before %v after %v; want only what changed", b, a)
	}
	if !slices.Equal(sum.modified, []string{"s010"}) || !slices.Equal(sum.removed, []string{"s500"}) || !slices.Equal(sum.created, []string{"new"}) {
		t.Errorf("summary = %+v", sum)
	}
}

// A replace-all that changes too much for one record keeps the leading
// definitions of each list within the bound, half each, and a list that
// needs less leaves the rest to the other.
func TestNewChangeCutsToTheBound(t *testing.T) {
	const limit = 8 << 10
	recorded := func(c *Change) int {
		n := 0
		for _, d := range append(slices.Clone(c.Before), c.After...) {
			n += len(d)
		}
		return n
	}
	tests := []struct {
		name          string
		before, after []strategy.Strategy
		wholeBefore   bool
	}{
		{"both large", many("old", 300, 1000), many("new", 300, 1000), false},
		{"small before", many("old", 3, 1000), many("new", 300, 1000), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := newChange(tt.before, tt.after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Truncated || got.BeforeCount != len(tt.before) || got.AfterCount != len(tt.after) {
				t.Errorf("truncated %v counts %d/%d", got.Truncated, got.BeforeCount, got.AfterCount)
			}
			if n := recorded(got); n > limit || n < limit-200 {
				t.Errorf("recorded %d bytes of definitions, want close to and at most %d", n, limit)
			}
			b := names(t, got.Before)
			if tt.wholeBefore != (len(b) == len(tt.before)) || len(b) == 0 {
				t.Errorf("kept %d of %d before", len(b), len(tt.before))
			}
			if b[0] != tt.before[0].Name || names(t, got.After)[0] != tt.after[0].Name {
				t.Errorf("kept before %v after %v; want the leading ones", b[:1], names(t, got.After)[:1])
			}
		})
	}
}

func TestLoggedNames(t *testing.T) {
	if got := loggedNames(nil); got == nil || len(got) != 0 {
		t.Errorf("loggedNames(nil) = %#v, want []", got)
	}
	long := make([]string, 25)
	for i := range long {
		long[i] = fmt.Sprint(i)
	}
	got := loggedNames(long)
	if len(got) != maxLoggedNames+1 || got[maxLoggedNames] != "(5 more)" || long[maxLoggedNames] != "20" {
		t.Errorf("loggedNames(25 names) = %v (input now %v)", got, long[maxLoggedNames])
	}
}
