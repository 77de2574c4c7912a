package livepatch

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// kernelTree makes a directory that looks like a kernel build's top: a
// .config and a Kbuild file.
func kernelTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range []string{".config", "Kbuild"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestObjectsOf: an object a kbuild .mod file lists belongs to that
// module (- spelled _), any other object of a kernel tree to vmlinux, and
// outside a kernel tree the klp_object is unknown.
func TestObjectsOf(t *testing.T) {
	root := kernelTree(t)
	write(t, filepath.Join(root, "fs/nfsd/nfsd-x.mod"), "fs/nfsd/nfssvc.o\nfs/nfsd/nfsproc.o\n")
	write(t, filepath.Join(root, "mm/oom_kill.o"), "")
	k := NewObjects([]string{root})
	for obj, want := range map[string]string{
		"fs/nfsd/nfssvc.o": "nfsd_x",
		"fs/nfsd/other.o":  "vmlinux",
		"mm/oom_kill.o":    "vmlinux",
	} {
		got, err := k.Of(filepath.Join(root, obj))
		if err != nil || got != want {
			t.Errorf("Of(%s) = %q, %v; want %q", obj, got, err, want)
		}
	}
	other := t.TempDir()
	if got, err := NewObjects([]string{other}).Of(filepath.Join(other, "a.o")); got != "" || err != nil {
		t.Errorf("outside a kernel tree: %q, %v; want unknown", got, err)
	}
}

// TestObjectsOfUnreadable: a .mod file that cannot be read leaves the
// klp_object unknown with an error, never a silent "vmlinux".
func TestObjectsOfUnreadable(t *testing.T) {
	root := kernelTree(t)
	// A directory named like a .mod file: reading it fails, as root too.
	if err := os.MkdirAll(filepath.Join(root, "drivers/x/x.mod"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := NewObjects([]string{root}).Of(filepath.Join(root, "drivers/x/x.o"))
	if err == nil || got != "" || !strings.Contains(err.Error(), ".mod files") {
		t.Errorf("Of = %q, %v; want an error naming the .mod files", got, err)
	}
}

// TestObjectsOfSubdirModule: a module's .mod file lists objects in its
// subdirectories too (fs/xfs/xfs.mod names fs/xfs/libxfs/xfs_alloc.o):
// they belong to the module, not to vmlinux.
func TestObjectsOfSubdirModule(t *testing.T) {
	root := kernelTree(t)
	write(t, filepath.Join(root, "fs/xfs/xfs.mod"), "fs/xfs/xfs_trace.o\nfs/xfs/libxfs/xfs_alloc.o\n")
	write(t, filepath.Join(root, "fs/xfs/libxfs/xfs_alloc.o"), "")
	write(t, filepath.Join(root, "fs/xfs/libxfs/other.o"), "")
	k := NewObjects([]string{root})
	for obj, want := range map[string]string{
		"fs/xfs/libxfs/xfs_alloc.o": "xfs",
		"fs/xfs/xfs_trace.o":        "xfs",
		"fs/xfs/xfs.o":              "xfs",
		"fs/xfs/libxfs/other.o":     "vmlinux",
	} {
		if got, err := k.Of(filepath.Join(root, obj)); err != nil || got != want {
			t.Errorf("Of(%s) = %q, %v; want %q", obj, got, err, want)
		}
	}
}

// compileObjects compiles a trivial C unit into each of objs under root,
// with the machine's gcc.
func compileObjects(t *testing.T, root string, objs ...string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	src := filepath.Join(t.TempDir(), "u.c")
	write(t, src, "int f(int x) { return x + 1; }\n")
	for _, o := range objs {
		p := filepath.Join(root, o)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("gcc", "-O2", "-c", "-o", p, src).CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
	}
}

// ar runs binutils' ar in dir.
func ar(t *testing.T, dir string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("ar"); err != nil {
		t.Skip("ar not installed")
	}
	cmd := exec.Command("ar", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ar %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestArchiveMembers reads archives binutils' ar made, thin as kbuild
// makes them (ar cDPrST, members in subdirectories, names longer than 15
// bytes) and full ones, and compares with what "ar t" prints.
func TestArchiveMembers(t *testing.T) {
	root := t.TempDir()
	compileObjects(t, root, "a/x.o", "a/sub/a_rather_long_object_name.o", "a/sub/y.o")
	// (A full archive's short name with a directory, sub/y.o/, is cut at
	// the first slash by ar t: kbuild's archives are thin.)
	for _, tc := range []struct {
		name, flags string
		members     []string
	}{
		{"thin", "cDPrST", []string{"x.o", "sub/a_rather_long_object_name.o", "sub/y.o"}},
		{"full", "cDPrS", []string{"x.o", "sub/a_rather_long_object_name.o"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arch := tc.name + ".a"
			ar(t, filepath.Join(root, "a"), append([]string{tc.flags, arch}, tc.members...)...)
			got, err := ArchiveMembers(filepath.Join(root, "a", arch))
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Fields(ar(t, filepath.Join(root, "a"), "t", arch))
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("members %q, ar t says %q", got, want)
			}
		})
	}
	bad := filepath.Join(root, "bad.a")
	write(t, bad, "!<thin>\n//                                              12        `\nx.o/\n")
	if _, err := ArchiveMembers(bad); err == nil || !strings.Contains(err.Error(), "bad.a: offset 8") {
		t.Errorf("truncated name table: %v, want an error naming the file and offset 8", err)
	}
	if _, err := ArchiveMembers(filepath.Join(root, "a", "x.o")); err == nil || !strings.Contains(err.Error(), "not an ar archive") {
		t.Errorf("an object: %v, want not an ar archive", err)
	}
}

// TestNotLinked: in a kernel tree, an object that no .mod file and no
// kbuild archive of its directories lists (the vDSO's, linked into
// vdso.so instead) is linked into neither vmlinux nor a module; one an
// archive lists, or that a module's .mod lists, is; and where no archive
// tells, or the archive is older than the object, nothing is said.
func TestNotLinked(t *testing.T) {
	root := kernelTree(t)
	compileObjects(t, root, "arch/x86/entry/vdso/vma.o", "arch/x86/entry/vdso/vclock_gettime.o",
		"arch/x86/entry/vdso/vdso32/note.o", "lib/crc.o", "drivers/m/part.o", "noarchive/z.o")
	ar(t, filepath.Join(root, "arch/x86/entry/vdso"), "cDPrST", "built-in.a", "vma.o")
	ar(t, filepath.Join(root, "lib"), "cDPrST", "lib.a", "crc.o")
	ar(t, filepath.Join(root, "drivers/m"), "cDPrST", "built-in.a")
	write(t, filepath.Join(root, "drivers/m/m.mod"), "drivers/m/part.o\n")
	k := NewObjects([]string{root})
	for obj, want := range map[string]string{
		"arch/x86/entry/vdso/vma.o":            "",
		"arch/x86/entry/vdso/vclock_gettime.o": "vDSO code",
		"arch/x86/entry/vdso/vdso32/note.o":    "vDSO code",
		"lib/crc.o":                            "",
		"drivers/m/part.o":                     "",
		"noarchive/z.o":                        "",
	} {
		got := k.NotLinked(filepath.Join(root, obj))
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("NotLinked(%s) = %q, want %q", obj, got, want)
		}
	}
	// Rebuilt after its directory's archive: which image links it is
	// not told by a stale archive.
	later := time.Now().Add(time.Hour)
	p := filepath.Join(root, "arch/x86/entry/vdso/vclock_gettime.o")
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	if got := NewObjects([]string{root}).NotLinked(p); got != "" {
		t.Errorf("object newer than the archive: %q, want nothing said", got)
	}
	// Outside a kernel tree nothing is said either.
	other := t.TempDir()
	compileObjects(t, other, "v/x.o")
	ar(t, filepath.Join(other, "v"), "cDPrST", "built-in.a")
	if got := NewObjects([]string{other}).NotLinked(filepath.Join(other, "v/x.o")); got != "" {
		t.Errorf("outside a kernel tree: %q", got)
	}
}

func FuzzArchiveMembers(f *testing.F) {
	f.Add([]byte("!<thin>\n//                                              12        `\nx.o/\nsub/y.o/\n/0              0           0     0     644     100       `\n"))
	f.Add([]byte("!<arch>\nx.o/            0           0     0     644     4         `\nabcd"))
	f.Add([]byte("!<arch>\n/               0           0     0     0       4         `\n\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		names, err := archiveMembers(bufio.NewReader(bytes.NewReader(data)))
		if err == nil && len(names) > len(data) {
			t.Fatalf("%d names from %d bytes", len(names), len(data))
		}
	})
}

// TestUnbuiltNaming: the sources that name a function in directories
// kbuild did not enter are listed; a source whose object was built, one
// in a directory kbuild entered (its archive is there) and another
// architecture's are not.
func TestUnbuiltNaming(t *testing.T) {
	root := kernelTree(t)
	write(t, filepath.Join(root, ".config"), "#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86 6.1.0 Kernel Configuration\n")
	call := "void g(void) { memblock_add(0, 1); }\n"
	write(t, filepath.Join(root, "drivers/of/fdt.c"), call)
	write(t, filepath.Join(root, "drivers/of/other.c"), "void memblock_add_node(void) {}\nint my_memblock_add;\n")
	write(t, filepath.Join(root, "arch/arm/kernel/setup.c"), call)
	write(t, filepath.Join(root, "arch/x86/kernel/e820.c"), call)
	write(t, filepath.Join(root, "mm/memblock.c"), "int memblock_add(int a, int b) { return a + b; }\n")
	write(t, filepath.Join(root, "fs/x.c"), call)
	compileObjects(t, root, "mm/memblock.o", "fs/y.o")
	ar(t, filepath.Join(root, "fs"), "cDPrST", "built-in.a", "y.o")
	k := NewObjects([]string{root})
	got, ok := k.UnbuiltNaming(filepath.Join(root, "mm/memblock.o"), "memblock_add")
	if !ok || strings.Join(got, " ") != "arch/x86/kernel/e820.c drivers/of/fdt.c" {
		t.Errorf("UnbuiltNaming = %q, %v; want arch/x86/kernel/e820.c and drivers/of/fdt.c", got, ok)
	}
	if got, ok := k.UnbuiltNaming(filepath.Join(root, "mm/memblock.o"), "memblock_remove"); !ok || len(got) != 0 {
		t.Errorf("a name no source holds: %q, %v", got, ok)
	}
	// Searched together (one read of each source), each name is
	// answered as it is alone; the sources are not read again (a source
	// gone since changes nothing).
	m := NewObjects([]string{root})
	obj := filepath.Join(root, "mm/memblock.o")
	m.UnbuiltNamingMany([]string{obj, obj, obj}, []string{"memblock_add", "memblock_remove", "memblock_add"})
	fdt := filepath.Join(root, "drivers/of/fdt.c")
	if err := os.Rename(fdt, fdt+".gone"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"memblock_add", "memblock_remove"} {
		want, wok := k.UnbuiltNaming(obj, name)
		if got, ok := m.UnbuiltNaming(obj, name); ok != wok || strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s searched with another: %q, %v; alone %q, %v", name, got, ok, want, wok)
		}
	}
	if err := os.Rename(fdt+".gone", fdt); err != nil {
		t.Fatal(err)
	}
	// A source the search cannot read whole (here one too large to be a
	// C file: sparse) leaves it unknown, never "nothing names it".
	big := filepath.Join(root, "drivers/huge/h.c")
	write(t, big, "")
	if err := os.Truncate(big, maxSourceSearched+1); err != nil {
		t.Fatal(err)
	}
	if got, ok := NewObjects([]string{root}).UnbuiltNaming(filepath.Join(root, "mm/memblock.o"), "memblock_remove"); ok {
		t.Errorf("with an unreadable source: %q searched, want not searched", got)
	}
	os.Remove(big)
	// A source that is a link (to a file out of the searched
	// directories) is read through it; one that is a FIFO cannot be
	// read, so nothing is known absent (and the search never blocks).
	write(t, filepath.Join(root, "tools/shared/calls.c"), call)
	if err := os.MkdirAll(filepath.Join(root, "drivers/net"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../tools/shared/calls.c", filepath.Join(root, "drivers/net/calls.c")); err != nil {
		t.Fatal(err)
	}
	got, ok = NewObjects([]string{root}).UnbuiltNaming(filepath.Join(root, "mm/memblock.o"), "memblock_add")
	if !ok || strings.Join(got, " ") != "arch/x86/kernel/e820.c drivers/net/calls.c drivers/of/fdt.c" {
		t.Errorf("with a linked source: %q, %v; want it among the sources naming memblock_add", got, ok)
	}
	fifo := filepath.Join(root, "drivers/net/pipe.c")
	fixture.FIFO(t, fifo)
	fixture.Within(t, 10*time.Second, fifo, func() {
		if got, ok := NewObjects([]string{root}).UnbuiltNaming(filepath.Join(root, "mm/memblock.o"), "memblock_remove"); ok {
			t.Errorf("with a FIFO named like a source: %q searched, want not searched", got)
		}
	})
	os.Remove(fifo)
	// Without the architecture in .config the search cannot be scoped.
	write(t, filepath.Join(root, ".config"), "CONFIG_X=y\n")
	if _, ok := NewObjects([]string{root}).UnbuiltNaming(filepath.Join(root, "mm/memblock.o"), "memblock_add"); ok {
		t.Error("searched without knowing the architecture")
	}
}

// TestUnbuiltNamingOBuild: in an O= build the objects are looked for in
// the output directory, not beside the sources: a source whose object
// is there is told by it, one whose object is missing or a dangling link
// is searched.
func TestUnbuiltNamingOBuild(t *testing.T) {
	src := kernelTree(t)
	write(t, filepath.Join(src, "Makefile"), "VERSION = 6\n")
	call := "void g(void) { memblock_add(0, 1); }\n"
	write(t, filepath.Join(src, "drivers/of/fdt.c"), call)
	write(t, filepath.Join(src, "drivers/of/built.c"), call)
	write(t, filepath.Join(src, "drivers/of/dangling.c"), call)
	write(t, filepath.Join(src, "mm/memblock.c"), "int memblock_add(int a, int b) { return a + b; }\n")
	out := oBuild(t, generated(src), src)
	write(t, filepath.Join(out, ".config"), "#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86 6.1.0 Kernel Configuration\n")
	compileObjects(t, out, "mm/memblock.o", "drivers/of/built.o")
	// An object beside the source says nothing in an O= build.
	compileObjects(t, src, "drivers/of/fdt.o")
	if err := os.Symlink(filepath.Join(out, "no/such.o"), filepath.Join(out, "drivers/of/dangling.o")); err != nil {
		t.Fatal(err)
	}
	if b := DetectBuild(out); !b.OutOfTree {
		t.Fatalf("%s: %+v, want an O= build", out, b)
	}
	got, ok := NewObjects([]string{out}).UnbuiltNaming(filepath.Join(out, "mm/memblock.o"), "memblock_add")
	if want := "drivers/of/dangling.c drivers/of/fdt.c"; !ok || strings.Join(got, " ") != want {
		t.Errorf("UnbuiltNaming = %q, %v; want %s", got, ok, want)
	}
}

// TestContainsWord: a name is found as a whole word wherever it is, its
// rarest byte first or last, next to any byte; a longer identifier
// holding it is not it.
func TestContainsWord(t *testing.T) {
	for _, c := range []struct {
		data, w string
		want    bool
	}{
		{"x = __bpf_tramp_exit();", "__bpf_tramp_exit", true},
		{"__bpf_tramp_exit", "__bpf_tramp_exit", true},
		{"a__bpf_tramp_exit()", "__bpf_tramp_exit", false},
		{"__bpf_tramp_exitx __bpf_tramp_exit", "__bpf_tramp_exit", true},
		{"____bpf_tramp_exit", "__bpf_tramp_exit", false},
		{"kkfree(kfree);", "kfree", true},
		{"kfree_rcu(p)", "kfree", false},
		{"zz", "zz", true},
		{"jz jj", "jj", true},
		{"", "kfree", false},
		{"kfre", "kfree", false},
	} {
		if got := containsWord([]byte(c.data), []byte(c.w)); got != c.want {
			t.Errorf("containsWord(%q, %q) = %v, want %v", c.data, c.w, got, c.want)
		}
	}
}

// FuzzContainsWord holds containsWord to a plain search from the first
// byte.
func FuzzContainsWord(f *testing.F) {
	f.Add([]byte("x = __bpf_tramp_exit();"), []byte("__bpf_tramp_exit"))
	f.Add([]byte("kkfree(kfree);"), []byte("kfree"))
	f.Fuzz(func(t *testing.T, data, w []byte) {
		ident := func(c byte) bool {
			return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		}
		want := false
		for i := 0; len(w) > 0 && i+len(w) <= len(data); i++ {
			if bytes.Equal(data[i:i+len(w)], w) && (i == 0 || !ident(data[i-1])) && (i+len(w) == len(data) || !ident(data[i+len(w)])) {
				want = true
				break
			}
		}
		if got := containsWord(data, w); got != want {
			t.Fatalf("containsWord(%q, %q) = %v, want %v", data, w, got, want)
		}
	})
}

// TestModLister: with a lister (klp-audit's index) a directory's .mod
// files are the ones it names, their contents read as without one; a
// directory it does not know is listed.
func TestModLister(t *testing.T) {
	root := kernelTree(t)
	write(t, filepath.Join(root, "fs/nfsd/nfsd-x.mod"), "fs/nfsd/nfssvc.o\n")
	obj := filepath.Join(root, "fs/nfsd/nfssvc.o")
	for _, c := range []struct {
		what  string
		names []string
		known bool
		want  string
	}{
		{"the lister names the .mod file", []string{"nfsd-x.mod", "nfssvc.o"}, true, "nfsd_x"},
		{"the lister names none", nil, true, "vmlinux"},
		{"the lister does not know the directory", nil, false, "nfsd_x"},
	} {
		k := NewObjects([]string{root})
		var asked []string
		k.SetModLister(func(dir string) ([]string, bool) {
			asked = append(asked, dir)
			if dir == filepath.Dir(obj) {
				return c.names, c.known
			}
			return nil, false
		})
		got, err := k.Of(obj)
		if err != nil || got != c.want {
			t.Errorf("%s: Of = %q, %v; want %q", c.what, got, err, c.want)
		}
		if len(asked) == 0 || asked[0] != filepath.Dir(obj) {
			t.Errorf("%s: the lister was asked for %q, want %s first", c.what, asked, filepath.Dir(obj))
		}
	}
}

// TestWithin: within answers as filepath.Rel not leading out with "..",
// on absolute and relative roots and paths, roots with a trailing slash,
// unclean paths, "..", names that only start like the root, and "/".
func TestWithin(t *testing.T) {
	roots := []string{"/b/k", "/b/k/", "k", ".", "/", "/b/k/.", "../k"}
	paths := []string{"/b/k", "/b/k/a.o", "/b/k/mm/a.o", "/b/kx/a.o", "/b/k/../x.o", "/b/k//a.o", "/b/k/./a.o",
		"k/a.o", "kk/a.o", "./k/a.o", "a.o", ".hidden/a.o", "../k/a.o", "/x/a.o", "/", "k"}
	for _, r := range roots {
		for _, p := range paths {
			rel, err := filepath.Rel(r, p)
			want := err == nil && !strings.HasPrefix(rel, "..")
			if got := within(r, p); got != want {
				t.Errorf("within(%q, %q) = %v, filepath.Rel says %v", r, p, got, want)
			}
		}
	}
}
