package strategy

import (
	"context"
	"log/slog"
	"maps"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bss-api/bss-api/internal/apperr"
)

// ServiceOptions configure a Service.
type ServiceOptions struct {
	Store Store
	// Resolver resolves what the service writes; its Run must be running
	// for writes to answer.
	Resolver *Resolver
	// Limits bound what each write, and each preview, may cost (zero:
	// DefaultLimits).
	Limits Limits
	// Resolutions bounds the previews and explanations resolving at once
	// (zero: 2); one that cannot start within ResolutionWait (zero: 1 s) is
	// refused with a 503 and Retry-After, and one that runs longer than
	// ResolutionTimeout (zero: 10 s) is stopped and refused the same way.
	Resolutions       int
	ResolutionWait    time.Duration
	ResolutionTimeout time.Duration
	// Node is this server's node name.
	Node string
	// Shared says that the servers of other nodes use the same store. A
	// PID means something on one node only, so then a pid strategy
	// written without nodes is limited to this node (stamped with it)
	// before it is stored. A store of one node needs no stamp.
	Shared bool
	// Admit looks up the processes pid strategies target at write time,
	// so a write's resolution includes one started just before it
	// (optional; see ProcessAdmitter).
	Admit ProcessAdmitter
	// Audit records every committed write (optional).
	Audit  Auditor
	Logger *slog.Logger
	Now    func() time.Time
}

// Auditor records the changes the service commits: the audit trail.
type Auditor interface {
	// StrategiesChanged records c, committed for the request ctx belongs
	// to (whose identity it carries). It cannot fail the write, which
	// stands: it deals with its own failures.
	StrategiesChanged(ctx context.Context, c Change)
}

// Change is what one committed write changed: the definitions it
// touched, as stored, before and after. ReplaceAll touches the whole
// list; Put the named strategy (Before empty when Created); Delete the
// named strategy (After empty).
type Change struct {
	Before, After []Strategy
	Created       bool
}

// Stamp records that a write limited a pid strategy to nodes.
type Stamp struct {
	Strategy string   `json:"strategy"`
	Nodes    []string `json:"nodes"`
}

// Written is what a write stored.
type Written struct {
	// Strategies are as stored, in order: names filled, stamps applied.
	Strategies []Strategy
	// Stamped lists the strategies the write limited to this node, in
	// order; nil when none.
	Stamped []Stamp
	// Created says, for Put, that the name was new.
	Created bool
}

// Service writes and reads the stored strategies, and resolves lists on
// demand (preview, explain). A write is validated, committed to the store,
// reported to the auditor with what it replaced, and answered once the
// resolver has resolved it, so a GET after a successful write reflects
// it, down to a process its pid strategies target that started just
// before the write (see admit); a write the store committed stands even when reading it back, or
// recording it, fails (the resolver retries; the auditor logs and counts
// its failure). The service holds no
// lock: concurrent writes are ordered by the store, their resolutions by
// the resolver. Safe for concurrent use.
type Service struct {
	store       Store
	resolver    *Resolver
	check       *checker
	resolutions resolutionSlots
	node        string
	shared      bool
	audit       Auditor
	admitter    ProcessAdmitter
	log         *slog.Logger
	now         func() time.Time
}

// NewService returns a service over opts.Store and opts.Resolver.
func NewService(opts ServiceOptions) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{store: opts.Store, resolver: opts.Resolver, check: newChecker(opts.Limits),
		resolutions: newResolutionSlots(opts.Resolutions, opts.ResolutionWait, opts.ResolutionTimeout),
		node:        opts.Node, shared: opts.Shared, audit: opts.Audit, admitter: opts.Admit, log: opts.Logger, now: opts.Now}
}

// stamp limits the pid strategies of list that name no nodes to this
// node, in place, when the store is shared, and lists what it stamped.
func (s *Service) stamp(list []Strategy) ([]Stamp, error) {
	if !s.shared {
		return nil, nil
	}
	var stamped []Stamp
	for i := range list {
		st := &list[i]
		if st.PID == 0 || len(st.Nodes) > 0 {
			continue
		}
		if errs := validation.IsDNS1123Subdomain(s.node); len(errs) > 0 {
			return nil, apperr.Errorf(apperr.Invalid, "nodes: a pid strategy in a store shared between nodes applies "+
				"on the nodes it names, and this server's node name %q cannot stand in for them (%s); give nodes", s.node, errs[0])
		}
		st.Nodes = []string{s.node}
		stamped = append(stamped, Stamp{Strategy: st.Name, Nodes: []string{s.node}})
	}
	return stamped, nil
}

// storeError passes on a store error that carries an apperr code (the
// stores mark their own failures Unavailable, and refusals Invalid or
// NotFound); one without a code is a failure of the store: 503.
func storeError(err error, what string) error {
	if apperr.CodeOf(err) != apperr.Internal {
		return err
	}
	return apperr.Wrap(apperr.Unavailable, err, "the strategy store cannot be "+what)
}

// committed records c with the auditor, if there is one. It runs before
// the resolution, so a write is on record even if its resolution waits.
func (s *Service) committed(ctx context.Context, c Change) {
	if s.audit != nil {
		s.audit.StrategiesChanged(ctx, c)
	}
}

// resolve waits until the resolver has resolved a committed write. The
// write stands whatever happens here: if the store cannot be read back,
// the previous strategies stay in force and the resolver retries, so the
// change is served as soon as the store is readable.
func (s *Service) resolve(ctx context.Context) {
	if err := s.resolver.Sync(ctx); err != nil {
		s.log.Warn("strategy change committed; resolving it failed, retrying", "err", err)
	}
}

// Definitions returns the stored strategies as written, with their names.
func (s *Service) Definitions(ctx context.Context) ([]Strategy, error) {
	list, _, err := s.store.List(ctx)
	if err != nil {
		return nil, storeError(err, "read")
	}
	return list, nil
}

// ReplaceAll validates list and replaces every stored strategy with it
// atomically (the seed's POST), then resolves.
func (s *Service) ReplaceAll(ctx context.Context, list []Strategy) (Written, error) {
	norm, stamped, err := s.normalize(list)
	if err != nil {
		return Written{}, err
	}
	s.admit(ctx, norm)
	before, err := s.store.Replace(ctx, norm)
	if err != nil {
		return Written{}, storeError(err, "written")
	}
	s.committed(ctx, Change{Before: before, After: norm})
	s.resolve(ctx)
	return Written{Strategies: norm, Stamped: stamped}, nil
}

// Put creates or replaces the strategy st.Name, then resolves.
func (s *Service) Put(ctx context.Context, st Strategy) (Written, error) {
	if st.Name == "" {
		return Written{}, apperr.Errorf(apperr.Invalid, "name: required")
	}
	one := []Strategy{st}
	stamped, err := s.stamp(one)
	if err != nil {
		return Written{}, err
	}
	if err := s.check.validate(one[0]); err != nil { // the name's rule included
		return Written{}, err
	}
	s.admit(ctx, one)
	prev, created, err := s.store.Put(ctx, one[0], s.check.admit)
	if err != nil {
		return Written{}, storeError(err, "written")
	}
	c := Change{After: one, Created: created}
	if !created {
		c.Before = []Strategy{prev}
	}
	s.committed(ctx, c)
	s.resolve(ctx)
	return Written{Strategies: one, Stamped: stamped, Created: created}, nil
}

// Delete removes the named strategy, then resolves.
func (s *Service) Delete(ctx context.Context, name string) error {
	prev, err := s.store.Delete(ctx, name)
	if err != nil {
		return storeError(err, "written")
	}
	s.committed(ctx, Change{Before: []Strategy{prev}})
	s.resolve(ctx)
	return nil
}

// normalize names list, stamps it and checks it against the limits, as
// a replace-all stores it.
func (s *Service) normalize(list []Strategy) ([]Strategy, []Stamp, error) {
	var stamped []Stamp
	norm, err := s.check.normalize(list, func(named []Strategy) (err error) {
		stamped, err = s.stamp(named)
		return err
	})
	return norm, stamped, err
}

// Explain resolves the strategies of the current resolution again,
// recording every match, against the current view. Version is that of
// the current resolution. It runs in the caller's goroutine on its own
// copy of the bindings, so neither writes nor the resolver wait for it,
// and it binds nothing. It takes one of the resolution slots.
func (s *Service) Explain(ctx context.Context) (*Snapshot, error) {
	ctx, release, err := s.resolutions.acquire(ctx, "explanations")
	if err != nil {
		return nil, err
	}
	defer release()
	cur := s.resolver.Snapshot()
	v := s.resolver.view()
	if cur == nil || v == nil {
		return nil, apperr.Errorf(apperr.Unavailable, "strategies are not resolved yet; retry in a moment")
	}
	res, err := Resolve(ctx, cur.compiled, v, maps.Clone(cur.bind), Explain)
	if err != nil {
		return nil, s.resolutions.stopped(err, "explanation")
	}
	return &Snapshot{Version: cur.Version, ResolvedAt: s.now(), Strategies: cur.Strategies, Result: res}, nil
}

// Preview resolves list against the current view as ReplaceAll would
// store it (stamps included, and listed; held to the same limits), without
// storing it or binding anything. It takes one of the resolution slots
// before it checks list, which costs as much as resolving it.
func (s *Service) Preview(ctx context.Context, list []Strategy) (*Snapshot, []Stamp, error) {
	return s.PreviewDecoded(ctx, func() ([]Strategy, error) { return list, nil })
}

// PreviewDecoded is Preview of the list decode returns, called once the
// slot is taken: a decoded list holds several times the bytes of its
// JSON, so requests waiting for a slot hold only their bodies. decode's
// error is returned as it is.
func (s *Service) PreviewDecoded(ctx context.Context, decode func() ([]Strategy, error)) (*Snapshot, []Stamp, error) {
	ctx, release, err := s.resolutions.acquire(ctx, "previews")
	if err != nil {
		return nil, nil, err
	}
	defer release()
	list, err := decode()
	if err != nil {
		return nil, nil, err
	}
	norm, stamped, err := s.normalize(list)
	if err != nil {
		return nil, nil, err
	}
	cs := make([]*compiled, len(norm))
	for i, st := range norm {
		if cs[i], err = compile(st, s.node); err != nil {
			return nil, nil, apperr.Errorf(apperr.Invalid, "%v", err)
		}
	}
	v := s.resolver.view()
	if !complete(v) { // a preview, too, is never partial
		return nil, nil, apperr.Errorf(apperr.Unavailable, "the process index is still scanning or the pod metadata is not known yet; retry in a moment")
	}
	bind := Bindings{}
	if cur := s.resolver.Snapshot(); cur != nil {
		bind = maps.Clone(cur.bind)
	}
	res, err := Resolve(ctx, cs, v, bind, Counts)
	if err != nil {
		return nil, nil, s.resolutions.stopped(err, "preview")
	}
	return &Snapshot{ResolvedAt: s.now(), Strategies: norm, Result: res}, stamped, nil
}
