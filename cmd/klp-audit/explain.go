package main

import (
	"bufio"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"
	"gopkg.in/yaml.v3"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/object"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/report"
	"github.com/klp-audit/klp-audit/rules"
)

// explanation is the answer of "impacted --explain NAME": why one function
// is a target (a klp_func), or why it is not, with the evidence of every
// hop from the changed function. --format json and yaml write it with
// these field names:
//
//	schema_version  1 (the version of this form, apart from the report's)
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
//	                unit, how, the rule that took it and that rule's
//	                severity in the policy, the evidence as the report
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
type explanation struct {
	SchemaVersion int              `json:"schema_version" yaml:"schema_version"`
	Query         explainQuery     `json:"query" yaml:"query"`
	Complete      bool             `json:"complete" yaml:"complete"`
	Problems      []report.Problem `json:"problems" yaml:"problems"`
	Target        *explainTarget   `json:"target,omitempty" yaml:"target,omitempty"`
	NotTarget     *explainNot      `json:"not_target,omitempty" yaml:"not_target,omitempty"`
	Changed       explainFunc      `json:"changed" yaml:"changed"`
	Chain         []explainStep    `json:"chain" yaml:"chain"`
}

// explainSchemaVersion is the version of the --explain JSON/YAML form.
const explainSchemaVersion = 1

type explainQuery struct {
	report.Query `json:",inline" yaml:",inline"`
	Explain      string `json:"explain" yaml:"explain"`
}

type explainTarget struct {
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
	Symbols           []explainSymbol `json:"symbols" yaml:"symbols"`
}

type explainNot struct {
	Name string `json:"name" yaml:"name"`
	TU   string `json:"translation_unit" yaml:"translation_unit"`
	Rule string `json:"rule" yaml:"rule"`
	Why  string `json:"why" yaml:"why"`
}

// explainFunc is one function of a chain and its symbols.
type explainFunc struct {
	Name       string          `json:"name" yaml:"name"`
	TU         string          `json:"translation_unit" yaml:"translation_unit"`
	Symbols    []explainSymbol `json:"symbols" yaml:"symbols"`
	NotEmitted string          `json:"not_emitted,omitempty" yaml:"not_emitted,omitempty"`
}

type explainSymbol struct {
	Object  string   `json:"object" yaml:"object"`
	Name    string   `json:"name" yaml:"name"`
	Section string   `json:"section" yaml:"section"`
	Offset  uint64   `json:"offset" yaml:"offset"`
	Size    uint64   `json:"size" yaml:"size"`
	Binding string   `json:"binding" yaml:"binding"`
	Fentry  bool     `json:"fentry" yaml:"fentry"`
	Aliases []string `json:"aliases,omitempty" yaml:"aliases,omitempty"`
	Cold    []string `json:"cold,omitempty" yaml:"cold,omitempty"`
}

type explainStep struct {
	From         string `json:"from" yaml:"from"`
	To           string `json:"to" yaml:"to"`
	TU           string `json:"translation_unit" yaml:"translation_unit"`
	How          string `json:"how" yaml:"how"`
	Rule         string `json:"rule" yaml:"rule"`
	RuleSeverity string `json:"rule_severity,omitempty" yaml:"rule_severity,omitempty"`
	Evidence     string `json:"evidence" yaml:"evidence"`
	// DumpLine is the dump line that records a transformation.
	DumpLine *dumpLine `json:"dump_line,omitempty" yaml:"dump_line,omitempty"`
	// CallSites are the calls from To to From in the object.
	CallSites []callSite `json:"call_sites,omitempty" yaml:"call_sites,omitempty"`
	// Problem says what backing evidence could not be read.
	Problem    string          `json:"problem,omitempty" yaml:"problem,omitempty"`
	Symbols    []explainSymbol `json:"symbols" yaml:"symbols"`
	NotEmitted string          `json:"not_emitted,omitempty" yaml:"not_emitted,omitempty"`
}

type dumpLine struct {
	File string `json:"file" yaml:"file"`
	Line int    `json:"line" yaml:"line"`
	Text string `json:"text" yaml:"text"`
}

type callSite struct {
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

// checkExplainFlags rejects the flags --explain cannot answer with.
func checkExplainFlags(opts *ImpactedOptions, f report.Format) error {
	switch f {
	case report.Text, report.JSON, report.YAML:
	default:
		return fmt.Errorf("--explain writes text, json or yaml, not %s", f)
	}
	if opts.DumpsOnly || opts.NoRules {
		return fmt.Errorf("--explain explains a target of the safety rules: drop --dumps-only and --no-rules")
	}
	return nil
}

// runExplain prints the explanation of opts.Explain from answer a.
func runExplain(opts *ImpactedOptions, a *impactAnswer, f report.Format) error {
	x, err := explain(a, opts.Explain)
	if err != nil {
		return err
	}
	s := opts.Streams
	for _, p := range a.res.Problems {
		fmt.Fprintln(s.Err, p.String())
	}
	switch f {
	case report.JSON:
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		err = enc.Encode(x)
	case report.YAML:
		enc := yaml.NewEncoder(s.Out)
		enc.SetIndent(2)
		if err = enc.Encode(x); err == nil {
			err = enc.Close()
		}
	default:
		_, err = io.WriteString(s.Out, explainText(x))
	}
	if err != nil {
		return err
	}
	if !a.res.Complete {
		reportIncomplete(s, a.res)
		return errIncomplete
	}
	return nil
}

// explain builds the explanation of want (NAME or NAME@TU).
func explain(a *impactAnswer, want string) (*explanation, error) {
	name, tu, _ := strings.Cut(want, "@")
	res := a.res
	x := &explanation{SchemaVersion: explainSchemaVersion, Query: explainQuery{Query: res.Query, Explain: want},
		Complete: res.Complete, Problems: res.Problems, Chain: []explainStep{}}
	if x.Problems == nil {
		x.Problems = []report.Problem{}
	}
	var targets []int
	for i, t := range res.Targets {
		if t.Name == name && (tu == "" || matchTU(t.TU, tu)) {
			targets = append(targets, i)
		}
	}
	var chain []report.Step
	switch {
	case len(targets) == 1:
		t := res.Targets[targets[0]]
		x.Target = &explainTarget{Name: t.Name, TU: t.TU, Object: t.Object, KLPObject: t.KLPObject,
			SourceFile: t.SourceFile, SourceLine: t.SourceLine, Binding: t.Binding, Severity: t.Severity,
			Rule: t.Rule, Also: t.Also, Note: t.Note, OldSympos: t.OldSympos, OldSymposEvidence: t.OldSymposEvidence,
			IgnoredBecause: t.IgnoredBecause}
		x.Target.Symbols, _ = a.symbols(t.Name, t.TU)
		chain = t.Chain
	case len(targets) > 1:
		var tus []string
		for _, i := range targets {
			tus = append(tus, name+"@"+res.Targets[i].TU)
		}
		return nil, inputErrorf("%s is a target in %d translation units: give one of %s", name, len(targets), strings.Join(tus, ", "))
	default:
		var found []rules.Explained
		if a.rules != nil {
			for _, e := range a.rules.Explained {
				if e.ID.Name == name && (tu == "" || matchTU(e.ID.TU, tu)) {
					found = append(found, e)
				}
			}
		}
		switch len(found) {
		case 0:
			return nil, inputErrorf("%s is not among the %d targets or the functions explained on their chains%s", want, len(res.Targets), targetList(res))
		case 1:
		default:
			var tus []string
			for _, e := range found {
				tus = append(tus, name+"@"+e.ID.TU)
			}
			return nil, inputErrorf("%s is on the chains in %d translation units: give one of %s", name, len(found), strings.Join(tus, ", "))
		}
		e := found[0]
		x.NotTarget = &explainNot{Name: e.ID.Name, TU: e.ID.TU, Rule: e.Rule, Why: e.Why}
		for _, st := range e.Chain {
			chain = append(chain, report.Step{From: st.From, To: st.To, TU: st.TU, How: st.How, Evidence: st.Evidence, Rule: st.Rule})
		}
	}
	// The chain starts at a changed function; with no step the function
	// is the changed one itself.
	start := callgraph.NodeID{Name: name, TU: tu}
	switch {
	case len(chain) > 0:
		start = callgraph.NodeID{Name: chain[0].From, TU: chain[0].TU}
	case x.Target != nil:
		start = callgraph.NodeID{Name: x.Target.Name, TU: x.Target.TU}
	case x.NotTarget != nil:
		start = callgraph.NodeID{Name: x.NotTarget.Name, TU: x.NotTarget.TU}
	}
	x.Changed = explainFunc{Name: start.Name, TU: start.TU}
	x.Changed.Symbols, x.Changed.NotEmitted = a.symbols(start.Name, start.TU)
	for _, st := range chain {
		x.Chain = append(x.Chain, a.explainStep(st))
	}
	return x, nil
}

// targetList names up to 20 targets for an error message.
func targetList(res *report.Result) string {
	var names []string
	for _, t := range res.Targets {
		names = append(names, t.Name+"@"+t.TU)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	more := ""
	if len(names) > 20 {
		more = fmt.Sprintf(" and %d more", len(names)-20)
		names = names[:20]
	}
	return "; the targets are: " + strings.Join(names, ", ") + more
}

// symbols returns the symbols of function name in unit tu, or why there
// are none.
func (a *impactAnswer) symbols(name, tu string) ([]explainSymbol, string) {
	out := []explainSymbol{}
	if a.objs == nil {
		return out, "objects not read"
	}
	ev := a.objs.Evidence(callgraph.NodeID{Name: name, TU: tu})
	switch ev.Emission {
	case callgraph.NotEmitted:
		return out, ev.Why
	case callgraph.EmissionUnknown:
		return out, "unknown: " + ev.Why
	}
	for _, s := range ev.Symbols {
		out = append(out, explainSymbol{Object: ev.Object, Name: s.Name, Section: s.Section, Offset: s.Value, Size: s.Size,
			Binding: bindingName(s.Bind), Fentry: s.Fentry, Aliases: s.Aliases, Cold: s.Cold})
	}
	return out, ""
}

// explainStep backs one step with its evidence: the dump line, or the
// call sites in the object.
func (a *impactAnswer) explainStep(st report.Step) explainStep {
	xs := explainStep{From: st.From, To: st.To, TU: st.TU, How: st.How, Rule: st.Rule, Evidence: st.Evidence}
	if xs.Rule == "" {
		xs.Rule = rules.Containment
	}
	if rp, ok := a.policy.Rules[xs.Rule]; ok {
		xs.RuleSeverity = string(rp.Severity)
	}
	xs.Symbols, xs.NotEmitted = a.symbols(st.To, st.TU)
	switch {
	case xs.Rule == rules.Containment:
		pos, ok := a.dumpPos(st)
		if !ok {
			xs.Problem = "no dump line records this step"
			break
		}
		text, err := readLine(pos.Dump, pos.Line)
		if err != nil {
			xs.Problem = err.Error()
			break
		}
		xs.DumpLine = &dumpLine{File: pos.Dump, Line: pos.Line, Text: text}
	case st.How == "same body as":
		// The evidence is the symbols: both are listed, at one address.
	default:
		xs.CallSites, xs.Problem = a.callSites(st)
	}
	return xs
}

// dumpPos finds the dump line of a containment step in the clone graph.
func (a *impactAnswer) dumpPos(st report.Step) (pos ipadump.Pos, ok bool) {
	for _, e := range a.ev.graph.Out(callgraph.NodeID{Name: st.From, TU: st.TU}) {
		if e.To.Name == st.To && callgraph.KindName(e.Kind, e.Unknown) == st.How {
			pos.Dump, pos.Line = e.Evidence.Dump, e.Evidence.Line
			return pos, true
		}
	}
	// The evidence as cited: dump:line.
	if i := strings.LastIndexByte(st.Evidence, ':'); i > 0 {
		if n, err := strconv.Atoi(st.Evidence[i+1:]); err == nil {
			pos.Dump, pos.Line = st.Evidence[:i], n
			return pos, true
		}
	}
	return pos, false
}

// maxQuoted caps a quoted dump line.
const maxQuoted = 4096

// readLine returns line n (1-based) of file, without its line end.
func readLine(file string, n int) (string, error) {
	if strings.HasSuffix(file, " (DWARF)") {
		return "", fmt.Errorf("recorded by DWARF (an inlined subroutine at source line %d), not by a dump line", n)
	}
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("dump line not quoted: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for i := 1; ; i++ {
		l, err := r.ReadString('\n')
		if i == n {
			l = strings.TrimRight(l, "\r\n")
			if len(l) > maxQuoted {
				l = l[:maxQuoted] + "..."
			}
			return printable(l), nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", fmt.Errorf("%s has %d lines, not %d: it changed since it was read", file, i, n)
			}
			return "", fmt.Errorf("dump line not quoted: %w", err)
		}
	}
}

// printable shows a string holding control characters Go-quoted.
func printable(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// maxSites caps the call sites listed per step.
const maxSites = 16

// callSites finds, in the object of st.TU, the calls and jumps from
// st.To's code to st.From, and disassembles each.
func (a *impactAnswer) callSites(st report.Step) ([]callSite, string) {
	t, ok := a.ev.graph.TU(st.TU)
	if !ok || !t.HasObject {
		return nil, "no object for " + st.TU
	}
	f, err := object.OpenCode(t.Object)
	if err != nil {
		return nil, "call sites not read: " + err.Error()
	}
	callees := map[string]bool{st.From: true}
	for _, fn := range f.Lookup(st.From) {
		for _, al := range fn.Aliases {
			callees[al] = true
		}
	}
	var out []callSite
	more := 0
	for _, caller := range f.Lookup(st.To) {
		for _, r := range f.RefsFrom(caller) {
			if !callees[r.To] || (r.Kind != object.Call && r.Kind != object.TailCall) {
				continue
			}
			if len(out) == maxSites {
				more++
				continue
			}
			out = append(out, disassemble(f, caller, r))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Sprintf("no call from %s to %s found in %s", st.To, st.From, t.Object)
	}
	if more > 0 {
		return out, fmt.Sprintf("%d more call sites not listed", more)
	}
	return out, ""
}

// disassemble describes the instruction of ref r in caller's code.
func disassemble(f *object.File, caller *object.Func, r object.Ref) callSite {
	cs := callSite{Object: f.Path, Caller: caller.Name, Kind: refKindName(r.Kind), Section: caller.Section, Offset: r.Site}
	if r.Site >= caller.Value {
		cs.FuncOffset = r.Site - caller.Value
	}
	code, relocs, ok := f.Code(caller)
	if !ok || cs.FuncOffset >= uint64(len(code)) {
		cs.Instruction = "(code not readable)"
		return cs
	}
	b := code[cs.FuncOffset:]
	n := 0
	switch f.Machine {
	case elf.EM_X86_64:
		inst, err := x86asm.Decode(b, 64)
		if err != nil {
			cs.Instruction = "(" + err.Error() + ")"
			break
		}
		n = inst.Len
		cs.Instruction = x86asm.GNUSyntax(inst, r.Site, symbolizer(f, caller))
	case elf.EM_AARCH64:
		if len(b) >= 4 {
			n = 4
			if inst, err := arm64asm.Decode(b[:4]); err == nil {
				cs.Instruction = arm64asm.GNUSyntax(inst)
			} else {
				cs.Instruction = "(" + err.Error() + ")"
			}
		}
	default:
		cs.Instruction = "(no disassembler for " + f.Machine.String() + ")"
	}
	if n == 0 {
		n = min(len(b), 8)
	}
	cs.Bytes = spacedHex(b[:n])
	for _, rl := range relocs {
		if rl.Off >= r.Site && rl.Off < r.Site+uint64(n) {
			cs.Relocation = relocString(f, rl)
			// The field holds zeros until the linker fills it: the
			// relocation, not the decoded displacement, names the target.
			if target := relocCallee(f, rl, r.Site+uint64(n)); target != "" && f.Machine == elf.EM_X86_64 {
				if op, _, ok := strings.Cut(cs.Instruction, " "); ok {
					cs.Instruction = op + " " + target
				}
			}
		}
	}
	return cs
}

// symbolizer names the function at an address in caller's section.
func symbolizer(f *object.File, caller *object.Func) func(uint64) (string, uint64) {
	return func(addr uint64) (string, uint64) {
		fn := f.FuncAt(caller.Shndx, addr)
		if fn == nil {
			return "", 0
		}
		return fn.Name, fn.Value
	}
}

func spacedHex(b []byte) string {
	s := hex.EncodeToString(b)
	var out strings.Builder
	for i := 0; i < len(s); i += 2 {
		if i > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(s[i : i+2])
	}
	return out.String()
}

// relocTarget names what relocation r points at: a symbol, or a section
// plus offset.
func relocTarget(f *object.File, r object.Reloc) string {
	syms := f.Symbols()
	if r.Sym <= 0 || r.Sym >= len(syms) {
		return ""
	}
	s := syms[r.Sym]
	if s.Type == elf.STT_SECTION {
		if hs := f.Sections(); s.Shndx > 0 && s.Shndx < len(hs) {
			return fmt.Sprintf("%s%+#x", hs[s.Shndx].Name, r.Addend)
		}
		return ""
	}
	return s.Name
}

// relocCallee names the function a relocated call or jump field reaches:
// the symbol, or for a section symbol the function at the addend plus the
// distance from the field to the instruction's end.
func relocCallee(f *object.File, r object.Reloc, end uint64) string {
	syms := f.Symbols()
	if r.Sym <= 0 || r.Sym >= len(syms) {
		return ""
	}
	s := syms[r.Sym]
	if s.Type != elf.STT_SECTION {
		return s.Name
	}
	off := s.Value + uint64(r.Addend) + (end - r.Off)
	if fn := f.FuncAt(s.Shndx, off); fn != nil {
		if off == fn.Value {
			return fn.Name
		}
		return fmt.Sprintf("%s+%#x", fn.Name, off-fn.Value)
	}
	return relocTarget(f, r)
}

func relocString(f *object.File, r object.Reloc) string {
	var typ string
	switch f.Machine {
	case elf.EM_X86_64:
		typ = elf.R_X86_64(r.Type).String()
	case elf.EM_AARCH64:
		typ = elf.R_AARCH64(r.Type).String()
	default:
		typ = fmt.Sprintf("type %d", r.Type)
	}
	t := relocTarget(f, r)
	if t == "" {
		return typ
	}
	syms := f.Symbols()
	if r.Sym > 0 && r.Sym < len(syms) && syms[r.Sym].Type == elf.STT_SECTION {
		return typ + " " + t
	}
	if r.Addend != 0 {
		return fmt.Sprintf("%s %s%+#x", typ, t, r.Addend)
	}
	return typ + " " + t
}

// explainText lays an explanation out for people.
func explainText(x *explanation) string {
	var b strings.Builder
	if !x.Complete {
		fmt.Fprintf(&b, "INCOMPLETE: %d problems reading the build (on stderr); this chain may not be the only reason\n\n", len(x.Problems))
	}
	switch {
	case x.Target != nil:
		t := x.Target
		fmt.Fprintf(&b, "%s (%s): a klp_func target, severity %s, rule %s\n", printable(t.Name), printable(t.TU), t.Severity, t.Rule)
		if len(t.Also) > 0 {
			fmt.Fprintf(&b, "  also reached by: %s\n", strings.Join(t.Also, ", "))
		}
		if t.Note != "" {
			fmt.Fprintf(&b, "  note: %s\n", printable(t.Note))
		}
		if t.IgnoredBecause != "" {
			fmt.Fprintf(&b, "  ignored by the policy: %s\n", printable(t.IgnoredBecause))
		}
		klp := t.KLPObject
		if klp == "" {
			klp = "unknown (the build is not a kernel tree)"
		}
		fmt.Fprintf(&b, "  klp_object: %s\n", printable(klp))
		switch {
		case t.OldSympos != nil:
			fmt.Fprintf(&b, "  old_sympos: %d (%s)\n", *t.OldSympos, printable(t.OldSymposEvidence))
		case t.Binding == "local":
			b.WriteString("  old_sympos: unknown (give the linked vmlinux or module with --vmlinux)\n")
		}
		if t.SourceFile != "" {
			fmt.Fprintf(&b, "  source: %s:%d\n", printable(t.SourceFile), t.SourceLine)
		}
		writeSymbols(&b, "  symbol: ", t.Symbols, "")
	case x.NotTarget != nil:
		n := x.NotTarget
		fmt.Fprintf(&b, "%s (%s): not a klp_func target (rule %s): %s\n", printable(n.Name), printable(n.TU), n.Rule, printable(n.Why))
	}
	if len(x.Chain) == 0 {
		b.WriteString("\nIt is the changed function itself.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "\nChain from the changed function %s (%s):\n", printable(x.Changed.Name), printable(x.Changed.TU))
	writeSymbols(&b, "     ", x.Changed.Symbols, x.Changed.NotEmitted)
	for i, st := range x.Chain {
		sev := st.Rule
		if st.RuleSeverity != "" {
			sev += ", " + st.RuleSeverity
		}
		tu := ""
		if st.TU != x.Changed.TU {
			tu = " (" + printable(st.TU) + ")"
		}
		fmt.Fprintf(&b, "  %d. %s -%s-> %s%s  [%s]\n", i+1, printable(st.From), printable(st.How), printable(st.To), tu, sev)
		fmt.Fprintf(&b, "     evidence: %s\n", printable(st.Evidence))
		if st.DumpLine != nil {
			fmt.Fprintf(&b, "       > %s\n", st.DumpLine.Text)
		}
		for _, cs := range st.CallSites {
			fmt.Fprintf(&b, "       %s at %s+%#x (%s+%#x): %s    %s", cs.Kind, printable(cs.Section), cs.Offset,
				printable(cs.Caller), cs.FuncOffset, cs.Bytes, printable(cs.Instruction))
			if cs.Relocation != "" {
				fmt.Fprintf(&b, "    [%s]", printable(cs.Relocation))
			}
			b.WriteString("\n")
		}
		if st.Problem != "" {
			fmt.Fprintf(&b, "       (%s)\n", printable(st.Problem))
		}
		writeSymbols(&b, "     ", st.Symbols, st.NotEmitted)
	}
	return b.String()
}

// writeSymbols writes one line per symbol, or why there is none.
func writeSymbols(b *strings.Builder, indent string, syms []explainSymbol, notEmitted string) {
	if len(syms) == 0 {
		if notEmitted != "" {
			fmt.Fprintf(b, "%sno symbol: %s\n", indent, printable(notEmitted))
		}
		return
	}
	for _, s := range syms {
		line := fmt.Sprintf("%s%s  %s %s+%#x, size %d, %s", indent, printable(s.Name), printable(s.Object),
			printable(s.Section), s.Offset, s.Size, s.Binding)
		if s.Fentry {
			line += ", ftrace entry"
		}
		if len(s.Aliases) > 0 {
			line += ", same body as " + printable(strings.Join(s.Aliases, ", "))
		}
		if len(s.Cold) > 0 {
			line += ", cold pieces " + printable(strings.Join(s.Cold, ", "))
		}
		b.WriteString(line + "\n")
	}
}
