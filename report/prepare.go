package report

import (
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// errNilResult is returned by every renderer given a nil *Result.
var errNilResult = errors.New("report: nil result")

// normalized returns a copy of r shaped for YAML and JSON: the lists the
// schema always carries (problems, entries, edges, each entry's chain) are
// empty rather than nil, so they encode as [] and never as null, and the
// optional lists (omitempty) are nil when empty, so a decoded report
// compares equal to it. r itself is not changed.
func normalized(r *Result) *Result {
	n := *r
	n.Inputs.Builds = nilIfEmpty(r.Inputs.Builds)
	n.Inputs.DumpLists = nilIfEmpty(r.Inputs.DumpLists)
	n.Problems = emptyIfNil(r.Problems)
	n.Edges = emptyIfNil(r.Edges)
	n.Entries = make([]Entry, len(r.Entries))
	for i, e := range r.Entries {
		e.Chain = emptyIfNil(e.Chain)
		e.CloneOf = nilIfEmpty(e.CloneOf)
		n.Entries[i] = e
	}
	n.Rebuild = normalizedRebuild(r.Rebuild)
	return &n
}

func emptyIfNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// sortedEntries returns a copy of the entries ordered by translation unit,
// depth and name, with the remaining fields breaking ties, so that the
// human-facing renderers do not depend on the order they were given.
func sortedEntries(entries []Entry) []Entry {
	s := append([]Entry(nil), entries...)
	sort.SliceStable(s, func(i, j int) bool {
		a, b := &s[i], &s[j]
		switch {
		case a.TU != b.TU:
			return a.TU < b.TU
		case a.Depth != b.Depth:
			return a.Depth < b.Depth
		case a.Name != b.Name:
			return a.Name < b.Name
		case a.SourceFile != b.SourceFile:
			return a.SourceFile < b.SourceFile
		case a.SourceLine != b.SourceLine:
			return a.SourceLine < b.SourceLine
		case a.Reached != b.Reached:
			return a.Reached < b.Reached
		}
		return parentOf(*a) < parentOf(*b)
	})
	return s
}

// parentOf is the function an entry got its code from: the From of the
// last step of its chain, or "" for an entry without a chain.
func parentOf(e Entry) string {
	if len(e.Chain) == 0 {
		return ""
	}
	return e.Chain[len(e.Chain)-1].From
}

// howOf is the last transformation that gave an entry its code.
func howOf(e Entry) string {
	if len(e.Chain) > 0 && e.Chain[len(e.Chain)-1].How != "" {
		return e.Chain[len(e.Chain)-1].How
	}
	return e.Reached
}

// source formats an entry's source position as file:line.
func source(e Entry) string {
	switch {
	case e.SourceFile == "":
		return ""
	case e.SourceLine <= 0:
		return e.SourceFile
	}
	return e.SourceFile + ":" + strconv.Itoa(e.SourceLine)
}

// tuName names a translation unit for people, including the unnamed one.
func tuName(tu string) string {
	if tu == "" {
		return "(unknown translation unit)"
	}
	return tu
}

// displayName names a function for people, including the unnamed one.
func displayName(name string) string {
	if name == "" {
		return "(no name)"
	}
	return Printable(name)
}

// Printable makes a string from the input safe to print on one line of a
// terminal: a string holding control characters is shown Go-quoted,
// without the outer quotes.
func Printable(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// String formats a problem as "file:line: message" (the file alone when
// the line is unknown, and no prefix when the message already names the
// file), the message prefixed with "fail-closed: " for that kind, with
// control characters escaped: problems quote their input.
func (p Problem) String() string {
	msg := Printable(p.Message)
	if msg == "" {
		msg = "(no message)"
	}
	if p.Kind == KindFailClosed {
		msg = KindFailClosed + ": " + msg
	}
	switch {
	case p.File != "" && p.Line > 0:
		return Printable(p.File) + ":" + strconv.Itoa(p.Line) + ": " + msg
	case p.File != "" && !strings.Contains(p.Message, p.File):
		return Printable(p.File) + ": " + msg
	}
	return msg
}

// writeProblems writes the block that opens the text and table output of
// a result with problems: an incomplete result must never look like a
// clean answer, so the warning comes before anything else. It writes
// nothing for a complete result without problems.
func writeProblems(b *strings.Builder, r *Result) {
	switch {
	case !r.Complete:
		b.WriteString("INCOMPLETE: evidence was missing or unreadable; the functions below are a lower bound, not a safe answer\n")
	case len(r.Problems) > 0:
		b.WriteString("NOTE: the result is marked complete, but problems were recorded\n")
	default:
		return
	}
	if len(r.Problems) == 0 {
		b.WriteString("  (no problem was recorded)\n")
	}
	for _, p := range r.Problems {
		b.WriteString("  " + p.String() + "\n")
	}
	b.WriteString("\n")
}

// errWriter remembers the first write error, for writers such as
// tablewriter's that do not return one.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
