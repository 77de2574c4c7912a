package report

import "io"

// renderJSON writes r following the versioned schema described in the
// package doc, indented by two spaces and ending in a newline. Problems,
// entries, edges and chains are written as [] when empty, never as null.
func renderJSON(w io.Writer, r *Result) error {
	if r == nil {
		return errNilResult
	}
	return Encode(w, normalized(r), JSON)
}
