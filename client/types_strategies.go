package client

// Strategy is one strategy as an operator writes it: a priority and a time
// slice for the processes it targets. It must target something: a PID, or
// at least one of Selectors, LabelSelector, Namespaces, CommandRegex.
// The server rejects unknown fields, so only these are sent.
type Strategy struct {
	// Name is unique; the server generates "strategy-<n>" when empty.
	Name     string   `json:"name,omitempty"`
	Priority Priority `json:"priority"`
	// ExecutionTime is the time slice in nanoseconds (1,000 to 10^10).
	ExecutionTime uint64 `json:"execution_time"`
	PID           uint32 `json:"pid,omitempty"`
	// Selectors are label equalities the pod must all have.
	Selectors     []Selector     `json:"selectors,omitempty"`
	Namespaces    []string       `json:"namespaces,omitempty"`
	LabelSelector *LabelSelector `json:"label_selector,omitempty"`
	CommandRegex  string         `json:"command_regex,omitempty"` // RE2, matched against the command
	Threads       bool           `json:"threads,omitempty"`       // also emit every thread of a process won
	Nodes         []string       `json:"nodes,omitempty"`         // narrows to these nodes' servers
}

// Selector is the seed's label equality.
type Selector struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// LabelSelector is a Kubernetes label selector (metav1.LabelSelector's
// wire form), ANDed with a strategy's Selectors.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one expression: Operator is In, NotIn,
// Exists or DoesNotExist.
type LabelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// Definition is a stored strategy as read back. A stored definition the
// server cannot read has only Name and Unreadable (why).
type Definition struct {
	Strategy
	Unreadable string `json:"unreadable,omitempty"`
}

// Definitions answers GET /api/v1/scheduling/strategies/definitions.
type Definitions struct {
	Envelope
	Strategies []Definition `json:"strategies"`
}

// Stamp says which nodes the server gave a pid strategy written without
// any (a PID means something on one node only).
type Stamp struct {
	Strategy string   `json:"strategy"`
	Nodes    []string `json:"nodes"`
}

// SaveResult answers a replace-all POST of strategies.
type SaveResult struct {
	Envelope
	Saved      int      `json:"saved"`
	Strategies []string `json:"strategies"` // the names, generated ones included
	Stamped    []Stamp  `json:"stamped,omitempty"`
}

// DefinitionResult answers a PUT of one definition.
type DefinitionResult struct {
	Envelope
	Strategy Definition `json:"strategy"` // as stored
	Stamped  []Stamp    `json:"stamped,omitempty"`
	// Created is true when the PUT created the strategy (201), false when
	// it replaced one (200).
	Created bool `json:"-"`
}

// Strategies is the resolved answer of GET /api/v1/scheduling/strategies:
// one entry per PID, sorted by PID. A successful answer is always complete:
// a PID that is not listed gets no boost.
type Strategies struct {
	Envelope
	Version    uint64            `json:"version"`
	ResolvedAt string            `json:"resolved_at"`
	Scheduling []SchedulingEntry `json:"scheduling"`
	// ETag is the answer's entity tag, to send back with IfNoneMatch.
	ETag string `json:"-"`
}

// SchedulingEntry is what the scheduler applies to one PID. The fields
// after PID are filled only with Verbose.
type SchedulingEntry struct {
	Priority      Priority `json:"priority"`
	ExecutionTime uint64   `json:"execution_time"` // ns
	PID           int      `json:"pid"`

	Strategy      string `json:"strategy,omitempty"`
	PodUID        string `json:"pod_uid,omitempty"`
	PodName       string `json:"pod_name,omitempty"`
	Namespace     string `json:"namespace,omitempty"`
	ContainerName string `json:"container_name,omitempty"`
	Command       string `json:"command,omitempty"`
	StartTime     uint64 `json:"start_time,omitempty"`
	ThreadOf      int    `json:"thread_of,omitempty"` // the process of a thread entry
}

// StrategyCount says how many PIDs a strategy matched and how many it won.
type StrategyCount struct {
	Name    string `json:"name"`
	Matched int    `json:"matched"`
	Won     int    `json:"won"`
}

// Preview answers a preview: what a list would resolve to, unsaved.
type Preview struct {
	Envelope
	Scheduling []SchedulingEntry `json:"scheduling"`
	Strategies []StrategyCount   `json:"strategies"`
	Stamped    []Stamp           `json:"stamped,omitempty"` // as a save would stamp
}

// Explanation answers GET /api/v1/scheduling/strategies/explain.
type Explanation struct {
	Envelope
	Version    uint64          `json:"version"`
	PIDs       []ExplainedPID  `json:"pids"`
	Strategies []StrategyCount `json:"strategies"`
}

// ExplainedPID lists every strategy that matched one PID, and the winner.
type ExplainedPID struct {
	PID           int      `json:"pid"`
	ThreadOf      int      `json:"thread_of,omitempty"`
	PodUID        string   `json:"pod_uid"`
	PodName       string   `json:"pod_name"`
	Namespace     string   `json:"namespace"`
	ContainerName string   `json:"container_name"`
	Command       string   `json:"command"`
	Matched       []string `json:"matched"`
	Winner        string   `json:"winner"`
}
