package dwarfinfo

import (
	"fmt"
	"strings"
)

// The GCC 12 rules. Sources, cited per option below:
//
//   - [manual] GCC 12 manual, "Options That Control Optimization"
//     (gcc/doc/invoke.texi; https://gcc.gnu.org/onlinedocs/gcc-12.2.0/gcc/Optimize-Options.html):
//     which -O level enables each option, the -flive-patching lists.
//   - [opts.cc] gcc/opts.cc default_options_table (the same levels) and
//     control_options_for_live_patching (the -flive-patching lists).
//   - [toplev.cc] gcc/toplev.cc process_options: "Do not use IPA
//     optimizations for register allocation if profiler is active or
//     patchable function entries are inserted for run-time instrumentation
//     or port does not emit prologue and epilogue as RTL":
//     if (profile_flag || patch_area_size || ...) flag_ipa_ra = 0.
//
// The level table is what `gcc -Q --help=optimizers -O<level>` prints with
// GCC 12.2; where the manual and the compiler differ the compiler wins and
// the difference is noted. TestOptionsMatchGCC checks the table against
// the installed gcc, and TestIPARACodegen checks the process_options
// adjustments, which -Q does not show, against generated code.

// levels is a set of -O levels.
type levels uint16

const (
	l0 levels = 1 << iota
	l1
	lg
	l2
	l3
	ls
	lz
	lfast
)

const (
	lAll     = l0 | l1 | lg | l2 | l3 | ls | lz | lfast
	l1Plus   = l1 | lg | l2 | l3 | ls | lz | lfast
	l1NotOg  = l1 | l2 | l3 | ls | lz | lfast
	l2Plus   = l2 | l3 | ls | lz | lfast
	l3Plus   = l3 | lfast
	noLevels = levels(0)
)

func levelBit(l string) levels {
	switch l {
	case "0":
		return l0
	case "1":
		return l1
	case "g":
		return lg
	case "2":
		return l2
	case "3":
		return l3
	case "s":
		return ls
	case "z":
		return lz
	case "fast":
		return lfast
	}
	return 0
}

// levelDefaults: the -O levels at which GCC 12 enables each modelled -f
// option.
var levelDefaults = map[string]levels{
	// [manual] -finline: "Default setting"; -fno-inline "is the default
	// when not optimizing". -Q: enabled at every level but -O0.
	"inline": l1Plus,
	// [manual] "Enabled at levels -O1, -O2, -O3 and -Os, but not -Og."
	"inline-functions-called-once": l1NotOg,
	// [manual] "Enabled at levels -O2, -O3, -Os."
	"inline-small-functions": l2Plus,
	// [manual] "Enabled at levels -O2, -O3, -Os."
	"inline-functions": l2Plus,
	// [manual] "Enabled at levels -O2, -O3, -Os." (ipa-split)
	"partial-inlining": l2Plus,
	// [manual] "Enabled at levels -O2, -O3, -Os."
	"optimize-sibling-calls": l2Plus,
	// [manual] "enabled by default at -O2, -Os and -O3."
	"ipa-cp": l2Plus,
	// [manual] "enabled by default at -O3."
	"ipa-cp-clone": l3Plus,
	// [manual] "enabled by default at -O2"; "requires that -fipa-cp is enabled."
	"ipa-bit-cp": l2Plus,
	// [manual] "enabled by default at -O2. It requires that -fipa-cp is enabled."
	"ipa-vrp": l2Plus,
	// [manual] "Enabled at levels -O2, -O3 and -Os."
	"ipa-sra": l2Plus,
	// [manual] "enabled by default at -O2 and -Os." (and -O3: -Q)
	"ipa-icf": l2Plus,
	// [manual] "Enabled at levels -O2, -O3, -Os, however the option is
	// disabled if generated code will be instrumented for profiling (-p,
	// or -pg)"; see also [toplev.cc].
	"ipa-ra": l2Plus,
	// [manual] "Enabled by default at -O1 and higher." -Q: also at -Og.
	"ipa-pure-const": l1Plus,
	// [manual] "Enabled by default at -O1 and higher." -Q: also at -Og.
	"ipa-reference": l1Plus,
	// [manual] "Enabled by default at -O1 and higher." -Q: also at -Og.
	"ipa-reference-addressable": l1Plus,
	// [manual] "enabled by default at -O1 and higher." -Q: NOT at -Og,
	// although the manual's -Og list does not exclude it
	// (opts.cc: OPT_LEVELS_1_PLUS_NOT_DEBUG).
	"ipa-modref": l1NotOg,
	// [manual] "Reduce stack alignment on call sites if possible.
	// Enabled by default." -Q: enabled at every level, -O0 included.
	"ipa-stack-alignment": lAll,
	// [manual] "It is not enabled by default at any optimization level."
	"ipa-pta": noLevels,
}

// followers are options whose default is another option's state
// (-Q: -fno-ipa-icf turns off -fipa-icf-functions and -variables unless
// they are given themselves).
var followers = map[string]string{
	"ipa-icf-functions": "ipa-icf",
	"ipa-icf-variables": "ipa-icf",
}

// livePatchingOff lists what each -flive-patching level turns off
// ([manual], [opts.cc] control_options_for_live_patching). GCC rejects an
// explicit -f switch that contradicts it, so no object has both.
var livePatchingOff = map[string][]string{
	// "-flive-patching=inline-clone disables the following optimization
	// flags: -fwhole-program -fipa-pta -fipa-reference -fipa-ra -fipa-icf
	// -fipa-icf-functions -fipa-icf-variables -fipa-bit-cp -fipa-vrp
	// -fipa-pure-const -fipa-reference-addressable -fipa-stack-alignment
	// -fipa-modref"
	"inline-clone": {"whole-program", "ipa-pta", "ipa-reference", "ipa-ra", "ipa-icf", "ipa-icf-functions",
		"ipa-icf-variables", "ipa-bit-cp", "ipa-vrp", "ipa-pure-const", "ipa-reference-addressable",
		"ipa-stack-alignment", "ipa-modref"},
	// "In addition to all the flags that -flive-patching=inline-clone
	// disables, -flive-patching=inline-only-static disables the following
	// additional optimization flags: -fipa-cp-clone -fipa-sra
	// -fpartial-inlining -fipa-cp"
	"inline-only-static": {"whole-program", "ipa-pta", "ipa-reference", "ipa-ra", "ipa-icf", "ipa-icf-functions",
		"ipa-icf-variables", "ipa-bit-cp", "ipa-vrp", "ipa-pure-const", "ipa-reference-addressable",
		"ipa-stack-alignment", "ipa-modref", "ipa-cp-clone", "ipa-sra", "partial-inlining", "ipa-cp"},
}

// ModelledOptions are the -f options whose state Option derives, in a
// fixed order.
var ModelledOptions = []string{
	"inline", "inline-functions-called-once", "inline-small-functions", "inline-functions",
	"partial-inlining", "optimize-sibling-calls", "ipa-cp", "ipa-cp-clone", "ipa-bit-cp", "ipa-vrp",
	"ipa-sra", "ipa-icf", "ipa-icf-functions", "ipa-icf-variables", "ipa-ra", "ipa-pure-const",
	"ipa-reference", "ipa-reference-addressable", "ipa-modref", "ipa-stack-alignment", "ipa-pta",
}

// Option returns the state of -f<name> after GCC 12's option processing
// (the -O level's defaults, explicit -f/-fno- switches, -flive-patching):
// what `gcc -Q --help=optimizers` prints for the same switches. It does not
// apply the later adjustments of process_options (see Analyses) nor the
// fact that GCC runs no IPA pass at -O0. why says which rule decided.
// Options outside ModelledOptions are reported off.
func (f Flags) Option(name string) (on bool, why string) {
	if lp := f.LivePatching; lp != "" {
		for _, n := range livePatchingOff[lp] {
			if n == name {
				return false, "disabled by -flive-patching=" + lp
			}
		}
	}
	if v, ok := f.F[name]; ok {
		if v {
			return true, "-f" + name + " given"
		}
		return false, "-fno-" + name + " given"
	}
	if leader, ok := followers[name]; ok {
		on, why := f.Option(leader)
		return on, "follows -f" + leader + ": " + why
	}
	lv, ok := levelDefaults[name]
	if !ok {
		return false, "not modelled"
	}
	if lv&levelBit(f.level()) != 0 {
		return true, "enabled at " + f.OptLevel()
	}
	if lv == noLevels {
		return false, "enabled at no -O level"
	}
	return false, "not enabled at " + f.OptLevel()
}

// Analysis is one inter-procedural optimisation and whether it was live
// in a unit.
type Analysis struct {
	// Name is GCC's name for it: "ipa-ra", "ipa-pure-const", "inlining".
	Name string
	// Live reports whether GCC may have applied it. Unknown counts as
	// live.
	Live bool
	// Why gives the rule that decided Live ("enabled at -O2",
	// "disabled by -pg: ...", "unknown compiler (clang 14.0.6): assuming live").
	Why string
	// InDump reports whether each function it copies leaves a line in the
	// ipa-clones dump (inlining, IPA-CP, IPA-SRA, ipa-split), so klp-audit
	// impacted follows it. The others are caller-visible assumptions that
	// no dump records.
	InDump bool
	// Meaning says, in livepatch terms, what it means when live.
	Meaning string
}

// analysisInfo is the fixed part of each Analysis.
type analysisInfo struct {
	name    string
	inDump  bool
	meaning string
}

// analyses are the analyses Analyses reports, in its order.
var analyses = []analysisInfo{
	{"inlining", true, "callee bodies are copied into their callers; the dump records each copy (klp-audit impacted lists the callers to replace)"},
	{"ipa-cp", true, "constprop clones specialised for constant arguments (foo.constprop.0, another ABI); the dump records them"},
	{"ipa-sra", true, "isra clones with rewritten signatures (unused parameters dropped, pointers passed by value); the dump records them"},
	{"ipa-split", true, "partial inlining: the head of a function inlined into callers, the tail left in foo.part.N; the dump records both"},
	{"ipa-ra", false, "callers may keep values in call-clobbered registers across calls: patching a callee needs its callers checked, or a replacement that uses more registers corrupts them"},
	{"ipa-pure-const", false, "calls to a function found pure/const (or nothrow, noreturn) may be merged, moved or dropped by callers: a replacement that adds side effects must ship with its callers"},
	{"ipa-modref", false, "callers assume memory a callee does not read or write survives the call without reloading it: a replacement that touches more memory must ship with its callers"},
	{"ipa-reference", false, "callers assume static variables a callee does not touch keep their values across the call: a replacement that reads or writes other statics must ship with its callers"},
	{"ipa-vrp", false, "value ranges of arguments, proven over all call sites, are built into the callee: a replacement caller passing other values needs the callee replaced too"},
	{"ipa-bit-cp", false, "known bits of arguments (alignment, zero bits), proven over all call sites, are built into the callee: a replacement caller passing other values needs the callee replaced too"},
	{"ipa-icf", false, "identical functions may be folded into one body (several symbols, one address) or one turned into a call of the other: replacing one replaces all"},
	{"ipa-stack-alignment", false, "callers may skip stack realignment for callees known to need less: a replacement needing more stack alignment breaks its callers"},
	{"ipa-pta", false, "points-to facts are propagated across functions: callers and callees rely on each other's pointer use"},
}

// AnalysisNames returns the names of the analyses Analyses reports, in
// its order.
func AnalysisNames() []string {
	out := make([]string, len(analyses))
	for i, a := range analyses {
		out[i] = a.name
	}
	return out
}

// Meaning returns what a live analysis means for a livepatch author, or
// "" for a name AnalysisNames does not list.
func Meaning(name string) string {
	for _, a := range analyses {
		if a.name == name {
			return a.meaning
		}
	}
	return ""
}

// Analyses returns every inter-procedural analysis klp-audit knows, in a
// fixed order, each with whether it was live in a unit compiled with f and
// why. It applies GCC 12's rules (see Option) plus what process_options
// does afterwards: -p/-pg and -fpatchable-function-entry=N (N > 0) turn
// -fipa-ra off. A producer it cannot interpret (clang, no recorded
// switches, an unknown compiler) gives every analysis live: missing
// evidence is never a clean bill.
func (f Flags) Analyses() []Analysis {
	out := make([]Analysis, len(analyses))
	for i, a := range analyses {
		out[i] = Analysis{Name: a.name, InDump: a.inDump, Meaning: a.meaning}
	}
	assume := func(why string) []Analysis {
		for i := range out {
			out[i].Live, out[i].Why = true, why
		}
		return out
	}
	switch {
	case f.Compiler == Assembler:
		for i := range out {
			out[i].Why = "assembler source (" + f.describe() + "): not compiled, no compiler optimisation"
		}
		return out
	case f.Compiler == Clang:
		return assume("unknown compiler (" + f.describe() + "): assuming live")
	case f.Compiler == UnknownCompiler:
		return assume("unknown compiler or no DW_AT_producer: assuming live")
	case !f.Recorded:
		return assume("no switches recorded in DW_AT_producer (-gno-record-gcc-switches?): assuming live")
	}
	for i := range out {
		out[i].Live, out[i].Why = f.analysis(out[i].Name)
		if out[i].Live && f.LTO && out[i].Name != "ipa-ra" {
			out[i].Why += "; with -flto it runs over the whole program at link time, across translation units"
		}
	}
	return out
}

// LiveAnalyses returns the names of the live analyses of Analyses.
func (f Flags) LiveAnalyses() []string {
	var out []string
	for _, a := range f.Analyses() {
		if a.Live {
			out = append(out, a.Name)
		}
	}
	return out
}

func (f Flags) describe() string {
	s := f.Compiler.String()
	if f.Version != "" {
		s += " " + f.Version
	}
	return s
}

// analysis decides one analysis of a GCC unit whose switches are known.
func (f Flags) analysis(name string) (bool, string) {
	o0 := f.level() == "0"
	// gate applies the -O0 rule: GCC runs no IPA pass without
	// optimisation, but documents that only as "most optimizations are
	// completely disabled at -O0 ... even if individual optimization
	// flags are specified", so an explicit switch at -O0 is assumed live.
	gate := func(on bool, why string) (bool, string) {
		if on && o0 {
			return true, why + " at -O0, where GCC disables most optimizations: assumed live"
		}
		return on, why
	}
	switch name {
	case "inlining":
		switch {
		case o0:
			return true, "only always_inline functions (-O0)"
		case f.LivePatching == "inline-only-static":
			return true, "only static functions (-flive-patching=inline-only-static)"
		}
		if on, why := f.Option("inline"); !on {
			return true, "only always_inline functions (" + why + ")"
		}
		var scope []string
		if on, _ := f.Option("inline-small-functions"); on {
			scope = append(scope, "-finline-small-functions")
		}
		if on, _ := f.Option("inline-functions"); on {
			scope = append(scope, "-finline-functions")
		}
		if on, _ := f.Option("inline-functions-called-once"); on {
			scope = append(scope, "-finline-functions-called-once")
		}
		if len(scope) == 0 {
			return true, "functions declared inline and always_inline (" + f.OptLevel() + ")"
		}
		return true, "any function the heuristics choose (" + strings.Join(scope, ", ") + ")"
	case "ipa-cp":
		on, why := f.Option("ipa-cp")
		if on {
			if c, _ := f.Option("ipa-cp-clone"); c {
				why += ", with -fipa-cp-clone (clones of externally visible functions too)"
			}
		}
		return gate(on, "-fipa-cp "+why)
	case "ipa-sra":
		on, why := f.Option("ipa-sra")
		return gate(on, "-fipa-sra "+why)
	case "ipa-split":
		on, why := f.Option("partial-inlining")
		if !on {
			return false, "-fpartial-inlining " + why
		}
		small, _ := f.Option("inline-small-functions")
		fns, _ := f.Option("inline-functions")
		if !small && !fns {
			// [manual] -fpartial-inlining: "This option has any effect
			// only when inlining itself is turned on by the
			// -finline-functions or -finline-small-functions options."
			return false, "-fpartial-inlining " + why + " but has no effect without -finline-functions or -finline-small-functions"
		}
		return gate(true, "-fpartial-inlining "+why)
	case "ipa-ra":
		on, why := f.Option("ipa-ra")
		if !on {
			return false, "-fipa-ra " + why
		}
		if f.Profile {
			return false, "-fipa-ra " + why + " but turned off by -pg/-p: GCC does not use IPA-RA when the profiler is active (toplev.cc process_options; GCC manual on -fipa-ra)"
		}
		if n := f.PatchableEntrySize(); n > 0 {
			return false, fmt.Sprintf("-fipa-ra %s but turned off by -fpatchable-function-entry=%s: GCC does not use IPA-RA when patchable function entries are inserted (toplev.cc process_options)", why, f.PatchableEntry)
		}
		return gate(true, "-fipa-ra "+why)
	case "ipa-pure-const", "ipa-modref", "ipa-pta", "ipa-stack-alignment":
		on, why := f.Option(name)
		return gate(on, "-f"+name+" "+why)
	case "ipa-reference":
		ref, rwhy := f.Option("ipa-reference")
		addr, awhy := f.Option("ipa-reference-addressable")
		why := "-fipa-reference " + rwhy + ", -fipa-reference-addressable " + awhy
		return gate(ref || addr, why)
	case "ipa-vrp", "ipa-bit-cp":
		on, why := f.Option(name)
		why = "-f" + name + " " + why
		if on {
			if cp, _ := f.Option("ipa-cp"); !cp {
				// [manual] "It requires that -fipa-cp is enabled."
				return false, why + " but needs -fipa-cp, which is off"
			}
		}
		return gate(on, why)
	case "ipa-icf":
		on, why := f.Option("ipa-icf-functions")
		return gate(on, "-fipa-icf-functions "+why)
	}
	return true, "unknown analysis: assuming live"
}
