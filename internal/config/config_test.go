package config

import (
	"errors"
	"io"
	"slices"
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
			if !slices.Equal(c.Listen, []string{"127.0.0.1:8080", "[::1]:8080"}) || !c.ListenDefaulted || c.MaxBodyBytes != 1<<20 ||
				c.MetricsStaleness != time.Minute || len(c.CORSOrigins) != 0 || c.LogLevel != "info" || c.HasCredentials() {
				t.Errorf("defaults = %+v", c)
			}
		}},
		{"with a credential method the default is every interface", []string{"--token-auth-file=/dev/null"}, nil, func(t *testing.T, c Config) {
			if !slices.Equal(c.Listen, []string{":8080"}) || !c.ListenDefaulted {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"listen flag", []string{"--listen=127.0.0.1:9000"}, nil, func(t *testing.T, c Config) {
			if !slices.Equal(c.Listen, []string{"127.0.0.1:9000"}) || c.ListenDefaulted {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"listen list", []string{"--listen=127.0.0.1:9000, [::1]:9000"}, nil, func(t *testing.T, c Config) {
			if !slices.Equal(c.Listen, []string{"127.0.0.1:9000", "[::1]:9000"}) {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"port as number keeps the default hosts", []string{"--port", "9090"}, nil, func(t *testing.T, c Config) {
			if !slices.Equal(c.Listen, []string{"127.0.0.1:9090", "[::1]:9090"}) {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"port with colon", []string{"--port=:9091", "--insecure-listen-unauthenticated"}, nil, func(t *testing.T, c Config) {
			if !slices.Equal(c.Listen, []string{":9091"}) {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"port with host", []string{"-port=127.0.0.1:9092"}, nil, func(t *testing.T, c Config) {
			if !slices.Equal(c.Listen, []string{"127.0.0.1:9092"}) {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"env sets listen", nil, map[string]string{"BSS_LISTEN": "127.0.0.1:7000"}, func(t *testing.T, c Config) {
			if !slices.Equal(c.Listen, []string{"127.0.0.1:7000"}) {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"flag beats env", []string{"--listen=localhost:7001"}, map[string]string{"BSS_LISTEN": "127.0.0.1:7000"}, func(t *testing.T, c Config) {
			if !slices.Equal(c.Listen, []string{"localhost:7001"}) {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"port flag beats listen env", []string{"--port=127.0.0.1:7002"}, map[string]string{"BSS_LISTEN": "127.0.0.1:7000"}, func(t *testing.T, c Config) {
			if !slices.Equal(c.Listen, []string{"127.0.0.1:7002"}) {
				t.Errorf("Listen = %q", c.Listen)
			}
		}},
		{"non-loopback with a credential method", []string{"--listen=:8443", "--token-auth-file=/dev/null"}, nil, func(t *testing.T, c Config) {
			if !slices.Equal(c.Listen, []string{":8443"}) {
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
		{"port and listen disagree", []string{"--port=1", "--listen=127.0.0.1:2"}, nil, "disagree"},
		{"non-loopback without credentials", []string{"--listen=:8080"}, nil, "--insecure-listen-unauthenticated"},
		{"every interface by --port without credentials", []string{"--port=0.0.0.0:8080"}, nil, "refusing to listen on 0.0.0.0:8080"},
		{"TLS key without certificate", []string{"--tls-key-file=k.pem"}, nil, "--tls-cert-file"},
		{"client CA without TLS", []string{"--tls-client-ca-file=ca.pem"}, nil, "needs TLS"},
		{"kubernetes auth in mock mode", []string{"--auth-kubernetes", "--kube-mode=mock"}, nil, "--kube-mode=mock"},
		{"short scheduler tokens", []string{"--scheduler-public-key-file=k.pem", "--scheduler-token-ttl=1h"}, nil, "--scheduler-token-ttl"},
		{"bad env", nil, map[string]string{"BSS_READ_TIMEOUT": "soon"}, "BSS_READ_TIMEOUT"},
		{"zero duration", []string{"--write-timeout=0s"}, nil, "--write-timeout"},
		{"negative duration", []string{"--metrics-staleness=-1s"}, nil, "--metrics-staleness"},
		{"bad size", []string{"--max-body-bytes=lots"}, nil, "max-body-bytes"},
		{"tiny body limit", []string{"--max-body-bytes=10"}, nil, "--max-body-bytes"},
		{"bad log level", []string{"--log-level=loud"}, nil, "--log-level"},
		{"bad log format", []string{"--log-format=xml"}, nil, "--log-format"},
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
