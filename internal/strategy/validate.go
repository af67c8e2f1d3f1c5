package strategy

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bss-api/bss-api/internal/apperr"
)

// maxListed bounds the problems one error lists, so refusing a thousand
// bad strategies costs a readable message, not a megabyte.
const maxListed = 20

// checker holds strategies to Limits, and remembers the program size of
// each command_regex it has measured, so checking a stored set again
// (around every write) costs a lookup per expression. Safe for concurrent
// use.
type checker struct {
	lim Limits

	mu         sync.Mutex
	sizes      map[string]regexResult // by expression; cleared when full
	sizesBytes int                    // what sizes holds: expressions and problems
}

type regexResult struct {
	size    int
	problem string
}

// regexCacheSize and regexCacheBytes bound the sizes a checker
// remembers: a few stored sets' worth.
const (
	regexCacheSize  = 4096
	regexCacheBytes = 4 << 20
)

func newChecker(lim Limits) *checker {
	return &checker{lim: lim.orDefault(), sizes: map[string]regexResult{}}
}

// regexSize is the package's regexSize under c's limit, remembered.
func (c *checker) regexSize(expr string) (int, string) {
	c.mu.Lock()
	r, ok := c.sizes[expr]
	c.mu.Unlock()
	if ok {
		return r.size, r.problem
	}
	r.size, r.problem = regexSize(expr, c.lim.RegexInstructions)
	c.mu.Lock()
	if len(c.sizes) >= regexCacheSize || c.sizesBytes >= regexCacheBytes {
		clear(c.sizes)
		c.sizesBytes = 0
	}
	c.sizes[expr] = r
	c.sizesBytes += len(expr) + len(r.problem)
	c.mu.Unlock()
	return r.size, r.problem
}

// cost is what one strategy counts against the totals of Limits.
type cost struct {
	bytes int // as stored
	regex int // its command_regex's program
}

// strategy lists "field: rule" for every rule s breaks on its own, and
// what it costs. A list over its limit is not looked into, and neither is
// a command_regex over its length, so a refusal costs no more than the
// limits allow.
func (c *checker) strategy(s Strategy) ([]string, cost) {
	if s.unreadable != "" {
		return []string{"unreadable: " + s.unreadable}, cost{bytes: s.storedBytes}
	}
	lim := c.lim
	var ps []string
	var sc cost
	add := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	fits := func(field string, n int) bool {
		if n > lim.ListItems {
			add("%s: %d given, at most %d allowed (%s)", field, n, lim.ListItems, FlagListItems)
			return false
		}
		return true
	}
	if s.Name != "" && !ValidName(s.Name) {
		add("name: %q must be lowercase letters, digits, '-', '.' or '_', start and end alphanumeric, at most %d characters", s.Name, maxNameLength)
	}
	if s.ExecutionTime < MinExecutionTime || s.ExecutionTime > MaxExecutionTime {
		add("execution_time: must be from %d to %d nanoseconds (1µs to 10s), got %d", MinExecutionTime, uint64(MaxExecutionTime), s.ExecutionTime)
	}
	if l := s.Priority.Level(); l < 0 || l > MaxPriority {
		add("priority: must be %s, got %d", priorityRule(), l)
	}
	if s.PID > MaxPID {
		add("pid: must be from 1 to %d, got %d", MaxPID, s.PID)
	}
	if fits("selectors", len(s.Selectors)) {
		for j, sel := range s.Selectors {
			if errs := validation.IsQualifiedName(sel.Key); len(errs) > 0 {
				add("selectors[%d].key: %q is not a label key: %s", j, sel.Key, errs[0])
			}
			if errs := validation.IsValidLabelValue(sel.Value); len(errs) > 0 {
				add("selectors[%d].value: %q is not a label value: %s", j, sel.Value, errs[0])
			}
		}
	}
	if ls := s.LabelSelector; ls != nil && c.labelSelectorFits(ls, fits) {
		if _, err := metav1.LabelSelectorAsSelector(ls); err != nil {
			add("label_selector: %v", err)
		}
	}
	if fits("namespaces", len(s.Namespaces)) {
		for j, ns := range s.Namespaces {
			if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
				add("namespaces[%d]: %q is not a namespace name: %s", j, ns, errs[0])
			}
		}
	}
	if len(s.CommandRegex) > lim.RegexBytes {
		add("command_regex: %d bytes, at most %d allowed (%s)", len(s.CommandRegex), lim.RegexBytes, FlagRegexBytes)
	} else if s.CommandRegex != "" {
		if size, problem := c.regexSize(s.CommandRegex); problem != "" {
			add("command_regex: %s", problem)
		} else {
			sc.regex = size
		}
	}
	if fits("nodes", len(s.Nodes)) {
		for j, n := range s.Nodes {
			if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
				add("nodes[%d]: %q is not a node name: %s", j, n, errs[0])
			}
		}
	}
	if s.PID == 0 && len(s.Selectors) == 0 && s.LabelSelector == nil && len(s.Namespaces) == 0 && s.CommandRegex == "" {
		add("targets nothing: give pid, or at least one of selectors, label_selector, namespaces, command_regex")
	}
	sc.bytes = storedSize(s)
	if sc.bytes > MaxDefinitionBytes {
		add("%d bytes as stored, at most %d a strategy may have", sc.bytes, MaxDefinitionBytes)
	}
	return ps, sc
}

// labelSelectorFits reports whether every list of ls is within the
// limit, each one over it reported through fits.
func (c *checker) labelSelectorFits(ls *metav1.LabelSelector, fits func(string, int) bool) bool {
	ok := fits("label_selector.matchLabels", len(ls.MatchLabels))
	if !fits("label_selector.matchExpressions", len(ls.MatchExpressions)) {
		return false
	}
	for j, e := range ls.MatchExpressions {
		ok = fits("label_selector.matchExpressions["+strconv.Itoa(j)+"].values", len(e.Values)) && ok
	}
	return ok
}

// problemList gathers the problems of a list, and lists at most maxListed.
type problemList struct {
	listed []string
	more   int
}

func (p *problemList) add(format string, args ...any) {
	if len(p.listed) == maxListed {
		p.more++
		return
	}
	p.listed = append(p.listed, fmt.Sprintf(format, args...))
}

// err returns the problems as one Invalid error, or nil.
func (p *problemList) err() error {
	if len(p.listed) == 0 {
		return nil
	}
	msg := strings.Join(p.listed, "; ")
	if p.more > 0 {
		msg += "; and " + strconv.Itoa(p.more) + " more problems"
	}
	return apperr.Errorf(apperr.Invalid, "%s", msg)
}

// totals reports what a whole list breaks of the limits on the stored
// set, given its count and summed costs.
func (c *checker) totals(p *problemList, n int, sum cost) {
	lim := c.lim
	if n > lim.Strategies {
		p.add("strategies: %d given, at most %d allowed (%s)", n, lim.Strategies, FlagStrategies)
	}
	if int64(sum.bytes) > lim.Bytes {
		p.add("strategies: %d bytes as stored in all, at most %d allowed (%s)", sum.bytes, lim.Bytes, FlagBytes)
	}
	if sum.regex > lim.TotalRegexInstructions {
		p.add("strategies: their command_regex programs have %d instructions in all, at most %d allowed (%s)",
			sum.regex, lim.TotalRegexInstructions, FlagTotalRegexInstructions)
	}
}

// Normalize fills generated names (strategy-<n>, n the 1-based position,
// skipping names already taken) and checks the whole list against lim
// (zero: DefaultLimits). It returns every problem (the first maxListed),
// each naming the strategy.
func Normalize(list []Strategy, lim Limits) ([]Strategy, error) {
	return newChecker(lim).normalize(list, nil)
}

// normalize is Normalize; stamp, if not nil, changes the named list in
// place before it is checked, so what is checked is what is stored.
func (c *checker) normalize(list []Strategy, stamp func([]Strategy) error) ([]Strategy, error) {
	out := make([]Strategy, len(list))
	copy(out, list)
	var p problemList
	taken := map[string]int{}
	for i, s := range out {
		if s.Name == "" {
			continue
		}
		if j, dup := taken[s.Name]; dup {
			p.add("strategies[%d].name: %q is also the name of strategies[%d]; names must be unique", i, s.Name, j)
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
	if stamp != nil {
		if err := stamp(out); err != nil {
			return nil, err
		}
	}
	var sum cost
	type where struct {
		i       int
		problem string
	}
	var each []where
	for i, s := range out {
		ps, sc := c.strategy(s)
		for _, problem := range ps {
			each = append(each, where{i, problem})
		}
		sum.bytes += sc.bytes
		sum.regex += sc.regex
	}
	c.totals(&p, len(out), sum) // first: they say most about a long list
	for _, w := range each {
		p.add("strategies[%d] (%s).%s", w.i, out[w.i].Name, w.problem)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Validate checks one strategy on its own against lim (zero:
// DefaultLimits); the error lists every problem.
func (s Strategy) Validate(lim Limits) error {
	return newChecker(lim).validate(s)
}

func (c *checker) validate(s Strategy) error {
	ps, _ := c.strategy(s)
	var p problemList
	for _, problem := range ps {
		p.add("%s", problem)
	}
	return p.err()
}

// admit checks the list a write of one strategy would store (all of it,
// as stored): the limits on the stored set hold. Strategies that break a
// limit on their own are not applied, so their command_regex costs
// nothing; their bytes and their place count. A store calls it inside the
// write's transaction (Store.Put).
func (c *checker) admit(list []Strategy) error {
	var sum cost
	unreadable, unreadableBytes := 0, 0
	for _, s := range list {
		sum.bytes += storedSize(s)
		if s.unreadable != "" {
			unreadable++
			unreadableBytes += s.storedBytes
		}
		if s.unreadable == "" && s.CommandRegex != "" && len(s.CommandRegex) <= c.lim.RegexBytes {
			if size, problem := c.regexSize(s.CommandRegex); problem == "" {
				sum.regex += size
			}
		}
	}
	var p problemList
	c.totals(&p, len(list), sum)
	if len(p.listed) > 0 && unreadable > 0 {
		p.add("%d stored strategies cannot be read (GET /health names them) and take %d bytes: delete them, or replace the whole list",
			unreadable, unreadableBytes)
	}
	return p.err()
}

// Skipped is a stored strategy that is not applied, and why.
type Skipped struct {
	Name   string
	Reason string
}

// inForce returns the strategies of a stored list that may be applied, in
// order, and the others with why: those that break a limit on their own
// (or cannot be read, or repeat an earlier name), and those that would
// take the ones in force past a limit on the set. A set written through
// this version's writes loses only strategies of the first kind.
func (c *checker) inForce(list []Strategy) (kept []Strategy, skipped []Skipped) {
	return c.inForceWith(list, c.strategy)
}

// inForceWith is inForce taking each strategy's own problems and cost
// from own, which must answer as c.strategy does (the resolver answers
// from what it checked at its previous read).
func (c *checker) inForceWith(list []Strategy, own func(Strategy) ([]string, cost)) (kept []Strategy, skipped []Skipped) {
	lim := c.lim
	var sum cost
	names := make(map[string]bool, len(list))
	kept = make([]Strategy, 0, len(list))
	for _, s := range list {
		ps, sc := own(s)
		var why string
		switch {
		case len(ps) > 0:
			why = strings.Join(ps, "; ")
		case s.Name == "":
			why = "it has no name"
		case names[s.Name]:
			why = "an earlier stored strategy has the same name"
		case len(kept) == lim.Strategies:
			why = fmt.Sprintf("past the first %d strategies (%s)", lim.Strategies, FlagStrategies)
		case int64(sum.bytes+sc.bytes) > lim.Bytes:
			why = fmt.Sprintf("the strategies before it and it take %d bytes as stored, at most %d allowed (%s)", sum.bytes+sc.bytes, lim.Bytes, FlagBytes)
		case sum.regex+sc.regex > lim.TotalRegexInstructions:
			why = fmt.Sprintf("the command_regex programs before it and its own take %d instructions, at most %d allowed (%s)",
				sum.regex+sc.regex, lim.TotalRegexInstructions, FlagTotalRegexInstructions)
		}
		if why != "" {
			skipped = append(skipped, Skipped{Name: s.Name, Reason: why})
			continue
		}
		names[s.Name] = true
		kept = append(kept, s)
		sum.bytes += sc.bytes
		sum.regex += sc.regex
	}
	return kept, skipped
}
