package config

import (
	"io"
	"strings"
	"testing"
)

func TestParseSource(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want Source
	}{
		{nil, nil, Source{StrategySourceStore, "default", "bss-api-strategy-status"}},
		{[]string{"--strategy-source=kubernetes", "--strategy-status-lease-namespace=bss-system"}, nil,
			Source{StrategySourceKubernetes, "bss-system", "bss-api-strategy-status"}},
		{nil, map[string]string{"BSS_STRATEGY_SOURCE": "kubernetes", "BSS_STRATEGY_STATUS_LEASE_NAME": "x.y"},
			Source{StrategySourceKubernetes, "default", "x.y"}},
	} {
		c, err := Parse(tt.args, env(tt.env), io.Discard)
		if err != nil {
			t.Fatalf("Parse(%q, %v): %v", tt.args, tt.env, err)
		}
		if c.Source != tt.want {
			t.Errorf("Parse(%q, %v).Source = %+v, want %+v", tt.args, tt.env, c.Source, tt.want)
		}
	}
}

func TestParseRejectsSource(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--strategy-source=etcd"}, `invalid --strategy-source "etcd": must be store or kubernetes`},
		{[]string{"--strategy-source=kubernetes", "--kube-mode=off"}, "--strategy-source=kubernetes needs a Kubernetes API server, not --kube-mode=off"},
		{[]string{"--strategy-source=kubernetes", "--kube-mode=mock"}, "not --kube-mode=mock"},
		{[]string{"--strategy-source=kubernetes", "--strategy-status-lease-namespace=A_B"}, "invalid --strategy-status-lease-namespace"},
		{[]string{"--strategy-source=kubernetes", "--strategy-status-lease-name=-x"}, "invalid --strategy-status-lease-name"},
	} {
		if _, err := Parse(tt.args, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", tt.args, err, tt.want)
		}
	}
}
