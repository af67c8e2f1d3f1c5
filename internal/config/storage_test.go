package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestStorageFlags(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want time.Duration
	}{
		{"default", nil, nil, time.Minute},
		{"flag", []string{"--retention-interval=50ms"}, nil, 50 * time.Millisecond},
		{"environment", nil, map[string]string{"BSS_RETENTION_INTERVAL": "5m"}, 5 * time.Minute},
	} {
		c, err := Parse(tt.args, env(tt.env), io.Discard)
		if err != nil || c.RetentionInterval != tt.want {
			t.Errorf("%s: RetentionInterval = %v, %v; want %v", tt.name, c.RetentionInterval, err, tt.want)
		}
	}
	for _, bad := range []string{"--retention-interval=1ms", "--retention-interval=0s", "--retention-interval=-1m"} {
		if _, err := Parse([]string{bad}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "--retention-interval") {
			t.Errorf("%s: error %v, want one naming --retention-interval", bad, err)
		}
	}
}
