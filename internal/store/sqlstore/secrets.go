package sqlstore

import (
	"context"
	"database/sql"
	"errors"
)

// Secret implements store.Backend. A secret is read, and created only when
// absent: the insert does nothing when another writer (of this process or
// of another node) got there first, and the value read after it is the
// one that won.
func (s *Store) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	if v, ok, err := s.readSecret(ctx, name); err != nil || ok {
		return v, err
	}
	v, err := generate()
	if err != nil {
		return nil, err
	}
	if err := s.refuseWrite(); err != nil {
		return nil, err
	}
	err = s.writeIn(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q.addSecret, name, v, s.opts.Now().Unix())
		return err
	})
	if err := s.wrote(err); err != nil {
		return nil, err
	}
	v, ok, err := s.readSecret(ctx, name)
	if err == nil && !ok {
		err = unavailable(errors.New("the secret was stored but cannot be read back"), "read a secret")
	}
	return v, err
}

// readSecret reads the secret called name, if there is one. It reads
// through the write connection, so it sees what was just written there.
func (s *Store) readSecret(ctx context.Context, name string) (v []byte, ok bool, err error) {
	err = s.write.QueryRowContext(ctx, s.q.getSecret, name).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, unavailable(err, "read a secret")
	}
	return v, true, nil
}
