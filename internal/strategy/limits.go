package strategy

// Limits bound what strategies may cost: each strategy (its lists, its
// command_regex) and the stored set as a whole. Every write, preview
// included, is held to them, and so is every stored set the resolver
// loads: a stored strategy that breaks them is not applied. Each field
// has the flag that sets it, named in the errors that refuse something
// for it.
type Limits struct {
	// Strategies bounds how many strategies are stored (--max-strategies).
	Strategies int
	// Bytes bounds the stored definitions' total size, as stored: the
	// JSON of each (--max-strategies-bytes).
	Bytes int64
	// ListItems bounds every list of one strategy: selectors, namespaces,
	// nodes, label_selector's matchLabels and matchExpressions, and each
	// expression's values (--max-strategy-list-items).
	ListItems int
	// RegexBytes bounds a command_regex's length (--max-regex-bytes).
	RegexBytes int
	// RegexInstructions bounds the program one command_regex compiles to
	// (see runesPerInstruction), TotalRegexInstructions the programs of
	// all the strategies together (--max-regex-instructions,
	// --max-regex-instructions-total).
	RegexInstructions      int
	TotalRegexInstructions int
}

// The flags that set Limits, as the errors name them.
const (
	FlagStrategies             = "--max-strategies"
	FlagBytes                  = "--max-strategies-bytes"
	FlagListItems              = "--max-strategy-list-items"
	FlagRegexBytes             = "--max-regex-bytes"
	FlagRegexInstructions      = "--max-regex-instructions"
	FlagTotalRegexInstructions = "--max-regex-instructions-total"
)

// MaxDefinitionBytes bounds one strategy as stored (its JSON), whatever
// the limits: what the lists' limits allow is far below it, and a stored
// definition larger than it is not even decoded (UnmarshalStored), so an
// oversized row written by an older version costs nothing to load.
const MaxDefinitionBytes = 64 << 10

// DefaultLimits returns the limits of a server started without the flags.
// Every reasonable strategy fits them: 100 namespaces, a regex of a few
// dozen alternatives (each instruction is about a byte of pattern).
func DefaultLimits() Limits {
	return Limits{
		Strategies:             1000,
		Bytes:                  4 << 20,
		ListItems:              100,
		RegexBytes:             1024,
		RegexInstructions:      2000,
		TotalRegexInstructions: 100_000,
	}
}

// orDefault returns l, or DefaultLimits when l is the zero value.
func (l Limits) orDefault() Limits {
	if l == (Limits{}) {
		return DefaultLimits()
	}
	return l
}
