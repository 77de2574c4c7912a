package livepatch

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klp-audit/klp-audit/internal/par"
	"github.com/klp-audit/klp-audit/internal/safeio"
	"golang.org/x/sys/unix"
)

// Objects says which klp_object each object file belongs to: "vmlinux"
// or a module's name. kbuild writes, for every module foo, a foo.mod file
// listing its objects by their paths in the build (they may lie in
// subdirectories: fs/xfs/xfs.mod lists fs/xfs/libxfs/*.o), and for every
// directory linked into vmlinux a thin archive (built-in.a, and lib.a for
// lib-y objects) naming the objects it links. An object of a kernel tree
// that a .mod file lists belongs to that module; one that a directory's
// archive lists, or whose directories have no archive to tell, to vmlinux.
// An object that neither lists, below an archive newer than it, is linked
// into an image of its own (the vDSO, the real-mode trampoline, the boot
// decompressor, the kexec purgatory, the EFI stub): no livepatch can
// replace it (NotLinked). A build directory is a kernel tree when
// DetectBuild says so: a build in the source tree, or an O= output
// directory. Outside a kernel tree the answer is unknown: "".
type Objects struct {
	mu       sync.Mutex
	roots    []string
	kernel   map[string]bool              // build root -> is a kernel tree
	modules  map[string]map[string]string // dir -> object path (relative to the root) -> module
	errs     map[string]error             // dir -> why its .mod files could not be read
	archives map[string]*archiveSet       // dir -> what its built-in.a and lib.a link (nil: none)
	// notLinked caches NotLinked by object path: the rules ask it of
	// every unit on each search of the build.
	notLinked map[string]string

	// listMods, when set, gives a directory's .mod file names
	// (SetModLister).
	listMods func(dir string) ([]string, bool)
	// known, when set, gives objects' linkage worked out before
	// (SetKnownLinkage).
	known func(obj string) (Linkage, bool)

	unbuiltMu sync.Mutex
	unbuilt   map[string]*unbuiltSet // build root -> its sources in directories not built
}

// archiveSet is what a directory's kbuild archives link into vmlinux.
type archiveSet struct {
	members map[string]bool // object paths relative to the build root
	mtime   time.Time       // the oldest archive's modification time
	err     error           // an archive that could not be read
}

// NewObjects returns the klp_object oracle of the build roots.
func NewObjects(roots []string) *Objects {
	return &Objects{roots: roots, kernel: map[string]bool{}, modules: map[string]map[string]string{}, errs: map[string]error{},
		archives: map[string]*archiveSet{}}
}

// SetModLister makes k take the names of a directory's .mod files from
// list (klp-audit's index, which knows them while the directory is
// unchanged) instead of listing the directory; when list says false, the
// directory is listed. Their contents are read as before.
func (k *Objects) SetModLister(list func(dir string) ([]string, bool)) {
	k.mu.Lock()
	k.listMods = list
	k.mu.Unlock()
}

// Linkage is what kbuild's lists say of one object of a kernel tree: the
// module whose .mod file lists it ("" for none: vmlinux, or no image
// livepatch reaches), and NotLinked's answer.
type Linkage struct{ Module, NotLinked string }

// Linkage works out obj's linkage, as Of and NotLinked answer; false
// outside a kernel tree, or when which module links obj is unknown (a
// .mod file that cannot be read: Of's error).
func (k *Objects) Linkage(obj string) (Linkage, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	root, ok := k.kernelRoot(obj)
	if !ok {
		return Linkage{}, false
	}
	mod, err := k.module(root, obj)
	if err != nil {
		return Linkage{}, false
	}
	return Linkage{Module: mod, NotLinked: k.notLinkedOf(obj)}, true
}

// SetKnownLinkage makes k answer Of and NotLinked for the objects of a
// kernel tree that known knows (klp-audit's index, which keeps each
// answer with the state of every kbuild list it came from, and says
// false when one changed) instead of reading kbuild's lists; others are
// worked out as before. Whether a build directory is a kernel tree is
// still found out (DetectBuild).
func (k *Objects) SetKnownLinkage(known func(obj string) (Linkage, bool)) {
	k.mu.Lock()
	k.known = known
	k.mu.Unlock()
}

// InKernelTree reports whether object path obj lies in a kernel tree.
func (k *Objects) InKernelTree(obj string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.kernelRoot(obj)
	return ok
}

// kernelRoot returns the build root holding obj and whether it is a kernel
// tree (DetectBuild). Call with k.mu held.
func (k *Objects) kernelRoot(obj string) (string, bool) {
	root := ""
	for _, r := range k.roots {
		if within(r, obj) {
			root = r
			break
		}
	}
	if root == "" {
		return "", false
	}
	isKernel, ok := k.kernel[root]
	if !ok {
		isKernel = DetectBuild(root).Kernel
		k.kernel[root] = isKernel
	}
	return root, isKernel
}

// within reports whether path p lies in directory root, as
// filepath.Rel(root, p) not leading out with ".." says; without Rel's
// work when p plainly starts with root's path and holds no "..".
func within(root, p string) bool {
	if r := strings.TrimSuffix(root, "/"); r != "" && strings.HasPrefix(p, r) && !strings.Contains(p, "..") &&
		(len(p) == len(r) || p[len(r)] == '/') && filepath.Clean(r) == r {
		return true
	}
	rel, err := filepath.Rel(root, p)
	return err == nil && !strings.HasPrefix(rel, "..")
}

// Of returns the klp_object name of object path obj. When a .mod file of
// its directories cannot be read, which module (if any) links it is
// unknown: the error says why and the name is "".
func (k *Objects) Of(obj string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	root, ok := k.kernelRoot(obj)
	if !ok {
		return "", nil
	}
	if k.known != nil {
		if l, ok := k.known(obj); ok {
			if l.Module != "" {
				return l.Module, nil
			}
			return "vmlinux", nil
		}
	}
	mod, err := k.module(root, obj)
	if mod != "" || err != nil {
		return mod, err
	}
	return "vmlinux", nil
}

// NotLinked says why object obj of a kernel tree is linked into neither
// vmlinux nor a module, so that no livepatch can replace its code and it
// calls nothing a livepatch replaces: no .mod file lists it, and the
// nearest kbuild archive of its directories (built-in.a, lib.a), newer
// than the object, does not either. "" when it is linked, outside a
// kernel tree, or when nothing tells (no archive, an archive older than
// the object, one that cannot be read).
func (k *Objects) NotLinked(obj string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if why, ok := k.notLinked[obj]; ok {
		return why
	}
	why := k.notLinkedOf(obj)
	if k.notLinked == nil {
		k.notLinked = map[string]string{}
	}
	k.notLinked[obj] = why
	return why
}

// notLinkedOf is NotLinked, worked out. Call with k.mu held.
func (k *Objects) notLinkedOf(obj string) string {
	root, ok := k.kernelRoot(obj)
	if !ok {
		return ""
	}
	if k.known != nil {
		if l, ok := k.known(obj); ok {
			return l.NotLinked
		}
	}
	if mod, err := k.module(root, obj); mod != "" || err != nil {
		return ""
	}
	rel, ok := relTo(root, obj)
	if !ok {
		return ""
	}
	var nearest *archiveSet
	for dir := filepath.Dir(obj); ; dir = filepath.Dir(dir) {
		if _, in := relTo(root, dir); !in {
			break
		}
		a := k.archivesIn(root, dir)
		if a != nil {
			if a.err != nil {
				return ""
			}
			if a.members[rel] {
				return ""
			}
			if nearest == nil {
				nearest = a
			}
		}
		if dir == root || dir == filepath.Dir(dir) {
			break
		}
	}
	if nearest == nil {
		return ""
	}
	// Stat'ed last: most objects are found in an archive above.
	fi, err := os.Stat(obj)
	if err != nil || nearest.mtime.Before(fi.ModTime()) {
		return ""
	}
	return "linked into neither vmlinux nor a module (no kbuild built-in.a, lib.a or .mod file of its directories lists it): " + imageOf(rel)
}

// imageOf names the image kbuild links an object of neither vmlinux nor a
// module into, from where it lies.
func imageOf(rel string) string {
	for _, c := range []struct{ part, what string }{
		{"/vdso", "vDSO code, run in user space"},
		{"/realmode/", "real-mode trampoline code"},
		{"/purgatory/", "kexec purgatory code"},
		{"/libstub/", "EFI stub code"},
		{"/boot/", "boot loader code"},
	} {
		if strings.Contains("/"+rel, c.part) {
			return c.what
		}
	}
	return "code of an image of its own"
}

// relTo returns path p relative to root, with slashes, and whether it lies
// inside root.
func relTo(root, p string) (string, bool) {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// module returns the module whose .mod file lists obj, looking in obj's
// directory and each one above it inside root; "" when none does. Call
// with k.mu held.
func (k *Objects) module(root, obj string) (string, error) {
	rel, ok := relTo(root, obj)
	if !ok {
		return "", nil
	}
	var errs []string
	for dir := filepath.Dir(obj); ; dir = filepath.Dir(dir) {
		if _, in := relTo(root, dir); !in {
			break
		}
		if m, ok := k.modulesIn(root, dir)[rel]; ok {
			return m, nil
		}
		if err := k.errs[dir]; err != nil {
			errs = append(errs, err.Error())
		}
		if dir == root || dir == filepath.Dir(dir) {
			break
		}
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("which module links %s is unknown: kbuild's .mod files of its directories cannot be read: %s", obj, strings.Join(errs, "; "))
	}
	return "", nil
}

// modulesIn reads the .mod files of dir, once: object path (relative to
// root) -> module. Call with k.mu held.
func (k *Objects) modulesIn(root, dir string) map[string]string {
	if mods, ok := k.modules[dir]; ok {
		return mods
	}
	mods := map[string]string{}
	k.modules[dir] = mods
	var names []string
	listed := false
	if k.listMods != nil {
		names, listed = k.listMods(dir)
	}
	if !listed {
		ents, err := os.ReadDir(dir)
		if err != nil {
			k.errs[dir] = err
		}
		for _, e := range ents {
			names = append(names, e.Name())
		}
	}
	for _, file := range names {
		name, isMod := strings.CutSuffix(file, ".mod")
		if !isMod {
			continue
		}
		b, err := readSmall(filepath.Join(dir, file))
		if err != nil {
			k.errs[dir] = err
			continue
		}
		mod := strings.ReplaceAll(name, "-", "_")
		for _, f := range strings.Fields(string(b)) {
			if !strings.HasSuffix(f, ".o") {
				continue
			}
			if !strings.Contains(f, "/") {
				// A bare name is the .mod file's neighbour.
				if r, ok := relTo(root, filepath.Join(dir, f)); ok {
					f = r
				}
			}
			mods[path.Clean(f)] = mod
		}
		// foo.o beside foo.mod is the module's objects linked
		// together (ld -r @foo.mod), before modpost makes foo.ko.
		if r, ok := relTo(root, filepath.Join(dir, name+".o")); ok {
			mods[r] = mod
		}
	}
	return mods
}

// archivesIn reads dir's kbuild archives, once; nil when it has none.
// Call with k.mu held.
func (k *Objects) archivesIn(root, dir string) *archiveSet {
	if a, ok := k.archives[dir]; ok {
		return a
	}
	var a *archiveSet
	for _, name := range []string{"built-in.a", "lib.a"} {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if a == nil {
			a = &archiveSet{members: map[string]bool{}, mtime: fi.ModTime()}
		}
		if fi.ModTime().Before(a.mtime) {
			a.mtime = fi.ModTime()
		}
		names, err := ArchiveMembers(p)
		if err != nil {
			a.err = err
			continue
		}
		for _, n := range names {
			// A thin archive names its members relative to itself.
			if !filepath.IsAbs(n) {
				n = filepath.Join(dir, n)
			}
			if r, ok := relTo(root, n); ok {
				a.members[r] = true
			}
		}
	}
	k.archives[dir] = a
	return a
}

// readSmall reads a kbuild list file (a .mod file), bounded.
func readSmall(p string) ([]byte, error) {
	f, err := safeio.OpenLimit(p, 64<<20)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f.Reader())
}

// UnbuiltNaming returns the C and assembler sources of obj's kernel tree
// that name function name as a whole word and that kbuild did not build
// in directories it did not enter either (no built-in.a or lib.a beside
// them): a call to name there is unseen in the objects. A source that was
// built (its object is there) is told by its object; one in a directory
// kbuild entered but did not build is not in this configuration.
// Headers are not searched (a header's inline function that calls name
// shows in the objects of the units that use it), nor scripts/, tools/,
// samples/, Documentation/ or another architecture's arch/ directory.
// A source that is a symbolic link is read through it. The second result
// is false outside a kernel tree or when the sources cannot be searched:
// one cannot be read, or is neither a file nor a link (a FIFO named x.c).
func (k *Objects) UnbuiltNaming(obj, name string) ([]string, bool) {
	if name == "" {
		return nil, false
	}
	k.unbuiltMu.Lock()
	defer k.unbuiltMu.Unlock()
	u := k.unbuiltOf(obj)
	if u == nil {
		return nil, false
	}
	if out, ok := u.named[name]; ok {
		return out, out != nil
	}
	u.search([]string{name})
	out := u.named[name]
	return out, out != nil
}

// UnbuiltNamingMany searches, reading each source once, for every
// names[i] what UnbuiltNaming(objs[i], names[i]) answers, which it then
// answers from what was found.
func (k *Objects) UnbuiltNamingMany(objs, names []string) {
	k.unbuiltMu.Lock()
	defer k.unbuiltMu.Unlock()
	want := map[*unbuiltSet][]string{}
	var order []*unbuiltSet
	for i, obj := range objs {
		u := k.unbuiltOf(obj)
		if u == nil || names[i] == "" {
			continue
		}
		if _, ok := u.named[names[i]]; ok || slices.Contains(want[u], names[i]) {
			continue
		}
		if want[u] == nil {
			order = append(order, u)
		}
		want[u] = append(want[u], names[i])
	}
	for _, u := range order {
		u.search(want[u])
	}
}

// unbuiltOf returns the sources UnbuiltNaming searches for obj's kernel
// tree, listed the first time; nil outside a kernel tree or when they
// cannot be listed. k.unbuiltMu is held.
func (k *Objects) unbuiltOf(obj string) *unbuiltSet {
	k.mu.Lock()
	root, ok := k.kernelRoot(obj)
	k.mu.Unlock()
	if !ok {
		return nil
	}
	u, ok := k.unbuilt[root]
	if !ok {
		u = k.unbuiltSources(root)
		if k.unbuilt == nil {
			k.unbuilt = map[string]*unbuiltSet{}
		}
		k.unbuilt[root] = u
	}
	return u
}

// search reads every source of u once, in parallel through buffers
// reused from file to file, for each of names as a whole word, and keeps
// each name's answer in u.named: nil for all when a source cannot be
// read (it might name them: unknown, never "nothing names it").
func (u *unbuiltSet) search(names []string) {
	words := make([][]byte, len(names))
	for j, n := range names {
		words[j] = []byte(n)
	}
	hit := make([][]bool, len(names))
	for j := range hit {
		hit[j] = make([]bool, len(u.files))
	}
	var failed atomic.Bool
	failed.Store(u.odd)
	bufs := sync.Pool{New: func() any { return new([]byte) }}
	par.Each(len(u.files), 2*runtime.NumCPU(), func(i int) {
		if failed.Load() {
			return
		}
		bp := bufs.Get().(*[]byte)
		defer bufs.Put(bp)
		data, err := readInto(filepath.Join(u.source, u.files[i]), u.linked[i], *bp)
		if err != nil {
			failed.Store(true)
			return
		}
		*bp = data
		for j, w := range words {
			hit[j][i] = containsWord(data, w)
		}
	})
	for j, n := range names {
		if failed.Load() {
			u.named[n] = nil
			continue
		}
		out := []string{}
		for i, h := range hit[j] {
			if h {
				out = append(out, u.files[i])
			}
		}
		u.named[n] = out
	}
}

// readInto reads the regular file at path (at most maxSourceSearched
// bytes, or it fails) into buf, grown as needed, and returns it. The
// walk that found it listed it as a regular file (link false): it is
// opened without a stat first, a link refused, and refused if fstat
// finds it has become another kind (safeio.OpenRawAt), four system calls
// a file. A source the walk listed as a symbolic link is read through it
// (safeio.OpenRaw: what it leads to must be a regular file).
func readInto(path string, link bool, buf []byte) ([]byte, error) {
	open := func() (*safeio.RawFile, error) { return safeio.OpenRawAt(unix.AT_FDCWD, path, path, maxSourceSearched) }
	if link {
		// A source linked from elsewhere: read what the link leads to,
		// checked before it is opened.
		open = func() (*safeio.RawFile, error) { return safeio.OpenRaw(path, maxSourceSearched) }
	}
	f, err := open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if need := int(f.Size); cap(buf) < need {
		buf = make([]byte, need)
	}
	buf = buf[:f.Size]
	n, err := f.ReadAt(buf, 0)
	if err != nil && !(err == io.EOF && n == len(buf)) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return buf, nil
}

// unbuiltSet lists the C and assembler sources of a kernel tree in
// directories kbuild did not enter (UnbuiltNaming's search), found once.
type unbuiltSet struct {
	source string
	files  []string // relative to source
	// linked says which of files are symbolic links (read through
	// them); odd that a source there is neither a file nor a link (a
	// FIFO named x.c, say): it cannot be read, so no name is known
	// absent from them.
	linked []bool
	odd    bool
	// named holds each name's answer: the sources naming it, nil when
	// they could not all be searched.
	named map[string][]string
}

// unbuiltSources walks root's source tree for the sources UnbuiltNaming
// searches; nil when there is none or it cannot be walked. A source is
// built when its object is beside it (in root's directory of the same
// name for an O= build): each directory is listed once, nothing is
// stat'ed file by file. A source too large to be searched is found so
// when it is read.
func (k *Objects) unbuiltSources(root string) *unbuiltSet {
	b := DetectBuild(root)
	if b.Source == "" {
		return nil
	}
	arch := configArch(root)
	if arch == "" {
		return nil
	}
	u := &unbuiltSet{source: b.Source, named: map[string][]string{}}
	var walk func(rel string) error
	walk = func(rel string) error {
		entries, err := os.ReadDir(filepath.Join(b.Source, rel))
		if err != nil {
			return err // an unreadable directory: the search is not whole
		}
		// The objects beside the sources: regular files, or links to
		// one (checked when a source needs it).
		objDir := filepath.Join(root, rel)
		objs := entries
		if objDir != filepath.Join(b.Source, rel) {
			objs, _ = os.ReadDir(objDir)
		}
		built := map[string]fs.FileMode{}
		for _, e := range objs {
			if strings.HasSuffix(e.Name(), ".o") {
				built[e.Name()] = e.Type()
			}
		}
		isBuilt := func(obj string) bool {
			typ, ok := built[obj]
			if ok && typ&fs.ModeSymlink != 0 {
				st, err := os.Stat(filepath.Join(objDir, obj))
				return err == nil && st.Mode().IsRegular()
			}
			return ok && typ.IsRegular()
		}
		entered, known := false, false // whether kbuild entered objDir, once asked
		for _, e := range entries {
			name := e.Name()
			r := filepath.Join(rel, name)
			if e.IsDir() {
				switch {
				case strings.HasPrefix(name, "."):
					continue
				case rel == "" && (name == "scripts" || name == "tools" || name == "samples" || name == "Documentation" || name == "include"):
					continue
				case rel == "arch" && name != arch:
					continue
				}
				if err := walk(r); err != nil {
					return err
				}
				continue
			}
			if !(strings.HasSuffix(name, ".c") || strings.HasSuffix(name, ".S")) {
				continue
			}
			if isBuilt(name[:len(name)-2] + ".o") {
				continue // built: its object tells
			}
			if !known {
				k.mu.Lock()
				entered, known = k.archivesIn(root, objDir) != nil, true
				k.mu.Unlock()
			}
			switch typ := e.Type(); {
			case entered:
			case typ.IsRegular(), typ&fs.ModeSymlink != 0:
				u.files = append(u.files, r)
				u.linked = append(u.linked, typ&fs.ModeSymlink != 0)
			default:
				u.odd = true
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil
	}
	return u
}

// configArch returns the architecture directory (SRCARCH) a kernel build
// is configured for, from the header kconfig writes at the top of
// .config ("# Linux/x86 6.1.192 Kernel Configuration"); "" when it does
// not say.
func configArch(root string) string {
	f, err := safeio.OpenLimit(filepath.Join(root, ".config"), 64<<20)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f.Reader())
	for i := 0; i < 8 && sc.Scan(); i++ {
		if rest, ok := strings.CutPrefix(sc.Text(), "# Linux/"); ok {
			if a, _, ok := strings.Cut(rest, " "); ok && a != "" && !strings.ContainsAny(a, "/.") {
				return a
			}
		}
	}
	return ""
}

// maxSourceSearched bounds a source file UnbuiltNaming reads: the largest
// kernel C files are a few MB.
const maxSourceSearched = 64 << 20

// containsWord reports whether data holds w with no identifier byte on
// either side. It searches for w from its byte rarest in C sources
// (byFrequency) on, and checks the bytes before: bytes.Index skips
// ahead on its needle's first byte, and a name's first is often '_'
// (two to three times slower).
func containsWord(data, w []byte) bool {
	ident := func(c byte) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	if len(w) == 0 {
		return false
	}
	k := rarest(w)
	for off := 0; ; {
		i := bytes.Index(data[off:], w[k:])
		if i < 0 {
			return false
		}
		i += off - k // where w would start
		end := i + len(w)
		if i >= 0 && string(data[i:i+k]) == string(w[:k]) &&
			(i == 0 || !ident(data[i-1])) && (end == len(data) || !ident(data[end])) {
			return true
		}
		off = i + k + 1
	}
}

// byFrequency orders the bytes of C identifiers from the most to the
// least frequent in the C sources of Linux 6.1's drivers/net.
const byFrequency = "e_tr0isandcolpufxmvEhbgTRAw1ICS2kNLDMP3FOy84qGBX6U5HWV97KzYQjZJ"

// rarest returns the index of w's byte least frequent in C sources (a
// byte byFrequency does not list counts as rarest of all).
func rarest(w []byte) int {
	best, rank := 0, -1
	for i, c := range w {
		r := strings.IndexByte(byFrequency, c)
		if r < 0 {
			r = len(byFrequency)
		}
		if r > rank {
			best, rank = i, r
		}
	}
	return best
}
