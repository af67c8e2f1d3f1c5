package app

import (
	"testing"

	"github.com/bss-api/bss-api/internal/config"
)

func TestHostCheckFollowsTheCredentials(t *testing.T) {
	open := config.Config{}
	insecure := config.Config{Security: config.Security{InsecureListenUnauthenticated: true}}
	guarded := config.Config{Security: config.Security{TokenAuthFile: "tokens.csv"}}
	if allowHost(guarded) != nil {
		t.Error("a server with credentials checks the Host; it needs no check")
	}
	cases := []struct {
		host           string
		open, insecure bool
	}{
		{"localhost", true, true},
		{"127.0.0.1", true, true},
		{"::1", true, true},
		{"10.0.0.5", false, true}, // reached by address on a network the operator opened it to
		{"fe80::1", false, true},
		{"node-1.example", false, false}, // a name can be rebound, even with the opt-out
		{"rebind.test", false, false},
	}
	for _, c := range cases {
		if got := allowHost(open)(c.host); got != c.open {
			t.Errorf("without credentials, Host %q allowed: %v, want %v", c.host, got, c.open)
		}
		if got := allowHost(insecure)(c.host); got != c.insecure {
			t.Errorf("with --insecure-listen-unauthenticated, Host %q allowed: %v, want %v", c.host, got, c.insecure)
		}
	}
}
