package strategy

import (
	"encoding/json"
	"reflect"
	"strconv"
)

// MaxPriority is the highest priority level a strategy may give.
//
// The scheduler that reads levels today (C5, see scheduler-clients.md)
// only asks whether a level is above 0: a boosted task is dispatched first
// (minimum vtime). Levels above 1 leave room for a scheduler that grades
// its boosts without changing what a definition means. The range is small
// on purpose: 20 is the number of nice steps above the default weight
// (nice -1 to -20), so a scheduler can map level n to the weight of nice
// -n; every level fits in a byte, whatever integer a scheduler decodes it
// into; and a level far out of that range is far more likely a mistake
// (a nanosecond count in the wrong field) than an intent.
const MaxPriority = 20

// Priority is a strategy's priority level, 0 (no boost) to MaxPriority,
// and the JSON form it was written in: the seed's true/false (level 1 and
// 0) or an integer. It encodes in the form it was written, so a definition
// reads back as written. The zero value is level 0 written as false, what
// an omitted priority always read back as. Priority is comparable.
type Priority struct {
	level int
	asInt bool // written as an integer; else as true/false
}

// BoolPriority returns the priority written as b: level 1 for true, 0 for
// false.
func BoolPriority(b bool) Priority {
	if b {
		return Priority{level: 1}
	}
	return Priority{}
}

// LevelPriority returns level n written as an integer. A level outside 0
// to MaxPriority is kept as given, and a strategy with it is invalid.
func LevelPriority(n int) Priority { return Priority{level: n, asInt: true} }

// Level returns the level: 0 for none, higher for a stronger boost.
func (p Priority) Level() int { return p.level }

// Boost reports whether the level gives any boost: what the seed's
// boolean priority says.
func (p Priority) Boost() bool { return p.level > 0 }

// IsInt reports whether p was written as an integer rather than as
// true/false.
func (p Priority) IsInt() bool { return p.asInt }

func (p Priority) String() string {
	if p.asInt {
		return strconv.Itoa(p.level)
	}
	return strconv.FormatBool(p.level > 0)
}

// MarshalJSON encodes p in the form it was written.
func (p Priority) MarshalJSON() ([]byte, error) { return []byte(p.String()), nil }

// priorityRule says what a priority may be, for error messages.
func priorityRule() string { return "true, false or an integer from 0 to " + strconv.Itoa(MaxPriority) }

// UnmarshalJSON reads true, false (levels 1 and 0) or an integer literal
// from 0 to MaxPriority, keeping which form it was. Anything else (a
// string, a fraction or exponent, a negative number, a level over
// MaxPriority) is a *json.UnmarshalTypeError, which encoding/json fills
// with the field's path. null leaves p unchanged, as it leaves a bool.
func (p *Priority) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "null":
		return nil
	case "true", "false":
		*p = BoolPriority(data[0] == 't')
		return nil
	}
	if n, ok := smallNatural(data); ok {
		*p = LevelPriority(n)
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(data), Type: reflect.TypeFor[Priority]()}
}

// smallNatural parses an integer literal of digits only, from 0 to
// MaxPriority.
func smallNatural(data []byte) (int, bool) {
	if len(data) == 0 || len(data) > 3 {
		return 0, false
	}
	n := 0
	for _, c := range data {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= MaxPriority
}

// maxShownNumber bounds the digits of a number an error quotes.
const maxShownNumber = 24

// jsonKind describes a JSON value that is not true, false or null as
// encoding/json's type errors do ("string", "number -1"), a long number
// cut short.
func jsonKind(data []byte) string {
	if len(data) == 0 {
		return "nothing"
	}
	switch data[0] {
	case '"':
		return "string"
	case '[':
		return "array"
	case '{':
		return "object"
	}
	if len(data) > maxShownNumber {
		return "number " + string(data[:maxShownNumber]) + "…"
	}
	return "number " + string(data)
}
