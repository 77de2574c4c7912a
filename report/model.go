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
//	                and, from the object: whether the function is emitted
//	                (a symbol a livepatch can replace), its symbols with
//	                binding, section, cold pieces, folded aliases and ftrace
//	                entry, and the object call graph's callers
//	edges           every transformation between entries (the impact graph)
//	targets         the must-patch set of the safety rules: per function
//	                its klp_object, unit, object, source, binding, section,
//	                old_sympos (with --vmlinux), severity, the rule that
//	                added it (and others that reached it), and the reason
//	                chain, each step naming its rule and evidence.
//	                severity is must, conditional or review; conditional
//	                (a caller relying on a changed function's body, a
//	                callee compiled for its arguments) is needed only if
//	                the fix changes what was assumed, and note says the
//	                condition. conditional was added within version 1:
//	                a new value of an existing field, so the schema
//	                stays 1; a consumer that knows only must and review
//	                should treat an unknown severity as review
//	explained       functions on the chains that are not targets, and why
//	policy, notes   the policy used, and facts worth knowing
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
	// Targets is the must-patch set the safety rules computed, and
	// Explained the functions on their chains that are not targets. Both
	// are absent when the rules did not run (--no-rules, --dumps-only);
	// when they ran, Targets is present, [] if they found none.
	Targets   TargetList  `json:"targets,omitzero" yaml:"targets,omitempty"`
	Explained []Explained `json:"explained,omitempty" yaml:"explained,omitempty"`
	// Policy names the policy the rules ran with.
	Policy string `json:"policy,omitempty" yaml:"policy,omitempty"`
	// Notes are facts that do not change the answer but a reader should
	// know.
	Notes []string `json:"notes,omitempty" yaml:"notes,omitempty"`
	// Rebuild is what rebuilding the units a fix touches showed
	// (impacted --fix): the targets are then resolved by it.
	Rebuild *CheckRebuild `json:"rebuild,omitempty" yaml:"rebuild,omitempty"`
}

// TargetList is a must-patch set: nil when the rules did not run, so the
// field is left out, and empty (written as []) when they found nothing.
type TargetList []Target

// IsZero reports whether the rules did not run (encoding/json's omitzero
// and yaml.v3's omitempty ask it).
func (l TargetList) IsZero() bool { return l == nil }

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
	File string `json:"file" yaml:"file"`
	Line int    `json:"line,omitempty" yaml:"line,omitempty"`
	// Kind is what the problem is: KindFailClosed (evidence a target
	// depends on is missing), KindInput (an input could not be read, in
	// whole or in a line) or KindNote.
	Kind    string `json:"kind,omitempty" yaml:"kind,omitempty"`
	Message string `json:"message" yaml:"message"`
}

// The severities of a target.
const (
	SeverityMust        = "must"
	SeverityConditional = "conditional"
	SeverityReview      = "review"
)

// WhyNotLinked begins the WhyNotEmitted of an entry whose object is
// linked into neither vmlinux nor a module (the vDSO, boot code): no
// klp_func can name it, whether its object has its symbol or not.
const WhyNotLinked = "no livepatch target: its object is "

// The kinds of problems.
const (
	KindFailClosed = "fail-closed"
	KindInput      = "input"
	KindNote       = "note"
)

// Summary counts the entries.
type Summary struct {
	Functions int `json:"functions" yaml:"functions"`
	TUs       int `json:"translation_units" yaml:"translation_units"`
	Removed   int `json:"removed_in_dump" yaml:"removed_in_dump"`
	// Emitted counts the entries that exist as symbols: what a livepatch
	// replaces. Zero when objects were not read (--dumps-only).
	Emitted int `json:"emitted" yaml:"emitted"`
	// Must, Conditional, Review and Ignored count the targets by
	// severity.
	Must        int `json:"must,omitempty" yaml:"must,omitempty"`
	Conditional int `json:"conditional,omitempty" yaml:"conditional,omitempty"`
	Review      int `json:"review,omitempty" yaml:"review,omitempty"`
	Ignored     int `json:"ignored,omitempty" yaml:"ignored,omitempty"`
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
	// to this one, first to last. A chain longer than MaxChain steps keeps
	// its last MaxChain; ChainOmitted counts the first ones left out (each
	// is the last step of an entry nearer the queried function).
	Chain        []Step `json:"chain" yaml:"chain"`
	ChainOmitted int    `json:"chain_omitted,omitempty" yaml:"chain_omitted,omitempty"`
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
	// Emitted says whether the function exists as a symbol of its object,
	// decided from the symbol table (never from the dump's removal lines):
	// "yes" (a livepatch can replace it: a klp_func target), "no" (inlined
	// everywhere or replaced by clones: patched through the functions that
	// hold its code; or its object is linked into neither vmlinux nor a
	// module, the vDSO say: no livepatch target) or "unknown" (the object
	// was not read). Empty when the
	// answer came from dumps alone (--dumps-only).
	Emitted string `json:"emitted,omitempty" yaml:"emitted,omitempty"`
	// WhyNotEmitted explains Emitted "no" or "unknown".
	WhyNotEmitted string `json:"why_not_emitted,omitempty" yaml:"why_not_emitted,omitempty"`
	// Object is the object file whose symbol table was read.
	Object string `json:"object,omitempty" yaml:"object,omitempty"`
	// Symbols hold the function's code in the object: normally one; the
	// vector-ABI variants of a simd clone; an LTO local's privatised name.
	Symbols []Symbol `json:"symbols,omitempty" yaml:"symbols,omitempty"`
	// Callers are the functions (or data, for function pointers) that
	// reach the symbols in the object call graph.
	Callers []Caller `json:"callers,omitempty" yaml:"callers,omitempty"`
}

// Symbol is one function symbol of an object.
type Symbol struct {
	Name    string `json:"name" yaml:"name"`
	Binding string `json:"binding" yaml:"binding"` // local, global or weak
	Section string `json:"section" yaml:"section"`
	Offset  uint64 `json:"offset" yaml:"offset"`
	Size    uint64 `json:"size" yaml:"size"`
	// Cold are the hot/cold pieces (foo.cold) replaced with the function.
	Cold []string `json:"cold,omitempty" yaml:"cold,omitempty"`
	// Aliases are other symbols at the same address: one folded body
	// (identical code folding) or aliases; replacing it changes them all.
	Aliases []string `json:"aliases,omitempty" yaml:"aliases,omitempty"`
	// Fentry says the function starts with an ftrace call (__fentry__),
	// which kernel livepatching needs to redirect it.
	Fentry bool `json:"fentry" yaml:"fentry"`
}

// Caller is one reference to a function in the object call graph.
type Caller struct {
	Name string `json:"name" yaml:"name"`
	// How is "call", "tail call", "address taken" (in code) or
	// "data reference" (a function pointer stored in data Name).
	How string `json:"how" yaml:"how"`
	// Site is the offset (or address, in a linked file) of the reference.
	Site uint64 `json:"site" yaml:"site"`
}

// MaxChain is the longest reason chain an entry carries: answers stay
// linear in the graph's size (a linear chain of n inlinings would
// otherwise print n²/2 steps).
const MaxChain = 16

// Step is one hop of a reason chain: To holds the code of From (a
// transformation of the dump), or calls it, is called by it or shares its
// body (a step of the rules); Relation says which, in words.
type Step struct {
	From string `json:"from" yaml:"from"`
	To   string `json:"to" yaml:"to"`
	TU   string `json:"translation_unit" yaml:"translation_unit"`
	// How is "inlined", "constprop", "isra", "part", "simdclone", "copy"
	// (GCC's "(null)"), or "unknown:SUFFIX".
	How string `json:"how" yaml:"how"`
	// Evidence is the dump line that records the step, as dump:line, or
	// for steps of the rules the object and call site.
	Evidence string `json:"evidence" yaml:"evidence"`
	// Rule names the safety rule that took the step: containment for the
	// dump's transformations, changed-abi, caller-assumptions, icf or
	// not-patchable for the object call graph's. Empty in the impact
	// graph (edges).
	Rule string `json:"rule,omitempty" yaml:"rule,omitempty"`
	// At locates the dump line Evidence cites, for --explain to quote;
	// nil for steps of the object call graph. Not part of the schema.
	At *Position `json:"-" yaml:"-"`
	// Severity is the severity the step gave the function it leads to
	// under the policy (must, conditional or review), for --explain;
	// empty when not known (the impact graph's edges). Not part of the
	// schema: --explain writes it as rule_severity.
	Severity string `json:"-" yaml:"-"`
}

// Position is a line of a dump, or of the source an object's DWARF
// records an inlined copy at.
type Position struct {
	File  string
	Line  int
	DWARF bool
}

// Target is a function the livepatch must replace (severity must), must
// replace only if the fix changes what it assumed (conditional: Note says
// the condition) or a reviewer must decide on (review): a klp_func.
type Target struct {
	Name string `json:"name" yaml:"name"`
	// KLPObject is the klp_object the function lives in: "vmlinux" or the
	// module's name, when known.
	KLPObject  string `json:"klp_object,omitempty" yaml:"klp_object,omitempty"`
	TU         string `json:"translation_unit" yaml:"translation_unit"`
	Object     string `json:"object" yaml:"object"`
	SourceFile string `json:"source_file,omitempty" yaml:"source_file,omitempty"`
	SourceLine int    `json:"source_line,omitempty" yaml:"source_line,omitempty"`
	Binding    string `json:"binding" yaml:"binding"`
	Section    string `json:"section" yaml:"section"`
	// OldSympos is klp_func.old_sympos: the 1-based position among the
	// same-named local symbols of the linked vmlinux or module; 0 when the
	// name is unique there. Omitted when no linked file was given.
	OldSympos *int   `json:"old_sympos,omitempty" yaml:"old_sympos,omitempty"`
	Severity  string `json:"severity" yaml:"severity"` // must, conditional or review
	// Rule is the rule that made it a target; Also the others that did.
	Rule string   `json:"rule" yaml:"rule"`
	Also []string `json:"also,omitempty" yaml:"also,omitempty"`
	Note string   `json:"note,omitempty" yaml:"note,omitempty"`
	// Chain leads from a changed function to this one.
	Chain []Step `json:"chain" yaml:"chain"`
	// IgnoredBecause is the policy's justification when the policy
	// ignores this target; it is then not counted as one.
	IgnoredBecause string `json:"ignored_because,omitempty" yaml:"ignored_because,omitempty"`
	// OldSymposEvidence says how OldSympos was found (impacted --vmlinux):
	// the linked file, the position among the same-named symbols in
	// kallsyms order, and how the symbol was matched to the object's
	// (equal code outside relocated fields; the DWARF compile unit).
	OldSymposEvidence string `json:"old_sympos_evidence,omitempty" yaml:"old_sympos_evidence,omitempty"`
}

// Explained is a function on a reason chain that is not a target, and why.
type Explained struct {
	Name string `json:"name" yaml:"name"`
	TU   string `json:"translation_unit" yaml:"translation_unit"`
	Rule string `json:"rule" yaml:"rule"`
	Why  string `json:"why" yaml:"why"`
}
