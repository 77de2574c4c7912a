package report

import (
	"bytes"
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
		var compact bytes.Buffer
		enc := json.NewEncoder(&compact)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return err
		}
		return writeIndented(w, compact.Bytes())
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

// indentFlush is how many bytes of indented JSON writeIndented holds
// before it writes them.
var indentFlush = 64 << 10

// writeIndented writes the compact JSON src to w indented (indentJSONTo),
// indentFlush bytes at a time: an answer of megabytes is not held twice.
func writeIndented(w io.Writer, src []byte) error {
	dst, err := indentJSONTo(make([]byte, 0, min(indentFlush+indentFlush/2, len(src)*3/2)), src, func(b []byte) error {
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	_, err = w.Write(dst)
	return err
}

// indentJSONTo appends to dst the compact JSON src (encoding/json's
// output: no space outside strings) indented as json.Encoder with
// SetIndent("", "  ") indents it, byte for byte: each element on a line
// of its own, two spaces a level, ": " after a key, empty objects and
// arrays kept as {} and []. encoding/json's indenting runs its scanner
// on every byte, a fifth of an indexed query's time for a large
// answer; src is known valid, so only strings need telling apart.
// TestIndentJSON and FuzzIndentJSON hold it to json.Indent.
//
// With flush, it hands dst to flush and starts it again whenever it
// holds indentFlush bytes or more, and stops at flush's first error.
func indentJSONTo(dst, src []byte, flush func([]byte) error) ([]byte, error) {
	depth := 0
	open := false // after { or [: the next byte says whether it is empty
	newline := func() {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, ' ', ' ')
		}
	}
	for i := 0; i < len(src); i++ {
		if flush != nil && len(dst) >= indentFlush {
			if err := flush(dst); err != nil {
				return dst, err
			}
			dst = dst[:0]
		}
		c := src[i]
		if open {
			open = false
			if c == '}' || c == ']' {
				dst = append(dst, c)
				continue
			}
			depth++
			newline()
		}
		switch c {
		case '"':
			// The string, to its closing quote, as it is.
			j := i + 1
			for j < len(src) {
				k := bytes.IndexAny(src[j:], "\"\\")
				if k < 0 {
					j = len(src)
					break
				}
				j += k
				if src[j] == '"' {
					break
				}
				j += 2 // a backslash and the byte it escapes
			}
			end := min(j+1, len(src))
			dst = append(dst, src[i:end]...)
			i = end - 1
		case '{', '[':
			dst = append(dst, c)
			open = true
		case '}', ']':
			depth--
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}
