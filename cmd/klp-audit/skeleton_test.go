package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/driver"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// TestNewSkeletonCmd checks how arguments become options, without running.
func TestNewSkeletonCmd(t *testing.T) {
	tests := []struct {
		name    string
		args    string
		want    SkeletonOptions
		wantErr string
	}{
		{name: "defaults", args: "--func foo --build b",
			want: SkeletonOptions{Func: "foo", Options: driver.Options{Builds: []string{"b"}}}},
		{name: "everything", args: "--func foo --build b --dumps-from l --strip-prefix /src --file mm/x.c --tu mm/x.o --policy p.yaml --vmlinux vmlinux --vmlinux nfsd.ko",
			want: SkeletonOptions{Func: "foo", File: "mm/x.c", TU: "mm/x.o", Policy: "p.yaml", Vmlinux: []string{"vmlinux", "nfsd.ko"},
				Options: driver.Options{Builds: []string{"b"}, DumpLists: []string{"l"}, StripPrefixes: []string{"/src"}}}},
		{name: "func required", args: "--build b", wantErr: `required flag(s) "func" not set`},
		{name: "no format", args: "--func f --build b --format json", wantErr: "unknown flag: --format"},
		{name: "no positional args", args: "--func f extra", wantErr: `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := testStreams()
			var got *SkeletonOptions
			cmd := newSkeletonCmd(s, func(o *SkeletonOptions) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tt.args))
			cmd.SetOut(s.Out)
			cmd.SetErr(s.Err)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("args %q: error %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("args %q: %v", tt.args, err)
			}
			w := tt.want
			if got.Func != w.Func || got.File != w.File || got.TU != w.TU || got.Policy != w.Policy ||
				!slices.Equal(got.Vmlinux, w.Vmlinux) || !slices.Equal(got.Builds, w.Builds) ||
				!slices.Equal(got.DumpLists, w.DumpLists) || !slices.Equal(got.StripPrefixes, w.StripPrefixes) {
				t.Errorf("args %q:\n got %+v\nwant %+v", tt.args, *got, w)
			}
		})
	}
}

// livepatchStub declares struct klp_func and struct klp_object as
// include/linux/livepatch.h of Linux 6.1 does, external fields first and
// in the same order; the internal ones use stand-in types.
const livepatchStub = `#include <stddef.h>
#include <stdbool.h>
struct list_head { struct list_head *next, *prev; };
struct kobject { const char *name; };
struct module;
struct klp_object;
struct klp_func {
	/* external */
	const char *old_name;
	void *new_func;
	unsigned long old_sympos;
	/* internal */
	void *old_func;
	struct kobject kobj;
	struct list_head node;
	struct list_head stack_node;
	unsigned long old_size, new_size;
	bool nop;
	bool patched;
	bool transition;
};
struct klp_callbacks {
	int (*pre_patch)(struct klp_object *obj);
	void (*post_patch)(struct klp_object *obj);
	void (*pre_unpatch)(struct klp_object *obj);
	void (*post_unpatch)(struct klp_object *obj);
	bool post_unpatch_enabled;
};
struct klp_object {
	/* external */
	const char *name;
	struct klp_func *funcs;
	struct klp_callbacks callbacks;
	/* internal */
	struct kobject kobj;
	struct list_head func_list;
	struct list_head node;
	struct module *mod;
	bool dynamic;
	bool patched;
};
`

var newFuncRE = regexp.MustCompile(`\.new_func = (\w+),`)

// compileSkeleton compiles the skeleton src as a livepatch module would
// hold it: after the stub header and the replacement functions the
// author writes (one per new_func), and with objs used as struct
// klp_patch uses it. It returns gcc's output and whether it succeeded.
func compileSkeleton(t *testing.T, src string) (string, bool) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "livepatch.h"), []byte(livepatchStub), 0o644)
	var b strings.Builder
	b.WriteString("#include \"livepatch.h\"\n")
	for _, m := range newFuncRE.FindAllStringSubmatch(src, -1) {
		b.WriteString("static int " + m[1] + "(int x) { return x; }\n")
	}
	b.WriteString(src)
	b.WriteString("struct klp_object *klp_objs(void) { return objs; }\n")
	os.WriteFile(filepath.Join(dir, "lp.c"), []byte(b.String()), 0o644)
	cmd := exec.Command("gcc", "-fsyntax-only", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-Wno-missing-field-initializers", "lp.c")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// TestSkeletonCompiles: the skeleton is valid C against the kernel's
// declarations; an incomplete one stops the build at its #error.
func TestSkeletonCompiles(t *testing.T) {
	fixture.NeedTools(t, "objcopy")
	dir := fixture.Build(t, "klp-sympos")
	cmd := exec.Command("objcopy", "--strip-debug", "prog", "prog.nodebug")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, out)
	}
	abi := fixture.WriteTemp(t, "policy.yaml", fixture.CloneABIPolicy)
	must := fixture.WriteTemp(t, "policy.yaml", "rules:\n  caller-assumptions: {severity: must}\n")
	review := fixture.WriteTemp(t, "policy.yaml", `rules:
  caller-assumptions:
    severity: review
    passes: {ipa-ra: review, ipa-pure-const: review, ipa-modref: review, ipa-reference: review, ipa-vrp: review, ipa-bit-cp: review}
ignore:
  - function: b_other
    rule: caller-assumptions
    justification: "reads nothing scale changes (reviewed)"
`)
	tests := []struct {
		name    string
		args    string
		code    int
		want    []string
		notWant []string
	}{
		{"two statics", "--func scale --vmlinux prog", ExitOK, []string{
			`.old_name = "scale",` + "\n\t\t.new_func = livepatch_scale__a,\n\t\t.old_sympos = 1,",
			`.old_name = "scale",` + "\n\t\t.new_func = livepatch_scale__b,\n\t\t.old_sympos = 2,",
			"/* must, containment: the changed function itself [a.o] */",
			// a_entry relies on scale's body: a comment with its
			// condition, and the entry to add if it holds.
			"\t/*\n\t * CONDITIONAL, caller-assumptions: a_entry calls scale (callers may rely on its body) [a.o]\n\t * needed only if your fix changes what a_entry assumed of scale, which it calls at 1 call site: ",
			"\t * If it is needed, add:\n\t * {\n\t *\t.old_name = \"a_entry\",\n\t *\t.new_func = livepatch_a_entry,\n",
			"static struct klp_func funcs_vmlinux[] = {",
			"\t{ }\n};",
			"\t\t.name = NULL,\n\t\t.funcs = funcs_vmlinux,\n\t}, { }\n};",
		}, []string{"\t\t.old_name = \"a_entry\","}},
		{"caller-assumptions must", "--func scale --vmlinux prog --policy " + must, ExitOK, []string{
			"/* must, caller-assumptions: a_entry calls scale (callers may rely on its body); callers may rely on its body through ",
			"\t\t.old_name = \"a_entry\",",
		}, []string{"CONDITIONAL"}},
		{"no vmlinux", "--func scale", ExitOK, []string{
			"old_sympos: not computed (no --vmlinux given)",
			"/* .old_sympos not computed (no --vmlinux): needed if another symbol is named scale there */",
		}, nil},
		{"clone abi", "--func big --vmlinux prog --policy " + abi, ExitOK, []string{
			`.old_name = "big.constprop.0",` + "\n\t\t.new_func = livepatch_big_constprop_0,\n\t\t.old_sympos = 0,",
			"/* livepatch_big_constprop_0 must have the ABI of the constprop clone big.constprop.0 (its parameters, not big's prototype): the policy says author-supplies-clone-abi */",
		}, nil},
		{"clone replaced by callers", "--func big --vmlinux prog", ExitOK, []string{
			`.old_name = "b_entry",`, `.old_name = "b_other",`,
			"/* must, changed-abi: b_entry calls the clone big.constprop.0, whose ABI differs [b.o] */",
		}, nil},
		{"review and ignored", "--func scale --vmlinux prog --policy " + review, ExitOK, []string{
			"/* REVIEW: caller-assumptions: a_entry calls scale (callers may rely on its body); callers may rely on its body through ",
			"; decide whether the fix needs it replaced, then keep or delete this entry */\n\t\t.old_name = \"a_entry\",",
			"\t/* ignored by the policy: b_other (b.o), caller-assumptions: reads nothing scale changes (reviewed) */\n\t{ }\n};",
		}, nil},
		{"incomplete", "--func twin --vmlinux prog.nodebug", ExitIncomplete, []string{
			`#error "klp-audit: INCOMPLETE answer, not safe to build: 2 problems: (1) fail-closed: old_sympos of twin (a.o) unknown`,
			"/* .old_sympos UNKNOWN: see the #error above */",
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, dir, append([]string{"klp-skeleton", "--build", "."}, strings.Fields(tt.args)...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("skeleton lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("skeleton has %q:\n%s", w, out)
				}
			}
			gccOut, ok := compileSkeleton(t, out)
			if tt.code == ExitOK && !ok {
				t.Errorf("the skeleton does not compile:\n%s\n%s", gccOut, out)
			}
			if tt.code != ExitOK {
				if !strings.HasPrefix(out, "#error ") {
					t.Errorf("an incomplete skeleton must start with #error:\n%s", out)
				}
				if ok || !strings.Contains(gccOut, "#error") || !strings.Contains(gccOut, "INCOMPLETE") {
					t.Errorf("an incomplete skeleton compiled, or not stopped by its #error:\n%s", gccOut)
				}
				if !strings.Contains(errs, "answer INCOMPLETE") {
					t.Errorf("stderr lacks the verdict:\n%s", errs)
				}
			}
		})
	}
}

// TestSkeletonGolden compares whole skeletons with goldens kept per gcc
// version (the call sites and dump lines they cite are that gcc's); with
// none for the installed gcc the test skips (go test -update writes them).
func TestSkeletonGolden(t *testing.T) {
	ver := fixture.GCCVersion()
	if ver == "" {
		t.Skip("gcc not installed")
	}
	dir := fixture.Build(t, "klp-sympos")
	os.WriteFile(filepath.Join(dir, "clone-abi.yaml"), []byte(fixture.CloneABIPolicy), 0o644)
	tests := []struct{ name, args string }{
		{"klp-skeleton.scale.c", "--func scale --vmlinux prog"},
		{"klp-skeleton.big.clone-abi.c", "--func big --vmlinux prog --policy clone-abi.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, dir, append([]string{"klp-skeleton", "--build", "."}, strings.Fields(tt.args)...)...)
			if code != ExitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, errs)
			}
			checkGolden(t, filepath.Join("testdata", "golden", "gcc-"+ver, tt.name), out, true)
		})
	}
}
