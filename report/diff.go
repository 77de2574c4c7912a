package report

// DiffSchemaVersion is the version of the YAML/JSON form of a DiffReport. Within
// one version fields are only added, never renamed or removed; a
// consumer should ignore fields it does not know.
const DiffSchemaVersion = 1

// DiffReport is the answer of klp-audit diff: the comparison of two objects,
// or of every object of two build trees.
type DiffReport struct {
	SchemaVersion int  `json:"schema_version" yaml:"schema_version"`
	Tool          Tool `json:"tool" yaml:"tool"`
	// Orig and Patched are the paths compared, as given.
	Orig    string `json:"orig" yaml:"orig"`
	Patched string `json:"patched" yaml:"patched"`
	// Trees says Orig and Patched are build trees, paired by path.
	Trees   bool        `json:"trees" yaml:"trees"`
	Summary DiffSummary `json:"summary" yaml:"summary"`
	// Objects holds one entry per object pair, sorted by Path; in tree
	// mode objects without any difference are left out (Summary counts
	// them).
	Objects []ObjectDiff `json:"objects" yaml:"objects"`
	// Problems are objects that could not be compared: the report is
	// then incomplete.
	Problems []DiffProblem `json:"problems,omitempty" yaml:"problems,omitempty"`
}

// DiffSummary counts the functions of every object compared.
type DiffSummary struct {
	// Objects is the number of object pairs compared; AddedObjects and
	// RemovedObjects those only in the patched or the original tree.
	Objects        int `json:"objects" yaml:"objects"`
	AddedObjects   int `json:"added_objects" yaml:"added_objects"`
	RemovedObjects int `json:"removed_objects" yaml:"removed_objects"`
	Changed        int `json:"changed" yaml:"changed"`
	LineShiftOnly  int `json:"line_shift_only" yaml:"line_shift_only"`
	Added          int `json:"added" yaml:"added"`
	Removed        int `json:"removed" yaml:"removed"`
	Unchanged      int `json:"unchanged" yaml:"unchanged"`
	// DataChanged counts the data objects added, removed or changed.
	DataChanged int `json:"data_changed,omitempty" yaml:"data_changed,omitempty"`
}

// Differs says some function changed, appeared or disappeared, or some
// data object did: the livepatch has work to do (line shifts alone do
// not count).
func (s DiffSummary) Differs() bool {
	return s.Changed+s.Added+s.Removed+s.DataChanged > 0
}

// ObjectStatus says whether an object was on both sides.
type ObjectStatus string

const (
	// ObjectCompared: the object is in both trees (or two objects were
	// given).
	ObjectCompared ObjectStatus = "compared"
	// ObjectAdded: only the patched tree has it; every function in it
	// is added.
	ObjectAdded ObjectStatus = "added"
	// ObjectRemoved: only the original tree has it.
	ObjectRemoved ObjectStatus = "removed"
)

// ObjectDiff is the comparison of one object pair.
type ObjectDiff struct {
	// Path is the object's path relative to the trees, or the patched
	// object's path when two objects were given.
	Path    string       `json:"path" yaml:"path"`
	Status  ObjectStatus `json:"status" yaml:"status"`
	Machine string       `json:"machine,omitempty" yaml:"machine,omitempty"`
	// Changed functions must be replaced by the livepatch: their code
	// differs beyond relocation offsets and __LINE__ numbers.
	Changed []Change `json:"changed" yaml:"changed"`
	// LineShiftOnly functions differ only in line numbers (__LINE__ in
	// code, WARN/BUG lines in __bug_table): their behaviour is the same.
	LineShiftOnly []Change `json:"line_shift_only" yaml:"line_shift_only"`
	// Added functions exist only in the patched object: new code the
	// livepatch must carry (and callers that reach it).
	Added []Function `json:"added" yaml:"added"`
	// Removed functions exist only in the original object; whatever
	// called them changed.
	Removed []Function `json:"removed" yaml:"removed"`
	// Unchanged counts the functions whose code is the same.
	Unchanged int `json:"unchanged" yaml:"unchanged"`
	// Renames are the functions and function-local statics that have
	// another name in the patched object (a renumbered clone or static):
	// references to them count as equal.
	Renames []Rename `json:"renames,omitempty" yaml:"renames,omitempty"`
	// Ambiguities are symbols the correlation could not pair because
	// several candidates were equally good: they are reported as
	// removed and added, never paired by guess.
	Ambiguities []Ambiguity `json:"ambiguities,omitempty" yaml:"ambiguities,omitempty"`
	// DataChanges are the data objects that are new, gone or changed
	// (initial value, size, section), with the functions referencing
	// them: a livepatch cannot replace data (shadow variables or
	// callbacks are needed).
	DataChanges []DataChange `json:"data_changes,omitempty" yaml:"data_changes,omitempty"`
	// Notes are facts about the comparison a reader should know (a table
	// that could not be read, no line table).
	Notes []string `json:"notes,omitempty" yaml:"notes,omitempty"`
}

// RenameKind says what kind of symbol a Rename or Ambiguity is about.
type RenameKind string

const (
	// RenameFunction: a function, a clone renumbered by GCC
	// (foo.constprop.5 -> foo.constprop.6).
	RenameFunction RenameKind = "function"
	// RenameData: a function-local static renumbered by GCC
	// (__already_done.12 -> __already_done.13).
	RenameData RenameKind = "data"
)

// Rename is one symbol correlated under another name.
type Rename struct {
	Kind    RenameKind `json:"kind" yaml:"kind"`
	Orig    string     `json:"orig" yaml:"orig"`
	Patched string     `json:"patched" yaml:"patched"`
	// EqualCode says a renamed function's code is the same, references
	// to renamed symbols aside (it may still differ in line numbers or
	// tables; see the function's own entry).
	EqualCode bool `json:"equal_code,omitempty" yaml:"equal_code,omitempty"`
	// Owners are the functions that reference a renamed static, in the
	// patched object.
	Owners []string `json:"owners,omitempty" yaml:"owners,omitempty"`
}

// Ambiguity is a set of symbols of one base name that the correlation
// could not pair: Orig and Patched are the candidates left unpaired.
type Ambiguity struct {
	Kind    RenameKind `json:"kind" yaml:"kind"`
	Base    string     `json:"base" yaml:"base"`
	Orig    []string   `json:"orig" yaml:"orig"`
	Patched []string   `json:"patched" yaml:"patched"`
	Message string     `json:"message" yaml:"message"`
}

// DataStatus says how a data object differs.
type DataStatus string

const (
	DataAdded   DataStatus = "added"
	DataRemoved DataStatus = "removed"
	DataChanged DataStatus = "changed"
)

// DataChange is one data object (a variable) that differs.
type DataChange struct {
	// Name is the symbol's name (the patched one for a changed object).
	Name    string     `json:"name" yaml:"name"`
	Section string     `json:"section" yaml:"section"`
	Size    uint64     `json:"size" yaml:"size"`
	Status  DataStatus `json:"status" yaml:"status"`
	// Reason says what changed: "initial value", "size 4 -> 8",
	// "section .data -> .data..read_mostly".
	Reason string `json:"reason,omitempty" yaml:"reason,omitempty"`
	// ReferencedBy are the functions whose code references the object
	// (on the patched side, or the original one for a removed object).
	ReferencedBy []string `json:"referenced_by" yaml:"referenced_by"`
}

// Function names one function symbol: klp_func.old_name and old_sympos.
type Function struct {
	Name string `json:"name" yaml:"name"`
	// Sympos is old_sympos: the 1-based position among the local
	// functions of that name in the object, 0 when the name is unique.
	Sympos  int    `json:"sympos,omitempty" yaml:"sympos,omitempty"`
	Section string `json:"section" yaml:"section"`
	Size    uint64 `json:"size" yaml:"size"`
	// Cold lists the function's cold pieces (foo.cold), compared with it.
	Cold []string `json:"cold,omitempty" yaml:"cold,omitempty"`
}

// DiffReason says what differs in a changed function.
type DiffReason string

const (
	// ReasonCode: an instruction differs (or one side has more).
	ReasonCode DiffReason = "code"
	// ReasonImmediate: only immediate operands differ, and the line
	// table does not show them to be __LINE__ numbers.
	ReasonImmediate DiffReason = "immediate"
	// ReasonCold: the function's cold pieces are not the same.
	ReasonCold DiffReason = "cold pieces"
	// ReasonTable: an entry of a table about the function's code
	// differs (__bug_table file or flags, __jump_table key or target,
	// __ex_table fixup, an alternative, a static call site).
	ReasonTable DiffReason = "table"
	// ReasonUnreadable: one side's code could not be read.
	ReasonUnreadable DiffReason = "unreadable"
)

// Change is one function that differs.
type Change struct {
	Function `yaml:",inline"`
	// Reason is what differs; empty for a line-shift-only function.
	Reason DiffReason `json:"reason,omitempty" yaml:"reason,omitempty"`
	// First is the first real difference, for a changed function.
	First *Difference `json:"first_difference,omitempty" yaml:"first_difference,omitempty"`
	// LineShifts are the line numbers that moved (all differences of a
	// line-shift-only function; those found before the first real
	// difference of a changed one).
	LineShifts []LineShift `json:"line_shifts,omitempty" yaml:"line_shifts,omitempty"`
}

// Difference is the first place two versions of a function differ.
type Difference struct {
	// Piece is the symbol the difference is in: the function or one of
	// its cold pieces.
	Piece string `json:"piece" yaml:"piece"`
	// Offset and PatchedOffset are the byte offsets in the piece on each
	// side.
	Offset        uint64 `json:"offset" yaml:"offset"`
	PatchedOffset uint64 `json:"patched_offset" yaml:"patched_offset"`
	// Orig and Patched are the instructions, disassembled in GNU syntax
	// with symbolic targets, or "(end of function)"; for a table
	// difference, the table entries.
	Orig    string `json:"orig" yaml:"orig"`
	Patched string `json:"patched" yaml:"patched"`
}

// LineShift is one line number that moved.
type LineShift struct {
	Piece  string `json:"piece" yaml:"piece"`
	Offset uint64 `json:"offset" yaml:"offset"`
	// Where is "immediate" (an operand of the instruction at Offset) or
	// "__bug_table" (the line of the WARN/BUG at Offset).
	Where   string `json:"where" yaml:"where"`
	Orig    int64  `json:"orig" yaml:"orig"`
	Patched int64  `json:"patched" yaml:"patched"`
	// Heuristic says no line table showed the immediate to be a line
	// number: it was taken for one because it only feeds the line
	// parameter of Callee, a kernel function that takes __FILE__ and
	// __LINE__ (__might_sleep, lockdep_rcu_suspicious, ...).
	Heuristic bool   `json:"heuristic,omitempty" yaml:"heuristic,omitempty"`
	Callee    string `json:"callee,omitempty" yaml:"callee,omitempty"`
}

// DiffProblem is an object that could not be compared.
type DiffProblem struct {
	Path    string `json:"path" yaml:"path"`
	Message string `json:"message" yaml:"message"`
}
