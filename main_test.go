package main

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binPath is the binary built once by TestMain with hack/build.sh, the
// build the Dockerfile runs. It is set before any test starts.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bss-api-bin")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "bss-api")
	cmd := exec.Command("./hack/build.sh", binPath)
	cmd.Env = append(os.Environ(), "VERSION=v0.0.0-test")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("hack/build.sh: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildBinary(t *testing.T) string {
	t.Helper()
	return binPath
}

func TestDockerfileUsesTheTestedBuild(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{"RUN VERSION=${VERSION} ./hack/build.sh /out/bss-api", "USER 65532:65532", "ENTRYPOINT [\"/bss-api\"]"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if strings.Contains(df, "go build") {
		t.Error("Dockerfile runs its own go build; it must run hack/build.sh")
	}
}

func TestBuildScriptMakesStaticBinary(t *testing.T) {
	bin := buildBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has an ELF interpreter; it must be static for the distroless image")
		}
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "bss-api v0.0.0-test" {
		t.Errorf("--version = %q, %v; want the stamped version", out, err)
	}
}

func TestBinaryBadConfigExitsWithOneLine(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin, "--listen=nowhere")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit = %v, want status 2", err)
	}
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "--listen") {
		t.Errorf("stderr = %q, want one line naming --listen", stderr.String())
	}
}

func TestBinaryStopsOnSIGTERM(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin, "--listen=127.0.0.1:0", "--log-format=json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	sc := bufio.NewScanner(stderr)
	var addr string
	for addr == "" && sc.Scan() {
		var line struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
			addr = line.Addr
		}
	}
	if addr == "" {
		t.Fatal("server never logged its address")
	}
	go func() {
		for sc.Scan() { // keep draining so the server never blocks on its log
		}
	}()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM = %v, want 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not exit within 20s of SIGTERM")
	}
}
