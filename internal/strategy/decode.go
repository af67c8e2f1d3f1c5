package strategy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/strictjson"
)

// listBody is what DecodeList reads.
type listBody struct {
	Strategies []Strategy `json:"strategies"`
}

// The exact field names of what the decoders read. Immutable.
var (
	listSchema = strictjson.For[listBody]()
	oneSchema  = strictjson.For[Strategy]()
)

// DecodeList reads {"strategies": [...]} strictly: unknown fields, keys
// given twice in one object and keys that match a field only in case are
// errors (a misspelt or repeated condition must not silently widen a
// strategy), and each problem names the strategy's index and field.
func DecodeList(body []byte) ([]Strategy, error) {
	if err := listSchema.Check(body); err != nil {
		return nil, apperr.Errorf(apperr.Invalid, "%v", err)
	}
	var raw struct {
		Strategies *[]json.RawMessage `json:"strategies"`
	}
	if err := decodeStrict(body, &raw); err != nil {
		return nil, apperr.Errorf(apperr.Invalid, "%s", describeJSONError("", err))
	}
	if raw.Strategies == nil {
		return nil, apperr.Errorf(apperr.Invalid, `strategies: required; send {"strategies": [...]} ([] removes every strategy)`)
	}
	out := make([]Strategy, len(*raw.Strategies))
	var problems []string
	for i, r := range *raw.Strategies {
		if err := decodeStrict(r, &out[i]); err != nil {
			problems = append(problems, describeJSONError(fmt.Sprintf("strategies[%d]", i), err))
		}
	}
	if len(problems) > 0 {
		return nil, apperr.Errorf(apperr.Invalid, "%s", strings.Join(problems, "; "))
	}
	return out, nil
}

// DecodeOne reads a single strategy as strictly as DecodeList.
func DecodeOne(body []byte) (Strategy, error) {
	var s Strategy
	if err := oneSchema.Check(body); err != nil {
		return s, apperr.Errorf(apperr.Invalid, "%v", err)
	}
	if err := decodeStrict(body, &s); err != nil {
		return s, apperr.Errorf(apperr.Invalid, "%s", describeJSONError("", err))
	}
	return s, nil
}

func decodeStrict(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return errors.New("request body is empty")
	}
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return errors.New("must be a JSON object, got null")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// describeJSONError turns a decoding error into "where.field: problem".
func describeJSONError(where string, err error) string {
	join := func(field string) string {
		switch {
		case where == "":
			return field
		case field == "":
			return where
		}
		return where + "." + field
	}
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		want := te.Type.String()
		switch want {
		case "uint64", "uint32":
			want = "a non-negative integer in range"
		case "bool":
			want = "true or false"
		case "strategy.Priority":
			want = priorityRule()
		case "[]strategy.LabelSelector":
			want = `an array of {"key": …, "value": …}`
		}
		return fmt.Sprintf("%s: must be %s, got %s", join(te.Field), want, te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("%s: Invalid JSON format: %v", cmpOr(where, "body"), err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("%s: Invalid JSON format: unexpected end of input", cmpOr(where, "body"))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return fmt.Sprintf("%s: unknown field; known fields are name, priority, execution_time, pid, selectors, namespaces, label_selector, command_regex, threads, nodes (and strategies at the top)", join(field))
	}
	return fmt.Sprintf("%s: %v", cmpOr(where, "body"), err)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
