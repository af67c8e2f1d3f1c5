package strategy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bss-api/bss-api/internal/apperr"
)

// attackRegex is the issue's: 945 bytes that compile to 43,002
// instructions, about 2 MB, each.
var attackRegex = strings.Repeat(`(?:(?:a{10}){10}){10}`, 43)

// items returns n distinct valid names.
func items(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("n-%d", i)
	}
	return out
}

// testLimits are small limits the tests can reach.
var testLimits = Limits{Strategies: 5, Bytes: 4096, ListItems: 3, RegexBytes: 64, RegexInstructions: 50, TotalRegexInstructions: 80}

func TestNormalizeHoldsEachStrategyToTheLimits(t *testing.T) {
	ok := Strategy{ExecutionTime: 1000, PID: 1}
	with := func(edit func(*Strategy)) []Strategy {
		s := ok
		edit(&s)
		return []Strategy{s}
	}
	expr := func(values ...int) *metav1.LabelSelector {
		ls := &metav1.LabelSelector{}
		for i, n := range values {
			ls.MatchExpressions = append(ls.MatchExpressions, metav1.LabelSelectorRequirement{
				Key: fmt.Sprintf("k%d", i), Operator: metav1.LabelSelectorOpIn, Values: items(n)})
		}
		return ls
	}
	tests := []struct {
		name string
		list []Strategy
		want string // "" accepted
	}{
		{"within every limit", with(func(s *Strategy) {
			s.Namespaces, s.Nodes, s.CommandRegex = items(3), items(3), "^(upf|smf)$"
			s.Selectors = []LabelSelector{{"a", "b"}, {"c", "d"}, {"e", "f"}}
			s.LabelSelector = expr(3, 3, 3)
			s.LabelSelector.MatchLabels = map[string]string{"x": "1", "y": "2", "z": "3"}
		}), ""},
		{"namespaces", with(func(s *Strategy) { s.Namespaces = items(4) }), "namespaces: 4 given, at most 3 allowed (--max-strategy-list-items)"},
		{"nodes", with(func(s *Strategy) { s.Nodes = items(4) }), "nodes: 4 given, at most 3 allowed (--max-strategy-list-items)"},
		{"selectors", with(func(s *Strategy) { s.Selectors = make([]LabelSelector, 4) }), "selectors: 4 given, at most 3 allowed"},
		{"matchLabels", with(func(s *Strategy) {
			s.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}}
		}), "label_selector.matchLabels: 4 given, at most 3 allowed"},
		{"matchExpressions", with(func(s *Strategy) { s.LabelSelector = expr(1, 1, 1, 1) }), "label_selector.matchExpressions: 4 given, at most 3 allowed"},
		{"an expression's values", with(func(s *Strategy) { s.LabelSelector = expr(1, 4) }),
			"label_selector.matchExpressions[1].values: 4 given, at most 3 allowed (--max-strategy-list-items)"},
		{"regex bytes", with(func(s *Strategy) { s.CommandRegex = strings.Repeat("a", 65) }), "command_regex: 65 bytes, at most 64 allowed (--max-regex-bytes)"},
		{"regex program", with(func(s *Strategy) { s.CommandRegex = "a{49}" }), "command_regex: compiles to 51 instructions, at most 50 allowed (--max-regex-instructions)"},
		{"regex program far over", with(func(s *Strategy) { s.CommandRegex = "(?:a{10}){10}" }), "command_regex: compiles to at least"},
		{"large class", with(func(s *Strategy) { s.CommandRegex = `\pL\pL` }), "at most 50 allowed (--max-regex-instructions)"},
		{"a bad regex", with(func(s *Strategy) { s.CommandRegex = "(" }), "command_regex: error parsing regexp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Normalize(tt.list, testLimits)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Normalize = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || apperr.CodeOf(err) != apperr.Invalid {
				t.Fatalf("Normalize = %v, want an invalid error with %q", err, tt.want)
			}
		})
	}
}

func TestNormalizeHoldsTheSetToTheLimits(t *testing.T) {
	n := func(count int, edit func(i int, s *Strategy)) []Strategy {
		out := make([]Strategy, count)
		for i := range out {
			out[i] = Strategy{ExecutionTime: 1000, PID: uint32(i + 1)}
			if edit != nil {
				edit(i, &out[i])
			}
		}
		return out
	}
	for _, tt := range []struct {
		name string
		list []Strategy
		want string
	}{
		{"count", n(6, nil), "strategies: 6 given, at most 5 allowed (--max-strategies)"},
		{"bytes", n(5, func(_ int, s *Strategy) { s.Name = "s-" + strings.Repeat("n", 140) + fmt.Sprint(s.PID) }), ""},
		{"bytes over", n(5, func(_ int, s *Strategy) { s.Name = "s-" + strings.Repeat("n", 240) + fmt.Sprint(s.PID) }),
			"bytes as stored in all, at most 1024 allowed (--max-strategies-bytes)"},
		{"regex total", n(2, func(_ int, s *Strategy) { s.CommandRegex = "a{40}" }), "command_regex programs have 84 instructions in all, at most 80 allowed (--max-regex-instructions-total)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lim := testLimits
			lim.Bytes = 1024
			_, err := Normalize(tt.list, lim)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Normalize = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Normalize = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestNormalizeRefusesTheAttackCheaply: the 1,000 strategies of a
// 945-byte expression are refused after a parse each, with a bounded
// message, and the expression is never compiled.
func TestNormalizeRefusesTheAttackCheaply(t *testing.T) {
	list := make([]Strategy, 1000)
	for i := range list {
		list[i] = Strategy{ExecutionTime: 1000, CommandRegex: attackRegex}
	}
	allocs := testing.AllocsPerRun(1, func() {
		if _, err := Normalize(list, Limits{}); err == nil {
			t.Fatal("accepted")
		}
	})
	_, err := Normalize(list, Limits{})
	msg := err.Error()
	if !strings.Contains(msg, "strategies[0] (strategy-1).command_regex: compiles to at least") ||
		!strings.Contains(msg, "(--max-regex-instructions)") || !strings.HasSuffix(msg, "and 980 more problems") || len(msg) > 8<<10 {
		t.Errorf("error (%d bytes) = %.300s…%s", len(msg), msg, msg[max(0, len(msg)-100):])
	}
	// A compiled copy costs 43,002 instructions in ~2 MB; a parse, a few
	// hundred allocations.
	if allocs > 1000*400 {
		t.Errorf("%v allocations to refuse 1,000 expressions; it compiles them", allocs)
	}
}

func TestValidateAndDefinitionSize(t *testing.T) {
	big := Strategy{Name: "big", ExecutionTime: 1000, LabelSelector: &metav1.LabelSelector{}}
	for i := range 100 {
		big.LabelSelector.MatchExpressions = append(big.LabelSelector.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: fmt.Sprintf("key-%d", i), Operator: metav1.LabelSelectorOpIn, Values: items(100)})
	}
	if err := big.Validate(Limits{}); err == nil || !strings.Contains(err.Error(), "bytes as stored, at most 65536 a strategy may have") {
		t.Errorf("Validate(%d-byte strategy) = %v", storedSize(big), err)
	}
	if err := (Strategy{Name: "ok", ExecutionTime: 1000, PID: 1}).Validate(Limits{}); err != nil {
		t.Errorf("Validate = %v", err)
	}
}

func TestUnmarshalStored(t *testing.T) {
	good := Strategy{Name: "a", Priority: BoolPriority(true), ExecutionTime: 5000, PID: 7, Namespaces: []string{"x"}}
	body, err := json.Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	if got := UnmarshalStored("a", body); got.Unreadable() != "" || got.Name != "a" || got.PID != 7 || got.Namespaces[0] != "x" {
		t.Errorf("UnmarshalStored(%s) = %+v", body, got)
	}
	for _, tt := range []struct{ body, want string }{
		{`{"name":`, "not a strategy this server can read: body: Invalid JSON format"},
		{`{"name":"a","execution_time":1,"priority":21}`, "priority: must be true, false or an integer from 0 to 20, got number 21"},
		{`{"name":"a","execution_time":1,"weight":3}`, "weight: unknown field"},
		{`{"name":"a","namespaces":["x"],"namespaces":[]}`, "namespaces: the key is given more than once"},
		{`{"name":"a","Namespaces":["x"]}`, "Namespaces: unknown field; field names are case-sensitive"},
		{`{"name":"a","namespaces":["` + strings.Repeat("x", MaxDefinitionBytes) + `"]}`, "bytes as stored, more than the 65536 bytes a strategy may have"},
	} {
		got := UnmarshalStored("row", []byte(tt.body))
		if got.Name != "row" || !strings.Contains(got.Unreadable(), tt.want) || storedSize(got) != len(tt.body) {
			t.Errorf("UnmarshalStored(%.60s) = %q (%q), size %d; want unreadable %q", tt.body, got.Name, got.Unreadable(), storedSize(got), tt.want)
		}
		out, err := json.Marshal(got)
		if err != nil || !strings.Contains(string(out), `"unreadable":`) || !strings.HasPrefix(string(out), `{"name":"row"`) {
			t.Errorf("an unreadable strategy encodes as %s, %v", out, err)
		}
	}
	// A readable strategy encodes exactly as before MarshalJSON existed.
	out, _ := json.Marshal(good)
	if want := `{"name":"a","priority":true,"execution_time":5000,"pid":7,"namespaces":["x"]}`; string(out) != want {
		t.Errorf("Marshal = %s, want %s", out, want)
	}
}

func TestInForce(t *testing.T) {
	c := newChecker(testLimits)
	s := func(name string, edit func(*Strategy)) Strategy {
		st := Strategy{Name: name, ExecutionTime: 1000, PID: 1}
		if edit != nil {
			edit(&st)
		}
		return st
	}
	list := []Strategy{
		s("a", nil),
		s("attack", func(s *Strategy) { s.CommandRegex = attackRegex }),
		s("wide", func(s *Strategy) { s.Namespaces = items(1000) }),
		UnmarshalStored("damaged", []byte(`{"name":`)),
		s("a", nil),
		s("r1", func(s *Strategy) { s.CommandRegex = "a{40}" }),
		s("r2", func(s *Strategy) { s.CommandRegex = "b{40}" }),
		s("bad-time", func(s *Strategy) { s.ExecutionTime = 1 }),
		s("c", nil),
		s("d", nil),
		s("e", nil),
	}
	kept, skipped := c.inForce(list)
	var names []string
	for _, k := range kept {
		names = append(names, k.Name)
	}
	if want := "a r1 c d e"; strings.Join(names, " ") != want {
		t.Errorf("in force: %v, want %s", names, want)
	}
	want := map[string]string{
		"attack":   "command_regex: 903 bytes, at most 64 allowed (--max-regex-bytes)",
		"wide":     "namespaces: 1000 given, at most 3 allowed (--max-strategy-list-items)",
		"damaged":  "unreadable: not a strategy this server can read",
		"a":        "an earlier stored strategy has the same name",
		"r2":       "take 84 instructions, at most 80 allowed (--max-regex-instructions-total)",
		"bad-time": "execution_time: must be from 1000",
	}
	if len(skipped) != len(want) {
		t.Errorf("skipped %+v, want %d", skipped, len(want))
	}
	for _, sk := range skipped {
		if !strings.Contains(sk.Reason, want[sk.Name]) || want[sk.Name] == "" {
			t.Errorf("skipped %s: %q, want %q", sk.Name, sk.Reason, want[sk.Name])
		}
	}
	// Past the count.
	_, skipped = c.inForce(append(kept, s("f", nil)))
	if len(skipped) != 1 || skipped[0].Name != "f" || !strings.Contains(skipped[0].Reason, "past the first 5 strategies (--max-strategies)") {
		t.Errorf("skipped %+v, want f past the count", skipped)
	}
}

// TestAdmit: a write is refused when the list it would store breaks a
// limit on the set; strategies that break one on their own (and are not
// applied) cost no regex instructions, but their bytes and place count.
func TestAdmit(t *testing.T) {
	c := newChecker(testLimits)
	r := func(name, re string) Strategy { return Strategy{Name: name, ExecutionTime: 1000, CommandRegex: re} }
	if err := c.admit([]Strategy{r("a", "a{40}"), r("b", "b{30}")}); err != nil {
		t.Errorf("admit = %v", err)
	}
	if err := c.admit([]Strategy{r("a", "a{40}"), r("b", "b{40}")}); err == nil || !strings.Contains(err.Error(), "(--max-regex-instructions-total)") {
		t.Errorf("admit = %v, want the total refused", err)
	}
	if err := c.admit([]Strategy{r("a", "a{40}"), r("x", attackRegex), r("b", "b{30}")}); err != nil {
		t.Errorf("admit with a stored strategy not applied = %v", err)
	}
	big := UnmarshalStored("big", []byte(`{"name":"big","namespaces":["`+strings.Repeat("x", 5000)+`"]}`))
	if err := c.admit([]Strategy{big, r("a", "a")}); err == nil || !strings.Contains(err.Error(), "(--max-strategies-bytes)") {
		t.Errorf("admit = %v, want the bytes of an unreadable strategy counted", err)
	}
	if err := c.admit(make([]Strategy, 6)); err == nil || !strings.Contains(err.Error(), "6 given, at most 5 allowed (--max-strategies)") {
		t.Errorf("admit = %v, want the count refused", err)
	}
}

// TestRegexSizesRemembered: a checker remembers measured sizes, within a
// bound of entries and bytes.
func TestRegexSizesRemembered(t *testing.T) {
	c := newChecker(Limits{})
	for i := range regexCacheSize + 10 {
		c.regexSize(fmt.Sprintf("^w-%d$", i))
	}
	if n := len(c.sizes); n == 0 || n > regexCacheSize {
		t.Errorf("%d sizes remembered, want 1 to %d", n, regexCacheSize)
	}
	long := strings.Repeat("x", 1000)
	for i := range 5000 {
		c.regexSize(fmt.Sprintf("%s%d", long, i))
	}
	if c.sizesBytes > regexCacheBytes+2000 {
		t.Errorf("%d bytes remembered, want at most about %d", c.sizesBytes, regexCacheBytes)
	}
	if size, problem := c.regexSize("^w-1$"); problem != "" || size == 0 {
		t.Errorf("regexSize = %d, %q", size, problem)
	}
}
