package strategy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/internal/apperr"
)

// TestPriorityReadsBackAsWritten: true/false and integer levels decode to
// their level and encode in the form they were written, through every
// decoder of strategies and the stored form.
func TestPriorityReadsBackAsWritten(t *testing.T) {
	for _, tt := range []struct {
		json  string
		level int
		isInt bool
	}{
		{"true", 1, false},
		{"false", 0, false},
		{"0", 0, true},
		{"1", 1, true},
		{"3", 3, true},
		{fmt.Sprint(MaxPriority), MaxPriority, true},
	} {
		one := `{"name":"a","priority":` + tt.json + `,"execution_time":1000,"pid":7}`
		got, err := DecodeOne([]byte(one))
		if err != nil {
			t.Fatalf("DecodeOne(%s) = %v", one, err)
		}
		if got.Priority.Level() != tt.level || got.Priority.IsInt() != tt.isInt || got.Priority.Boost() != (tt.level > 0) {
			t.Errorf("priority %s: level %d, int %v; want %d, %v", tt.json, got.Priority.Level(), got.Priority.IsInt(), tt.level, tt.isInt)
		}
		out, err := json.Marshal(got)
		if err != nil || string(out) != one {
			t.Errorf("priority %s encodes as %s, %v; want %s", tt.json, out, err, one)
		}
		if stored := UnmarshalStored("a", out); stored.Unreadable() != "" || stored.Priority != got.Priority {
			t.Errorf("priority %s as stored reads back as %v (%q)", tt.json, stored.Priority, stored.Unreadable())
		}
		list, err := DecodeList([]byte(`{"strategies":[` + one + `]}`))
		if err != nil || len(list) != 1 || list[0].Priority != got.Priority {
			t.Errorf("DecodeList with priority %s = %+v, %v", tt.json, list, err)
		}
	}
	// Omitted (and null, which encoding/json skips for a bool) is false,
	// as it always read back.
	for _, body := range []string{`{"execution_time":1000,"pid":7}`, `{"priority":null,"execution_time":1000,"pid":7}`} {
		got, err := DecodeOne([]byte(body))
		if err != nil || got.Priority != (Priority{}) {
			t.Fatalf("DecodeOne(%s) = %v, %v", body, got.Priority, err)
		}
		if out, _ := json.Marshal(got); !strings.Contains(string(out), `"priority":false`) {
			t.Errorf("%s reads back as %s", body, out)
		}
	}
}

// TestPriorityRefused: anything but true, false or an integer from 0 to
// MaxPriority is a 400 naming the field and the range, on every decoder.
func TestPriorityRefused(t *testing.T) {
	rule := "must be true, false or an integer from 0 to 20"
	for value, got := range map[string]string{
		`"yes"`:                          "got string",
		`"1"`:                            "got string",
		`1.0`:                            "got number 1.0",
		`1.5`:                            "got number 1.5",
		`1e0`:                            "got number 1e0",
		`-1`:                             "got number -1",
		`-0`:                             "got number -0",
		`21`:                             "got number 21",
		`100`:                            "got number 100",
		`1000000`:                        "got number 1000000",
		`123456789012345678901234567890`: "got number 123456789012345678901234…",
		`[]`:                             "got array",
		`{}`:                             "got object",
	} {
		one := `{"priority":` + value + `,"execution_time":1000,"pid":7}`
		_, err := DecodeOne([]byte(one))
		if want := "priority: " + rule + ", " + got; err == nil || err.Error() != want || apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("DecodeOne(%s) = %v, want %q", one, err, want)
		}
		_, err = DecodeList([]byte(`{"strategies":[{"pid":1,"execution_time":1000},` + one + `]}`))
		if want := "strategies[1].priority: " + rule; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeList with priority %s = %v, want %q", value, err, want)
		}
		if s := UnmarshalStored("row", []byte(one)); !strings.Contains(s.Unreadable(), "priority: "+rule) {
			t.Errorf("a stored row with priority %s reads as %q", value, s.Unreadable())
		}
	}
}

// TestPriorityLevelValidated: a strategy built in Go is held to the same
// range as a decoded one.
func TestPriorityLevelValidated(t *testing.T) {
	for _, level := range []int{-1, MaxPriority + 1} {
		s := Strategy{Name: "a", ExecutionTime: 1000, PID: 7, Priority: LevelPriority(level)}
		err := s.Validate(Limits{})
		if want := fmt.Sprintf("priority: must be true, false or an integer from 0 to 20, got %d", level); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate with level %d = %v, want %q", level, err, want)
		}
	}
	for _, p := range []Priority{{}, BoolPriority(true), LevelPriority(0), LevelPriority(MaxPriority)} {
		if err := (Strategy{Name: "a", ExecutionTime: 1000, PID: 7, Priority: p}).Validate(Limits{}); err != nil {
			t.Errorf("Validate with priority %v = %v", p, err)
		}
	}
}

// TestResolveCarriesTheWinnersLevel: a PID takes the level of the
// strategy that wins it by the usual precedence; a higher level in a
// strategy that loses does not raise it.
func TestResolveCarriesTheWinnersLevel(t *testing.T) {
	type got struct{ pid, level int }
	list := []Strategy{
		{Name: "ran-low", Priority: LevelPriority(1), ExecutionTime: 1000, Namespaces: []string{"ran"}},
		{Name: "gnb-high", Priority: LevelPriority(MaxPriority), ExecutionTime: 1000, CommandRegex: "nr-gnb"},
		{Name: "ping-none", Priority: LevelPriority(0), ExecutionTime: 1000, PID: 202},
		{Name: "upf-bool", Priority: BoolPriority(true), ExecutionTime: 1000, Selectors: []LabelSelector{{"nf", "upf"}}},
	}
	res := mustResolve(t, mustCompile(t, list), testView(t, 11), Bindings{}, Winners)
	levels := make([]got, len(res.Entries))
	for i, e := range res.Entries {
		levels[i] = got{e.PID, e.Priority}
	}
	want := []got{
		{101, 1},           // true is level 1
		{201, 1},           // the first selector strategy wins, though a later one is higher
		{202, 0},           // an explicit pid wins, level 0 included
		{301, MaxPriority}, // a pod without metadata: only the regex matches
	}
	if !slices.Equal(levels, want) {
		t.Errorf("levels %v, want %v", levels, want)
	}
}
