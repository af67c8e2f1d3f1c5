// Package strategy holds scheduling strategies: the model operators write
// and its validation (model.go), the resolution of strategies into the
// PIDs running on this node (match.go), the resolver that keeps that
// resolution as a versioned snapshot the scheduler polls (resolver.go),
// and the service that writes and reads them (service.go).
package strategy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bss-api/bss-api/internal/apperr"
)

// Limits of a strategy's fields.
const (
	MinExecutionTime = 1_000          // 1 µs
	MaxExecutionTime = 10_000_000_000 // 10 s
	MaxPID           = 4_194_304      // PID_MAX_LIMIT on 64-bit
	MaxRegexBytes    = 1024
	MaxNodes         = 100 // node names in one strategy
	maxNameLength    = 253
)

// LabelSelector is the seed's equality selector: the pod label Key must
// equal Value.
type LabelSelector struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Strategy is one scheduling strategy as written by an operator. The seed's
// fields are Priority, ExecutionTime, PID and Selectors; the rest are
// additive. Every targeting condition given must hold (AND).
type Strategy struct {
	Name          string                `json:"name,omitempty"`
	Priority      bool                  `json:"priority"`
	ExecutionTime uint64                `json:"execution_time"`
	PID           uint32                `json:"pid,omitempty"`
	Selectors     []LabelSelector       `json:"selectors,omitempty"`
	Namespaces    []string              `json:"namespaces,omitempty"`
	LabelSelector *metav1.LabelSelector `json:"label_selector,omitempty"`
	CommandRegex  string                `json:"command_regex,omitempty"`
	// Threads also targets every thread (TID) of each matched process.
	Threads bool `json:"threads,omitempty"`
	// Nodes, when not empty, limits the strategy to the servers of these
	// Kubernetes nodes. It targets nothing by itself.
	Nodes []string `json:"nodes,omitempty"`
}

// compiled is a validated strategy ready to match on one node.
type compiled struct {
	Strategy
	selector  labels.Selector // selectors AND label_selector; nil: none
	regex     *regexp.Regexp  // nil: none
	ns        map[string]bool // nil: any
	elsewhere bool            // nodes does not list this node: matches nothing
}

// podConditions reports whether the strategy has conditions on the pod.
func (c *compiled) podConditions() bool { return c.selector != nil || c.ns != nil }

// DecodeList reads {"strategies": [...]} strictly: unknown fields are
// errors (a misspelt condition must not silently widen a strategy), and
// each problem names the strategy's index and field.
func DecodeList(body []byte) ([]Strategy, error) {
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

// DecodeOne reads a single strategy strictly.
func DecodeOne(body []byte) (Strategy, error) {
	var s Strategy
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

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$`)

// ValidName reports whether s can name a strategy.
func ValidName(s string) bool { return len(s) <= maxNameLength && nameRE.MatchString(s) }

// Normalize fills generated names (strategy-<n>, n the 1-based position,
// skipping names already taken) and validates the whole list against the
// rules and max. It returns every problem, each naming the strategy.
func Normalize(list []Strategy, max int) ([]Strategy, error) {
	out := make([]Strategy, len(list))
	copy(out, list)
	var problems []string
	if len(out) > max {
		problems = append(problems, fmt.Sprintf("strategies: %d given, at most %d allowed", len(out), max))
	}
	taken := map[string]int{}
	for i, s := range out {
		if s.Name == "" {
			continue
		}
		if j, dup := taken[s.Name]; dup {
			problems = append(problems, fmt.Sprintf("strategies[%d].name: %q is also the name of strategies[%d]; names must be unique", i, s.Name, j))
		}
		taken[s.Name] = i
	}
	n := 0
	for i := range out {
		if out[i].Name != "" {
			continue
		}
		for {
			n++
			name := "strategy-" + strconv.Itoa(n)
			if _, ok := taken[name]; !ok {
				out[i].Name = name
				taken[name] = i
				break
			}
		}
	}
	for i, s := range out {
		for _, p := range s.problems() {
			problems = append(problems, fmt.Sprintf("strategies[%d] (%s).%s", i, s.Name, p))
		}
	}
	if len(problems) > 0 {
		return nil, apperr.Errorf(apperr.Invalid, "%s", strings.Join(problems, "; "))
	}
	return out, nil
}

// Validate checks one strategy; the error lists every problem.
func (s Strategy) Validate() error {
	if ps := s.problems(); len(ps) > 0 {
		return apperr.Errorf(apperr.Invalid, "%s", strings.Join(ps, "; "))
	}
	return nil
}

// problems lists "field: rule" for every rule s breaks.
func (s Strategy) problems() []string {
	var ps []string
	add := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	if s.Name != "" && !ValidName(s.Name) {
		add("name: %q must be lowercase letters, digits, '-', '.' or '_', start and end alphanumeric, at most %d characters", s.Name, maxNameLength)
	}
	if s.ExecutionTime < MinExecutionTime || s.ExecutionTime > MaxExecutionTime {
		add("execution_time: must be from %d to %d nanoseconds (1µs to 10s), got %d", MinExecutionTime, uint64(MaxExecutionTime), s.ExecutionTime)
	}
	if s.PID > MaxPID {
		add("pid: must be from 1 to %d, got %d", MaxPID, s.PID)
	}
	for j, sel := range s.Selectors {
		if errs := validation.IsQualifiedName(sel.Key); len(errs) > 0 {
			add("selectors[%d].key: %q is not a label key: %s", j, sel.Key, errs[0])
		}
		if errs := validation.IsValidLabelValue(sel.Value); len(errs) > 0 {
			add("selectors[%d].value: %q is not a label value: %s", j, sel.Value, errs[0])
		}
	}
	if s.LabelSelector != nil {
		if _, err := metav1.LabelSelectorAsSelector(s.LabelSelector); err != nil {
			add("label_selector: %v", err)
		}
	}
	for j, ns := range s.Namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			add("namespaces[%d]: %q is not a namespace name: %s", j, ns, errs[0])
		}
	}
	if len(s.CommandRegex) > MaxRegexBytes {
		add("command_regex: %d bytes, at most %d allowed", len(s.CommandRegex), MaxRegexBytes)
	} else if s.CommandRegex != "" {
		if _, err := regexp.Compile(s.CommandRegex); err != nil {
			add("command_regex: %v", err)
		}
	}
	if len(s.Nodes) > MaxNodes {
		add("nodes: %d given, at most %d allowed", len(s.Nodes), MaxNodes)
	} else {
		for j, n := range s.Nodes {
			if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
				add("nodes[%d]: %q is not a node name: %s", j, n, errs[0])
			}
		}
	}
	if s.PID == 0 && len(s.Selectors) == 0 && s.LabelSelector == nil && len(s.Namespaces) == 0 && s.CommandRegex == "" {
		add("targets nothing: give pid, or at least one of selectors, label_selector, namespaces, command_regex")
	}
	return ps
}

// compile prepares a valid strategy for matching on the server of node.
func compile(s Strategy, node string) (*compiled, error) {
	c := &compiled{Strategy: s, elsewhere: len(s.Nodes) > 0 && !slices.Contains(s.Nodes, node)}
	sel := labels.NewSelector()
	for _, ls := range s.Selectors {
		r, err := labels.NewRequirement(ls.Key, "=", []string{ls.Value})
		if err != nil {
			return nil, fmt.Errorf("strategy %s: selector %s: %w", s.Name, ls.Key, err)
		}
		sel = sel.Add(*r)
	}
	if s.LabelSelector != nil {
		ks, err := metav1.LabelSelectorAsSelector(s.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("strategy %s: label_selector: %w", s.Name, err)
		}
		if reqs, _ := ks.Requirements(); len(reqs) > 0 {
			sel = sel.Add(reqs...)
		}
	}
	if !sel.Empty() {
		c.selector = sel
	}
	if s.CommandRegex != "" {
		re, err := regexp.Compile(s.CommandRegex)
		if err != nil {
			return nil, fmt.Errorf("strategy %s: command_regex: %w", s.Name, err)
		}
		c.regex = re
	}
	if len(s.Namespaces) > 0 {
		c.ns = make(map[string]bool, len(s.Namespaces))
		for _, n := range s.Namespaces {
			c.ns[n] = true
		}
	}
	return c, nil
}
