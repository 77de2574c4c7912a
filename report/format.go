package report

import (
	"fmt"
	"io"
)

// Format is an output format.
type Format string

// The output formats.
const (
	Text  Format = "text"
	Table Format = "table"
	YAML  Format = "yaml"
	JSON  Format = "json"
	DOT   Format = "dot"
)

// Render writes the impacted answer r to w in format f.
func Render(w io.Writer, r *Result, f Format) error {
	switch f {
	case Text:
		return renderText(w, r)
	case Table:
		return renderTable(w, r)
	case YAML:
		return renderYAML(w, r)
	case JSON:
		return renderJSON(w, r)
	case DOT:
		return renderDOT(w, r)
	case HTML:
		return renderHTML(w, r)
	}
	return fmt.Errorf("unknown format %q", f)
}
