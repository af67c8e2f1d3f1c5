package sqlstore

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/bss-api/bss-api/internal/metrics"
	"github.com/bss-api/bss-api/internal/store/groupcommit"
)

// Append implements metrics.History: it returns after the transaction
// holding recs has committed. Run must be running; once it has stopped,
// Append fails with apperr.Unavailable.
func (s *Store) Append(ctx context.Context, recs []metrics.Record) error {
	err := s.group.Append(ctx, recs)
	if errors.Is(err, groupcommit.ErrClosed) {
		return unavailable(err, "be written")
	}
	return err
}

// commit writes one group of appends, bounding the history in the same
// transaction, and answers them only while the database file is still
// the one the store opened.
func (s *Store) commit(ctx context.Context, recs []metrics.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := s.refuseWrite(); err != nil {
		return err
	}
	err := s.d.insertMetrics(ctx, s.opts.Node, s.layout, recs, func(ctx context.Context, tx txOps) error {
		if _, err := s.bound(ctx, s.ops(tx), len(recs)); err != nil {
			return err
		}
		return s.d.verify(true)
	})
	if err == nil {
		err = s.d.verify(false)
	}
	return s.wrote(err)
}

// nodeArgs puts the node before args when rows are scoped to it.
func (s *Store) nodeArgs(args ...any) []any {
	if s.listen == nil {
		return args
	}
	return append([]any{s.opts.Node}, args...)
}

// Range implements metrics.History.
func (s *Store) Range(ctx context.Context, q metrics.Query) ([]metrics.Record, bool, error) {
	since, until, fetch := q.Bounds(s.opts.Now(), s.opts.MaxAge)
	limit := int64(math.MaxInt64) // both databases take it as no limit
	if fetch >= 0 {
		limit = int64(fetch)
	}
	out, err := s.queryRecords(ctx, s.q.rangeMetrics, s.nodeArgs(since, until, limit)...)
	if err != nil {
		return nil, false, err
	}
	out, more := q.Page(out)
	return out, more, nil
}

// Summary implements metrics.History: the rows of the window stream
// through a metrics.Summarizer one at a time, so memory stays the same
// whatever the window holds. (Aggregating in SQL was not chosen: counters
// are uint64, which PostgreSQL holds bit for bit in BIGINT and SQLite
// packs into a blob, so neither database can order or add them as they
// are; and an average summed in another order could differ from
// Summarize's in its last bits.)
func (s *Store) Summary(ctx context.Context, from, to time.Time) (metrics.Summary, error) {
	since, _, _ := metrics.Query{Since: from}.Bounds(s.opts.Now(), s.opts.MaxAge)
	z := metrics.NewSummarizer(from, to)
	err := s.eachRecord(ctx, s.q.rangeMetrics, s.nodeArgs(since, to.UnixNano()+1, int64(math.MaxInt64)), func(at int64, smp *metrics.Sample) {
		z.Add(time.Unix(0, at).UTC(), smp)
	})
	if err != nil {
		return metrics.Summary{}, err
	}
	return z.Summary(), nil
}

// Latest implements metrics.History.
func (s *Store) Latest(ctx context.Context) (metrics.Record, bool, error) {
	out, err := s.queryRecords(ctx, s.q.latestMetric, s.nodeArgs()...)
	if err != nil || len(out) == 0 {
		return metrics.Record{}, false, err
	}
	return out[0], true, nil
}

// recordScanner is the destination of one metric row, reused across the
// rows of a query.
type recordScanner struct {
	at   int64
	dest []any // &at, then the sample's columns
	// decode sets the sample from the columns last scanned.
	decode func(*metrics.Sample) error
}

// queryRecords runs a query of metric rows; the result is never nil.
func (s *Store) queryRecords(ctx context.Context, query string, args ...any) ([]metrics.Record, error) {
	out := []metrics.Record{}
	err := s.eachRecord(ctx, query, args, func(at int64, smp *metrics.Sample) {
		out = append(out, metrics.Record{ReceivedAt: time.Unix(0, at).UTC(), Sample: *smp})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachRecord runs a query of metric rows and calls fn with each row's
// receive time (Unix nanoseconds) and sample, in order; smp is valid
// during the call only.
func (s *Store) eachRecord(ctx context.Context, query string, args []any, fn func(at int64, smp *metrics.Sample)) error {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return s.readFailed(err)
	}
	defer rows.Close()
	sc := s.d.newScanner(s.layout)
	var smp metrics.Sample
	for rows.Next() {
		if err := rows.Scan(sc.dest...); err != nil {
			return s.readFailed(err)
		}
		if err := sc.decode(&smp); err != nil {
			return s.readFailed(err)
		}
		fn(sc.at, &smp)
	}
	if err := rows.Err(); err != nil {
		return s.readFailed(err)
	}
	return nil
}
