package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strconv"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/strategy"
)

// version reads the strategies version.
func (s *Store) version(ctx context.Context) (uint64, error) {
	var v int64
	err := s.read.QueryRowContext(ctx, s.q.version).Scan(&v)
	return uint64(v), err
}

// List implements strategy.Store.
func (s *Store) List(ctx context.Context) ([]strategy.Strategy, uint64, error) {
	tx, err := s.read.BeginTx(ctx, s.d.readTx())
	if err != nil {
		return nil, 0, unavailable(err, "be read")
	}
	defer func() { _ = tx.Rollback() }()
	var version int64
	if err := tx.QueryRowContext(ctx, s.q.version).Scan(&version); err != nil {
		return nil, 0, unavailable(err, "be read")
	}
	rows, err := tx.QueryContext(ctx, s.q.listStrategies)
	if err != nil {
		return nil, 0, unavailable(err, "be read")
	}
	defer rows.Close()
	out, err := scanStrategies(rows, func(err error) error { return unavailable(err, "be read") })
	if err != nil {
		return nil, 0, err
	}
	return out, uint64(version), nil
}

// rows is the part of a query result that scanStrategies reads.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanStrategies reads rows of two columns, a strategy's name and the
// strategy as saved (JSON), in order. A failure to read rows is passed
// through readErr. A body that does not decode (damaged, or too large to
// be a strategy) does not fail the list: it is listed as unreadable (see
// strategy.UnmarshalStored), so the rest can still be applied.
func scanStrategies(rows rows, readErr func(error) error) ([]strategy.Strategy, error) {
	var out []strategy.Strategy
	for rows.Next() {
		var name, body string
		if err := rows.Scan(&name, &body); err != nil {
			return nil, readErr(err)
		}
		out = append(out, strategy.UnmarshalStored(name, []byte(body)))
	}
	if err := rows.Err(); err != nil {
		return nil, readErr(err)
	}
	return out, nil
}

// writeTx runs fn in a write transaction that also moves the strategies
// version and, on a shared database, announces the change on commit.
// Moving the version first takes the write lock at once, so strategy
// writers (of every node) take turns. An error of fn with a code other
// than Internal is returned as it is; any other failure is Unavailable.
func (s *Store) writeTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(err, "be written")
	}
	defer func() { _ = tx.Rollback() }()
	var version int64
	if err := tx.QueryRowContext(ctx, s.q.bumpVersion).Scan(&version); err != nil {
		return unavailable(err, "be written")
	}
	if err := fn(tx); err != nil {
		if apperr.CodeOf(err) != apperr.Internal {
			return err
		}
		return unavailable(err, "be written")
	}
	if s.listen != nil {
		if _, err := tx.ExecContext(ctx, s.q.announce, Channel, strconv.FormatInt(version, 10)); err != nil {
			return unavailable(err, "be written")
		}
	}
	if err := tx.Commit(); err != nil {
		return unavailable(err, "be written")
	}
	if s.listen != nil {
		s.listen.observe(uint64(version))
	}
	return nil
}

func (s *Store) insertStrategy(ctx context.Context, tx *sql.Tx, pos int, st strategy.Strategy) error {
	body, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.q.insertStrategy, pos, st.Name, string(body))
	return err
}

// listIn reads the strategies in tx, in order.
func (s *Store) listIn(ctx context.Context, tx *sql.Tx) ([]strategy.Strategy, error) {
	rows, err := tx.QueryContext(ctx, s.q.listStrategies)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanStrategies(rows, func(err error) error { return err })
}

// named reads the strategy called name in tx; found is false when there
// is none.
func (s *Store) named(ctx context.Context, tx *sql.Tx, name string) (st strategy.Strategy, found bool, err error) {
	var body string
	switch err := tx.QueryRowContext(ctx, s.q.namedStrategy, name).Scan(&body); {
	case errors.Is(err, sql.ErrNoRows):
		return strategy.Strategy{}, false, nil
	case err != nil:
		return strategy.Strategy{}, false, err
	}
	return strategy.UnmarshalStored(name, []byte(body)), true, nil
}

// Replace implements strategy.Store.
func (s *Store) Replace(ctx context.Context, list []strategy.Strategy) (before []strategy.Strategy, err error) {
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		if before, err = s.listIn(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q.clearStrategies); err != nil {
			return err
		}
		for i, st := range list {
			if err := s.insertStrategy(ctx, tx, i, st); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return before, nil
}

// Put implements strategy.Store. created is false whenever err is not nil.
func (s *Store) Put(ctx context.Context, st strategy.Strategy, admit func([]strategy.Strategy) error) (prev strategy.Strategy, created bool, err error) {
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		list, err := s.listIn(ctx, tx)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(list, func(o strategy.Strategy) bool { return o.Name == st.Name })
		next := slices.Clone(list)
		if i >= 0 {
			next[i] = st
		} else {
			next = append(next, st)
		}
		if err := admit(next); err != nil {
			return err
		}
		if i >= 0 {
			body, err := json.Marshal(st)
			if err != nil {
				return err
			}
			prev = list[i]
			_, err = tx.ExecContext(ctx, s.q.updateStrategy, string(body), st.Name)
			return err
		}
		var count, position int
		if err := tx.QueryRowContext(ctx, s.q.countStrategies).Scan(&count, &position); err != nil {
			return err
		}
		created = true
		return s.insertStrategy(ctx, tx, position, st)
	})
	if err != nil {
		return strategy.Strategy{}, false, err
	}
	return prev, created, nil
}

// Delete implements strategy.Store.
func (s *Store) Delete(ctx context.Context, name string) (prev strategy.Strategy, err error) {
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		old, found, err := s.named(ctx, tx, name)
		if err != nil {
			return err
		}
		if !found {
			return apperr.Errorf(apperr.NotFound, "no strategy named %q", name)
		}
		prev = old
		_, err = tx.ExecContext(ctx, s.q.deleteStrategy, name)
		return err
	})
	if err != nil {
		return strategy.Strategy{}, err
	}
	return prev, nil
}
