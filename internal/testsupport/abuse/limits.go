package abuse

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp/syntax"
	"strings"
	"sync"
	"time"
)

// Defaults of the cost model's limits (internal/config/limits.go) that the
// at-the-limits attack fills.
const (
	limitListItems         = 100
	limitRegexInstructions = 2000
	limitRegexTotal        = 100_000
	limitBody              = 1 << 20 // --max-body-bytes
)

// nearRegex returns a short expression whose program has a little under
// limitRegexInstructions instructions.
func nearRegex() string {
	best := "^x$"
	for n := 10; n <= 1000; n += 10 {
		expr := fmt.Sprintf("^x(?:ab){%d}$", n)
		re, err := syntax.Parse(expr, syntax.Perl)
		if err != nil {
			break
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil || len(prog.Inst) > limitRegexInstructions*85/100 {
			break
		}
		best = expr
	}
	return best
}

// atTheLimits stores one request's worth of strategies with every list at
// its limit and regexes up to the instruction total, then asks for 8
// previews of the same set and 8 explains at once.
func atTheLimits(ctx context.Context, t Target) (Outcome, error) {
	regex := nearRegex()
	var list []map[string]any
	size := 64
	for i := 0; ; i++ {
		ns, sel := make([]string, limitListItems), make([]map[string]string, limitListItems)
		for j := range ns {
			ns[j] = fmt.Sprintf("ns-%03d-%02d", i, j)
			sel[j] = map[string]string{"key": fmt.Sprintf("k%02d", j), "value": fmt.Sprintf("v%03d", i)}
		}
		st := map[string]any{"name": fmt.Sprintf("lim-%04d", i), "priority": true, "execution_time": 1_000_000,
			"namespaces": ns, "selectors": sel}
		if (i+1)*limitRegexInstructions*85/100 <= limitRegexTotal {
			st["command_regex"] = regex
		}
		b, _ := json.Marshal(st)
		if size+len(b)+1 > limitBody*95/100 {
			break
		}
		size += len(b) + 1
		list = append(list, st)
	}
	status, body, took, err := sendJSON(ctx, http.MethodPost, t.URL+"/api/v1/scheduling/strategies", map[string]any{"strategies": list})
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Notes: fmt.Sprintf("%d strategies (%d KB, %d with %s) stored: %d in %s", len(list), size>>10,
		min(len(list), limitRegexTotal/(limitRegexInstructions*85/100)), regex, status, took.Round(time.Millisecond))}
	if status != http.StatusOK {
		return out, fmt.Errorf("the set at the limits was refused: %d %s", status, short(body))
	}
	for _, s := range list {
		out.Strategies = append(out.Strategies, s["name"].(string))
	}
	previews, explains := &statusCounts{}, &statusCounts{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			status, _, _, _ := sendJSON(ctx, http.MethodPost, t.URL+"/api/v1/scheduling/strategies/preview", map[string]any{"strategies": list})
			previews.add(status)
		})
		wg.Go(func() {
			status, _, _, _ := sendJSON(ctx, http.MethodGet, t.URL+"/api/v1/scheduling/strategies/explain", nil)
			explains.add(status)
		})
	}
	wg.Wait()
	out.Notes += fmt.Sprintf("; 16 previews at once:%s; 16 explains:%s", strings.TrimSpace(previews.String()), explains)
	return out, nil
}
