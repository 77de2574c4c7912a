package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/report"
)

// fullImpacted runs impacted (with the rules) on the eight-directory
// kernel build and decodes the answer.
func fullImpacted(t *testing.T, tree string, args ...string) (int, *report.Result) {
	t.Helper()
	code, out, errs := run(t, tree, append([]string{"impacted", "--build", ".", "--format", "json"}, args...)...)
	var r report.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("impacted %v: exit %d, %v\n%s", args, code, err, errs)
	}
	return code, &r
}

// TestKernelFullTreeComplete: on the kernel with eight directories built
// (kernel mm lib block fs net security arch/x86), answers where no
// evidence is missing are complete. The objects that are no livepatch
// target (the vDSO, real-mode and purgatory code, which kbuild links into
// images of their own, some 32-bit) are told apart by kbuild's archives,
// not read as kernel units; a not-patchable function nothing calls is
// explained; and an object of a module's subdirectory belongs to that
// module. Each is checked against the build: ar's listing of the
// archives, the module's .mod file, the objects' symbol tables.
func TestKernelFullTreeComplete(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	tree := fixture.KernelFullTree(t)
	defer fixture.LockKernelTree(t, tree)()

	// The vDSO: arch/x86/entry/vdso/built-in.a links vma.o and the vDSO
	// images, not the vDSO's own code.
	listed, err := exec.Command("ar", "t", filepath.Join(tree, "arch/x86/entry/vdso/built-in.a")).Output()
	if err != nil {
		t.Fatalf("ar t: %v", err)
	}
	if strings.Contains(string(listed), "vclock_gettime.o") || !strings.Contains(string(listed), "vma.o") {
		t.Fatalf("ar t arch/x86/entry/vdso/built-in.a:\n%s\nwant vma.o and no vclock_gettime.o", listed)
	}
	code, r := fullImpacted(t, tree, "--func", "do_hres")
	if code != ExitOK || !r.Complete || len(r.Problems) != 0 || len(r.Targets) != 0 {
		t.Errorf("do_hres (vDSO only): exit %d, complete %v, %d targets, problems %+v; want 0, complete, none", code, r.Complete, len(r.Targets), r.Problems)
	}
	vdso := 0
	for _, x := range r.Explained {
		if strings.Contains(x.Why, "vDSO code") {
			vdso++
		}
	}
	if vdso == 0 {
		t.Errorf("do_hres: no function explained as vDSO code: %+v", r.Explained)
	}
	// The 64-bit vDSO object has __vdso_clock_gettime (nm), yet no klp_func
	// can name it: no entry counts as a symbol a livepatch can replace.
	syms, err := exec.Command("nm", filepath.Join(tree, "arch/x86/entry/vdso/vclock_gettime.o")).Output()
	if err != nil || !strings.Contains(string(syms), " T __vdso_clock_gettime\n") {
		t.Fatalf("nm vclock_gettime.o: %v\n%s\nwant __vdso_clock_gettime defined", err, syms)
	}
	found := false
	for _, e := range r.Entries {
		if e.Emitted == "yes" {
			t.Errorf("do_hres: %s@%s counted as a symbol a livepatch can replace", e.Name, e.TU)
		}
		if e.Name == "__vdso_clock_gettime" && e.TU == "arch/x86/entry/vdso/vclock_gettime.o" {
			found = true
			if e.Emitted != "no" || !strings.Contains(e.WhyNotEmitted, report.WhyNotLinked) {
				t.Errorf("__vdso_clock_gettime: emitted %q (%s), want no: no livepatch target", e.Emitted, e.WhyNotEmitted)
			}
		}
	}
	if !found || r.Summary.Emitted != 0 {
		t.Errorf("do_hres: __vdso_clock_gettime of vclock_gettime.o listed %v, summary emitted %d; want listed, 0", found, r.Summary.Emitted)
	}

	// Not patchable, and nothing in the build references them: no object
	// but memblock.o names them in its symbol table. memblock_add_node's
	// only other caller (mm/memory_hotplug.c) is compiled out on x86:
	// nothing reaches it, a complete answer. memblock_remove is named by
	// drivers/firmware/efi/efi-init.c, and drivers/ was not built: the
	// answer is incomplete, naming it.
	efiInit, err := os.ReadFile(filepath.Join(tree, "drivers/firmware/efi/efi-init.c"))
	if err != nil || !strings.Contains(string(efiInit), "memblock_remove(") {
		t.Fatalf("drivers/firmware/efi/efi-init.c: %v, want a call of memblock_remove", err)
	}
	for _, fn := range []string{"memblock_add_node", "memblock_remove"} {
		if refs := objectsNaming(t, tree, fn); len(refs) != 1 || refs[0] != "mm/memblock.o" {
			t.Fatalf("objects naming %s: %v, want mm/memblock.o alone", fn, refs)
		}
	}
	code, r = fullImpacted(t, tree, "--func", "memblock_add_node")
	if code != ExitOK || !r.Complete || len(r.Problems) != 0 {
		t.Errorf("memblock_add_node: exit %d, complete %v, problems %+v; want a complete answer", code, r.Complete, r.Problems)
	}
	why := ""
	for _, x := range r.Explained {
		if x.Name == "memblock_add_node" {
			why = x.Why
		}
	}
	if !strings.Contains(why, "nothing in the objects read calls it") {
		t.Errorf("memblock_add_node explained %q, want nothing reaching it", why)
	}
	code, r = fullImpacted(t, tree, "--func", "memblock_remove")
	if code != ExitIncomplete || r.Complete || len(r.Problems) != 1 ||
		!strings.Contains(r.Problems[0].Message, "sources in directories not built name it (drivers/firmware/efi/efi-init.c)") {
		t.Errorf("memblock_remove: exit %d, complete %v, problems %+v; want incomplete, naming efi-init.c", code, r.Complete, r.Problems)
	}

	// A module's object in a subdirectory: fs/xfs/xfs.mod lists
	// fs/xfs/libxfs/xfs_alloc.o.
	mod, err := os.ReadFile(filepath.Join(tree, "fs/xfs/xfs.mod"))
	if err != nil || !strings.Contains(string(mod), "fs/xfs/libxfs/xfs_alloc.o") {
		t.Fatalf("fs/xfs/xfs.mod: %v, want it to list fs/xfs/libxfs/xfs_alloc.o", err)
	}
	code, r = fullImpacted(t, tree, "--func", "xfs_alloc_fix_len")
	if code != ExitOK || len(r.Targets) == 0 {
		t.Fatalf("xfs_alloc_fix_len: exit %d, %d targets, problems %+v", code, len(r.Targets), r.Problems)
	}
	for _, tg := range r.Targets {
		if tg.Object == "fs/xfs/libxfs/xfs_alloc.o" && tg.KLPObject != "xfs" {
			t.Errorf("%s (%s): klp_object %q, want xfs", tg.Name, tg.Object, tg.KLPObject)
		}
	}

	// flags: the vDSO, purgatory and real-mode objects (some without
	// debug info) and the host programs are left out, with notes; what
	// is left all has debug info.
	code, out, errs := run(t, tree, "flags", "--build", ".", "--format", "json")
	var fr report.FlagsResult
	if err := json.Unmarshal([]byte(out), &fr); err != nil {
		t.Fatalf("flags: exit %d: %v\n%s", code, err, errs)
	}
	if code != ExitOK || !fr.Complete || len(fr.NoDebugInfo) != 0 || !strings.Contains(strings.Join(fr.Notes, "\n"), "arch/x86/entry/vdso/vclock_gettime.o") {
		t.Errorf("flags: exit %d, complete %v, no debug info %v, notes %q; want complete, the vDSO left out", code, fr.Complete, fr.NoDebugInfo, fr.Notes)
	}

	// Functions of ordinary units in several directories.
	for _, fn := range []string{"__buffer_unlink", "zswap_pool_get", "fib6_rule_default", "journal_brelse_array", "blkpg_ioctl"} {
		code, r := fullImpacted(t, tree, "--func", fn)
		if code != ExitOK || !r.Complete || len(r.Problems) != 0 || len(r.Targets) == 0 {
			t.Errorf("%s: exit %d, complete %v, %d targets, problems %+v; want complete with targets", fn, code, r.Complete, len(r.Targets), r.Problems)
		}
	}
}

// objectsNaming returns the objects of tree whose bytes hold name as a
// whole symbol-table string (NUL on both sides), relative to tree.
func objectsNaming(t *testing.T, tree, name string) []string {
	t.Helper()
	needle := append(append([]byte{0}, name...), 0)
	var out []string
	err := filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".o") || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			rel, _ := filepath.Rel(tree, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
