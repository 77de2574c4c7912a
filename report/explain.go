package report

import (
	"fmt"
	"io"
	"strings"
)

// Explanation is the answer of "impacted --explain NAME": why one function
// is a target (a klp_func), or why it is not, with the evidence of every
// hop from the changed function. --format json and yaml write it with
// these field names:
//
//	schema_version  1 (the version of this form, apart from the report's)
//	tool            name, version, revision of the klp-audit binary
//	query           as in the report, plus "explain": the NAME asked
//	complete        false when evidence was missing anywhere in the answer
//	problems        what was missing (of the whole answer, not only of
//	                this chain)
//	target          the klp_func: name, translation unit, object,
//	                klp_object, source, binding, severity, the rule that
//	                added it and the others that reached it, the rule's
//	                note, old_sympos and how it was found, the policy's
//	                justification if it ignores the target, and its
//	                symbol. Absent when the function is not a target.
//	not_target      for a function on a chain that is not a target: the
//	                rule and why (no symbol, replaced through its callers)
//	changed         the changed function the chain starts from, with its
//	                symbols in its object (none when not emitted)
//	chain           the hops, first to last; each: from, to, translation
//	                unit, how, the rule that took it and the severity
//	                that hop has under the policy (for caller-assumptions,
//	                that of the IPA passes of its side, and never stronger
//	                than the hop before), the evidence as the report
//	                cites it, and what backs it:
//	  dump_line     for a transformation in the dump: the file, line and
//	                the line's text, read from the dump now
//	  call_sites    for a caller found in the object call graph: every
//	                call or jump from "to" to "from" in the object: the
//	                instruction's section+offset and offset in the caller,
//	                its bytes (hex), the disassembled instruction and the
//	                relocation that names the callee, if any
//	  symbols       the symbols of "to" in its object (section+offset,
//	                size, binding, ftrace entry, aliases, cold pieces);
//	                not_emitted says why there are none
type Explanation struct {
	SchemaVersion int            `json:"schema_version" yaml:"schema_version"`
	Tool          Tool           `json:"tool" yaml:"tool"`
	Query         ExplainQuery   `json:"query" yaml:"query"`
	Complete      bool           `json:"complete" yaml:"complete"`
	Problems      []Problem      `json:"problems" yaml:"problems"`
	Target        *ExplainTarget `json:"target,omitempty" yaml:"target,omitempty"`
	NotTarget     *ExplainNot    `json:"not_target,omitempty" yaml:"not_target,omitempty"`
	Changed       ExplainFunc    `json:"changed" yaml:"changed"`
	Chain         []ExplainStep  `json:"chain" yaml:"chain"`
}

// ExplainSchemaVersion is the version of the --explain JSON/YAML form.
const ExplainSchemaVersion = 1

type ExplainQuery struct {
	Query   `json:",inline" yaml:",inline"`
	Explain string `json:"explain" yaml:"explain"`
}

type ExplainTarget struct {
	Name              string          `json:"name" yaml:"name"`
	TU                string          `json:"translation_unit" yaml:"translation_unit"`
	Object            string          `json:"object" yaml:"object"`
	KLPObject         string          `json:"klp_object,omitempty" yaml:"klp_object,omitempty"`
	SourceFile        string          `json:"source_file,omitempty" yaml:"source_file,omitempty"`
	SourceLine        int             `json:"source_line,omitempty" yaml:"source_line,omitempty"`
	Binding           string          `json:"binding" yaml:"binding"`
	Severity          string          `json:"severity" yaml:"severity"`
	Rule              string          `json:"rule" yaml:"rule"`
	Also              []string        `json:"also,omitempty" yaml:"also,omitempty"`
	Note              string          `json:"note,omitempty" yaml:"note,omitempty"`
	OldSympos         *int            `json:"old_sympos,omitempty" yaml:"old_sympos,omitempty"`
	OldSymposEvidence string          `json:"old_sympos_evidence,omitempty" yaml:"old_sympos_evidence,omitempty"`
	IgnoredBecause    string          `json:"ignored_because,omitempty" yaml:"ignored_because,omitempty"`
	Symbols           []ExplainSymbol `json:"symbols" yaml:"symbols"`
}

type ExplainNot struct {
	Name string `json:"name" yaml:"name"`
	TU   string `json:"translation_unit" yaml:"translation_unit"`
	Rule string `json:"rule" yaml:"rule"`
	Why  string `json:"why" yaml:"why"`
}

// ExplainFunc is one function of a chain and its symbols.
type ExplainFunc struct {
	Name       string          `json:"name" yaml:"name"`
	TU         string          `json:"translation_unit" yaml:"translation_unit"`
	Symbols    []ExplainSymbol `json:"symbols" yaml:"symbols"`
	NotEmitted string          `json:"not_emitted,omitempty" yaml:"not_emitted,omitempty"`
}

// ExplainSymbol is a symbol of a function on the chain, and its object.
type ExplainSymbol struct {
	Object string `json:"object" yaml:"object"`
	Symbol `yaml:",inline"`
}

// ExplainStep is one hop of the chain with the evidence that backs it.
type ExplainStep struct {
	// Step is the hop as the report cites it; its rule is always set.
	Step         `yaml:",inline"`
	RuleSeverity string `json:"rule_severity,omitempty" yaml:"rule_severity,omitempty"`
	// DumpLine is the dump line that records a transformation.
	DumpLine *DumpLine `json:"dump_line,omitempty" yaml:"dump_line,omitempty"`
	// CallSites are the calls from To to From in the object.
	CallSites []CallSite `json:"call_sites,omitempty" yaml:"call_sites,omitempty"`
	// Problem says what backing evidence could not be read.
	Problem    string          `json:"problem,omitempty" yaml:"problem,omitempty"`
	Symbols    []ExplainSymbol `json:"symbols" yaml:"symbols"`
	NotEmitted string          `json:"not_emitted,omitempty" yaml:"not_emitted,omitempty"`
}

type DumpLine struct {
	File string `json:"file" yaml:"file"`
	Line int    `json:"line" yaml:"line"`
	Text string `json:"text" yaml:"text"`
}

type CallSite struct {
	Object  string `json:"object" yaml:"object"`
	Caller  string `json:"caller" yaml:"caller"`
	Kind    string `json:"kind" yaml:"kind"` // call or tail call
	Section string `json:"section" yaml:"section"`
	// Offset is the instruction's offset in its section (relocatable
	// object) or its address (linked file); FuncOffset its distance from
	// the caller's first byte.
	Offset      uint64 `json:"offset" yaml:"offset"`
	FuncOffset  uint64 `json:"func_offset" yaml:"func_offset"`
	Bytes       string `json:"bytes" yaml:"bytes"`
	Instruction string `json:"instruction" yaml:"instruction"`
	Relocation  string `json:"relocation,omitempty" yaml:"relocation,omitempty"`
}

// RenderExplain writes the explanation x to w in format f: text, json or
// yaml.
func RenderExplain(w io.Writer, x *Explanation, f Format) error {
	switch f {
	case JSON, YAML:
		return Encode(w, x, f)
	case Text:
		_, err := io.WriteString(w, ExplainText(x))
		return err
	}
	return fmt.Errorf("--explain writes text, json or yaml, not %s", f)
}

// ExplainText lays an Explanation out for people.
func ExplainText(x *Explanation) string {
	var b strings.Builder
	if !x.Complete {
		fmt.Fprintf(&b, "INCOMPLETE: %d problems reading the build (on stderr); this chain may not be the only reason\n\n", len(x.Problems))
	}
	switch {
	case x.Target != nil:
		t := x.Target
		fmt.Fprintf(&b, "%s (%s): a klp_func target, severity %s, rule %s\n", Printable(t.Name), Printable(t.TU), t.Severity, t.Rule)
		if len(t.Also) > 0 {
			fmt.Fprintf(&b, "  also reached by: %s\n", strings.Join(t.Also, ", "))
		}
		if t.Note != "" {
			fmt.Fprintf(&b, "  note: %s\n", Printable(t.Note))
		}
		if t.IgnoredBecause != "" {
			fmt.Fprintf(&b, "  ignored by the policy: %s\n", Printable(t.IgnoredBecause))
		}
		klp := t.KLPObject
		if klp == "" {
			klp = "unknown (the build is not a kernel tree)"
		}
		fmt.Fprintf(&b, "  klp_object: %s\n", Printable(klp))
		switch {
		case t.OldSympos != nil:
			fmt.Fprintf(&b, "  old_sympos: %d (%s)\n", *t.OldSympos, Printable(t.OldSymposEvidence))
		case t.Binding == "local":
			b.WriteString("  old_sympos: unknown (give the linked vmlinux or module with --vmlinux)\n")
		}
		if t.SourceFile != "" {
			fmt.Fprintf(&b, "  source: %s:%d\n", Printable(t.SourceFile), t.SourceLine)
		}
		writeExplainSymbols(&b, "  symbol: ", t.Symbols, "")
	case x.NotTarget != nil:
		n := x.NotTarget
		fmt.Fprintf(&b, "%s (%s): not a klp_func target (rule %s): %s\n", Printable(n.Name), Printable(n.TU), n.Rule, Printable(n.Why))
	}
	if len(x.Chain) == 0 {
		b.WriteString("\nIt is the changed function itself.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "\nChain from the changed function %s (%s):\n", Printable(x.Changed.Name), Printable(x.Changed.TU))
	writeExplainSymbols(&b, "     ", x.Changed.Symbols, x.Changed.NotEmitted)
	for i, st := range x.Chain {
		sev := st.Rule
		if st.RuleSeverity != "" {
			sev += ", " + st.RuleSeverity
		}
		tu := ""
		if st.TU != x.Changed.TU {
			tu = " (in " + Printable(st.TU) + ")"
		}
		fmt.Fprintf(&b, "  %d. %s%s  [%s]\n", i+1, Relation(st.Step), tu, sev)
		fmt.Fprintf(&b, "     evidence: %s\n", Printable(st.Evidence))
		if st.DumpLine != nil {
			fmt.Fprintf(&b, "       > %s\n", st.DumpLine.Text)
		}
		for _, cs := range st.CallSites {
			fmt.Fprintf(&b, "       %s at %s+%#x (%s+%#x): %s    %s", cs.Kind, Printable(cs.Section), cs.Offset,
				Printable(cs.Caller), cs.FuncOffset, cs.Bytes, Printable(cs.Instruction))
			if cs.Relocation != "" {
				fmt.Fprintf(&b, "    [%s]", Printable(cs.Relocation))
			}
			b.WriteString("\n")
		}
		if st.Problem != "" {
			fmt.Fprintf(&b, "       (%s)\n", Printable(st.Problem))
		}
		writeExplainSymbols(&b, "     ", st.Symbols, st.NotEmitted)
	}
	return b.String()
}

// writeExplainSymbols writes one line per symbol, or why there is none.
func writeExplainSymbols(b *strings.Builder, indent string, syms []ExplainSymbol, notEmitted string) {
	if len(syms) == 0 {
		if notEmitted != "" {
			fmt.Fprintf(b, "%sno symbol: %s\n", indent, Printable(notEmitted))
		}
		return
	}
	for _, s := range syms {
		line := fmt.Sprintf("%s%s  %s %s+%#x, size %d, %s", indent, Printable(s.Name), Printable(s.Object),
			Printable(s.Section), s.Offset, s.Size, s.Binding)
		if s.Fentry {
			line += ", ftrace entry"
		}
		if len(s.Aliases) > 0 {
			line += ", same body as " + Printable(strings.Join(s.Aliases, ", "))
		}
		if len(s.Cold) > 0 {
			line += ", cold pieces " + Printable(strings.Join(s.Cold, ", "))
		}
		b.WriteString(line + "\n")
	}
}
