package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"
)

// The metric history is bounded by count (Options.MaxCount) and by age
// (Options.MaxAge) at every commit: the transaction that inserts a group
// of samples also deletes the rows past the age bound and, oldest first,
// those beyond the count, so no reader ever sees more. The count is not
// counted: metric_counts keeps it, moved by the same transactions. The
// retention job (Run, every Options.RetainEvery) does the same and counts
// the rows again, so a count that went wrong (a hand edit) heals; on
// SQLite it then gives the freed pages back to the file system.

// txOps is what bounding the history needs of a transaction, whichever
// driver runs it (database/sql, or pgx for PostgreSQL's COPY).
type txOps interface {
	// exec runs a statement and returns the rows it affected.
	exec(ctx context.Context, query string, args ...any) (int64, error)
	// queryRow runs a query of one row.
	queryRow(ctx context.Context, query string, args ...any) interface{ Scan(dest ...any) error }
}

// sqlTx is a database/sql transaction as txOps. It runs the statements
// of stmts prepared: a commit runs the same few, and SQLite's driver
// would parse each of them again every time.
type sqlTx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt // by query; may be nil
}

func (t sqlTx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if st := t.stmts[query]; st != nil {
		res, err = t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	} else {
		res, err = t.tx.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t sqlTx) queryRow(ctx context.Context, query string, args ...any) interface{ Scan(dest ...any) error } {
	if st := t.stmts[query]; st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// prepareBound prepares the statements every commit runs to bound the
// history.
func (s *Store) prepareBound(ctx context.Context) error {
	s.prepared = map[string]*sql.Stmt{}
	for _, q := range []string{s.q.countAdd, s.q.retainAge, s.q.trimOldest, s.q.countSub} {
		st, err := s.write.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		s.prepared[q] = st
	}
	return nil
}

// ops is tx as txOps, with the prepared statements when it is a
// database/sql transaction.
func (s *Store) ops(tx txOps) txOps {
	if t, ok := tx.(sqlTx); ok {
		t.stmts = s.prepared
		return t
	}
	return tx
}

// countNode is the metric_counts row of the rows this store bounds: its
// node's on a shared database, else the empty name, which counts every
// row of a database of one node.
func (s *Store) countNode() string {
	if s.listen == nil {
		return ""
	}
	return s.opts.Node
}

// ageCutoff is the receive time (Unix nanoseconds) before which samples
// are past the age bound.
func (s *Store) ageCutoff() int64 {
	now := s.opts.Now().UnixNano()
	if age := int64(s.opts.MaxAge); age > 0 && now >= math.MinInt64+age {
		return now - age
	}
	return math.MinInt64
}

// bound runs in the transaction that inserted added samples: it counts
// them, then deletes the samples past the age bound and the oldest beyond
// the count. It returns how many rows it deleted.
func (s *Store) bound(ctx context.Context, tx txOps, added int) (int64, error) {
	var total int64
	if err := tx.queryRow(ctx, s.q.countAdd, s.countNode(), added).Scan(&total); err != nil {
		return 0, fmt.Errorf("count the samples: %w", err)
	}
	deleted, err := tx.exec(ctx, s.q.retainAge, s.nodeArgs(s.ageCutoff())...)
	if err != nil {
		return 0, fmt.Errorf("delete the samples past the age bound: %w", err)
	}
	if excess := total - deleted - int64(s.opts.MaxCount); excess > 0 {
		args := []any{excess - 1}
		if s.listen != nil {
			args = []any{s.opts.Node, s.opts.Node, excess - 1}
		}
		n, err := tx.exec(ctx, s.q.trimOldest, args...)
		if err != nil {
			return 0, fmt.Errorf("delete the samples beyond the count: %w", err)
		}
		deleted += n
	}
	if deleted > 0 {
		if _, err := tx.exec(ctx, s.q.countSub, deleted, s.countNode()); err != nil {
			return 0, fmt.Errorf("count the samples: %w", err)
		}
	}
	return deleted, nil
}

// retain is the retention job's bounding of the history, in its own
// transaction: the age and count bounds, then a fresh count of the rows.
func (s *Store) retain(ctx context.Context) (deleted int64, err error) {
	start := time.Now()
	var count int64
	err = s.writeIn(ctx, func(tx *sql.Tx) error {
		ops := sqlTx{tx: tx, stmts: s.prepared}
		// Adding 0 takes the count's row first: on a shared database, this
		// node's commits wait for the job, and it for them.
		var ignored int64
		if err := ops.queryRow(ctx, s.q.countAdd, s.countNode(), 0).Scan(&ignored); err != nil {
			return fmt.Errorf("lock the sample count: %w", err)
		}
		if deleted, err = ops.exec(ctx, s.q.retainAge, s.nodeArgs(s.ageCutoff())...); err != nil {
			return err
		}
		args := []any{int64(max(s.opts.MaxCount-1, 0))}
		if s.listen != nil {
			args = append([]any{s.opts.Node, s.opts.Node}, args...)
		}
		n, err := ops.exec(ctx, s.q.retainCount, args...)
		if err != nil {
			return err
		}
		deleted += n
		if err := ops.queryRow(ctx, s.q.countRows, s.nodeArgs()...).Scan(&count); err != nil {
			return err
		}
		_, err = ops.exec(ctx, s.q.countSet, s.countNode(), count)
		return err
	})
	if err != nil {
		return 0, err
	}
	s.log.Debug("history retention", "deleted", deleted, "samples", count, "took", time.Since(start))
	return deleted, nil
}
