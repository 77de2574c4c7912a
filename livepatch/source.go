package livepatch

import (
	"fmt"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/klp-audit/klp-audit/internal/safeio"
	"github.com/klp-audit/klp-audit/report"
)

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
			if *e.OldSympos < 0 {
				return nil, fmt.Errorf("%s:%d: old_sympos %d is negative: klp_func.old_sympos is an unsigned position (0: the only symbol of the name, N: the Nth)",
					path, keyLine(n, "old_sympos"), *e.OldSympos)
			}
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

// keyLine returns the line of key's value in mapping n (n's own line
// when it has no such key).
func keyLine(n *yaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1].Line
		}
	}
	return n.Line
}
