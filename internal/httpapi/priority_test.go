package httpapi

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/internal/strategy"
	"github.com/bss-api/bss-api/internal/testsupport/contract"
)

// levelStrategies: loki (718001 in the fixture) at level 3, pause
// (717720) written as the seed's false.
const levelStrategies = `{"strategies":[{"name":"logs","priority":3,"execution_time":20000000,"selectors":[{"key":"app","value":"loki"}]},
{"name":"pause","priority":false,"execution_time":10000000,"pid":717720}]}`

// rawEntries decodes the scheduling entries of an answer with their
// priority as written on the wire.
func rawEntries(t *testing.T, res *contract.Response) map[int]string {
	t.Helper()
	var v struct {
		Scheduling []struct {
			Priority json.RawMessage `json:"priority"`
			PID      int             `json:"pid"`
		} `json:"scheduling"`
	}
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatalf("decode %s: %v", res.Body, err)
	}
	out := map[int]string{}
	for _, e := range v.Scheduling {
		out[e.PID] = string(e.Priority)
	}
	return out
}

// TestPriorityFormat: the resolved entries of GET strategies and of a
// preview carry the level as --priority-format says (the zero value is
// the seed's bool); the definitions read back as written either way.
func TestPriorityFormat(t *testing.T) {
	for _, tt := range []struct {
		name   string
		format PriorityFormat
		want   map[int]string
	}{
		{"unset", "", map[int]string{717720: "false", 718001: "true"}},
		{"bool", PriorityBool, map[int]string{717720: "false", 718001: "true"}},
		{"int", PriorityInt, map[int]string{717720: "0", 718001: "3"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, newValidator(t), func(c *Config) { c.PriorityFormat = tt.format })
			if res := env.client.Post(t, "/api/v1/scheduling/strategies", "application/json", []byte(levelStrategies)); res.StatusCode != http.StatusOK {
				t.Fatalf("POST = %d %s", res.StatusCode, res.Body)
			}
			for _, query := range []string{"", "?verbose=true"} {
				res := env.client.Get(t, "/api/v1/scheduling/strategies"+query)
				if got := rawEntries(t, res); !maps.Equal(got, tt.want) {
					t.Errorf("GET strategies%s: priorities %v, want %v", query, got, tt.want)
				}
			}
			preview := env.client.Post(t, "/api/v1/scheduling/strategies/preview", "application/json", []byte(levelStrategies))
			if got := rawEntries(t, preview); preview.StatusCode != http.StatusOK || !maps.Equal(got, tt.want) {
				t.Errorf("preview = %d: priorities %v, want %v", preview.StatusCode, got, tt.want)
			}

			req := env.client.NewRequest(t, http.MethodPut, "/api/v1/scheduling/strategies/definitions/boost", "application/json",
				[]byte(`{"priority":true,"execution_time":1000,"pid":1}`))
			if res := env.client.Do(t, req); res.StatusCode != http.StatusCreated || !strings.Contains(string(res.Body), `"priority":true`) {
				t.Errorf("PUT = %d %s, want 201 with the strategy as written", res.StatusCode, res.Body)
			}
			defs := string(env.client.Get(t, "/api/v1/scheduling/strategies/definitions").Body)
			for _, want := range []string{`{"name":"logs","priority":3,`, `{"name":"pause","priority":false,`, `{"name":"boost","priority":true,`} {
				if !strings.Contains(defs, want) {
					t.Errorf("definitions lack %s: %s", want, defs)
				}
			}
		})
	}
}

// TestPriorityRefusedOnEveryWrite: POST, PUT and preview refuse a
// priority that is not true, false or a level in range with a 400 naming
// the field and the range, and store nothing.
func TestPriorityRefusedOnEveryWrite(t *testing.T) {
	env := strategyEnv(t)
	env.client.Post(t, "/api/v1/scheduling/strategies", "application/json", []byte(levelStrategies))
	before := stripTimestamp(string(env.client.Get(t, "/api/v1/scheduling/strategies/definitions").Body))
	const rule = "priority: must be true, false or an integer from 0 to 20, got "
	for _, bad := range []struct{ value, got string }{
		{`"high"`, "string"}, {`"3"`, "string"}, {`2.5`, "number 2.5"}, {`3.0`, "number 3.0"},
		{`-1`, "number -1"}, {`21`, "number 21"}, {`4294967297`, "number 4294967297"},
	} {
		one := `{"priority":` + bad.value + `,"execution_time":1000,"pid":1}`
		list := `{"strategies":[` + one + `]}`
		for _, w := range []struct {
			method, path, body, want string
		}{
			{http.MethodPost, "/api/v1/scheduling/strategies", list, "strategies[0]." + rule + bad.got},
			{http.MethodPost, "/api/v1/scheduling/strategies/preview", list, "strategies[0]." + rule + bad.got},
			{http.MethodPut, "/api/v1/scheduling/strategies/definitions/logs", one, `"error":"` + rule + bad.got + `"`},
		} {
			res := env.client.Do(t, env.client.NewRequest(t, w.method, w.path, "application/json", []byte(w.body)))
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(res.Body), w.want) {
				t.Errorf("%s %s with priority %s = %d %s; want 400 with %q", w.method, w.path, bad.value, res.StatusCode, res.Body, w.want)
			}
		}
	}
	if after := stripTimestamp(string(env.client.Get(t, "/api/v1/scheduling/strategies/definitions").Body)); after != before {
		t.Errorf("refused writes changed the definitions:\n%s\n%s", before, after)
	}
}

// TestOpenAPIPriorityRange: the document states the range the decoder
// holds priorities to, in definitions and in resolved entries.
func TestOpenAPIPriorityRange(t *testing.T) {
	doc, err := contract.Load(openapiYAML)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Strategy", "SchedulingEntry"} {
		p := doc.Components.Schemas[name].Value.Properties["priority"].Value
		var types []string
		for _, alt := range p.OneOf {
			types = append(types, alt.Value.Type.Slice()...)
			if alt.Value.Type.Is("integer") && (alt.Value.Min == nil || *alt.Value.Min != 0 || alt.Value.Max == nil || *alt.Value.Max != strategy.MaxPriority) {
				t.Errorf("%s.priority: integer from %v to %v, want 0 to %d", name, alt.Value.Min, alt.Value.Max, strategy.MaxPriority)
			}
		}
		if strings.Join(types, ",") != "boolean,integer" {
			t.Errorf("%s.priority is one of %v, want boolean or integer", name, types)
		}
	}
}
