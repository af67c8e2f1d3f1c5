package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bss-api/bss-api/client"
)

const (
	readyTimeout = 20 * time.Second
	readyPoll    = 50 * time.Millisecond
	stopTimeout  = 10 * time.Second
)

// child is a server running as a child process with its output in a file.
type child struct {
	name    string
	addr    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done is closed
}

// freeAddr returns 127.0.0.1:PORT with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return addr, nil
}

// startChild starts bin with args, its stdout and stderr going to
// dir/name.log. The caller must call stop.
func startChild(name, addr, bin string, args []string, dir string) (*child, error) {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	c := &child{name: name, addr: addr, cmd: cmd, logPath: logPath, logFile: logFile, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// waitReady polls GET /readyz until it answers 200, the child exits, ctx is
// done or readyTimeout passes.
func (c *child) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	api, err := client.New("http://"+c.addr, client.WithHTTPClient(&http.Client{Transport: tr}),
		client.WithRetry(client.NoRetry()), client.WithTimeout(time.Second))
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		_, last := api.Ready(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s exited before it was ready (%w); its log ends:\n%s", c.name, c.waitErr, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s (last: %w): %w; its log ends:\n%s", c.name, readyTimeout, last, ctx.Err(), c.logTail())
		case <-tick.C:
		}
	}
}

// peakRSS returns the child's peak resident set size (VmHWM) in bytes.
func (c *child) peakRSS() (int64, error) {
	path := "/proc/" + strconv.Itoa(c.cmd.Process.Pid) + "/status"
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read peak RSS of %s: %w", c.name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse VmHWM %q of %s: %w", rest, c.name, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return 0, fmt.Errorf("no VmHWM in %s", path)
}

// stop sends SIGTERM, waits for the exit (SIGKILL after stopTimeout) and
// closes the log. It reports an exit that was not clean.
func (c *child) stop() error {
	defer c.logFile.Close()
	select {
	case <-c.done:
		return fmt.Errorf("%s had already exited (%w); its log ends:\n%s", c.name, c.waitErr, c.logTail())
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = c.cmd.Process.Kill()
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not exit within %s of SIGTERM and was killed", c.name, stopTimeout)
	}
	if c.waitErr != nil {
		return fmt.Errorf("%s exited uncleanly after SIGTERM: %w; its log ends:\n%s", c.name, c.waitErr, c.logTail())
	}
	return nil
}

// logTail returns the end of the child's log.
func (c *child) logTail() string {
	const tailBytes = 2048
	f, err := os.Open(c.logPath)
	if err != nil {
		return "(log unreadable: " + err.Error() + ")"
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > tailBytes {
		if _, err := f.Seek(-tailBytes, io.SeekEnd); err != nil {
			return "(log unreadable: " + err.Error() + ")"
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, tailBytes))
	if err != nil {
		return "(log unreadable: " + err.Error() + ")"
	}
	s := string(b)
	if len(b) == tailBytes {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return strings.TrimRight(s, "\n")
}

// buildServer builds bss-api from the module root into dir.
func buildServer(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module; run from the bss-api checkout or pass -server-bin")
	}
	bin := filepath.Join(dir, "bss-api")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build bss-api in %s: %w\n%s", cmd.Dir, err, out)
	}
	return bin, nil
}
