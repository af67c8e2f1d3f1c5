package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/strategy"
)

// Resolution serves the current resolution of the stored strategies.
type Resolution interface {
	// Snapshot returns the current resolution, or nil before the first:
	// the first is complete (every process scanned, the pods' metadata
	// known, the stored strategies read), so until then GET answers 503.
	Snapshot() *strategy.Snapshot
	// Pending lists what the first resolution waits for, in words, while
	// Snapshot is nil.
	Pending() []string
	// Next returns a channel closed once a resolution with a new Version
	// is published; it is called before Snapshot.
	Next() <-chan struct{}
}

// notResolvedRetry is the Retry-After of a GET before the first
// resolution.
const notResolvedRetry = time.Second

// notResolved is the answer before the first resolution: 503 with what
// is missing, which every scheduler client takes as "keep the map you
// have".
func notResolved(res Resolution) error {
	why := "retry in a moment"
	if missing := res.Pending(); len(missing) > 0 {
		why = "waiting for " + strings.Join(missing, "; ")
	}
	err := apperr.Errorf(apperr.Unavailable, "strategies are not resolved yet (%s); a partial answer is never served", why)
	err.RetryAfter = notResolvedRetry
	return err
}

// StrategyService writes and reads the stored strategies and resolves
// lists on demand.
type StrategyService interface {
	strategyReplacer
	definitionReader
	definitionPutter
	definitionDeleter
	previewer
	explainer
}

type previewer interface {
	// PreviewDecoded resolves the list decode returns without saving it;
	// it calls decode only once it may resolve.
	PreviewDecoded(ctx context.Context, decode func() ([]strategy.Strategy, error)) (*strategy.Snapshot, []strategy.Stamp, error)
}

type explainer interface {
	// Explain resolves again, recording every match.
	Explain(ctx context.Context) (*strategy.Snapshot, error)
}

// schedulingEntry is the seed's entry, its priority in either form (see
// PriorityFormat); verbose adds the rest.
type schedulingEntry[P bool | int] struct {
	Priority      P      `json:"priority"`
	ExecutionTime uint64 `json:"execution_time"`
	PID           int    `json:"pid"`
	*entryDetail
}

type entryDetail struct {
	Strategy      string `json:"strategy"`
	PodUID        string `json:"pod_uid"`
	PodName       string `json:"pod_name"`
	Namespace     string `json:"namespace"`
	ContainerName string `json:"container_name"`
	Command       string `json:"command"`
	StartTime     uint64 `json:"start_time"`
	ThreadOf      int    `json:"thread_of,omitempty"`
}

// schedulingEntries renders entries with each level as priority gives it.
// The slice is never nil: a scheduler keeps old strategies on null.
func schedulingEntries[P bool | int](entries []strategy.Entry, verbose bool, priority func(level int) P) []schedulingEntry[P] {
	out := make([]schedulingEntry[P], len(entries))
	for i, e := range entries {
		out[i] = schedulingEntry[P]{Priority: priority(e.Priority), ExecutionTime: e.ExecutionTime, PID: e.PID}
		if verbose {
			out[i].entryDetail = &entryDetail{Strategy: e.Strategy, PodUID: e.PodUID, PodName: e.PodName,
				Namespace: e.Namespace, ContainerName: e.ContainerName, Command: e.Command, StartTime: e.StartTime, ThreadOf: e.ThreadOf}
		}
	}
	return out
}

type schedulingResponse struct {
	envelope
	Version    uint64 `json:"version"`
	ResolvedAt string `json:"resolved_at"`
	Scheduling any    `json:"scheduling"` // PriorityFormat.entries
}

// getResolved serves what the scheduler polls: the current resolution,
// encoded once per version and second for each of its two forms. With
// ?wait= it is a blocking query (see watcher.hold).
func getResolved(res Resolution, format PriorityFormat, tags etags, watch *watcher, maxCached int64, now func() time.Time, rs responder) http.Handler {
	cache := &bodyCache{max: maxCached} // [0] plain, [1] verbose
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseWatch(r, watch.opts.MaxWait)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		verbose := false
		if raw := r.URL.Query().Get("verbose"); raw != "" {
			b, err := strconv.ParseBool(raw)
			if err != nil {
				rs.error(w, r, apperr.Errorf(apperr.Invalid, "verbose: must be true or false, got %q", raw))
				return
			}
			verbose = b
		}
		snap := res.Snapshot()
		if snap == nil {
			rs.error(w, r, notResolved(res))
			return
		}
		query := representationQuery(r.URL.RawQuery)
		c, answer := watch.hold(w, r, r.Pattern, q, res.Next, func() current {
			snap = res.Snapshot()
			return current{version: snap.Version, tag: tags.of(snap.Version, query)}
		})
		if !answer || answeredCurrent(w, q, c) {
			return
		}
		slot := 0
		if verbose {
			slot = 1
		}
		at := now()
		cb, err := cache.get(slot, snap.Version, at.Unix(), func() ([]byte, error) {
			return json.Marshal(schedulingResponse{
				envelope:   ok(at, "Scheduling strategies retrieved successfully"),
				Version:    snap.Version,
				ResolvedAt: snap.ResolvedAt.UTC().Format(time.RFC3339Nano),
				Scheduling: format.entries(snap.Entries, verbose),
			})
		})
		if err != nil {
			rs.error(w, r, fmt.Errorf("encode strategies: %w", err))
			return
		}
		writeBody(w, r, cb)
	})
}

type strategyCount struct {
	Name    string `json:"name"`
	Matched int    `json:"matched"`
	Won     int    `json:"won"`
}

func counts(snap *strategy.Snapshot) []strategyCount {
	out := make([]strategyCount, len(snap.Strategies))
	for i, st := range snap.Strategies {
		out[i] = strategyCount{Name: st.Name, Matched: snap.Matched[i], Won: snap.Won[i]}
	}
	return out
}

type previewResponse struct {
	envelope
	Scheduling any              `json:"scheduling"` // PriorityFormat.entries
	Strategies []strategyCount  `json:"strategies"`
	Stamped    []strategy.Stamp `json:"stamped,omitempty"` // as a save would stamp
}

func postPreview(p previewer, format PriorityFormat, limit int64, now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readJSONBody(w, r, limit)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		snap, stamped, err := p.PreviewDecoded(r.Context(), func() ([]strategy.Strategy, error) {
			return strategy.DecodeList(body)
		})
		if err != nil {
			rs.error(w, r, err)
			return
		}
		rs.json(w, r, http.StatusOK, previewResponse{
			envelope:   ok(now(), "Scheduling strategies previewed; nothing was saved"),
			Scheduling: format.entries(snap.Entries, true),
			Strategies: counts(snap),
			Stamped:    stamped,
		})
	})
}

type explainedPID struct {
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

type explainResponse struct {
	envelope
	Version    uint64          `json:"version"`
	PIDs       []explainedPID  `json:"pids"`
	Strategies []strategyCount `json:"strategies"`
}

func getExplain(e explainer, now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap, err := e.Explain(r.Context())
		if err != nil {
			rs.error(w, r, err)
			return
		}
		rs.json(w, r, http.StatusOK, explainResponse{
			envelope: ok(now(), "Scheduling strategies explained successfully"),
			Version:  snap.Version, PIDs: explainedPIDs(snap), Strategies: counts(snap),
		})
	})
}

// explainedPIDs lists, per resolved PID, every strategy that matched it.
func explainedPIDs(snap *strategy.Snapshot) []explainedPID {
	pids := make([]explainedPID, len(snap.Entries))
	index := make(map[int]int, len(snap.Entries))
	for i, e := range snap.Entries {
		pids[i] = explainedPID{PID: e.PID, ThreadOf: e.ThreadOf, PodUID: e.PodUID, PodName: e.PodName, Namespace: e.Namespace,
			ContainerName: e.ContainerName, Command: e.Command, Matched: []string{}, Winner: e.Strategy}
		index[e.PID] = i
	}
	for _, m := range snap.Matches {
		if i, ok := index[m.PID]; ok {
			pids[i].Matched = append(pids[i].Matched, snap.Strategies[m.Strategy].Name)
		}
	}
	return pids
}
