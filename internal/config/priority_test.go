package config

import (
	"io"
	"strings"
	"testing"
)

func TestParsePriorityFormat(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"the seed's bool by default", nil, nil, PriorityFormatBool},
		{"int by flag", []string{"--priority-format=int"}, nil, PriorityFormatInt},
		{"int from the environment", nil, map[string]string{"BSS_PRIORITY_FORMAT": "int"}, PriorityFormatInt},
		{"the flag wins over the environment", []string{"--priority-format=bool"}, map[string]string{"BSS_PRIORITY_FORMAT": "int"}, PriorityFormatBool},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if c.PriorityFormat != tt.want {
				t.Errorf("PriorityFormat = %q, want %q", c.PriorityFormat, tt.want)
			}
		})
	}
	if got := Default().PriorityFormat; got != PriorityFormatBool {
		t.Errorf("Default().PriorityFormat = %q, want %q", got, PriorityFormatBool)
	}
}

func TestParsePriorityFormatRejects(t *testing.T) {
	for _, v := range []string{"integer", "Int", "BOOL", "1", ""} {
		_, err := Parse([]string{"--priority-format=" + v}, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), `invalid --priority-format "`+v+`": must be bool`) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--priority-format=%s: error = %v, want one line naming the flag and its values", v, err)
		}
	}
}
