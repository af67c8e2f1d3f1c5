package client

import (
	"encoding/json"
	"time"
)

// Info answers GET /: the service, its version and node, and every
// endpoint it serves.
type Info struct {
	Envelope
	Service   string     `json:"service"`
	Version   string     `json:"version"`
	Node      string     `json:"node"`
	Endpoints []Endpoint `json:"endpoints"`
}

// Endpoint is one route of the server.
type Endpoint struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	Description string `json:"description"`
}

// Health answers GET /health (the seed's format). Status is "healthy" or
// "unhealthy"; components and their details are shown only to callers
// allowed to read them.
type Health struct {
	Status     string                     `json:"status"`
	Timestamp  string                     `json:"timestamp"`
	Service    string                     `json:"service"`
	Version    string                     `json:"version,omitempty"`
	Components map[string]ComponentHealth `json:"components,omitempty"`
}

// ComponentHealth is one component's state ("ok", "disabled", "degraded"
// or "down") and what it says about itself.
type ComponentHealth struct {
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Readiness answers GET /readyz. Status is "ready" or "not ready".
type Readiness struct {
	Status     string                     `json:"status"`
	Timestamp  string                     `json:"timestamp"`
	Components map[string]ComponentHealth `json:"components,omitempty"`
}

// Token answers POST /api/v1/auth/token: a scheduler token and when it
// expires. The server sends the token twice (top level for older
// schedulers, in data for newer ones); Token holds it either way.
type Token struct {
	Envelope
	Token string    `json:"token"`
	Data  TokenData `json:"data"`
}

// TokenData is the token as current schedulers read it.
type TokenData struct {
	Token     string `json:"token"`
	ExpiredAt int64  `json:"expired_at"` // Unix seconds
}

// Expires returns when the token expires; zero when the server did not say.
func (t *Token) Expires() time.Time {
	if t.Data.ExpiredAt == 0 {
		return time.Time{}
	}
	return time.Unix(t.Data.ExpiredAt, 0)
}

// Value returns the token, from whichever shape carried it.
func (t *Token) Value() string {
	if t.Data.Token != "" {
		return t.Data.Token
	}
	return t.Token
}

// PodFilter narrows GET /api/v1/pods/pids. Zero fields are not sent.
type PodFilter struct {
	Namespace      string
	LabelSelector  string // Kubernetes selector syntax: "app in (loki,mimir),tier"
	PodUID         string
	PID            int    // the pod that runs this PID
	ContainerID    string // 64 hex, optionally "containerd://…"
	IncludeThreads bool   // adds Threads to each process
}

// Pods answers GET /api/v1/pods/pids: the processes of every pod on the
// node, sorted by pod UID, each pod's processes by PID.
type Pods struct {
	Envelope
	Node      string `json:"node"`
	Version   uint64 `json:"version"`
	UpdatedAt string `json:"updated_at"`
	Pods      []Pod  `json:"pods"`
	// ETag is the answer's entity tag, to send back with IfNoneMatch.
	ETag string `json:"-"`
}

// Pod is one pod and its processes.
type Pod struct {
	PodName     string            `json:"pod_name"`
	Namespace   string            `json:"namespace"`
	PodUID      string            `json:"pod_uid"`
	ContainerID string            `json:"container_id"` // the first application container
	Processes   []Process         `json:"processes"`
	QoSClass    string            `json:"qos_class"`
	NodeName    string            `json:"node_name"`
	Labels      map[string]string `json:"labels"`
	Containers  []Container       `json:"containers"`
}

// Process is one process of a pod. PID and StartTime (clock ticks after
// boot) identify it: a reused PID has another start time.
type Process struct {
	PID           int    `json:"pid"`
	Command       string `json:"command"`
	PPID          int    `json:"ppid"`
	ContainerID   string `json:"container_id"`
	ContainerName string `json:"container_name"`
	StartTime     uint64 `json:"start_time"`
	Threads       []int  `json:"threads,omitempty"`
}

// Container is one container of a pod.
type Container struct {
	ContainerID   string `json:"container_id"`
	ContainerName string `json:"container_name"`
	Runtime       string `json:"runtime"`
	Sandbox       bool   `json:"sandbox"`
}

// AuditPage is one page of the audit trail, oldest first. When HasMore is
// true, pass NextSince as the next query's Since.
type AuditPage struct {
	Envelope
	Count     int           `json:"count"`
	HasMore   bool          `json:"has_more"`
	NextSince string        `json:"next_since,omitempty"`
	Records   []AuditRecord `json:"records"`
}

// AuditRecord is one strategy change or refused write.
type AuditRecord struct {
	At         time.Time    `json:"at"`
	Node       string       `json:"node"`
	Identity   string       `json:"identity"`
	Role       string       `json:"role"`
	Credential string       `json:"credential"`
	Method     string       `json:"method"`
	Route      string       `json:"route"`
	Path       string       `json:"path"`
	Client     string       `json:"client"`
	Outcome    string       `json:"outcome"`
	Status     int          `json:"status"`
	Reason     string       `json:"reason,omitempty"`
	Suppressed int          `json:"suppressed,omitempty"`
	Change     *AuditChange `json:"change,omitempty"`
}

// AuditChange is what one allowed write changed: the definitions, as
// stored, before and after.
type AuditChange struct {
	Before      []json.RawMessage `json:"before"`
	After       []json.RawMessage `json:"after"`
	BeforeCount int               `json:"before_count"`
	AfterCount  int               `json:"after_count"`
	Truncated   bool              `json:"truncated"`
}
