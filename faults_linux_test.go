package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// The fault suite: the built server on real files, under the faults a
// node's disk has. For each, what a client sees (write status codes,
// /health and /readyz), what the log says, and what the next start does.

// needRoot skips (or in strict mode fails) unless the test runs as root.
func needRoot(t *testing.T, why string) {
	t.Helper()
	testenv.Require(t, os.Geteuid() == 0, why)
}

func unmount(t *testing.T, dir string) {
	t.Helper()
	if err := syscall.Unmount(dir, 0); err != nil && err != syscall.EINVAL {
		t.Errorf("unmount %s: %v", dir, err)
	}
}

// expectDown checks what clients see while the store cannot write: the
// writes' 503 saying want, and /health and /readyz 503 with the store
// down, its detail saying detail.
func expectDown(t *testing.T, s *binServer, want, detail string) {
	t.Helper()
	if code, body := s.postSamples(999); code != http.StatusServiceUnavailable || !strings.Contains(body, want) {
		t.Errorf("POST metrics = %d %s; want 503 saying %q", code, body, want)
	}
	if code, body := s.putStrategy("while-down"); code != http.StatusServiceUnavailable || !strings.Contains(body, want) {
		t.Errorf("PUT strategy = %d %s; want 503 saying %q", code, body, want)
	}
	if h := s.health("/health"); h.code != http.StatusServiceUnavailable || h.Status != "unhealthy" ||
		h.Components["store"].Status != "down" || !strings.Contains(h.Components["store"].Detail, detail) {
		t.Errorf("/health = %d %s, store %s; want 503 unhealthy, the store down saying %q", h.code, h.Status, h.store(), detail)
	}
	if r := s.health("/readyz"); r.code != http.StatusServiceUnavailable || r.Status != "not ready" || r.Components["store"].Status != "down" {
		t.Errorf("/readyz = %d %s, store %s; want 503 not ready, the store down", r.code, r.Status, r.store())
	}
}

// TestFaultFullDisk: on a full disk writes get 503 saying so, the store is
// down and the server not ready; once space is freed the store comes back
// by itself (its write probe), with nothing acknowledged lost.
func TestFaultFullDisk(t *testing.T) {
	dir := testenv.MountTmpfs(t, "8m")
	s := runServer(t, "--data-dir="+dir)
	var acked []uint64
	if code, body := s.postSamples(1, 2, 3); code != http.StatusOK {
		t.Fatalf("POST = %d %s", code, body)
	}
	acked = append(acked, 1, 2, 3)
	filler := testenv.FillDisk(t, dir)
	// SQLite reuses the space its files hold: writes go on until they
	// need more. Batches of 1000 need more at once.
	next := uint64(1000)
	for {
		code, body := s.postSamples(seq(next, next+999)...)
		if code == http.StatusServiceUnavailable {
			if !strings.Contains(body, "the store cannot be written (the disk is full); retry later") {
				t.Fatalf("POST on a full disk = 503 %s", body)
			}
			break
		}
		if code != http.StatusOK || next > 100_000 {
			t.Fatalf("POST on a full disk = %d %s", code, body)
		}
		acked = append(acked, seq(next, next+999)...)
		next += 1000
	}
	t.Logf("the disk full, %d more samples were stored before a write needed space", len(acked)-3)
	expectDown(t, s, "the store cannot be written (the disk is full)", "writes fail")
	s.waitLog("store writes fail", 5*time.Second)
	if n := s.count("store writes fail"); n != 1 {
		t.Errorf("%d log lines say the store's writes fail, want 1", n)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "the store to come back by itself", func() bool { return s.health("/readyz").code == http.StatusOK })
	s.waitLog("store writes succeed again", 5*time.Second) // the log is read as it comes
	if n := s.count("store writes succeed again"); n != 1 {
		t.Errorf("%d log lines say writes succeed again, want 1", n)
	}
	if code, body := s.postSamples(5); code != http.StatusOK {
		t.Errorf("POST after space was freed = %d %s", code, body)
	}
	acked = append(acked, 5)
	if status := s.stop(); status != 0 {
		t.Errorf("exit status %d after SIGTERM", status)
	}

	s = runServer(t, "--data-dir="+dir)
	if got := s.storedQueued(); !slices.Equal(got, acked) {
		t.Errorf("after a restart %d samples are stored; want the %d acknowledged", len(got), len(acked))
	}
	s.stop()
	integrity(t, filepath.Join(dir, "bss-api.db"))
}

// TestFaultReadOnlyAtStart: a data directory that is read-only when the
// server starts stops it with one line saying so; once writable, the
// server starts with its data.
func TestFaultReadOnlyAtStart(t *testing.T) {
	needRoot(t, "a read-only data directory is a read-only bind mount, made as root")
	dir := t.TempDir()
	s := runServer(t, "--data-dir="+dir)
	if code, body := s.postSamples(1); code != http.StatusOK {
		t.Fatalf("POST = %d %s", code, body)
	}
	s.stop()
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmount(t, dir) })
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}

	s = launch(t, "--data-dir="+dir)
	if status := s.exitStatus(); status != 1 {
		t.Errorf("exit status %d on a read-only data directory, want 1", status)
	}
	if lines := s.problems(); len(lines) != 1 || !strings.Contains(lines[0], "bss-api.db.lock") || !strings.Contains(lines[0], "read-only file system") {
		t.Errorf("log %q; want one line naming the lock file and the read-only file system", lines)
	} else {
		t.Logf("refused: %s", lines[0])
	}

	unmount(t, dir)
	s = runServer(t, "--data-dir="+dir)
	if got := s.storedQueued(); !slices.Equal(got, []uint64{1}) {
		t.Errorf("stored %v after the directory became writable, want [1]", got)
	}
}

// TestFaultReadOnlyWhileRunning: a disk the kernel turns read-only under
// the running server (ext4, errors=remount-ro, after a file system
// error): writes get 503, the store is down and the server not ready;
// the file system needs a check before it is writable again, and the next
// server has everything acknowledged before.
func TestFaultReadOnlyWhileRunning(t *testing.T) {
	needRoot(t, "an ext4 file system on a loop device is mounted as root")
	mkfs := testenv.Binary(t, "BSS_MKFS_EXT4", "mkfs.ext4")
	fsck := testenv.Binary(t, "BSS_E2FSCK", "e2fsck")
	img := filepath.Join(t.TempDir(), "disk.img")
	dir := t.TempDir()
	for _, cmd := range [][]string{{"truncate", "-s", "32M", img}, {mkfs, "-q", "-F", img}, {"mount", "-o", "loop,errors=remount-ro", img, dir}} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", cmd, err, out)
		}
	}
	mounted := true
	t.Cleanup(func() {
		if mounted {
			_ = exec.Command("umount", dir).Run()
		}
	})
	src, err := exec.Command("findmnt", "-n", "-o", "SOURCE", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	trigger := filepath.Join("/sys/fs/ext4", filepath.Base(strings.TrimSpace(string(src))), "trigger_fs_error")
	_, err = os.Stat(trigger)
	testenv.Require(t, err == nil, "the kernel's ext4 has no "+trigger)

	s := runServer(t, "--data-dir="+dir)
	if code, body := s.postSamples(1, 2); code != http.StatusOK {
		t.Fatalf("POST = %d %s", code, body)
	}
	if err := os.WriteFile(trigger, []byte("bss-api fault test\n"), 0); err != nil {
		t.Fatal(err)
	}
	const want = "the store cannot be written (an I/O error: the disk failed, or went read-only)"
	if code, body := s.postSamples(3); code != http.StatusServiceUnavailable || !strings.Contains(body, want) {
		t.Fatalf("POST on a read-only disk = %d %s; want 503 saying %q", code, body, want)
	}
	expectDown(t, s, want, "writes fail")
	s.waitLog("store writes fail", 5*time.Second)
	if n := s.count("store writes fail"); n != 1 {
		t.Errorf("%d log lines say the store's writes fail, want 1", n)
	}
	s.kill()

	if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v\n%s", err, out)
	}
	mounted = false
	_ = exec.Command(fsck, "-fy", img).Run() // exit 1: errors corrected
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v\n%s", err, out)
	}
	mounted = true
	s = runServer(t, "--data-dir="+dir)
	if got := s.storedQueued(); !slices.Equal(got, []uint64{1, 2}) {
		t.Errorf("stored %v after the file system was checked, want the acknowledged [1 2]", got)
	}
	s.stop()
	integrity(t, filepath.Join(dir, "bss-api.db"))
}

// dataWithFile starts and stops a server on a new data directory, leaving
// a database file of several pages (a clean stop checkpoints them into
// it), and returns the directory and the samples stored.
func dataWithFile(t *testing.T) (string, []uint64) {
	t.Helper()
	dir := t.TempDir()
	s := runServer(t, "--data-dir="+dir)
	stored := seq(1, 3000)
	for i := 0; i < len(stored); i += 1000 {
		if code, body := s.postSamples(stored[i : i+1000]...); code != http.StatusOK {
			t.Fatalf("POST = %d %s", code, body)
		}
	}
	if code, body := s.putStrategy("kept"); code != http.StatusCreated {
		t.Fatalf("PUT = %d %s", code, body)
	}
	if status := s.stop(); status != 0 {
		t.Fatalf("exit status %d", status)
	}
	return dir, stored
}

// overwriteAt writes b into the file at path at offset at.
func overwriteAt(t *testing.T, path string, at int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

// garbage is n bytes that are no part of any SQLite page.
func garbage(n int) []byte { return []byte(strings.Repeat("\xde\xad\xbe\xef", n/4)) }

// expectRefusedStart starts a server on dir and checks that it exits with
// status 1 and one line saying want, the database file untouched.
func expectRefusedStart(t *testing.T, dir string, want ...string) {
	t.Helper()
	db := filepath.Join(dir, "bss-api.db")
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	s := launch(t, "--data-dir="+dir)
	if status := s.exitStatus(); status != 1 {
		t.Errorf("exit status %d, want 1", status)
	}
	// The refusal is the last line, and the only one above INFO.
	lines := s.log()
	refusal := lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		if !strings.Contains(l, `"level":"INFO"`) {
			t.Errorf("a line besides the refusal: %s", l)
		}
	}
	if !strings.HasPrefix(refusal, "bss-api: store: ") {
		t.Errorf("last line %q, want the refusal", refusal)
	}
	for _, w := range want {
		if !strings.Contains(refusal, w) {
			t.Errorf("refusal %q does not say %q", refusal, w)
		}
	}
	if after, _ := os.ReadFile(db); string(after) != string(before) {
		t.Error("the refused database file was written to")
	}
	t.Logf("refused: %s", refusal)
}

// TestFaultDatabaseFileWhileRunning: the database file deleted,
// truncated or corrupted under the running server. The server notices at
// the next write or within a second: no write is acknowledged into it
// from then on (503 naming the problem), the store is down and the server
// not ready, and one line says what happened and what to do. The next
// start opens a new database where the file was deleted, and refuses a
// damaged one, saying so in one line.
func TestFaultDatabaseFileWhileRunning(t *testing.T) {
	for _, tt := range []struct {
		name    string
		harm    func(t *testing.T, s *binServer, db string)
		want    string // in the 503s, /health and the log line
		restart []string
	}{
		{"deleted", func(t *testing.T, _ *binServer, db string) {
			for _, f := range []string{db, db + "-wal", db + "-shm"} {
				if err := os.Remove(f); err != nil {
					t.Fatal(err)
				}
			}
		}, "was deleted while the server ran", nil},
		{"truncated", func(t *testing.T, _ *binServer, db string) {
			if err := os.Truncate(db, 0); err != nil {
				t.Fatal(err)
			}
		}, "was truncated", []string{"is empty while its WAL holds data: it was truncated"}},
		{"header corrupted", func(t *testing.T, _ *binServer, db string) { overwriteAt(t, db, 0, garbage(100)) },
			"was overwritten while the server ran: it no longer starts with SQLite's header", []string{"is corrupt"}},
		// Pages in the middle: SQLite finds them when it reads them, here
		// for a page of history.
		{"pages corrupted", func(t *testing.T, s *binServer, db string) {
			overwriteAt(t, db, 8*4096, garbage(16*4096))
			if code, body := s.do(http.MethodGet, "/api/v1/metrics/history?limit=10000", ""); code != http.StatusServiceUnavailable {
				t.Fatalf("GET history of corrupt pages = %d %s", code, body)
			}
		}, "is corrupt (database disk image is malformed", []string{"is corrupt"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := dataWithFile(t)
			db := filepath.Join(dir, "bss-api.db")
			s := runServer(t, "--data-dir="+dir)
			if code, body := s.postSamples(5000); code != http.StatusOK {
				t.Fatalf("POST = %d %s", code, body)
			}
			tt.harm(t, s, db)
			expectDown(t, s, "the store refuses writes: its database file "+tt.want, tt.want)
			const logged = "every write is refused until the server restarts"
			line := s.waitLog(logged, 5*time.Second) // the log is read as it comes
			if n := s.count(logged); n != 1 || !strings.Contains(line, tt.want) {
				t.Errorf("%d log lines say %q, want 1 saying %q", n, logged, tt.want)
			}
			s.kill()
			if tt.restart != nil {
				expectRefusedStart(t, dir, append(tt.restart, db, "restore the file from a backup, or move it")...)
				return
			}
			s = runServer(t, "--data-dir="+dir)
			s.waitLog("creating a new, empty database", time.Second)
			if got := s.storedQueued(); len(got) != 0 {
				t.Errorf("%d samples in the new database", len(got))
			}
		})
	}
}

// TestFaultCorruptAtStart: a database file damaged while no server ran,
// in its header or in pages in the middle, is refused at start in one
// line naming the file and what to do, and is not written to.
func TestFaultCorruptAtStart(t *testing.T) {
	for _, tt := range []struct {
		name string
		at   int64
		want string
	}{
		{"header", 0, "is corrupt (file is not a database"},
		{"pages mid-file", 8 * 4096, "is corrupt (Tree "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := dataWithFile(t)
			db := filepath.Join(dir, "bss-api.db")
			overwriteAt(t, db, tt.at, garbage(4*4096))
			expectRefusedStart(t, dir, "the database file "+db+" "+tt.want, "restore the file from a backup, or move it away")
		})
	}
}

// TestFaultSecondInstance: a second server on a data directory in use
// refuses to start with one line naming the first (its PID) and exit
// status 1; the first serves on; once it stops, the second starts.
func TestFaultSecondInstance(t *testing.T) {
	dir := t.TempDir()
	first := runServer(t, "--data-dir="+dir)
	if code, body := first.postSamples(1); code != http.StatusOK {
		t.Fatalf("POST = %d %s", code, body)
	}
	second := launch(t, "--data-dir="+dir)
	if status := second.exitStatus(); status != 1 {
		t.Errorf("the second server's exit status is %d, want 1", status)
	}
	db := filepath.Join(dir, "bss-api.db")
	want := "bss-api: store: " + db + " is in use by another bss-api (pid " + strconv.Itoa(first.cmd.Process.Pid) + "), which holds " + db + ".lock"
	if lines := second.problems(); len(lines) != 1 || !strings.HasPrefix(lines[0], want) {
		t.Errorf("the second server logged %q; want one line starting %q", lines, want)
	} else {
		t.Logf("refused: %s", lines[0])
	}
	if code, body := first.postSamples(2); code != http.StatusOK {
		t.Errorf("the first server after the second was refused: POST = %d %s", code, body)
	}
	if status := first.stop(); status != 0 {
		t.Errorf("exit status %d", status)
	}
	second = runServer(t, "--data-dir="+dir)
	if got := second.storedQueued(); !slices.Equal(got, []uint64{1, 2}) {
		t.Errorf("stored %v, want [1 2]", got)
	}
}
