// Package patch reads a fix as a unified diff (git-style or plain) and
// says, per hunk, which source lines it changes, in the coordinates of the
// original file: the file the original build was compiled from, whose
// DWARF line numbers klp-audit check maps the hunks to functions with.
// Locate finds each hunk in that file by its context, as GNU patch does
// (a tree that moved gives an offset), and Apply writes the fixed file.
// It also classifies hunks that touch no function body (comments, data
// layout, macros) and finds C function definitions in a source file when
// no debug information covers it.
//
// Parsing is done by github.com/bluekeyes/go-gitdiff; this package adds the
// livepatch view of the result and knows nothing of builds or graphs.
package patch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"

	"github.com/klp-audit/klp-audit/internal/safeio"
)

// ErrNoHunks is returned by Parse for input holding no text hunk.
var ErrNoHunks = errors.New("no text hunks in the diff")

// Op is what a diff line does.
type Op int

// The line operations.
const (
	Context Op = iota
	Delete
	Add
)

// Line is one line of a hunk.
type Line struct {
	Op   Op
	Text string // without the newline
	// OldLine is the line's number in the original file (Context and
	// Delete), or for an Add the number of the original line it follows
	// (0 at the top of the file).
	OldLine int
	// NewLine is the line's number in the patched file (Context and Add),
	// or for a Delete the number of the patched line it follows.
	NewLine int
}

// Hunk is one hunk of a file's diff.
type Hunk struct {
	// OldStart, OldLines, NewStart and NewLines are the hunk header's
	// ranges (@@ -OldStart,OldLines +NewStart,NewLines @@).
	OldStart, OldLines int
	NewStart, NewLines int
	Lines              []Line
}

// Changed returns the hunk's added and deleted lines.
func (h *Hunk) Changed() []Line {
	var out []Line
	for _, l := range h.Lines {
		if l.Op != Context {
			out = append(out, l)
		}
	}
	return out
}

// FirstChangedNew returns the patched file's line of the hunk's first
// change (for an added line its own number, for a deletion the line after
// which it was removed, at least 1).
func (h *Hunk) FirstChangedNew() int {
	for _, l := range h.Lines {
		switch l.Op {
		case Add:
			return l.NewLine
		case Delete:
			return max(l.NewLine+1, 1)
		}
	}
	return max(h.NewStart, 1)
}

// File is the diff of one file.
type File struct {
	// OldName and NewName are the paths the diff names, without git's a/
	// and b/ prefixes; empty for a created or deleted file's other side.
	OldName, NewName string
	Hunks            []Hunk
}

// Name returns the file's path: its new name, or the old one for a
// deleted file.
func (f *File) Name() string {
	if f.NewName != "" {
		return f.NewName
	}
	return f.OldName
}

// MaxDiffSize is the largest diff read: a livepatch fix is a few KiB, a
// whole stable-release diff some MiB. gitdiff holds about five times the
// input in memory, so a 1 GB diff took 5.4 GB; beyond MaxDiffSize the diff
// is an input error instead.
const MaxDiffSize = 64 << 20

// ParseFile reads the unified diff in the file at path: a regular file
// (never a FIFO or a device) of at most MaxDiffSize bytes. See Parse.
func ParseFile(path string) ([]File, error) {
	b, err := safeio.ReadFile(path, MaxDiffSize)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	return parse(b, path)
}

// Parse reads a unified diff of at most MaxDiffSize bytes. name is used
// in errors. A diff holding no text hunk gives an error wrapping
// ErrNoHunks. A diff whose every line ends in CRLF (saved by a Windows
// editor or a mail client) is read as if it ended in LF; a diff mixing
// the two with a carriage return in a file header is an error naming the
// line and the "\r", never a file name ending in an invisible one.
func Parse(r io.Reader, name string) ([]File, error) {
	b, err := safeio.ReadAllLimit(r, name, MaxDiffSize)
	if err != nil {
		return nil, err
	}
	return parse(b, name)
}

func parse(b []byte, name string) ([]File, error) {
	if n := bytes.Count(b, []byte("\n")); n > 0 && bytes.Count(b, []byte("\r\n")) == n {
		b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	} else if line, text := crInHeader(b); line > 0 {
		return nil, fmt.Errorf("%s:%d: carriage return (\\r) in the file header %q: the diff mixes CRLF and LF line ends (convert it with dos2unix)",
			name, line, text)
	}
	files, _, err := gitdiff.Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var out []File
	for _, f := range files {
		if f.IsBinary {
			return nil, fmt.Errorf("%s: %s: binary diff: only text diffs of sources can be checked", name, f.NewName)
		}
		pf := File{OldName: stripPrefix(f.OldName), NewName: stripPrefix(f.NewName)}
		for _, frag := range f.TextFragments {
			if err := frag.Validate(); err != nil {
				return nil, fmt.Errorf("%s: %s: hunk %s: %w", name, pf.Name(), strings.TrimSpace(frag.Header()), err)
			}
			pf.Hunks = append(pf.Hunks, hunkOf(frag))
		}
		if len(pf.Hunks) > 0 {
			out = append(out, pf)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w", name, ErrNoHunks)
	}
	return out, nil
}

// crInHeader returns the number and text of the first file header line
// (diff --git, ---, +++, rename, copy) holding a carriage return.
func crInHeader(b []byte) (int, string) {
	for i, line := range bytes.Split(b, []byte("\n")) {
		if bytes.IndexByte(line, '\r') < 0 {
			continue
		}
		for _, p := range []string{"diff --git ", "--- ", "+++ ", "rename from ", "rename to ", "copy from ", "copy to "} {
			if bytes.HasPrefix(line, []byte(p)) {
				return i + 1, string(line)
			}
		}
	}
	return 0, ""
}

// stripPrefix removes a/ or b/ left on a plain unified diff's names.
func stripPrefix(s string) string {
	if s == "/dev/null" {
		return ""
	}
	for _, p := range []string{"a/", "b/"} {
		if strings.HasPrefix(s, p) {
			return s[len(p):]
		}
	}
	return s
}

func hunkOf(frag *gitdiff.TextFragment) Hunk {
	h := Hunk{OldStart: int(frag.OldPosition), OldLines: int(frag.OldLines),
		NewStart: int(frag.NewPosition), NewLines: int(frag.NewLines)}
	// A zero-length side's position is the line before the hunk.
	o, n := h.OldStart, h.NewStart
	if h.OldLines == 0 {
		o++
	}
	if h.NewLines == 0 {
		n++
	}
	for _, l := range frag.Lines {
		text := strings.TrimSuffix(strings.TrimSuffix(l.Line, "\n"), "\r")
		switch l.Op {
		case gitdiff.OpContext:
			h.Lines = append(h.Lines, Line{Op: Context, Text: text, OldLine: o, NewLine: n})
			o++
			n++
		case gitdiff.OpDelete:
			h.Lines = append(h.Lines, Line{Op: Delete, Text: text, OldLine: o, NewLine: n - 1})
			o++
		case gitdiff.OpAdd:
			h.Lines = append(h.Lines, Line{Op: Add, Text: text, OldLine: o - 1, NewLine: n})
			n++
		}
	}
	return h
}

// Mismatch is a hunk whose context or deleted lines differ from the
// source file it is checked against: the diff does not apply to it.
type Mismatch struct {
	Line int    // line of the source file
	Want string // what the hunk says is there
	Got  string // what the file has ("" past its end)
}

// Verify checks that the hunk's context and deleted lines are those of
// src, the original file's lines (index 0 is line 1). It returns the first
// mismatch, or nil.
func (h *Hunk) Verify(src []string) *Mismatch {
	for _, l := range h.Lines {
		if l.Op == Add {
			continue
		}
		got := ""
		if l.OldLine >= 1 && l.OldLine <= len(src) {
			got = src[l.OldLine-1]
		} else {
			return &Mismatch{Line: l.OldLine, Want: l.Text, Got: ""}
		}
		if strings.TrimRight(got, " \t\r") != strings.TrimRight(l.Text, " \t\r") {
			return &Mismatch{Line: l.OldLine, Want: l.Text, Got: got}
		}
	}
	return nil
}
