package strategy

import (
	"encoding/json"
	"fmt"
)

// UnmarshalStored decodes a strategy as a store holds it: the JSON that
// json.Marshal wrote, in a row called name. It never fails. A definition
// it cannot read (larger than MaxDefinitionBytes, not JSON, or not a
// strategy of this version: unknown fields, keys given twice or in
// another case, values of another type) comes back as an unreadable
// strategy: only its name, the reason, and its size. Such a strategy is
// never applied, counts against the limits by its size, and encodes as
// {"name": …, "unreadable": reason}, so a stored set that a hand or an
// older or newer version wrote still loads, and says what it skipped.
func UnmarshalStored(name string, body []byte) Strategy {
	unreadable := func(why string) Strategy {
		return Strategy{Name: name, unreadable: why, storedBytes: len(body)}
	}
	if len(body) > MaxDefinitionBytes {
		return unreadable(fmt.Sprintf("%d bytes as stored, more than the %d bytes a strategy may have", len(body), MaxDefinitionBytes))
	}
	if err := oneSchema.Check(body); err != nil {
		return unreadable(err.Error())
	}
	var s Strategy
	if err := decodeStrict(body, &s); err != nil {
		return unreadable("not a strategy this server can read: " + describeJSONError("", err))
	}
	return s
}

// Unreadable returns why a stored strategy could not be read, or "" for a
// strategy that could (see UnmarshalStored).
func (s Strategy) Unreadable() string { return s.unreadable }

// plain is Strategy without its JSON method.
type plain Strategy

// MarshalJSON encodes s as written, or an unreadable strategy as its name
// and the reason.
func (s Strategy) MarshalJSON() ([]byte, error) {
	if s.unreadable != "" {
		return json.Marshal(struct {
			Name       string `json:"name"`
			Unreadable string `json:"unreadable"`
		}{s.Name, s.unreadable})
	}
	return json.Marshal(plain(s))
}

// storedSize returns the size of s as stored: its JSON.
func storedSize(s Strategy) int {
	if s.unreadable != "" {
		return s.storedBytes
	}
	b, err := json.Marshal(plain(s))
	if err != nil { // a Strategy always encodes
		return MaxDefinitionBytes + 1
	}
	return len(b)
}
