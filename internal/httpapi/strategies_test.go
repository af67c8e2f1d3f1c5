package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/internal/strategy"
	"github.com/bss-api/bss-api/internal/testsupport/contract"
)

// schedulerView is exactly what a scheduler client decodes.
type schedulerView struct {
	Success    bool             `json:"success"`
	Message    string           `json:"message"`
	Timestamp  string           `json:"timestamp"`
	Scheduling []schedulerEntry `json:"scheduling"`
}

// schedulerEntry is the seed's entry, all a scheduler reads of it.
type schedulerEntry struct {
	Priority      bool   `json:"priority"`
	ExecutionTime uint64 `json:"execution_time"`
	PID           int    `json:"pid"`
}

const seedStrategies = `{"strategies":[{"priority":true,"execution_time":20000000,"selectors":[{"key":"app","value":"loki"}]},
{"priority":false,"execution_time":10000000,"pid":717720}]}`

func strategyEnv(t *testing.T) *testEnv {
	t.Helper()
	env := newTestEnv(t, newValidator(t), nil)
	syncStrategies(t, env.cfg)
	return env
}

func getScheduling(t *testing.T, c *contract.Client, query string) (schedulerView, *contract.Response) {
	t.Helper()
	res := c.Get(t, "/api/v1/scheduling/strategies"+query)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET strategies = %d %s", res.StatusCode, res.Body)
	}
	if strings.Contains(string(res.Body), `"scheduling":null`) {
		t.Fatal("scheduling is null; a scheduler would keep its old strategies")
	}
	var v schedulerView
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatal(err)
	}
	return v, res
}

func TestStrategiesSeedRoundTrip(t *testing.T) {
	env := strategyEnv(t)
	v, _ := getScheduling(t, env.client, "")
	if !v.Success || v.Scheduling == nil || len(v.Scheduling) != 0 {
		t.Fatalf("empty store: %+v", v)
	}
	res := env.client.Post(t, "/api/v1/scheduling/strategies", "application/json", []byte(seedStrategies))
	if res.StatusCode != http.StatusOK || !strings.Contains(string(res.Body), `"message":"Scheduling strategies saved successfully"`) {
		t.Fatalf("POST = %d %s", res.StatusCode, res.Body)
	}
	// The fixture: pod A (app=loki) runs pause 717720 (sandbox) and loki
	// 718001. The selector strategy takes loki, never pause; the seed's pid
	// strategy takes 717720, which runs here.
	v, _ = getScheduling(t, env.client, "")
	want := []schedulerEntry{
		{Priority: false, ExecutionTime: 10000000, PID: 717720},
		{Priority: true, ExecutionTime: 20000000, PID: 718001},
	}
	if !slices.Equal(v.Scheduling, want) {
		t.Errorf("scheduling = %+v, want %+v", v.Scheduling, want)
	}
	defs := env.client.Get(t, "/api/v1/scheduling/strategies/definitions")
	if !strings.Contains(string(defs.Body), `"name":"strategy-1"`) || !strings.Contains(string(defs.Body), `"name":"strategy-2"`) {
		t.Errorf("definitions = %s", defs.Body)
	}
	verbose := env.client.Get(t, "/api/v1/scheduling/strategies?verbose=true")
	for _, w := range []string{`"strategy":"strategy-1"`, `"pod_name":"loki-0"`, `"namespace":"monitoring"`, `"container_name":"loki"`, `"command":"loki"`} {
		if !strings.Contains(string(verbose.Body), w) {
			t.Errorf("verbose lacks %s: %s", w, verbose.Body)
		}
	}
}

func TestStrategiesETag(t *testing.T) {
	env := strategyEnv(t)
	_, first := getScheduling(t, env.client, "")
	tag := first.Header.Get("ETag")
	req := env.client.NewRequest(t, http.MethodGet, "/api/v1/scheduling/strategies", "", nil)
	req.Header.Set("If-None-Match", tag)
	if res := env.client.Do(t, req); res.StatusCode != http.StatusNotModified {
		t.Errorf("unchanged: %d, want 304", res.StatusCode)
	}
	env.client.Post(t, "/api/v1/scheduling/strategies", "application/json", []byte(seedStrategies))
	req = env.client.NewRequest(t, http.MethodGet, "/api/v1/scheduling/strategies", "", nil)
	req.Header.Set("If-None-Match", tag)
	if res := env.client.Do(t, req); res.StatusCode != http.StatusOK {
		t.Errorf("after a change: %d, want 200", res.StatusCode)
	}
}

func TestStrategiesBadInputChangesNothing(t *testing.T) {
	env := strategyEnv(t)
	env.client.Post(t, "/api/v1/scheduling/strategies", "application/json", []byte(seedStrategies))
	before := string(env.client.Get(t, "/api/v1/scheduling/strategies/definitions").Body)
	for _, tc := range []struct{ body, want string }{
		{`{"strategies":[{"priority":true,"execution_time":5}]}`, "execution_time: must be from 1000"},
		{`{"strategies":[{"priority":true,"execution_time":1000}]}`, "targets nothing"},
		{`{"strategies":[{"execution_time":1000,"pid":1},{"execution_time":1000,"command_regex":"("}]}`, "strategies[1] (strategy-2).command_regex"},
		{`{"strategies":[{"execution_time":1000,"selecter":[{"key":"a","value":"b"}]}]}`, "selecter: unknown field"},
		{`{"strategies":[{"execution_time":-1,"pid":1}]}`, "strategies[0].execution_time"},
		{`{"strategies":[{"execution_time":1000,"pid":1,"namespaces":["Bad"]}]}`, "namespaces[0]"},
		{`{"strategy":[]}`, "unknown field"},
		{`{"strategies":`, "Invalid JSON"},
		{`null`, "null"},
		{``, "empty"},
	} {
		res := env.client.Post(t, "/api/v1/scheduling/strategies", "application/json", []byte(tc.body))
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(res.Body), tc.want) {
			t.Errorf("POST %s = %d %s; want 400 with %q", tc.body, res.StatusCode, res.Body, tc.want)
		}
	}
	if res := env.client.Post(t, "/api/v1/scheduling/strategies", "text/plain", []byte(seedStrategies)); res.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", res.StatusCode)
	}
	if after := string(env.client.Get(t, "/api/v1/scheduling/strategies/definitions").Body); stripTimestamp(after) != stripTimestamp(before) {
		t.Errorf("rejected requests changed the stored strategies:\n%s\n%s", before, after)
	}
}

func stripTimestamp(s string) string {
	i := strings.Index(s, `"timestamp":"`)
	if i < 0 {
		return s
	}
	return s[:i] + s[i+len(`"timestamp":"2025-06-19T10:30:00Z"`):]
}

func TestStrategyDefinitionsAndPreview(t *testing.T) {
	env := strategyEnv(t)
	put := func(name, body string) *contract.Response {
		req := env.client.NewRequest(t, http.MethodPut, "/api/v1/scheduling/strategies/definitions/"+name, "application/json", []byte(body))
		return env.client.Do(t, req)
	}
	if res := put("loki", `{"priority":true,"execution_time":5000000,"command_regex":"^loki$"}`); res.StatusCode != http.StatusCreated {
		t.Fatalf("PUT new = %d %s", res.StatusCode, res.Body)
	}
	if res := put("loki", `{"name":"loki","priority":false,"execution_time":6000000,"command_regex":"^loki$"}`); res.StatusCode != http.StatusOK {
		t.Errorf("PUT existing = %d %s", res.StatusCode, res.Body)
	}
	if res := put("loki", `{"name":"other","execution_time":6000000,"pid":1}`); res.StatusCode != http.StatusBadRequest {
		t.Errorf("PUT with a different body name = %d", res.StatusCode)
	}
	if res := put("Bad_Name", `{"execution_time":6000000,"pid":1}`); res.StatusCode != http.StatusBadRequest {
		t.Errorf("PUT bad name = %d", res.StatusCode)
	}
	v, _ := getScheduling(t, env.client, "")
	if len(v.Scheduling) != 1 || v.Scheduling[0].PID != 718001 || v.Scheduling[0].ExecutionTime != 6000000 {
		t.Errorf("after PUT: %+v", v.Scheduling)
	}
	preview := env.client.Post(t, "/api/v1/scheduling/strategies/preview", "application/json",
		[]byte(`{"strategies":[{"name":"all","execution_time":1000,"command_regex":"."}]}`))
	if preview.StatusCode != http.StatusOK || !strings.Contains(string(preview.Body), `{"name":"all","matched":2,"won":2}`) {
		t.Errorf("preview = %d %s", preview.StatusCode, preview.Body)
	}
	if v, _ := getScheduling(t, env.client, ""); len(v.Scheduling) != 1 {
		t.Error("preview saved something")
	}
	explain := env.client.Get(t, "/api/v1/scheduling/strategies/explain")
	if !strings.Contains(string(explain.Body), `"matched":["loki"],"winner":"loki"`) {
		t.Errorf("explain = %s", explain.Body)
	}
	del := env.client.Do(t, env.client.NewRequest(t, http.MethodDelete, "/api/v1/scheduling/strategies/definitions/loki", "", nil))
	if del.StatusCode != http.StatusOK {
		t.Errorf("DELETE = %d", del.StatusCode)
	}
	again := env.client.Do(t, env.client.NewRequest(t, http.MethodDelete, "/api/v1/scheduling/strategies/definitions/loki", "", nil))
	if again.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE missing = %d", again.StatusCode)
	}
	if v, _ := getScheduling(t, env.client, ""); len(v.Scheduling) != 0 {
		t.Errorf("after delete: %+v", v.Scheduling)
	}
}

// stampedAnswer is what a write or a preview says of stamps, and of the
// strategy a PUT stored.
type stampedAnswer struct {
	Stamped  []strategy.Stamp  `json:"stamped"`
	Strategy strategy.Strategy `json:"strategy"`
}

func decodeStamped(t *testing.T, res *contract.Response) stampedAnswer {
	t.Helper()
	var a stampedAnswer
	if err := json.Unmarshal(res.Body, &a); err != nil {
		t.Fatalf("decode %s: %v", res.Body, err)
	}
	return a
}

// With a shared store, a pid strategy written without nodes through
// POST, PUT or preview is limited to this node, and the answer says so;
// with a store of one node nothing is stamped. A strategy for another
// node is stored but not resolved here.
func TestStrategyStamps(t *testing.T) {
	for _, tt := range []struct {
		name   string
		shared bool
		want   []strategy.Stamp // for a pid strategy named pin
	}{
		{name: "shared store", shared: true, want: []strategy.Stamp{{Strategy: "pin", Nodes: []string{"test-node"}}}},
		{name: "store of one node", shared: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, newValidator(t), func(c *Config) { useStrategies(t, c, strategySetup{shared: tt.shared}) })
			checkStamps := func(t *testing.T, what string, got []strategy.Stamp) {
				t.Helper()
				if !slices.EqualFunc(got, tt.want, func(a, b strategy.Stamp) bool {
					return a.Strategy == b.Strategy && slices.Equal(a.Nodes, b.Nodes)
				}) {
					t.Errorf("%s: stamped %+v, want %+v", what, got, tt.want)
				}
			}
			var wantNodes []string // pin's stored nodes
			if tt.shared {
				wantNodes = []string{"test-node"}
			}
			list := `{"strategies":[{"name":"pin","execution_time":1000,"pid":717720},
				{"name":"logs","execution_time":2000,"selectors":[{"key":"app","value":"loki"}]}]}`

			preview := env.client.Post(t, "/api/v1/scheduling/strategies/preview", "application/json", []byte(list))
			if preview.StatusCode != http.StatusOK {
				t.Fatalf("preview = %d %s", preview.StatusCode, preview.Body)
			}
			checkStamps(t, "preview", decodeStamped(t, preview).Stamped)

			post := env.client.Post(t, "/api/v1/scheduling/strategies", "application/json", []byte(list))
			if post.StatusCode != http.StatusOK {
				t.Fatalf("POST = %d %s", post.StatusCode, post.Body)
			}
			checkStamps(t, "POST", decodeStamped(t, post).Stamped)
			var defs struct {
				Strategies []strategy.Strategy `json:"strategies"`
			}
			if err := json.Unmarshal(env.client.Get(t, "/api/v1/scheduling/strategies/definitions").Body, &defs); err != nil {
				t.Fatal(err)
			}
			if len(defs.Strategies) != 2 || !slices.Equal(defs.Strategies[0].Nodes, wantNodes) || defs.Strategies[1].Nodes != nil {
				t.Errorf("definitions read back %+v, want pin with nodes %v and logs without", defs.Strategies, wantNodes)
			}

			req := env.client.NewRequest(t, http.MethodPut, "/api/v1/scheduling/strategies/definitions/pin", "application/json",
				[]byte(`{"priority":true,"execution_time":3000,"pid":717720}`))
			put := env.client.Do(t, req)
			if put.StatusCode != http.StatusOK {
				t.Fatalf("PUT = %d %s", put.StatusCode, put.Body)
			}
			answer := decodeStamped(t, put)
			checkStamps(t, "PUT", answer.Stamped)
			if !slices.Equal(answer.Strategy.Nodes, wantNodes) {
				t.Errorf("PUT answered the strategy with nodes %v, want it as stored, %v", answer.Strategy.Nodes, wantNodes)
			}

			// Given nodes are kept as written, and a strategy for another
			// node does not apply here.
			req = env.client.NewRequest(t, http.MethodPut, "/api/v1/scheduling/strategies/definitions/elsewhere", "application/json",
				[]byte(`{"execution_time":4000,"pid":718001,"nodes":["other-node"]}`))
			elsewhere := env.client.Do(t, req)
			if elsewhere.StatusCode != http.StatusCreated || strings.Contains(string(elsewhere.Body), `"stamped"`) {
				t.Fatalf("PUT with nodes = %d %s, want 201 without stamped", elsewhere.StatusCode, elsewhere.Body)
			}
			v, _ := getScheduling(t, env.client, "")
			want := []schedulerEntry{{Priority: true, ExecutionTime: 3000, PID: 717720}, {Priority: false, ExecutionTime: 2000, PID: 718001}}
			if !slices.Equal(v.Scheduling, want) {
				t.Errorf("scheduling = %+v, want %+v (pin here, logs over the other node's strategy)", v.Scheduling, want)
			}
		})
	}
}

func TestStrategyNodesValidation(t *testing.T) {
	env := strategyEnv(t)
	for _, tc := range []struct{ body, want string }{
		{`{"strategies":[{"execution_time":1000,"nodes":["node-a"]}]}`, "targets nothing"},
		{`{"strategies":[{"execution_time":1000,"pid":1,"nodes":["Node_A"]}]}`, `strategies[0] (strategy-1).nodes[0]: \"Node_A\" is not a node name`},
		{`{"strategies":[{"execution_time":1000,"pid":1,"nodes":"node-a"}]}`, "strategies[0].nodes"},
	} {
		res := env.client.Post(t, "/api/v1/scheduling/strategies", "application/json", []byte(tc.body))
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(res.Body), tc.want) {
			t.Errorf("POST %s = %d %s; want 400 with %q", tc.body, res.StatusCode, res.Body, tc.want)
		}
	}
}
