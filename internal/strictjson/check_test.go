package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

type inner struct {
	Key    string   `json:"key"`
	Values []string `json:"values,omitempty"`
}

type embedded struct {
	Promoted int `json:"promoted"`
}

type outer struct {
	embedded
	Name     string            `json:"name"`
	Flag     bool              `json:"flag"`
	Untagged int               // named Untagged
	Skipped  int               `json:"-"`
	Items    []inner           `json:"items"`
	Ptr      *inner            `json:"ptr"`
	Labels   map[string]string `json:"labels"`
	Raw      json.RawMessage   `json:"raw"`
	Any      any               `json:"any"`
	Self     *outer            `json:"self"`
}

func TestCheck(t *testing.T) {
	s := For[outer]()
	tests := []struct {
		name string
		doc  string
		want []string // problems, in order; nil: accepted
	}{
		{"exact names", `{"name":"a","flag":true,"Untagged":1,"promoted":2,"items":[{"key":"k","values":["x"]}],"ptr":{"key":"p"},"labels":{"a":"b","A":"c"},"raw":{"x":1},"any":[1,"x",null]}`, nil},
		{"unknown keys are the decoder's concern", `{"nope":1,"items":[{"other":2}]}`, nil},
		{"empty containers", `{"items":[],"labels":{},"ptr":null}`, nil},
		{"duplicate top-level key", `{"name":"a","name":"b"}`, []string{"name: the key is given more than once"}},
		{"duplicate after other keys", `{"name":"a","flag":true,"items":[],"name":"b"}`, []string{"name: the key is given more than once"}},
		{"duplicate in a nested struct", `{"items":[{"key":"a"},{"key":"b","values":[],"values":["x"]}]}`, []string{"items[1].values: the key is given more than once"}},
		{"duplicate map key", `{"labels":{"app":"a","app":"b"}}`, []string{"labels.app: the key is given more than once"}},
		{"duplicate inside a raw value", `{"raw":{"x":[{"y":1,"y":2}]}}`, []string{"raw.x[0].y: the key is given more than once"}},
		{"duplicate inside an unknown key's value", `{"nope":{"a":1,"a":1}}`, []string{"nope.a: the key is given more than once"}},
		{"duplicate spelt with an escape", `{"name":"a","n\u0061me":"b"}`, []string{"name: the key is given more than once"}},
		{"case variant", `{"Name":"a"}`, []string{`Name: unknown field; field names are case-sensitive: did you mean "name"?`}},
		{"case variant of an untagged field", `{"untagged":1}`, []string{`untagged: unknown field; field names are case-sensitive: did you mean "Untagged"?`}},
		{"case variant of a promoted field", `{"PROMOTED":1}`, []string{`did you mean "promoted"?`}},
		{"case variant in an array element", `{"items":[{"key":"a"},{"KEY":"b"}]}`, []string{`items[1].KEY: unknown field; field names are case-sensitive: did you mean "key"?`}},
		{"case variant through a pointer", `{"ptr":{"Values":[]}}`, []string{`ptr.Values: unknown field`}},
		{"case variant in a recursive type", `{"self":{"self":{"Flag":true}}}`, []string{`self.self.Flag: unknown field`}},
		{"Kelvin sign folds to k", "{\"\u212aey\":1,\"items\":[{\"\u212aey\":\"x\"}]}", []string{"items[0].\u212aey: unknown field"}},
		{"map keys are data, not fields", `{"labels":{"Name":"x"}}`, nil},
		{"a skipped field is unknown", `{"Skipped":1,"skipped":2}`, nil},
		{"both problems", `{"Name":"a","name":"b","name":"c"}`, []string{"Name: unknown field", "name: the key is given more than once"}},
		{"top-level array", `[{"name":"a"},{"name":"a","name":"b"}]`, []string{"[1].name: the key is given more than once"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Check([]byte(tt.doc))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check(%s) = %v, want nil", tt.doc, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) != len(tt.want) {
				t.Fatalf("Check(%s) = %v, want %d problems %q", tt.doc, err, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if got := e.Problems[i].String(); !strings.Contains(got, w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got, w)
				}
			}
		})
	}
}

func TestCheckTopLevelArrayOfStructs(t *testing.T) {
	s := For[[]inner]()
	err := s.Check([]byte(`[{"key":"a"},{"Key":"b"}]`))
	if err == nil || !strings.Contains(err.Error(), `[1].Key: unknown field; field names are case-sensitive: did you mean "key"?`) {
		t.Fatalf("Check = %v", err)
	}
}

func TestCheckLeavesInvalidJSONToTheDecoder(t *testing.T) {
	s := For[outer]()
	for _, doc := range []string{
		``, ` `, `{`, `{"name":"a","name":`, `{"name":"a","name":"b"`, `{"name":"a","name":"b"} x`,
		`{"name":"a","name":"b",}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":tru}`, `{"a":"\x"}`, "{\"a\":\"\x01\"}",
		`{"a":"\u12"}`, `{"a" 1}`, `{1:2}`, `[1,]`, `{"a":[1 2]}`, strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	} {
		if err := s.Check([]byte(doc)); err != nil {
			t.Errorf("Check(%.40q) = %v, want nil for invalid JSON", doc, err)
		}
	}
}

func TestCheckCapsProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"name":1`)
	for range maxProblems + 5 {
		b.WriteString(`,"name":1`)
	}
	b.WriteString(`}`)
	var e *Error
	if err := For[outer]().Check([]byte(b.String())); !errors.As(err, &e) || len(e.Problems) != maxProblems || e.More != 5 {
		t.Fatalf("Check = %v", err)
	}
	if !strings.HasSuffix(e.Error(), "; and 5 more") {
		t.Errorf("Error() = %q", e.Error())
	}
}

// TestCheckLargeObjectIsLinear gives an object more keys than the small
// set holds, with the duplicate last.
func TestCheckLargeObject(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"labels":{`)
	for i := range 1000 {
		b.WriteString(`"k` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + `_` + itoa(i) + `":"v",`)
	}
	b.WriteString(`"k_0":"v","k_0":"w"}}`)
	err := For[outer]().Check([]byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "labels.k_0: the key is given more than once") {
		t.Fatalf("Check = %v", err)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestFold(t *testing.T) {
	for _, tt := range []struct{ a, b string }{{"key", "KEY"}, {"key", "\u212aey"}, {"sa", "\u017fA"}, {"nr_queued", "NR_Queued"}} {
		if Fold(tt.a) != Fold(tt.b) {
			t.Errorf("Fold(%q) != Fold(%q)", tt.a, tt.b)
		}
	}
	if Fold("key") == Fold("kez") {
		t.Error("different names fold alike")
	}
}

// hasDuplicateKey is the oracle: encoding/json's tokenizer, with a set of
// keys per open object.
func hasDuplicateKey(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object  bool
		keys    map[string]bool
		wantKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			k := tok.(string)
			if top.keys[k] {
				return true
			}
			top.keys[k] = true
			top.wantKey = false
			continue
		}
		if top != nil && top.object {
			top.wantKey = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].wantKey = true
			}
		}
	}
}

// FuzzCheck holds Check to encoding/json: it never reports a valid-JSON
// verdict on invalid JSON, and on valid JSON it finds a duplicate key
// exactly when the oracle does.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","name":"b"}`, `{"a":{"b":1,"b":2}}`, `[{"a":1},{"a":1,"a":2}]`, `{"n\u0061me":1,"name":2}`,
		`{"Name":1}`, "{\"\xff\":1,\"\xfe\":2}", `{"a":[1,2.5e-3,-0,true,false,null,"x\"y"]}`, `{"a":1}x`, `{`, `"\ud800"`,
		`{"strategies":[{"namespaces":["safe-ns"],"namespaces":[]}]}`, `{"labels":{"a":"b","A":"c"}}`,
	} {
		f.Add([]byte(s))
	}
	s := For[outer]()
	f.Fuzz(func(t *testing.T, data []byte) {
		err := s.Check(data)
		anyErr := CheckAny(data)
		if !json.Valid(data) {
			if err != nil || anyErr != nil {
				t.Fatalf("Check(invalid %q) = %v / %v, want nil", data, err, anyErr)
			}
			return
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("Check(%q) = %v, not an *Error with problems", data, err)
			}
		}
		dup := hasDuplicateKey(data)
		if got := anyErr != nil; got != dup {
			t.Fatalf("CheckAny(%q) = %v, oracle says duplicate=%v", data, anyErr, dup)
		}
		if dup && err == nil {
			t.Fatalf("Check(%q) missed a duplicate key", data)
		}
	})
}
