package index

import (
	"debug/elf"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/object"
)

// Stat is what freshness is judged by: a file's size and modification
// time (nanoseconds since the epoch). A file whose Stat differs from the
// index's entry is re-read.
type Stat struct {
	Size    int64
	MtimeNs int64
}

// DumpEntry is one dump of the build.
type DumpEntry struct {
	Dump ipadump.Dump
	// ObjectKey is the real absolute path of the dump's object (symbolic
	// links resolved), as discovery's check for two dumps of one object
	// compares them.
	ObjectKey string
	Stat      Stat
	// Held says the index holds the dump's records (Records): a dump
	// that had problems reading is not held, and is read again each time.
	Held                     bool
	Records, Clones, Removes int
	Blob                     Ref
	// HasTable says the index holds the graph of the dump read alone
	// (Table: EncodeDump, whose strings are in the records' blob), which
	// a query adds for a unit whose only dump it is, in place of the
	// records.
	HasTable bool
	Table    Ref
}

// ObjectEntry is one object of the build (every *.o under it).
type ObjectEntry struct {
	Path string
	Stat Stat
	// Held says the index holds the object's image (Image); an object
	// that could not be read is not held, and is read again when needed.
	Held  bool
	Image Ref
	// HasUnits says the index holds the object's DWARF units (their
	// producers: the compile flags), in Units.
	HasUnits bool
	Units    Ref
	// HasLink says the index holds what kbuild's lists say of the
	// object (Link): the module whose .mod file lists it, and why it is
	// linked into neither vmlinux nor a module. Such an answer holds
	// while the object and every file of TOC.Kbuild are unchanged.
	HasLink bool
	Link    Link
}

// Link is what kbuild's lists (.mod files, built-in.a and lib.a) say of
// an object of a kernel tree: the module that links it ("" for none),
// and why no livepatch reaches it ("" when one may).
type Link struct{ Module, NotLinked string }

// KbuildFile is a kbuild list of the build (a .mod file, a built-in.a or
// lib.a archive) and its Stat: the objects' Link are read from them.
type KbuildFile struct {
	Path string
	Stat Stat
}

// Dir is a directory of the build and its modification time: a file
// added to, removed from or renamed in it changes it. Mods are the names
// of its kbuild .mod files, in directory order (sorted): while the
// directory's modification time is the same, so are they.
type Dir struct {
	Path    string
	MtimeNs int64
	Mods    []string
}

// ObjectUnit is an object without a dump read as a unit from its DWARF.
type ObjectUnit struct{ TU, Object string }

// TOC is an index's table of contents: what discovery found, every file
// with its Stat, and where its evidence is.
type TOC struct {
	// Builds are the build directories as given, Abs their absolute
	// paths; StripPrefixes those the dumps' records were read with.
	Builds, Abs, StripPrefixes []string
	Dumps                      []DumpEntry
	Objects                    []ObjectEntry
	Skipped                    []ipadump.SkippedLink
	Dirs                       []Dir
	// Orphans are the objects without a dump read from their DWARF, and
	// OrphanNotes what was said of those left out.
	Orphans     []ObjectUnit
	OrphanNotes []string
	// Buckets hold the name index (see Names), by a hash of the name.
	Buckets []Ref
	// Rediscover says the build's discovery had problems when the index
	// was built: every query discovers the build again, to report them.
	Rediscover bool
	// Kbuild are the kbuild lists of the build, sorted by path: the
	// objects' Link hold while none of them changed.
	Kbuild []KbuildFile
}

// EncodeTOC returns t's encoding.
func EncodeTOC(t *TOC) []byte {
	var e Enc
	strs := func(ss []string) {
		e.U(uint64(len(ss)))
		for _, s := range ss {
			e.S(s)
		}
	}
	strs(t.Builds)
	strs(t.Abs)
	strs(t.StripPrefixes)
	e.U(uint64(len(t.Dumps)))
	for _, d := range t.Dumps {
		e.S(d.Dump.Path)
		e.U(uint64(d.Dump.Kind))
		e.S(d.Dump.TU)
		e.S(d.Dump.Object)
		e.Bool(d.Dump.HasObject)
		e.S(d.ObjectKey)
		e.I(d.Stat.Size)
		e.I(d.Stat.MtimeNs)
		e.Bool(d.Held)
		e.U(uint64(d.Records))
		e.U(uint64(d.Clones))
		e.U(uint64(d.Removes))
		e.Ref(d.Blob)
		e.Bool(d.HasTable)
		if d.HasTable {
			e.Ref(d.Table)
		}
	}
	e.U(uint64(len(t.Objects)))
	for _, o := range t.Objects {
		e.S(o.Path)
		e.I(o.Stat.Size)
		e.I(o.Stat.MtimeNs)
		e.Bool(o.Held)
		e.Ref(o.Image)
		e.Bool(o.HasUnits)
		e.Ref(o.Units)
		e.Bool(o.HasLink)
		if o.HasLink {
			e.S(o.Link.Module)
			e.S(o.Link.NotLinked)
		}
	}
	e.U(uint64(len(t.Skipped)))
	for _, s := range t.Skipped {
		e.S(s.Path)
		e.S(s.Target)
	}
	e.U(uint64(len(t.Dirs)))
	for _, d := range t.Dirs {
		e.S(d.Path)
		e.I(d.MtimeNs)
		e.U(uint64(len(d.Mods)))
		for _, m := range d.Mods {
			e.S(m)
		}
	}
	e.U(uint64(len(t.Orphans)))
	for _, u := range t.Orphans {
		e.S(u.TU)
		e.S(u.Object)
	}
	strs(t.OrphanNotes)
	e.U(uint64(len(t.Buckets)))
	for _, r := range t.Buckets {
		e.Ref(r)
	}
	e.Bool(t.Rediscover)
	e.U(uint64(len(t.Kbuild)))
	for _, k := range t.Kbuild {
		e.S(k.Path)
		e.I(k.Stat.Size)
		e.I(k.Stat.MtimeNs)
	}
	return e.B
}

// DecodeTOC reads a table of contents.
func DecodeTOC(b []byte) (*TOC, error) {
	// Its strings are most of it: one copy for all of them.
	d := &Dec{B: b, all: string(b)}
	max := len(b)
	strs := func() []string {
		n := d.N(max)
		var out []string
		for i := 0; i < n && d.err == nil; i++ {
			out = append(out, d.S())
		}
		return out
	}
	t := &TOC{}
	t.Builds = strs()
	t.Abs = strs()
	t.StripPrefixes = strs()
	n := d.N(max)
	t.Dumps = make([]DumpEntry, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		var de DumpEntry
		de.Dump.Path = d.S()
		de.Dump.Kind = ipadump.DumpKind(d.N(255))
		de.Dump.TU = d.S()
		de.Dump.Object = d.S()
		de.Dump.HasObject = d.Bool()
		de.ObjectKey = d.S()
		de.Stat = Stat{d.I(), d.I()}
		de.Held = d.Bool()
		de.Records, de.Clones, de.Removes = d.N(1<<40), d.N(1<<40), d.N(1<<40)
		de.Blob = d.Ref()
		if de.HasTable = d.Bool(); de.HasTable {
			de.Table = d.Ref()
		}
		t.Dumps = append(t.Dumps, de)
	}
	n = d.N(max)
	t.Objects = make([]ObjectEntry, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		var o ObjectEntry
		o.Path = d.S()
		o.Stat = Stat{d.I(), d.I()}
		o.Held = d.Bool()
		o.Image = d.Ref()
		o.HasUnits = d.Bool()
		o.Units = d.Ref()
		if o.HasLink = d.Bool(); o.HasLink {
			o.Link = Link{Module: d.S(), NotLinked: d.S()}
		}
		t.Objects = append(t.Objects, o)
	}
	n = d.N(max)
	for i := 0; i < n && d.err == nil; i++ {
		t.Skipped = append(t.Skipped, ipadump.SkippedLink{Path: d.S(), Target: d.S()})
	}
	n = d.N(max)
	for i := 0; i < n && d.err == nil; i++ {
		dir := Dir{Path: d.S(), MtimeNs: d.I()}
		k := d.N(d.Left())
		for j := 0; j < k && d.err == nil; j++ {
			dir.Mods = append(dir.Mods, d.S())
		}
		t.Dirs = append(t.Dirs, dir)
	}
	n = d.N(max)
	for i := 0; i < n && d.err == nil; i++ {
		t.Orphans = append(t.Orphans, ObjectUnit{TU: d.S(), Object: d.S()})
	}
	t.OrphanNotes = strs()
	n = d.N(max)
	for i := 0; i < n && d.err == nil; i++ {
		t.Buckets = append(t.Buckets, d.Ref())
	}
	t.Rediscover = d.Bool()
	n = d.N(max)
	t.Kbuild = make([]KbuildFile, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		t.Kbuild = append(t.Kbuild, KbuildFile{Path: d.S(), Stat: Stat{d.I(), d.I()}})
	}
	if d.Left() != 0 && d.err == nil {
		d.fail()
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("table of contents: %w", err)
	}
	return t, nil
}

// strTable interns the strings of one blob: each is written once, and
// referred to by its number.
type strTable struct {
	ids  map[string]uint64
	list []string
}

func (s *strTable) id(v string) uint64 {
	if s.ids == nil {
		s.ids = map[string]uint64{}
	}
	if i, ok := s.ids[v]; ok {
		return i
	}
	i := uint64(len(s.list))
	s.ids[v] = i
	s.list = append(s.list, v)
	return i
}

// seal returns the blob: the string table, then body.
func (s *strTable) seal(body []byte) []byte {
	var e Enc
	e.U(uint64(len(s.list)))
	for _, v := range s.list {
		e.S(v)
	}
	return append(e.B, body...)
}

// readStrings reads a blob's string table: its strings share one copy
// of their bytes (one allocation, not one a string).
func readStrings(d *Dec) []string {
	n := d.N(d.Left())
	from, total := d.Off, 0
	for i := 0; i < n && d.err == nil; i++ {
		total += len(d.Bytes())
	}
	if d.err != nil {
		return nil
	}
	d.Off = from
	var all strings.Builder
	all.Grow(total)
	ends := make([]int, n)
	for i := range ends {
		all.Write(d.Bytes())
		ends[i] = all.Len()
	}
	s := all.String()
	out := make([]string, n)
	prev := 0
	for i, e := range ends {
		out[i] = s[prev:e]
		prev = e
	}
	return out
}

// str reads a string number.
func str(d *Dec, tab []string) string {
	i := d.N(len(tab))
	if i >= len(tab) {
		d.fail()
		return ""
	}
	return tab[i]
}

// EncodeDump returns the blobs of a dump's records and of its graph
// table t (callgraph.TableOf of them): the table's strings are in the
// string table of the records' blob, read with it (DecodeTable).
func EncodeDump(recs []ipadump.Record, t *callgraph.DumpTable) (records, table []byte) {
	var st strTable
	body := encodeRecords(&st, recs)
	table = encodeTable(&st, t)
	return st.seal(body), table
}

// encodeRecords returns the body of a records blob, its strings in st.
func encodeRecords(st *strTable, recs []ipadump.Record) []byte {
	var e Enc
	e.U(uint64(len(recs)))
	decl := func(x ipadump.Decl) {
		e.U(st.id(x.Name))
		e.I(int64(x.Order))
		e.U(st.id(x.File))
		e.I(int64(x.Line))
		e.I(int64(x.Col))
	}
	line := 0
	for i := range recs {
		r := &recs[i]
		e.U(uint64(r.Kind))
		decl(r.Orig)
		if r.Kind == ipadump.Clone {
			decl(r.Clone)
			e.U(uint64(r.Transform))
			e.U(st.id(r.Suffix))
		}
		e.I(int64(r.Pos.Line - line)) // lines grow: small deltas
		line = r.Pos.Line
	}
	return e.B
}

// DecodeRecords reads a dump's records; path is the dump's (Pos.Dump).
func DecodeRecords(b []byte, path string) ([]ipadump.Record, error) {
	d := &Dec{B: b}
	tab := readStrings(d)
	n := d.N(d.Left())
	recs := make([]ipadump.Record, 0, n)
	decl := func() ipadump.Decl {
		return ipadump.Decl{Name: str(d, tab), Order: int(d.I()), File: str(d, tab), Line: int(d.I()), Col: int(d.I())}
	}
	line := 0
	for i := 0; i < n && d.err == nil; i++ {
		var r ipadump.Record
		r.Kind = ipadump.Kind(d.N(255))
		r.Orig = decl()
		if r.Kind == ipadump.Clone {
			r.Clone = decl()
			r.Transform = ipadump.Transform(d.N(255))
			r.Suffix = str(d, tab)
		}
		line += int(d.I())
		r.Pos = ipadump.Pos{Dump: path, Line: line}
		recs = append(recs, r)
	}
	if d.Left() != 0 && d.err == nil {
		d.fail()
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("records of %s: %w", path, err)
	}
	return recs, nil
}

// EncodeImage returns the blob of an object's image.
func EncodeImage(im *object.Image) []byte {
	var st strTable
	var e Enc
	e.U(uint64(im.Machine))
	e.U(st.id(im.ArchName))
	e.Bool(im.BigEndian)
	e.U(uint64(im.Insn))
	e.U(uint64(im.Type))
	e.Bool(im.Linked)
	e.Bool(im.HasDWARF)
	e.U(uint64(len(im.Sections)))
	for _, s := range im.Sections {
		e.U(st.id(s.Name))
		e.U(uint64(s.Type))
		e.U(uint64(s.Flags))
		e.U(s.Addr)
		e.U(s.Size)
	}
	e.U(uint64(len(im.Funcs)))
	list := func(ss []string) {
		e.U(uint64(len(ss)))
		for _, s := range ss {
			e.U(st.id(s))
		}
	}
	for i := range im.Funcs {
		f := &im.Funcs[i]
		e.U(st.id(f.Name))
		e.U(uint64(f.Bind))
		e.U(st.id(f.Section))
		e.I(int64(f.Shndx))
		e.U(f.Value)
		e.U(f.Size)
		e.U(f.LocalEntry)
		e.U(uint64(f.Sympos))
		list(f.Aliases)
		list(f.Cold)
		e.U(st.id(f.ColdOf))
		e.Bool(f.Fentry)
	}
	e.U(uint64(len(im.Refs)))
	for i := range im.Refs {
		r := &im.Refs[i]
		e.U(st.id(r.From))
		e.U(st.id(r.To))
		e.U(uint64(r.Kind))
		e.U(r.Site)
		e.Bool(r.Reloc)
		e.U(uint64(r.FromSympos))
		e.U(uint64(r.ToSympos))
	}
	list(im.ExternAddrs)
	return st.seal(e.B)
}

// DecodeImage reads an object's image; path is the object's.
func DecodeImage(b []byte, path string) (*object.Image, error) {
	d := &Dec{B: b}
	tab := readStrings(d)
	im := &object.Image{Path: path}
	im.Machine = elf.Machine(d.N(1 << 16))
	im.ArchName = str(d, tab)
	im.BigEndian = d.Bool()
	im.Insn = d.N(16)
	im.Type = elf.Type(d.N(1 << 16))
	im.Linked = d.Bool()
	im.HasDWARF = d.Bool()
	n := d.N(d.Left())
	im.Sections = make([]object.SectionHeader, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		im.Sections = append(im.Sections, object.SectionHeader{Name: str(d, tab), Type: elf.SectionType(d.U()),
			Flags: elf.SectionFlag(d.U()), Addr: d.U(), Size: d.U()})
	}
	list := func() []string {
		k := d.N(d.Left())
		if k == 0 {
			return nil
		}
		out := make([]string, 0, k)
		for j := 0; j < k && d.err == nil; j++ {
			out = append(out, str(d, tab))
		}
		return out
	}
	n = d.N(d.Left())
	im.Funcs = make([]object.Func, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		var f object.Func
		f.Name = str(d, tab)
		f.Bind = elf.SymBind(d.N(16))
		f.Section = str(d, tab)
		f.Shndx = int(d.I())
		f.Value = d.U()
		f.Size = d.U()
		f.LocalEntry = d.U()
		f.Sympos = d.N(1 << 31)
		f.Aliases = list()
		f.Cold = list()
		f.ColdOf = str(d, tab)
		f.Fentry = d.Bool()
		im.Funcs = append(im.Funcs, f)
	}
	n = d.N(d.Left())
	if n > 0 {
		im.Refs = make([]object.Ref, 0, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		im.Refs = append(im.Refs, object.Ref{From: str(d, tab), To: str(d, tab), Kind: object.RefKind(d.N(255)), Site: d.U(),
			Reloc: d.Bool(), FromSympos: d.N(1 << 31), ToSympos: d.N(1 << 31)})
	}
	im.ExternAddrs = list()
	if d.Left() != 0 && d.err == nil {
		d.fail()
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("image of %s: %w", path, err)
	}
	return im, nil
}

// Unit is one DWARF compile unit's header of an object: enough to give
// back dwarfinfo.Unit (its Flags are parsed from Producer again).
type Unit struct{ Name, CompDir, Producer, From string }

// EncodeUnits returns the blob of an object's compile units.
func EncodeUnits(us []Unit) []byte {
	var e Enc
	e.U(uint64(len(us)))
	for _, u := range us {
		e.S(u.Name)
		e.S(u.CompDir)
		e.S(u.Producer)
		e.S(u.From)
	}
	return e.B
}

// DecodeUnits reads an object's compile units.
func DecodeUnits(b []byte) ([]Unit, error) {
	d := &Dec{B: b}
	n := d.N(d.Left())
	out := make([]Unit, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, Unit{Name: d.S(), CompDir: d.S(), Producer: d.S(), From: d.S()})
	}
	if d.Left() != 0 && d.err == nil {
		d.fail()
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("compile units: %w", err)
	}
	return out, nil
}

// Call is a call or tail call from object Obj (an index into
// TOC.Objects) to a function it does not define: Ref indexes the
// object's refs (its image's Refs).
type Call struct{ Obj, Ref int }

// Name is what the index knows of one function name: the dumps that name
// it (their records' original or clone names; indexes into TOC.Dumps),
// the objects that define a function symbol of that name (indexes into
// TOC.Objects), and the calls to it from objects that do not define it
// (the cross-object callers of a global function), in object order
// then ref order; and the references taking its address from objects
// that do not define it (Addrs: Ref indexes the object's refs, or, past
// them, its ExternAddrs), in object order then ref order.
type Name struct {
	Name  string
	Dumps []int
	Defs  []int
	Calls []Call
	Addrs []Call
}

// Bucket returns the bucket of name among n.
func Bucket(name string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32() % uint32(n))
}

// EncodeBucket returns the blob of one bucket of the name index; names
// are sorted.
func EncodeBucket(names []Name) []byte {
	sort.Slice(names, func(i, j int) bool { return names[i].Name < names[j].Name })
	var e Enc
	e.U(uint64(len(names)))
	ints := func(xs []int) {
		e.U(uint64(len(xs)))
		prev := 0
		for _, x := range xs {
			e.U(uint64(x - prev))
			prev = x
		}
	}
	for _, n := range names {
		e.S(n.Name)
		ints(n.Dumps)
		ints(n.Defs)
		for _, cs := range [2][]Call{n.Calls, n.Addrs} {
			e.U(uint64(len(cs)))
			for _, c := range cs {
				e.U(uint64(c.Obj))
				e.U(uint64(c.Ref))
			}
		}
	}
	return e.B
}

// LookupBucket finds name in a bucket's blob; false when it is not
// there.
func LookupBucket(b []byte, name string) (Name, bool, error) {
	var found Name
	ok := false
	err := walkBucket(b, func(n []byte, d *Dec) bool {
		if string(n) != name {
			return false
		}
		found, ok = readName(d, name), true
		return true
	})
	return found, ok, err
}

// BucketNames returns every name of a bucket's blob, with its entry.
func BucketNames(b []byte) ([]Name, error) {
	var out []Name
	err := walkBucket(b, func(n []byte, d *Dec) bool {
		out = append(out, readName(d, string(n)))
		return false
	})
	return out, err
}

// walkBucket calls f with each name of a bucket and the decoder at its
// entry; f reads the entry and returns true to stop, or returns false
// without reading it.
func walkBucket(b []byte, f func(name []byte, d *Dec) bool) error {
	d := &Dec{B: b}
	n := d.N(len(b))
	for i := 0; i < n && d.err == nil; i++ {
		name := d.Bytes()
		start := d.Off
		if f(name, d) {
			return d.Err()
		}
		if d.Off == start {
			skipName(d)
		}
	}
	return d.Err()
}

func readName(d *Dec, name string) Name {
	n := Name{Name: name}
	ints := func() []int {
		k := d.N(d.Left())
		if k == 0 {
			return nil
		}
		out := make([]int, 0, k)
		prev := 0
		for i := 0; i < k && d.err == nil; i++ {
			prev += d.N(1 << 31)
			out = append(out, prev)
		}
		return out
	}
	n.Dumps = ints()
	n.Defs = ints()
	calls := func() []Call {
		k := d.N(d.Left())
		var out []Call
		for i := 0; i < k && d.err == nil; i++ {
			out = append(out, Call{Obj: d.N(1 << 31), Ref: d.N(1 << 31)})
		}
		return out
	}
	n.Calls = calls()
	n.Addrs = calls()
	return n
}

func skipName(d *Dec) {
	for j := 0; j < 2; j++ {
		k := d.N(d.Left())
		for i := 0; i < k && d.err == nil; i++ {
			d.U()
		}
	}
	for j := 0; j < 2; j++ {
		k := d.N(d.Left())
		for i := 0; i < 2*k && d.err == nil; i++ {
			d.U()
		}
	}
}
