// Package strategy holds scheduling strategies: the model operators write
// and its validation (model.go), the resolution of strategies into the
// PIDs running on this node (match.go), the resolver that keeps that
// resolution as a versioned snapshot the scheduler polls (resolver.go),
// and the service that writes and reads them (service.go).
package strategy

import (
	"fmt"
	"maps"
	"regexp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Ranges of a strategy's fields; what a strategy may cost is in Limits.
const (
	MinExecutionTime = 1_000          // 1 µs
	MaxExecutionTime = 10_000_000_000 // 10 s
	MaxPID           = 4_194_304      // PID_MAX_LIMIT on 64-bit
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
	Priority      Priority              `json:"priority"`
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

	// unreadable says why a stored definition could not be read, and
	// storedBytes is then its size (see UnmarshalStored).
	unreadable  string
	storedBytes int
}

// Equal reports whether s and o are the same definition, down to how
// each was written and read (the priority's form, an unreadable stored
// row's reason).
func (s Strategy) Equal(o Strategy) bool {
	return s.Name == o.Name && s.Priority == o.Priority && s.ExecutionTime == o.ExecutionTime && s.PID == o.PID &&
		s.CommandRegex == o.CommandRegex && s.Threads == o.Threads &&
		s.unreadable == o.unreadable && s.storedBytes == o.storedBytes &&
		slices.Equal(s.Selectors, o.Selectors) && slices.Equal(s.Namespaces, o.Namespaces) &&
		slices.Equal(s.Nodes, o.Nodes) && equalLabelSelector(s.LabelSelector, o.LabelSelector)
}

func equalLabelSelector(a, b *metav1.LabelSelector) bool {
	if a == nil || b == nil {
		return a == b
	}
	return maps.Equal(a.MatchLabels, b.MatchLabels) &&
		slices.EqualFunc(a.MatchExpressions, b.MatchExpressions, func(x, y metav1.LabelSelectorRequirement) bool {
			return x.Key == y.Key && x.Operator == y.Operator && slices.Equal(x.Values, y.Values)
		})
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
