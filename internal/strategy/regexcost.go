package strategy

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"unsafe"
)

// A regular expression costs what its compiled program holds: memory in
// every compiled copy (the resolver's, and each preview's) and time in
// every match. Its size is counted in instructions, as regexp/syntax
// compiles it, plus one per runesPerInstruction runes of character-class
// ranges (a class such as \pL is one instruction holding 1,318 runes, the
// bounds of its 659 ranges).
// Its length in bytes says little: the 21 bytes (?:(?:a{10}){10}){10}
// compile to 1,222 instructions.
const runesPerInstruction = 16

// precheckFactor bounds the compiling done to measure a program: an
// expression whose size, estimated from its parse tree, is over
// precheckFactor times the limit is refused without being compiled. The
// estimate is at least the size, and at most about twice it.
const precheckFactor = 2

// saturated caps the estimate, whose repetitions multiply.
const saturated = 1 << 40

// regexSize returns the size of expr's program (see runesPerInstruction),
// or a problem: expr does not compile, or its program is larger than
// maxSize, in which case size is only known to be over it. Its cost is
// parsing expr and, when the estimate allows, compiling it once.
func regexSize(expr string, maxSize int) (size int, problem string) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		// The regexp package's wording, which names the expression.
		_, err = regexp.Compile(expr)
		return 0, err.Error()
	}
	if est := estimateSize(re); est > int64(maxSize)*precheckFactor {
		return maxSize + 1, fmt.Sprintf("compiles to at least %d instructions, at most %d allowed (%s)",
			est/precheckFactor, maxSize, FlagRegexInstructions)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, err.Error()
	}
	size = programSize(prog)
	if size > maxSize {
		return size, fmt.Sprintf("compiles to %d instructions, at most %d allowed (%s)", size, maxSize, FlagRegexInstructions)
	}
	return size, ""
}

// programSize is the size of prog: its instructions, and its distinct
// rune slices (the compiler shares a class between the copies a
// repetition makes).
func programSize(prog *syntax.Prog) int {
	runes := 0
	seen := map[*rune]bool{}
	for i := range prog.Inst {
		r := prog.Inst[i].Rune
		if len(r) < 2 { // a literal's rune is counted in its instruction
			continue
		}
		if p := unsafe.SliceData(r); !seen[p] {
			seen[p] = true
			runes += len(r)
		}
	}
	return len(prog.Inst) + runes/runesPerInstruction
}

// estimateSize returns an upper bound of the size of the program re
// compiles to once simplified, without simplifying or compiling it (which
// multiply repetitions out): the instructions regexp/syntax emits for
// each operator, repetitions counted as Simplify writes them out.
func estimateSize(re *syntax.Regexp) int64 {
	inst, _ := estimateInst(re)
	// The compiler's first instruction (fail) and last (match).
	return add(add(inst, 2), estimateRunes(re)/runesPerInstruction)
}

// estimateInst returns the instructions re compiles to at most, and
// whether it may match the empty string.
func estimateInst(re *syntax.Regexp) (inst int64, nullable bool) {
	switch re.Op {
	case syntax.OpNoMatch:
		return 0, false
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return 1, true
	case syntax.OpLiteral:
		return max(int64(len(re.Rune)), 1), len(re.Rune) == 0
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1, false
	case syntax.OpCapture:
		sub, n := estimateInst(re.Sub[0])
		return add(sub, 2), n
	case syntax.OpStar:
		sub, n := estimateInst(re.Sub[0])
		if n { // compiled as (x+)?
			return add(sub, 2), true
		}
		return add(sub, 1), true
	case syntax.OpPlus:
		sub, n := estimateInst(re.Sub[0])
		return add(sub, 1), n
	case syntax.OpQuest:
		sub, _ := estimateInst(re.Sub[0])
		return add(sub, 1), true
	case syntax.OpConcat:
		if len(re.Sub) == 0 {
			return 1, true
		}
		nullable = true
		for _, s := range re.Sub {
			i, n := estimateInst(s)
			inst, nullable = add(inst, i), nullable && n
		}
		return inst, nullable
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			i, n := estimateInst(s)
			inst, nullable = add(inst, i), nullable || n
		}
		return add(inst, int64(len(re.Sub)-1)), nullable
	case syntax.OpRepeat:
		return estimateRepeat(re)
	}
	return 1, true // no other operator exists; count it as one
}

// estimateRepeat is estimateInst for x{min,max}, as Simplify writes it
// out: min copies of x, then x+ (no max), or max-min nested (x…)?.
func estimateRepeat(re *syntax.Regexp) (int64, bool) {
	if re.Min == 0 && re.Max == 0 {
		return 1, true
	}
	sub, n := estimateInst(re.Sub[0])
	copies, extra := int64(re.Min), int64(0)
	switch {
	case re.Max == -1 && re.Min == 0: // x*
		copies, extra = 1, 2
	case re.Max == -1: // x^(min-1) x+
		extra = 1
	case re.Max > re.Min: // x^min (x(x…)?)?
		copies, extra = int64(re.Max), int64(re.Max-re.Min)
	}
	return add(mul(sub, copies), extra), n || re.Min == 0
}

// estimateRunes counts the runes of re's classes, each once: the copies
// of a repetition share them.
func estimateRunes(re *syntax.Regexp) int64 {
	var n int64
	switch re.Op {
	case syntax.OpCharClass:
		n = int64(len(re.Rune))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		n = 4
	case syntax.OpRepeat:
		if re.Max == 0 { // x{0} is simplified away
			return 0
		}
	}
	for _, s := range re.Sub {
		n = add(n, estimateRunes(s))
	}
	return n
}

func add(a, b int64) int64 { return min(a+b, saturated) }

func mul(a, b int64) int64 {
	if a != 0 && b > saturated/a {
		return saturated
	}
	return min(a*b, saturated)
}
