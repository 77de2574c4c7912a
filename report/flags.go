package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// FlagsResult is the answer of "klp-audit flags", and its YAML and JSON
// form. Its fields follow the same rule as SchemaVersion: within one
// version they are only ever added.
type FlagsResult struct {
	SchemaVersion int  `json:"schema_version" yaml:"schema_version"`
	Tool          Tool `json:"tool" yaml:"tool"`
	// Builds and DumpLists are the inputs given.
	Builds    []string `json:"builds,omitempty" yaml:"builds,omitempty"`
	DumpLists []string `json:"dump_lists,omitempty" yaml:"dump_lists,omitempty"`
	// Objects counts every object found.
	Objects int `json:"objects" yaml:"objects"`
	// Complete is false when any object had no debug info or could not be
	// read: its flags are unknown, never a clean bill.
	Complete bool      `json:"complete" yaml:"complete"`
	Problems []Problem `json:"problems" yaml:"problems"`
	// Sets groups the objects with identical flags, most objects first.
	Sets []FlagSet `json:"sets" yaml:"sets"`
	// NoDebugInfo lists the objects without DWARF: treat every analysis
	// as live there.
	NoDebugInfo []string `json:"no_debug_info" yaml:"no_debug_info"`
	// PerObject, with --per-object, gives every object's units and
	// producers.
	PerObject []ObjectFlags `json:"per_object,omitempty" yaml:"per_object,omitempty"`
	// All is every object, by name, whether or not PerObject is asked
	// for: what the text and table forms list.
	All []ObjectFlags `json:"-" yaml:"-"`
	// Notes say which objects were left out and why (in a kernel tree:
	// host programs, assembler sources, objects linked into the vDSO or
	// boot code, where no livepatch reaches).
	Notes []string `json:"notes,omitempty" yaml:"notes,omitempty"`
}

// FlagSet is one set of objects with the same flags, as far as a
// livepatch is concerned.
type FlagSet struct {
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
	LiveNotInDump []string `json:"live_not_in_dump" yaml:"live_not_in_dump"`
	// NoDump: the set's objects have no ipa-clones dump beside them; what
	// a dump records (inlining, cloning) is in LiveNotInDump too.
	NoDump   bool       `json:"no_dump,omitempty" yaml:"no_dump,omitempty"`
	Analyses []Analysis `json:"analyses" yaml:"analyses"`
	Objects  []string   `json:"objects" yaml:"objects"`
}

// Analysis is one inter-procedural analysis of a flag set.
type Analysis struct {
	Name    string `json:"name" yaml:"name"`
	Live    bool   `json:"live" yaml:"live"`
	InDump  bool   `json:"in_dump" yaml:"in_dump"`
	Why     string `json:"why" yaml:"why"`
	Meaning string `json:"meaning" yaml:"meaning"`
}

// ObjectFlags is one object: its set ("no debug info" or "unreadable"
// when it has none), whether a dump is beside it, its compile units and
// why it could not be read.
type ObjectFlags struct {
	Object  string      `json:"object" yaml:"object"`
	Set     string      `json:"set" yaml:"set"`
	HasDump bool        `json:"has_dump" yaml:"has_dump"`
	Units   []UnitFlags `json:"units,omitempty" yaml:"units,omitempty"`
	Error   string      `json:"error,omitempty" yaml:"error,omitempty"`
}

// The Set of an object that is in no flag set.
const (
	SetNoDebugInfo = "no debug info"
	SetUnreadable  = "unreadable"
)

// UnitFlags is one compilation unit: its source, its DW_AT_producer and
// the section it was read from.
type UnitFlags struct {
	Name     string `json:"name" yaml:"name"`
	Producer string `json:"producer" yaml:"producer"`
	From     string `json:"from" yaml:"from"`
}

// RenderFlags writes r to w in format f; tty aligns the table on a
// terminal (it is tab-separated otherwise); perObject lists every object.
func RenderFlags(w io.Writer, r *FlagsResult, f Format, tty, perObject bool) error {
	switch f {
	case Text:
		return writeFlagsText(w, r, perObject)
	case Table:
		return writeFlagsTable(w, r, tty, perObject)
	case JSON, YAML:
		return Encode(w, r, f)
	}
	return fmt.Errorf("flags writes %s, not %s", strings.Join(FormatNames(VerbFlags), ", "), f)
}

func writeFlagsText(w io.Writer, r *FlagsResult, perObject bool) error {
	var unreadable []ObjectFlags
	for _, o := range r.All {
		if o.Set == SetUnreadable {
			unreadable = append(unreadable, o)
		}
	}
	fmt.Fprintf(w, "%s, %s", plural(r.Objects, "object", "objects"), plural(len(r.Sets), "flag set", "flag sets"))
	if len(r.NoDebugInfo) > 0 {
		fmt.Fprintf(w, ", %d without debug info", len(r.NoDebugInfo))
	}
	if len(unreadable) > 0 {
		fmt.Fprintf(w, ", %d unreadable", len(unreadable))
	}
	fmt.Fprintln(w)
	if len(r.Sets) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SET\tOBJECTS\tCOMPILER\tOPT\tLIVE PATCHING\tFTRACE\tLTO\tLIVE, NOT IN THE DUMP")
		for _, s := range r.Sets {
			live := noneIfEmpty(strings.Join(s.LiveNotInDump, " "))
			if s.NoDump {
				live = "(no dump) " + live
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, len(s.Objects), s.Compiler, s.Opt, s.LivePatching,
				s.Ftrace, s.LTO, live)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, s := range r.Sets {
		fmt.Fprintf(w, "\nSet %s: %s\n", s.ID, objectList(s.Objects, 6))
		if s.NoDump {
			fmt.Fprintln(w, "  no ipa-clones dump beside these objects: no dump records their inlining or cloning; klp-audit impacted takes their inlining from DWARF (clones are not seen there)")
		}
		if s.Ftrace == "none" {
			fmt.Fprintln(w, "  no ftrace entry (built without -pg -mfentry or -fpatchable-function-entry): a kernel livepatch cannot replace these functions, only callers that have one")
		}
		var inDump, notInDump, off []Analysis
		for _, a := range s.Analyses {
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
	if len(r.NoDebugInfo) > 0 {
		fmt.Fprintf(w, "\nNo debug info: build flags unknown — treat every analysis as live (%d objects):\n", len(r.NoDebugInfo))
		for _, o := range r.NoDebugInfo {
			fmt.Fprintf(w, "  %s\n", o)
		}
	}
	if len(unreadable) > 0 {
		fmt.Fprintf(w, "\nUnreadable: build flags unknown — treat every analysis as live (%d objects):\n", len(unreadable))
		for _, o := range unreadable {
			fmt.Fprintf(w, "  %s: %s\n", o.Object, o.Error)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\nnote: %s\n", n)
	}
	if perObject {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "OBJECT\tSET\tDUMP")
		for _, o := range r.All {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", o.Object, o.Set, yesNo(o.HasDump))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// writeFlagsTable writes one row per set (or per object): aligned on a
// terminal, tab-separated when piped.
func writeFlagsTable(w io.Writer, r *FlagsResult, tty, perObject bool) error {
	out := w
	var tw *tabwriter.Writer
	if tty {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		out = tw
	}
	const unknown = "unknown: assume every analysis live"
	if perObject {
		hasDump := map[string]bool{}
		for _, o := range r.All {
			hasDump[o.Object] = o.HasDump
		}
		fmt.Fprintln(out, "OBJECT\tSET\tCOMPILER\tOPT\tLIVE PATCHING\tFTRACE\tLTO\tLIVE, NOT IN THE DUMP\tDUMP")
		type row struct {
			name string
			line string
		}
		var rows []row
		for _, s := range r.Sets {
			for _, o := range s.Objects {
				rows = append(rows, row{o, fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", o, s.ID, s.Compiler, s.Opt,
					s.LivePatching, s.Ftrace, s.LTO, noneIfEmpty(strings.Join(s.LiveNotInDump, ",")), yesNo(hasDump[o]))})
			}
		}
		for _, o := range r.NoDebugInfo {
			rows = append(rows, row{o, fmt.Sprintf("%s\t-\tno debug info\t?\t?\t?\t?\t%s\t%s", o, unknown, yesNo(hasDump[o]))})
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
		for _, r := range rows {
			fmt.Fprintln(out, r.line)
		}
	} else {
		fmt.Fprintln(out, "SET\tOBJECTS\tCOMPILER\tOPT\tLIVE PATCHING\tFTRACE\tLTO\tLIVE, NOT IN THE DUMP")
		for _, s := range r.Sets {
			fmt.Fprintf(out, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, len(s.Objects), s.Compiler, s.Opt, s.LivePatching,
				s.Ftrace, s.LTO, noneIfEmpty(strings.Join(s.LiveNotInDump, ",")))
		}
		if len(r.NoDebugInfo) > 0 {
			fmt.Fprintf(out, "-\t%d\tno debug info\t?\t?\t?\t?\t%s\n", len(r.NoDebugInfo), unknown)
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// objectList names up to n objects of a set.
func objectList(objs []string, n int) string {
	var names []string
	for i, o := range objs {
		if i == n {
			names = append(names, fmt.Sprintf("… %d more", len(objs)-n))
			break
		}
		names = append(names, o)
	}
	return strings.Join(names, " ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// noneIfEmpty shows an empty list as "none".
func noneIfEmpty(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
