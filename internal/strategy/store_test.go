package strategy

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

func TestScanStored(t *testing.T) {
	wrapped := errors.New("wrapped")
	readErr := func(err error) error { return errors.Join(wrapped, err) }

	got, err := ScanStored(&fakeRows{bodies: []string{`{"name":"a","priority":true,"execution_time":5000,"pid":7}`, `{"name":"b","command_regex":"^x$"}`}}, readErr)
	if err != nil || len(got) != 2 || got[0].Name != "a" || got[0].PID != 7 || got[1].CommandRegex != "^x$" {
		t.Fatalf("ScanStored = %+v, %v; want both strategies in order", got, err)
	}
	if _, err := ScanStored(&fakeRows{bodies: []string{`{"name":`}}, readErr); err == nil || errors.Is(err, wrapped) || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("undecodable body: %v, want a damaged-data error not passed through readErr", err)
	}
	disk := errors.New("disk I/O error")
	if _, err := ScanStored(&fakeRows{bodies: []string{`{}`}, scanErr: disk}, readErr); !errors.Is(err, wrapped) || !errors.Is(err, disk) {
		t.Errorf("scan failure: %v, want it through readErr", err)
	}
	if _, err := ScanStored(&fakeRows{err: disk}, readErr); !errors.Is(err, wrapped) || !errors.Is(err, disk) {
		t.Errorf("rows failure: %v, want it through readErr", err)
	}
}
