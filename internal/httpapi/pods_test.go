package httpapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bss-api/bss-api/internal/kube"
	"github.com/bss-api/bss-api/internal/notify"
	"github.com/bss-api/bss-api/internal/podview"
	"github.com/bss-api/bss-api/internal/procs"
	"github.com/bss-api/bss-api/internal/testsupport/contract"
)

const (
	podA  = "65979e01-4cb1-4d08-9dba-45530253ff00"
	podB  = "0c7c7a5e-1d2f-4b3a-9e8d-7f6a5b4c3d2e"
	ctrA1 = "5148a146ffbbe8672f11494843d54b8769d2eccc677c02027fc09aba192e3c67"
	ctrA0 = "0e1f5c3d2b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
	ctrB  = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
)

// fakeIndex serves a settable view built from a process snapshot and
// fakeMeta.
type fakeIndex struct {
	view    atomic.Pointer[podview.View]
	changes notify.Notifier
}

func newFakeIndex(s *procs.Snapshot) *fakeIndex {
	f := &fakeIndex{}
	f.set(s)
	return f
}

func (f *fakeIndex) set(s *procs.Snapshot) {
	if s == nil {
		f.view.Store(nil)
		return
	}
	f.view.Store(podview.Build(s.Version, s, fakeMeta{}))
	f.changes.Changed()
}

func (f *fakeIndex) View() *podview.View { return f.view.Load() }

func (f *fakeIndex) Next() <-chan struct{} { return f.changes.Next() }

// Subscribe never notifies: no test changes the view under a resolver.
func (f *fakeIndex) Subscribe() (<-chan struct{}, func()) { return nil, func() {} }

// fakeMeta knows pod A, as the API server would; pod B is unknown.
type fakeMeta struct{}

func (fakeMeta) Lookup(uid string) (kube.PodMeta, bool) {
	if uid != podA {
		return kube.PodMeta{}, false
	}
	return kube.PodMeta{UID: podA, Name: "loki-0", Namespace: "monitoring",
		Labels:     map[string]string{"app": "loki", "tier": "logs"},
		Containers: map[string]kube.ContainerMeta{ctrA1: {Name: "loki", Kind: kube.Regular}}}, true
}
func (fakeMeta) Version() uint64                      { return 1 }
func (fakeMeta) Subscribe() (<-chan struct{}, func()) { return nil, func() {} }

func fixtureSnapshot(version uint64) *procs.Snapshot {
	return procs.NewSnapshot(version, start, []procs.Pod{
		{
			UID: podB, QoS: procs.Guaranteed,
			Containers: []procs.Container{{ID: ctrB, PIDs: []int{800}}},
			Processes: []procs.Process{
				{Proc: procs.Proc{PID: 800, PPID: 1, Command: "my (weird) app", StartTime: 9100}, ContainerID: ctrB, Threads: []int{800, 801}},
			},
		},
		{
			UID: podA, QoS: procs.Burstable,
			Containers: []procs.Container{
				{ID: ctrA0, Runtime: procs.Containerd, Sandbox: true, PIDs: []int{717720}},
				{ID: ctrA1, Runtime: procs.Containerd, PIDs: []int{718001}},
			},
			Processes: []procs.Process{
				{Proc: procs.Proc{PID: 717720, PPID: 717576, Command: "pause", StartTime: 9001}, ContainerID: ctrA0, Threads: []int{717720}},
				{Proc: procs.Proc{PID: 718001, PPID: 717576, Command: "loki", StartTime: 9005}, ContainerID: ctrA1, Threads: []int{718001, 718002}},
			},
		},
	}, []procs.Process{{Proc: procs.Proc{PID: 1, Command: "systemd"}}})
}

type podsView struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	Version uint64 `json:"version"`
	Pods    []struct {
		PodName     string `json:"pod_name"`
		Namespace   string `json:"namespace"`
		PodUID      string `json:"pod_uid"`
		ContainerID string `json:"container_id"`
		QoSClass    string `json:"qos_class"`
		Processes   []struct {
			PID         int    `json:"pid"`
			Command     string `json:"command"`
			PPID        int    `json:"ppid"`
			ContainerID string `json:"container_id"`
			Threads     []int  `json:"threads"`
		} `json:"processes"`
	} `json:"pods"`
}

func decodePods(t *testing.T, res *contract.Response) podsView {
	t.Helper()
	var pr podsView
	if err := json.Unmarshal(res.Body, &pr); err != nil {
		t.Fatalf("decode %s: %v", res.Body, err)
	}
	return pr
}

func TestPodPIDs(t *testing.T) {
	env := newTestEnv(t, newValidator(t), nil)
	tests := []struct {
		query    string
		wantPods []string // pod UIDs in order
		wantPIDs []int    // all PIDs in order
	}{
		{"", []string{podB, podA}, []int{800, 717720, 718001}},
		{"?pod_uid=" + podA, []string{podA}, []int{717720, 718001}},
		{"?pod_uid=" + strings.ReplaceAll(strings.ToUpper(podA), "-", "_"), []string{podA}, []int{717720, 718001}},
		{"?pid=718001", []string{podA}, []int{717720, 718001}},
		{"?pid=1", []string{}, []int{}},
		{"?container_id=containerd://" + ctrA1, []string{podA}, []int{718001}},
		{"?container_id=" + ctrB, []string{podB}, []int{800}},
		{"?pod_uid=" + podB + "&pid=718001", []string{}, []int{}},
		{"?namespace=monitoring", []string{podA}, []int{717720, 718001}},
		{"?namespace=default", []string{}, []int{}},
		{"?label_selector=app%3Dloki", []string{podA}, []int{717720, 718001}},
		{"?label_selector=app+in+(loki,mimir),tier", []string{podA}, []int{717720, 718001}},
		{"?label_selector=app!%3Dloki", []string{}, []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res := env.client.Get(t, "/api/v1/pods/pids"+tt.query)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, res.Body)
			}
			pr := decodePods(t, res)
			if pr.Message != "Pod-PID mappings retrieved successfully" || pr.Pods == nil {
				t.Fatalf("body = %s", res.Body)
			}
			gotPods, gotPIDs := []string{}, []int{}
			for _, p := range pr.Pods {
				gotPods = append(gotPods, p.PodUID)
				for _, pp := range p.Processes {
					gotPIDs = append(gotPIDs, pp.PID)
				}
			}
			if strings.Join(gotPods, ",") != strings.Join(tt.wantPods, ",") || !slices.Equal(gotPIDs, tt.wantPIDs) {
				t.Errorf("pods %v pids %v, want %v %v", gotPods, gotPIDs, tt.wantPods, tt.wantPIDs)
			}
		})
	}
	t.Run("seed fields", func(t *testing.T) {
		pr := decodePods(t, env.client.Get(t, "/api/v1/pods/pids?pod_uid="+podA))
		p := pr.Pods[0]
		if p.ContainerID != ctrA1 {
			t.Errorf("container_id = %q, want the application container %q, not the sandbox", p.ContainerID, ctrA1)
		}
		if p.Processes[0].Command != "pause" || p.Processes[0].PPID != 717576 || p.Processes[0].ContainerID != ctrA0 {
			t.Errorf("first process = %+v", p.Processes[0])
		}
		if p.Processes[1].Threads != nil {
			t.Error("threads listed without include_threads")
		}
	})
	t.Run("threads", func(t *testing.T) {
		pr := decodePods(t, env.client.Get(t, "/api/v1/pods/pids?include_threads=true&pod_uid="+podA))
		if got := pr.Pods[0].Processes[1].Threads; !slices.Equal(got, []int{718001, 718002}) {
			t.Errorf("threads = %v", got)
		}
	})
	t.Run("metadata", func(t *testing.T) {
		res := env.client.Get(t, "/api/v1/pods/pids")
		var body struct {
			Pods []podJSON `json:"pods"`
		}
		if err := json.Unmarshal(res.Body, &body); err != nil {
			t.Fatal(err)
		}
		pods := map[string]podJSON{}
		for _, p := range body.Pods {
			pods[p.PodUID] = p
		}
		a, b := pods[podA], pods[podB]
		if a.PodName != "loki-0" || a.Namespace != "monitoring" || !maps.Equal(a.Labels, map[string]string{"app": "loki", "tier": "logs"}) {
			t.Errorf("pod A = %q in %q labelled %v, want loki-0 in monitoring labelled app=loki, tier=logs", a.PodName, a.Namespace, a.Labels)
		}
		if got := a.Processes[1]; got.PID != 718001 || got.ContainerName != "loki" {
			t.Errorf("pod A's second process = %+v, want 718001 in container loki", got)
		}
		// Pod B has no metadata: empty names, and labels {} rather than null.
		if b.PodName != "" || b.Namespace != "" || b.Labels == nil || len(b.Labels) != 0 {
			t.Errorf("pod B = %q in %q labelled %#v, want no names and empty labels", b.PodName, b.Namespace, b.Labels)
		}
		// With metadata, the container that no status names is the sandbox.
		sandbox := podContainerJSON{ContainerID: ctrA0, ContainerName: "", Runtime: "containerd", Sandbox: true}
		if !slices.Contains(a.Containers, sandbox) {
			t.Errorf("pod A's containers = %+v, want its unnamed container as the sandbox", a.Containers)
		}
	})
	for _, bad := range []string{"?pod_uid=nope", "?pid=0", "?pid=x", "?pid=4194305", "?container_id=abc", "?include_threads=maybe",
		"?namespace=Not_A_Namespace", "?label_selector=a%3D%3D%3Db"} {
		t.Run("bad "+bad, func(t *testing.T) {
			res := env.client.Get(t, "/api/v1/pods/pids"+bad)
			name, _, _ := strings.Cut(strings.TrimPrefix(bad, "?"), "=")
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(res.Body), name+":") {
				t.Errorf("status %d body %s; want 400 naming %s", res.StatusCode, res.Body, name)
			}
		})
	}
}

func TestPodPIDsEmptyIsArray(t *testing.T) {
	env := newTestEnv(t, newValidator(t), func(c *Config) {
		c.Pods = newFakeIndex(procs.NewSnapshot(1, start, nil, nil))
	})
	res := env.client.Get(t, "/api/v1/pods/pids")
	if !strings.Contains(string(res.Body), `"pods":[]`) {
		t.Errorf("body = %s, want \"pods\":[]", res.Body)
	}
}

func TestPodPIDsNotReady(t *testing.T) {
	env := newTestEnv(t, newValidator(t), func(c *Config) { c.Pods = &fakeIndex{} })
	if res := env.client.Get(t, "/api/v1/pods/pids"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503 before the first scan", res.StatusCode)
	}
}

func TestPodPIDsETag(t *testing.T) {
	idx := newFakeIndex(fixtureSnapshot(5))
	env := newTestEnv(t, newValidator(t), func(c *Config) { c.Pods = idx })
	first := env.client.Get(t, "/api/v1/pods/pids")
	tag := first.Header.Get("ETag")
	if tag == "" {
		t.Fatal("no ETag")
	}
	req := env.client.NewRequest(t, http.MethodGet, "/api/v1/pods/pids", "", nil)
	req.Header.Set("If-None-Match", tag)
	if res := env.client.Do(t, req); res.StatusCode != http.StatusNotModified || len(res.Body) != 0 {
		t.Errorf("same version: status %d body %q, want 304 and no body", res.StatusCode, res.Body)
	}
	other := env.client.NewRequest(t, http.MethodGet, "/api/v1/pods/pids?include_threads=true", "", nil)
	other.Header.Set("If-None-Match", tag)
	if res := env.client.Do(t, other); res.StatusCode != http.StatusOK {
		t.Errorf("other query with the same tag: status %d, want 200", res.StatusCode)
	}
	idx.set(fixtureSnapshot(6))
	again := env.client.NewRequest(t, http.MethodGet, "/api/v1/pods/pids", "", nil)
	again.Header.Set("If-None-Match", tag)
	res := env.client.Do(t, again)
	if res.StatusCode != http.StatusOK || res.Header.Get("ETag") == tag {
		t.Errorf("new version: status %d etag %q, want 200 and a new tag", res.StatusCode, res.Header.Get("ETag"))
	}
}

// Versions restart with the process; a tag from before a restart must not
// match the same version number after it.
func TestETagsDoNotSurviveARestart(t *testing.T) {
	idx := newFakeIndex(fixtureSnapshot(5))
	before := newTestEnv(t, newValidator(t), func(c *Config) { c.Pods = idx })
	tag := before.client.Get(t, "/api/v1/pods/pids").Header.Get("ETag")
	after := newTestEnv(t, newValidator(t), func(c *Config) { c.Pods = idx })
	req := after.client.NewRequest(t, http.MethodGet, "/api/v1/pods/pids", "", nil)
	req.Header.Set("If-None-Match", tag)
	res := after.client.Do(t, req)
	if res.StatusCode != http.StatusOK || res.Header.Get("ETag") == tag {
		t.Errorf("tag %s from before the restart: status %d, tag %s; want 200 and a new tag", tag, res.StatusCode, res.Header.Get("ETag"))
	}
}

func TestPodPIDsGzip(t *testing.T) {
	cfg := newTestConfig(t, &fakeClock{now: start})
	cfg.Pods = newFakeIndex(fixtureSnapshot(3))
	h := New(cfg)
	plain := httptest.NewRecorder()
	h.ServeHTTP(plain, httptest.NewRequest(http.MethodGet, "/api/v1/pods/pids", nil))
	req := httptest.NewRequest(http.MethodGet, "/api/v1/pods/pids", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	zipped := httptest.NewRecorder()
	h.ServeHTTP(zipped, req)
	if zipped.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", zipped.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain.Body.Bytes()) {
		t.Errorf("gzip body decodes to\n%s\nwant the plain body\n%s", got, plain.Body)
	}
	if v := zipped.Header().Values("Vary"); !slices.Contains(v, "Accept-Encoding") {
		t.Errorf("Vary = %v, want Accept-Encoding", v)
	}
	refused := httptest.NewRequest(http.MethodGet, "/api/v1/pods/pids", nil)
	refused.Header.Set("Accept-Encoding", "gzip;q=0")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, refused)
	if rec.Header().Get("Content-Encoding") != "" {
		t.Error("gzip sent although the client refused it with q=0")
	}
}

// A 304 carries no body and the cached endpoints keep the Vary: Origin
// that CORS adds beside their own Vary: Accept-Encoding, on 200 and 304.
func TestCachedEndpointsValidators(t *testing.T) {
	cfg := newTestConfig(t, &fakeClock{now: start})
	cfg.CORSOrigins = []string{"https://a.example", "https://b.example"}
	syncStrategies(t, cfg)
	h := New(cfg)
	get := func(path, tag string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Origin", "https://a.example")
		if tag != "" {
			req.Header.Set("If-None-Match", tag)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, path := range []string{"/api/v1/pods/pids", "/api/v1/scheduling/strategies"} {
		first := get(path, "")
		again := get(path, first.Header().Get("ETag"))
		if first.Code != http.StatusOK || again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("%s: %d, then %d with %d body bytes; want 200, then 304 with none", path, first.Code, again.Code, again.Body.Len())
		}
		for _, rec := range []*httptest.ResponseRecorder{first, again} {
			vary := strings.Join(rec.Header().Values("Vary"), ",")
			if !strings.Contains(vary, "Origin") || !strings.Contains(vary, "Accept-Encoding") {
				t.Errorf("%s %d: Vary %q, want Origin and Accept-Encoding", path, rec.Code, vary)
			}
		}
	}
}
