package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/internal/strategy"
)

// unresolved is a resolution before the first: nothing to serve yet.
type unresolved struct{ missing []string }

func (unresolved) Snapshot() *strategy.Snapshot { return nil }
func (u unresolved) Pending() []string          { return u.missing }
func (unresolved) Next() <-chan struct{}        { return nil }

// Before the first complete resolution GET strategies is a 503 a
// scheduler keeps its map on, with Retry-After and what is missing;
// never a 200 with an empty list.
func TestStrategiesBeforeTheFirstResolution(t *testing.T) {
	env := newTestEnv(t, newValidator(t), func(cfg *Config) {
		cfg.Resolution = unresolved{[]string{"pod metadata: the API server has not listed the pods of node n1 yet"}}
	})
	for _, query := range []string{"", "?verbose=true"} {
		res := env.client.Get(t, "/api/v1/scheduling/strategies"+query)
		body := string(res.Body)
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "1" ||
			!strings.HasPrefix(body, `{"success":false,"error":"strategies are not resolved yet (waiting for pod metadata: the API server has not listed the pods of node n1 yet)`) {
			t.Errorf("GET strategies%s = %d (Retry-After %q) %s", query, res.StatusCode, res.Header.Get("Retry-After"), body)
		}
	}
}
