package config

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{"defaults", nil, nil, func(t *testing.T, c Config) {
			if c.Listen != ":8080" || c.MaxBodyBytes != 1<<20 || c.MetricsStaleness != time.Minute ||
				len(c.CORSOrigins) != 1 || c.CORSOrigins[0] != "*" || c.LogLevel != "info" {
				t.Errorf("defaults = %+v", c)
			}
		}},
		{"listen flag", []string{"--listen=127.0.0.1:9000"}, nil, func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:9000" {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"port as number", []string{"--port", "9090"}, nil, func(t *testing.T, c Config) {
			if c.Listen != ":9090" {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"port with colon", []string{"--port=:9091"}, nil, func(t *testing.T, c Config) {
			if c.Listen != ":9091" {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"port with host", []string{"-port=127.0.0.1:9092"}, nil, func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:9092" {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"env sets listen", nil, map[string]string{"BSS_LISTEN": "127.0.0.1:7000"}, func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:7000" {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"flag beats env", []string{"--listen=:7001"}, map[string]string{"BSS_LISTEN": ":7000"}, func(t *testing.T, c Config) {
			if c.Listen != ":7001" {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"port flag beats listen env", []string{"--port=7002"}, map[string]string{"BSS_LISTEN": ":7000"}, func(t *testing.T, c Config) {
			if c.Listen != ":7002" {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"sizes with suffixes", []string{"--max-body-bytes=2MiB", "--max-header-bytes=8KiB"}, nil, func(t *testing.T, c Config) {
			if c.MaxBodyBytes != 2<<20 || c.MaxHeaderBytes != 8<<10 {
				t.Errorf("MaxBodyBytes = %d, MaxHeaderBytes = %d", c.MaxBodyBytes, c.MaxHeaderBytes)
			}
		}},
		{"cors list", []string{"--cors-origins= https://a.example , https://b.example"}, nil, func(t *testing.T, c Config) {
			if strings.Join(c.CORSOrigins, "|") != "https://a.example|https://b.example" {
				t.Errorf("CORSOrigins = %q", c.CORSOrigins)
			}
		}},
		{"node name from downward API", nil, map[string]string{"NODE_NAME": "worker-1"}, func(t *testing.T, c Config) {
			if c.NodeName != "worker-1" {
				t.Errorf("NodeName = %q", c.NodeName)
			}
		}},
		{"BSS_NODE_NAME beats NODE_NAME", nil, map[string]string{"NODE_NAME": "a", "BSS_NODE_NAME": "b"}, func(t *testing.T, c Config) {
			if c.NodeName != "b" {
				t.Errorf("NodeName = %q", c.NodeName)
			}
		}},
		{"durations from env", nil, map[string]string{"BSS_METRICS_STALENESS": "2m", "BSS_HISTORY_RETENTION": "168h"}, func(t *testing.T, c Config) {
			if c.MetricsStaleness != 2*time.Minute || c.HistoryRetention != 168*time.Hour {
				t.Errorf("MetricsStaleness = %v, HistoryRetention = %v", c.MetricsStaleness, c.HistoryRetention)
			}
		}},
		// Images commonly set BSS_VERSION to their own version: it is not
		// the --version action.
		{"BSS_VERSION is not --version", nil, map[string]string{"BSS_VERSION": "1.2.3"}, func(t *testing.T, c Config) {
			if c.ShowVersion {
				t.Error("ShowVersion set from the environment")
			}
		}},
		{"BSS_VERSION=true is not --version", nil, map[string]string{"BSS_VERSION": "true"}, func(t *testing.T, c Config) {
			if c.ShowVersion {
				t.Error("ShowVersion set from the environment")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad listen", []string{"--listen=nonsense"}, nil, "--listen"},
		{"bad port", []string{"--port=99999"}, nil, "--port"},
		{"port and listen disagree", []string{"--port=1", "--listen=:2"}, nil, "disagree"},
		{"bad env", nil, map[string]string{"BSS_READ_TIMEOUT": "soon"}, "BSS_READ_TIMEOUT"},
		{"zero duration", []string{"--write-timeout=0s"}, nil, "--write-timeout"},
		{"negative duration", []string{"--metrics-staleness=-1s"}, nil, "--metrics-staleness"},
		{"bad size", []string{"--max-body-bytes=lots"}, nil, "max-body-bytes"},
		{"tiny body limit", []string{"--max-body-bytes=10"}, nil, "--max-body-bytes"},
		{"bad log level", []string{"--log-level=loud"}, nil, "--log-level"},
		{"bad log format", []string{"--log-format=xml"}, nil, "--log-format"},
		{"empty cors", []string{"--cors-origins=,"}, nil, "--cors-origins"},
		{"unknown flag", []string{"--nope"}, nil, "nope"},
		{"positional argument", []string{"serve"}, nil, "unexpected argument"},
		{"zero history", []string{"--history-max-samples=0"}, nil, "--history-max-samples"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.args, env(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() error = %v, want one naming %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines; it must be one line", err)
			}
		})
	}
}

func TestParseHelp(t *testing.T) {
	var out strings.Builder
	_, err := Parse([]string{"--help"}, env(nil), &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("Parse(--help) error = %v, want ErrHelp", err)
	}
	for _, want := range []string{"-listen", "-port", "BSS_NAME"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage does not mention %q", want)
		}
	}
}
