package strategy

import (
	"regexp/syntax"
	"strings"
	"testing"
)

// exactSize compiles expr as the regexp package does and measures it.
func exactSize(t testing.TB, expr string) (int, int64, bool) {
	t.Helper()
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 0, 0, false
	}
	est := estimateSize(re)
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		t.Fatalf("compile %q: %v", expr, err)
	}
	return programSize(prog), est, true
}

// regexCorpus is command regexes as operators write them, and shapes
// that stress the estimate.
var regexCorpus = []string{
	`^upf$`, `^(nginx|envoy|java)$`, `.*foo.*`, `(?i)^(kube-apiserver|etcd|containerd|kubelet|coredns)$`,
	`^python3?$`, `^worker-[0-9]+$`, `[\pL\pN_-]+`, `\pL{100}`, `^$`, ``, `a*`, `(?:a*)*`, `(?:)*`, `(?:a|)*`,
	`(a)(b)(c)`, `a{2,}`, `a{0,5}`, `(?:ab){3,7}`, `(?:a?){10}`, `(?:a*){10}`, `\b\B^$\A\z`, `[^\x00-\x{10FFFF}]`,
	`(?:[^\x00-\x{10FFFF}])*`, `(?:[^\x00-\x{10FFFF}]){5}`, `(?s).`, `.`, `x{0}`, `(?:x{0}){3}`, `(?U)a+?b*?`,
	`(?:(?:a{10}){10}){10}`, strings.Repeat(`(?:(?:a{10}){10}){10}`, 3), `a{1000}`, `(?:a|bc|def){20,40}`,
	`(?:(?:)|a){4}`, `(?i)ſ`, `\Q.*+\E`, strings.Repeat(`\pL`, 20), `(?:[a-z]{1,3}\.){3}[a-z]+`,
}

// TestEstimateBoundsTheSize: the estimate is never below the size (so an
// expression it lets through is never larger than measured) and at most
// precheckFactor times it (so one refused by it is really over the limit).
func TestEstimateBoundsTheSize(t *testing.T) {
	for _, expr := range regexCorpus {
		size, est, ok := exactSize(t, expr)
		if !ok {
			t.Fatalf("%q does not parse", expr)
		}
		if est < int64(size) || est > precheckFactor*int64(size) {
			t.Errorf("%q: estimate %d, size %d; want size ≤ estimate ≤ %d×size", expr, est, size, precheckFactor)
		}
	}
}

func FuzzEstimateBoundsTheSize(f *testing.F) {
	for _, expr := range regexCorpus {
		f.Add(expr)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		if len(expr) > 64 {
			return // the estimate exists to avoid compiling large programs
		}
		re, err := syntax.Parse(expr, syntax.Perl)
		if err != nil {
			return
		}
		if estimateSize(re) > 100_000 {
			return
		}
		size, est, _ := exactSize(t, expr)
		if est < int64(size) || est > precheckFactor*int64(size) {
			t.Fatalf("%q: estimate %d, size %d; want size ≤ estimate ≤ %d×size", expr, est, size, precheckFactor)
		}
	})
}

func TestRegexSize(t *testing.T) {
	attack := strings.Repeat(`(?:(?:a{10}){10}){10}`, 43)
	tests := []struct {
		expr    string
		max     int
		want    int // 0: any
		problem string
	}{
		{`^upf$`, 2000, 0, ""},
		{`^(nginx|envoy|java)$`, 2000, 0, ""},
		{strings.Repeat("a", 1000), 2000, 1002, ""},
		{`a{1000}a{999}`, 2000, 0, "compiles to 2001 instructions, at most 2000 allowed (--max-regex-instructions)"},
		{attack, 2000, 0, "compiles to at least"},
		{strings.Repeat(`\pL`, 341), 2000, 0, "at most 2000 allowed"},
		{`(`, 2000, 0, "error parsing regexp: missing closing )"},
		{`(?<`, 2000, 0, "error parsing regexp"},
	}
	for _, tt := range tests {
		size, problem := regexSize(tt.expr, tt.max)
		if !strings.Contains(problem, tt.problem) || (tt.problem == "") != (problem == "") {
			t.Errorf("regexSize(%.30q) problem %q, want %q", tt.expr, problem, tt.problem)
		}
		if tt.want != 0 && size != tt.want {
			t.Errorf("regexSize(%.30q) = %d, want %d", tt.expr, size, tt.want)
		}
		if tt.problem != "" && !strings.HasPrefix(tt.problem, "error") && size <= tt.max {
			t.Errorf("regexSize(%.30q) = %d for an expression over %d", tt.expr, size, tt.max)
		}
	}
}

// BenchmarkRegexSizeAttack measures refusing the attack's expression: it
// must cost a parse, not the megabytes of its program.
func BenchmarkRegexSizeAttack(b *testing.B) {
	attack := strings.Repeat(`(?:(?:a{10}){10}){10}`, 43)
	b.ReportAllocs()
	for b.Loop() {
		if _, p := regexSize(attack, 2000); p == "" {
			b.Fatal("accepted")
		}
	}
}
