package report

import (
	"fmt"
	"io"
	"strings"
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

// Formats lists every format, in the order help texts show them.
var Formats = []Format{Text, Table, YAML, JSON, DOT}

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown format %q, want one of %s", s, strings.Join(names, ", "))
}

// Render writes r to w in format f.
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
	}
	return fmt.Errorf("unknown format %q", f)
}
