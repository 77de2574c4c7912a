// Package report turns klp-audit's answers into what people and pipelines
// read: an indented text tree, a table, YAML and JSON following one
// versioned schema, and Graphviz DOT. Renderers see only the plain data of
// this file, never the analysis graph.
//
// # Schema (version 1)
//
// YAML and JSON carry the same fields, named as in the struct tags below.
// Within one schema version fields are only ever added, never renamed or
// removed; a consumer should ignore fields it does not know. A
// backward-incompatible change increments SchemaVersion.
//
//	schema_version  1
//	tool            name, version, revision of the klp-audit binary
//	inputs          build directories / dump lists, counts of dumps,
//	                translation units and dump records read
//	query           command ("impacted"), function, file and tu filters
//	complete        false when any evidence was missing or unreadable: the
//	                entries are then a lower bound, never a safe answer
//	problems        what made the result incomplete, each with file:line
//	entries         one per function carrying the queried code: name,
//	                translation unit, source file:line, depth, how it is
//	                reached (the last transformation), the whole reason
//	                chain, the clone kinds that created it, whether the dump
//	                says it was removed, and whether it lies on a cycle
//	edges           every transformation between entries (the impact graph)
package report

// SchemaVersion is the version of the YAML/JSON report schema.
const SchemaVersion = 1

// Result is one answer of klp-audit.
type Result struct {
	SchemaVersion int       `json:"schema_version" yaml:"schema_version"`
	Tool          Tool      `json:"tool" yaml:"tool"`
	Inputs        Inputs    `json:"inputs" yaml:"inputs"`
	Query         Query     `json:"query" yaml:"query"`
	Complete      bool      `json:"complete" yaml:"complete"`
	Problems      []Problem `json:"problems" yaml:"problems"`
	Summary       Summary   `json:"summary" yaml:"summary"`
	Entries       []Entry   `json:"entries" yaml:"entries"`
	Edges         []Step    `json:"edges" yaml:"edges"`
}

// Tool identifies the klp-audit binary that produced a result.
type Tool struct {
	Name     string `json:"name" yaml:"name"`
	Version  string `json:"version" yaml:"version"`
	Revision string `json:"revision,omitempty" yaml:"revision,omitempty"`
}

// Inputs says what evidence was read.
type Inputs struct {
	Builds    []string `json:"builds,omitempty" yaml:"builds,omitempty"`
	DumpLists []string `json:"dump_lists,omitempty" yaml:"dump_lists,omitempty"`
	Dumps     int      `json:"dumps" yaml:"dumps"`
	TUs       int      `json:"translation_units" yaml:"translation_units"`
	Records   int      `json:"records" yaml:"records"`
}

// Query is what was asked.
type Query struct {
	Command  string `json:"command" yaml:"command"`
	Function string `json:"function" yaml:"function"`
	File     string `json:"file,omitempty" yaml:"file,omitempty"`
	TU       string `json:"translation_unit,omitempty" yaml:"translation_unit,omitempty"`
}

// Problem is one piece of missing or unreadable evidence.
type Problem struct {
	File    string `json:"file" yaml:"file"`
	Line    int    `json:"line,omitempty" yaml:"line,omitempty"`
	Message string `json:"message" yaml:"message"`
}

// Summary counts the entries.
type Summary struct {
	Functions int `json:"functions" yaml:"functions"`
	TUs       int `json:"translation_units" yaml:"translation_units"`
	Removed   int `json:"removed_in_dump" yaml:"removed_in_dump"`
}

// Entry is one function that carries the queried function's code.
type Entry struct {
	Name       string `json:"name" yaml:"name"`
	TU         string `json:"translation_unit" yaml:"translation_unit"`
	SourceFile string `json:"source_file" yaml:"source_file"`
	SourceLine int    `json:"source_line" yaml:"source_line"`
	// Depth is the number of transformations from the queried function;
	// 0 for the queried function itself.
	Depth int `json:"depth" yaml:"depth"`
	// Reached is how the entry got the code: "queried" for the function
	// itself, else the last transformation ("inlined", "constprop", ...).
	Reached string `json:"reached" yaml:"reached"`
	// Chain is the reason: the transformations from the queried function
	// to this one, first to last.
	Chain []Step `json:"chain" yaml:"chain"`
	// CloneOf lists the clone kinds that created this function, if GCC
	// made it (constprop, isra, part, simdclone, copy).
	CloneOf []string `json:"clone_of,omitempty" yaml:"clone_of,omitempty"`
	// RemovedInDump says a dump records the removal of every copy; the
	// function then has no symbol of its own and is patched through the
	// functions it was inlined into.
	RemovedInDump bool `json:"removed_in_dump" yaml:"removed_in_dump"`
	InCycle       bool `json:"in_cycle,omitempty" yaml:"in_cycle,omitempty"`
	// NotInDump says no dump line mentions the function in this unit
	// although its object defines it: GCC neither inlined nor cloned it
	// there, so this copy carries only its own code.
	NotInDump bool `json:"not_in_dump,omitempty" yaml:"not_in_dump,omitempty"`
	LTO       bool `json:"lto,omitempty" yaml:"lto,omitempty"`
}

// Step is one transformation: To contains the code of From.
type Step struct {
	From string `json:"from" yaml:"from"`
	To   string `json:"to" yaml:"to"`
	TU   string `json:"translation_unit" yaml:"translation_unit"`
	// How is "inlined", "constprop", "isra", "part", "simdclone", "copy"
	// (GCC's "(null)"), or "unknown:SUFFIX".
	How string `json:"how" yaml:"how"`
	// Evidence is the dump line that records the step, as dump:line.
	Evidence string `json:"evidence" yaml:"evidence"`
}
