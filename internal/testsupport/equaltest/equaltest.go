// Package equaltest checks hand-written Equal methods against the fields of
// their type, so that a field added later without a comparison (or a test
// case) fails a test instead of silently never counting as a change.
package equaltest

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Change is one edit of a value, named by the field path it touches in the
// notation of Fields, e.g. "Containers.PIDs".
type Change[T any] struct {
	Field string
	Apply func(*T)
}

// Cases are the edits an Equal method must notice and those it must
// ignore. Together they must name every field path of T; an ignored path
// covers the paths below it.
type Cases[T any] struct {
	Notice []Change[T]
	Ignore []Change[T]
}

// Run checks that equal holds between two values from base (which must
// return a fresh value on every call, since changes modify it), that each
// Notice change makes equal false both ways, that each Ignore change keeps
// it true, and that the cases name every field path of T.
func Run[T any](t *testing.T, base func() T, equal func(a, b T) bool, cases Cases[T]) {
	t.Helper()
	if !equal(base(), base()) {
		t.Fatal("two values from base are not equal")
	}
	for _, c := range cases.Notice {
		changed := base()
		c.Apply(&changed)
		if equal(base(), changed) || equal(changed, base()) {
			t.Errorf("a change of %s is not noticed", c.Field)
		}
	}
	for _, c := range cases.Ignore {
		changed := base()
		c.Apply(&changed)
		if !equal(base(), changed) || !equal(changed, base()) {
			t.Errorf("a change of %s is noticed, but should not count", c.Field)
		}
	}
	for _, f := range Fields(reflect.TypeFor[T]()) {
		if !covered(f, cases) {
			t.Errorf("field %s has no test case: does Equal compare it?", f)
		}
	}
}

func covered[T any](field string, cases Cases[T]) bool {
	if slices.ContainsFunc(cases.Notice, func(c Change[T]) bool { return c.Field == field }) {
		return true
	}
	return slices.ContainsFunc(cases.Ignore, func(c Change[T]) bool {
		return c.Field == field || strings.HasPrefix(field, c.Field+".")
	})
}

// Fields lists the field paths of struct type t. Fields of nested structs,
// and of the struct elements of slices and maps, are listed below their
// field ("Containers", "Containers.ID"); an embedded struct is named by its
// type ("Proc.PID"). Unexported fields are left out.
func Fields(t reflect.Type) []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			if !f.IsExported() {
				continue
			}
			name := prefix + f.Name
			ft := f.Type
			if !f.Anonymous {
				out = append(out, name)
			}
			if k := ft.Kind(); k == reflect.Slice || k == reflect.Map || k == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft.PkgPath() != "time" {
				walk(ft, name+".")
			}
		}
	}
	walk(t, "")
	return out
}
