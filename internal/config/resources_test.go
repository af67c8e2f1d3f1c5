package config

import (
	"io"
	"strings"
	"testing"
)

func TestParseResources(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want Resources
	}{
		{"defaults", nil, nil, Resources{MemoryLimit: MemoryLimit{Mode: "auto"}, MaxConnectionsPerClient: 128, BodyMinRate: 1024}},
		{"every flag", []string{"--memory-limit=256MiB", "--max-connections=500", "--max-connections-per-client=10",
			"--body-min-rate=4KiB", "--max-body-bytes-in-flight=8MiB"}, nil,
			Resources{MemoryLimit: MemoryLimit{Mode: "bytes", Bytes: 256 << 20}, MaxConnections: 500, MaxConnectionsPerClient: 10,
				BodyMinRate: 4 << 10, MaxBodyBytesInFlight: 8 << 20}},
		{"a share of the cgroup's limit", []string{"--memory-limit=75%"}, nil,
			Resources{MemoryLimit: MemoryLimit{Mode: "percent", Percent: 75}, MaxConnectionsPerClient: 128, BodyMinRate: 1024}},
		{"off, from the environment; no minimum rate", nil, map[string]string{"BSS_MEMORY_LIMIT": "off", "BSS_BODY_MIN_RATE": "0"},
			Resources{MemoryLimit: MemoryLimit{Mode: "off"}, MaxConnectionsPerClient: 128}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if c.Resources != tt.want {
				t.Errorf("Resources = %+v, want %+v", c.Resources, tt.want)
			}
		})
	}
}

func TestParseResourcesRejects(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--memory-limit=lots"}, "memory-limit"},
		{[]string{"--memory-limit=150%"}, "memory-limit"},
		{[]string{"--memory-limit=0%"}, "memory-limit"},
		{[]string{"--memory-limit=1MiB"}, "--memory-limit"},
		{[]string{"--max-connections=-1"}, "--max-connections"},
		{[]string{"--max-connections-per-client=0"}, "--max-connections-per-client"},
		{[]string{"--max-connections=10", "--max-connections-per-client=20"}, "--max-connections-per-client"},
		{[]string{"--body-min-rate=fast"}, "body-min-rate"},
		{[]string{"--max-body-bytes-in-flight=1KiB"}, "--max-body-bytes-in-flight"},
	} {
		_, err := Parse(tt.args, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q) error = %v, want one line naming %q", tt.args, err, tt.want)
		}
	}
}
