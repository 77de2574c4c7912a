package driver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/livepatch"
	"github.com/klp-audit/klp-audit/report"
)

// flagObject is one object and what its DWARF says.
type flagObject struct {
	name    string // relative to the build directory, as in dumps' TUs
	path    string // as it can be opened
	hasDump bool
	units   []dwarfinfo.Unit
	err     error
	set     *flagSet
}

// flagSet is a group of objects with the same flags, as far as a
// livepatch is concerned.
type flagSet struct {
	id           string
	compiler     string
	opt          string
	livePatching string
	ftrace       string
	lto          string
	// noDump: the objects have no ipa-clones dump, so no dump records
	// their inlining and cloning either.
	noDump   bool
	analyses []dwarfinfo.Analysis
	objects  []*flagObject
}

// key identifies a set: everything shown about it.
func (s *flagSet) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%v", s.compiler, s.opt, s.livePatching, s.ftrace, s.lto, s.noDump)
	for _, a := range s.analyses {
		fmt.Fprintf(&b, "|%s:%v:%s", a.Name, a.Live, a.Why)
	}
	return b.String()
}

// liveNotInDump names the live analyses no dump records.
func (s *flagSet) liveNotInDump() []string {
	var out []string
	for _, a := range s.analyses {
		if a.Live && !a.InDump {
			out = append(out, a.Name)
		}
	}
	return out
}

// Flags reads the compile flags every object of the build o names
// recorded in its DWARF and groups the objects by the flags that matter to
// a livepatch; perObject also lists each object's units and producers.
// An object without debug info or unreadable makes the answer incomplete.
func Flags(o Options, perObject bool) (*report.FlagsResult, error) {
	objs, problems, err := findFlagObjects(&o)
	if err != nil {
		return nil, err
	}
	objs, notes := kernelFlagObjects(o.Builds, objs)
	paths := make([]string, len(objs))
	for i, o := range objs {
		paths[i] = o.path
	}
	for i, r := range dwarfinfo.ProducersAll(paths, max(2, runtime.GOMAXPROCS(0))) {
		objs[i].units, objs[i].err = r.Units, r.Err
	}
	sets, noDebug, unreadable := groupFlagObjects(objs)
	for _, o := range unreadable {
		problems = append(problems, report.Problem{File: o.name, Message: o.err.Error()})
	}
	r := flagsResult(o, perObject, objs, sets, noDebug, problems)
	r.Notes = notes
	return r, nil
}

// kernelFlagObjects leaves out of a kernel tree's objects those no
// livepatch reaches: the objects without a dump that kbuild's .cmd files
// show are no kernel C unit (host programs, assembler sources, objects
// linked from others), and those linked into neither vmlinux nor a
// module (the vDSO, boot and real-mode code, the kexec purgatory). Their
// flags do not matter to a livepatch; a note says how many.
func kernelFlagObjects(builds []string, objs []*flagObject) ([]*flagObject, []string) {
	klp := livepatch.NewObjects(builds)
	left := map[string][]string{}
	var kept []*flagObject
	for _, ob := range objs {
		if why := nonTarget(builds, klp, ob.path, ob.hasDump); why != "" {
			left[why] = append(left[why], ob.name)
			continue
		}
		kept = append(kept, ob)
	}
	var notes []string
	byReason(left, func(w string, names []string) {
		why := map[string]string{
			"host programs":             "not kernel code",
			"assembler sources":         "no compiler analyses to report",
			"linked from other objects": "the objects they are linked from are listed themselves",
		}[w]
		if why == "" {
			why = "no livepatch reaches them"
		}
		notes = append(notes, fmt.Sprintf("%d objects are %s: left out, %s (%s)", len(names), w, why, examples(names)))
	})
	if len(kept) == 0 {
		// Nothing left to answer about: keep them all rather than
		// answer about nothing.
		return objs, nil
	}
	return kept, notes
}

// findFlagObjects returns the objects paired with the dumps of the build
// (as loadEvidence discovers them, without loading the clone graph the
// flags do not need) and every other *.o under the build directories.
func findFlagObjects(o *Options) ([]*flagObject, []report.Problem, error) {
	if len(o.Builds) == 0 && len(o.DumpLists) == 0 {
		return nil, nil, Inputf("no build given: use --build DIR (a kernel build tree) or --dumps-from FILE")
	}
	for _, b := range o.Builds {
		st, err := os.Stat(b)
		if err != nil {
			return nil, nil, Inputf("build directory %v", err)
		}
		if !st.IsDir() {
			return nil, nil, Inputf("build directory %s: not a directory", b)
		}
	}
	var errs ipadump.ErrorList
	var dumps []ipadump.Dump
	if len(o.Builds) > 0 {
		ds, err := ipadump.Discover(o.Builds...)
		addErrs(&errs, err)
		dumps = append(dumps, ds...)
	}
	for _, l := range o.DumpLists {
		ds, lines, err := dumpsFromFile(l)
		if err != nil {
			return nil, nil, err
		}
		addErrs(&errs, lines)
		dumps = append(dumps, ds...)
	}
	var objs []*flagObject
	seen := map[string]*flagObject{}
	add := func(name, path string, dump bool) {
		k := fileKey(path)
		if prev, ok := seen[k]; ok {
			prev.hasDump = prev.hasDump || dump
			return
		}
		ob := &flagObject{name: name, path: path, hasDump: dump}
		seen[k] = ob
		objs = append(objs, ob)
	}
	for _, d := range dumps {
		if d.HasObject {
			add(d.TU, d.Object, true)
		}
	}
	for _, root := range o.Builds {
		prefix := ""
		if len(o.Builds) > 1 {
			prefix = filepath.Clean(root)
		}
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				errs.Add(err)
				if e != nil && e.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if e.IsDir() && e.Name() == ".git" {
				return fs.SkipDir
			}
			if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".o") {
				return nil
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				rel = p
			}
			add(filepath.ToSlash(filepath.Join(prefix, rel)), p, false)
			return nil
		})
		if err != nil {
			errs.Add(err)
		}
	}
	var problems []report.Problem
	seenProblem := map[string]bool{}
	for _, e := range errs {
		p := problemOf(e)
		if k := p.File + "\x00" + p.Message; !seenProblem[k] {
			seenProblem[k] = true
			problems = append(problems, p)
		}
	}
	if len(objs) == 0 {
		msg := "no objects (*.o) found in " + strings.Join(append(append([]string{}, o.Builds...), o.DumpLists...), ", ")
		if len(errs) > 0 {
			msg += "\n" + joinErrs(errs)
		}
		return nil, nil, Inputf("%s", msg)
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].name < objs[j].name })
	return objs, problems, nil
}

// fileKey identifies a file, so an object reached twice counts once.
func fileKey(p string) string {
	if st, err := os.Stat(p); err == nil {
		if s, ok := st.Sys().(*syscall.Stat_t); ok {
			return fmt.Sprintf("%d:%d", s.Dev, s.Ino)
		}
	}
	return filepath.Clean(p)
}

// groupFlagObjects puts the objects with debug info into sets, most
// objects first, and returns those without debug info and those that
// could not be read.
func groupFlagObjects(objs []*flagObject) (sets []*flagSet, noDebug, unreadable []*flagObject) {
	byKey := map[string]*flagSet{}
	for _, o := range objs {
		switch {
		case errors.Is(o.err, dwarfinfo.ErrNoDWARF):
			noDebug = append(noDebug, o)
			continue
		case o.err != nil:
			unreadable = append(unreadable, o)
			continue
		}
		s := setOf(o.units)
		if !o.hasDump {
			// What a dump would record is recorded nowhere.
			s.noDump = true
			for i := range s.analyses {
				s.analyses[i].InDump = false
			}
		}
		k := s.key()
		if prev, ok := byKey[k]; ok {
			s = prev
		} else {
			byKey[k] = s
			sets = append(sets, s)
		}
		s.objects = append(s.objects, o)
		o.set = s
	}
	sort.SliceStable(sets, func(i, j int) bool {
		if len(sets[i].objects) != len(sets[j].objects) {
			return len(sets[i].objects) > len(sets[j].objects)
		}
		return sets[i].objects[0].name < sets[j].objects[0].name
	})
	for i, s := range sets {
		s.id = fmt.Sprint(i + 1)
	}
	return sets, noDebug, unreadable
}

// setOf summarises the units of one object: distinct values are joined,
// and an analysis is live when it is live in any unit (an object linked
// from several units carries all their hazards).
func setOf(units []dwarfinfo.Unit) *flagSet {
	s := &flagSet{}
	var comp, opt, lp, ft, lto []string
	if len(units) == 0 {
		// A unit-less .debug_info: nothing is known.
		units = []dwarfinfo.Unit{{}}
	}
	for _, u := range units {
		f := u.Flags
		comp = appendNew(comp, compilerName(f))
		if f.Compiler == dwarfinfo.Assembler {
			continue
		}
		opt = appendNew(opt, optName(f))
		lp = appendNew(lp, livePatchingName(f))
		ft = appendNew(ft, f.Ftrace())
		lto = appendNew(lto, ltoName(f, u.From))
		as := f.Analyses()
		if s.analyses == nil {
			s.analyses = as
			continue
		}
		for i, a := range as {
			if a.Live && !s.analyses[i].Live {
				s.analyses[i] = a
			}
		}
	}
	if s.analyses == nil { // assembler only
		s.analyses = units[0].Flags.Analyses()
	}
	s.compiler = strings.Join(comp, ", ")
	s.opt = strings.Join(opt, ", ")
	s.livePatching = strings.Join(lp, ", ")
	s.ftrace = strings.Join(ft, ", ")
	s.lto = strings.Join(lto, ", ")
	for _, p := range []*string{&s.opt, &s.livePatching, &s.ftrace, &s.lto} {
		if *p == "" {
			*p = "-"
		}
	}
	return s
}

func appendNew(l []string, v string) []string {
	for _, x := range l {
		if x == v {
			return l
		}
	}
	return append(l, v)
}

func compilerName(f dwarfinfo.Flags) string {
	var s string
	switch f.Compiler {
	case dwarfinfo.GCC, dwarfinfo.GCCLTO, dwarfinfo.Assembler:
		s = "GNU"
		if f.Language != "" {
			s += " " + f.Language
		}
	case dwarfinfo.Clang:
		s = "clang"
	default:
		return "unknown"
	}
	if f.Version != "" {
		s += " " + f.Version
	}
	return s
}

func optName(f dwarfinfo.Flags) string {
	if !f.Recorded {
		return "?"
	}
	return f.OptLevel()
}

func livePatchingName(f dwarfinfo.Flags) string {
	switch {
	case !f.Recorded:
		return "?"
	case f.LivePatching == "":
		return "off"
	}
	return f.LivePatching
}

func ltoName(f dwarfinfo.Flags, from string) string {
	switch {
	case !f.Recorded && f.Compiler != dwarfinfo.GCCLTO:
		return "?"
	case f.LTrans:
		return "ltrans"
	case f.LTO && (from == dwarfinfo.FromEarlyDebug || from == dwarfinfo.FromLTOOptions):
		return "-flto (slim)"
	case f.LTO:
		return "-flto"
	}
	return "no"
}

func objectSetName(o *flagObject) string {
	switch {
	case o.set != nil:
		return o.set.id
	case errors.Is(o.err, dwarfinfo.ErrNoDWARF):
		return report.SetNoDebugInfo
	}
	return report.SetUnreadable
}

func flagsResult(opts Options, perObject bool, objs []*flagObject, sets []*flagSet, noDebug []*flagObject, problems []report.Problem) *report.FlagsResult {
	r := &report.FlagsResult{
		SchemaVersion: report.SchemaVersion,
		Tool:          Tool(),
		Builds:        opts.Builds,
		DumpLists:     opts.DumpLists,
		Objects:       len(objs),
		Complete:      len(noDebug) == 0 && len(problems) == 0,
		Problems:      problems,
		NoDebugInfo:   []string{},
		Sets:          []report.FlagSet{},
	}
	if r.Problems == nil {
		r.Problems = []report.Problem{}
	}
	for _, s := range sets {
		sr := report.FlagSet{ID: s.id, Compiler: s.compiler, Opt: s.opt, LivePatching: s.livePatching, Ftrace: s.ftrace,
			LTO: s.lto, LiveNotInDump: s.liveNotInDump(), NoDump: s.noDump}
		if sr.LiveNotInDump == nil {
			sr.LiveNotInDump = []string{}
		}
		for _, a := range s.analyses {
			sr.Analyses = append(sr.Analyses, report.Analysis{Name: a.Name, Live: a.Live, InDump: a.InDump, Why: a.Why, Meaning: a.Meaning})
		}
		for _, o := range s.objects {
			sr.Objects = append(sr.Objects, o.name)
		}
		r.Sets = append(r.Sets, sr)
	}
	for _, o := range noDebug {
		r.NoDebugInfo = append(r.NoDebugInfo, o.name)
	}
	for _, o := range objs {
		or := report.ObjectFlags{Object: o.name, Set: objectSetName(o), HasDump: o.hasDump}
		if o.err != nil {
			or.Error = o.err.Error()
		}
		for _, u := range o.units {
			or.Units = append(or.Units, report.UnitFlags{Name: u.Name, Producer: u.Producer, From: u.From})
		}
		r.All = append(r.All, or)
	}
	if perObject {
		r.PerObject = r.All
	}
	return r
}
