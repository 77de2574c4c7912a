package livepatch

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/klp-audit/klp-audit/internal/safeio"
	"github.com/klp-audit/klp-audit/report"
)

// Func is one klp_func entry; SymposKnown says the entry sets
// .old_sympos (or the YAML list gives it).
type Func struct {
	report.LivepatchFunc
	SymposKnown bool
}

// SourceOptions say how ParseSource reads a livepatch source that is not
// plain C.
type SourceOptions struct {
	// Preprocess runs the C preprocessor on the source at path with the
	// build's flags and returns its output, line markers included (gcc
	// -E). Nil when the build gives no flags to run it with.
	Preprocess func(path string) ([]byte, error)
	// PreprocessWith says, for messages, what Preprocess runs with
	// ("gcc -E and the flags of mm/.memblock.o.cmd").
	PreprocessWith string
	// Unavailable says, when Preprocess is nil, why.
	Unavailable string
}

// MaxSourceSize caps a livepatch module source or funcs list: a
// livepatch is KiBs; a larger file is an input error, not a long read.
const MaxSourceSize = 16 << 20

// ParseSource reads a livepatch module's C source: its struct klp_func
// arrays, each entry's .old_name and .old_sympos with the line it is on,
// its struct klp_object arrays, which say which klp_object (.name NULL:
// vmlinux) each klp_func array belongs to, and its struct klp_patch,
// which says which klp_object arrays the kernel loads. Comments are
// ignored and adjacent string literals joined, as the compiler does.
//
// A source is plain when those arrays are written out with literals:
// no preprocessor conditional around or directive inside them, no macro
// of the file used in them, no entry that is not a { .field = value }
// initialiser. Anything else is read from the source preprocessed with
// the build's flags (o.Preprocess); when it cannot be, each such place is
// a fail-closed problem naming its line, since which functions the
// livepatch replaces is then unknown. A klp_func array no klp_object
// references, and a klp_object array no klp_patch references, are loaded
// by no kernel: their entries are left out, with a note.
//
// A source with no klp_func array, an array not closed, and an
// old_sympos that is negative are input errors.
func ParseSource(path string, o SourceOptions) ([]Func, []report.Problem, error) {
	data, err := safeio.ReadFile(path, MaxSourceSize)
	if err != nil {
		return nil, nil, fmt.Errorf("livepatch: %v", err)
	}
	raw := blankComments(string(data))
	p, err := scanSource(path, raw, newLineIndex(raw, nil), true)

	if err != nil {
		return nil, nil, err
	}
	if len(p.funcArrays) == 0 && len(p.unplain) == 0 {
		return nil, nil, fmt.Errorf("livepatch %s: no struct klp_func array found: is it a livepatch module source (see samples/livepatch/livepatch-sample.c)?", path)
	}
	if len(p.unplain) == 0 {
		funcs, probs := p.result()
		return funcs, probs, nil
	}
	why := o.Unavailable
	if o.Preprocess != nil {
		out, perr := o.Preprocess(path)
		if perr == nil {
			text, lines := mainFileText(out, path)
			pp, err := scanSource(path, text, lines, false)
			if err != nil {
				return nil, nil, fmt.Errorf("%v (after preprocessing with %s)", err, o.PreprocessWith)
			}
			if len(pp.funcArrays) == 0 {
				return nil, nil, fmt.Errorf("livepatch %s: no struct klp_func array found once preprocessed with %s", path, o.PreprocessWith)
			}
			funcs, probs := pp.result()
			for _, u := range pp.unplain {
				probs = append(probs, report.Problem{File: path, Line: u.line, Kind: report.KindFailClosed,
					Message: u.what + " once preprocessed with " + o.PreprocessWith + ": which functions the livepatch replaces is unknown"})
			}
			return funcs, probs, nil
		}
		why = fmt.Sprintf("preprocessing it with %s failed: %v", o.PreprocessWith, perr)
	}
	if why == "" {
		why = "no flags of the build to preprocess it with"
	}
	funcs, probs := p.result()
	for _, u := range p.unplain {
		probs = append(probs, report.Problem{File: path, Line: u.line, Kind: report.KindFailClosed,
			Message: u.what + ": the livepatch source is not plain C here and " + why + ", so which functions it replaces is unknown"})
	}
	return funcs, probs, nil
}

// lineIndex maps an offset of a text to a line of the file it came from.
type lineIndex struct {
	starts []int // offset of each text line's first byte
	orig   []int // the file's line of each text line; nil: the same
}

func newLineIndex(text string, orig []int) *lineIndex {
	li := &lineIndex{starts: []int{0}, orig: orig}
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			li.starts = append(li.starts, i+1)
		}
	}
	return li
}

// line returns the file's line holding offset off.
func (li *lineIndex) line(off int) int {
	i := sort.Search(len(li.starts), func(i int) bool { return li.starts[i] > off }) - 1
	if li.orig != nil && i >= 0 && i < len(li.orig) {
		return li.orig[i]
	}
	return i + 1
}

// lineMarkerRE is a line marker of gcc -E: # LINE "FILE" FLAGS.
var lineMarkerRE = regexp.MustCompile(`^#\s*(?:line\s+)?([0-9]+)\s+"((?:[^"\\]|\\.)*)"`)

// mainFileText returns the lines of preprocessor output out that come
// from the file at path itself (a header's lines are blanked), and the
// file's line number of each output line.
func mainFileText(out []byte, path string) (string, *lineIndex) {
	var b strings.Builder
	var orig []int
	file, line := "", 0
	main := ""
	for _, l := range bytes.Split(out, []byte("\n")) {
		if m := lineMarkerRE.FindSubmatch(l); m != nil {
			n, _ := strconv.Atoi(string(m[1]))
			file, line = string(m[2]), n
			if main == "" {
				main = file // the first marker names the file itself
			}
			b.WriteByte('\n')
			orig = append(orig, 0)
			continue
		}
		if file == main && main != "" && !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			b.Write(l)
		}
		b.WriteByte('\n')
		orig = append(orig, line)
		line++
	}
	_ = path
	text := b.String()
	return text, newLineIndex(text, orig)
}

// finding is a place of the source that is not plain C.
type finding struct {
	line int
	what string
}

type funcArray struct {
	name    string
	line    int
	entries []Func
}

type objEntry struct {
	module string // "vmlinux" for .name NULL; "" when it cannot be read
	funcs  string // the klp_func array's name
}

type patchObjs struct {
	name string
	line int
}

type objArray struct {
	name    string
	line    int
	entries []objEntry
}

// parsed is what scanSource read.
type parsed struct {
	path       string
	funcArrays []funcArray
	objArrays  []objArray
	patchObjs  []patchObjs // the klp_object arrays the klp_patches name
	patches    int
	unplain    []finding
}

var (
	klpArrayRE  = regexp.MustCompile(`struct\s+klp_(func|object)\s+([A-Za-z_][A-Za-z0-9_]*)\s*\[([^\]]*)\]([^=;{}()]*)=\s*\{`)
	klpPatchRE  = regexp.MustCompile(`struct\s+klp_patch\s+([A-Za-z_][A-Za-z0-9_]*)([^=;{}()]*)=\s*\{`)
	klpDefRE    = regexp.MustCompile(`struct\s+klp_(func|object|patch)\s+[A-Za-z_][A-Za-z0-9_]*[^;{}()]*=`)
	designRE    = regexp.MustCompile(`(?s)^\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$`)
	intLitRE    = regexp.MustCompile(`^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)[uUlL]*$`)
	negIntRE    = regexp.MustCompile(`^-\s*(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*$`)
	nullRE      = regexp.MustCompile(`^(NULL|0|\(\s*\(\s*void\s*\*\s*\)\s*0\s*\))$`)
	arrayRefRE  = regexp.MustCompile(`^&?\s*([A-Za-z_][A-Za-z0-9_]*)(\s*\[\s*0\s*\])?$`)
	identRE     = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
	directiveRE = regexp.MustCompile(`^\s*#\s*([a-z]*)\s*([A-Za-z_][A-Za-z0-9_]*)?`)
)

// scanSource reads the klp arrays of src (comments blanked). raw says src
// is the file itself, not preprocessor output: its directives and macros
// are then looked for around and in the arrays.
func scanSource(path string, src string, li *lineIndex, raw bool) (*parsed, error) {
	p := &parsed{path: path}
	directives := src
	if raw {
		// The directives are looked at below; the arrays are read
		// without them, for what can be read.
		src = blankDirectives(src)
	}
	type region struct {
		first, last int
		what        string
		body        string
	}
	var regions []region
	defStarts := map[int]bool{}
	unplain := func(off int, format string, args ...any) {
		p.unplain = append(p.unplain, finding{li.line(off), fmt.Sprintf(format, args...)})
	}
	for _, m := range klpArrayRE.FindAllStringSubmatchIndex(src, -1) {
		kind, name := src[m[2]:m[3]], src[m[4]:m[5]]
		defStarts[m[0]] = true
		open := m[1] - 1
		close, ok := matchBrace(src, open)
		if !ok {
			return nil, fmt.Errorf("livepatch: %s:%d: klp_%s array %s not closed", path, li.line(m[0]), kind, name)
		}
		what := "klp_" + kind + " array " + name
		regions = append(regions, region{li.line(m[0]), li.line(close), what, src[m[0] : close+1]})
		if size := strings.TrimSpace(src[m[6]:m[7]]); size != "" && !intLitRE.MatchString(size) {
			unplain(m[0], "%s has size %q", what, size)
		}
		items, bad := splitItems(src, open+1, close)
		for _, off := range bad {
			unplain(off, "%s has an entry that is not a { ... } initialiser (a macro?)", what)
		}
		switch kind {
		case "func":
			fa := funcArray{name: name, line: li.line(m[0]), entries: []Func{}}
			for _, it := range items {
				f, ok, err := p.funcEntry(src, it, li, what, unplain)
				if err != nil {
					return nil, err
				}
				if ok {
					fa.entries = append(fa.entries, f)
				}
			}
			p.funcArrays = append(p.funcArrays, fa)
		case "object":
			oa := objArray{name: name, line: li.line(m[0])}
			for _, it := range items {
				if e, ok := p.objEntry(src, it, what, unplain); ok {
					oa.entries = append(oa.entries, e)
				}
			}
			p.objArrays = append(p.objArrays, oa)
		}
	}
	for _, m := range klpPatchRE.FindAllStringSubmatchIndex(src, -1) {
		defStarts[m[0]] = true
		p.patches++
		open := m[1] - 1
		close, ok := matchBrace(src, open)
		if !ok {
			return nil, fmt.Errorf("livepatch: %s:%d: klp_patch %s not closed", path, li.line(m[0]), src[m[2]:m[3]])
		}
		what := "klp_patch " + src[m[2]:m[3]]
		regions = append(regions, region{li.line(m[0]), li.line(close), what, src[m[0] : close+1]})
		found := false
		for _, it := range designators(src, open+1, close) {
			if it.field != "objs" {
				continue
			}
			found = true
			if r := arrayRefRE.FindStringSubmatch(it.value); r != nil {
				p.patchObjs = append(p.patchObjs, patchObjs{r[1], li.line(it.off)})
			} else {
				unplain(it.off, "%s has .objs = %s, not the name of a klp_object array", what, oneLine(it.value))
			}
		}
		if !found {
			unplain(m[0], "%s sets no .objs", what)
		}
	}
	// Definitions of the structs in forms not read above.
	for _, m := range klpDefRE.FindAllStringIndex(src, -1) {
		if !defStarts[m[0]] {
			unplain(m[0], "%s is defined in a form klp-audit does not read (want struct klp_func NAME[] = { ... })", strings.TrimSpace(strings.TrimSuffix(src[m[0]:m[1]], "=")))
		}
	}
	// Names the arrays and objects refer to must be arrays of the file.
	funcNames := map[string]bool{}
	for _, fa := range p.funcArrays {
		funcNames[fa.name] = true
	}
	objNames := map[string]bool{}
	for _, oa := range p.objArrays {
		objNames[oa.name] = true
	}
	for i := range p.objArrays {
		oa := &p.objArrays[i]
		kept := oa.entries[:0]
		for _, e := range oa.entries {
			if !funcNames[e.funcs] {
				p.unplain = append(p.unplain, finding{oa.line, fmt.Sprintf("klp_object array %s names .funcs = %s, which is no klp_func array of this file", oa.name, e.funcs)})
				continue
			}
			kept = append(kept, e)
		}
		oa.entries = kept
	}
	for _, po := range p.patchObjs {
		if !objNames[po.name] {
			p.unplain = append(p.unplain, finding{po.line, fmt.Sprintf("a klp_patch names .objs = %s, which is no klp_object array of this file", po.name)})
		}
	}
	if !raw {
		return p, nil
	}
	// The preprocessor around and in the arrays, in one pass over the
	// lines: the conditionals open where an array starts or still open
	// where it ends (one opened inside it), and the directives inside.
	sort.Slice(regions, func(i, j int) bool { return regions[i].first < regions[j].first })
	starts, ends := map[int][]int{}, map[int][]int{}
	for i, r := range regions {
		starts[r.first] = append(starts[r.first], i)
		ends[r.last] = append(ends[r.last], i)
	}
	var stack []int // the first lines of the open conditionals
	depth := make([]int, len(regions))
	var open []int // the regions the current line lies in (after their first line)
	defined := map[string]int{}
	lines := strings.Split(directives, "\n")
	for i, l := range lines {
		n := i + 1
		for _, ri := range starts[n] {
			depth[ri] = len(stack)
			if len(stack) > 0 {
				r := regions[ri]
				p.unplain = append(p.unplain, finding{stack[len(stack)-1], fmt.Sprintf("%s (line %d) is under the preprocessor conditional at line %d", r.what, r.first, stack[len(stack)-1])})
			}
		}
		if m := directiveRE.FindStringSubmatch(l); m != nil {
			switch m[1] {
			case "if", "ifdef", "ifndef":
				stack = append(stack, n)
			case "endif":
				if len(stack) > 0 {
					stack = stack[:len(stack)-1]
				}
			case "define", "undef":
				if _, ok := defined[m[2]]; m[2] != "" && !ok {
					defined[m[2]] = n
				}
			}
			if len(open) > 0 && m[1] != "endif" && m[1] != "else" && m[1] != "elif" {
				p.unplain = append(p.unplain, finding{n, fmt.Sprintf("preprocessor directive #%s inside %s", m[1], regions[open[len(open)-1]].what)})
			}
		}
		open = append(open, starts[n]...)
		for _, ri := range ends[n] {
			for k, o := range open {
				if o == ri {
					open = append(open[:k], open[k+1:]...)
					break
				}
			}
			if len(stack) > depth[ri] {
				r := regions[ri]
				p.unplain = append(p.unplain, finding{stack[depth[ri]], fmt.Sprintf("%s (line %d) is under the preprocessor conditional at line %d", r.what, r.first, stack[depth[ri]])})
			}
		}
	}
	if len(defined) > 0 {
		for _, r := range regions {
			seen := map[string]bool{}
			for _, id := range identRE.FindAllString(blankStrings(r.body), -1) {
				if at, ok := defined[id]; ok && !seen[id] {
					seen[id] = true
					p.unplain = append(p.unplain, finding{r.first, fmt.Sprintf("%s uses %s, a macro (#define at line %d)", r.what, id, at)})
				}
			}
		}
	}
	sort.SliceStable(p.unplain, func(i, j int) bool { return p.unplain[i].line < p.unplain[j].line })
	return p, nil
}

// item is one top-level initialiser of a braced list: its text and
// offset.
type item struct {
	text string
	off  int
}

// splitItems splits src[from:to] at its top-level commas. Items that are
// not braced ({ ... }) are returned by offset in bad.
func splitItems(src string, from, to int) (items []item, bad []int) {
	for _, it := range splitTop(src, from, to) {
		t := strings.TrimSpace(it.text)
		if t == "" {
			continue
		}
		if !strings.HasPrefix(t, "{") || !strings.HasSuffix(t, "}") {
			bad = append(bad, it.off)
			continue
		}
		items = append(items, it)
	}
	return items, bad
}

// splitTop splits src[from:to] at commas outside brackets and literals.
func splitTop(src string, from, to int) []item {
	var out []item
	depth, start := 0, from
	for i := from; i < to; i++ {
		switch c := src[i]; c {
		case '"', '\'':
			i = skipLiteral(src, i, to)
		case '{', '(', '[':
			depth++
		case '}', ')', ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, item{src[start:i], start + leadingSpace(src[start:i])})
				start = i + 1
			}
		}
	}
	out = append(out, item{src[start:to], start + leadingSpace(src[start:to])})
	return out
}

func leadingSpace(s string) int { return len(s) - len(strings.TrimLeft(s, " \t\r\n")) }

// skipLiteral returns the offset of the quote closing the literal opened
// at i (or to).
func skipLiteral(src string, i, to int) int {
	q := src[i]
	for i++; i < to && src[i] != q && src[i] != '\n'; i++ {
		if src[i] == '\\' {
			i++
		}
	}
	return i
}

// matchBrace returns the offset of the brace closing the one at open.
func matchBrace(src string, open int) (int, bool) {
	depth := 0
	for i := open; i < len(src); i++ {
		switch src[i] {
		case '"', '\'':
			i = skipLiteral(src, i, len(src))
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i, true
			}
		}
	}
	return 0, false
}

// desig is one ".field = value" of a braced initialiser.
type desig struct {
	field, value string
	off          int
}

// designators returns the designated initialisers of src[from:to];
// positional ones come back with an empty field.
func designators(src string, from, to int) []desig {
	var out []desig
	for _, it := range splitTop(src, from, to) {
		t := strings.TrimSpace(it.text)
		if t == "" {
			continue
		}
		if m := designRE.FindStringSubmatch(t); m != nil {
			out = append(out, desig{m[1], strings.TrimSpace(m[2]), it.off})
		} else {
			out = append(out, desig{"", t, it.off})
		}
	}
	return out
}

// funcEntry reads one { } entry of a klp_func array: ok is false for the
// terminator and for an entry whose old_name cannot be read.
func (p *parsed) funcEntry(src string, it item, li *lineIndex, what string, unplain func(int, string, ...any)) (Func, bool, error) {
	open := it.off
	close := open + len(strings.TrimRight(it.text[leadingSpace(it.text):], " \t\r\n")) - 1
	ds := designators(src, open+1, close)
	if len(ds) == 0 {
		return Func{}, false, nil // { }: the terminator
	}
	var f Func
	named, positional := false, false
	for _, d := range ds {
		switch d.field {
		case "":
			if !positional {
				unplain(d.off, "%s has an initialiser without a .field = (%s)", what, oneLine(d.value))
			}
			positional = true
		case "old_name":
			name, ok := stringLiterals(d.value)
			if !ok {
				unplain(d.off, "%s has .old_name = %s, not a string literal", what, oneLine(d.value))
				continue
			}
			f.OldName, f.File, f.Line, named = name, p.path, li.line(d.off), true
		case "old_sympos":
			switch {
			case intLitRE.MatchString(d.value):
				v, err := strconv.ParseUint(strings.TrimRight(d.value, "uUlL"), 0, 63)
				if err != nil || v > 1<<31 {
					return Func{}, false, fmt.Errorf("livepatch: %s:%d: .old_sympos = %s: out of range", p.path, li.line(d.off), d.value)
				}
				f.OldSympos, f.SymposKnown = int(v), true
			case negIntRE.MatchString(d.value):
				return Func{}, false, fmt.Errorf("livepatch: %s:%d: .old_sympos = %s is negative: klp_func.old_sympos is an unsigned position (0: the only symbol of the name, N: the Nth)",
					p.path, li.line(d.off), d.value)
			default:
				unplain(d.off, "%s has .old_sympos = %s, not an integer literal", what, oneLine(d.value))
			}
		}
	}
	if !named {
		if !positional {
			unplain(it.off, "%s has an entry without a readable .old_name", what)
		}
		return Func{}, false, nil
	}
	return f, true, nil
}

// objEntry reads one { } entry of a klp_object array.
func (p *parsed) objEntry(src string, it item, what string, unplain func(int, string, ...any)) (objEntry, bool) {
	open := it.off
	close := open + len(strings.TrimRight(it.text[leadingSpace(it.text):], " \t\r\n")) - 1
	ds := designators(src, open+1, close)
	if len(ds) == 0 {
		return objEntry{}, false // { }: the terminator
	}
	e := objEntry{module: "vmlinux"}
	ok := true
	for _, d := range ds {
		switch d.field {
		case "":
			unplain(d.off, "%s has an initialiser without a .field = (%s)", what, oneLine(d.value))
			ok = false
		case "name":
			if nullRE.MatchString(d.value) {
				continue
			}
			name, lit := stringLiterals(d.value)
			if !lit {
				unplain(d.off, "%s has .name = %s, not NULL or a string literal: which klp_object it patches is unknown", what, oneLine(d.value))
				e.module = ""
				continue
			}
			e.module = name
		case "funcs":
			r := arrayRefRE.FindStringSubmatch(d.value)
			if r == nil {
				unplain(d.off, "%s has .funcs = %s, not the name of a klp_func array", what, oneLine(d.value))
				ok = false
				continue
			}
			e.funcs = r[1]
		}
	}
	if e.funcs == "" && ok {
		unplain(it.off, "%s has an entry without .funcs", what)
		ok = false
	}
	return e, ok
}

// stringLiterals reads v as one or more adjacent plain string literals
// ("foo" "bar" is "foobar"). Escapes and prefixed literals are not read.
func stringLiterals(v string) (string, bool) {
	var b strings.Builder
	v = strings.TrimSpace(v)
	if v == "" {
		return "", false
	}
	for v != "" {
		if v[0] != '"' {
			return "", false
		}
		end := strings.IndexAny(v[1:], "\"\\\n")
		if end < 0 || v[1+end] != '"' {
			return "", false
		}
		b.WriteString(v[1 : 1+end])
		v = strings.TrimSpace(v[end+2:])
	}
	return b.String(), true
}

// blankStrings replaces the contents of string and character literals
// with spaces.
func blankStrings(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		if b[i] == '"' || b[i] == '\'' {
			end := skipLiteral(s, i, len(s))
			for j := i + 1; j < end && j < len(b); j++ {
				b[j] = ' '
			}
			i = end
		}
	}
	return string(b)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// result assembles the klp_funcs the kernel loads: the entries of the
// klp_func arrays a loaded klp_object names, with that object. Arrays no
// kernel loads are notes.
func (p *parsed) result() ([]Func, []report.Problem) {
	var probs []report.Problem
	loaded := map[string]bool{}
	for _, po := range p.patchObjs {
		loaded[po.name] = true
	}
	objOf := map[string][]string{}
	for _, oa := range p.objArrays {
		if p.patches > 0 && !loaded[oa.name] {
			probs = append(probs, report.Problem{File: p.path, Line: oa.line, Kind: report.KindNote,
				Message: "klp_object array " + oa.name + " is in no klp_patch (.objs): the kernel loads none of its klp_funcs, so they replace nothing"})
			continue
		}
		for _, e := range oa.entries {
			objOf[e.funcs] = append(objOf[e.funcs], e.module)
		}
	}
	var out []Func
	for _, fa := range p.funcArrays {
		objs, ok := objOf[fa.name]
		if !ok {
			probs = append(probs, report.Problem{File: p.path, Line: fa.line, Kind: report.KindNote,
				Message: "klp_func array " + fa.name + " is in no loaded klp_object (.funcs): the kernel loads none of its klp_funcs, so they replace nothing"})
			continue
		}
		for _, obj := range objs {
			if obj == "" {
				continue // its klp_object is unknown: a finding says so
			}
			for _, f := range fa.entries {
				f.Object = obj
				out = append(out, f)
			}
		}
	}
	return out, probs
}

// blankComments replaces C comments (and string contents are kept) with
// spaces, keeping newlines so offsets keep their line numbers.
func blankComments(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '"' || b[i] == '\'':
			q := b[i]
			for i++; i < len(b) && b[i] != q && b[i] != '\n'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '*':
			for ; i < len(b) && !(b[i] == '*' && i+1 < len(b) && b[i+1] == '/'); i++ {
				if b[i] != '\n' {
					b[i] = ' '
				}
			}
			if i+1 < len(b) {
				b[i], b[i+1] = ' ', ' '
				i++
			}
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '/':
			for ; i < len(b) && b[i] != '\n'; i++ {
				b[i] = ' '
			}
		}
	}
	return string(b)
}

// blankDirectives replaces the preprocessor directive lines of src with
// spaces, keeping its offsets.
func blankDirectives(src string) string {
	b := []byte(src)
	start := 0
	for i := 0; i <= len(b); i++ {
		if i < len(b) && b[i] != '\n' {
			continue
		}
		if directiveRE.Match(b[start:i]) {
			for j := start; j < i; j++ {
				b[j] = ' '
			}
		}
		start = i + 1
	}
	return string(b)
}
