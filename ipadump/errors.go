package ipadump

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel causes of a *ParseError, for errors.Is.
var (
	// ErrFieldCount: the line does not have the 12, 6 or 14 fields of a
	// clone or removal line.
	ErrFieldCount = errors.New("wrong number of fields")
	// ErrUnknownLine: the line is neither a clone nor a removal line.
	ErrUnknownLine = errors.New("not a Callgraph clone or removal line")
	// ErrEmptyName: a function name field is empty.
	ErrEmptyName = errors.New("empty function name")
	// ErrNumber: an ORDER, LINE or COL field is not a decimal number.
	ErrNumber = errors.New("field is not a number")
	// ErrTruncated: the last line has no newline; the writer was
	// interrupted (a build killed mid-write) and the line is incomplete.
	ErrTruncated = errors.New("truncated last line")
	// ErrLineTooLong: the line exceeds MaxLineLen and was skipped.
	ErrLineTooLong = errors.New("line too long")
)

// ParseError describes a line that could not be read.
type ParseError struct {
	Dump string // dump path
	Line int    // 1-based line number
	Text string // the offending line, shortened for display
	Want string // what was expected
	Err  error  // one of the sentinels above, or an I/O error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: %v", e.Dump, e.Line, e.Err)
	if e.Text != "" {
		fmt.Fprintf(&b, " in %q", e.Text)
	}
	if e.Want != "" {
		b.WriteString(", want ")
		b.WriteString(e.Want)
	}
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// ErrorList collects the errors met while reading many dumps.
type ErrorList []error

// Add appends err unless it is nil.
func (l *ErrorList) Add(err error) {
	if err != nil {
		*l = append(*l, err)
	}
}

// Sort orders parse errors by dump and line; other errors keep their
// relative order after them.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		var a, b *ParseError
		ai, bi := errors.As(l[i], &a), errors.As(l[j], &b)
		if ai != bi {
			return ai
		}
		if !ai {
			return false
		}
		if a.Dump != b.Dump {
			return a.Dump < b.Dump
		}
		return a.Line < b.Line
	})
}

func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", l[0], len(l)-1)
}

// Err returns nil for an empty list and the list otherwise.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Unwrap gives errors.Is and errors.As access to every error in the list.
func (l ErrorList) Unwrap() []error { return l }

// FileError is a problem with a whole file (no line to point at): a dump
// that cannot be opened or read, an object whose evidence is missing.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string {
	msg := e.Err.Error()
	if strings.HasPrefix(msg, e.Path+":") || strings.Contains(msg, ": "+e.Path+":") {
		return msg // it names the file already
	}
	return e.Path + ": " + msg
}

func (e *FileError) Unwrap() error { return e.Err }
