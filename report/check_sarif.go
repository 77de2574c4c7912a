package report

import (
	"encoding/json"
	"io"
	"net/url"
	"strings"
)

// SARIFSchemaURI and SARIFVersion identify the SARIF version written.
const (
	SARIFSchemaURI = "https://json.schemastore.org/sarif-2.1.0.json"
	SARIFVersion   = "2.1.0"
)

// sarifRule describes one rule id of the check report.
type sarifRuleDef struct {
	id, level, name, short string
}

// sarifRules are the rule ids the check report uses, in the order results
// are written.
var sarifRules = []sarifRuleDef{
	{"unresolved-function", "error", "UnresolvedFunction",
		"The kernel would not resolve the klp_func to one function of its klp_object, and refuses to load the livepatch."},
	{"missing-target", "error", "MissingTarget",
		"A function the fix makes the livepatch replace (a must target) is not replaced by the livepatch."},
	{"data-change", "error", "DataChange",
		"The fix changes data (a layout, a global initialiser, a static local) that replacing functions cannot carry."},
	{"incomplete", "error", "Incomplete",
		"Evidence was missing or unreadable: the check cannot say the livepatch is complete."},
	{"unreplaced-change", "error", "UnreplacedChange",
		"The code of the function differs between the original and patched builds, but the livepatch does not replace it."},
	{"review-target", "warning", "ReviewTarget",
		"A function a reviewer must decide on (a review target) is not replaced by the livepatch."},
	{"conditional-target", "note", "ConditionalTarget",
		"A function needed only if the fix changes what it assumed of another function (a conditional target, its condition in the message) is not replaced by the livepatch."},
	{"extra-function", "note", "ExtraFunction",
		"The livepatch replaces a function that no rule asks for."},
}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool         `json:"tool"`
	Results    []sarifResult     `json:"results"`
	Properties *sarifRunProperty `json:"properties,omitempty"`
}

type sarifRunProperty struct {
	Verdict       string `json:"verdict"`
	SchemaVersion int    `json:"klp_audit_check_schema"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string       `json:"id"`
	Name                 string       `json:"name"`
	ShortDescription     sarifMessage `json:"shortDescription"`
	DefaultConfiguration sarifConfig  `json:"defaultConfiguration"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID     string           `json:"ruleId"`
	RuleIndex  int              `json:"ruleIndex"`
	Level      string           `json:"level"`
	Message    sarifMessage     `json:"message"`
	Locations  []sarifLocation  `json:"locations,omitempty"`
	Properties *sarifProperties `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
	EndLine   int `json:"endLine,omitempty"`
}

// sarifProperties is a result's property bag: where the function lives
// for the livepatch.
type sarifProperties struct {
	Function  string `json:"function,omitempty"`
	KLPObject string `json:"klp_object,omitempty"`
	TU        string `json:"translation_unit,omitempty"`
	OldSympos *int   `json:"old_sympos,omitempty"`
	Rule      string `json:"klp_audit_rule,omitempty"`
}

// renderCheckSARIF writes r as a SARIF 2.1.0 log with one run. Each
// result is located at the diff hunk (for targets and data changes) or
// the livepatch entry (for extra functions) that it is about; the rules
// listed are those the results use. Results are ordered by rule, then as
// the other renderers order them.
func renderCheckSARIF(w io.Writer, r *CheckResult) error {
	var results []sarifResult
	add := func(rule, msg string, loc []sarifLocation, props *sarifProperties) {
		results = append(results, sarifResult{RuleID: rule, Message: sarifMessage{Text: msg}, Locations: loc, Properties: props})
	}
	targetProps := func(t CheckTarget) *sarifProperties {
		return &sarifProperties{Function: t.Name, KLPObject: t.KLPObject, TU: t.TU, OldSympos: t.OldSympos, Rule: t.Rule}
	}
	for _, u := range sortedUnresolved(r.Unresolved) {
		f := u.LivepatchFunc
		add("unresolved-function", "the kernel would not resolve "+funcName(f)+" in "+orUnknown(f.Object)+": "+u.Reason,
			sarifLocations(f.File, f.Line, 0), &sarifProperties{Function: f.OldName, KLPObject: f.Object, OldSympos: symposPtr(f.OldSympos)})
	}
	for _, t := range sortedCheckTargets(r.Missing) {
		add("missing-target", "the livepatch does not replace "+targetName(t)+targetIn(t)+
			", a must target: "+targetWhy(t), sarifLocations(t.File, t.Line, 0), targetProps(t))
	}
	for _, h := range dataHunks(r) {
		msg := "this hunk changes data, which replacing functions cannot carry"
		if h.Note != "" {
			msg += ": " + h.Note
		}
		if len(h.Functions) > 0 {
			msg += " (functions: " + strings.Join(h.Functions, ", ") + ")"
		}
		add("data-change", msg, sarifLocations(h.File, h.Line, h.Lines), nil)
	}
	for _, p := range sortedProblems(r.Problems) {
		msg := p.Message
		if msg == "" {
			msg = "evidence missing"
		}
		add("incomplete", "evidence missing: "+msg, sarifLocations(p.File, p.Line, 0), nil)
	}
	if r.BuildTruth != nil {
		for _, f := range sortedLivepatchFuncs(r.BuildTruth.Unreplaced) {
			add("unreplaced-change", "the code of "+funcName(f)+" in "+orUnknown(f.Object)+
				" changed between the original and patched builds, but the livepatch does not replace it",
				sarifLocations(f.File, f.Line, 0), &sarifProperties{Function: f.OldName, KLPObject: f.Object, OldSympos: symposPtr(f.OldSympos)})
		}
	}
	for _, t := range sortedCheckTargets(r.Review) {
		add("review-target", "the livepatch does not replace "+targetName(t)+targetIn(t)+
			", a review target: "+targetWhy(t), sarifLocations(t.File, t.Line, 0), targetProps(t))
	}
	for _, t := range sortedCheckTargets(r.Conditional) {
		add("conditional-target", "the livepatch does not replace "+targetName(t)+targetIn(t)+
			", a conditional target: "+targetWhy(t), sarifLocations(t.File, t.Line, 0), targetProps(t))
	}
	for _, f := range sortedLivepatchFuncs(r.Extra) {
		add("extra-function", "the livepatch replaces "+funcName(f)+" in "+orUnknown(f.Object)+
			", which no rule asks for", sarifLocations(f.File, f.Line, 0),
			&sarifProperties{Function: f.OldName, KLPObject: f.Object, OldSympos: symposPtr(f.OldSympos)})
	}

	// List the rules used, in sarifRules order, and index them.
	used := map[string]bool{}
	for _, res := range results {
		used[res.RuleID] = true
	}
	rules := []sarifRule{}
	index := map[string]int{}
	level := map[string]string{}
	for _, d := range sarifRules {
		if !used[d.id] {
			continue
		}
		index[d.id] = len(rules)
		level[d.id] = d.level
		rules = append(rules, sarifRule{ID: d.id, Name: d.name, ShortDescription: sarifMessage{Text: d.short},
			DefaultConfiguration: sarifConfig{Level: d.level}})
	}
	for i := range results {
		results[i].RuleIndex = index[results[i].RuleID]
		results[i].Level = level[results[i].RuleID]
	}
	if results == nil {
		results = []sarifResult{}
	}

	name := r.Tool.Name
	if name == "" {
		name = "klp-audit"
	}
	log := sarifLog{
		Schema:  SARIFSchemaURI,
		Version: SARIFVersion,
		Runs: []sarifRun{{
			Tool: sarifTool{Driver: sarifDriver{
				Name:           name,
				Version:        r.Tool.Version,
				InformationURI: "https://github.com/klp-audit/klp-audit",
				Rules:          rules,
			}},
			Results:    results,
			Properties: &sarifRunProperty{Verdict: r.Verdict, SchemaVersion: r.SchemaVersion},
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(log)
}

// sarifLocations locates a result at file:line, the region spanning
// lines lines when more than one. No location when the file is unknown, no
// region when the line is.
func sarifLocations(file string, line, lines int) []sarifLocation {
	if file == "" {
		return nil
	}
	loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: fileURI(file)}}}
	if line >= 1 {
		reg := &sarifRegion{StartLine: line}
		if lines > 1 {
			reg.EndLine = line + lines - 1
		}
		loc.PhysicalLocation.Region = reg
	}
	return []sarifLocation{loc}
}

// fileURI turns a path as the diff names it into a relative URI
// reference, escaping what a URI cannot hold (spaces, %, #, ?) and
// keeping a colon in the first segment from reading as a scheme.
func fileURI(file string) string {
	u := url.URL{Path: strings.ReplaceAll(file, `\`, "/")}
	return u.String()
}

func targetIn(t CheckTarget) string {
	if t.KLPObject == "" {
		return ""
	}
	return " in " + t.KLPObject
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown object)"
	}
	return s
}

func symposPtr(p int) *int {
	if p == 0 {
		return nil
	}
	return &p
}
