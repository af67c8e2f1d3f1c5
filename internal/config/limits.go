package config

import (
	"flag"
	"fmt"
)

// Limits bound what strategy inputs may cost (besides --max-strategies):
// each strategy's lists and command_regex, the stored set's size, and the
// previews and explanations resolving at once. Every write and preview is
// held to them, and a stored set that breaks them is loaded without the
// strategies that do.
type Limits struct {
	MaxStrategiesBytes        int64 // the stored definitions' total size, as stored (JSON)
	MaxStrategyListItems      int   // items in any list of one strategy
	MaxRegexBytes             int   // a command_regex's length
	MaxRegexInstructions      int   // the program one command_regex compiles to
	MaxRegexInstructionsTotal int   // the programs of all the stored strategies together
	MaxConcurrentPreviews     int   // previews and explanations resolving at once
}

// maxDefinitionBytes is the most one strategy may take as stored
// (strategy.MaxDefinitionBytes), which bounds the flags below.
const maxDefinitionBytes = 64 << 10

func defaultLimits() Limits {
	return Limits{
		MaxStrategiesBytes:        4 << 20,
		MaxStrategyListItems:      100,
		MaxRegexBytes:             1024,
		MaxRegexInstructions:      2000,
		MaxRegexInstructionsTotal: 100_000,
		MaxConcurrentPreviews:     2,
	}
}

func (l *Limits) limitFlags(fs *flag.FlagSet) {
	fs.Func("max-strategies-bytes", "the stored strategies' total size in `bytes`, as stored (JSON; suffixes KiB, MiB allowed) (default 4MiB)", func(s string) error {
		n, err := parseSize(s)
		l.MaxStrategiesBytes = n
		return err
	})
	fs.IntVar(&l.MaxStrategyListItems, "max-strategy-list-items", l.MaxStrategyListItems,
		"items in any list of one strategy: selectors, namespaces, nodes, label_selector matchLabels and matchExpressions, each expression's values")
	fs.IntVar(&l.MaxRegexBytes, "max-regex-bytes", l.MaxRegexBytes, "length of one command_regex in bytes")
	fs.IntVar(&l.MaxRegexInstructions, "max-regex-instructions", l.MaxRegexInstructions,
		"size of the program one command_regex compiles to, in instructions (large character classes count extra)")
	fs.IntVar(&l.MaxRegexInstructionsTotal, "max-regex-instructions-total", l.MaxRegexInstructionsTotal,
		"size of the programs of all the stored strategies' command_regex together, in instructions")
	fs.IntVar(&l.MaxConcurrentPreviews, "max-concurrent-previews", l.MaxConcurrentPreviews,
		"previews and explanations resolving at once; one that cannot start within a second is answered 503 with Retry-After")
}

func (l Limits) validateLimits() error {
	ranges := []struct {
		name      string
		v, lo, hi int64
	}{
		{"max-strategies-bytes", l.MaxStrategiesBytes, maxDefinitionBytes, 1 << 30},
		{"max-strategy-list-items", int64(l.MaxStrategyListItems), 1, 10_000},
		{"max-regex-bytes", int64(l.MaxRegexBytes), 16, maxDefinitionBytes / 2},
		{"max-regex-instructions", int64(l.MaxRegexInstructions), 16, 1_000_000},
		{"max-regex-instructions-total", int64(l.MaxRegexInstructionsTotal), int64(l.MaxRegexInstructions), 100_000_000},
		{"max-concurrent-previews", int64(l.MaxConcurrentPreviews), 1, 64},
	}
	for _, r := range ranges {
		if r.v < r.lo || r.v > r.hi {
			return fmt.Errorf("invalid --%s %d: must be from %d to %d", r.name, r.v, r.lo, r.hi)
		}
	}
	return nil
}
