package strategy

import (
	"context"
	"slices"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/bss-api/bss-api/internal/podview"
)

// Entry is one resolved PID (or TID) with the strategy that won it. It is
// comparable, and must stay so: the resolver compares entries with ==
// to decide whether a resolution changed.
type Entry struct {
	PID           int
	Priority      int // level of the winning strategy, 0 to MaxPriority
	ExecutionTime uint64
	Strategy      string // name of the winning strategy
	// ThreadOf is the process a thread entry belongs to; 0 for a process.
	ThreadOf      int
	PodUID        string
	PodName       string
	Namespace     string
	ContainerName string
	Command       string
	StartTime     uint64
}

// Match is one strategy matching one PID, for explanations.
type Match struct {
	PID      int
	Strategy int // index in the strategy list
}

// Result is a resolution: entries sorted by PID, one per PID.
type Result struct {
	Entries []Entry
	// Matched and Won count, per strategy (by index), the PIDs it matched
	// and the PIDs it won. Matched is complete only with explain; without,
	// a PID stops being matched at its first strategy.
	Matched []int
	Won     []int
	// Matches lists every (PID, strategy) pair that matched, by PID then
	// strategy order; filled only when asked for.
	Matches []Match
}

// Bindings remembers, for PID strategies, the start time of the process the
// strategy was first seen to target, so a reused PID never inherits it.
// Owned by the resolver.
type Bindings map[BindingKey]uint64

// BindingKey names a PID strategy's target.
type BindingKey struct {
	Strategy string
	PID      uint32
}

// Depth says how much Resolve computes besides the entries.
type Depth int

// Resolution depths.
const (
	Winners Depth = iota // entries only: a PID stops at its first match
	Counts               // also complete Matched counts
	Explain              // also every (PID, strategy) match in Matches
)

// Resolve applies strategies (valid, in list order) to the view.
//
// Precedence: a strategy with a pid wins over strategies without one; among
// each group the first in list order wins. A PID takes the whole winning
// strategy, its priority level and execution_time together: a higher level
// in a strategy that loses does not raise it, just as a true did not
// before levels (list order is the operator's word on what wins). PID strategies target any live
// process of the node (other conditions, if given, must hold too); the
// others target only processes in pods, never a sandbox (pause) container.
// A strategy whose nodes do not list this node matches nothing.
//
// Resolve stops when ctx ends (it looks between pods and between pid
// strategies) and returns ctx's error; bind may then hold some of the
// bindings the resolution made.
func Resolve(ctx context.Context, strategies []*compiled, v *podview.View, bind Bindings, depth Depth) (Result, error) {
	explain := depth >= Counts
	res := Result{Matched: make([]int, len(strategies)), Won: make([]int, len(strategies))}
	// Commands repeat across a node's processes: each strategy's regex runs
	// once per distinct command.
	memo := make([]map[string]bool, len(strategies))
	matchesProcess := func(si int, command string) bool {
		re := strategies[si].regex
		if re == nil {
			return true
		}
		if memo[si] == nil {
			memo[si] = map[string]bool{}
		}
		m, seen := memo[si][command]
		if !seen {
			m = re.MatchString(command)
			memo[si][command] = m
		}
		return m
	}
	won := map[int]int{} // PID → index in res.Entries
	// add records that strategy si matched e and reports whether it won it.
	add := func(e Entry, si int) bool {
		res.Matched[si]++
		if depth == Explain {
			res.Matches = append(res.Matches, Match{PID: e.PID, Strategy: si})
		}
		if _, taken := won[e.PID]; taken {
			return false
		}
		s := strategies[si]
		e.Priority, e.ExecutionTime, e.Strategy = s.Priority.Level(), s.ExecutionTime, s.Name
		won[e.PID] = len(res.Entries)
		res.Entries = append(res.Entries, e)
		res.Won[si]++
		return true
	}
	// Threads follow their process: only the strategy that won a process
	// adds entries for its threads.
	addThreads := func(e Entry, threads []int, si int) {
		for _, tid := range threads {
			if tid != e.PID {
				t := e
				t.PID, t.ThreadOf = tid, e.PID
				add(t, si)
			}
		}
	}

	// Explicit PIDs first, in list order.
	for si, s := range strategies {
		if s.PID == 0 || s.elsewhere {
			continue
		}
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		pid := int(s.PID)
		proc, alive := v.Procs.Process(pid)
		if !alive || !matchesProcess(si, proc.Command) {
			continue
		}
		key := BindingKey{s.Name, s.PID}
		if start, bound := bind[key]; bound && start != proc.StartTime {
			continue // the PID was reused by another process
		}
		e := Entry{PID: pid, Command: proc.Command, StartTime: proc.StartTime}
		var threads []int
		if pod, inPod := v.PodOfPID(pid); inPod {
			pr, _ := pod.Process(pid)
			if pr == nil || !matchesPod(s, pod) {
				continue
			}
			fillPod(&e, pod, pr.ContainerID)
			threads = pr.Threads
		} else if s.podConditions() {
			continue
		} else {
			threads = v.Procs.Threads(pid)
		}
		// Bound to the first process it targets with all its conditions
		// holding, not merely the one holding the PID when it was written.
		bind[key] = proc.StartTime
		if add(e, si) && s.Threads {
			addThreads(e, threads, si)
		}
	}

	// Then selector strategies over the pods' processes, in list order.
	selectors := make([]int, 0, len(strategies))
	for si, s := range strategies {
		if s.PID == 0 && !s.elsewhere {
			selectors = append(selectors, si)
		}
	}
	if len(selectors) > 0 {
		cands := make([]int, 0, len(selectors))
		for pi := range v.Pods {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
			pod := &v.Pods[pi]
			cands = cands[:0]
			for _, si := range selectors {
				if matchesPod(strategies[si], pod) {
					cands = append(cands, si)
				}
			}
			if len(cands) == 0 {
				continue
			}
			for _, pr := range pod.Processes {
				if c, ok := pod.Container(pr.ContainerID); ok && c.Sandbox {
					continue
				}
				for _, si := range cands {
					s := strategies[si]
					if !matchesProcess(si, pr.Command) {
						continue
					}
					e := Entry{PID: pr.PID, Command: pr.Command, StartTime: pr.StartTime}
					fillPod(&e, pod, pr.ContainerID)
					if add(e, si) && s.Threads {
						addThreads(e, pr.Threads, si)
					}
					if !explain {
						break // the first match wins; later ones only matter to explain
					}
				}
			}
		}
	}
	slices.SortFunc(res.Entries, func(a, b Entry) int { return a.PID - b.PID })
	if depth == Explain {
		slices.SortFunc(res.Matches, func(a, b Match) int {
			if a.PID != b.PID {
				return a.PID - b.PID
			}
			return a.Strategy - b.Strategy
		})
	}
	return res, nil
}

func matchesPod(s *compiled, pod *podview.Pod) bool {
	if s.ns != nil && !s.ns[pod.Namespace] {
		return false
	}
	if s.selector != nil && (!pod.Known || !s.selector.Matches(labels.Set(pod.Labels))) {
		return false
	}
	if s.ns != nil && !pod.Known {
		return false
	}
	return true
}

func fillPod(e *Entry, pod *podview.Pod, containerID string) {
	e.PodUID, e.PodName, e.Namespace = pod.UID, pod.Name, pod.Namespace
	if c, ok := pod.Container(containerID); ok {
		e.ContainerName = c.Name
	}
}
