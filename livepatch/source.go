package livepatch

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/klp-audit/klp-audit/internal/safeio"
	"github.com/klp-audit/klp-audit/report"
)

// Func is one klp_func entry; SymposKnown says the entry sets
// .old_sympos (or the YAML list gives it).
type Func struct {
	report.LivepatchFunc
	SymposKnown bool
}

var (
	klpFuncArrayRE   = regexp.MustCompile(`struct\s+klp_func\s+([A-Za-z_][A-Za-z0-9_]*)\s*\[\s*\]\s*=\s*\{`)
	klpObjectArrayRE = regexp.MustCompile(`struct\s+klp_object\s+([A-Za-z_][A-Za-z0-9_]*)\s*\[\s*\]\s*=\s*\{`)
	oldNameRE        = regexp.MustCompile(`\.old_name\s*=\s*"([^"]*)"`)
	oldSymposRE      = regexp.MustCompile(`\.old_sympos\s*=\s*([0-9]+)`)
	objNameRE        = regexp.MustCompile(`\.name\s*=\s*(NULL|"([^"]*)")`)
	objFuncsRE       = regexp.MustCompile(`\.funcs\s*=\s*&?\s*([A-Za-z_][A-Za-z0-9_]*)`)
)

// MaxSourceSize caps a livepatch module source or funcs list: a
// livepatch is KiBs; a larger file is an input error, not a long read.
const MaxSourceSize = 16 << 20

// ParseSource reads a livepatch module's C source: its struct
// klp_func arrays, each entry's .old_name and .old_sympos with the line it
// is on, and its struct klp_object arrays, which say which klp_object
// (.name NULL: vmlinux) each klp_func array belongs to. Comments are
// ignored. A source with no klp_func array is an input error.
func ParseSource(path string) ([]Func, []report.Problem, error) {
	data, err := safeio.ReadFile(path, MaxSourceSize)
	if err != nil {
		return nil, nil, fmt.Errorf("livepatch: %v", err)
	}
	src := blankComments(string(data))
	lineOf := func(off int) int { return strings.Count(src[:off], "\n") + 1 }

	type entry struct {
		text string
		off  int
	}
	// entries returns the top-level { } entries of the array whose
	// opening brace ends at open.
	entries := func(open int) ([]entry, error) {
		var out []entry
		depth, start := 0, -1
		for i := open; i < len(src); i++ {
			switch src[i] {
			case '{':
				depth++
				if depth == 1 {
					start = i
				}
			case '}':
				depth--
				if depth == 0 {
					out = append(out, entry{src[start : i+1], start})
				}
				if depth < 0 {
					return out, nil
				}
			}
		}
		return nil, fmt.Errorf("%s:%d: array not closed", path, lineOf(open))
	}

	funcsOf := map[string][]Func{}
	var arrays []string
	for _, m := range klpFuncArrayRE.FindAllStringSubmatchIndex(src, -1) {
		name := src[m[2]:m[3]]
		es, err := entries(m[1])
		if err != nil {
			return nil, nil, fmt.Errorf("livepatch: %v", err)
		}
		arrays = append(arrays, name)
		funcsOf[name] = []Func{}
		for _, e := range es {
			nm := oldNameRE.FindStringSubmatchIndex(e.text)
			if nm == nil {
				continue // the { } terminator
			}
			f := Func{LivepatchFunc: report.LivepatchFunc{OldName: e.text[nm[2]:nm[3]], File: path, Line: lineOf(e.off + nm[0])}}
			if sm := oldSymposRE.FindStringSubmatch(e.text); sm != nil {
				f.OldSympos, _ = strconv.Atoi(sm[1])
				f.SymposKnown = true
			}
			funcsOf[name] = append(funcsOf[name], f)
		}
	}
	if len(arrays) == 0 {
		return nil, nil, fmt.Errorf("livepatch %s: no struct klp_func array found: is it a livepatch module source (see samples/livepatch/livepatch-sample.c)?", path)
	}
	objOf := map[string]string{}
	for _, m := range klpObjectArrayRE.FindAllStringSubmatchIndex(src, -1) {
		es, err := entries(m[1])
		if err != nil {
			return nil, nil, fmt.Errorf("livepatch: %v", err)
		}
		for _, e := range es {
			fm := objFuncsRE.FindStringSubmatch(e.text)
			if fm == nil {
				continue
			}
			obj := "vmlinux"
			if nm := objNameRE.FindStringSubmatch(e.text); nm != nil && nm[1] != "NULL" {
				obj = nm[2]
			}
			objOf[fm[1]] = obj
		}
	}
	var out []Func
	var problems []report.Problem
	for _, a := range arrays {
		obj, ok := objOf[a]
		if !ok {
			problems = append(problems, report.Problem{File: path, Message: "klp_func array " + a + " is in no klp_object: which object its functions replace is unknown (vmlinux assumed)"})
			obj = "vmlinux"
		}
		for _, f := range funcsOf[a] {
			f.Object = obj
			out = append(out, f)
		}
	}
	return out, problems, nil
}

// blankComments replaces C comments (and string contents are kept) with
// spaces, keeping newlines so offsets keep their line numbers.
func blankComments(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '"':
			for i++; i < len(b) && b[i] != '"' && b[i] != '\n'; i++ {
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

// funcsListEntry is one entry of a --funcs list.
type funcsListEntry struct {
	// Object is the klp_object: vmlinux (or empty) or a module name.
	Object  string `yaml:"object"`
	OldName string `yaml:"old_name"`
	// OldSympos is klp_func.old_sympos; absent when not set.
	OldSympos *int `yaml:"old_sympos"`
}

// ParseFuncsList reads a --funcs list: a YAML sequence of
//
//   - object: vmlinux      # or the module's name; default vmlinux
//     old_name: read_msg
//     old_sympos: 2        # optional
func ParseFuncsList(path string) ([]Func, error) {
	f, err := safeio.OpenLimit(path, MaxSourceSize)
	if err != nil {
		return nil, fmt.Errorf("funcs list: %v", err)
	}
	defer f.Close()
	var doc yaml.Node
	if err := yaml.NewDecoder(f.Reader()).Decode(&doc); err != nil {
		return nil, fmt.Errorf("funcs list %s: %v", path, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("funcs list %s: want a YAML list of {object, old_name, old_sympos}", path)
	}
	var out []Func
	for _, n := range doc.Content[0].Content {
		var e funcsListEntry
		if err := decodeStrict(n, &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n.Line, err)
		}
		if e.OldName == "" {
			return nil, fmt.Errorf("%s:%d: entry without old_name", path, n.Line)
		}
		if e.Object == "" {
			e.Object = "vmlinux"
		}
		lf := Func{LivepatchFunc: report.LivepatchFunc{Object: e.Object, OldName: e.OldName, File: path, Line: n.Line}}
		if e.OldSympos != nil {
			lf.OldSympos, lf.SymposKnown = *e.OldSympos, true
		}
		out = append(out, lf)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("funcs list %s: no functions listed", path)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out, nil
}

// decodeStrict decodes one YAML node rejecting unknown keys.
func decodeStrict(n *yaml.Node, v any) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("want a mapping with object, old_name and old_sympos")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i].Value; k {
		case "object", "old_name", "old_sympos":
		default:
			return fmt.Errorf("unknown key %q (want object, old_name, old_sympos)", k)
		}
	}
	return n.Decode(v)
}
