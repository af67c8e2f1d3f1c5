package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/bss-api/bss-api/internal/audit"
	"github.com/bss-api/bss-api/internal/auth"
)

// auditQueries is the SQL of the audit trail, bound for the database at
// Open. The table is every node's: nothing here is scoped to the node.
type auditQueries struct {
	insert      string // every column; does nothing when the time is taken
	rangeAt     string // since, until, limit
	retainAge   string // cutoff
	retainCount string // outcome, outcome, offset
}

const auditColumns = "at, node, outcome, status, identity, role, credential, method, route, path, client, reason, suppressed, change"

func buildAuditQueries(d dialect) auditQueries {
	q := auditQueries{
		insert:    "INSERT INTO audit (" + auditColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (at) DO NOTHING",
		rangeAt:   "SELECT " + auditColumns + " FROM audit WHERE at >= ? AND at < ? ORDER BY at LIMIT ?",
		retainAge: "DELETE FROM audit WHERE at < ?",
		retainCount: "DELETE FROM audit WHERE outcome = ? AND at < " +
			"(SELECT at FROM audit WHERE outcome = ? ORDER BY at DESC LIMIT 1 OFFSET ?)",
	}
	for _, s := range []*string{&q.insert, &q.rangeAt, &q.retainAge, &q.retainCount} {
		*s = d.bind(*s)
	}
	return q
}

// maxTimeTries bounds how many times Append moves a record a nanosecond
// on because its time is taken (by another node, or by this one before a
// clock step back).
const maxTimeTries = 64

// auditStore is the Store's audit trail. Its methods are named like the
// metric history's, so it is a type of its own.
type auditStore struct{ s *Store }

var _ audit.Store = auditStore{}

// Audit returns the audit trail.
func (s *Store) Audit() audit.Store { return auditStore{s} }

// Append implements audit.Store.
func (a auditStore) Append(ctx context.Context, rec audit.Record) (time.Time, error) {
	var change sql.NullString
	if rec.Change != nil {
		b, err := json.Marshal(rec.Change)
		if err != nil {
			return time.Time{}, fmt.Errorf("encode the audit change: %w", err)
		}
		change = sql.NullString{String: string(b), Valid: true}
	}
	if err := a.s.refuseWrite(); err != nil {
		return time.Time{}, err
	}
	at := rec.At.UnixNano()
	for range maxTimeTries {
		var n int64
		err := a.s.writeIn(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, a.s.aq.insert, at, rec.Node, string(rec.Outcome), rec.Status, rec.Identity,
				string(rec.Role), string(rec.Credential), rec.Method, rec.Route, rec.Path, rec.Client, rec.Reason, rec.Suppressed, change)
			if err == nil {
				n, err = res.RowsAffected()
			}
			return err
		})
		if err := a.s.wrote(err); err != nil {
			return time.Time{}, err
		}
		if n == 1 {
			return time.Unix(0, at).UTC(), nil
		}
		at++
	}
	return time.Time{}, unavailable(fmt.Errorf("audit: %d record times from %v on are all taken", maxTimeTries, rec.At), "be written")
}

// Range implements audit.Store.
func (a auditStore) Range(ctx context.Context, q audit.Query) ([]audit.Record, bool, error) {
	since, until, fetch := q.Bounds(a.s.opts.Now(), a.s.opts.Audit.MaxAge)
	limit := int64(math.MaxInt64) // both databases take it as no limit
	if fetch >= 0 {
		limit = int64(fetch)
	}
	rows, err := a.s.read.QueryContext(ctx, a.s.aq.rangeAt, since, until, limit)
	if err != nil {
		return nil, false, unavailable(err, "be read")
	}
	defer rows.Close()
	out := []audit.Record{}
	for rows.Next() {
		rec, err := scanAudit(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, false, unavailable(err, "be read")
	}
	out, more := q.Page(out)
	return out, more, nil
}

// scanAudit reads one row of auditColumns.
func scanAudit(rows *sql.Rows) (audit.Record, error) {
	var (
		rec                 audit.Record
		at                  int64
		outcome, role, cred string
		change              sql.NullString
	)
	if err := rows.Scan(&at, &rec.Node, &outcome, &rec.Status, &rec.Identity, &role, &cred, &rec.Method, &rec.Route,
		&rec.Path, &rec.Client, &rec.Reason, &rec.Suppressed, &change); err != nil {
		return audit.Record{}, unavailable(err, "be read")
	}
	rec.At = time.Unix(0, at).UTC()
	rec.Outcome, rec.Role, rec.Credential = audit.Outcome(outcome), auth.Role(role), auth.Method(cred)
	if change.Valid {
		rec.Change = &audit.Change{}
		if err := json.Unmarshal([]byte(change.String), rec.Change); err != nil {
			return audit.Record{}, fmt.Errorf("stored audit record of %v is damaged: %w", rec.At, err)
		}
	}
	return rec, nil
}

// retainAudit deletes the audit records older than the age bound, and of
// each outcome those beyond the count. On a shared database every node
// prunes the whole table; the strictest settings win.
func (s *Store) retainAudit(ctx context.Context) error {
	keep := s.opts.Audit
	return s.writeIn(ctx, func(tx *sql.Tx) error {
		if keep.MaxAge > 0 {
			if _, err := tx.ExecContext(ctx, s.aq.retainAge, s.opts.Now().Add(-keep.MaxAge).UnixNano()); err != nil {
				return err
			}
		}
		if keep.MaxCount <= 0 {
			return nil
		}
		for _, o := range audit.Outcomes() {
			if _, err := tx.ExecContext(ctx, s.aq.retainCount, string(o), string(o), int64(keep.MaxCount-1)); err != nil {
				return err
			}
		}
		return nil
	})
}
