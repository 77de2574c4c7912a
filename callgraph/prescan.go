package callgraph

import (
	"bytes"
	"path/filepath"
	"slices"
	"sync"

	"github.com/klp-audit/klp-audit/internal/safeio"
	"github.com/klp-audit/klp-audit/ipadump"
)

// A Prescan does, while the walk of a build lists its directories
// (ipadump.DiscoverOptions.Visit), the file reads a query about some
// functions starts with: it searches every dump for the names (as
// LoadPartial's scan does) and every object beside a dump for the first
// name's definition (as ObjectsDefining does). Each file is opened from
// its directory, still open for the walk: a kernel build holds some
// eight thousand of them, and looking up every directory of each path
// again, twice, cost more than reading them. The walk and the reads
// overlap too.
//
// What it found is taken by LoadPartial (LoadOptions.Prescan) and by
// ObjectsDefiningWith, for the same names; a file it could not read, or
// read to no plain answer, is read by them as they read any other, and
// says what is wrong in their words. A Prescan is for one load.
type Prescan struct {
	names   []string
	needles [][]byte
	defName string // names[0] when objects are searched, else ""

	mu    sync.Mutex
	dumps map[string]ipadump.Scan // by path: a clean scan, Data kept when found
	lacks map[string]bool         // object paths read: whether their symbols cannot be defName
}

// NewPrescan returns a Prescan for a load about names. With defining,
// the objects beside dumps are also searched for names[0]'s definition.
func NewPrescan(names []string, defining bool) *Prescan {
	p := &Prescan{names: slices.Clone(names), dumps: map[string]ipadump.Scan{}, lacks: map[string]bool{}}
	for _, n := range names {
		p.needles = append(p.needles, ipadump.NameNeedle(n))
	}
	if defining && len(names) > 0 {
		p.defName = names[0]
	}
	return p
}

// scanBufs hold what Visit reads of a dump.
var scanBufs = sync.Pool{New: func() any { return new([]byte) }}

// Visit reads the dumps and objects of d: it is the walk's
// DiscoverOptions.Visit.
func (p *Prescan) Visit(d *ipadump.Dir) {
	if p == nil {
		return
	}
	bp := scanBufs.Get().(*[]byte)
	defer scanBufs.Put(bp)
	objects := map[string]bool{}
	for _, o := range d.Objects {
		objects[o] = true
	}
	for _, name := range d.Dumps {
		f, err := d.Open(name, ipadump.MaxDumpSize)
		if err != nil {
			continue
		}
		var sc ipadump.Scan
		sc, *bp, err = ipadump.ScanFile(f, p.needles, *bp)
		f.Close()
		if err == nil && sc.Clean {
			if slices.Contains(sc.Found, true) {
				if sc.Data == nil {
					continue // read piece by piece: read it again whole
				}
				sc.Data = bytes.Clone(sc.Data)
			} else {
				sc.Data = nil
			}
			p.mu.Lock()
			p.dumps[filepath.Join(d.Path, name)] = sc
			p.mu.Unlock()
		}
		if p.defName == "" {
			continue
		}
		// The object this dump describes, when it is here.
		obj, ok := ipadump.UnitObject(name)
		if !ok || !objects[obj] {
			continue
		}
		delete(objects, obj) // searched once
		of, err := d.Open(obj, safeio.MaxObjectSize)
		if err != nil {
			continue
		}
		lacks := fileLacks(of, p.defName)
		of.Close()
		p.mu.Lock()
		p.lacks[filepath.Join(d.Path, obj)] = lacks
		p.mu.Unlock()
	}
}

// scan returns what Visit found of the dump at path for needles, and
// whether it has a plain answer.
func (p *Prescan) scan(path string, needles [][]byte) (ipadump.Scan, bool) {
	if p == nil || !slices.EqualFunc(needles, p.needles, bytes.Equal) {
		return ipadump.Scan{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	sc, ok := p.dumps[path]
	return sc, ok
}

// lacksName returns namesLack(path, name) when Visit worked it out
// (known): the object's string table need not be read again.
func (p *Prescan) lacksName(path, name string) (lacks, known bool) {
	if p == nil || name == "" || name != p.defName {
		return false, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	lacks, known = p.lacks[path]
	return lacks, known
}
