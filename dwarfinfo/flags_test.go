package dwarfinfo_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/dwarfinfo"
)

// Real producers, read with readelf --debug-dump=info.
const (
	// mm/oom_kill.o of Debian's linux-source-6.1 (config.amd64_none_amd64).
	kernelProducer = "GNU C11 12.2.0 -mno-sse -mno-mmx -mno-sse2 -mno-3dnow -mno-avx -m64 -mno-80387 " +
		"-mno-fp-ret-in-387 -mpreferred-stack-boundary=3 -mskip-rax-setup -mtune=generic -mno-red-zone " +
		"-mcmodel=kernel -mindirect-branch=thunk-extern -mindirect-branch-register -mindirect-branch-cs-prefix " +
		"-mfunction-return=thunk-extern -mharden-sls=all -mrecord-mcount -mfentry -march=x86-64 -g -O2 " +
		"-std=gnu11 -p -fno-strict-aliasing -fno-common -fshort-wchar -fno-PIE -fcf-protection=none " +
		"-falign-jumps=1 -falign-loops=1 -fno-asynchronous-unwind-tables -fno-jump-tables " +
		"-fno-delete-null-pointer-checks -fno-allow-store-data-races -fstack-protector-strong " +
		"-ftrivial-auto-var-init=zero -fno-stack-clash-protection -fno-strict-overflow -fstack-check=no " +
		"-fconserve-stack -fno-builtin-wcslen"
	// The ltrans unit of testdata/fixtures/lto's prog (gcc 12.2).
	gimpleProducer = "GNU GIMPLE 12.2.0 -mtune=generic -march=x86-64 -g -g -O2 -O2 -fno-openmp -fno-openacc -fPIC " +
		"-fcf-protection=none -fltrans"
	// Debian bookworm's clang 14 (no switches recorded by default).
	clangProducer = "Debian clang version 14.0.6"
	// clang with -grecord-command-line.
	clangCmdProducer = "clang version 17.0.6 (https://github.com/llvm/llvm-project 6009708b4367171ccdbf4b5905cb6a803753fe18) " +
		"/usr/bin/clang-17 -O2 -g -grecord-command-line -c x.c"
	// A distribution compiler with a date and vendor string.
	redHatProducer = "GNU C17 13.2.1 20231011 (Red Hat 13.2.1-4) -m64 -mtune=generic -O2 -flive-patching=inline-clone " +
		"-fpatchable-function-entry=16,14"
)

func TestParseProducer(t *testing.T) {
	tests := []struct {
		name     string
		producer string
		want     dwarfinfo.Flags
	}{
		{"kernel", kernelProducer, dwarfinfo.Flags{Compiler: dwarfinfo.GCC, Language: "C11", Version: "12.2.0",
			Recorded: true, Opt: "2", Profile: true, Fentry: true, RecordMcount: true,
			F: map[string]bool{"strict-aliasing": false, "common": false, "short-wchar": true, "PIE": false,
				"asynchronous-unwind-tables": false, "jump-tables": false, "delete-null-pointer-checks": false,
				"allow-store-data-races": false, "stack-protector-strong": true, "stack-clash-protection": false,
				"strict-overflow": false, "conserve-stack": true, "builtin-wcslen": false}}},
		{"gimple ltrans", gimpleProducer, dwarfinfo.Flags{Compiler: dwarfinfo.GCCLTO, Language: "GIMPLE", Version: "12.2.0",
			Recorded: true, Opt: "2", LTO: true, LTrans: true,
			F: map[string]bool{"openmp": false, "openacc": false, "PIC": true}}},
		{"clang", clangProducer, dwarfinfo.Flags{Compiler: dwarfinfo.Clang, Version: "14.0.6"}},
		{"clang command line", clangCmdProducer, dwarfinfo.Flags{Compiler: dwarfinfo.Clang, Version: "17.0.6",
			Recorded: true, Opt: "2"}},
		{"vendor string", redHatProducer, dwarfinfo.Flags{Compiler: dwarfinfo.GCC, Language: "C17", Version: "13.2.1",
			Recorded: true, Opt: "2", LivePatching: "inline-clone", PatchableEntry: "16,14"}},
		{"assembler", "GNU AS 2.40", dwarfinfo.Flags{Compiler: dwarfinfo.Assembler, Language: "AS", Version: "2.40"}},
		{"no switches", "GNU C17 12.2.0", dwarfinfo.Flags{Compiler: dwarfinfo.GCC, Language: "C17", Version: "12.2.0"}},
		{"empty", "", dwarfinfo.Flags{}},
		{"last -O wins", "GNU C17 12.2.0 -O3 -O2 -Os", dwarfinfo.Flags{Compiler: dwarfinfo.GCC, Language: "C17",
			Version: "12.2.0", Recorded: true, Opt: "s"}},
		{"-O alone is -O1", "GNU C17 12.2.0 -O", dwarfinfo.Flags{Compiler: dwarfinfo.GCC, Language: "C17",
			Version: "12.2.0", Recorded: true, Opt: "1"}},
		{"-O9 is -O3", "GNU C17 12.2.0 -O9 -Ofast", dwarfinfo.Flags{Compiler: dwarfinfo.GCC, Language: "C17",
			Version: "12.2.0", Recorded: true, Opt: "fast"}},
		{"-Og, -Oz", "GNU C17 12.2.0 -Oz -Og", dwarfinfo.Flags{Compiler: dwarfinfo.GCC, Language: "C17",
			Version: "12.2.0", Recorded: true, Opt: "g"}},
		{"last -f wins", "GNU C17 12.2.0 -O2 -fno-ipa-ra -fipa-ra -fipa-icf -fno-ipa-icf -fno-inline",
			dwarfinfo.Flags{Compiler: dwarfinfo.GCC, Language: "C17", Version: "12.2.0", Recorded: true, Opt: "2",
				F: map[string]bool{"ipa-ra": true, "ipa-icf": false, "inline": false}}},
		{"inlining switches", "GNU C17 12.2.0 -O2 -fno-inline-functions -fno-inline-functions-called-once " +
			"-fno-inline-small-functions -fno-partial-inlining -fno-optimize-sibling-calls -ffunction-sections",
			dwarfinfo.Flags{Compiler: dwarfinfo.GCC, Language: "C17", Version: "12.2.0", Recorded: true, Opt: "2",
				F: map[string]bool{"inline-functions": false, "inline-functions-called-once": false,
					"inline-small-functions": false, "partial-inlining": false, "optimize-sibling-calls": false,
					"function-sections": true}}},
		{"bare -flive-patching is inline-clone", "GNU C17 12.2.0 -O2 -flive-patching",
			dwarfinfo.Flags{Compiler: dwarfinfo.GCC, Language: "C17", Version: "12.2.0", Recorded: true, Opt: "2",
				LivePatching: "inline-clone"}},
		{"inline-only-static", "GNU C17 12.2.0 -O2 -flive-patching=inline-only-static",
			dwarfinfo.Flags{Compiler: dwarfinfo.GCC, Language: "C17", Version: "12.2.0", Recorded: true, Opt: "2",
				LivePatching: "inline-only-static"}},
		{"lto", "GNU C17 12.2.0 -O2 -flto=auto -pg -mfentry -mno-fentry",
			dwarfinfo.Flags{Compiler: dwarfinfo.GCC, Language: "C17", Version: "12.2.0", Recorded: true, Opt: "2",
				LTO: true, Profile: true}},
		{"unknown producer", "rustc version 1.70.0 -C opt-level=3", dwarfinfo.Flags{Version: "1.70.0", Recorded: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dwarfinfo.ParseProducer(tt.producer)
			if len(got.F) == 0 {
				got.F = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseProducer(%q)\n got %+v\nwant %+v", tt.producer, got, tt.want)
			}
		})
	}
}

func TestFlagsHelpers(t *testing.T) {
	k := dwarfinfo.ParseProducer(kernelProducer)
	if got := k.Ftrace(); got != "-pg -mfentry -mrecord-mcount" {
		t.Errorf("kernel Ftrace() = %q", got)
	}
	if got := k.OptLevel(); got != "-O2" {
		t.Errorf("kernel OptLevel() = %q", got)
	}
	r := dwarfinfo.ParseProducer(redHatProducer)
	if r.Ftrace() != "-fpatchable-function-entry=16,14" || r.PatchableEntrySize() != 16 {
		t.Errorf("Ftrace() = %q, PatchableEntrySize() = %d", r.Ftrace(), r.PatchableEntrySize())
	}
	n := dwarfinfo.ParseProducer("GNU C17 12.2.0 -g")
	if n.Ftrace() != "none" || n.OptLevel() != "-O0" {
		t.Errorf("no switches: Ftrace() = %q, OptLevel() = %q", n.Ftrace(), n.OptLevel())
	}
	if got := strings.Join(dwarfinfo.ParseProducer("GNU C17 12.2.0 -fno-ipa-ra -fipa-pta").Switches(), " "); got != "-fipa-pta -fno-ipa-ra" {
		t.Errorf("Switches() = %q", got)
	}
}

// TestAnalyses is the derivation for flag sets the tests with gcc check
// against the compiler itself (TestOptionsMatchGCC, TestIPARACodegen);
// here the expected live sets are spelled out, so a change to the rules
// shows up as a readable diff.
func TestAnalyses(t *testing.T) {
	all := "inlining ipa-cp ipa-sra ipa-split ipa-ra ipa-pure-const ipa-modref ipa-reference ipa-vrp ipa-bit-cp ipa-icf ipa-stack-alignment ipa-pta"
	tests := []struct {
		name, producer, live string
		whyHas               map[string]string
	}{
		{"-O2", "GNU C17 12.2.0 -O2",
			"inlining ipa-cp ipa-sra ipa-split ipa-ra ipa-pure-const ipa-modref ipa-reference ipa-vrp ipa-bit-cp ipa-icf ipa-stack-alignment",
			map[string]string{"ipa-ra": "enabled at -O2", "ipa-pta": "enabled at no -O level"}},
		{"kernel: -pg turns ipa-ra off", kernelProducer,
			"inlining ipa-cp ipa-sra ipa-split ipa-pure-const ipa-modref ipa-reference ipa-vrp ipa-bit-cp ipa-icf ipa-stack-alignment",
			map[string]string{"ipa-ra": "turned off by -pg/-p"}},
		{"patchable entry turns ipa-ra off", "GNU C17 12.2.0 -O2 -fpatchable-function-entry=16,14",
			"inlining ipa-cp ipa-sra ipa-split ipa-pure-const ipa-modref ipa-reference ipa-vrp ipa-bit-cp ipa-icf ipa-stack-alignment",
			map[string]string{"ipa-ra": "turned off by -fpatchable-function-entry=16,14"}},
		{"patchable entry of 0 NOPs does not", "GNU C17 12.2.0 -O2 -fpatchable-function-entry=0",
			"inlining ipa-cp ipa-sra ipa-split ipa-ra ipa-pure-const ipa-modref ipa-reference ipa-vrp ipa-bit-cp ipa-icf ipa-stack-alignment", nil},
		{"inline-clone", "GNU C17 12.2.0 -O2 -flive-patching=inline-clone", "inlining ipa-cp ipa-sra ipa-split",
			map[string]string{"ipa-ra": "disabled by -flive-patching=inline-clone", "ipa-icf": "disabled by -flive-patching=inline-clone"}},
		{"inline-only-static", "GNU C17 12.2.0 -O2 -flive-patching=inline-only-static", "inlining",
			map[string]string{"inlining": "only static functions", "ipa-cp": "disabled by -flive-patching=inline-only-static"}},
		{"-O1", "GNU C17 12.2.0 -O1", "inlining ipa-pure-const ipa-modref ipa-reference ipa-stack-alignment",
			map[string]string{"ipa-ra": "not enabled at -O1", "ipa-split": "not enabled at -O1"}},
		{"-Og: no modref", "GNU C17 12.2.0 -Og", "inlining ipa-pure-const ipa-reference ipa-stack-alignment",
			map[string]string{"ipa-modref": "not enabled at -Og"}},
		{"-O0", "GNU C17 12.2.0 -g", "inlining ipa-stack-alignment",
			map[string]string{"inlining": "only always_inline functions (-O0)"}},
		{"-O0 with an explicit switch", "GNU C17 12.2.0 -fipa-pure-const", "inlining ipa-pure-const ipa-stack-alignment",
			map[string]string{"ipa-pure-const": "assumed live"}},
		{"-O1 -fipa-ra", "GNU C17 12.2.0 -O1 -fipa-ra", "inlining ipa-ra ipa-pure-const ipa-modref ipa-reference ipa-stack-alignment",
			map[string]string{"ipa-ra": "-fipa-ra given"}},
		{"vrp and bit-cp need ipa-cp", "GNU C17 12.2.0 -O2 -fno-ipa-cp",
			"inlining ipa-sra ipa-split ipa-ra ipa-pure-const ipa-modref ipa-reference ipa-icf ipa-stack-alignment",
			map[string]string{"ipa-vrp": "needs -fipa-cp"}},
		{"icf follows -fipa-icf", "GNU C17 12.2.0 -O1 -fipa-icf",
			"inlining ipa-pure-const ipa-modref ipa-reference ipa-icf ipa-stack-alignment",
			map[string]string{"ipa-icf": "follows -fipa-icf: -fipa-icf given"}},
		{"no icf of functions", "GNU C17 12.2.0 -O2 -fno-ipa-icf-functions",
			"inlining ipa-cp ipa-sra ipa-split ipa-ra ipa-pure-const ipa-modref ipa-reference ipa-vrp ipa-bit-cp ipa-stack-alignment", nil},
		{"split needs inlining", "GNU C17 12.2.0 -O2 -fno-inline-functions -fno-inline-small-functions",
			"inlining ipa-cp ipa-sra ipa-ra ipa-pure-const ipa-modref ipa-reference ipa-vrp ipa-bit-cp ipa-icf ipa-stack-alignment",
			map[string]string{"ipa-split": "no effect without"}},
		{"-fno-inline", "GNU C17 12.2.0 -O2 -fno-inline", all[:len(all)-len(" ipa-pta")],
			map[string]string{"inlining": "only always_inline functions (-fno-inline given)"}},
		{"lto", "GNU C17 12.2.0 -O2 -flto", all[:len(all)-len(" ipa-pta")],
			map[string]string{"ipa-icf": "across translation units"}},
		{"clang", clangProducer, all, map[string]string{"ipa-ra": "unknown compiler (clang 14.0.6): assuming live"}},
		{"no producer", "", all, map[string]string{"ipa-ra": "assuming live"}},
		{"no switches", "GNU C17 12.2.0", all, map[string]string{"ipa-icf": "no switches recorded"}},
		{"assembler", "GNU AS 2.40", "", map[string]string{"ipa-ra": "assembler source"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := dwarfinfo.ParseProducer(tt.producer)
			as := f.Analyses()
			if len(as) != len(dwarfinfo.AnalysisNames()) {
				t.Fatalf("%d analyses, want %d", len(as), len(dwarfinfo.AnalysisNames()))
			}
			if got := strings.Join(f.LiveAnalyses(), " "); got != tt.live {
				t.Errorf("%q: live\n got %s\nwant %s", tt.producer, got, tt.live)
			}
			for _, a := range as {
				if a.Why == "" || a.Meaning == "" {
					t.Errorf("%s: empty Why or Meaning: %+v", a.Name, a)
				}
				if w, ok := tt.whyHas[a.Name]; ok && !strings.Contains(a.Why, w) {
					t.Errorf("%s: why %q lacks %q", a.Name, a.Why, w)
				}
			}
		})
	}
}
