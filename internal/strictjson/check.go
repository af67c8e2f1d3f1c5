package strictjson

import (
	"encoding/json"
	"strconv"
	"strings"
)

// maxDepth is how deeply Check follows nested values, as encoding/json
// does: deeper documents are not valid to it either.
const maxDepth = 10000

// maxProblems bounds the problems one Error lists.
const maxProblems = 20

// Problem is one key Check refuses.
type Problem struct {
	// Path names the key: object keys joined by dots, array elements as
	// [i], from the document's root ("strategies[0].namespaces").
	Path string
	// Field is, for a key that differs from a field only in case, the
	// field's exact name; empty for a duplicate key.
	Field string
}

func (p Problem) String() string {
	if p.Field != "" {
		return p.Path + ": unknown field; field names are case-sensitive: did you mean " + strconv.Quote(p.Field) + "?"
	}
	return p.Path + ": the key is given more than once in one object; give each key once"
}

// Error lists the keys a document was refused for.
type Error struct {
	Problems []Problem // at most maxProblems of them
	More     int       // problems found beyond those
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Problems), len(e.Problems)+1)
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	if e.More > 0 {
		parts = append(parts, "and "+strconv.Itoa(e.More)+" more")
	}
	return strings.Join(parts, "; ")
}

// Check walks data once and returns an *Error listing every key given
// twice in one object, anywhere in the document, and every key of an
// object s decodes into a struct that differs from one of the struct's
// field names only in case; nil when there is none. Keys that match no
// field in any case are left to the decoder.
//
// Check reports nothing about a document that is not valid JSON (its
// decoder says what is wrong with it), so it is run before decoding.
func (s *Schema) Check(data []byte) error {
	c := checker{data: data}
	c.skipWS()
	if !c.value(s.root) {
		return nil
	}
	c.skipWS()
	if c.pos != len(c.data) || (len(c.problems) == 0 && c.more == 0) {
		return nil
	}
	return &Error{Problems: c.problems, More: c.more}
}

// CheckAny is Check for a value of any type: it reports only duplicate
// keys.
func CheckAny(data []byte) error { return (&Schema{}).Check(data) }

// checker is one walk of a document. Each method returns false at the
// first syntax error, which ends the walk.
type checker struct {
	data     []byte
	pos      int
	depth    int
	path     []segment // where the value being walked is
	problems []Problem
	more     int
}

// segment is one step of a path: an object key, or an array index when
// key is nil.
type segment struct {
	key   []byte
	index int
}

func (c *checker) problem(field string) {
	if len(c.problems) == maxProblems {
		c.more++
		return
	}
	var b strings.Builder
	for i, s := range c.path {
		if s.key == nil {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.Write(s.key)
	}
	c.problems = append(c.problems, Problem{Path: b.String(), Field: field})
}

func (c *checker) skipWS() {
	for c.pos < len(c.data) {
		switch c.data[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

func (c *checker) value(n *node) bool {
	if c.pos >= len(c.data) {
		return false
	}
	switch c.data[c.pos] {
	case '{':
		return c.object(n)
	case '[':
		return c.array(n)
	case '"':
		_, ok := c.string(false)
		return ok
	case 't':
		return c.literal("true")
	case 'f':
		return c.literal("false")
	case 'n':
		return c.literal("null")
	}
	return c.number()
}

// open moves into the object or array at c.pos, and reports whether it
// is empty (then it has moved past its end too) and whether it may be
// walked at all (not nested too deeply).
func (c *checker) open(end byte) (empty, ok bool) {
	c.depth++
	if c.depth > maxDepth {
		return false, false
	}
	c.pos++ // { or [
	c.skipWS()
	if c.pos < len(c.data) && c.data[c.pos] == end {
		c.pos++
		c.depth--
		return true, true
	}
	return false, true
}

// next moves past what follows a member of an object or array: a comma,
// or its end (then last is true and it has been left).
func (c *checker) next(end byte) (last, ok bool) {
	c.path = c.path[:len(c.path)-1]
	c.skipWS()
	if c.pos >= len(c.data) {
		return false, false
	}
	switch c.data[c.pos] {
	case ',':
		c.pos++
		return false, true
	case end:
		c.pos++
		c.depth--
		return true, true
	}
	return false, false
}

func (c *checker) object(n *node) bool {
	if empty, ok := c.open('}'); empty || !ok {
		return ok
	}
	var keys keySet
	for {
		c.skipWS()
		if c.pos >= len(c.data) || c.data[c.pos] != '"' {
			return false
		}
		key, ok := c.string(true)
		if !ok {
			return false
		}
		c.skipWS()
		if c.pos >= len(c.data) || c.data[c.pos] != ':' {
			return false
		}
		c.pos++
		c.skipWS()
		c.path = append(c.path, segment{key: key})
		var child *node
		if n != nil {
			child = n.elem
			if n.fields != nil {
				child = c.field(n, key)
			}
		}
		if keys.add(key) {
			c.problem("")
		}
		if !c.value(child) {
			return false
		}
		if last, ok := c.next('}'); last || !ok {
			return ok
		}
	}
}

// field returns the node of the struct field key names exactly, and
// reports a key that names one only when case is ignored.
func (c *checker) field(n *node, key []byte) *node {
	if f, ok := n.fields[string(key)]; ok {
		return f
	}
	if name, ok := n.folded[Fold(string(key))]; ok {
		c.problem(name)
	}
	return nil
}

func (c *checker) array(n *node) bool {
	if empty, ok := c.open(']'); empty || !ok {
		return ok
	}
	var elem *node
	if n != nil {
		elem = n.elem
	}
	for i := 0; ; i++ {
		c.skipWS()
		c.path = append(c.path, segment{index: i})
		if !c.value(elem) {
			return false
		}
		if last, ok := c.next(']'); last || !ok {
			return ok
		}
	}
}

// string moves past the string at c.pos. With decode, it returns the
// string's value as encoding/json would decode it (escapes resolved,
// invalid UTF-8 replaced): the document's own bytes when there is nothing
// to change.
func (c *checker) string(decode bool) ([]byte, bool) {
	start := c.pos
	c.pos++ // "
	plain := true
	for c.pos < len(c.data) {
		b := c.data[c.pos]
		switch {
		case b == '"':
			c.pos++
			if plain || !decode {
				return c.data[start+1 : c.pos-1], true
			}
			var s string
			if err := json.Unmarshal(c.data[start:c.pos], &s); err != nil {
				return nil, false
			}
			return []byte(s), true
		case b == '\\':
			plain = false
			if c.pos+1 >= len(c.data) {
				return nil, false
			}
			switch c.data[c.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				c.pos += 2
			case 'u':
				if c.pos+6 > len(c.data) || !isHex4(c.data[c.pos+2:c.pos+6]) {
					return nil, false
				}
				c.pos += 6
			default:
				return nil, false
			}
		case b < 0x20:
			return nil, false
		case b >= 0x80:
			plain = false // decoding may replace invalid UTF-8
			c.pos++
		default:
			c.pos++
		}
	}
	return nil, false
}

func isHex4(b []byte) bool {
	for _, h := range b {
		digit, lower, upper := '0' <= h && h <= '9', 'a' <= h && h <= 'f', 'A' <= h && h <= 'F'
		if !digit && !lower && !upper {
			return false
		}
	}
	return true
}

func (c *checker) literal(word string) bool {
	if len(c.data)-c.pos < len(word) || string(c.data[c.pos:c.pos+len(word)]) != word {
		return false
	}
	c.pos += len(word)
	return true
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (c *checker) number() bool {
	if c.peek() == '-' {
		c.pos++
	}
	switch {
	case c.peek() == '0':
		c.pos++
	case isDigit(c.peek()):
		c.digits()
	default:
		return false
	}
	if c.peek() == '.' {
		c.pos++
		if !c.digits() {
			return false
		}
	}
	if p := c.peek(); p == 'e' || p == 'E' {
		c.pos++
		if p := c.peek(); p == '+' || p == '-' {
			c.pos++
		}
		if !c.digits() {
			return false
		}
	}
	return true
}

func (c *checker) peek() byte {
	if c.pos < len(c.data) {
		return c.data[c.pos]
	}
	return 0
}

// digits moves past one or more digits and reports whether there was one.
func (c *checker) digits() bool {
	start := c.pos
	for isDigit(c.peek()) {
		c.pos++
	}
	return c.pos > start
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }
