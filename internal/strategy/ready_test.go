package strategy

import (
	"context"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/internal/health"
	"github.com/bss-api/bss-api/internal/podview"
)

// pendingView is testView as the pod view shows it before the pod
// metadata is known.
func pendingView(t *testing.T, upfStart uint64) *podview.View {
	v := *testView(t, upfStart)
	v.MetaPending = "listing the pods of node n1"
	return &v
}

// Nothing is published until the view is complete: a selector resolved
// against pods whose labels are unknown would win nothing.
func TestResolverWaitsForCompletePodMetadata(t *testing.T) {
	ctx := context.Background()
	before := NewResolver(ResolverOptions{Store: &fakeStore{}, Views: newSettableView(nil)})
	if got := strings.Join(before.Pending(), "; "); !strings.Contains(got, "the first full process scan") ||
		!strings.Contains(got, "the stored strategies: not read yet") {
		t.Errorf("Pending before Run = %q; want the scan and the strategies", got)
	}

	store := &flakyStore{}
	views := newSettableView(pendingView(t, 11))
	changes := &changeNotices{}
	f := startFixture(t, fixtureOptions{store: store, views: views, changes: changes})
	if _, err := f.service.ReplaceAll(ctx, []Strategy{{ExecutionTime: 1000, CommandRegex: "^upf$"}}); err != nil {
		t.Fatal(err)
	}
	if s := f.resolver.Snapshot(); s != nil {
		t.Fatalf("published %+v from a view without pod metadata", s.Entries)
	}
	if got := f.resolver.Pending(); len(got) != 1 || got[0] != "pod metadata: listing the pods of node n1" {
		t.Errorf("Pending = %q; want only the pod metadata, with why", got)
	}

	views.set(testView(t, 11))
	f.waitResolved(t, []won{{101, "strategy-1"}})
	if got := f.resolver.Pending(); got != nil {
		t.Errorf("Pending once resolved = %q", got)
	}
	// A view that is incomplete again (it does not happen: a source that
	// knew the pods keeps them) keeps the last resolution.
	version := f.resolver.Snapshot().Version
	views.set(pendingView(t, 12))
	if err := f.resolver.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if s := f.resolver.Snapshot(); s.Version != version || len(s.Entries) != 1 || s.Entries[0].StartTime != 11 {
		t.Errorf("after an incomplete view: version %d entries %+v; want version %d unchanged", s.Version, s.Entries, version)
	}

	// A store that cannot be read keeps the strategies read before in
	// force: the view keeps being resolved with them.
	store.down.Store(true)
	changes.Changed()
	views.set(testView(t, 13))
	waitFor(t, "the new view resolved with the last strategies", func() bool {
		s := f.resolver.Snapshot()
		return len(s.Entries) == 1 && s.Entries[0].PID == 101 && s.Entries[0].StartTime == 13
	})
	waitFor(t, "health to say the store cannot be read", func() bool {
		return f.resolver.Health(ctx).State == health.Degraded
	})
	if got := f.resolver.Pending(); got != nil {
		t.Errorf("Pending while the store is down = %q; the resolution stands", got)
	}
}
