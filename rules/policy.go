package rules

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/klp-audit/klp-audit/internal/safeio"
)

//go:embed default.yaml
var defaultPolicy []byte

// DefaultPolicyYAML returns the shipped policy text.
func DefaultPolicyYAML() []byte { return append([]byte(nil), defaultPolicy...) }

// Severity says how sure a finding is.
type Severity string

// Severities.
const (
	Must Severity = "must" // the livepatch must replace the function
	// Conditional: the livepatch must replace the function only if the
	// fix changes what it assumed of another function's body (or, for a
	// callee, of its callers' arguments); the target's note says what.
	// Only caller-assumptions takes it: its hazards depend on the fix.
	Conditional Severity = "conditional"
	Review      Severity = "review" // a person decides
	Off         Severity = "off"    // the rule or pass does not run
)

// rank orders the severities: must is strongest, then conditional, then
// review; off and unknown values rank lowest.
func (s Severity) rank() int {
	switch s {
	case Must:
		return 3
	case Conditional:
		return 2
	case Review:
		return 1
	}
	return 0
}

// Rule IDs.
const (
	Containment       = "containment"
	ChangedABI        = "changed-abi"
	CallerAssumptions = "caller-assumptions"
	ICF               = "icf"
	NotPatchable      = "not-patchable"
	FailClosed        = "fail-closed"
)

// RuleIDs lists the rules a policy may configure.
var RuleIDs = []string{Containment, ChangedABI, CallerAssumptions, ICF, NotPatchable}

// Policy tunes the rules.
type Policy struct {
	Rules  map[string]RulePolicy `yaml:"rules"`
	Ignore []Ignore              `yaml:"ignore"`
	// Source names where the policy came from, for messages.
	Source string `yaml:"-"`
}

// RulePolicy is one rule's settings.
type RulePolicy struct {
	Severity Severity `yaml:"severity"`
	// AuthorSuppliesCloneABI (changed-abi only): the author replaces
	// clones with functions of the clones' own ABI.
	AuthorSuppliesCloneABI bool `yaml:"author-supplies-clone-abi"`
	// Passes (caller-assumptions only): severity per IPA analysis.
	Passes map[string]Severity `yaml:"passes"`
}

// Ignore drops a function from the answer, for a stated reason.
type Ignore struct {
	Function      string `yaml:"function"`
	TU            string `yaml:"translation-unit"`
	Rule          string `yaml:"rule"`
	Justification string `yaml:"justification"`
}

// PolicyError is a policy problem at a position of the policy file.
type PolicyError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *PolicyError) Error() string {
	if e.Line > 0 && e.Col > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// DefaultPolicy returns the shipped policy.
func DefaultPolicy() *Policy {
	p, err := ParsePolicy(defaultPolicy, "default policy")
	if err != nil {
		panic("rules: embedded default.yaml: " + err.Error()) // a build-time invariant
	}
	return p
}

// MaxPolicySize is the largest policy file read: real ones are a few KiB.
const MaxPolicySize = 1 << 20

// LoadPolicy reads a policy file. Settings it leaves out keep the default.
// The file must be a regular file (never a FIFO or a device) of at most
// MaxPolicySize bytes.
func LoadPolicy(path string) (*Policy, error) {
	b, err := safeio.ReadFile(path, MaxPolicySize)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return ParsePolicy(b, path)
}

// ParsePolicy parses policy YAML named file in messages. Unknown keys,
// unknown rules, passes or severities, and ignore entries without a
// justification are errors naming the file, line and column.
func ParsePolicy(b []byte, file string) (*Policy, error) {
	var p Policy
	var root yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(file, err)
	}
	// One document only: a second one would be silently ignored.
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return nil, &PolicyError{File: file, Line: next.Line, Col: next.Column,
			Msg: "a second YAML document: a policy is one document (remove this '---' and what follows, or merge it)"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(file, err)
	}
	// The shape first, in the policy's words and at the offending node;
	// then the values (the decoder's own messages name Go types).
	if err := checkShape(file, &root); err != nil {
		return nil, err
	}
	if root.Kind != 0 {
		if err := root.Decode(&p); err != nil {
			return nil, yamlError(file, err)
		}
	}
	pos := func(path ...string) (int, int) { return find(&root, path...) }
	p.Source = file
	base := map[string]RulePolicy{}
	if file != "default policy" {
		base = DefaultPolicy().Rules
	}
	merged := map[string]RulePolicy{}
	for id, rp := range base {
		merged[id] = rp
	}
	ids := make([]string, 0, len(p.Rules))
	for id := range p.Rules {
		ids = append(ids, id)
	}
	sort.Strings(ids) // the first problem reported does not depend on map order
	for _, id := range ids {
		rp := p.Rules[id]
		if !contains(RuleIDs, id) {
			l, c := pos("rules", id)
			return nil, &PolicyError{file, l, c, fmt.Sprintf("unknown rule %q, want one of %s", id, strings.Join(RuleIDs, ", "))}
		}
		if rp.Severity == "" {
			rp.Severity = merged[id].Severity
		}
		if !validSeverity(rp.Severity) {
			l, c := pos("rules", id, "severity")
			return nil, &PolicyError{file, l, c, fmt.Sprintf("rule %s: unknown severity %q, want %s", id, rp.Severity, severityChoices(id))}
		}
		if rp.Severity == Conditional && id != CallerAssumptions {
			l, c := pos("rules", id, "severity")
			return nil, &PolicyError{file, l, c, fmt.Sprintf("rule %s: severity conditional applies to caller-assumptions only (its hazards depend on what the fix changes; %s's do not), want must, review or off", id, id)}
		}
		if rp.Passes != nil && id != CallerAssumptions {
			l, c := pos("rules", id, "passes")
			return nil, &PolicyError{file, l, c, "passes apply to caller-assumptions only"}
		}
		if rp.AuthorSuppliesCloneABI && id != ChangedABI {
			l, c := pos("rules", id, "author-supplies-clone-abi")
			return nil, &PolicyError{file, l, c, "author-supplies-clone-abi applies to changed-abi only"}
		}
		for pass, sev := range rp.Passes {
			if !contains(CallerPasses, pass) {
				l, c := pos("rules", id, "passes", pass)
				return nil, &PolicyError{file, l, c, fmt.Sprintf("unknown IPA pass %q, want one of %s", pass, strings.Join(CallerPasses, ", "))}
			}
			if !validSeverity(sev) {
				l, c := pos("rules", id, "passes", pass)
				return nil, &PolicyError{file, l, c, fmt.Sprintf("pass %s: unknown severity %q, want %s", pass, sev, severityChoices(CallerAssumptions))}
			}
		}
		if old, ok := merged[id]; ok && rp.Passes != nil {
			passes := map[string]Severity{}
			for k, v := range old.Passes {
				passes[k] = v
			}
			for k, v := range rp.Passes {
				passes[k] = v
			}
			rp.Passes = passes
		} else if ok {
			rp.Passes = old.Passes
		}
		merged[id] = rp
	}
	p.Rules = merged
	for i, ig := range p.Ignore {
		l, c := findSeq(&root, "ignore", i)
		if ig.Function == "" {
			return nil, &PolicyError{file, l, c, "ignore entry without function"}
		}
		if strings.TrimSpace(ig.Justification) == "" {
			return nil, &PolicyError{file, l, c, fmt.Sprintf("ignore entry for %s has no justification: say why a reviewer may accept it", ig.Function)}
		}
		if ig.Rule != "" && !contains(RuleIDs, ig.Rule) {
			return nil, &PolicyError{file, l, c, fmt.Sprintf("ignore entry for %s: unknown rule %q", ig.Function, ig.Rule)}
		}
	}
	return &p, nil
}

// CallerPasses are the IPA analyses whose effects on callers the
// caller-assumptions rule follows.
var CallerPasses = []string{"ipa-ra", "ipa-pure-const", "ipa-modref", "ipa-reference", "ipa-vrp", "ipa-bit-cp"}

// severity returns the severity of rule id.
func (p *Policy) severity(id string) Severity {
	if rp, ok := p.Rules[id]; ok && rp.Severity != "" {
		return rp.Severity
	}
	return Must
}

// passSeverity returns the severity for IPA analysis pass.
func (p *Policy) passSeverity(pass string) Severity {
	rp := p.Rules[CallerAssumptions]
	if rp.Severity == Off {
		return Off
	}
	if s, ok := rp.Passes[pass]; ok {
		return s
	}
	return p.severity(CallerAssumptions)
}

// ignored returns the ignore entry matching a target that rules reached.
// An entry naming a rule matches only a target that rule alone reached:
// what another rule also requires is not ignored.
func (p *Policy) ignored(name, tu string, rules []string) *Ignore {
	for i := range p.Ignore {
		ig := &p.Ignore[i]
		if ig.Function == name && (ig.TU == "" || ig.TU == tu) && (ig.Rule == "" || onlyRule(rules, ig.Rule)) {
			return ig
		}
	}
	return nil
}

// onlyRule reports whether every rule of rules is rule.
func onlyRule(rules []string, rule string) bool {
	for _, r := range rules {
		if r != rule {
			return false
		}
	}
	return true
}

func validSeverity(s Severity) bool { return s == Must || s == Conditional || s == Review || s == Off }

// severityChoices lists the severities rule id takes, for messages.
func severityChoices(id string) string {
	if id == CallerAssumptions {
		return "must, conditional, review or off"
	}
	return "must, review or off"
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// yamlError turns a yaml.v3 error ("yaml: line 3: field foo not found in
// type rules.RulePolicy") into a PolicyError with the file and line, in
// words a policy author understands.
func yamlError(file string, err error) error {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if strings.HasPrefix(msg, "line ") {
		if _, e := fmt.Sscanf(msg, "line %d:", &line); e == nil {
			msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		}
	}
	if i := strings.Index(msg, " not found in type "); i >= 0 && strings.HasPrefix(msg, "field ") {
		msg = "unknown key " + strings.TrimPrefix(msg[:i], "field ")
	}
	return &PolicyError{File: file, Line: line, Msg: msg}
}

// find returns the line and column of the mapping key at path.
func find(n *yaml.Node, path ...string) (int, int) {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line, col := 0, 0
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			return line, col
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line, col = n.Content[i].Line, n.Content[i].Column
				n = n.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return line, col
		}
	}
	return line, col
}

// findSeq returns the position of item i of the sequence under key.
func findSeq(n *yaml.Node, key string, i int) (int, int) {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for k := 0; k+1 < len(n.Content); k += 2 {
		if n.Content[k].Value == key {
			s := n.Content[k+1]
			if s.Kind == yaml.SequenceNode && i < len(s.Content) {
				return s.Content[i].Line, s.Content[i].Column
			}
			return n.Content[k].Line, n.Content[k].Column
		}
	}
	return 0, 0
}
