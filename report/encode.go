package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// The verbs whose answers this package renders, as --format knows them.
const (
	VerbImpacted = "impacted"
	VerbExplain  = "explain"
	VerbCheck    = "check"
	VerbFlags    = "flags"
	VerbMap      = "map"
	VerbDiff     = "diff"
)

// verbFormats is the one registry of the formats each verb writes, in the
// order help texts show them.
var verbFormats = map[string][]Format{
	VerbImpacted: {Text, Table, YAML, JSON, DOT, HTML},
	VerbExplain:  {Text, JSON, YAML},
	VerbCheck:    {Text, YAML, JSON, SARIF, Markdown, HTML},
	VerbFlags:    {Text, Table, YAML, JSON},
	VerbMap:      {Text, YAML, JSON},
	VerbDiff:     {Text, YAML, JSON},
}

// FormatsOf lists the formats verb writes.
func FormatsOf(verb string) []Format { return verbFormats[verb] }

// FormatNames lists the formats verb writes as strings, for help texts
// and shell completion.
func FormatNames(verb string) []string {
	fs := verbFormats[verb]
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}

// ParseFormatOf checks a --format value of verb.
func ParseFormatOf(verb, s string) (Format, error) {
	for _, f := range verbFormats[verb] {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q, want one of %s", s, strings.Join(FormatNames(verb), ", "))
}

// Encode writes v as JSON or YAML, indented by two spaces: the one
// encoder of every verb's data formats. JSON does not escape <, > and &
// (the reports quote code), and a write error is returned as it is, so
// callers can tell it with errors.Is.
func Encode(w io.Writer, v any, f Format) error {
	switch f {
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	case YAML:
		// yaml.v3 turns a write error into text; keep the original.
		ew := &errWriter{w: w}
		enc := yaml.NewEncoder(ew)
		enc.SetIndent(2)
		err := enc.Encode(v)
		if err == nil {
			err = enc.Close()
		}
		if ew.err != nil {
			return ew.err
		}
		return err
	}
	return fmt.Errorf("report: %s is not a data format", f)
}
