package patch

import (
	"strconv"
	"strings"
)

// LineNeutral returns src with f's hunks applied at locs, as ApplyAt
// writes it, with a "#line N" directive (no file name, so __FILE__ stays
// the file's) before the first line after each changed region, N being
// that line's number in src: every line the fix did not add carries its
// original number, so __LINE__, WARN/BUG tables and the line table of
// code the fix did not change are the original's. Compiled, it differs
// from the original only where the fix changed code; the patched file
// differs also where lines only moved.
//
// A directive is never put inside a macro continuation (after a line
// ending in a backslash), a comment, a string or between the parentheses
// of an expression (the arguments of a macro call spanning lines): it
// moves down to the first line where it may stand, and the lines in
// between keep the patched numbering. directives is how many were put.
func LineNeutral(src []string, f File, locs []Location) (out []string, directives int, err error) {
	x, err := ApplyFixed(src, f, locs)
	if err != nil {
		return nil, 0, err
	}
	out, directives = x.LineNeutral()
	return out, directives, nil
}

// Fixed is a file with a fix applied once (ApplyFixed), from which both
// the patched text and its line-neutral form are read.
type Fixed struct {
	// Lines are the fixed file, as ApplyAt writes it.
	Lines []string
	// origin is each line's number in the original (0 for an added line).
	origin []int
}

// ApplyFixed applies f's hunks to src at locs, as ApplyAt does.
func ApplyFixed(src []string, f File, locs []Location) (*Fixed, error) {
	fixed, origin, err := applyAt(src, f, locs)
	if err != nil {
		return nil, err
	}
	return &Fixed{Lines: fixed, origin: origin}, nil
}

// LineNeutral returns the fixed file with the "#line N" directives of
// the package function LineNeutral.
func (x *Fixed) LineNeutral() (out []string, directives int) {
	fixed, origin := x.Lines, x.origin
	out = make([]string, 0, len(fixed)+8)
	var lx cLexer
	next := 1 // the number the compiler gives the next line
	for i, l := range fixed {
		if want := origin[i]; want != 0 && want != next && lx.between() {
			out = append(out, "#line "+strconv.Itoa(want))
			directives++
			next = want
		}
		out = append(out, l)
		next++
		lx.line(l)
	}
	return out, directives
}

// cLexer follows C's lexical state from line to line, as far as
// LineNeutral needs it: whether the next line starts inside a comment,
// a string, a macro continuation or parentheses.
type cLexer struct {
	comment   bool // inside /* */
	quote     byte // inside a string or character literal: its quote
	continued bool // the last line ended with a backslash
	directive bool // the last line was (part of) a preprocessor directive
	depth     int  // open parentheses outside directives
}

// between says a directive may stand before the next line.
func (lx *cLexer) between() bool {
	return !lx.comment && lx.quote == 0 && !lx.continued && lx.depth == 0
}

// line moves the state past one line.
func (lx *cLexer) line(l string) {
	t := strings.TrimRight(l, " \t\r")
	if !lx.continued && !lx.comment {
		lx.directive = strings.HasPrefix(strings.TrimLeft(t, " \t"), "#")
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case lx.comment:
			if c == '*' && i+1 < len(t) && t[i+1] == '/' {
				lx.comment = false
				i++
			}
		case lx.quote != 0:
			if c == '\\' {
				i++
			} else if c == lx.quote {
				lx.quote = 0
			}
		case c == '/' && i+1 < len(t) && t[i+1] == '/':
			i = len(t) // a line comment (continued by a backslash: see below)
		case c == '/' && i+1 < len(t) && t[i+1] == '*':
			lx.comment = true
			i++
		case c == '"' || c == '\'':
			lx.quote = c
		case c == '(' && !lx.directive:
			lx.depth++
		case c == ')' && !lx.directive && lx.depth > 0:
			lx.depth--
		}
	}
	lx.continued = strings.HasSuffix(t, "\\")
	if !lx.continued {
		lx.quote = 0 // an unterminated literal ends with its line
	}
}
