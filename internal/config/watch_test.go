package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseWatch(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want time.Duration
	}{
		{nil, nil, 5 * time.Minute},
		{[]string{"--watch-max-wait=30s"}, nil, 30 * time.Second},
		{nil, map[string]string{"BSS_WATCH_MAX_WAIT": "1h"}, time.Hour},
	} {
		c, err := Parse(tt.args, env(tt.env), io.Discard)
		if err != nil {
			t.Fatalf("Parse(%q, %v): %v", tt.args, tt.env, err)
		}
		if c.WatchMaxWait != tt.want {
			t.Errorf("Parse(%q, %v).WatchMaxWait = %v, want %v", tt.args, tt.env, c.WatchMaxWait, tt.want)
		}
	}
}

func TestParseRejectsWatch(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--watch-max-wait=500ms"}, "invalid --watch-max-wait 500ms: must be from 1s to 1h0m0s"},
		{[]string{"--watch-max-wait=2h"}, "invalid --watch-max-wait 2h0m0s"},
		{[]string{"--watch-max-wait=soon"}, "watch-max-wait"},
	} {
		if _, err := Parse(tt.args, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", tt.args, err, tt.want)
		}
	}
}
