// Package testenv decides what tests do when a real component they need
// (root, a Prometheus binary, a kube-apiserver, …) is missing.
//
// Locally such tests skip with the reason. Under BSS_TEST_STRICT=1, which
// the full test command (hack/test.sh, run by .ci/run) sets after installing
// every component, a missing component fails the test instead, so CI can
// never pass because something was absent.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Strict reports whether missing components must fail tests.
func Strict() bool { return os.Getenv("BSS_TEST_STRICT") == "1" }

// Require skips (or, in strict mode, fails) t unless ok.
func Require(t testing.TB, ok bool, reason string) {
	t.Helper()
	if ok {
		return
	}
	if Strict() {
		t.Fatalf("BSS_TEST_STRICT=1 but a required component is missing: %s", reason)
	}
	t.Skipf("skipping: %s (hack/test.sh provides it)", reason)
}

// Binary returns the path of a program named by the environment variable
// envVar, else found on PATH as name; it skips or fails t when neither exists.
func Binary(t testing.TB, envVar, name string) string {
	t.Helper()
	if p := os.Getenv(envVar); p != "" {
		return p
	}
	p, err := exec.LookPath(name)
	Require(t, err == nil, name+" is not installed (or set "+envVar+")")
	return p
}
