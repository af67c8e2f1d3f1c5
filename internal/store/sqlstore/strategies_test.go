package sqlstore

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/internal/strategy"
)

// fakeRows yields (name, body) rows named after their index, then err
// from Err.
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
	*dest[0].(*string) = "row-" + strconv.Itoa(r.i)
	*dest[1].(*string) = r.bodies[r.i-1]
	return nil
}

func TestScanStrategies(t *testing.T) {
	wrapped := errors.New("wrapped")
	readErr := func(err error) error { return errors.Join(wrapped, err) }

	got, err := scanStrategies(&fakeRows{bodies: []string{`{"name":"a","priority":true,"execution_time":5000,"pid":7}`, `{"name":"b","command_regex":"^x$"}`}}, readErr)
	if err != nil || len(got) != 2 || got[0].Name != "a" || got[0].PID != 7 || got[1].CommandRegex != "^x$" {
		t.Fatalf("scanStrategies = %+v, %v; want both strategies in order", got, err)
	}
	// A row that cannot be read fails no list: it is listed as unreadable
	// under its row's name, and the others are read.
	got, err = scanStrategies(&fakeRows{bodies: []string{`{"name":`, `{"name":"b","execution_time":1000,"pid":1}`,
		`{"name":"c","execution_time":1000,"pid":1,"pid":2}`, `{"name":"d","execution_time":1000,"namespaces":["` + strings.Repeat("n", strategy.MaxDefinitionBytes) + `"]}`}}, readErr)
	if err != nil || len(got) != 4 {
		t.Fatalf("scanStrategies with unreadable rows = %+v, %v; want all four listed", got, err)
	}
	for i, want := range []string{"not a strategy this server can read", "", "pid: the key is given more than once", "bytes as stored, more than the 65536"} {
		if got[i].Name != "row-"+strconv.Itoa(i+1) && want != "" {
			t.Errorf("row %d named %q, want its row's name", i, got[i].Name)
		}
		if why := got[i].Unreadable(); (want == "") != (why == "") || !strings.Contains(why, want) {
			t.Errorf("row %d unreadable %q, want %q", i, why, want)
		}
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
