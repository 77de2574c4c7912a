package callgraph

import (
	"debug/elf"
	"errors"
	"fmt"
	"sync"

	"github.com/klp-audit/klp-audit/internal/safeio"
)

// ObjectsDefining returns, in input order, the objects among paths whose
// ELF symbol table defines a function symbol named name. It answers for
// functions that no dump line mentions: GCC records only transformations,
// so a function it neither inlined nor cloned, or an out-of-line copy of a
// header inline in a unit that did not transform it, appears in no dump.
// Objects that cannot be read are reported in the error (a list) and
// skipped: the caller must treat its answer as incomplete then.
func ObjectsDefining(paths []string, name string, workers int) ([]string, error) {
	return objectsDefining(paths, name, workers, false)
}

// UnitObjectsDefining is ObjectsDefining over objects compiled from one
// source file: objects that ld -r combined from several (kbuild's
// composite module objects, vmlinux.o), recognised by their several
// STT_FILE symbols, are skipped, as their parts are read on their own.
func UnitObjectsDefining(paths []string, name string, workers int) ([]string, error) {
	return objectsDefining(paths, name, workers, true)
}

func objectsDefining(paths []string, name string, workers int, unitsOnly bool) ([]string, error) {
	if workers <= 0 {
		workers = 8 // opening objects mostly waits on the disk
	}
	found := make([]bool, len(paths))
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				found[i], errs[i] = definesFunc(paths[i], name, unitsOnly)
			}
		}()
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	var out []string
	for i, p := range paths {
		if found[i] {
			out = append(out, p)
		}
	}
	return out, errors.Join(errs...)
}

func definesFunc(path, name string, unitsOnly bool) (bool, error) {
	fh, err := safeio.Open(path)
	if err != nil {
		return false, fmt.Errorf("object %s: %w", path, err)
	}
	defer fh.Close()
	f, err := elf.NewFile(fh.SectionReader())
	if err != nil {
		return false, fmt.Errorf("object %s: %w", path, err)
	}
	if err := safeio.CheckCompressed(f, path, fh.Size); err != nil {
		return false, fmt.Errorf("object %w", err)
	}
	syms, err := f.Symbols()
	if err != nil {
		if errors.Is(err, elf.ErrNoSymbols) {
			return false, fmt.Errorf("object %s: no symbol table", path)
		}
		return false, fmt.Errorf("object %s: %w", path, err)
	}
	defines, files := false, 0
	for _, s := range syms {
		switch {
		case elf.ST_TYPE(s.Info) == elf.STT_FILE:
			files++
		case s.Name == name && elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF:
			defines = true
		}
	}
	if unitsOnly && files > 1 {
		return false, nil
	}
	return defines, nil
}
