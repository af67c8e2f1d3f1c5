package kube

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/bss-api/bss-api/internal/notify"
)

// How remember waits for the first sync: it looks every startPoll, and
// reads the store again after a failed read every loadRetry; a failed
// save is tried again after saveRetry, and the last one at shutdown gets
// flushTimeout.
const (
	startPoll    = 100 * time.Millisecond
	loadRetry    = time.Second
	saveRetry    = 10 * time.Second
	flushTimeout = 2 * time.Second
)

// Pending implements Source: why the pods of this node are not known yet
// (the informer has not synced, and no saved record is in use), or "" once
// they are.
func (s *Informer) Pending() string {
	if s.informer.HasSynced() || s.fallback.Load() != nil {
		return ""
	}
	s.mu.Lock()
	lastErr := s.lastErr
	s.mu.Unlock()
	why := "the API server has not listed the pods of node " + s.opts.NodeName + " yet"
	if lastErr != nil {
		why = fmt.Sprintf("the API server cannot list the pods of node %s (%v)", s.opts.NodeName, lastErr)
	}
	if s.opts.Saved == nil {
		return why
	}
	return why + ", and no pod metadata of this node is persisted in the store"
}

// listFailed reports whether the last call to the API server failed.
func (s *Informer) listFailed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr != nil
}

// remember is Run's second loop. Until the informer syncs it reads the
// saved record and puts it in use once a list fails or SyncTimeout has
// passed; at the sync it drops it (lookups then answer from the cache)
// and from then on saves the node's pods whenever they change. It
// returns when ctx ends.
func (s *Informer) remember(ctx context.Context) {
	if !s.awaitSync(ctx) {
		return
	}
	if s.fallback.Load() != nil {
		s.log.Info("the pods listed by the API server replace the persisted pod metadata", "pods", len(s.informer.GetStore().ListKeys()))
	}
	s.Changed() // lookups now answer from the cache
	if s.opts.Saved == nil {
		<-ctx.Done()
		return
	}
	s.keepSaved(ctx)
}

// awaitSync waits until the informer has synced, meanwhile putting the
// saved record in use when it should be. It returns false if ctx ended
// first.
func (s *Informer) awaitSync(ctx context.Context) bool {
	// Waiting is timed by the real clock, as the ticker is; opts.Now
	// dates what is saved and reported.
	start := time.Now()
	tick := time.NewTicker(startPoll)
	defer tick.Stop()
	var (
		record   *savedView
		lastLoad time.Time
		loaded   bool // a read answered (found or not)
	)
	for !s.informer.HasSynced() {
		if s.opts.Saved != nil && !loaded && time.Since(lastLoad) >= loadRetry {
			lastLoad = time.Now()
			record, loaded = s.load(ctx)
		}
		if record != nil && s.fallback.Load() == nil && (s.listFailed() || time.Since(start) >= s.opts.SyncTimeout) {
			s.fallback.Store(record)
			s.log.Warn("the API server has not listed this node's pods: resolving with the persisted pod metadata until it does",
				"pods", record.n, "saved_at", record.at, "age", s.opts.Now().Sub(record.at).Round(time.Second))
			s.Changed()
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}

// load reads the saved record of this node. ok is false when the read
// failed (it is tried again); record is nil when there is none to use.
func (s *Informer) load(ctx context.Context) (record *savedView, ok bool) {
	rec, found, err := s.opts.Saved.LoadPods(ctx, s.opts.NodeName)
	if err != nil {
		s.log.Warn("read the persisted pod metadata; retrying", "err", err)
		return nil, false
	}
	if !found {
		return nil, true
	}
	node, pods, err := DecodePods(rec.Data)
	if err != nil || node != s.opts.NodeName {
		s.log.Warn("the persisted pod metadata cannot be used; it is replaced once the API server lists the pods",
			"err", err, "node", node)
		return nil, true
	}
	return newSavedView(rec.SavedAt, pods), true
}

// keepSaved saves the node's pods now, then after every change (debounced
// by SaveDelay) that changed what is saved, and once more at shutdown,
// until ctx ends.
func (s *Informer) keepSaved(ctx context.Context) {
	changes, stop := s.Subscribe()
	defer stop()
	batch := notify.NewBatch()
	defer batch.Stop()
	var last []byte // as last saved
	save := func(ctx context.Context, always bool) {
		data, err := EncodePods(s.opts.NodeName, podsOf(s.informer.GetStore().List()))
		if err != nil {
			s.log.Error("persist pod metadata", "err", err)
			return
		}
		if !always && bytes.Equal(data, last) {
			return
		}
		if err := s.opts.Saved.SavePods(ctx, s.opts.NodeName, SavedPods{Data: data, SavedAt: s.opts.Now()}); err != nil {
			s.log.Warn("persist pod metadata; retrying", "err", err, "retry_in", saveRetry)
			batch.Arm(saveRetry)
			return
		}
		last = data
	}
	save(ctx, false)
	for {
		select {
		case <-ctx.Done():
			// The store outlives the sources: the record then says when
			// the pods were last known.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
			save(fctx, true)
			cancel()
			return
		case <-changes:
			batch.Arm(s.opts.SaveDelay)
		case <-batch.C():
			batch.Fired()
			save(ctx, false)
		}
	}
}
