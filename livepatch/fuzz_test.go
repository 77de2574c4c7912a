package livepatch

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// FuzzParseFuncsList: a --funcs list of any content gives functions or an
// error naming the file, never a panic, and never an entry without a
// name.
func FuzzParseFuncsList(f *testing.F) {
	f.Add([]byte("- object: vmlinux\n  old_name: read_msg\n- old_name: write_msg\n  old_sympos: 2\n"))
	f.Add([]byte("- {object: nfsd, old_name: nfsd4_encode_fattr, old_sympos: 0}\n"))
	f.Add([]byte("- old_name: x\n  old_sympos: -5\n"))
	f.Add([]byte("[]\n"))
	f.Add([]byte("old_name: x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "funcs.yaml")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fs, err := ParseFuncsList(p)
		if err != nil {
			return
		}
		for _, fn := range fs {
			if fn.OldName == "" || fn.OldSympos < 0 {
				t.Fatalf("entry %+v from\n%s", fn, data)
			}
		}
	})
}

// FuzzOpenLinkedFiles: a --vmlinux file of any content opens as a linked
// file or gives an error, never a panic; what opens answers name
// lookups. The seeds are a program the machine's gcc links (a linked ELF
// file with a symbol table, as vmlinux is) and a relocatable object.
func FuzzOpenLinkedFiles(f *testing.F) {
	if _, err := exec.LookPath("gcc"); err == nil {
		dir := f.TempDir()
		src := filepath.Join(dir, "p.c")
		if err := os.WriteFile(src, []byte("static int helper(int x) { return x * 3; }\nint (*volatile fp)(int) = helper;\nint main(void) { return fp(1); }\n"), 0o644); err != nil {
			f.Fatal(err)
		}
		for _, args := range [][]string{{"-O2", "-o", "prog", "p.c"}, {"-O2", "-c", "-o", "p.o", "p.c"}} {
			cmd := exec.Command("gcc", args...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				f.Fatalf("gcc: %v\n%s", err, out)
			}
			b, err := os.ReadFile(filepath.Join(dir, args[len(args)-2]))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "vmlinux")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		lfs, err := OpenLinkedFiles([]string{p})
		if err != nil {
			return
		}
		defer lfs.Close()
		for _, lf := range lfs.all {
			lf.Named("helper")
			lf.Named("main")
			lf.WithPrefix("h", 4)
		}
	})
}
