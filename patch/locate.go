package patch

import (
	"fmt"
	"strings"
)

// Location is where a hunk applies in the file it is applied to, found by
// its context as patch(1) finds it.
type Location struct {
	// Line is the file's line that holds the hunk's first context or
	// deleted line (for a hunk with neither, the line it inserts before).
	Line int
	// Offset is Line minus the hunk header's position: patch(1)'s
	// "Hunk #2 succeeded at 130 (offset 12 lines)". Every line number of
	// the hunk, old and new side, moves by Offset.
	Offset int
	// Fuzz is how many context lines at each end were not compared
	// (patch's "with fuzz N"); 0 unless a fuzz was allowed.
	Fuzz int
}

// ApplyError is a hunk that does not apply to a file: its context and
// deleted lines are found nowhere the hunk may go. Near is the closest
// place it almost matched, nil when the file has no line to compare.
type ApplyError struct {
	File string // the file's path, as the diff names it
	Hunk int    // the hunk's number in the file's diff, from 1
	// Header is the hunk's header, e.g. "@@ -120,7 +120,8 @@".
	Header string
	Near   *NearMatch
}

// NearMatch is where a hunk that does not apply comes closest: the place
// with the most context and deleted lines equal to the file's, nearest
// the hunk's header position among equals.
type NearMatch struct {
	Line, Offset int // as in Location
	// Matched of Total context and deleted lines are the file's.
	Matched, Total int
	// Mismatch is the first line there that differs; PastEnd says it
	// lies past the file's end. When every line matches (Matched ==
	// Total), the hunk may not go there, and Why says why.
	Mismatch Mismatch
	PastEnd  bool
	Why      string
}

func (e *ApplyError) Error() string {
	msg := fmt.Sprintf("%s: hunk #%d (%s) does not apply", e.File, e.Hunk, e.Header)
	n := e.Near
	switch {
	case n == nil:
		return msg + ": no place in the file fits it"
	case n.Matched == n.Total:
		return fmt.Sprintf("%s: its context and deleted lines are at line %d (offset %d %s), but %s",
			msg, n.Line, n.Offset, plural(n.Offset, "line"), n.Why)
	}
	got := fmt.Sprintf("the file has %q", n.Mismatch.Got)
	if n.PastEnd {
		got = "the file ends before it"
	}
	return fmt.Sprintf("%s: it comes closest at line %d (offset %d %s), where %d of its %d context and deleted lines match; %s:%d: the hunk expects %q, %s",
		msg, n.Line, n.Offset, plural(n.Offset, "line"), n.Matched, n.Total, e.File, n.Mismatch.Line, n.Mismatch.Want, got)
}

func plural(n int, word string) string {
	if n == 1 || n == -1 {
		return word
	}
	return word + "s"
}

// Header returns the hunk's unified diff header, "@@ -OldStart,OldLines
// +NewStart,NewLines @@".
func (h *Hunk) Header() string {
	return fmt.Sprintf("@@ -%d,%d +%d,%d @@", h.OldStart, h.OldLines, h.NewStart, h.NewLines)
}

// At returns the hunk moved to loc: its header positions and every line's
// OldLine and NewLine shifted by loc.Offset, so that they are the lines of
// the file it applies to and of that file patched.
func (h *Hunk) At(loc Location) Hunk {
	m := *h
	m.OldStart += loc.Offset
	m.NewStart += loc.Offset
	m.Lines = make([]Line, len(h.Lines))
	for i, l := range h.Lines {
		l.OldLine += loc.Offset
		l.NewLine += loc.Offset
		m.Lines[i] = l
	}
	return m
}

// At returns f with each hunk moved to its location (see Hunk.At); locs
// is what Locate returned for f.
func (f File) At(locs []Location) File {
	m := f
	m.Hunks = make([]Hunk, len(f.Hunks))
	for i := range f.Hunks {
		m.Hunks[i] = f.Hunks[i].At(locs[i])
	}
	return m
}

// first returns the hunk header's position: the line of its first
// context or deleted line, or for a hunk with none the line it inserts
// before (patch(1)'s "first" line: "@@ -5,0 ..." inserts after line 5).
func (h *Hunk) first() int {
	if h.OldLines == 0 {
		return h.OldStart + 1
	}
	return h.OldStart
}

// pattern returns the hunk's context and deleted lines (the old side), in
// order, and how many context lines come before the first change and
// after the last.
func (h *Hunk) pattern() (old []string, prefix, suffix int) {
	firstChange, lastChange := -1, -1
	for _, l := range h.Lines {
		if l.Op != Add {
			old = append(old, l.Text)
		}
	}
	n := 0
	for _, l := range h.Lines {
		if l.Op == Context {
			n++
			continue
		}
		if firstChange < 0 {
			firstChange = n
		}
		lastChange = n
	}
	if firstChange < 0 { // no change at all: context on both sides
		return old, n, n
	}
	return old, firstChange, n - lastChange
}

// sameLine compares a line of the file with one of the hunk: equal apart
// from trailing blanks (an editor's or a mail client's whitespace).
func sameLine(file, hunk string) bool {
	return strings.TrimRight(file, " \t\r") == strings.TrimRight(hunk, " \t\r")
}

// Locate finds where each of f's hunks applies to src (the file's lines,
// index 0 is line 1) the way GNU patch does: each hunk is searched for by
// its context and deleted lines, starting at its header's position moved
// by the previous hunk's offset, then one line further down, one further
// up, and so on outward, nearest first; hunks apply in order and never
// before the last line the previous hunk changed. A hunk with fewer
// context lines before its change than after it matches only at the top
// of the file (when its header says line 1), one with fewer after only at
// the end, as diff(1) writes such hunks only there. Lines are compared
// whole, apart from trailing blanks.
//
// fuzz is patch's -F: when a hunk matches nowhere, up to fuzz context
// lines at each end are left out of the comparison, one more at a time (0
// compares every line). A hunk that matches nowhere gives an *ApplyError
// naming the closest place it almost matched.
func Locate(src []string, f File, fuzz int) ([]Location, error) {
	locs := make([]Location, 0, len(f.Hunks))
	inOffset, lastFrozen := 0, 0
	for i := range f.Hunks {
		h := &f.Hunks[i]
		old, prefix, suffix := h.pattern()
		maxFuzz := min(fuzz, max(prefix, suffix))
		where, used := 0, 0
		for z := 0; z <= maxFuzz && where == 0; z++ {
			where, used = locateHunk(src, old, h.first(), h.first()+inOffset, lastFrozen, prefix, suffix, z), z
		}
		if where == 0 {
			near := nearest(src, old, h.first()+inOffset, h.first())
			if near != nil && near.Matched == near.Total {
				near.Why = whyNot(near.Line, h.first(), len(src), len(old), lastFrozen, prefix, suffix, i)
			}
			name := f.OldName // the file it is applied to
			if name == "" {
				name = f.Name()
			}
			return nil, &ApplyError{File: name, Hunk: i + 1, Header: h.Header(), Near: near}
		}
		loc := Location{Line: where, Offset: where - h.first(), Fuzz: used}
		inOffset = loc.Offset
		for _, l := range h.Lines {
			if l.Op != Context {
				lastFrozen = max(lastFrozen, l.OldLine+loc.Offset)
			}
		}
		locs = append(locs, loc)
	}
	return locs, nil
}

// locateHunk is GNU patch's locate_hunk: the line where the pattern old
// (prefix and suffix context lines around the changes) matches src with
// fuzz context lines ignored at each end, searched outward from
// firstGuess (the header's position headerFirst moved by the previous
// hunk's offset) and after the line lastFrozen; 0 when none.
func locateHunk(src, old []string, headerFirst, firstGuess, lastFrozen, prefix, suffix, fuzz int) int {
	patLines := len(old)
	context := max(prefix, suffix)
	prefixFuzz := fuzz + prefix - context
	suffixFuzz := fuzz + suffix - context
	maxWhere := len(src) - (patLines - suffixFuzz) + 1
	minWhere := lastFrozen + 1 - (prefix - prefixFuzz)
	maxPos := maxWhere - firstGuess
	maxNeg := firstGuess - minWhere
	maxOffset := max(maxPos, maxNeg)

	if patLines == 0 { // an insertion without context goes where it says
		if firstGuess > lastFrozen && firstGuess <= len(src)+1 {
			return firstGuess
		}
		return 0
	}
	if firstGuess <= maxNeg { // never a line <= 0
		maxNeg = firstGuess - 1
	}
	match := func(offset, pf, sf int) bool {
		base := firstGuess + offset + pf
		for p := pf; p < patLines-sf; p++ {
			l := base + p - pf
			if l < 1 || l > len(src) || !sameLine(src[l-1], old[p]) {
				return false
			}
		}
		return true
	}
	if prefixFuzz < 0 && headerFirst <= 1 {
		// Only the start of the file.
		if suffixFuzz < 0 && (patLines != len(src) || prefix < lastFrozen) {
			return 0 // only the whole file
		}
		offset := 1 - firstGuess
		if lastFrozen <= prefix && offset <= maxPos && match(offset, 0, max(suffixFuzz, 0)) {
			return firstGuess + offset
		}
		return 0
	} else if prefixFuzz < 0 {
		prefixFuzz = 0
	}
	if suffixFuzz < 0 {
		// Only the end of the file.
		offset := firstGuess - (len(src) - patLines + 1)
		if offset <= maxNeg && match(-offset, prefixFuzz, 0) {
			return firstGuess - offset
		}
		return 0
	}
	minOffset := 0
	switch {
	case maxPos < 0:
		minOffset = firstGuess - maxWhere
	case maxNeg < 0:
		minOffset = firstGuess - minWhere
	}
	for offset := minOffset; offset <= maxOffset; offset++ {
		if offset <= maxPos && match(offset, prefixFuzz, suffixFuzz) {
			return firstGuess + offset
		}
		if offset <= maxNeg && match(-offset, prefixFuzz, suffixFuzz) {
			return firstGuess - offset
		}
	}
	return 0
}

// whyNot says why a hunk whose lines are all at line where may not go
// there (the rules of locateHunk).
func whyNot(where, headerFirst, srcLines, patLines, lastFrozen, prefix, suffix, hunk int) string {
	switch {
	case prefix < suffix && headerFirst <= 1:
		return fmt.Sprintf("with fewer context lines before its change than after (%d, %d) it was cut at the top of the file, so it applies only at line 1, as patch(1) applies it", prefix, suffix)
	case suffix < prefix:
		return fmt.Sprintf("with fewer context lines after its change than before (%d, %d) it was cut at the end of the file, so it applies only at line %d, the end, as patch(1) applies it", suffix, prefix, srcLines-patLines+1)
	case where <= lastFrozen:
		return fmt.Sprintf("there it would overlap hunk #%d, which changes line %d: hunks apply in order, without overlapping", hunk, lastFrozen)
	}
	return "no rule of patch(1) lets it go there"
}

// nearWork bounds the line comparisons spent looking for the closest
// place of a hunk that does not apply, nearest first.
const nearWork = 1 << 24

// nearest returns the place where most of old matches src, nearest
// firstGuess among equals (below before above), or nil when src is empty.
func nearest(src, old []string, firstGuess, headerFirst int) *NearMatch {
	if len(src) == 0 || len(old) == 0 {
		return nil
	}
	last := max(len(src)-len(old)+1, 1)
	firstGuess = min(max(firstGuess, 1), last)
	var best *NearMatch
	try := func(start int) {
		m := 0
		var miss *Mismatch
		for p, want := range old {
			l := start + p
			got := ""
			if l <= len(src) {
				got = src[l-1]
			}
			if l <= len(src) && sameLine(got, want) {
				m++
			} else if miss == nil {
				miss = &Mismatch{Line: l, Want: want, Got: got}
			}
		}
		if best == nil || m > best.Matched {
			best = &NearMatch{Line: start, Offset: start - headerFirst, Matched: m, Total: len(old)}
			if miss != nil {
				best.Mismatch, best.PastEnd = *miss, miss.Line > len(src)
			}
		}
	}
	work := 0
	for d := 0; work < nearWork && (firstGuess+d <= last || firstGuess-d >= 1); d++ {
		if firstGuess+d <= last {
			try(firstGuess + d)
			work += len(old)
		}
		if d > 0 && firstGuess-d >= 1 {
			try(firstGuess - d)
			work += len(old)
		}
	}
	return best
}

// ApplyAt returns src with f's hunks applied at locs (what Locate found),
// as patch(1) writes the fixed file: the file's own lines are kept where
// the hunk has context, deleted lines are left out and added lines put in.
func ApplyAt(src []string, f File, locs []Location) ([]string, error) {
	out, _, err := applyAt(src, f, locs)
	return out, err
}

// applyAt is ApplyAt, also returning for each line of the fixed file its
// number in src (0 for an added line).
func applyAt(src []string, f File, locs []Location) (out []string, origin []int, err error) {
	if len(locs) != len(f.Hunks) {
		return nil, nil, fmt.Errorf("%s: %d locations for %d hunks", f.Name(), len(locs), len(f.Hunks))
	}
	out = make([]string, 0, len(src))
	origin = make([]int, 0, len(src))
	frozen := 0 // lines of src consumed
	copyTill := func(i, n int) error {
		if n < frozen || n > len(src) {
			return fmt.Errorf("%s: hunk #%d (%s) at line %d: misordered or past the end of the file (%d lines)",
				f.Name(), i+1, f.Hunks[i].Header(), locs[i].Line, len(src))
		}
		out = append(out, src[frozen:n]...)
		for k := frozen; k < n; k++ {
			origin = append(origin, k+1)
		}
		frozen = n
		return nil
	}
	for i := range f.Hunks {
		off := locs[i].Offset
		for _, l := range f.Hunks[i].Lines {
			switch l.Op {
			case Delete:
				if err := copyTill(i, l.OldLine+off-1); err != nil {
					return nil, nil, err
				}
				if frozen >= len(src) {
					return nil, nil, copyTill(i, len(src)+1)
				}
				frozen++
			case Add:
				if err := copyTill(i, l.OldLine+off); err != nil {
					return nil, nil, err
				}
				out = append(out, l.Text)
				origin = append(origin, 0)
			}
		}
	}
	for k := frozen; k < len(src); k++ {
		out = append(out, src[k])
		origin = append(origin, k+1)
	}
	return out, origin, nil
}
