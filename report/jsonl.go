package report

import (
	"encoding/json"
	"io"
)

// FunctionLine is one line of "impacted --all-functions" (JSON Lines):
// for one function of one unit, every function of the unit holding its
// code, as a tree (each holder names the function it got the code from),
// from the dumps alone. kgraft-analysis-tool's run over every symbol
// prints the same, as text.
type FunctionLine struct {
	SchemaVersion int    `json:"schema_version"`
	Function      string `json:"function"`
	TU            string `json:"translation_unit"`
	SourceFile    string `json:"source_file,omitempty"`
	SourceLine    int    `json:"source_line,omitempty"`
	// Removed says the dump has a removal line for the function.
	Removed bool `json:"removed_in_dump,omitempty"`
	// Dumps are the unit's dumps; a holder's DumpLine is a line of the
	// first (of Dump, when the unit has several: an LTO program).
	Dumps []string `json:"dumps"`
	// Holding are the functions holding its code, breadth first (by
	// depth, then name).
	Holding []Holder `json:"holding"`
}

// Holder is a function holding the code of another, and how it got it.
type Holder struct {
	Name string `json:"name"`
	// From is the function it got the code from (the parent in the
	// tree), How the transformation ("inlined", "constprop", ...).
	From     string `json:"from"`
	How      string `json:"how"`
	Depth    int    `json:"depth"`
	DumpLine int    `json:"dump_line"`
	Dump     int    `json:"dump,omitempty"`
	Removed  bool   `json:"removed_in_dump,omitempty"`
	InCycle  bool   `json:"in_cycle,omitempty"`
}

// RenderFunctionLine writes l as one line of JSON.
func RenderFunctionLine(w io.Writer, l *FunctionLine) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(l)
}
