// Package strategy holds scheduling strategies: the model operators write
// and its validation (model.go), the resolution of strategies into the
// PIDs running on this node (match.go), the resolver that keeps that
// resolution as a versioned snapshot the scheduler polls (resolver.go),
// and the service that writes and reads them (service.go).
package strategy

import (
	"fmt"
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
