package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bss-api/bss-api/internal/memlimit"
	"github.com/bss-api/bss-api/internal/testsupport/abuse"
	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// TestAbuse runs every attack of the abuse table (internal/testsupport/abuse)
// against the binary hack/build.sh built, each in a fresh memory cgroup
// with the manifest's limit (192 MiB), while a normal client (a scheduler)
// keeps using the server. For each: the server is never killed, is ready
// afterwards and within the limit, the normal client keeps getting
// answers, and nothing acknowledged is lost; after attacks that store
// strategies the server starts again on what they stored. The numbers are
// logged, not asserted on (go run ./cmd/bss-abuse prints them as a table).
func TestAbuse(t *testing.T) {
	testenv.Require(t, os.Geteuid() == 0, "the abuse suite needs root to create memory cgroups")
	_, ok, err := memlimit.Locate("/proc/self")
	testenv.Require(t, err == nil && ok, fmt.Sprintf("the abuse suite needs a memory cgroup hierarchy (v1 or v2): %v", err))
	opts := abuse.Options{Binary: buildBinary(t), Dir: t.TempDir(), Logf: t.Logf, Short: true}
	for _, a := range abuse.Attacks() {
		t.Run(a.Name, func(t *testing.T) {
			res, err := abuse.Run(t.Context(), opts, a)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: peak RSS %.1f MiB, cgroup peak %.1f MiB (limit %d MiB); normal client %d answered, %d failed, p99 %s; %s",
				a.Name, float64(res.PeakRSS)/(1<<20), float64(res.CgroupPeak)/(1<<20), res.Limit>>20,
				res.Normal.OK, res.Normal.Failed, res.Normal.P(0.99).Round(100*time.Microsecond), res.Notes)
			if res.Killed || res.OOMKills > 0 {
				t.Fatalf("the server died: %s (OOM kills: %d)", res.Exit, res.OOMKills)
			}
			if !res.Ready {
				t.Error("the server was not ready after the attack")
			}
			if res.PeakRSS >= res.Limit {
				t.Errorf("peak RSS %d bytes is not within the limit of %d", res.PeakRSS, res.Limit)
			}
			// The normal client keeps getting answers: nearly all of its
			// requests are answered (a request cut by the attack's own
			// connection churn may fail; the transport does not retry a
			// POST).
			if n := res.Normal.OK + res.Normal.Failed; res.Normal.OK == 0 || res.Normal.Failed*20 > n {
				t.Errorf("the normal client had %d of %d requests answered (first error: %s)", res.Normal.OK, n, res.Normal.FirstError)
			}
			if len(res.Lost) > 0 {
				t.Errorf("acknowledged and lost: %s", strings.Join(res.Lost, "; "))
			}
			if res.Restart != "" && res.Restart != "ok" {
				t.Errorf("the server did not start again on what the attack stored: %s", res.Restart)
			}
		})
	}
}

// TestAbuseLimitIsTheManifests holds the abuse suite's memory limit to
// the DaemonSet's.
func TestAbuseLimitIsTheManifests(t *testing.T) {
	b, err := os.ReadFile("k8s/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`limits:\s*\n\s*memory:\s*(\d+)Mi`).FindSubmatch(b)
	if m == nil {
		t.Fatal("k8s/deployment.yaml sets no memory limit in MiB")
	}
	if mib, _ := strconv.ParseInt(string(m[1]), 10, 64); mib<<20 != abuse.ManifestLimit {
		t.Errorf("the manifest's memory limit is %d MiB, the abuse suite's %d MiB", mib, abuse.ManifestLimit>>20)
	}
	if strings.Contains(string(b), "GOMEMLIMIT") {
		t.Error("the manifest sets GOMEMLIMIT: the server derives its soft limit from the cgroup, with room for what the Go heap does not count")
	}
}
