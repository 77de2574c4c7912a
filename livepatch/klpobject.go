package livepatch

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Objects says which klp_object each object file belongs to: "vmlinux"
// or a module's name. kbuild writes, for every module foo, a foo.mod file
// beside its objects listing them; an object of a kernel tree that no
// .mod file lists is built into vmlinux. A build directory is a kernel
// tree when DetectBuild says so: a build in the source tree, or an O=
// output directory. Outside a kernel tree the answer is unknown: "".
type Objects struct {
	mu      sync.Mutex
	roots   []string
	kernel  map[string]bool              // build root -> is a kernel tree
	modules map[string]map[string]string // dir -> object base name -> module
	errs    map[string]error             // dir -> why its .mod files could not be read
}

// NewObjects returns the klp_object oracle of the build roots.
func NewObjects(roots []string) *Objects {
	return &Objects{roots: roots, kernel: map[string]bool{}, modules: map[string]map[string]string{}, errs: map[string]error{}}
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
		if rel, err := filepath.Rel(r, obj); err == nil && !strings.HasPrefix(rel, "..") {
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

// Of returns the klp_object name of object path obj. When the .mod files
// beside it cannot be read, which module (if any) links it is unknown:
// the error says why and the name is "".
func (k *Objects) Of(obj string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.kernelRoot(obj); !ok {
		return "", nil
	}
	dir := filepath.Dir(obj)
	mods, ok := k.modules[dir]
	if !ok {
		mods = map[string]string{}
		ents, err := os.ReadDir(dir)
		if err != nil {
			k.errs[dir] = err
		}
		for _, e := range ents {
			name, isMod := strings.CutSuffix(e.Name(), ".mod")
			if !isMod {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				k.errs[dir] = err
				continue
			}
			mod := strings.ReplaceAll(name, "-", "_")
			for _, f := range strings.Fields(string(b)) {
				mods[filepath.Base(f)] = mod
			}
			// foo.o beside foo.mod is the module's objects linked
			// together (ld -r @foo.mod), before modpost makes foo.ko.
			mods[name+".o"] = mod
		}
		k.modules[dir] = mods
	}
	if m, ok := mods[filepath.Base(obj)]; ok {
		return m, nil
	}
	if err := k.errs[dir]; err != nil {
		return "", fmt.Errorf("which module links %s is unknown: kbuild's .mod files beside it cannot be read: %w", obj, err)
	}
	return "vmlinux", nil
}
