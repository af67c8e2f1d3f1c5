package metrics

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/bss-api/bss-api/internal/apperr"
)

// MaxBatch is the largest number of samples accepted in one request.
const MaxBatch = 1000

// duplicateKey is the problem of a key given twice in one object.
const duplicateKey = "duplicate field: the key is given more than once in one object; give each key once"

const (
	maxProblems     = 20 // problems listed in one error before "and N more"
	maxIgnoredNames = 32 // distinct unknown field names reported back
)

// Batch is the result of decoding one request body.
type Batch struct {
	Samples []Sample
	// IsBatch is true when the body was a JSON array.
	IsBatch bool
	// Ignored lists the distinct unknown field names, sorted.
	Ignored []string
	// IgnoredCount counts unknown fields over all samples, duplicates included.
	IgnoredCount int
}

// Decode parses and validates a request body: one JSON object of counters, or
// a JSON array of 1 to MaxBatch such objects. Validation is all-or-nothing:
// on error no sample is returned, and the *apperr.Error (code Invalid) lists
// every problem, each naming its field. Unknown fields are not errors; their
// names are returned in Batch.Ignored.
//
// Decode is strict where encoding/json is lenient: strings, floats,
// negatives, values out of range, null and {} are errors, and so are keys
// given twice in one object (anywhere in the body) and keys that differ
// from a field's name only in case.
func Decode(data []byte) (Batch, error) {
	d := decoder{scanner: scanner{data: data}}
	d.skipWS()
	if d.pos == len(data) {
		return Batch{}, apperr.Errorf(apperr.Invalid,
			"request body is empty; send a JSON object of BSS counters, or an array of up to %d of them", MaxBatch)
	}
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		msg := "malformed JSON"
		if err != nil {
			msg = err.Error()
		}
		return Batch{}, apperr.Errorf(apperr.Invalid, "Invalid JSON format: %s", msg)
	}
	// From here on the input is known to be valid JSON, so the scanner can
	// skip values without checking their syntax again.
	switch d.peek() {
	case '{':
		d.out = make([]Sample, 1)
		d.object("", &d.out[0])
	case '[':
		d.array()
	default:
		return Batch{}, apperr.Errorf(apperr.Invalid,
			"request body must be a JSON object of BSS counters or an array of them, got %s", describe(d.value()))
	}
	if len(d.problems) > 0 {
		msg := strings.Join(d.problems, "; ")
		if d.dropped > 0 {
			msg += "; and " + strconv.Itoa(d.dropped) + " more problems"
		}
		return Batch{}, apperr.Errorf(apperr.Invalid, "%s", msg)
	}
	slices.Sort(d.ignored)
	return Batch{Samples: d.out, IsBatch: d.isBatch, Ignored: d.ignored, IgnoredCount: d.ignoredCount}, nil
}

type decoder struct {
	scanner
	out          []Sample
	isBatch      bool
	problems     []string
	dropped      int
	ignored      []string
	ignoredCount int
	unknownKeys  [][]byte // the current object's unknown keys
}

func (d *decoder) problem(where, what string) {
	if len(d.problems) == maxProblems {
		d.dropped++
		return
	}
	if where == "" {
		d.problems = append(d.problems, what)
		return
	}
	d.problems = append(d.problems, where+": "+what)
}

func (d *decoder) array() {
	d.isBatch = true
	d.pos++ // [
	d.skipWS()
	if d.peek() == ']' {
		d.problem("", "batch is empty; send 1 to "+strconv.Itoa(MaxBatch)+" metric objects")
		return
	}
	for i := 0; ; i++ {
		d.skipWS()
		if i == MaxBatch {
			d.problem("", "batch has more than "+strconv.Itoa(MaxBatch)+" items; send at most "+strconv.Itoa(MaxBatch)+" per request")
			return
		}
		prefix := "[" + strconv.Itoa(i) + "]"
		if d.peek() == '{' {
			d.out = append(d.out, Sample{})
			d.object(prefix, &d.out[len(d.out)-1])
		} else {
			d.problem(prefix, "must be a JSON object of BSS counters, got "+describe(d.value()))
		}
		d.skipWS()
		if d.next() == ']' {
			return
		}
	}
}

// object decodes the object at d.pos into s. prefix names the object in
// problems ("" for a single object, "[3]" inside a batch).
func (d *decoder) object(prefix string, s *Sample) {
	var seen [len(fields)]bool
	d.unknownKeys = d.unknownKeys[:0]
	known := 0
	d.pos++ // {
	d.skipWS()
	if d.peek() == '}' {
		d.pos++
	} else {
		for {
			d.skipWS()
			key := d.key()
			d.skipWS()
			d.pos++ // :
			d.skipWS()
			idx := lookupField(key)
			if idx < 0 {
				d.unknown(prefix, key, d.value())
			} else {
				f := &fields[idx]
				where := withPrefix(prefix, f.Name)
				raw := d.value()
				if seen[idx] {
					d.problem(where, duplicateKey)
				} else if v, msg := parseUint(raw, f.Max); msg != "" {
					d.problem(where, msg)
				} else {
					*f.get(s) = v
				}
				seen[idx] = true
				known++
			}
			d.skipWS()
			if d.next() == '}' {
				break
			}
		}
	}
	if known == 0 {
		d.problem(prefix, "no known field; send at least one of "+fieldList())
	}
}

func (d *decoder) ignore(key []byte) {
	d.ignoredCount++
	if len(d.ignored) == maxIgnoredNames {
		return
	}
	for _, name := range d.ignored {
		if name == string(key) {
			return
		}
	}
	d.ignored = append(d.ignored, string(key))
}

// key reads an object key and returns its unescaped bytes.
func (d *decoder) key() []byte {
	raw := d.value()
	inner := raw[1 : len(raw)-1]
	if !slices.Contains(inner, '\\') {
		return inner
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return inner // unreachable: the document is valid JSON
	}
	return []byte(s)
}

func withPrefix(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// parseUint reads a JSON value that must be an integer in [0, limit]. It
// returns a problem description instead of an error to keep the hot path
// free of allocations.
func parseUint(raw []byte, limit uint64) (uint64, string) {
	if len(raw) == 0 || raw[0] < '0' || raw[0] > '9' {
		return 0, "must be a non-negative integer, got " + describe(raw)
	}
	var v uint64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, "must be a non-negative integer, got " + describe(raw)
		}
		if v > (limit-uint64(c-'0'))/10 {
			return 0, "must be at most " + strconv.FormatUint(limit, 10) + ", got " + describe(raw)
		}
		v = v*10 + uint64(c-'0')
	}
	return v, ""
}

// describe renders a JSON value for an error message, shortened if long.
func describe(raw []byte) string {
	switch {
	case len(raw) == 0:
		return "nothing"
	case raw[0] == '{':
		return "an object"
	case raw[0] == '[':
		return "an array"
	}
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "…"
	}
	return string(raw)
}

func fieldList() string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// scanner walks a document already known to be valid JSON.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) next() byte {
	c := s.peek()
	s.pos++
	return c
}

func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value returns the raw bytes of the value at s.pos and moves past it.
func (s *scanner) value() []byte {
	start := s.pos
	switch s.peek() {
	case '"':
		s.skipString()
	case '{', '[':
		depth := 0
		for s.pos < len(s.data) {
			switch s.data[s.pos] {
			case '"':
				s.skipString()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.pos++
			if depth == 0 {
				break
			}
		}
	default: // number, true, false, null
		for s.pos < len(s.data) {
			switch s.data[s.pos] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return s.data[start:s.pos]
			}
			s.pos++
		}
	}
	return s.data[start:s.pos]
}

// skipString moves past the string starting at s.pos.
func (s *scanner) skipString() {
	s.pos++ // opening quote
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case '\\':
			s.pos += 2
			continue
		case '"':
			s.pos++
			return
		}
		s.pos++
	}
}
