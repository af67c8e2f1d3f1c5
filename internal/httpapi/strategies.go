package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/strategy"
)

// StrategyService stores strategies and serves their resolution.
type StrategyService interface {
	// Snapshot returns the current resolution, or nil before the first.
	Snapshot() *strategy.Snapshot
	Definitions(ctx context.Context) ([]strategy.Strategy, error)
	ReplaceAll(ctx context.Context, list []strategy.Strategy) ([]strategy.Strategy, error)
	Put(ctx context.Context, s strategy.Strategy) (created bool, err error)
	Delete(ctx context.Context, name string) error
	Preview(ctx context.Context, list []strategy.Strategy) (*strategy.Snapshot, error)
	// Explain resolves again, recording every match.
	Explain(ctx context.Context) (*strategy.Snapshot, error)
}

// schedulingEntry is the seed's entry; verbose adds the rest.
type schedulingEntry struct {
	Priority      bool   `json:"priority"`
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

func schedulingEntries(entries []strategy.Entry, verbose bool) []schedulingEntry {
	out := make([]schedulingEntry, len(entries)) // never nil: a scheduler keeps old strategies on null
	for i, e := range entries {
		out[i] = schedulingEntry{Priority: e.Priority, ExecutionTime: e.ExecutionTime, PID: e.PID}
		if verbose {
			out[i].entryDetail = &entryDetail{Strategy: e.Strategy, PodUID: e.PodUID, PodName: e.PodName,
				Namespace: e.Namespace, ContainerName: e.ContainerName, Command: e.Command, StartTime: e.StartTime, ThreadOf: e.ThreadOf}
		}
	}
	return out
}

type schedulingResponse struct {
	envelope
	Version    uint64            `json:"version"`
	ResolvedAt string            `json:"resolved_at"`
	Scheduling []schedulingEntry `json:"scheduling"`
}

func (s *server) handleGetStrategies(w http.ResponseWriter, r *http.Request) {
	verbose := false
	if raw := r.URL.Query().Get("verbose"); raw != "" {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			s.respond.error(w, r, apperr.Errorf(apperr.Invalid, "verbose: must be true or false, got %q", raw))
			return
		}
		verbose = b
	}
	snap := s.Strategies.Snapshot()
	if snap == nil {
		s.respond.error(w, r, apperr.Errorf(apperr.Unavailable, "strategies are not resolved yet (the process index is still scanning); retry in a moment"))
		return
	}
	if notModified(w, r, s.etag(snap.Version, r.URL.RawQuery)) {
		return
	}
	slot := 0
	if verbose {
		slot = 1
	}
	now := s.Now()
	cb, err := s.strategyCache.get(slot, snap.Version, now.Unix(), func() ([]byte, error) {
		return json.Marshal(schedulingResponse{
			envelope:   ok(now, "Scheduling strategies retrieved successfully"),
			Version:    snap.Version,
			ResolvedAt: snap.ResolvedAt.UTC().Format(time.RFC3339Nano),
			Scheduling: schedulingEntries(snap.Entries, verbose),
		})
	})
	if err != nil {
		s.respond.error(w, r, fmt.Errorf("encode strategies: %w", err))
		return
	}
	writeBody(w, r, cb)
}

type savedResponse struct {
	envelope
	Saved      int      `json:"saved"`
	Strategies []string `json:"strategies"`
}

func (s *server) handlePostStrategies(w http.ResponseWriter, r *http.Request) {
	list, decoded := s.decodeStrategyList(w, r)
	if !decoded {
		return
	}
	saved, err := s.Strategies.ReplaceAll(r.Context(), list)
	if err != nil {
		s.respond.error(w, r, err)
		return
	}
	names := make([]string, len(saved))
	for i, st := range saved {
		names[i] = st.Name
	}
	s.respond.json(w, r, http.StatusOK, savedResponse{
		envelope: ok(s.Now(), "Scheduling strategies saved successfully"), Saved: len(saved), Strategies: names,
	})
}

func (s *server) decodeStrategyList(w http.ResponseWriter, r *http.Request) ([]strategy.Strategy, bool) {
	body, err := readJSONBody(w, r, s.MaxBodyBytes)
	if err != nil {
		s.respond.error(w, r, err)
		return nil, false
	}
	list, err := strategy.DecodeList(body)
	if err != nil {
		s.respond.error(w, r, err)
		return nil, false
	}
	return list, true
}

type definitionsResponse struct {
	envelope
	Strategies []strategy.Strategy `json:"strategies"`
}

func (s *server) handleGetDefinitions(w http.ResponseWriter, r *http.Request) {
	list, err := s.Strategies.Definitions(r.Context())
	if err != nil {
		s.respond.error(w, r, err)
		return
	}
	if list == nil {
		list = []strategy.Strategy{}
	}
	s.respond.json(w, r, http.StatusOK, definitionsResponse{
		envelope: ok(s.Now(), "Strategy definitions retrieved successfully"), Strategies: list,
	})
}

type definitionResponse struct {
	envelope
	Strategy strategy.Strategy `json:"strategy"`
}

func (s *server) handlePutDefinition(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	body, err := readJSONBody(w, r, s.MaxBodyBytes)
	if err != nil {
		s.respond.error(w, r, err)
		return
	}
	st, err := strategy.DecodeOne(body)
	if err != nil {
		s.respond.error(w, r, err)
		return
	}
	if st.Name != "" && st.Name != name {
		s.respond.error(w, r, apperr.Errorf(apperr.Invalid, "name: %q in the body differs from %q in the path; leave it out or make them equal", st.Name, name))
		return
	}
	st.Name = name
	created, err := s.Strategies.Put(r.Context(), st)
	if err != nil {
		s.respond.error(w, r, err)
		return
	}
	status, msg := http.StatusOK, "Strategy replaced successfully"
	if created {
		status, msg = http.StatusCreated, "Strategy created successfully"
	}
	s.respond.json(w, r, status, definitionResponse{envelope: ok(s.Now(), msg), Strategy: st})
}

func (s *server) handleDeleteDefinition(w http.ResponseWriter, r *http.Request) {
	if err := s.Strategies.Delete(r.Context(), r.PathValue("name")); err != nil {
		s.respond.error(w, r, err)
		return
	}
	s.respond.json(w, r, http.StatusOK, ok(s.Now(), "Strategy deleted successfully"))
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
	Scheduling []schedulingEntry `json:"scheduling"`
	Strategies []strategyCount   `json:"strategies"`
}

func (s *server) handlePreview(w http.ResponseWriter, r *http.Request) {
	list, decoded := s.decodeStrategyList(w, r)
	if !decoded {
		return
	}
	snap, err := s.Strategies.Preview(r.Context(), list)
	if err != nil {
		s.respond.error(w, r, err)
		return
	}
	s.respond.json(w, r, http.StatusOK, previewResponse{
		envelope:   ok(s.Now(), "Scheduling strategies previewed; nothing was saved"),
		Scheduling: schedulingEntries(snap.Entries, true),
		Strategies: counts(snap),
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

func (s *server) handleExplain(w http.ResponseWriter, r *http.Request) {
	snap, err := s.Strategies.Explain(r.Context())
	if err != nil {
		s.respond.error(w, r, err)
		return
	}
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
	s.respond.json(w, r, http.StatusOK, explainResponse{
		envelope: ok(s.Now(), "Scheduling strategies explained successfully"),
		Version:  snap.Version, PIDs: pids, Strategies: counts(snap),
	})
}
