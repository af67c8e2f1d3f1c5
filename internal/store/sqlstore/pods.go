package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/bss-api/bss-api/internal/kube"
)

// Pods returns s: each node's last known pod metadata, one row per node.
func (s *Store) Pods() kube.PodStore { return podStore{s} }

// podStore is the kube.PodStore view of a Store.
type podStore struct{ s *Store }

// SavePods implements kube.PodStore: node's row is replaced.
func (p podStore) SavePods(ctx context.Context, node string, rec kube.SavedPods) error {
	if err := p.s.refuseWrite(); err != nil {
		return err
	}
	err := p.s.writeIn(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, p.s.q.savePods, node, rec.Data, rec.SavedAt.UnixNano())
		return err
	})
	if err := p.s.wrote(err); err != nil {
		return unavailable(err, "save pod metadata")
	}
	return nil
}

// LoadPods implements kube.PodStore.
func (p podStore) LoadPods(ctx context.Context, node string) (kube.SavedPods, bool, error) {
	var (
		data []byte
		at   int64
	)
	err := p.s.read.QueryRowContext(ctx, p.s.q.loadPods, node).Scan(&data, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return kube.SavedPods{}, false, nil
	case err != nil:
		return kube.SavedPods{}, false, unavailable(err, "read pod metadata")
	}
	return kube.SavedPods{Data: data, SavedAt: time.Unix(0, at).UTC()}, true, nil
}
