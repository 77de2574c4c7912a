package dwarfinfo

import (
	"sort"
	"strconv"
	"strings"
)

// Compiler says which tool produced a compilation unit.
type Compiler uint8

const (
	// UnknownCompiler is a producer klp-audit does not recognise; its
	// flags cannot be interpreted, so every analysis is assumed live.
	UnknownCompiler Compiler = iota
	// GCC is a unit compiled by GCC from source ("GNU C11 12.2.0 ...").
	GCC
	// GCCLTO is an LTO partition compiled by GCC at link time ("GNU GIMPLE
	// 12.2.0 ... -fltrans"): its IPA decisions span translation units.
	GCCLTO
	// Clang is a unit compiled by clang ("Debian clang version 14.0.6").
	Clang
	// Assembler is a unit assembled from hand-written assembly ("GNU AS
	// 2.40"): no compiler optimisation applies.
	Assembler
)

func (c Compiler) String() string {
	switch c {
	case GCC:
		return "gcc"
	case GCCLTO:
		return "gcc-lto"
	case Clang:
		return "clang"
	case Assembler:
		return "as"
	}
	return "unknown"
}

// Flags are the compile switches of one unit that matter to a livepatch,
// as recorded in its DW_AT_producer. Where a switch appears several times
// the last one wins, as on GCC's command line.
type Flags struct {
	Compiler Compiler
	// Language is the front end GCC names ("C11", "C++17", "GIMPLE",
	// "AS"); empty for other compilers.
	Language string
	// Version is the compiler version ("12.2.0"), or "" if not found.
	Version string
	// Recorded reports whether the producer lists any switch at all. GCC
	// records them unless built with -gno-record-gcc-switches; without
	// them nothing is known of the build, not even -O.
	Recorded bool
	// Opt is the effective optimisation level: "0", "1", "2", "3", "s",
	// "z", "fast" or "g" (the last -O switch; "-O" alone is "1"). It is ""
	// when no -O switch was recorded, which GCC treats as -O0.
	Opt string
	// LivePatching is the -flive-patching level: "inline-clone",
	// "inline-only-static", another value as given, or "" when absent.
	LivePatching string
	// LTO reports -flto (or a GIMPLE producer: an LTO partition).
	LTO bool
	// LTrans reports a unit compiled in an LTO ltrans step (-fltrans).
	LTrans bool
	// Profile reports -p or -pg: mcount/__fentry__ profiling calls, which
	// kernel ftrace (and so kernel livepatch on x86) is built on. GCC
	// records -pg as "-p".
	Profile bool
	// Fentry reports -mfentry: the profiling call is the first instruction
	// (__fentry__), before the prologue.
	Fentry bool
	// RecordMcount reports -mrecord-mcount (__mcount_loc entries).
	RecordMcount bool
	// PatchableEntry is the argument of -fpatchable-function-entry=N[,M]
	// ("16,14"), or "" when absent.
	PatchableEntry string
	// F holds every boolean -f switch after the last -fX or -fno-X of
	// each name: F["ipa-ra"] is false after -fno-ipa-ra. Switches with a
	// value (-fX=V) are not in F.
	F map[string]bool
}

// ParseProducer interprets a DW_AT_producer string. It never fails: what
// it does not recognise it leaves unset, and an unknown producer gives
// Compiler UnknownCompiler, which Analyses treats as "assume everything".
func ParseProducer(s string) Flags {
	var f Flags
	toks := strings.Fields(s)
	i := 0
	switch {
	case len(toks) >= 2 && toks[0] == "GNU":
		f.Language = toks[1]
		switch toks[1] {
		case "GIMPLE":
			f.Compiler, f.LTO, f.LTrans = GCCLTO, true, true
		case "AS":
			f.Compiler = Assembler
		default:
			f.Compiler = GCC
		}
		i = 2
		if i < len(toks) && startsWithDigit(toks[i]) {
			f.Version = toks[i]
			i++
		}
	default:
		for j, t := range toks {
			if strings.HasPrefix(t, "-") {
				break
			}
			if strings.Contains(strings.ToLower(t), "clang") {
				f.Compiler = Clang
			}
			if t == "version" && j+1 < len(toks) && startsWithDigit(toks[j+1]) && f.Version == "" {
				f.Version = toks[j+1]
			}
		}
	}
	// Skip what follows the version up to the first switch: a date, a
	// vendor string such as "(Red Hat 13.2.1-4)", a clang path.
	for i < len(toks) && !strings.HasPrefix(toks[i], "-") {
		i++
	}
	for _, t := range toks[i:] {
		if !strings.HasPrefix(t, "-") || t == "-" {
			continue
		}
		f.Recorded = true
		f.apply(t)
	}
	return f
}

func startsWithDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

// apply records one switch.
func (f *Flags) apply(t string) {
	switch {
	case t == "-O":
		f.Opt = "1"
	case strings.HasPrefix(t, "-O"):
		switch v := t[2:]; v {
		case "s", "z", "fast", "g":
			f.Opt = v
		default:
			n, err := strconv.Atoi(v)
			switch {
			case err != nil || n < 0:
				// Not an -O level GCC knows: leave the level alone.
			case n > 3:
				f.Opt = "3" // GCC treats -O4 and up as -O3
			default:
				f.Opt = strconv.Itoa(n)
			}
		}
	case t == "-p" || t == "-pg":
		f.Profile = true
	case t == "-mfentry":
		f.Fentry = true
	case t == "-mno-fentry":
		f.Fentry = false
	case t == "-mrecord-mcount":
		f.RecordMcount = true
	case t == "-mno-record-mcount":
		f.RecordMcount = false
	case t == "-flto" || strings.HasPrefix(t, "-flto="):
		f.LTO = true
	case t == "-fno-lto":
		f.LTO = false
	case t == "-fltrans":
		f.LTrans, f.LTO = true, true
	case t == "-flive-patching":
		f.LivePatching = "inline-clone" // GCC's default level
	case strings.HasPrefix(t, "-flive-patching="):
		f.LivePatching = strings.TrimPrefix(t, "-flive-patching=")
	case t == "-fno-live-patching":
		f.LivePatching = ""
	case strings.HasPrefix(t, "-fpatchable-function-entry="):
		f.PatchableEntry = strings.TrimPrefix(t, "-fpatchable-function-entry=")
	case strings.HasPrefix(t, "-f") && !strings.Contains(t, "="):
		name, on := t[2:], true
		if n, ok := strings.CutPrefix(name, "no-"); ok {
			name, on = n, false
		}
		if name == "" {
			return
		}
		if f.F == nil {
			f.F = map[string]bool{}
		}
		f.F[name] = on
	}
}

// level returns the effective -O level, "0" when none was given.
func (f Flags) level() string {
	if f.Opt == "" {
		return "0"
	}
	return f.Opt
}

// OptLevel returns the -O switch in effect as GCC spells it: "-O2", "-Os",
// or "-O0" when none was recorded.
func (f Flags) OptLevel() string { return "-O" + f.level() }

// PatchableEntrySize returns N of -fpatchable-function-entry=N[,M]: the
// number of NOPs before and at each function entry; 0 when absent.
func (f Flags) PatchableEntrySize() int {
	n, _, _ := strings.Cut(f.PatchableEntry, ",")
	v, err := strconv.Atoi(n)
	if err != nil || v < 0 {
		return 0
	}
	return v
}

// Ftrace describes how function entries are instrumented for ftrace (and
// so for kernel livepatch): "-pg -mfentry -mrecord-mcount",
// "-fpatchable-function-entry=16,14", or "none".
func (f Flags) Ftrace() string {
	var parts []string
	if f.Profile {
		parts = append(parts, "-pg")
		if f.Fentry {
			parts = append(parts, "-mfentry")
		}
		if f.RecordMcount {
			parts = append(parts, "-mrecord-mcount")
		}
	}
	if f.PatchableEntry != "" {
		parts = append(parts, "-fpatchable-function-entry="+f.PatchableEntry)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// FunctionSections reports -ffunction-sections: every function in its own
// section, so calls between functions of one object keep their
// relocations.
func (f Flags) FunctionSections() bool { return f.F["function-sections"] }

// Switches returns the boolean -f switches in F, sorted, as
// "-fno-ipa-ra" or "-fipa-pta".
func (f Flags) Switches() []string {
	out := make([]string, 0, len(f.F))
	for n, on := range f.F {
		if on {
			out = append(out, "-f"+n)
		} else {
			out = append(out, "-fno-"+n)
		}
	}
	sort.Strings(out)
	return out
}
