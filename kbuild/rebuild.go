package kbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/klp-audit/klp-audit/internal/safeio"
)

// Builder rebuilds units of kernel trees.
type Builder struct {
	// Scratch is a directory for shadows and outputs; the caller removes
	// it.
	Scratch string
	// CacheDir, when set, keeps rebuilt originals (units rebuilt with no
	// replaced file), keyed by the command and the hashes of the source,
	// every file of the deps list and the compiler.
	CacheDir string
}

// Rebuilt is one unit compiled again.
type Rebuilt struct {
	// Object is the compiled object; Dumps the ipa-clones dumps the
	// compiler wrote beside it.
	Object string
	Dumps  []string
	// Dir is the shadow tree the compiler ran in (kept until Scratch is
	// removed): Faithful runs objtool there.
	Dir string
	// Cached says Object came from the cache.
	Cached bool
}

// maxSourceFile caps a source or header read for hashing.
const maxSourceFile = 64 << 20

// Rebuild compiles u again with files (paths relative to the tree root
// -> content) replacing the tree's files, into a new directory under
// b.Scratch named after label. The compiler's diagnostics are in the
// error when it fails.
func (b *Builder) Rebuild(ctx context.Context, u Unit, files map[string][]byte, label string) (*Rebuilt, error) {
	return b.RebuildJob(ctx, Job{Unit: u, Files: files, Label: label})
}

// RebuildJob is Rebuild of j's unit, with j's files, in a directory named
// after j's label; with j.NoDebug the compiler writes no debugging
// information (-g0 after the command's flags).
func (b *Builder) RebuildJob(ctx context.Context, j Job) (*Rebuilt, error) {
	u, files, label := j.Unit, j.Files, j.Label
	if u.Err != nil {
		return nil, u.Err
	}
	cf := u.Cmd
	tree, err := filepath.Abs(u.Root)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(b.Scratch, label+"-")
	if err != nil {
		return nil, err
	}
	shadow, out := filepath.Join(work, "tree"), filepath.Join(work, "out")
	for _, d := range []string{shadow, out} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := Shadow(tree, shadow, files); err != nil {
		return nil, err
	}
	obj := filepath.Join(out, path.Base(cf.Target))
	key := ""
	if b.CacheDir != "" && len(files) == 0 && !j.NoDebug {
		if key, err = b.cacheKey(tree, cf); err == nil {
			if r, ok := b.fromCache(key, out, obj); ok {
				r.Dir = shadow
				return r, nil
			}
		}
	}
	deps := filepath.Join(work, "deps.d")
	argv := b.argv(cf, tree, shadow, obj, deps)
	if j.NoDebug {
		argv = append(argv, "-g0")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = shadow
	// gcc's own temporary files (the .s between cc1 and as) go to the
	// work directory, removed with it: a compile stopped half-way
	// leaves nothing in the user's TMPDIR.
	cmd.Env = append(os.Environ(), "TMPDIR="+work)
	// Stopping the compile stops cc1 and as too, not only the driver.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 4000 {
			msg = msg[:4000] + "..."
		}
		return nil, fmt.Errorf("%s: %w\n%s", cf.Target, err, msg)
	}
	if err := checkReplacedRead(deps, cf, files, tree); err != nil {
		return nil, err
	}
	r := &Rebuilt{Object: obj, Dir: shadow, Dumps: dumpsIn(out)}
	if key != "" {
		b.toCache(key, out) // a cache that cannot be written only costs time
	}
	return r, nil
}

// argv is the compiler part of cf's command for a rebuild: the
// dependency file goes to deps, the output to obj, and the DWARF
// compilation directory (the shadow) reads as the tree.
func (b *Builder) argv(cf *CmdFile, tree, shadow, obj, deps string) []string {
	argv := make([]string, 0, len(cf.Compile)+2)
	for i := 0; i < len(cf.Compile); i++ {
		w := cf.Compile[i]
		switch {
		case strings.HasPrefix(w, "-Wp,-MMD,"), strings.HasPrefix(w, "-Wp,-MD,"):
			continue
		case w == "-o" && i > 0:
			argv = append(argv, "-o", obj)
			i++
			continue
		}
		argv = append(argv, w)
	}
	return append(argv, "-Wp,-MMD,"+deps, "-fdebug-prefix-map="+shadow+"="+tree)
}

// checkReplacedRead reads the dependency file the compiler wrote and
// checks that every replaced file the unit reads was read from the
// shadow, under its relative name, and not from the tree by an absolute
// path (which would build the original instead).
func checkReplacedRead(deps string, cf *CmdFile, files map[string][]byte, tree string) error {
	if len(files) == 0 {
		return nil
	}
	data, err := safeio.ReadFile(deps, MaxCmdSize)
	if err != nil {
		return fmt.Errorf("%s: the compiler's dependency file: %w", cf.Target, err)
	}
	read := map[string]bool{}
	for _, f := range strings.Fields(strings.ReplaceAll(string(data), "\\\n", " ")) {
		read[strings.TrimPrefix(f, "./")] = true
	}
	for f := range files {
		if read[filepath.Join(tree, filepath.FromSlash(f))] {
			return fmt.Errorf("%s: the compiler read the tree's %s by its absolute path, not the patched copy", cf.Target, f)
		}
	}
	return nil
}

func dumpsIn(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "*.ipa-clones"))
	sort.Strings(m)
	return m
}

// cacheKey hashes what the compiler's output depends on: the command,
// the compiler binary, and the content of the source and of every file of
// the deps list. A file that cannot be read makes the unit uncacheable.
func (b *Builder) cacheKey(tree string, cf *CmdFile) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "klp-audit rebuild 1\x00%s\x00%s\x00", tree, strings.Join(cf.Compile, "\x00"))
	cc, err := exec.LookPath(cf.Compile[0])
	if err != nil {
		return "", err
	}
	st, err := os.Stat(cc)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00", cc, st.Size(), st.ModTime().UnixNano())
	files := append([]string{cf.Source}, cf.Deps...)
	for _, f := range files {
		data, err := safeio.ReadFile(filepath.Join(tree, filepath.FromSlash(f)), maxSourceFile)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(h, "%s\x00%x\x00", f, sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (b *Builder) fromCache(key, out, obj string) (*Rebuilt, bool) {
	dir := filepath.Join(b.CacheDir, key[:2], key)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, false
	}
	found := false
	for _, e := range ents {
		if err := copyFile(filepath.Join(dir, e.Name()), filepath.Join(out, e.Name())); err != nil {
			return nil, false
		}
		if e.Name() == filepath.Base(obj) {
			found = true
		}
	}
	if !found {
		return nil, false
	}
	return &Rebuilt{Object: obj, Dumps: dumpsIn(out), Cached: true}, true
}

func (b *Builder) toCache(key, out string) {
	final := filepath.Join(b.CacheDir, key[:2], key)
	if _, err := os.Stat(final); err == nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), ".tmp-")
	if err != nil {
		return
	}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if err := copyFile(filepath.Join(out, e.Name()), filepath.Join(tmp, e.Name())); err != nil {
			os.RemoveAll(tmp)
			return
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp) // another process cached it first
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// DefaultCacheDir is where rebuilt originals are kept:
// $XDG_CACHE_HOME/klp-audit/rebuild (~/.cache/klp-audit/rebuild).
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "klp-audit", "rebuild"), nil
}

// ErrObjtoolNotRun says the objtool step of a .cmd file could not be
// replayed: Faithful then compares with objtool's edits allowed.
var ErrObjtoolNotRun = errors.New("objtool step not replayed")

// Objtool replays the objtool step of cf's command (the words after the
// compiler's, when they run a program named objtool on the target with
// options only) on a copy of r's object, in r's shadow tree, and returns
// the copy. With no such step, or no objtool binary in the tree, the
// error wraps ErrObjtoolNotRun.
func Objtool(ctx context.Context, cf *CmdFile, r *Rebuilt) (string, error) {
	var argv []string
	for _, p := range cf.Post {
		if path.Base(p[0]) != "objtool" || p[len(p)-1] != cf.Target {
			continue
		}
		ok := true
		for _, w := range p[1 : len(p)-1] {
			if !strings.HasPrefix(w, "-") {
				ok = false
			}
		}
		if ok {
			argv = p
			break
		}
	}
	if argv == nil {
		return "", fmt.Errorf("%s: no objtool step in %s: %w", cf.Target, cf.Path, ErrObjtoolNotRun)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, filepath.FromSlash(argv[0]))); err != nil {
		return "", fmt.Errorf("%s: %v: %w", cf.Target, err, ErrObjtoolNotRun)
	}
	cp := r.Object + ".objtool.o"
	if err := copyFile(r.Object, cp); err != nil {
		return "", err
	}
	args := append(append([]string{}, argv[1:len(argv)-1]...), cp)
	cmd := exec.CommandContext(ctx, argv[0], args...)
	if !strings.Contains(argv[0], "/") {
		cmd = exec.CommandContext(ctx, "./"+argv[0], args...)
	}
	cmd.Dir = r.Dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s: objtool: %w\n%s", cf.Target, err, bytes.TrimSpace(b))
	}
	return cp, nil
}
