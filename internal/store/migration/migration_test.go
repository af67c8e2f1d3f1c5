package migration

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	ms, err := Load(fstest.MapFS{
		"m/0002_b.sql": {Data: []byte("B")},
		"m/0001_a.sql": {Data: []byte("A")},
		"m/README":     {Data: []byte("ignored")},
	}, "m")
	if err != nil || len(ms) != 2 || ms[0].SQL != "A" || ms[1].Version != 2 {
		t.Fatalf("Load = %+v, %v", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":     {"0001_a.sql": {}, "0003_c.sql": {}},
		"no num":  {"a.sql": {}},
		"not num": {"x_a.sql": {}},
	} {
		if _, err := Load(fsys, "."); err == nil {
			t.Errorf("%s: Load accepted %v", name, fsys)
		}
	}
	if err := Newer(9, 2); !strings.Contains(err.Error(), "newer than this bss-api") {
		t.Errorf("Newer = %v", err)
	}
}
