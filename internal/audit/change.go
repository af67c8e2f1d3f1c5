package audit

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/bss-api/bss-api/internal/strategy"
)

// MaxChangeBytes bounds the definitions one record holds (see Change):
// a few hundred strategies, or every changed one of a replace-all that
// changes fewer. With it the audit table stays within --audit-max-entries
// times 64 KiB even if every change were a large replace-all; a typical
// record takes well under 1 KiB.
const MaxChangeBytes = 64 << 10

// definition is one strategy as a change records it.
type definition struct {
	name string
	body json.RawMessage
}

func definitions(list []strategy.Strategy) ([]definition, error) {
	out := make([]definition, len(list))
	for i, st := range list {
		body, err := json.Marshal(st)
		if err != nil {
			return nil, fmt.Errorf("encode strategy %q: %w", st.Name, err)
		}
		out[i] = definition{name: st.Name, body: body}
	}
	return out, nil
}

// newChange records before and after within limit bytes of definitions.
// It also returns the names the write created, modified and removed,
// which the log line shows (they are not limited).
func newChange(before, after []strategy.Strategy, limit int) (*Change, summary, error) {
	b, err := definitions(before)
	if err != nil {
		return nil, summary{}, err
	}
	a, err := definitions(after)
	if err != nil {
		return nil, summary{}, err
	}
	sum, unchanged := diff(b, a)
	c := &Change{BeforeCount: len(b), AfterCount: len(a)}
	if size(b)+size(a) > limit {
		c.Truncated = true
		b, a = without(b, unchanged), without(a, unchanged)
		b, a = fit(b, a, limit)
	}
	c.Before, c.After = bodies(b), bodies(a)
	return c, sum, nil
}

// summary names what a write did, for the log.
type summary struct {
	created, modified, removed []string
}

// diff compares the definitions by name: created, modified and removed
// names in list order, and the set of names left exactly as they were.
func diff(before, after []definition) (summary, map[string]bool) {
	old := make(map[string]json.RawMessage, len(before))
	for _, d := range before {
		old[d.name] = d.body
	}
	var s summary
	unchanged := map[string]bool{}
	kept := make(map[string]bool, len(after))
	for _, d := range after {
		kept[d.name] = true
		prev, ok := old[d.name]
		switch {
		case !ok:
			s.created = append(s.created, d.name)
		case bytes.Equal(prev, d.body):
			unchanged[d.name] = true
		default:
			s.modified = append(s.modified, d.name)
		}
	}
	for _, d := range before {
		if !kept[d.name] {
			s.removed = append(s.removed, d.name)
		}
	}
	return s, unchanged
}

func size(ds []definition) int {
	n := 0
	for _, d := range ds {
		n += len(d.body)
	}
	return n
}

func without(ds []definition, names map[string]bool) []definition {
	out := make([]definition, 0, len(ds))
	for _, d := range ds {
		if !names[d.name] {
			out = append(out, d)
		}
	}
	return out
}

// fit keeps the leading definitions of each list within limit bytes in
// all: half each, and what one list does not need goes to the other.
func fit(before, after []definition, limit int) ([]definition, []definition) {
	sb, sa := size(before), size(after)
	if sb+sa <= limit {
		return before, after
	}
	half := limit / 2
	switch {
	case sb <= half:
		return before, prefix(after, limit-sb)
	case sa <= half:
		return prefix(before, limit-sa), after
	}
	return prefix(before, half), prefix(after, limit-half)
}

// prefix returns the leading definitions of ds that fit in limit bytes.
func prefix(ds []definition, limit int) []definition {
	n := 0
	for i, d := range ds {
		if n+len(d.body) > limit {
			return ds[:i]
		}
		n += len(d.body)
	}
	return ds
}

func bodies(ds []definition) []json.RawMessage {
	out := make([]json.RawMessage, len(ds)) // never nil: the API shows [] for none
	for i, d := range ds {
		out[i] = d.body
	}
	return out
}
