package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bss-api/bss-api/internal/testsupport/testenv"
)

// readmeRow matches a row of the README's endpoint table: | GET | `/path` | purpose |
var readmeRow = regexp.MustCompile("^\\| (GET|POST|PUT|DELETE|PATCH) \\| `([^`]+)` \\|")

// TestREADMEEndpointTableMatchesRoutes holds the README's endpoint table to
// the routes the server serves (GET / lists them from the route table), so
// neither can change without the other.
func TestREADMEEndpointTableMatchesRoutes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if m := readmeRow.FindStringSubmatch(line); m != nil {
			documented = append(documented, m[1]+" "+m[2])
		}
	}

	srv := startServer(t, nil)
	res := srv.API.Get(t, "/")
	var info struct {
		Endpoints []struct{ Method, Path string }
	}
	if err := json.Unmarshal(res.Body, &info); err != nil {
		t.Fatalf("GET / = %s: %v", res.Body, err)
	}
	var served []string
	for _, e := range info.Endpoints {
		served = append(served, e.Method+" "+e.Path)
	}

	slices.Sort(documented)
	slices.Sort(served)
	for _, s := range served {
		if _, found := slices.BinarySearch(documented, s); !found {
			t.Errorf("README's endpoint table lacks %s", s)
		}
	}
	for _, d := range documented {
		if _, found := slices.BinarySearch(served, d); !found {
			t.Errorf("README's endpoint table lists %s, which the server does not serve", d)
		}
	}
	if len(served) == 0 {
		t.Fatal("GET / listed no endpoints")
	}
}
