package sqlstore

import (
	"errors"
	"strings"
	"testing"
)

// fakeRows yields bodies, then err from Err.
type fakeRows struct {
	bodies  []string
	i       int
	scanErr error
	err     error
}

func (r *fakeRows) Next() bool { r.i++; return r.i <= len(r.bodies) }
func (r *fakeRows) Err() error { return r.err }
func (r *fakeRows) Scan(dest ...any) error {
	if r.scanErr != nil {
		return r.scanErr
	}
	*dest[0].(*string) = r.bodies[r.i-1]
	return nil
}

func TestScanStrategies(t *testing.T) {
	wrapped := errors.New("wrapped")
	readErr := func(err error) error { return errors.Join(wrapped, err) }

	got, err := scanStrategies(&fakeRows{bodies: []string{`{"name":"a","priority":true,"execution_time":5000,"pid":7}`, `{"name":"b","command_regex":"^x$"}`}}, readErr)
	if err != nil || len(got) != 2 || got[0].Name != "a" || got[0].PID != 7 || got[1].CommandRegex != "^x$" {
		t.Fatalf("scanStrategies = %+v, %v; want both strategies in order", got, err)
	}
	if _, err := scanStrategies(&fakeRows{bodies: []string{`{"name":`}}, readErr); err == nil || errors.Is(err, wrapped) || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("undecodable body: %v, want a damaged-data error not passed through readErr", err)
	}
	disk := errors.New("disk I/O error")
	if _, err := scanStrategies(&fakeRows{bodies: []string{`{}`}, scanErr: disk}, readErr); !errors.Is(err, wrapped) || !errors.Is(err, disk) {
		t.Errorf("scan failure: %v, want it through readErr", err)
	}
	if _, err := scanStrategies(&fakeRows{err: disk}, readErr); !errors.Is(err, wrapped) || !errors.Is(err, disk) {
		t.Errorf("rows failure: %v, want it through readErr", err)
	}
}

func TestPostgresBind(t *testing.T) {
	got := (&postgresDialect{}).bind(`SELECT a FROM t WHERE node = ? AND x < (SELECT y FROM t WHERE node = ? LIMIT 1 OFFSET ?)`)
	if want := `SELECT a FROM t WHERE node = $1 AND x < (SELECT y FROM t WHERE node = $2 LIMIT 1 OFFSET $3)`; got != want {
		t.Errorf("bind = %s, want %s", got, want)
	}
}
