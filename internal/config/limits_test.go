package config

import (
	"io"
	"strings"
	"testing"
)

func TestParseLimits(t *testing.T) {
	c, err := Parse(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits != defaultLimits() {
		t.Errorf("default limits = %+v, want %+v", c.Limits, defaultLimits())
	}
	c, err = Parse([]string{"--max-strategies-bytes=8MiB", "--max-strategy-list-items=500", "--max-regex-bytes=4096",
		"--max-regex-instructions=8000", "--max-concurrent-previews=4"}, env(map[string]string{"BSS_MAX_REGEX_INSTRUCTIONS_TOTAL": "400000"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{MaxStrategiesBytes: 8 << 20, MaxStrategyListItems: 500, MaxRegexBytes: 4096, MaxRegexInstructions: 8000,
		MaxRegexInstructionsTotal: 400_000, MaxConcurrentPreviews: 4}
	if c.Limits != want {
		t.Errorf("limits = %+v, want %+v", c.Limits, want)
	}
}

func TestParseRejectsLimits(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-strategies-bytes=1KiB"}, "invalid --max-strategies-bytes 1024: must be from 65536 to"},
		{[]string{"--max-strategies-bytes=lots"}, "max-strategies-bytes"},
		{[]string{"--max-strategy-list-items=0"}, "invalid --max-strategy-list-items 0"},
		{[]string{"--max-regex-bytes=100000"}, "invalid --max-regex-bytes 100000: must be from 16 to 32768"},
		{[]string{"--max-regex-instructions=5"}, "invalid --max-regex-instructions 5"},
		{[]string{"--max-regex-instructions=5000", "--max-regex-instructions-total=4000"}, "invalid --max-regex-instructions-total 4000: must be from 5000"},
		{[]string{"--max-concurrent-previews=0"}, "invalid --max-concurrent-previews 0"},
	} {
		if _, err := Parse(tt.args, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", tt.args, err, tt.want)
		}
	}
}
