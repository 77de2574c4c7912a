package report

import (
	"io"

	"gopkg.in/yaml.v3"
)

// renderYAML writes r following the versioned schema described in the
// package doc, indented by two spaces. Problems, entries, edges and chains
// are written as [] when empty, never as null.
func renderYAML(w io.Writer, r *Result) error {
	if r == nil {
		return errNilResult
	}
	// yaml.v3 turns a write error into text; keep the original for
	// errors.Is.
	ew := &errWriter{w: w}
	enc := yaml.NewEncoder(ew)
	enc.SetIndent(2)
	err := enc.Encode(normalized(r))
	if err == nil {
		err = enc.Close()
	}
	if ew.err != nil {
		return ew.err
	}
	return err
}
