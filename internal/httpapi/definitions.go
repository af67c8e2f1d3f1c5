package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/strategy"
)

type strategyReplacer interface {
	ReplaceAll(ctx context.Context, list []strategy.Strategy) (strategy.Written, error)
}

type definitionReader interface {
	Definitions(ctx context.Context) ([]strategy.Strategy, error)
}

type definitionPutter interface {
	Put(ctx context.Context, s strategy.Strategy) (strategy.Written, error)
}

type definitionDeleter interface {
	Delete(ctx context.Context, name string) error
}

// decodeStrategyList reads the body of a replace-all or a preview.
func decodeStrategyList(w http.ResponseWriter, r *http.Request, limit int64) ([]strategy.Strategy, error) {
	body, err := readJSONBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	return strategy.DecodeList(body)
}

type savedResponse struct {
	envelope
	Saved      int      `json:"saved"`
	Strategies []string `json:"strategies"`
	// Stamped lists the pid strategies limited to this node on the way to
	// a shared store; absent when none was.
	Stamped []strategy.Stamp `json:"stamped,omitempty"`
}

// postStrategies is the seed's replace-all.
func postStrategies(svc strategyReplacer, limit int64, now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := decodeStrategyList(w, r, limit)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		saved, err := svc.ReplaceAll(changeContext(r), list)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		names := make([]string, len(saved.Strategies))
		for i, st := range saved.Strategies {
			names[i] = st.Name
		}
		rs.json(w, r, http.StatusOK, savedResponse{
			envelope: ok(now(), "Scheduling strategies saved successfully"),
			Saved:    len(names), Strategies: names, Stamped: saved.Stamped,
		})
	})
}

type definitionsResponse struct {
	envelope
	Strategies []strategy.Strategy `json:"strategies"`
}

func getDefinitions(svc definitionReader, now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := svc.Definitions(r.Context())
		if err != nil {
			rs.error(w, r, err)
			return
		}
		if list == nil {
			list = []strategy.Strategy{}
		}
		rs.json(w, r, http.StatusOK, definitionsResponse{
			envelope: ok(now(), "Strategy definitions retrieved successfully"), Strategies: list,
		})
	})
}

type definitionResponse struct {
	envelope
	Strategy strategy.Strategy `json:"strategy"` // as stored
	Stamped  []strategy.Stamp  `json:"stamped,omitempty"`
}

func putDefinition(svc definitionPutter, limit int64, now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		body, err := readJSONBody(w, r, limit)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		st, err := strategy.DecodeOne(body)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		if st.Name != "" && st.Name != name {
			rs.error(w, r, apperr.Errorf(apperr.Invalid, "name: %q in the body differs from %q in the path; leave it out or make them equal", st.Name, name))
			return
		}
		st.Name = name
		put, err := svc.Put(changeContext(r), st)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		status, msg := http.StatusOK, "Strategy replaced successfully"
		if put.Created {
			status, msg = http.StatusCreated, "Strategy created successfully"
		}
		rs.json(w, r, status, definitionResponse{envelope: ok(now(), msg), Strategy: put.Strategies[0], Stamped: put.Stamped})
	})
}

func deleteDefinition(svc definitionDeleter, now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := svc.Delete(changeContext(r), r.PathValue("name")); err != nil {
			rs.error(w, r, err)
			return
		}
		rs.json(w, r, http.StatusOK, ok(now(), "Strategy deleted successfully"))
	})
}
