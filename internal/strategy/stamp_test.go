package strategy

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/internal/apperr"
)

// stampList has one strategy of each kind a stamp may or may not touch.
var stampList = []Strategy{
	{Name: "pin", ExecutionTime: 1000, PID: 500},                                  // a pid without nodes: stamped when shared
	{Name: "placed", ExecutionTime: 1000, PID: 1, Nodes: []string{"node-b"}},      // nodes given: kept
	{Name: "sel", ExecutionTime: 1000, Selectors: []LabelSelector{{"nf", "upf"}}}, // no pid: kept
}

// nodesOf returns the nodes of each strategy, by name.
func nodesOf(list []Strategy) map[string][]string {
	out := map[string][]string{}
	for _, s := range list {
		out[s.Name] = s.Nodes
	}
	return out
}

// With a shared store, every write path limits a pid strategy without
// nodes to this node, says so, and stores it that way; without, nothing
// is stamped.
func TestServiceStampsPIDStrategiesOfASharedStore(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name        string
		shared      bool
		wantStamped []Stamp
		wantPin     []string // the nodes pin is stored with
		wantWinners []won
	}{
		{name: "shared", shared: true, wantStamped: []Stamp{{Strategy: "pin", Nodes: []string{testNode}}},
			wantPin: []string{testNode}, wantWinners: []won{{101, "sel"}, {500, "pin"}}},
		{name: "one node", shared: false, wantStamped: nil,
			wantPin: nil, wantWinners: []won{{101, "sel"}, {500, "pin"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			check := func(t *testing.T, what string, stamped []Stamp, stored []Strategy) {
				t.Helper()
				if !slices.EqualFunc(stamped, tt.wantStamped, func(a, b Stamp) bool {
					return a.Strategy == b.Strategy && slices.Equal(a.Nodes, b.Nodes)
				}) {
					t.Errorf("%s: stamped %+v, want %+v", what, stamped, tt.wantStamped)
				}
				nodes := nodesOf(stored)
				if !slices.Equal(nodes["pin"], tt.wantPin) || !slices.Equal(nodes["placed"], []string{"node-b"}) || nodes["sel"] != nil {
					t.Errorf("%s: nodes %v, want pin %v, placed [node-b], sel none", what, nodes, tt.wantPin)
				}
			}
			t.Run("replace all", func(t *testing.T) {
				f := startFixture(t, fixtureOptions{service: ServiceOptions{Shared: tt.shared}})
				w, err := f.service.ReplaceAll(ctx, stampList)
				if err != nil {
					t.Fatal(err)
				}
				check(t, "answer", w.Stamped, w.Strategies)
				defs, err := f.service.Definitions(ctx)
				if err != nil {
					t.Fatal(err)
				}
				check(t, "definitions", tt.wantStamped, defs)
				if got := f.resolved(); !slices.Equal(got, tt.wantWinners) {
					t.Errorf("resolved %v, want %v", got, tt.wantWinners)
				}
			})
			t.Run("put", func(t *testing.T) {
				f := startFixture(t, fixtureOptions{service: ServiceOptions{Shared: tt.shared}})
				var stamped []Stamp
				for _, st := range stampList {
					w, err := f.service.Put(ctx, st)
					if err != nil {
						t.Fatal(err)
					}
					if len(w.Strategies) != 1 || w.Strategies[0].Name != st.Name {
						t.Fatalf("Put(%s) stored %+v", st.Name, w.Strategies)
					}
					stamped = append(stamped, w.Stamped...)
				}
				defs, err := f.service.Definitions(ctx)
				if err != nil {
					t.Fatal(err)
				}
				check(t, "puts", stamped, defs)
			})
			t.Run("preview", func(t *testing.T) {
				f := startFixture(t, fixtureOptions{service: ServiceOptions{Shared: tt.shared}})
				p, stamped, err := f.service.Preview(ctx, stampList)
				if err != nil {
					t.Fatal(err)
				}
				check(t, "preview", stamped, p.Strategies)
				if got := winners(p.Entries); !slices.Equal(got, tt.wantWinners) {
					t.Errorf("preview resolves to %v, want %v", got, tt.wantWinners)
				}
				if defs, _ := f.service.Definitions(ctx); len(defs) != 0 {
					t.Errorf("preview stored %d strategies", len(defs))
				}
			})
		})
	}
}

// The point of the stamp: a pid strategy written through one node's server
// into a shared store boosts that PID on that node only.
func TestStampedStrategyAppliesOnItsNodeOnly(t *testing.T) {
	ctx := context.Background()
	store := &fakeStore{}
	changes := &changeNotices{}
	a := startFixture(t, fixtureOptions{store: store, node: "node-a", service: ServiceOptions{Shared: true}})
	b := startFixture(t, fixtureOptions{store: store, node: "node-b", changes: changes, service: ServiceOptions{Shared: true}})
	if _, err := a.service.Put(ctx, Strategy{Name: "sshd", ExecutionTime: 1000, PID: 500}); err != nil {
		t.Fatal(err)
	}
	changes.Changed() // as the shared store tells node b
	if err := b.resolver.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := a.resolved(), []won{{500, "sshd"}}; !slices.Equal(got, want) {
		t.Errorf("node a resolves %v, want %v", got, want)
	}
	if got := b.resolved(); len(got) != 0 || len(b.resolver.Snapshot().Strategies) != 1 {
		t.Errorf("node b resolves %v from %d strategies, want nothing from the one stored", got, len(b.resolver.Snapshot().Strategies))
	}
}

// A node name that cannot be a stamp is refused where a stamp is needed,
// and only there.
func TestStampNeedsAValidNodeName(t *testing.T) {
	ctx := context.Background()
	f := startFixture(t, fixtureOptions{node: "Not_A_Node", service: ServiceOptions{Shared: true}})
	_, err := f.service.Put(ctx, Strategy{Name: "pin", ExecutionTime: 1000, PID: 500})
	if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(err.Error(), `"Not_A_Node"`) {
		t.Errorf("Put of a pid strategy = %v, want invalid naming the node", err)
	}
	if _, err := f.service.Put(ctx, Strategy{Name: "placed", ExecutionTime: 1000, PID: 500, Nodes: []string{"node-a"}}); err != nil {
		t.Errorf("Put of a pid strategy with nodes = %v", err)
	}
	if _, err := f.service.ReplaceAll(ctx, []Strategy{{ExecutionTime: 1000, CommandRegex: "^upf$"}}); err != nil {
		t.Errorf("ReplaceAll without pid strategies = %v", err)
	}
}
