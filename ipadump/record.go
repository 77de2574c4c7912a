package ipadump

import "fmt"

// Kind says which kind of line a Record came from.
type Kind uint8

const (
	// Clone is a "Callgraph clone" line: Orig's code now lives in Clone.
	Clone Kind = iota + 1
	// Removal is a "Callgraph removal" line: GCC dropped the node Orig.
	Removal
)

func (k Kind) String() string {
	switch k {
	case Clone:
		return "clone"
	case Removal:
		return "removal"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Transform is the transformation a clone line records (its SUFFIX field).
type Transform uint8

const (
	// NoTransform is the zero value, used by removal records.
	NoTransform Transform = iota
	// Inline: Orig's body was inlined into Clone.
	Inline
	// ConstProp: Clone is an IPA-CP specialisation of Orig.
	ConstProp
	// ISRA: Clone is Orig with a signature rewritten by IPA-SRA.
	ISRA
	// Part: Clone holds the part of Orig that ipa-split moved out.
	Part
	// SimdClone: Clone is a vector variant of Orig.
	SimdClone
	// Null: GCC printed "(null)"; Clone is a copy of Orig's code.
	Null
	// Unknown: a suffix this version does not know; Record.Suffix keeps it.
	// Treat Clone as containing Orig's code.
	Unknown
)

var transformNames = [...]string{
	NoTransform: "",
	Inline:      "inlining to",
	ConstProp:   "constprop",
	ISRA:        "isra",
	Part:        "part",
	SimdClone:   "simdclone",
	Null:        "(null)",
	Unknown:     "unknown",
}

// String returns the suffix as GCC writes it ("inlining to", "constprop", ...).
func (t Transform) String() string {
	if int(t) < len(transformNames) {
		return transformNames[t]
	}
	return fmt.Sprintf("Transform(%d)", uint8(t))
}

// ChangesABI reports whether a clone made by t may be called with a
// different signature than the original: such a clone cannot be replaced by
// a function with the original prototype. Unknown is treated as changing it.
func (t Transform) ChangesABI() bool {
	switch t {
	case ConstProp, ISRA, Part, SimdClone, Unknown:
		return true
	}
	return false
}

// ParseTransform maps a dump suffix to its Transform; unrecognised suffixes
// give Unknown.
func ParseTransform(s string) Transform { return transformOf([]byte(s)) }

// Decl is one call-graph node as a dump line names it.
type Decl struct {
	Name  string // assembler name
	Order int    // GCC node number, unique within one dump only
	File  string // declaration file, normalised
	Line  int
	Col   int
}

// Pos says where a record was read.
type Pos struct {
	Dump string // path of the dump file
	Line int    // 1-based line number
	// DWARF says the step was read from the DWARF of object Dump (an
	// inlined subroutine declared at source line Line), not from a dump.
	DWARF bool
}

func (p Pos) String() string {
	if p.DWARF {
		return fmt.Sprintf("%s (DWARF):%d", p.Dump, p.Line)
	}
	return fmt.Sprintf("%s:%d", p.Dump, p.Line)
}

// Record is one line of a dump.
type Record struct {
	Kind      Kind
	Orig      Decl      // the original (clone lines) or the removed node
	Clone     Decl      // the node that received Orig's code; zero for removals
	Transform Transform // zero for removals
	Suffix    string    // the raw SUFFIX field; set for Unknown transforms
	Pos       Pos
}
