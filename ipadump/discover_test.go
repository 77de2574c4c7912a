package ipadump

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klp-audit/klp-audit/internal/fixture"
	"github.com/klp-audit/klp-audit/internal/safeio"
)

// makeTree creates files (empty, or with the given content) and symlinks
// (entries whose value starts with "-> ") under root.
func makeTree(t *testing.T, root string, entries map[string]string) {
	t.Helper()
	for name, content := range entries {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "-> "); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// discover runs Discover and fails the test if it does not return in time
// (a symlink loop followed forever).
func discover(t *testing.T, roots ...string) ([]Dump, error) {
	t.Helper()
	type result struct {
		ds  []Dump
		err error
	}
	done := make(chan result, 1)
	go func() {
		ds, err := Discover(roots...)
		done <- result{ds, err}
	}()
	select {
	case r := <-done:
		return r.ds, r.err
	case <-time.After(30 * time.Second):
		t.Fatalf("Discover(%q) did not return: a symlink loop?", roots)
		return nil, nil
	}
}

const someDump = "Callgraph removal;f;1;x.c;1;2\n"

func kbuildTree(t *testing.T) string {
	root := t.TempDir()
	makeTree(t, root, map[string]string{
		"mm/oom_kill.c":                             "int x;\n",
		"mm/oom_kill.o":                             "",
		"mm/oom_kill.c.000i.ipa-clones":             someDump,
		"mm/memblock.c.000i.ipa-clones":             someDump,                        // no object
		"mm/a-link.c.000i.ipa-clones":               "-> oom_kill.c.000i.ipa-clones", // a dump already found
		"mm/loop":                                   "-> ..",                         // a loop back to the root
		"mm/notes.txt":                              "not a dump",                    // a non-dump file
		"mm/oom_kill.c.000i.ipa-clones.bak":         someDump,                        // not a dump name
		"mm/dangling.c.000i.ipa-clones":             "-> /nonexistent/klp-audit/x.c.000i.ipa-clones",
		"kernel/fork.c.000i.ipa-clones":             someDump,
		"kernel/fork.o":                             "",
		"arch/x86/entry/vdso/vma.c.001i.ipa-clones": someDump, // another pass number
		"arch/x86/entry/vdso/vma.o":                 "",
		"aa-alias":                                  "-> mm", // a directory reached twice, sorting first
		"prog.wpa.000i.ipa-clones":                  someDump,
		"prog.ltrans0.ltrans.000i.ipa-clones":       someDump,
		"prog.ltrans1.ltrans.000i.ipa-clones":       "",
		"prog":                                      "",
		".git/objects/x.c.000i.ipa-clones":          someDump, // never walked
	})
	return root
}

func TestDiscover(t *testing.T) {
	root := kbuildTree(t)
	got, err := discover(t, root)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	j := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
	want := []Dump{
		{Path: j("arch/x86/entry/vdso/vma.c.001i.ipa-clones"), Kind: UnitDump, TU: "arch/x86/entry/vdso/vma.o",
			Object: j("arch/x86/entry/vdso/vma.o"), HasObject: true},
		{Path: j("kernel/fork.c.000i.ipa-clones"), Kind: UnitDump, TU: "kernel/fork.o",
			Object: j("kernel/fork.o"), HasObject: true},
		{Path: j("mm/memblock.c.000i.ipa-clones"), Kind: UnitDump, TU: "mm/memblock.o",
			Object: j("mm/memblock.o"), HasObject: false},
		{Path: j("mm/oom_kill.c.000i.ipa-clones"), Kind: UnitDump, TU: "mm/oom_kill.o",
			Object: j("mm/oom_kill.o"), HasObject: true},
		{Path: j("prog.ltrans0.ltrans.000i.ipa-clones"), Kind: LTransDump, TU: "prog",
			Object: j("prog"), HasObject: true},
		{Path: j("prog.ltrans1.ltrans.000i.ipa-clones"), Kind: LTransDump, TU: "prog",
			Object: j("prog"), HasObject: true},
		{Path: j("prog.wpa.000i.ipa-clones"), Kind: WPADump, TU: "prog",
			Object: j("prog"), HasObject: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Discover(%s):\n%s\nwant:\n%s", root, dumpsString(got), dumpsString(want))
	}
	seen := map[string]bool{}
	for _, d := range got {
		if seen[d.Path] {
			t.Errorf("%s found twice", d.Path)
		}
		seen[d.Path] = true
	}
}

func dumpsString(ds []Dump) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("  ")
		b.WriteString(strings.Join([]string{d.Path, d.Kind.String(), d.TU, d.Object}, " | "))
		if d.HasObject {
			b.WriteString(" | has object")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestDiscoverThroughSymlink checks that a root given as a link works, and
// that a directory reached only through a link leading out of the build is
// not walked but reported, unless the caller asks to follow such links.
func TestDiscoverThroughSymlink(t *testing.T) {
	base := t.TempDir()
	makeTree(t, base, map[string]string{
		"real/mm/x.c.000i.ipa-clones": someDump,
		"real/mm/x.o":                 "",
		"build/mm":                    "-> ../real/mm",
		"root-link":                   "-> build",
	})
	realMM, err := filepath.EvalSymlinks(filepath.Join(base, "real", "mm"))
	if err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{filepath.Join(base, "build"), filepath.Join(base, "root-link")} {
		tr, err := discoverTree(t, DiscoverOptions{}, root)
		if err != nil {
			t.Fatalf("Discover(%s): %v", root, err)
		}
		wantSkipped := []SkippedLink{{Path: filepath.Join(root, "mm"), Target: realMM}}
		if len(tr.Dumps) != 0 || !reflect.DeepEqual(tr.Skipped, wantSkipped) {
			t.Errorf("Discover(%s): dumps\n%s\nskipped %v, want none and %v", root, dumpsString(tr.Dumps), tr.Skipped, wantSkipped)
		}
		if s := tr.Skipped[0].String(); !strings.Contains(s, "not followed") || !strings.Contains(s, realMM) {
			t.Errorf("note %q", s)
		}
		tr, err = discoverTree(t, DiscoverOptions{FollowOutside: true}, root)
		if err != nil {
			t.Fatalf("Discover(%s): %v", root, err)
		}
		want := []Dump{{Path: filepath.Join(root, "mm", "x.c.000i.ipa-clones"), Kind: UnitDump, TU: "mm/x.o",
			Object: filepath.Join(root, "mm", "x.o"), HasObject: true}}
		if !reflect.DeepEqual(tr.Dumps, want) || len(tr.Skipped) != 0 {
			t.Errorf("Discover(%s) following links out:\n%s\nwant:\n%s", root, dumpsString(tr.Dumps), dumpsString(want))
		}
	}
}

// discoverTree runs DiscoverTree with a time limit.
func discoverTree(t *testing.T, opt DiscoverOptions, roots ...string) (Tree, error) {
	t.Helper()
	var tr Tree
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr, err = DiscoverTree(opt, roots...)
	}()
	select {
	case <-done:
		return tr, err
	case <-time.After(30 * time.Second):
		t.Fatalf("DiscoverTree(%q) did not return", roots)
		return Tree{}, nil
	}
}

// TestDiscoverLinkToRoot: a link to "/" (or to any directory outside the
// build) is not followed and is reported; links inside the build still
// are, a link to a dump outside is reported too, and loops stay safe.
func TestDiscoverLinkToRoot(t *testing.T) {
	base := t.TempDir()
	makeTree(t, base, map[string]string{
		"outside/y.c.000i.ipa-clones":       someDump,
		"build/mm/x.c.000i.ipa-clones":      someDump,
		"build/mm/x.o":                      "",
		"build/rootfs":                      "-> /",
		"build/sub/up":                      "-> ../..",
		"build/alias":                       "-> mm",
		"build/mm/y.c.000i.ipa-clones":      "-> ../../outside/y.c.000i.ipa-clones",
		"build/mm/self":                     "-> ../mm",
		"build/sub/inner.c.000i.ipa-clones": "-> ../mm/x.c.000i.ipa-clones",
	})
	root := filepath.Join(base, "build")
	tr, err := discoverTree(t, DiscoverOptions{}, root)
	if err != nil {
		t.Fatalf("DiscoverTree: %v", err)
	}
	want := []Dump{{Path: filepath.Join(root, "mm", "x.c.000i.ipa-clones"), Kind: UnitDump, TU: "mm/x.o",
		Object: filepath.Join(root, "mm", "x.o"), HasObject: true}}
	if !reflect.DeepEqual(tr.Dumps, want) {
		t.Errorf("dumps:\n%s\nwant:\n%s", dumpsString(tr.Dumps), dumpsString(want))
	}
	var skipped []string
	for _, s := range tr.Skipped {
		skipped = append(skipped, strings.TrimPrefix(s.Path, root+"/"))
	}
	if w := []string{"mm/y.c.000i.ipa-clones", "rootfs", "sub/up"}; !reflect.DeepEqual(skipped, w) {
		t.Errorf("skipped %q, want %q", skipped, w)
	}
	// The plain API takes the same decision.
	ds, err := discover(t, root)
	if err != nil || !reflect.DeepEqual(ds, want) {
		t.Errorf("Discover: %v\n%s", err, dumpsString(ds))
	}
}

func TestDiscoverTwoRoots(t *testing.T) {
	base := t.TempDir()
	makeTree(t, base, map[string]string{
		"b1/mm/x.c.000i.ipa-clones":      someDump,
		"b1/mm/x.o":                      "",
		"b2/mm/x.c.000i.ipa-clones":      someDump,
		"b2/vmlinux.wpa.000i.ipa-clones": someDump,
	})
	r1, r2 := filepath.Join(base, "b1"), filepath.Join(base, "b2")
	got, err := discover(t, r2, r1)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	s := filepath.ToSlash
	want := []Dump{
		{Path: filepath.Join(r1, "mm", "x.c.000i.ipa-clones"), Kind: UnitDump, TU: s(r1) + "/mm/x.o",
			Object: filepath.Join(r1, "mm", "x.o"), HasObject: true},
		{Path: filepath.Join(r2, "mm", "x.c.000i.ipa-clones"), Kind: UnitDump, TU: s(r2) + "/mm/x.o",
			Object: filepath.Join(r2, "mm", "x.o"), HasObject: false},
		{Path: filepath.Join(r2, "vmlinux.wpa.000i.ipa-clones"), Kind: WPADump, TU: s(r2) + "/vmlinux",
			Object: filepath.Join(r2, "vmlinux"), HasObject: false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Discover(%s, %s):\n%s\nwant:\n%s", r2, r1, dumpsString(got), dumpsString(want))
	}
}

func TestDiscoverBadRoots(t *testing.T) {
	base := t.TempDir()
	makeTree(t, base, map[string]string{
		"good/x.c.000i.ipa-clones": someDump,
		"file":                     "",
	})
	missing := filepath.Join(base, "missing")
	got, err := discover(t, missing, filepath.Join(base, "file"), filepath.Join(base, "good"))
	if len(got) != 1 || got[0].Path != filepath.Join(base, "good", "x.c.000i.ipa-clones") {
		t.Errorf("the good root was not read:\n%s", dumpsString(got))
	}
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("got error %v, want an ErrorList of 2", err)
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(list[0].Error(), missing) {
		t.Errorf("first error %v, want one naming %s and wrapping fs.ErrNotExist", list[0], missing)
	}
	if !strings.Contains(list[1].Error(), "not a directory") {
		t.Errorf("second error %v, want 'not a directory'", list[1])
	}
}

func TestDumpKind(t *testing.T) {
	for _, tt := range []struct {
		k   DumpKind
		s   string
		lto bool
	}{
		{UnitDump, "unit", false},
		{WPADump, "lto-wpa", true},
		{LTransDump, "lto-ltrans", true},
		{DumpKind(9), "DumpKind(9)", false},
	} {
		if tt.k.String() != tt.s || tt.k.LTO() != tt.lto {
			t.Errorf("%d: String %q LTO %v, want %q %v", tt.k, tt.k.String(), tt.k.LTO(), tt.s, tt.lto)
		}
	}
}

func TestIsDumpName(t *testing.T) {
	for name, want := range map[string]bool{
		"oom_kill.c.000i.ipa-clones":           true,
		"prog.wpa.000i.ipa-clones":             true,
		"prog.ltrans12.ltrans.000i.ipa-clones": true,
		"x.cc.123i.ipa-clones":                 true,
		"oom_kill.c.000i.ipa-clones.records":   false,
		"oom_kill.c.ipa-clones":                false,
		"oom_kill.c.000.ipa-clones":            false,
		".000i.ipa-clones":                     false,
		"oom_kill.o":                           false,
	} {
		if got := IsDumpName(name); got != want {
			t.Errorf("IsDumpName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestDumpsFromList(t *testing.T) {
	root := kbuildTree(t)
	t.Chdir(root)
	abs := filepath.Join(root, "kernel", "fork.c.000i.ipa-clones")
	list := "# dumps of kernel/ and mm/\n" +
		"mm/oom_kill.c.000i.ipa-clones\n" +
		"\n" +
		"   " + abs + "  \n" +
		"mm/missing.c.000i.ipa-clones\n" +
		"mm/notes.txt\r\n" +
		"  # indented comment\n" +
		"prog.wpa.000i.ipa-clones\r\n" +
		"./mm/memblock.c.000i.ipa-clones" // no final newline
	got, err := DumpsFromList(strings.NewReader(list), "dumps.list")
	want := []Dump{
		{Path: abs, Kind: UnitDump, TU: filepath.ToSlash(filepath.Join(root, "kernel", "fork.o")),
			Object: filepath.Join(root, "kernel", "fork.o"), HasObject: true},
		{Path: "./mm/memblock.c.000i.ipa-clones", Kind: UnitDump, TU: "mm/memblock.o",
			Object: "./mm/memblock.o", HasObject: false},
		{Path: "mm/oom_kill.c.000i.ipa-clones", Kind: UnitDump, TU: "mm/oom_kill.o",
			Object: "mm/oom_kill.o", HasObject: true},
		{Path: "prog.wpa.000i.ipa-clones", Kind: WPADump, TU: "prog", Object: "prog", HasObject: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DumpsFromList:\n%s\nwant:\n%s", dumpsString(got), dumpsString(want))
	}
	var list2 ErrorList
	if !errors.As(err, &list2) || len(list2) != 2 {
		t.Fatalf("got error %v, want an ErrorList of 2", err)
	}
	for i, w := range []struct {
		line int
		text string
	}{{5, "mm/missing.c.000i.ipa-clones"}, {6, "mm/notes.txt"}} {
		var pe *ParseError
		if !errors.As(list2[i], &pe) || pe.Dump != "dumps.list" || pe.Line != w.line || pe.Text != w.text {
			t.Errorf("error %d: %v, want *ParseError at dumps.list:%d naming %q", i, list2[i], w.line, w.text)
		}
	}
	if !errors.Is(list2[0], fs.ErrNotExist) {
		t.Errorf("missing dump: %v, want fs.ErrNotExist", list2[0])
	}
}

func TestDumpsFromListIOError(t *testing.T) {
	root := kbuildTree(t)
	errDisk := errors.New("disk on fire")
	line := filepath.Join(root, "kernel", "fork.c.000i.ipa-clones") + "\n"
	got, err := DumpsFromList(&failReader{line, errDisk}, "dumps.list")
	if len(got) != 1 || got[0].TU == "" {
		t.Errorf("dumps before the I/O error: %s", dumpsString(got))
	}
	var pe *ParseError
	if !errors.Is(err, errDisk) || !errors.As(err, &pe) || pe.Line != 2 {
		t.Errorf("got %v, want a *ParseError at dumps.list:2 wrapping %v", err, errDisk)
	}
}

func TestDiscoverRelativeRoot(t *testing.T) {
	root := kbuildTree(t)
	t.Chdir(filepath.Join(root, "kernel"))
	got, err := discover(t, "..")
	if err != nil {
		t.Fatalf("Discover(..): %v", err)
	}
	var tus []string
	for _, d := range got {
		tus = append(tus, d.TU)
		if !d.HasObject && d.TU != "mm/memblock.o" {
			t.Errorf("%s: object %s not found", d.Path, d.Object)
		}
	}
	want := []string{"arch/x86/entry/vdso/vma.o", "kernel/fork.o", "mm/memblock.o", "mm/oom_kill.o", "prog", "prog", "prog"}
	if !reflect.DeepEqual(tus, want) {
		t.Errorf("Discover(..) TUs %q, want %q", tus, want)
	}
	if got[1].Path != filepath.Join("..", "kernel", "fork.c.000i.ipa-clones") {
		t.Errorf("path %q, want it relative to the working directory", got[1].Path)
	}
}

// TestDumpsFromFile: relative paths in a list are taken relative to the
// list's directory, not to where klp-audit runs; the TU is the object's
// path as the list spells it.
func TestDumpsFromFile(t *testing.T) {
	root := kbuildTree(t)
	list := filepath.Join(root, "dumps.list")
	if err := os.WriteFile(list, []byte("mm/oom_kill.c.000i.ipa-clones\n./kernel/fork.c.000i.ipa-clones\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // somewhere the list's paths do not exist
	got, err := DumpsFromFile(list)
	if err != nil {
		t.Fatalf("DumpsFromFile: %v", err)
	}
	want := []Dump{
		{Path: filepath.Join(root, "kernel", "fork.c.000i.ipa-clones"), Kind: UnitDump, TU: "kernel/fork.o",
			Object: filepath.Join(root, "kernel", "fork.o"), HasObject: true},
		{Path: filepath.Join(root, "mm", "oom_kill.c.000i.ipa-clones"), Kind: UnitDump, TU: "mm/oom_kill.o",
			Object: filepath.Join(root, "mm", "oom_kill.o"), HasObject: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DumpsFromFile:\n%s\nwant:\n%s", dumpsString(got), dumpsString(want))
	}
}

// TestDumpsFromFileHostile: a FIFO or /dev/zero as the list, a FIFO named
// in the list and an endless line give errors at once, never a hang.
func TestDumpsFromFileHostile(t *testing.T) {
	dir := t.TempDir()
	fifoList := fixture.FIFO(t, filepath.Join(dir, "fifo.list"))
	zeroList := filepath.Join(dir, "zero.list")
	if err := os.Symlink("/dev/zero", zeroList); err != nil {
		t.Fatal(err)
	}
	fifoDump := fixture.FIFO(t, filepath.Join(dir, "f.c.000i.ipa-clones"))
	list := filepath.Join(dir, "dumps.list")
	content := "f.c.000i.ipa-clones\n" + strings.Repeat("x", MaxListLine+10) + "\n"
	if err := os.WriteFile(list, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{fifoList, zeroList} {
		fixture.Within(t, 5*time.Second, l, func() {
			_, err := DumpsFromFile(l)
			if !errors.Is(err, safeio.ErrNotRegular) || !strings.Contains(err.Error(), l) {
				t.Errorf("DumpsFromFile(%s): %v, want an error naming it, not a regular file", l, err)
			}
		})
	}
	fixture.Within(t, 5*time.Second, list, func() {
		got, err := DumpsFromFile(list)
		var el ErrorList
		if len(got) != 0 || !errors.As(err, &el) || len(el) != 2 {
			t.Fatalf("DumpsFromFile: %v, %v", dumpsString(got), err)
		}
		var pe *ParseError
		if !errors.As(el[0], &pe) || pe.Line != 1 || !errors.Is(el[0], safeio.ErrNotRegular) || !strings.Contains(el[0].Error(), "a FIFO") {
			t.Errorf("FIFO in the list: %v", el[0])
		}
		if !errors.As(el[1], &pe) || pe.Line != 2 || !errors.Is(el[1], safeio.ErrLineTooLong) {
			t.Errorf("long line: %v", el[1])
		}
	})
	fixture.Within(t, 5*time.Second, fifoDump, func() {
		if _, err := OpenDump(fifoDump); !errors.Is(err, safeio.ErrNotRegular) {
			t.Errorf("OpenDump(FIFO): %v", err)
		}
	})
	big := fixture.Sparse(t, filepath.Join(dir, "big.c.000i.ipa-clones"), 200<<30)
	if _, err := OpenDump(big); !errors.Is(err, safeio.ErrTooLarge) || !strings.Contains(err.Error(), big) {
		t.Errorf("OpenDump(200 GB): %v", err)
	}
}
