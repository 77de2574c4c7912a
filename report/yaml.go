package report

import "io"

// renderYAML writes r following the versioned schema described in the
// package doc, indented by two spaces. Problems, entries, edges and chains
// are written as [] when empty, never as null.
func renderYAML(w io.Writer, r *Result) error {
	if r == nil {
		return errNilResult
	}
	return Encode(w, normalized(r), YAML)
}
