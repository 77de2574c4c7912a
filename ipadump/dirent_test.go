package ipadump

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// TestListDir: listDir gives the names and types os.ReadDir gives, for
// a directory of every kind of entry and more entries than one read of
// its buffer holds, and os.ReadDir's error for what is no directory.
func TestListDir(t *testing.T) {
	dir := t.TempDir()
	for i := range 600 {
		name := fmt.Sprintf("file-with-a-longish-name-%03d.c", i)
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.c.000i.ipa-clones"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nowhere", filepath.Join(dir, "link.o")); err != nil {
		t.Fatal(err)
	}
	fixture.FIFO(t, filepath.Join(dir, "fifo.c.000i.ipa-clones"))
	if err := syscall.Mknod(filepath.Join(dir, "null.o"), syscall.S_IFCHR|0o644, 1<<8|3); err != nil {
		t.Logf("no device made: %v", err)
	}
	l, err := listenUnix(filepath.Join(dir, "sock.o"))
	if err == nil {
		defer l()
	}
	want := map[string]fs.FileMode{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		want[e.Name()] = e.Type()
	}
	got := map[string]fs.FileMode{}
	buf := make([]byte, 4096) // a few of the 600 names at a time
	if err := listDir(dir, buf, func(name []byte, typ fs.FileMode) {
		if _, dup := got[string(name)]; dup {
			t.Errorf("%s listed twice", name)
		}
		got[string(name)] = typ
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("listDir: %d entries, os.ReadDir %d", len(got), len(want))
	}
	var names []string
	for n, typ := range want {
		if g, ok := got[n]; !ok || g != typ {
			names = append(names, fmt.Sprintf("%s: %v, %v (listed %v)", n, g, typ, ok))
		}
	}
	sort.Strings(names)
	if len(names) > 0 {
		t.Errorf("listDir and os.ReadDir differ:\n%s", strings.Join(names, "\n"))
	}
	for _, p := range []string{filepath.Join(dir, "missing"), filepath.Join(dir, "file-with-a-longish-name-000.c")} {
		err := listDir(p, buf, func([]byte, fs.FileMode) { t.Errorf("%s: an entry", p) })
		_, rerr := os.ReadDir(p)
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Path != p || fmt.Sprint(err) != fmt.Sprint(rerr) {
			t.Errorf("listDir(%s): %v; os.ReadDir: %v", p, err, rerr)
		}
	}
}

// listenUnix makes a Unix socket at path; the function returned closes it.
func listenUnix(path string) (func(), error) {
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	return func() { l.Close() }, nil
}

// TestDiscoverOddEntries: what the walk passes over or refuses on the
// type its directory listing gives: a FIFO or a directory named like a
// dump, a FIFO named like an object (errors naming them), a second hard
// link to a dump (found once), .git (not walked), and a dump whose
// object is no regular file (its object still exists).
func TestDiscoverOddEntries(t *testing.T) {
	root := t.TempDir()
	j := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
	for _, d := range []string{"kernel", ".git", "mm/dir.c.000i.ipa-clones"} {
		if err := os.MkdirAll(j(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"kernel/fork.c.000i.ipa-clones", "kernel/fork.o", ".git/x.c.000i.ipa-clones", "mm/a.c.000i.ipa-clones"} {
		if err := os.WriteFile(j(f), []byte(removalLine), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(j("kernel/fork.c.000i.ipa-clones"), j("kernel/fork.c.001i.ipa-clones")); err != nil {
		t.Fatal(err)
	}
	fixture.FIFO(t, j("kernel/pipe.c.000i.ipa-clones"))
	fixture.FIFO(t, j("mm/a.o"))
	tr, err := DiscoverTree(DiscoverOptions{}, root)
	var got []string
	for _, d := range tr.Dumps {
		got = append(got, fmt.Sprintf("%s %s %v", strings.TrimPrefix(d.Path, root), d.TU, d.HasObject))
	}
	want := []string{"/kernel/fork.c.000i.ipa-clones kernel/fork.o true", "/mm/a.c.000i.ipa-clones mm/a.o true"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("dumps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if fmt.Sprint(tr.Objects) != fmt.Sprint([]string{j("kernel/fork.o")}) {
		t.Errorf("objects %v", tr.Objects)
	}
	var el ErrorList
	if !errors.As(err, &el) || len(el) != 3 {
		t.Fatalf("errors: %v, want 3", err)
	}
	var msgs []string
	for _, e := range el {
		msgs = append(msgs, e.Error())
	}
	sort.Strings(msgs)
	for i, w := range []string{
		"ipa-clones dump not read: " + j("kernel/pipe.c.000i.ipa-clones") + ": a FIFO, not a regular file",
		"ipa-clones dump not read: " + j("mm/dir.c.000i.ipa-clones") + ": a directory, not a regular file",
		"object not read: " + j("mm/a.o") + ": a FIFO, not a regular file",
	} {
		if msgs[i] != w {
			t.Errorf("error %q, want %q", msgs[i], w)
		}
	}
}
