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
	needles [][]byte
	defName string // names[0] when objects are searched, else ""

	// parse says a dump found naming one of names is parsed at once,
	// its paths normalised by strip (ParseFound).
	parse bool
	strip []string

	mu     sync.Mutex
	dumps  map[string]ipadump.Scan // by path: a clean scan, Data kept when found
	parsed map[string]scanned      // by path: a found dump's records and table (ParseFound)
	lacks  map[string]bool         // object paths read: whether their symbols cannot be defName
}

// NewPrescan returns a Prescan for a load about names. With defining,
// the objects beside dumps are also searched for names[0]'s definition.
func NewPrescan(names []string, defining bool) *Prescan {
	p := &Prescan{dumps: map[string]ipadump.Scan{}, parsed: map[string]scanned{}, lacks: map[string]bool{}}
	for _, n := range names {
		p.needles = append(p.needles, ipadump.NameNeedle(n))
	}
	if defining && len(names) > 0 {
		p.defName = names[0]
	}
	return p
}

// ParseFound makes Visit also parse each dump it finds naming one of the
// names, as LoadPartial would, with the source path prefixes strip taken
// off (LoadOptions.StripPrefixes), and build the unit's graph of it
// (TableOf): the walk's workers do, in parallel, what LoadPartial would
// do after the walk, one dump after another. LoadPartial takes it only
// when its StripPrefixes are strip.
func (p *Prescan) ParseFound(strip []string) {
	p.parse = true
	p.strip = slices.Clone(strip)
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
			path := filepath.Join(d.Path, name)
			switch {
			case !slices.Contains(sc.Found, true):
				sc.Data = nil
			case sc.Data == nil:
				continue // read piece by piece: read it again whole
			case p.parse:
				// Parsed from the buffer (the records own their
				// strings); any other load reads it again whole.
				r := p.parseFound(path, sc)
				sc.Data = nil
				p.mu.Lock()
				p.parsed[path] = r
				p.mu.Unlock()
			default:
				sc.Data = bytes.Clone(sc.Data)
			}
			p.mu.Lock()
			p.dumps[path] = sc
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

// parseFound is what scanDumps makes of the clean scan sc of the dump at
// path, which names one of the needles: its records (and their errors),
// counted, and the graph of the dump alone. The table's nodes are of no
// unit yet: parsed gives them the dump's.
func (p *Prescan) parseFound(path string, sc ipadump.Scan) scanned {
	r := scanResult(newReader(LoadOptions{StripPrefixes: p.strip}), path, p.needles, sc, nil)
	if r.found && len(r.recs) > 0 {
		r.table = TableOf(ipadump.Dump{Path: path}, r.recs)
	}
	return r
}

// parsedFor returns what scanDumps makes of dump d for needles, when
// Visit parsed it (ParseFound) with the prefixes strip: its records,
// counts and errors, and its table with d's unit. It is taken: a second
// load with the Prescan reads the dump again.
func (p *Prescan) parsedFor(d ipadump.Dump, needles [][]byte, strip []string) (scanned, bool) {
	if p == nil || !p.parse || !slices.Equal(strip, p.strip) || !slices.EqualFunc(needles, p.needles, bytes.Equal) {
		return scanned{}, false
	}
	p.mu.Lock()
	r, ok := p.parsed[d.Path]
	delete(p.parsed, d.Path)
	p.mu.Unlock()
	if !ok {
		return scanned{}, false
	}
	if t := r.table; t != nil {
		lto := d.Kind.LTO()
		for i := range t.Nodes {
			t.Nodes[i].ID.TU = d.TU
			t.Nodes[i].LTO = lto
		}
	}
	return r, true
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
