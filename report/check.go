package report

// CheckSchemaVersion is the version of the check report schema (YAML,
// JSON; SARIF and markdown are renderings of it). Fields are only added
// within a version: conditional (and the severity conditional of a
// target) was added within version 1.
const CheckSchemaVersion = 1

// CheckResult is the answer of "klp-audit check": does a livepatch
// replace every function a fix makes it replace?
type CheckResult struct {
	SchemaVersion int         `json:"schema_version" yaml:"schema_version"`
	Tool          Tool        `json:"tool" yaml:"tool"`
	Inputs        CheckInputs `json:"inputs" yaml:"inputs"`
	// Verdict is "complete" (exit 0), or "unresolved", "missing",
	// "data-change" or "incomplete" (exit 1): the kernel would refuse a
	// klp_func, the livepatch lacks targets, the fix changes data a
	// function replacement cannot carry, or evidence was missing.
	Verdict  string    `json:"verdict" yaml:"verdict"`
	Problems []Problem `json:"problems" yaml:"problems"`
	// Hunks are the diff's hunks, each mapped to the functions it changes
	// or classified (comment, data, macro, unknown).
	Hunks []Hunk `json:"hunks" yaml:"hunks"`
	// Changed are the functions the fix changes (source level).
	Changed []ChangedFunc `json:"changed" yaml:"changed"`
	// Missing are must-patch targets the livepatch does not replace:
	// severity must only, so they alone make the verdict "missing".
	Missing []CheckTarget `json:"missing" yaml:"missing"`
	// Conditional are conditional targets the livepatch does not
	// replace: each is needed only if the fix changes what it assumed
	// (its note says what), which the author decides; they do not fail
	// the check.
	Conditional []CheckTarget `json:"conditional" yaml:"conditional"`
	// Review are review targets the livepatch does not replace.
	Review []CheckTarget `json:"review" yaml:"review"`
	// Covered are targets the livepatch replaces.
	Covered []CheckTarget `json:"covered" yaml:"covered"`
	// Extra are functions the livepatch replaces that no rule asks for.
	Extra []LivepatchFunc `json:"extra" yaml:"extra"`
	// Unresolved are klp_funcs the kernel would not resolve to one
	// function of their klp_object (klp_find_object_symbol finds no
	// symbol of the name, several with old_sympos 0, or none at
	// old_sympos): it refuses to load the livepatch.
	Unresolved []UnresolvedFunc `json:"unresolved,omitempty" yaml:"unresolved,omitempty"`
	// BuildTruth, with --orig and --patched, lists functions whose code
	// changed between the two builds but that the livepatch does not
	// replace (Unreplaced), and replaced functions whose code did not
	// change (Unchanged, a warning).
	BuildTruth *BuildTruth `json:"build_truth,omitempty" yaml:"build_truth,omitempty"`
	// Rebuild, when the build's sources and kbuild .cmd files were
	// there, is what rebuilding the units the fix touches showed: the
	// targets above are then the rebuild's (predicted targets whose code
	// did not change are in Rebuild.Dropped). Absent with --no-rebuild.
	Rebuild *CheckRebuild `json:"rebuild,omitempty" yaml:"rebuild,omitempty"`
}

// CheckInputs says what was checked.
type CheckInputs struct {
	Diff      string   `json:"diff" yaml:"diff"`
	Builds    []string `json:"builds,omitempty" yaml:"builds,omitempty"`
	Livepatch string   `json:"livepatch,omitempty" yaml:"livepatch,omitempty"`
	Funcs     string   `json:"funcs,omitempty" yaml:"funcs,omitempty"`
	Orig      string   `json:"orig,omitempty" yaml:"orig,omitempty"`
	Patched   string   `json:"patched,omitempty" yaml:"patched,omitempty"`
	Policy    string   `json:"policy,omitempty" yaml:"policy,omitempty"`
}

// Hunk is one hunk of the fix.
type Hunk struct {
	// File is the source path the hunk changes, as the diff names it
	// (without a/ b/ prefixes); Line and Lines locate it in the new file
	// (the old file for a pure deletion).
	File  string `json:"file" yaml:"file"`
	Line  int    `json:"line" yaml:"line"`
	Lines int    `json:"lines" yaml:"lines"`
	// Kind is "function" (it changes Functions), "comment" (comments or
	// whitespace only), "data" (struct/union/enum layout, a global
	// initialiser, a static local), "macro", or "unknown".
	Kind      string   `json:"kind" yaml:"kind"`
	Functions []string `json:"functions,omitempty" yaml:"functions,omitempty"`
	Note      string   `json:"note,omitempty" yaml:"note,omitempty"`
	// DataLayout says a data hunk declares a type's layout (a struct,
	// union or enum body, a member, an enumerator): a data change even
	// when a rebuild shows the code, since existing objects keep the old
	// layout. Other data hunks (a new or changed variable) are decided
	// by the rebuild's data changes when there is one.
	DataLayout bool `json:"data_layout,omitempty" yaml:"data_layout,omitempty"`
	// StaticLocal says the hunk declares or changes a static local
	// variable inside a function body: a data change (Kind "data") that
	// no rebuild shows, since a replaced function does not carry the
	// old variable's state.
	StaticLocal bool `json:"static_local,omitempty" yaml:"static_local,omitempty"`
	// Macro says the hunk's lines outside function bodies are
	// preprocessor lines: a "macro" hunk, or a "function" hunk that also
	// changes a macro, whose change reaches every unit expanding it.
	Macro bool `json:"macro,omitempty" yaml:"macro,omitempty"`
	// Offset is how many lines from its header's position the hunk was
	// found in the build's source, as patch(1) reports it ("offset 12
	// lines"); Line is already where it applies. Fuzz is how many context
	// lines at each end were not compared (check --fuzz).
	Offset int `json:"offset,omitempty" yaml:"offset,omitempty"`
	Fuzz   int `json:"fuzz,omitempty" yaml:"fuzz,omitempty"`
}

// ChangedFunc is a function the fix changes in its source.
type ChangedFunc struct {
	Name string `json:"name" yaml:"name"`
	// File and Line locate the hunk that changes it.
	File string `json:"file" yaml:"file"`
	Line int    `json:"line" yaml:"line"`
	// TUs are the translation units whose copy of it changes.
	TUs []string `json:"translation_units,omitempty" yaml:"translation_units,omitempty"`
}

// CheckTarget is a target of the safety rules, located at the diff hunk
// that caused it (for SARIF annotations).
type CheckTarget struct {
	Target `yaml:",inline"`
	// Because names the changed function the chain starts from, and File
	// and Line the hunk that changes it.
	Because string `json:"because" yaml:"because"`
	File    string `json:"file" yaml:"file"`
	Line    int    `json:"line" yaml:"line"`
}

// LivepatchFunc is one klp_func of the livepatch.
type LivepatchFunc struct {
	Object    string `json:"object" yaml:"object"` // klp_object name: vmlinux or module
	OldName   string `json:"old_name" yaml:"old_name"`
	OldSympos int    `json:"old_sympos,omitempty" yaml:"old_sympos,omitempty"`
	// File and Line locate the entry in the livepatch source.
	File string `json:"file,omitempty" yaml:"file,omitempty"`
	Line int    `json:"line,omitempty" yaml:"line,omitempty"`
}

// UnresolvedFunc is a klp_func the kernel would refuse, and why.
type UnresolvedFunc struct {
	LivepatchFunc `yaml:",inline"`
	Reason        string `json:"reason" yaml:"reason"`
}

// BuildTruth is what comparing the original and patched builds showed.
type BuildTruth struct {
	Unreplaced []LivepatchFunc `json:"unreplaced" yaml:"unreplaced"`
	Unchanged  []LivepatchFunc `json:"unchanged" yaml:"unchanged"`
}
