package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Priority is a strategy's priority level: 0 is no boost, higher is a
// stronger one (the server documents its maximum).
//
// It decodes from either form the server may send: a JSON bool (servers
// started with --priority-format=bool, the default, and definitions
// written as a bool) or a JSON integer (--priority-format=int, and
// definitions written as an integer). true is 1 and false is 0, so a
// scheduler written against this type works whatever the server's format.
//
// It encodes levels 0 and 1 as false and true, which every server version
// accepts, and higher levels as integers.
type Priority int

// Boosted reports whether p gives any boost, as a bool-decoding scheduler
// would read it.
func (p Priority) Boosted() bool { return p > 0 }

// MarshalJSON encodes 0 and 1 as false and true, and higher levels as
// integers.
func (p Priority) MarshalJSON() ([]byte, error) {
	switch {
	case p < 0:
		return nil, fmt.Errorf("priority %d: must not be negative", int(p))
	case p == 0:
		return []byte("false"), nil
	case p == 1:
		return []byte("true"), nil
	default:
		return strconv.AppendInt(nil, int64(p), 10), nil
	}
}

// UnmarshalJSON accepts true, false or a non-negative integer.
func (p *Priority) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch string(b) {
	case "true":
		*p = 1
		return nil
	case "false":
		*p = 0
		return nil
	case "null":
		return nil // as encoding/json does for every type: leave it as it is
	}
	n, err := strconv.ParseInt(string(b), 10, 0)
	if err != nil || n < 0 {
		return fmt.Errorf("priority: want true, false or a non-negative integer, got %s", b)
	}
	*p = Priority(n)
	return nil
}

var (
	_ json.Marshaler   = Priority(0)
	_ json.Unmarshaler = (*Priority)(nil)
)
