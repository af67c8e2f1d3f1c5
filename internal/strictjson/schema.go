// Package strictjson finds what encoding/json lets through silently in a
// request body: a key given twice in one object (encoding/json keeps the
// last one) and a key that names a field only when case is ignored
// (encoding/json matches field names case-insensitively). Either way what
// a reviewer reads in the body can differ from what the server decodes, so
// the server refuses both.
//
// A Schema holds the exact JSON names of a Go type's fields, nested types
// included; Check walks a document once against it. Unknown keys are not
// its concern: the decoder that follows decides about those.
package strictjson

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Schema is what Check knows about a Go type: for each JSON object the
// type decodes into, the exact names of its fields. It is immutable, so
// one Schema may be shared by any number of goroutines.
type Schema struct {
	root *node
}

// node describes the values one Go type accepts. A nil node accepts any
// value: only duplicate keys are checked inside it.
type node struct {
	// fields maps a struct's JSON field names to their values' nodes;
	// folded maps each name's case-folded form back to the name. Both
	// are nil for anything but a struct.
	fields map[string]*node
	folded map[string]string
	// elem describes the elements of an array and the values of a map
	// (whose keys are data, so only their duplicates matter).
	elem *node
}

// For returns the schema of T, the type a body is decoded into.
func For[T any]() *Schema {
	return &Schema{root: build(reflect.TypeFor[T](), map[reflect.Type]*node{})}
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// build returns the node of t. seen holds the nodes of the struct types
// being built, so recursive types end.
func build(t reflect.Type, seen map[reflect.Type]*node) *node {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// A type that decodes itself reads its JSON its own way.
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n, ok := seen[t]; ok {
			return n
		}
		n := &node{fields: map[string]*node{}, folded: map[string]string{}}
		seen[t] = n
		addFields(n, t, seen)
		return n
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 { // []byte is a base64 string
			return nil
		}
		return &node{elem: build(t.Elem(), seen)}
	case reflect.Map:
		return &node{elem: build(t.Elem(), seen)}
	}
	return nil
}

// addFields adds t's fields to n as encoding/json names them: the tag's
// name, else the Go name; "-" skipped; untagged embedded structs promote
// their fields.
func addFields(n *node, t reflect.Type, seen map[reflect.Type]*node) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			addFields(n, ft, seen)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := n.fields[name]; dup { // the outer struct's field wins
			continue
		}
		n.fields[name] = build(f.Type, seen)
		n.folded[Fold(name)] = name
	}
}

// Fold returns name in the form encoding/json compares field names in: two
// names match a field alike exactly when their Fold is equal (each letter
// stands for its whole case-folding set, so "K", "k" and the Kelvin sign
// fold alike).
func Fold(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteByte(byte(r))
			continue
		}
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldRune returns the smallest rune of r's case-folding set, as
// encoding/json does.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
