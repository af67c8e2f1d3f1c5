package strategy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/kube"
	"github.com/bss-api/bss-api/internal/podview"
	"github.com/bss-api/bss-api/internal/procs"
	"github.com/bss-api/bss-api/internal/strictjson"
)

// testNode is the node the tests resolve on.
const testNode = "node-a"

const (
	upfUID  = "11111111-1111-4111-8111-111111111111"
	gnbUID  = "22222222-2222-4222-8222-222222222222"
	anonUID = "33333333-3333-4333-8333-333333333333"
	sbx1    = "a000000000000000000000000000000000000000000000000000000000000001"
	app1    = "a000000000000000000000000000000000000000000000000000000000000002"
	sbx2    = "b000000000000000000000000000000000000000000000000000000000000001"
	app2    = "b000000000000000000000000000000000000000000000000000000000000002"
	app3    = "c000000000000000000000000000000000000000000000000000000000000002"
)

type meta map[string]kube.PodMeta

func (m meta) Lookup(uid string) (kube.PodMeta, bool) { p, ok := m[uid]; return p, ok }
func (m meta) Version() uint64                        { return 1 }
func (m meta) Subscribe() (<-chan struct{}, func())   { return nil, func() {} }

// testProc describes one process of a test view.
type testProc struct {
	pid       int
	command   string
	container string // container ID; "" outside pods
	start     uint64
	threads   []int // besides the main thread
}

func (p testProc) process() procs.Process {
	return procs.Process{Proc: procs.Proc{PID: p.pid, Command: p.command, StartTime: p.start}, ContainerID: p.container,
		Threads: append([]int{p.pid}, p.threads...)}
}

// view: upf pod (ns core, nf=upf) with pause 100 and upf 101 (threads 102,
// 103); gnb pod (ns ran, nf=gnb) with pause 200, nr-gnb 201 and ping 202; a
// pod unknown to metadata with app 301; host processes 1 and 500.
func testView(t testing.TB, upfStart uint64) *podview.View {
	t.Helper()
	s := procs.NewSnapshot(1, time.Unix(0, 0), []procs.Pod{
		{UID: upfUID, QoS: procs.Burstable,
			Containers: []procs.Container{{ID: sbx1, Sandbox: true}, {ID: app1}},
			Processes: []procs.Process{
				testProc{pid: 100, command: "pause", container: sbx1, start: 10}.process(),
				testProc{pid: 101, command: "upf", container: app1, start: upfStart, threads: []int{102, 103}}.process(),
			}},
		{UID: gnbUID, QoS: procs.Burstable,
			Containers: []procs.Container{{ID: sbx2, Sandbox: true}, {ID: app2}},
			Processes: []procs.Process{
				testProc{pid: 200, command: "pause", container: sbx2, start: 20}.process(),
				testProc{pid: 201, command: "nr-gnb", container: app2, start: 21}.process(),
				testProc{pid: 202, command: "ping", container: app2, start: 22}.process(),
			}},
		{UID: anonUID, QoS: procs.BestEffort,
			Containers: []procs.Container{{ID: app3}},
			Processes:  []procs.Process{testProc{pid: 301, command: "nr-gnb", container: app3, start: 31}.process()}},
	}, []procs.Process{{Proc: procs.Proc{PID: 1, Command: "systemd", StartTime: 1}}, {Proc: procs.Proc{PID: 500, Command: "sshd", StartTime: 5}, Threads: []int{500, 501}}})
	return podview.Build(1, s, meta{
		upfUID: {UID: upfUID, Name: "upf-0", Namespace: "core", Labels: map[string]string{"nf": "upf", "tier": "data"},
			Containers: map[string]kube.ContainerMeta{app1: {Name: "upf"}}},
		gnbUID: {UID: gnbUID, Name: "gnb-0", Namespace: "ran", Labels: map[string]string{"nf": "gnb"},
			Containers: map[string]kube.ContainerMeta{app2: {Name: "gnb"}}},
	})
}

func mustCompile(t testing.TB, list []Strategy) []*compiled {
	t.Helper()
	norm, err := Normalize(list, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	cs := make([]*compiled, len(norm))
	for i, s := range norm {
		if cs[i], err = compile(s, testNode); err != nil {
			t.Fatal(err)
		}
	}
	return cs
}

// won is a resolved PID and the strategy that won it.
type won struct {
	pid      int
	strategy string
}

// winners lists entries as (PID, strategy) in order; never nil.
func winners(es []Entry) []won {
	out := make([]won, len(es))
	for i, e := range es {
		out[i] = won{e.PID, e.Strategy}
	}
	return out
}

func TestResolve(t *testing.T) {
	ms := int64(1_000_000)
	tests := []struct {
		name string
		list []Strategy
		want []won
	}{
		{"empty", nil, []won{}},
		{"seed selector targets the app, never pause",
			[]Strategy{{Name: "s", Priority: BoolPriority(true), ExecutionTime: 20 * uint64(ms), Selectors: []LabelSelector{{"nf", "upf"}}}},
			[]won{{101, "s"}}},
		{"seed pid strategy",
			[]Strategy{{Name: "p", ExecutionTime: 10 * uint64(ms), PID: 500}}, []won{{500, "p"}}},
		{"a pid that is not running resolves to nothing",
			[]Strategy{{Name: "p", ExecutionTime: 10 * uint64(ms), PID: 717720}}, []won{}},
		{"explicit pid wins over an earlier selector strategy",
			[]Strategy{{Name: "sel", ExecutionTime: 1000, Selectors: []LabelSelector{{"nf", "gnb"}}}, {Name: "pid", ExecutionTime: 2000, PID: 201}},
			[]won{{201, "pid"}, {202, "sel"}}},
		{"among selector strategies the first in list order wins",
			[]Strategy{{Name: "a", ExecutionTime: 1000, Namespaces: []string{"ran"}}, {Name: "b", ExecutionTime: 2000, CommandRegex: "nr-gnb|ping"}},
			[]won{{201, "a"}, {202, "a"}, {301, "b"}}},
		{"command regex alone reaches pods without metadata",
			[]Strategy{{Name: "r", ExecutionTime: 1000, CommandRegex: "^nr-gnb$"}}, []won{{201, "r"}, {301, "r"}}},
		{"label conditions never match pods without metadata",
			[]Strategy{{Name: "l", ExecutionTime: 1000, LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "nf", Operator: metav1.LabelSelectorOpDoesNotExist}}}}}, []won{}},
		{"conditions are ANDed",
			[]Strategy{{Name: "and", ExecutionTime: 1000, Namespaces: []string{"ran"}, CommandRegex: "ping"}}, []won{{202, "and"}}},
		{"label_selector In with selectors",
			[]Strategy{{Name: "ls", ExecutionTime: 1000, Selectors: []LabelSelector{{"tier", "data"}},
				LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "nf", Operator: metav1.LabelSelectorOpIn, Values: []string{"upf", "smf"}}}}}},
			[]won{{101, "ls"}}},
		{"NotIn", []Strategy{{Name: "n", ExecutionTime: 1000, LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "nf", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"upf"}}}}}},
			[]won{{201, "n"}, {202, "n"}}},
		{"threads expand to TIDs",
			[]Strategy{{Name: "t", ExecutionTime: 1000, Selectors: []LabelSelector{{"nf", "upf"}}, Threads: true}}, []won{{101, "t"}, {102, "t"}, {103, "t"}}},
		{"threads follow the strategy that won the process",
			[]Strategy{{Name: "a", ExecutionTime: 1000, Selectors: []LabelSelector{{"nf", "upf"}}}, {Name: "b", ExecutionTime: 1000, CommandRegex: "upf", Threads: true}},
			[]won{{101, "a"}}},
		{"explicit pid with conditions that fail",
			[]Strategy{{Name: "p", ExecutionTime: 1000, PID: 201, Namespaces: []string{"core"}}}, []won{}},
		{"explicit pid may target a sandbox",
			[]Strategy{{Name: "p", ExecutionTime: 1000, PID: 100}}, []won{{100, "p"}}},
		{"explicit pid with pod conditions never matches a host process",
			[]Strategy{{Name: "p", ExecutionTime: 1000, PID: 500, Selectors: []LabelSelector{{"nf", "upf"}}}}, []won{}},
		{"two pid strategies on one pid: the first wins",
			[]Strategy{{Name: "p1", ExecutionTime: 1000, PID: 1}, {Name: "p2", ExecutionTime: 2000, PID: 1}}, []won{{1, "p1"}}},
		{"a pid strategy for this node applies",
			[]Strategy{{Name: "p", ExecutionTime: 1000, PID: 500, Nodes: []string{"node-b", testNode}}}, []won{{500, "p"}}},
		{"a pid strategy for other nodes does not",
			[]Strategy{{Name: "p", ExecutionTime: 1000, PID: 500, Nodes: []string{"node-b"}}}, []won{}},
		{"a pid strategy for other nodes leaves its PID to a selector strategy",
			[]Strategy{{Name: "sel", ExecutionTime: 1000, Namespaces: []string{"ran"}}, {Name: "pid", ExecutionTime: 2000, PID: 201, Nodes: []string{"node-b"}}},
			[]won{{201, "sel"}, {202, "sel"}}},
		{"nodes and a pid's other conditions are ANDed",
			[]Strategy{{Name: "p", ExecutionTime: 1000, PID: 201, Nodes: []string{testNode}, Namespaces: []string{"core"}}}, []won{}},
		{"a selector strategy for this node applies",
			[]Strategy{{Name: "s", ExecutionTime: 1000, Selectors: []LabelSelector{{"nf", "upf"}}, Nodes: []string{testNode}}}, []won{{101, "s"}}},
		{"a selector strategy for other nodes does not, and the next one wins",
			[]Strategy{{Name: "a", ExecutionTime: 1000, Selectors: []LabelSelector{{"nf", "upf"}}, Nodes: []string{"node-b"}},
				{Name: "b", ExecutionTime: 1000, CommandRegex: "^upf$"}},
			[]won{{101, "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, depth := range []Depth{Winners, Counts, Explain} {
				res := mustResolve(t, mustCompile(t, tt.list), testView(t, 11), Bindings{}, depth)
				if got := winners(res.Entries); !slices.Equal(got, tt.want) {
					t.Errorf("depth %d: entries %v, want %v", depth, got, tt.want)
				}
			}
		})
	}
}

func TestResolveExplainCounts(t *testing.T) {
	list := []Strategy{
		{Name: "ns", ExecutionTime: 1000, Namespaces: []string{"ran"}},
		{Name: "re", ExecutionTime: 1000, CommandRegex: "nr-gnb|ping"},
		{Name: "pid", ExecutionTime: 1000, PID: 202},
	}
	res := mustResolve(t, mustCompile(t, list), testView(t, 11), Bindings{}, Explain)
	if got, want := winners(res.Entries), []won{{201, "ns"}, {202, "pid"}, {301, "re"}}; !slices.Equal(got, want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	wantMatched, wantWon := []int{2, 3, 1}, []int{1, 1, 1}
	for i := range list {
		if res.Matched[i] != wantMatched[i] || res.Won[i] != wantWon[i] {
			t.Errorf("%s: matched %d won %d, want %d and %d", list[i].Name, res.Matched[i], res.Won[i], wantMatched[i], wantWon[i])
		}
	}
	wantMatches := []Match{{201, 0}, {201, 1}, {202, 0}, {202, 1}, {202, 2}, {301, 1}}
	if !slices.Equal(res.Matches, wantMatches) {
		t.Errorf("matches %v, want %v", res.Matches, wantMatches)
	}
}

// A PID strategy binds to the first process its conditions hold for, not
// to whatever held the PID when it was written.
func TestResolvePIDBindsWhenConditionsHold(t *testing.T) {
	cs := mustCompile(t, []Strategy{{Name: "web", ExecutionTime: 1000, PID: 500, CommandRegex: "^nginx$"}})
	bind := Bindings{}
	host := func(cmd string, start uint64) *podview.View {
		return podview.Build(1, procs.NewSnapshot(1, time.Unix(0, 0), nil, []procs.Process{{Proc: procs.Proc{PID: 500, Command: cmd, StartTime: start}}}), meta{})
	}
	if got := winners(mustResolve(t, cs, host("sshd", 5), bind, Winners).Entries); len(got) != 0 {
		t.Fatalf("with sshd at the PID = %v, want nothing", got)
	}
	if got, want := winners(mustResolve(t, cs, host("nginx", 50), bind, Winners).Entries), []won{{500, "web"}}; !slices.Equal(got, want) {
		t.Errorf("with nginx at the PID = %v, want %v", got, want)
	}
	if got := winners(mustResolve(t, cs, host("nginx", 70), bind, Winners).Entries); len(got) != 0 {
		t.Errorf("after the PID was reused by another nginx = %v, want nothing", got)
	}
}

// threads: true on a PID strategy also covers the threads of a process
// outside pods (the index keeps them for the PIDs strategies target).
func TestResolvePIDThreadsOutsidePods(t *testing.T) {
	cs := mustCompile(t, []Strategy{{Name: "sshd", ExecutionTime: 1000, PID: 500, Threads: true}})
	if got, want := winners(mustResolve(t, cs, testView(t, 11), Bindings{}, Winners).Entries), []won{{500, "sshd"}, {501, "sshd"}}; !slices.Equal(got, want) {
		t.Errorf("entries = %v, want the process and its thread %v", got, want)
	}
}

func TestResolvePIDReuse(t *testing.T) {
	cs := mustCompile(t, []Strategy{{Name: "p", ExecutionTime: 1000, PID: 101}})
	bind := Bindings{}
	if got, want := winners(mustResolve(t, cs, testView(t, 11), bind, Winners).Entries), []won{{101, "p"}}; !slices.Equal(got, want) {
		t.Fatalf("first = %v, want %v", got, want)
	}
	// PID 101 now belongs to a process that started later: not the one
	// the strategy was first applied to.
	if got := winners(mustResolve(t, cs, testView(t, 99), bind, Winners).Entries); len(got) != 0 {
		t.Errorf("after PID reuse = %v, want nothing", got)
	}
}

func TestNormalizeAndValidate(t *testing.T) {
	valid := Strategy{ExecutionTime: 1000, PID: 1}
	many := make([]Strategy, 3)
	for i := range many {
		many[i] = valid
	}
	tests := []struct {
		name string
		list []Strategy
		max  int
		want string // substring of the error; "" = valid
	}{
		{"valid", []Strategy{valid}, 10, ""},
		{"too many", many, 2, "3 given, at most 2"},
		{"execution_time too small", []Strategy{{ExecutionTime: 999, PID: 1}}, 10, "strategies[0] (strategy-1).execution_time: must be from 1000"},
		{"execution_time too large", []Strategy{{ExecutionTime: 10_000_000_001, PID: 1}}, 10, "execution_time"},
		{"execution_time missing", []Strategy{{PID: 1}}, 10, "execution_time"},
		{"pid too large", []Strategy{{ExecutionTime: 1000, PID: 4_194_305}}, 10, "pid: must be from 1 to 4194304"},
		{"targets nothing", []Strategy{{ExecutionTime: 1000}}, 10, "targets nothing"},
		{"bad label key", []Strategy{{ExecutionTime: 1000, Selectors: []LabelSelector{{"bad key!", "v"}}}}, 10, "selectors[0].key"},
		{"bad label value", []Strategy{{ExecutionTime: 1000, Selectors: []LabelSelector{{"k", "bad value!"}}}}, 10, "selectors[0].value"},
		{"bad namespace", []Strategy{{ExecutionTime: 1000, Namespaces: []string{"Bad_NS"}}}, 10, "namespaces[0]"},
		{"bad regex", []Strategy{{ExecutionTime: 1000, CommandRegex: "("}}, 10, "command_regex: error parsing regexp"},
		{"long regex", []Strategy{{ExecutionTime: 1000, CommandRegex: strings.Repeat("a", 1025)}}, 10, "1025 bytes, at most 1024"},
		{"bad label_selector", []Strategy{{ExecutionTime: 1000, LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Maybe"}}}}}, 10, "label_selector"},
		{"duplicate names", []Strategy{{Name: "x", ExecutionTime: 1000, PID: 1}, {Name: "x", ExecutionTime: 1000, PID: 2}}, 10, `"x" is also the name of strategies[0]`},
		{"bad name", []Strategy{{Name: "Not Valid", ExecutionTime: 1000, PID: 1}}, 10, "name:"},
		{"nodes", []Strategy{{ExecutionTime: 1000, PID: 1, Nodes: []string{"node-a", "ip-10-0-0-1.ec2.internal"}}}, 10, ""},
		{"nodes alone target nothing", []Strategy{{ExecutionTime: 1000, Nodes: []string{"node-a"}}}, 10, "targets nothing"},
		{"bad node name", []Strategy{{ExecutionTime: 1000, PID: 1, Nodes: []string{"node-a", "Node_B"}}}, 10, `nodes[1]: "Node_B" is not a node name`},
		{"node name too long", []Strategy{{ExecutionTime: 1000, PID: 1, Nodes: []string{strings.Repeat("a", 254)}}}, 10, "nodes[0]"},
		{"too many nodes", []Strategy{{ExecutionTime: 1000, PID: 1, Nodes: slices.Repeat([]string{"n"}, 101)}}, 10, "nodes: 101 given, at most 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Normalize(tt.list, Limits{Strategies: tt.max, Bytes: 1 << 20, ListItems: 100, RegexBytes: 1024, RegexInstructions: 2000, TotalRegexInstructions: 100_000})
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Normalize() = %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Normalize() = %v, want %q", err, tt.want)
			case err != nil && apperr.CodeOf(err) != apperr.Invalid:
				t.Errorf("code %s, want invalid", apperr.CodeOf(err))
			}
		})
	}
	got, err := Normalize([]Strategy{{Name: "strategy-2", ExecutionTime: 1000, PID: 1}, {ExecutionTime: 1000, PID: 2}, {ExecutionTime: 1000, PID: 3}}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{got[0].Name, got[1].Name, got[2].Name}
	if want := []string{"strategy-2", "strategy-1", "strategy-3"}; !slices.Equal(names, want) {
		t.Errorf("generated names = %v, want %v", names, want)
	}
}

func TestDecodeList(t *testing.T) {
	for body, want := range map[string]string{
		`{"strategies":[{"priority":true,"execution_time":20000000,"selectors":[{"key":"nf","value":"upf"}]},{"priority":false,"execution_time":10000000,"pid":717720}]}`: "",
		`{"strategies":[]}`: "",
		`{"strategies":[{"execution_time":1000,"pid":7,"nodes":["node-a"]}]}`: "",
		`{"strategies":[{"execution_time":1000,"pid":7,"nodes":"node-a"}]}`:   "strategies[0].nodes",
		`{}`:                                     "strategies: required",
		`null`:                                   "null",
		``:                                       "empty",
		`{"strategies":[{"execution_time":-1}]}`: "strategies[0].execution_time: must be a non-negative integer",
		`{"strategies":[{"execution_time":1.5}]}`: "strategies[0].execution_time",
		`{"strategies":[{"priority":"yes"}]}`:     "strategies[0].priority: must be true, false or an integer from 0 to 20, got string",
		`{"strategies":[{"selecter":[]}]}`:        `strategies[0].selecter: unknown field`,
		`{"strategies":[{"pid":"7"}]}`:            "strategies[0].pid",
		`{"strategies":[]} trailing`:              "after the JSON value",
		`{"strategies":{}}`:                       "strategies",
		// Keys given twice, or matching a field only in case, would let
		// what a reviewer reads differ from what is stored.
		`{"strategies":[{"execution_time":1000,"namespaces":["safe-ns"],"namespaces":[]}]}`: "strategies[0].namespaces: the key is given more than once",
		`{"strategies":[],"strategies":[{"execution_time":1000,"pid":1}]}`:                  "strategies: the key is given more than once",
		`{"strategies":[{"execution_time":1000,"pid":1,"Priority":true}]}`:                  `strategies[0].Priority: unknown field; field names are case-sensitive: did you mean "priority"?`,
		`{"Strategies":[]}`: `Strategies: unknown field; field names are case-sensitive: did you mean "strategies"?`,
		`{"strategies":[{"execution_time":1000,"label_selector":{"matchLabels":{"app":"a","app":"b"}}}]}`:                  "strategies[0].label_selector.matchLabels.app: the key is given more than once",
		`{"strategies":[{"execution_time":1000,"label_selector":{"MatchLabels":{"app":"a"}}}]}`:                            `strategies[0].label_selector.MatchLabels: unknown field; field names are case-sensitive: did you mean "matchLabels"?`,
		`{"strategies":[{"execution_time":1000,"label_selector":{"matchExpressions":[{"key":"a","Operator":"Exists"}]}}]}`: `strategies[0].label_selector.matchExpressions[0].Operator: unknown field`,
		`{"strategies":[{"execution_time":1000,"selectors":[{"key":"a","value":"b","value":"c"}]}]}`:                       "strategies[0].selectors[0].value: the key is given more than once",
		`{"strategies":[{"execution_time":1000,"selectors":[{"KEY":"a","value":"b"}]}]}`:                                   `strategies[0].selectors[0].KEY: unknown field`,
	} {
		_, err := DecodeList([]byte(body))
		if want == "" {
			if err != nil {
				t.Errorf("DecodeList(%s) = %v", body, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) || apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("DecodeList(%s) = %v, want an invalid error with %q", body, err, want)
		}
	}
}

func TestDecodeOneIsStrict(t *testing.T) {
	for body, want := range map[string]string{
		`{"execution_time":1000,"namespaces":["safe-ns"]}`:                  "",
		`{"execution_time":1000,"namespaces":["safe-ns"],"namespaces":[]}`:  "namespaces: the key is given more than once",
		`{"execution_time":1000,"namespaces":["safe-ns"],"Priority":true}`:  `Priority: unknown field; field names are case-sensitive: did you mean "priority"?`,
		`{"execution_time":1000,"command_regex":"^a$","COMMAND_REGEX":"."}`: `COMMAND_REGEX: unknown field`,
	} {
		_, err := DecodeOne([]byte(body))
		if want == "" {
			if err != nil {
				t.Errorf("DecodeOne(%s) = %v", body, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) || apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("DecodeOne(%s) = %v, want an invalid error with %q", body, err, want)
		}
	}
}

// FuzzDecodeList: whatever the body, DecodeList never panics, fails only
// with an invalid-input error, and accepts no body with a duplicate key.
func FuzzDecodeList(f *testing.F) {
	for _, s := range []string{
		`{"strategies":[{"priority":true,"execution_time":20000000,"selectors":[{"key":"nf","value":"upf"}]}]}`,
		`{"strategies":[{"execution_time":1000,"namespaces":["safe-ns"],"namespaces":[]}]}`,
		`{"strategies":[{"execution_time":1000,"pid":1,"Priority":true}]}`,
		`{"strategies":[{"execution_time":1000,"label_selector":{"matchLabels":{"app":"a","app":"b"}}}]}`,
		`{"strategies":[{"execution_time":1000,"label_selector":{"matchExpressions":[{"key":"a","operator":"In","values":["x"]}]}}]}`,
		`{"strategies":[]}`, `{}`, `null`, `{"strategies":[{}]} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := DecodeList(body)
		if err != nil {
			if apperr.CodeOf(err) != apperr.Invalid {
				t.Fatalf("DecodeList(%q) = %v, not an invalid-input error", body, err)
			}
			return
		}
		if strictjson.CheckAny(body) != nil {
			t.Fatalf("DecodeList accepted %q, which has a duplicate key", body)
		}
	})
}

// mustResolve resolves without a deadline.
func mustResolve(t testing.TB, cs []*compiled, v *podview.View, bind Bindings, depth Depth) Result {
	t.Helper()
	res, err := Resolve(context.Background(), cs, v, bind, depth)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
