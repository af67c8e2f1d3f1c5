package strategy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/kube"
	"github.com/bss-api/bss-api/internal/podview"
	"github.com/bss-api/bss-api/internal/procs"
)

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

func proc(pid int, cmd, ctr string, start uint64, threads ...int) procs.Process {
	return procs.Process{Proc: procs.Proc{PID: pid, Command: cmd, StartTime: start}, ContainerID: ctr, Threads: append([]int{pid}, threads...)}
}

// view: upf pod (ns core, nf=upf) with pause 100 and upf 101 (threads 102,
// 103); gnb pod (ns ran, nf=gnb) with pause 200, nr-gnb 201 and ping 202; a
// pod unknown to metadata with app 301; host processes 1 and 500.
func testView(t testing.TB, upfStart uint64) *podview.View {
	t.Helper()
	s := procs.NewSnapshot(1, time.Unix(0, 0), []procs.Pod{
		{UID: upfUID, QoS: procs.Burstable,
			Containers: []procs.Container{{ID: sbx1, Sandbox: true}, {ID: app1}},
			Processes:  []procs.Process{proc(100, "pause", sbx1, 10), proc(101, "upf", app1, upfStart, 102, 103)}},
		{UID: gnbUID, QoS: procs.Burstable,
			Containers: []procs.Container{{ID: sbx2, Sandbox: true}, {ID: app2}},
			Processes:  []procs.Process{proc(200, "pause", sbx2, 20), proc(201, "nr-gnb", app2, 21), proc(202, "ping", app2, 22)}},
		{UID: anonUID, QoS: procs.BestEffort,
			Containers: []procs.Container{{ID: app3}},
			Processes:  []procs.Process{proc(301, "nr-gnb", app3, 31)}},
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
	norm, err := Normalize(list, 1000)
	if err != nil {
		t.Fatal(err)
	}
	cs := make([]*compiled, len(norm))
	for i, s := range norm {
		if cs[i], err = compile(s); err != nil {
			t.Fatal(err)
		}
	}
	return cs
}

// render lists entries as "pid:strategy" in order.
func render(es []Entry) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = fmt.Sprintf("%d:%s", e.PID, e.Strategy)
	}
	return strings.Join(parts, " ")
}

func TestResolve(t *testing.T) {
	ms := int64(1_000_000)
	tests := []struct {
		name string
		list []Strategy
		want string
	}{
		{"empty", nil, ""},
		{"seed selector targets the app, never pause",
			[]Strategy{{Name: "s", Priority: true, ExecutionTime: 20 * uint64(ms), Selectors: []LabelSelector{{"nf", "upf"}}}},
			"101:s"},
		{"seed pid strategy",
			[]Strategy{{Name: "p", ExecutionTime: 10 * uint64(ms), PID: 500}}, "500:p"},
		{"a pid that is not running resolves to nothing",
			[]Strategy{{Name: "p", ExecutionTime: 10 * uint64(ms), PID: 717720}}, ""},
		{"explicit pid wins over an earlier selector strategy",
			[]Strategy{{Name: "sel", ExecutionTime: 1000, Selectors: []LabelSelector{{"nf", "gnb"}}}, {Name: "pid", ExecutionTime: 2000, PID: 201}},
			"201:pid 202:sel"},
		{"among selector strategies the first in list order wins",
			[]Strategy{{Name: "a", ExecutionTime: 1000, Namespaces: []string{"ran"}}, {Name: "b", ExecutionTime: 2000, CommandRegex: "nr-gnb|ping"}},
			"201:a 202:a 301:b"},
		{"command regex alone reaches pods without metadata",
			[]Strategy{{Name: "r", ExecutionTime: 1000, CommandRegex: "^nr-gnb$"}}, "201:r 301:r"},
		{"label conditions never match pods without metadata",
			[]Strategy{{Name: "l", ExecutionTime: 1000, LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "nf", Operator: metav1.LabelSelectorOpDoesNotExist}}}}}, ""},
		{"conditions are ANDed",
			[]Strategy{{Name: "and", ExecutionTime: 1000, Namespaces: []string{"ran"}, CommandRegex: "ping"}}, "202:and"},
		{"label_selector In with selectors",
			[]Strategy{{Name: "ls", ExecutionTime: 1000, Selectors: []LabelSelector{{"tier", "data"}},
				LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "nf", Operator: metav1.LabelSelectorOpIn, Values: []string{"upf", "smf"}}}}}},
			"101:ls"},
		{"NotIn", []Strategy{{Name: "n", ExecutionTime: 1000, LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "nf", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"upf"}}}}}},
			"201:n 202:n"},
		{"threads expand to TIDs",
			[]Strategy{{Name: "t", ExecutionTime: 1000, Selectors: []LabelSelector{{"nf", "upf"}}, Threads: true}}, "101:t 102:t 103:t"},
		{"threads follow the strategy that won the process",
			[]Strategy{{Name: "a", ExecutionTime: 1000, Selectors: []LabelSelector{{"nf", "upf"}}}, {Name: "b", ExecutionTime: 1000, CommandRegex: "upf", Threads: true}},
			"101:a"},
		{"explicit pid with conditions that fail",
			[]Strategy{{Name: "p", ExecutionTime: 1000, PID: 201, Namespaces: []string{"core"}}}, ""},
		{"explicit pid may target a sandbox",
			[]Strategy{{Name: "p", ExecutionTime: 1000, PID: 100}}, "100:p"},
		{"explicit pid with pod conditions never matches a host process",
			[]Strategy{{Name: "p", ExecutionTime: 1000, PID: 500, Selectors: []LabelSelector{{"nf", "upf"}}}}, ""},
		{"two pid strategies on one pid: the first wins",
			[]Strategy{{Name: "p1", ExecutionTime: 1000, PID: 1}, {Name: "p2", ExecutionTime: 2000, PID: 1}}, "1:p1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, depth := range []Depth{Winners, Counts, Explain} {
				res := Resolve(mustCompile(t, tt.list), testView(t, 11), Bindings{}, depth)
				if got := render(res.Entries); got != tt.want {
					t.Errorf("depth %d: entries %q, want %q", depth, got, tt.want)
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
	res := Resolve(mustCompile(t, list), testView(t, 11), Bindings{}, Explain)
	if got := render(res.Entries); got != "201:ns 202:pid 301:re" {
		t.Errorf("entries %q", got)
	}
	wantMatched, wantWon := []int{2, 3, 1}, []int{1, 1, 1}
	for i := range list {
		if res.Matched[i] != wantMatched[i] || res.Won[i] != wantWon[i] {
			t.Errorf("%s: matched %d won %d, want %d and %d", list[i].Name, res.Matched[i], res.Won[i], wantMatched[i], wantWon[i])
		}
	}
	var matches []string
	for _, m := range res.Matches {
		matches = append(matches, fmt.Sprintf("%d:%s", m.PID, list[m.Strategy].Name))
	}
	if got := strings.Join(matches, " "); got != "201:ns 201:re 202:ns 202:re 202:pid 301:re" {
		t.Errorf("matches %q", got)
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
	if got := render(Resolve(cs, host("sshd", 5), bind, Winners).Entries); got != "" {
		t.Fatalf("with sshd at the PID = %q, want nothing", got)
	}
	if got := render(Resolve(cs, host("nginx", 50), bind, Winners).Entries); got != "500:web" {
		t.Errorf("with nginx at the PID = %q, want 500:web", got)
	}
	if got := render(Resolve(cs, host("nginx", 70), bind, Winners).Entries); got != "" {
		t.Errorf("after the PID was reused by another nginx = %q, want nothing", got)
	}
}

// threads: true on a PID strategy also covers the threads of a process
// outside pods (the index keeps them for the PIDs strategies target).
func TestResolvePIDThreadsOutsidePods(t *testing.T) {
	cs := mustCompile(t, []Strategy{{Name: "sshd", ExecutionTime: 1000, PID: 500, Threads: true}})
	if got := render(Resolve(cs, testView(t, 11), Bindings{}, Winners).Entries); got != "500:sshd 501:sshd" {
		t.Errorf("entries = %q, want the process and its thread", got)
	}
}

func TestResolvePIDReuse(t *testing.T) {
	cs := mustCompile(t, []Strategy{{Name: "p", ExecutionTime: 1000, PID: 101}})
	bind := Bindings{}
	if got := render(Resolve(cs, testView(t, 11), bind, Winners).Entries); got != "101:p" {
		t.Fatalf("first = %q", got)
	}
	// PID 101 now belongs to a process that started later: not the one
	// the strategy was first applied to.
	if got := render(Resolve(cs, testView(t, 99), bind, Winners).Entries); got != "" {
		t.Errorf("after PID reuse = %q, want nothing", got)
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Normalize(tt.list, tt.max)
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
	got, _ := Normalize([]Strategy{{Name: "strategy-2", ExecutionTime: 1000, PID: 1}, {ExecutionTime: 1000, PID: 2}, {ExecutionTime: 1000, PID: 3}}, 10)
	if names := got[0].Name + "," + got[1].Name + "," + got[2].Name; names != "strategy-2,strategy-1,strategy-3" {
		t.Errorf("generated names = %s", names)
	}
}

func TestDecodeList(t *testing.T) {
	for body, want := range map[string]string{
		`{"strategies":[{"priority":true,"execution_time":20000000,"selectors":[{"key":"nf","value":"upf"}]},{"priority":false,"execution_time":10000000,"pid":717720}]}`: "",
		`{"strategies":[]}`:                      "",
		`{}`:                                     "strategies: required",
		`null`:                                   "null",
		``:                                       "empty",
		`{"strategies":[{"execution_time":-1}]}`: "strategies[0].execution_time: must be a non-negative integer",
		`{"strategies":[{"execution_time":1.5}]}`: "strategies[0].execution_time",
		`{"strategies":[{"priority":"yes"}]}`:     "strategies[0].priority: must be true or false",
		`{"strategies":[{"selecter":[]}]}`:        `strategies[0].selecter: unknown field`,
		`{"strategies":[{"pid":"7"}]}`:            "strategies[0].pid",
		`{"strategies":[]} trailing`:              "after the JSON value",
		`{"strategies":{}}`:                       "strategies",
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

type staticView struct{ v *podview.View }

func (s staticView) View() *podview.View                  { return s.v }
func (s staticView) Subscribe() (<-chan struct{}, func()) { return nil, func() {} }

func TestResolverWrites(t *testing.T) {
	ctx := context.Background()
	store := &fakeStore{}
	r := NewResolver(Options{Store: store, Views: staticView{testView(t, 11)}, Max: 3})
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if s := r.Snapshot(); s == nil || len(s.Entries) != 0 || s.Entries == nil && false {
		t.Fatalf("empty snapshot = %+v", s)
	}
	if _, err := r.ReplaceAll(ctx, []Strategy{{ExecutionTime: 1000, CommandRegex: "ping"}}); err != nil {
		t.Fatal(err)
	}
	v1 := r.Snapshot().Version
	if got := render(r.Snapshot().Entries); got != "202:strategy-1" {
		t.Errorf("after replace = %q", got)
	}
	// An invalid list changes nothing.
	if _, err := r.ReplaceAll(ctx, []Strategy{{ExecutionTime: 1000, PID: 1}, {ExecutionTime: 5}}); err == nil {
		t.Fatal("invalid list accepted")
	}
	if got := render(r.Snapshot().Entries); got != "202:strategy-1" {
		t.Errorf("after a rejected replace = %q", got)
	}
	if defs, _ := r.Definitions(ctx); len(defs) != 1 {
		t.Errorf("definitions after a rejected replace: %d", len(defs))
	}
	// Refresh without change keeps the version.
	if err := r.Refresh(ctx); err != nil || r.Snapshot().Version != v1 {
		t.Errorf("no-op refresh moved the version")
	}
	created, err := r.Put(ctx, Strategy{Name: "gnb", ExecutionTime: 1000, Namespaces: []string{"ran"}})
	if err != nil || !created {
		t.Fatalf("Put = %v, %v", created, err)
	}
	if got := render(r.Snapshot().Entries); got != "201:gnb 202:strategy-1" {
		t.Errorf("after put = %q", got)
	}
	if created, err := r.Put(ctx, Strategy{Name: "gnb", ExecutionTime: 2000, Namespaces: []string{"core"}}); err != nil || created {
		t.Errorf("replace = %v, %v", created, err)
	}
	if _, err := r.Put(ctx, Strategy{Name: "bad", ExecutionTime: 1}); apperr.CodeOf(err) != apperr.Invalid {
		t.Errorf("invalid put = %v", err)
	}
	if err := r.Delete(ctx, "nope"); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("delete missing = %v", err)
	}
	if err := r.Delete(ctx, "gnb"); err != nil {
		t.Fatal(err)
	}
	p, err := r.Preview(ctx, []Strategy{{Name: "pv", ExecutionTime: 1000, CommandRegex: "upf"}})
	if err != nil || render(p.Entries) != "101:pv" || p.Matched[0] != 1 {
		t.Errorf("preview = %+v, %v", p, err)
	}
	if got := render(r.Snapshot().Entries); got != "202:strategy-1" {
		t.Errorf("a preview changed the resolution: %q", got)
	}
	for range 2 {
		if _, err := r.Put(ctx, Strategy{Name: fmt.Sprintf("x%d", store.version), ExecutionTime: 1000, PID: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Put(ctx, Strategy{Name: "over", ExecutionTime: 1000, PID: 1}); err == nil || !strings.Contains(err.Error(), "at most 3") {
		t.Errorf("put over the limit = %v", err)
	}
}

// flakyStore is a fakeStore whose reads can fail; it counts List calls.
type flakyStore struct {
	fakeStore
	down  atomic.Bool
	lists atomic.Int64
}

func (s *flakyStore) List(ctx context.Context) ([]Strategy, uint64, error) {
	s.lists.Add(1)
	if s.down.Load() {
		return nil, 0, errors.New("db down")
	}
	return s.fakeStore.List(ctx)
}

// settableView is a view source whose view can be replaced.
type settableView struct{ v atomic.Pointer[podview.View] }

func (s *settableView) View() *podview.View                  { return s.v.Load() }
func (s *settableView) Subscribe() (<-chan struct{}, func()) { return nil, func() {} }

// The pod view keeps being resolved, with the strategies last read, while
// the store cannot be read; and a view change does not read the store.
func TestResolverFollowsTheViewWithoutTheStore(t *testing.T) {
	ctx := context.Background()
	store := &flakyStore{}
	views := &settableView{}
	views.v.Store(testView(t, 11))
	r := NewResolver(Options{Store: store, Views: views, Max: 10})
	if _, err := r.ReplaceAll(ctx, []Strategy{{ExecutionTime: 1000, CommandRegex: "^upf$"}}); err != nil {
		t.Fatal(err)
	}
	if got := render(r.Snapshot().Entries); got != "101:strategy-1" {
		t.Fatalf("resolution = %q", got)
	}
	lists := store.lists.Load()
	for range 3 {
		if err := r.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := store.lists.Load() - lists; n != 0 {
		t.Errorf("refreshes with the store unchanged read it %d times", n)
	}

	store.down.Store(true)
	r.markStale() // as a change notice from another instance would
	// The upf process exits: its PID must leave the resolution even though
	// the strategies cannot be read.
	views.v.Store(podview.Build(2, procs.NewSnapshot(2, time.Unix(0, 0), nil, nil), meta{}))
	if err := r.Refresh(ctx); err == nil {
		t.Error("Refresh with the store down reported no error")
	}
	if got := render(r.Snapshot().Entries); got != "" {
		t.Errorf("resolution with the store down = %q, want the exited PID gone", got)
	}
}

// A write that committed succeeds even when reading the store back fails;
// Run serves the change as soon as the store is readable.
func TestResolverWriteStandsWhenTheReadBackFails(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := &flakyStore{}
	r := NewResolver(Options{Store: store, Views: staticView{testView(t, 11)}, Max: 10, Debounce: time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if s := r.Snapshot(); s != nil && render(s.Entries) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("resolution never became %q", want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("")
	store.down.Store(true)
	if created, err := r.Put(ctx, Strategy{Name: "upf", ExecutionTime: 1000, CommandRegex: "^upf$"}); err != nil || !created {
		t.Fatalf("Put with the read-back failing = %v, %v; want created", created, err)
	}
	if list, _, _ := store.fakeStore.List(ctx); len(list) != 1 {
		t.Fatalf("stored %d strategies, want 1", len(list))
	}
	store.down.Store(false)
	waitFor("101:upf")
}
