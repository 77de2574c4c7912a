package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/klp-audit/klp-audit/dwarfinfo"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/report"
)

// FlagsOptions are the inputs of "klp-audit flags".
type FlagsOptions struct {
	Streams *Streams
	EvidenceOptions
	Format    string
	PerObject bool
}

// flagsFormats are the output formats of "klp-audit flags".
var flagsFormats = []string{"text", "table", "yaml", "json"}

func newFlagsCmd(s *Streams, runF func(*FlagsOptions) error) *cobra.Command {
	opts := &FlagsOptions{Streams: s}
	cmd := &cobra.Command{
		Use:   "flags --build DIR",
		Short: "Show which caller-visible IPA analyses each object was built with",
		Long: `Read the compile flags GCC recorded in each object's DWARF (DW_AT_producer)
and tell which inter-procedural analyses were live when it was built.

The ipa-clones dump records every function GCC copies (inlining, .constprop,
.isra and .part clones), and "klp-audit impacted" follows those. It does not
record what callers assume about their callees: with -fipa-ra a caller keeps
values in registers the callee is known not to touch, with -fipa-pure-const
it merges or drops calls to a function found pure, with -fipa-icf two
functions share one body. A livepatch that replaces such a callee can break
callers it never names in a klp_func. Which of these hazards exist depends
on the flags: -O level, -flive-patching=inline-clone (which turns them off),
and ftrace's -pg, which turns IPA-RA off (every x86 kernel that can be
livepatched is built with -pg -mfentry; -fpatchable-function-entry, used
on arm64, turns it off too).

The objects are those paired with the *.ipa-clones dumps under --build, plus
every other *.o found there (an object without a dump is worth knowing
about too). Objects with identical flag sets are grouped, so a kernel tree
prints a few sets, not hundreds of blocks; --per-object lists each object.

An object without debug info (built without -g) is reported as such: its
flags are unknown, so every analysis must be treated as live, and the exit
status is 1. The rules are GCC 12's; objects built by clang or an unknown
compiler are reported with every analysis assumed live.

` + exitCodesHelp,
		Example: `  # Which caller hazards does a kernel build have?
  klp-audit flags --build ~/linux

  # Only the objects of mm/, each listed with its flag set
  klp-audit flags --build ~/linux/mm --per-object

  # Was this module built with -flive-patching=inline-clone? As JSON for CI
  klp-audit flags --build ~/src/mymodule --format json | jq '.sets[].live_patching'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFlagsFormat(opts.Format); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runFlags(opts)
		},
	}
	opts.EvidenceOptions.bind(cmd)
	fl := cmd.Flags()
	fl.StringVar(&opts.Format, "format", "text", "output `FORMAT`: text, table, yaml or json")
	fl.BoolVar(&opts.PerObject, "per-object", false, "list every object with its flag set (and, in yaml/json, its producers)")
	_ = cmd.RegisterFlagCompletionFunc("format", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return flagsFormats, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func checkFlagsFormat(f string) error {
	for _, v := range flagsFormats {
		if f == v {
			return nil
		}
	}
	return inputErrorf("unknown format %q, want one of %s", f, strings.Join(flagsFormats, ", "))
}

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
	analyses     []dwarfinfo.Analysis
	objects      []*flagObject
}

// key identifies a set: everything shown about it.
func (s *flagSet) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s|%s", s.compiler, s.opt, s.livePatching, s.ftrace, s.lto)
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

func runFlags(opts *FlagsOptions) error {
	format := opts.Format
	if err := checkFlagsFormat(format); err != nil {
		return err
	}
	objs, problems, err := findFlagObjects(&opts.EvidenceOptions)
	if err != nil {
		return err
	}
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
	s := opts.Streams
	for _, p := range problems {
		fmt.Fprintln(s.Err, p.String())
	}
	switch format {
	case "text":
		err = writeFlagsText(s.Out, objs, sets, noDebug, unreadable, opts.PerObject)
	case "table":
		err = writeFlagsTable(s.Out, s.OutTTY, sets, noDebug, opts.PerObject)
	default:
		r := flagsReportOf(opts, objs, sets, noDebug, problems)
		if format == "json" {
			enc := json.NewEncoder(s.Out)
			enc.SetIndent("", "  ")
			err = enc.Encode(r)
		} else {
			enc := yaml.NewEncoder(s.Out)
			enc.SetIndent(2)
			if err = enc.Encode(r); err == nil {
				err = enc.Close()
			}
		}
	}
	if err != nil {
		return err
	}
	if len(noDebug) > 0 || len(problems) > 0 {
		fmt.Fprintf(s.Err, "klp-audit: answer INCOMPLETE: %d objects without debug info, %d problems: their flags are unknown, treat every analysis as live there\n",
			len(noDebug), len(problems))
		return errIncomplete
	}
	return nil
}

// findFlagObjects returns the objects paired with the dumps of the build
// (as loadEvidence discovers them, without loading the clone graph the
// flags do not need) and every other *.o under the build directories.
func findFlagObjects(o *EvidenceOptions) ([]*flagObject, []report.Problem, error) {
	if len(o.Builds) == 0 && len(o.DumpLists) == 0 {
		return nil, nil, inputErrorf("no build given: use --build DIR (a kernel build tree) or --dumps-from FILE")
	}
	for _, b := range o.Builds {
		st, err := os.Stat(b)
		if err != nil {
			return nil, nil, inputErrorf("build directory %v", err)
		}
		if !st.IsDir() {
			return nil, nil, inputErrorf("build directory %s: not a directory", b)
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
		f, err := os.Open(l)
		if err != nil {
			return nil, nil, inputErrorf("dump list: %v", err)
		}
		ds, err := ipadump.DumpsFromList(f, l)
		f.Close()
		addErrs(&errs, err)
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
		return nil, nil, inputErrorf("%s", msg)
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

// objectList names up to n objects of a set.
func objectList(objs []*flagObject, n int) string {
	var names []string
	for i, o := range objs {
		if i == n {
			names = append(names, fmt.Sprintf("… %d more", len(objs)-n))
			break
		}
		names = append(names, o.name)
	}
	return strings.Join(names, " ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func writeFlagsText(w io.Writer, objs []*flagObject, sets []*flagSet, noDebug, unreadable []*flagObject, perObject bool) error {
	fmt.Fprintf(w, "%s, %s", plural(len(objs), "object", "objects"), plural(len(sets), "flag set", "flag sets"))
	if len(noDebug) > 0 {
		fmt.Fprintf(w, ", %d without debug info", len(noDebug))
	}
	if len(unreadable) > 0 {
		fmt.Fprintf(w, ", %d unreadable", len(unreadable))
	}
	fmt.Fprintln(w)
	if len(sets) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SET\tOBJECTS\tCOMPILER\tOPT\tLIVE PATCHING\tFTRACE\tLTO\tLIVE, NOT IN THE DUMP")
		for _, s := range sets {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.id, len(s.objects), s.compiler, s.opt, s.livePatching,
				s.ftrace, s.lto, orNone(strings.Join(s.liveNotInDump(), " ")))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, s := range sets {
		fmt.Fprintf(w, "\nSet %s: %s\n", s.id, objectList(s.objects, 6))
		if s.ftrace == "none" {
			fmt.Fprintln(w, "  no ftrace entry (built without -pg -mfentry or -fpatchable-function-entry): a kernel livepatch cannot replace these functions, only callers that have one")
		}
		var inDump, notInDump, off []dwarfinfo.Analysis
		for _, a := range s.analyses {
			switch {
			case !a.Live:
				off = append(off, a)
			case a.InDump:
				inDump = append(inDump, a)
			default:
				notInDump = append(notInDump, a)
			}
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		if len(notInDump) > 0 {
			fmt.Fprintln(tw, "  live, not in the dump: check by hand what it means for a livepatch")
			for _, a := range notInDump {
				fmt.Fprintf(tw, "    %s\t%s  (%s)\n", a.Name, a.Meaning, a.Why)
			}
		}
		if len(inDump) > 0 {
			fmt.Fprintln(tw, "  live, recorded in the ipa-clones dump (klp-audit impacted follows them)")
			for _, a := range inDump {
				fmt.Fprintf(tw, "    %s\t%s  (%s)\n", a.Name, a.Meaning, a.Why)
			}
		}
		if len(off) > 0 {
			fmt.Fprintln(tw, "  off")
			for _, a := range off {
				fmt.Fprintf(tw, "    %s\t%s\n", a.Name, a.Why)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(noDebug) > 0 {
		fmt.Fprintf(w, "\nNo debug info: build flags unknown — treat every analysis as live (%d objects):\n", len(noDebug))
		for _, o := range noDebug {
			fmt.Fprintf(w, "  %s\n", o.name)
		}
	}
	if len(unreadable) > 0 {
		fmt.Fprintf(w, "\nUnreadable: build flags unknown — treat every analysis as live (%d objects):\n", len(unreadable))
		for _, o := range unreadable {
			fmt.Fprintf(w, "  %s: %v\n", o.name, o.err)
		}
	}
	if perObject {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "OBJECT\tSET\tDUMP")
		for _, o := range objs {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", o.name, objectSetName(o), yesNo(o.hasDump))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func objectSetName(o *flagObject) string {
	switch {
	case o.set != nil:
		return o.set.id
	case errors.Is(o.err, dwarfinfo.ErrNoDWARF):
		return "no debug info"
	}
	return "unreadable"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// writeFlagsTable writes one row per set (or per object): aligned on a
// terminal, tab-separated when piped.
func writeFlagsTable(w io.Writer, tty bool, sets []*flagSet, noDebug []*flagObject, perObject bool) error {
	out := w
	var tw *tabwriter.Writer
	if tty {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		out = tw
	}
	const unknown = "unknown: assume every analysis live"
	if perObject {
		fmt.Fprintln(out, "OBJECT\tSET\tCOMPILER\tOPT\tLIVE PATCHING\tFTRACE\tLTO\tLIVE, NOT IN THE DUMP\tDUMP")
		type row struct {
			name string
			line string
		}
		var rows []row
		for _, s := range sets {
			for _, o := range s.objects {
				rows = append(rows, row{o.name, fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", o.name, s.id, s.compiler, s.opt,
					s.livePatching, s.ftrace, s.lto, orNone(strings.Join(s.liveNotInDump(), ",")), yesNo(o.hasDump))})
			}
		}
		for _, o := range noDebug {
			rows = append(rows, row{o.name, fmt.Sprintf("%s\t-\tno debug info\t?\t?\t?\t?\t%s\t%s", o.name, unknown, yesNo(o.hasDump))})
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
		for _, r := range rows {
			fmt.Fprintln(out, r.line)
		}
	} else {
		fmt.Fprintln(out, "SET\tOBJECTS\tCOMPILER\tOPT\tLIVE PATCHING\tFTRACE\tLTO\tLIVE, NOT IN THE DUMP")
		for _, s := range sets {
			fmt.Fprintf(out, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.id, len(s.objects), s.compiler, s.opt, s.livePatching,
				s.ftrace, s.lto, orNone(strings.Join(s.liveNotInDump(), ",")))
		}
		if len(noDebug) > 0 {
			fmt.Fprintf(out, "-\t%d\tno debug info\t?\t?\t?\t?\t%s\n", len(noDebug), unknown)
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// flagsReport is the YAML and JSON form of "klp-audit flags". Its fields
// follow the same rule as report.SchemaVersion: within one version they
// are only ever added.
type flagsReport struct {
	SchemaVersion int         `json:"schema_version" yaml:"schema_version"`
	Tool          report.Tool `json:"tool" yaml:"tool"`
	// Builds and DumpLists are the inputs given.
	Builds    []string `json:"builds,omitempty" yaml:"builds,omitempty"`
	DumpLists []string `json:"dump_lists,omitempty" yaml:"dump_lists,omitempty"`
	// Objects counts every object found.
	Objects int `json:"objects" yaml:"objects"`
	// Complete is false when any object had no debug info or could not be
	// read: its flags are unknown, never a clean bill.
	Complete bool             `json:"complete" yaml:"complete"`
	Problems []report.Problem `json:"problems" yaml:"problems"`
	// Sets groups the objects with identical flags, most objects first.
	Sets []flagSetReport `json:"sets" yaml:"sets"`
	// NoDebugInfo lists the objects without DWARF: treat every analysis
	// as live there.
	NoDebugInfo []string `json:"no_debug_info" yaml:"no_debug_info"`
	// PerObject, with --per-object, gives every object's units and
	// producers.
	PerObject []objectReport `json:"per_object,omitempty" yaml:"per_object,omitempty"`
}

// flagSetReport is one flag set.
type flagSetReport struct {
	ID string `json:"id" yaml:"id"`
	// Compiler, Opt, LivePatching, Ftrace and LTO are as in the text
	// output ("GNU C11 12.2.0", "-O2", "off", "-pg -mfentry", "no").
	Compiler     string `json:"compiler" yaml:"compiler"`
	Opt          string `json:"opt" yaml:"opt"`
	LivePatching string `json:"live_patching" yaml:"live_patching"`
	Ftrace       string `json:"ftrace" yaml:"ftrace"`
	LTO          string `json:"lto" yaml:"lto"`
	// LiveNotInDump names the live analyses no dump records: the caller
	// and callee hazards to check by hand.
	LiveNotInDump []string         `json:"live_not_in_dump" yaml:"live_not_in_dump"`
	Analyses      []analysisReport `json:"analyses" yaml:"analyses"`
	Objects       []string         `json:"objects" yaml:"objects"`
}

// analysisReport is one analysis of a set.
type analysisReport struct {
	Name    string `json:"name" yaml:"name"`
	Live    bool   `json:"live" yaml:"live"`
	InDump  bool   `json:"in_dump" yaml:"in_dump"`
	Why     string `json:"why" yaml:"why"`
	Meaning string `json:"meaning" yaml:"meaning"`
}

// objectReport is one object with --per-object.
type objectReport struct {
	Object  string       `json:"object" yaml:"object"`
	Set     string       `json:"set" yaml:"set"`
	HasDump bool         `json:"has_dump" yaml:"has_dump"`
	Units   []unitReport `json:"units,omitempty" yaml:"units,omitempty"`
	Error   string       `json:"error,omitempty" yaml:"error,omitempty"`
}

// unitReport is one compilation unit: its source, its DW_AT_producer and
// the section it was read from.
type unitReport struct {
	Name     string `json:"name" yaml:"name"`
	Producer string `json:"producer" yaml:"producer"`
	From     string `json:"from" yaml:"from"`
}

func flagsReportOf(opts *FlagsOptions, objs []*flagObject, sets []*flagSet, noDebug []*flagObject, problems []report.Problem) *flagsReport {
	r := &flagsReport{
		SchemaVersion: report.SchemaVersion,
		Tool:          report.Tool{Name: "klp-audit", Version: version(), Revision: toolRevision()},
		Builds:        opts.Builds,
		DumpLists:     opts.DumpLists,
		Objects:       len(objs),
		Complete:      len(noDebug) == 0 && len(problems) == 0,
		Problems:      problems,
		NoDebugInfo:   []string{},
		Sets:          []flagSetReport{},
	}
	if r.Problems == nil {
		r.Problems = []report.Problem{}
	}
	for _, s := range sets {
		sr := flagSetReport{ID: s.id, Compiler: s.compiler, Opt: s.opt, LivePatching: s.livePatching, Ftrace: s.ftrace,
			LTO: s.lto, LiveNotInDump: s.liveNotInDump()}
		if sr.LiveNotInDump == nil {
			sr.LiveNotInDump = []string{}
		}
		for _, a := range s.analyses {
			sr.Analyses = append(sr.Analyses, analysisReport{Name: a.Name, Live: a.Live, InDump: a.InDump, Why: a.Why, Meaning: a.Meaning})
		}
		for _, o := range s.objects {
			sr.Objects = append(sr.Objects, o.name)
		}
		r.Sets = append(r.Sets, sr)
	}
	for _, o := range noDebug {
		r.NoDebugInfo = append(r.NoDebugInfo, o.name)
	}
	if opts.PerObject {
		for _, o := range objs {
			or := objectReport{Object: o.name, Set: objectSetName(o), HasDump: o.hasDump}
			if o.err != nil {
				or.Error = o.err.Error()
			}
			for _, u := range o.units {
				or.Units = append(or.Units, unitReport{Name: u.Name, Producer: u.Producer, From: u.From})
			}
			r.PerObject = append(r.PerObject, or)
		}
	}
	return r
}
