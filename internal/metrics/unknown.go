package metrics

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bss-api/bss-api/internal/strictjson"
)

// Strict JSON in the decoder: what it does with a key that names no field.

// unknown handles a key that names no field, with its value raw. It is
// ignored (and reported back) unless it is strict JSON's business: a key
// that names a field only when case is ignored (encoding/json would read
// it as that field, so a client may mean it), a key given twice in the
// object (d.unknownKeys holds the object's unknown keys so far), or a
// value with a key given twice inside it.
func (d *decoder) unknown(prefix string, key, raw []byte) {
	if f := foldedField(key); f >= 0 {
		d.problem(withPrefix(prefix, string(key)), "unknown field; field names are case-sensitive: did you mean "+strconv.Quote(fields[f].Name)+"?")
		return
	}
	for _, k := range d.unknownKeys {
		if string(k) == string(key) {
			d.problem(withPrefix(prefix, string(key)), duplicateKey)
			return
		}
	}
	d.unknownKeys = append(d.unknownKeys, key)
	if raw[0] == '{' || raw[0] == '[' {
		if err := strictjson.CheckAny(raw); err != nil {
			if e, ok := errors.AsType[*strictjson.Error](err); ok {
				for _, p := range e.Problems {
					d.problem(withPrefix(prefix, string(key))+pathSep(p.Path)+p.Path, duplicateKey)
				}
			}
			return
		}
	}
	d.ignore(key)
}

// pathSep joins a path inside a value to the value's key.
func pathSep(inner string) string {
	if strings.HasPrefix(inner, "[") {
		return ""
	}
	return "."
}

// foldedNames are the fields' names as encoding/json compares them
// case-insensitively. Never modified.
var foldedNames = func() (out [len(fields)]string) {
	for i, f := range fields {
		out[i] = strictjson.Fold(f.Name)
	}
	return out
}()

// foldedField returns the index of the field key names when case is
// ignored, or -1. The names are ASCII, so an ASCII key is compared byte
// by byte, without allocating; only a key with other characters (which
// may fold to ASCII letters, as the Kelvin sign does to k) is folded.
func foldedField(key []byte) int {
	ascii := true
	for _, c := range key {
		ascii = ascii && c < utf8.RuneSelf
	}
	if ascii {
		for i := range fields {
			if asciiEqualFold(fields[i].Name, key) {
				return i
			}
		}
		return -1
	}
	folded := strictjson.Fold(string(key))
	for i, name := range foldedNames {
		if folded == name {
			return i
		}
	}
	return -1
}

// asciiEqualFold reports whether the ASCII strings name and key are equal
// with case ignored.
func asciiEqualFold(name string, key []byte) bool {
	if len(name) != len(key) {
		return false
	}
	for i := range len(name) {
		a, b := name[i], key[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}
