package httpapi

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/procs"
)

// ProcessIndex gives the current snapshot of the node's pod processes.
type ProcessIndex interface {
	// Snapshot returns the current snapshot, or nil before the first scan.
	Snapshot() *procs.Snapshot
}

type podProcessJSON struct {
	PID         int    `json:"pid"`
	Command     string `json:"command"`
	PPID        int    `json:"ppid"`
	ContainerID string `json:"container_id"`
	StartTime   uint64 `json:"start_time"`
	Threads     []int  `json:"threads,omitempty"`
}

type podContainerJSON struct {
	ContainerID string `json:"container_id"`
	Runtime     string `json:"runtime"`
	Sandbox     bool   `json:"sandbox"`
}

// podJSON keeps the seed's fields first and unchanged; the rest is additive.
type podJSON struct {
	PodName     string             `json:"pod_name"`
	Namespace   string             `json:"namespace"`
	PodUID      string             `json:"pod_uid"`
	ContainerID string             `json:"container_id"`
	Processes   []podProcessJSON   `json:"processes"`
	QoSClass    string             `json:"qos_class"`
	NodeName    string             `json:"node_name"`
	Containers  []podContainerJSON `json:"containers"`
}

// podsFilter is a parsed GET /api/v1/pods/pids query.
type podsFilter struct {
	podUID      string
	pid         int
	containerID string
	threads     bool
}

func (f podsFilter) none() bool { return f.podUID == "" && f.pid == 0 && f.containerID == "" }

func parsePodsFilter(v url.Values) (podsFilter, error) {
	var f podsFilter
	if raw := v.Get("pod_uid"); raw != "" {
		uid, ok := procs.CanonicalPodUID(raw)
		if !ok {
			return f, apperr.Errorf(apperr.Invalid, "pod_uid: must be a pod UID such as 65979e01-4cb1-4d08-9dba-45530253ff00 (or a 32-hex static pod hash), got %q", raw)
		}
		f.podUID = uid
	}
	if raw := v.Get("pid"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxPID {
			return f, apperr.Errorf(apperr.Invalid, "pid: must be an integer from 1 to %d, got %q", maxPID, raw)
		}
		f.pid = n
	}
	if raw := v.Get("container_id"); raw != "" {
		id := strings.ToLower(raw)
		if _, rest, ok := strings.Cut(id, "://"); ok {
			id = rest // containerd://…, cri-o://…, docker://… as Kubernetes prints them
		}
		if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
			return f, apperr.Errorf(apperr.Invalid, "container_id: must be a 64-hex container ID, optionally with its runtime prefix (containerd://…), got %q", raw)
		}
		f.containerID = id
	}
	if raw := v.Get("include_threads"); raw != "" {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return f, apperr.Errorf(apperr.Invalid, "include_threads: must be true or false, got %q", raw)
		}
		f.threads = b
	}
	return f, nil
}

// maxPID is the kernel's largest possible PID (PID_MAX_LIMIT on 64-bit).
const maxPID = 4_194_304

// podsCache holds the encoded "pods" array of one snapshot version, so the
// unfiltered GET that a scheduler polls costs one copy, not an encoding.
type podsCache struct {
	version uint64
	threads bool
	body    []byte
}

type podsEncoder struct {
	node  string
	cache [2]atomic.Pointer[podsCache] // [0] without threads, [1] with
}

// encode returns the JSON array of the pods in s that match f.
func (e *podsEncoder) encode(s *procs.Snapshot, f podsFilter) ([]byte, error) {
	slot := 0
	if f.threads {
		slot = 1
	}
	if f.none() {
		if c := e.cache[slot].Load(); c != nil && c.version == s.Version {
			return c.body, nil
		}
	}
	out := make([]podJSON, 0, len(s.Pods))
	for i := range s.Pods {
		if pj, ok := e.pod(&s.Pods[i], f); ok {
			out = append(out, pj)
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode pods: %w", err)
	}
	if f.none() {
		e.cache[slot].Store(&podsCache{version: s.Version, threads: f.threads, body: body})
	}
	return body, nil
}

func (e *podsEncoder) pod(p *procs.Pod, f podsFilter) (podJSON, bool) {
	if f.podUID != "" && p.UID != f.podUID {
		return podJSON{}, false
	}
	if f.pid != 0 && !hasPID(p, f.pid) {
		return podJSON{}, false
	}
	if f.containerID != "" && !hasContainer(p, f.containerID) {
		return podJSON{}, false
	}
	pj := podJSON{
		PodUID:      p.UID,
		ContainerID: mainContainer(p, f.containerID),
		QoSClass:    string(p.QoS),
		NodeName:    e.node,
		Containers:  make([]podContainerJSON, 0, len(p.Containers)),
		Processes:   make([]podProcessJSON, 0, len(p.Processes)),
	}
	for _, c := range p.Containers {
		if f.containerID == "" || c.ID == f.containerID {
			pj.Containers = append(pj.Containers, podContainerJSON{ContainerID: c.ID, Runtime: c.Runtime, Sandbox: c.Sandbox})
		}
	}
	for _, pr := range p.Processes {
		if f.containerID != "" && pr.ContainerID != f.containerID {
			continue
		}
		pp := podProcessJSON{PID: pr.PID, Command: pr.Command, PPID: pr.PPID, ContainerID: pr.ContainerID, StartTime: pr.StartTime}
		if f.threads {
			pp.Threads = pr.Threads
			if pp.Threads == nil {
				pp.Threads = []int{}
			}
		}
		pj.Processes = append(pj.Processes, pp)
	}
	return pj, true
}

// mainContainer picks the seed's single container_id: the filtered one,
// else the first application (non-sandbox) container, else the first.
func mainContainer(p *procs.Pod, filtered string) string {
	if filtered != "" {
		return filtered
	}
	for _, c := range p.Containers {
		if !c.Sandbox {
			return c.ID
		}
	}
	if len(p.Containers) > 0 {
		return p.Containers[0].ID
	}
	return ""
}

func hasPID(p *procs.Pod, pid int) bool {
	for _, pr := range p.Processes {
		if pr.PID == pid {
			return true
		}
	}
	return false
}

func hasContainer(p *procs.Pod, id string) bool {
	for _, c := range p.Containers {
		if c.ID == id {
			return true
		}
	}
	return false
}

// etag names one representation: the snapshot version and the query.
func etag(version uint64, query string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(query))
	return fmt.Sprintf(`"%d-%08x"`, version, h.Sum32())
}

// notModified answers 304 when the client already has tag.
func notModified(w http.ResponseWriter, r *http.Request, tag string) bool {
	w.Header().Set("ETag", tag)
	for t := range strings.SplitSeq(r.Header.Get("If-None-Match"), ",") {
		t = strings.TrimSpace(t)
		if t == tag || t == "W/"+tag || t == "*" {
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

func (s *server) handlePodPIDs(w http.ResponseWriter, r *http.Request) {
	f, err := parsePodsFilter(r.URL.Query())
	if err != nil {
		s.respond.error(w, r, err)
		return
	}
	snap := s.Processes.Snapshot()
	if snap == nil {
		s.respond.error(w, r, apperr.Errorf(apperr.Unavailable, "the process index is still scanning; retry in a moment"))
		return
	}
	if notModified(w, r, etag(snap.Version, r.URL.RawQuery)) {
		return
	}
	pods, err := s.pods.encode(snap, f)
	if err != nil {
		s.respond.error(w, r, err)
		return
	}
	head, err := json.Marshal(struct {
		envelope
		Node      string `json:"node"`
		Version   uint64 `json:"version"`
		UpdatedAt string `json:"updated_at"`
	}{ok(s.Now(), "Pod-PID mappings retrieved successfully"), s.Node, snap.Version, snap.Taken.UTC().Format(time.RFC3339Nano)})
	if err != nil {
		s.respond.error(w, r, fmt.Errorf("encode envelope: %w", err))
		return
	}
	// {head…,"pods":[…]}: the cached array is spliced in, not re-encoded.
	body := make([]byte, 0, len(head)+len(pods)+10)
	body = append(body, head[:len(head)-1]...)
	body = append(body, `,"pods":`...)
	body = append(body, pods...)
	body = append(body, '}')
	writeJSONBytes(w, http.StatusOK, body)
}
