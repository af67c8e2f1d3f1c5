package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bss-api/bss-api/internal/apperr"
	"github.com/bss-api/bss-api/internal/podview"
	"github.com/bss-api/bss-api/internal/procs"
	"github.com/bss-api/bss-api/internal/strategy"
)

// PodView gives the current joined view of the node's pods: processes
// from the process index, names and labels from pod metadata.
type PodView interface {
	// View returns the current view, or nil before the first process scan.
	View() *podview.View
	// Next returns a channel closed at the view's next change; it is
	// called before View.
	Next() <-chan struct{}
}

type podProcessJSON struct {
	PID           int    `json:"pid"`
	Command       string `json:"command"`
	PPID          int    `json:"ppid"`
	ContainerID   string `json:"container_id"`
	ContainerName string `json:"container_name"`
	StartTime     uint64 `json:"start_time"`
	Threads       []int  `json:"threads,omitempty"`
}

type podContainerJSON struct {
	ContainerID   string `json:"container_id"`
	ContainerName string `json:"container_name"`
	Runtime       string `json:"runtime"`
	Sandbox       bool   `json:"sandbox"`
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
	Labels      map[string]string  `json:"labels"`
	Containers  []podContainerJSON `json:"containers"`
}

// podsFilter is a parsed GET /api/v1/pods/pids query.
type podsFilter struct {
	podUID      string
	pid         int
	containerID string
	namespace   string
	selector    labels.Selector // nil: any
	threads     bool
}

func (f podsFilter) none() bool {
	return f.podUID == "" && f.pid == 0 && f.containerID == "" && f.namespace == "" && f.selector == nil
}

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
		if err != nil || n < 1 || n > strategy.MaxPID {
			return f, apperr.Errorf(apperr.Invalid, "pid: must be an integer from 1 to %d, got %q", strategy.MaxPID, raw)
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
	if raw := v.Get("namespace"); raw != "" {
		if errs := validation.IsDNS1123Label(raw); len(errs) > 0 {
			return f, apperr.Errorf(apperr.Invalid, "namespace: %q is not a namespace name: %s", raw, errs[0])
		}
		f.namespace = raw
	}
	if raw := v.Get("label_selector"); raw != "" {
		sel, err := labels.Parse(raw)
		if err != nil {
			return f, apperr.Errorf(apperr.Invalid, "label_selector: %v", err)
		}
		f.selector = sel
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

type podsEncoder struct {
	node  string
	cache bodyCache // unfiltered answers: [0] without threads, [1] with
}

// response returns the whole response body for f, from the cache when f
// selects everything.
func (e *podsEncoder) response(s *podview.View, f podsFilter, now time.Time) (*cachedBody, error) {
	build := func() ([]byte, error) {
		pods := s.Pods
		if f.pid != 0 { // at most the one pod that has the process
			pods = nil
			if p, ok := s.PodOfPID(f.pid); ok {
				pods = []podview.Pod{*p}
			}
		}
		out := make([]podJSON, 0, len(pods))
		for i := range pods {
			if pj, ok := e.pod(&pods[i], f); ok {
				out = append(out, pj)
			}
		}
		body, err := json.Marshal(podsResponse{
			envelope:  ok(now, "Pod-PID mappings retrieved successfully"),
			Node:      e.node,
			Version:   s.Version,
			UpdatedAt: s.Updated.UTC().Format(time.RFC3339Nano),
			Pods:      out,
		})
		if err != nil {
			return nil, fmt.Errorf("encode pods: %w", err)
		}
		return body, nil
	}
	if !f.none() {
		body, err := build()
		return &cachedBody{body: body}, err
	}
	slot := 0
	if f.threads {
		slot = 1
	}
	return e.cache.get(slot, s.Version, now.Unix(), build)
}

type podsResponse struct {
	envelope
	Node      string    `json:"node"`
	Version   uint64    `json:"version"`
	UpdatedAt string    `json:"updated_at"`
	Pods      []podJSON `json:"pods"`
}

func (e *podsEncoder) pod(p *podview.Pod, f podsFilter) (podJSON, bool) {
	if f.podUID != "" && p.UID != f.podUID {
		return podJSON{}, false
	}
	if f.namespace != "" && p.Namespace != f.namespace {
		return podJSON{}, false
	}
	if f.selector != nil && (!p.Known || !f.selector.Matches(labels.Set(p.Labels))) {
		return podJSON{}, false
	}
	if _, ok := p.Container(f.containerID); f.containerID != "" && !ok {
		return podJSON{}, false
	}
	pj := podJSON{
		PodName:     p.Name,
		Namespace:   p.Namespace,
		Labels:      p.Labels,
		PodUID:      p.UID,
		ContainerID: mainContainer(p, f.containerID),
		QoSClass:    string(p.QoS),
		NodeName:    e.node,
		Containers:  make([]podContainerJSON, 0, len(p.Containers)),
		Processes:   make([]podProcessJSON, 0, len(p.Processes)),
	}
	for _, c := range p.Containers {
		if f.containerID == "" || c.ID == f.containerID {
			pj.Containers = append(pj.Containers, podContainerJSON{ContainerID: c.ID, ContainerName: c.Name, Runtime: c.Runtime, Sandbox: c.Sandbox})
		}
	}
	for _, pr := range p.Processes {
		if f.containerID != "" && pr.ContainerID != f.containerID {
			continue
		}
		pp := podProcessJSON{PID: pr.PID, Command: pr.Command, PPID: pr.PPID, ContainerID: pr.ContainerID, StartTime: pr.StartTime}
		if c, ok := p.Container(pr.ContainerID); ok {
			pp.ContainerName = c.Name
		}
		if f.threads {
			pp.Threads = pr.Threads
			if pp.Threads == nil {
				pp.Threads = []int{}
			}
		}
		pj.Processes = append(pj.Processes, pp)
	}
	if pj.Labels == nil {
		pj.Labels = map[string]string{}
	}
	return pj, true
}

// mainContainer picks the seed's single container_id: the filtered one,
// else the first application (non-sandbox) container, else the first.
func mainContainer(p *podview.Pod, filtered string) string {
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

// getPodPIDs serves the pods and their processes, filtered as asked.
// With ?wait= it is a blocking query (see watcher.hold).
func getPodPIDs(pods PodView, node string, tags etags, watch *watcher, maxCached int64, now func() time.Time, rs responder) http.Handler {
	enc := &podsEncoder{node: node}
	enc.cache.max = maxCached
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parsePodsFilter(r.URL.Query())
		if err != nil {
			rs.error(w, r, err)
			return
		}
		q, err := parseWatch(r, watch.opts.MaxWait)
		if err != nil {
			rs.error(w, r, err)
			return
		}
		snap := pods.View()
		if snap == nil {
			rs.error(w, r, apperr.Errorf(apperr.Unavailable, "the process index is still scanning; retry in a moment"))
			return
		}
		query := representationQuery(r.URL.RawQuery)
		cur, answer := watch.hold(w, r, r.Pattern, q, pods.Next, func() current {
			snap = pods.View()
			return current{version: snap.Version, tag: tags.of(snap.Version, query)}
		})
		if !answer || answeredCurrent(w, q, cur) {
			return
		}
		c, err := enc.response(snap, f, now())
		if err != nil {
			rs.error(w, r, err)
			return
		}
		writeBody(w, r, c)
	})
}
