package ipadump

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/bits"

	"github.com/klp-audit/klp-audit/internal/safeio"
)

// A query about one function needs only the dumps that name it: the
// scan below finds them at memory speed, without parsing, and checks the
// lines of the others with no more work than finding their field
// separators, so that a dump left unparsed is still known to hold only
// well-formed records (and how many).

// NameNeedle returns the bytes that every dump line naming the function
// name as ORIG or CLONE holds: the name as a whole field, ";name;".
// Names are never the first or last field of a line, and a field never
// holds a ';'.
func NameNeedle(name string) []byte {
	b := make([]byte, 0, len(name)+2)
	b = append(b, ';')
	b = append(b, name...)
	return append(b, ';')
}

// Scan is what ScanDump found in one dump.
type Scan struct {
	// Found[i] says the dump holds needles[i].
	Found []bool
	// Clean says that every line of the dump is a clone line of the
	// 12-field form or a removal line, with non-empty names and numbers
	// where numbers belong, ending in a newline: the Reader reads each as
	// a record without error. Records, Clones and Removals count them
	// then. When Clean is false the dump holds something else (a bad
	// line, a blank one, the 14-field form, a line without its newline):
	// read it with the Reader, which says what.
	Clean                     bool
	Records, Clones, Removals int
	// Data holds the whole dump when it fitted in one buffer (see
	// ScanDump); nil otherwise.
	Data []byte
}

// scanChunk is how much of a dump ScanDump holds at once: most unit dumps
// fit whole (the largest of a kernel's are a few MiB); LTO whole-program
// dumps are read piece by piece.
var scanChunk = 8 << 20 // a variable for the tests

// ScanDump reads the dump at path through buf (grown to at most about
// 8 MiB and returned for the next call) and reports which needles it
// holds and whether its lines are clean (see Scan). A needle must not
// hold a newline: dumps are searched line by line. Any error opening or
// reading the file is returned as is; read the dump with the Reader then,
// which reports it in its own words.
func ScanDump(path string, needles [][]byte, buf []byte) (Scan, []byte, error) {
	f, err := safeio.OpenRaw(path, MaxDumpSize) // OpenDump's checks
	if err != nil {
		return Scan{Found: make([]bool, len(needles))}, buf, err
	}
	defer f.Close()
	return ScanFile(f, needles, buf)
}

// ScanFile is ScanDump of the dump open as f (safeio.OpenRaw's or
// Dir.Open's, with MaxDumpSize): it leaves f open.
func ScanFile(f *safeio.RawFile, needles [][]byte, buf []byte) (Scan, []byte, error) {
	s := Scan{Found: make([]bool, len(needles)), Clean: true}
	if need := int(min(f.Size, int64(scanChunk))); cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	m := newMatcher(needles, s.Found)
	carry := 0 // bytes of an incomplete line kept at the start of buf
	var total int64
	for {
		n, err := f.ReadAt(buf[carry:cap(buf)], total)
		total += int64(n)
		data := buf[:carry+n]
		end := err == io.EOF
		if err != nil && !end {
			return s, buf, err
		}
		if !end && total == f.Size {
			// Exactly full: the next read would say EOF.
			end = true
		}
		lines := data
		if !end {
			i := bytes.LastIndexByte(data, '\n')
			if i < 0 {
				// One line fills the buffer: longer than MaxLineLen.
				s.Clean = false
				lines = data
				carry = 0
			} else {
				lines = data[:i+1]
			}
		}
		if s.Clean {
			c, r, ok := checkFind(lines, m)
			s.Clones += c
			s.Removals += r
			s.Clean = ok
		}
		if !s.Clean || m == nil {
			// The lines from a bad one on were not searched: search
			// them all.
			for k, nd := range needles {
				if !s.Found[k] && bytes.Contains(lines, nd) {
					s.Found[k] = true
				}
			}
		}
		if end {
			if total == int64(len(data)) {
				s.Data = data
			}
			break
		}
		if len(lines) < len(data) {
			carry = copy(buf[:cap(buf)], data[len(lines):])
		} else {
			carry = 0
		}
	}
	if total != f.Size {
		// The file shrank while it was read: let the Reader say so.
		s.Clean = false
	}
	if s.Clean {
		s.Records = s.Clones + s.Removals
	} else {
		s.Clones, s.Removals = 0, 0
	}
	return s, buf, nil
}

// CheckLines reports whether every line of data is plainly a record (see
// Scan.Clean), and how many clone and removal lines it holds. data must
// be empty or end in a newline for ok. It errs on the side of false: a
// line the Reader would accept in a form this check does not know (a
// CRLF removal line, a blank line, the 14-field form) makes it false.
func CheckLines(data []byte) (clones, removals int, ok bool) {
	return checkFind(data, nil)
}

// A matcher finds names as whole fields of the lines checkFind checks.
type matcher struct {
	names []string
	found []bool
	// digits says a name is a number of 1 to 9 digits: the ORDER, LINE
	// and COL fields may then be one.
	digits bool
	// lens has bit n set when a name is n bytes long (n < 64), bit 63
	// also for the longer names: most fields are no name's length.
	lens uint64
}

// mayBe reports whether a field of n bytes may be one of the names.
func (m *matcher) mayBe(n int) bool {
	return m.lens&(1<<min(n, 63)) != 0
}

// newMatcher returns a matcher of the needles (";name;") when a
// whole-field comparison finds exactly what a byte search for them
// finds: names that are not empty and hold no ';' or newline; nil
// otherwise.
func newMatcher(needles [][]byte, found []bool) *matcher {
	m := &matcher{names: make([]string, len(needles)), found: found}
	for i, n := range needles {
		if len(n) < 3 || n[0] != ';' || n[len(n)-1] != ';' || bytes.IndexByte(n[1:len(n)-1], ';') >= 0 || bytes.IndexByte(n, '\n') >= 0 {
			return nil
		}
		m.names[i] = string(n[1 : len(n)-1])
		m.lens |= 1 << min(len(n)-2, 63)
		if plainNumber(n[:len(n)-1]) != nil {
			m.digits = true
		}
	}
	return m
}

// mark marks the names equal to field f.
func (m *matcher) mark(f []byte) {
	for i, name := range m.names {
		if len(f) == len(name) && string(f) == name {
			m.found[i] = true
		}
	}
}

// checkFind is CheckLines that also marks, with m (nil: none), the names
// that a field of a line equals, but for the line's first and last
// field: the lines that hold ";name;". Once a line is not plainly a
// record (ok false), the names marked say nothing of the lines from it
// on.
func checkFind(data []byte, m *matcher) (clones, removals int, ok bool) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 || i >= MaxLineLen/2 {
			return 0, 0, false
		}
		line := data[:i]
		data = data[i+1:]
		switch {
		case len(line) > len(clonePrefix) && string(line[:len(clonePrefix)]) == clonePrefix:
			// ORIG's fields, CLONE's, then ";SUFFIX", which may be
			// anything without a ';'.
			line = plainDecl(line[len(clonePrefix)-1:], m)
			line = plainDecl(line, m)
			if len(line) == 0 || bytes.IndexByte(line[1:], ';') >= 0 {
				return 0, 0, false
			}
			clones++
		case len(line) > len(removalPrefix) && string(line[:len(removalPrefix)]) == removalPrefix:
			line = plainDecl(line[len(removalPrefix)-1:], m)
			if line == nil || len(line) != 0 {
				return 0, 0, false
			}
			removals++
		default:
			return 0, 0, false
		}
	}
	return clones, removals, true
}

// plainDecl checks the five fields ;NAME;ORDER;FILE;LINE;COL at the start
// of b as Reader.decl reads them (a name, numbers of 1 to 9 digits) and
// returns the rest of b: from the ';' after COL, or empty at the end of
// the line. It returns nil when they are not plainly so (or b is nil).
// With m, it marks the names its fields equal (COL only when a ';'
// follows it).
func plainDecl(b []byte, m *matcher) []byte {
	if len(b) < 2 {
		return nil
	}
	j := bytes.IndexByte(b[1:], ';') // NAME
	if j <= 0 {
		return nil
	}
	if m != nil && m.mayBe(j) {
		m.mark(b[1 : 1+j])
	}
	b = b[1+j:]
	b = plainNumberMark(b, m) // ORDER, not the last field
	if len(b) == 0 {
		return nil
	}
	j = bytes.IndexByte(b[1:], ';') // FILE, anything
	if j < 0 {
		return nil
	}
	if m != nil && m.mayBe(j) {
		m.mark(b[1 : 1+j])
	}
	b = b[1+j:]
	if b = plainNumberMark(b, m); len(b) == 0 { // LINE
		return nil
	}
	rest := plainNumber(b) // COL
	if m != nil && m.digits && len(rest) > 0 {
		m.mark(b[1 : len(b)-len(rest)])
	}
	return rest
}

// plainNumberMark is plainNumber that marks with m the names the number
// equals.
func plainNumberMark(b []byte, m *matcher) []byte {
	rest := plainNumber(b)
	if m != nil && m.digits && len(rest) > 0 {
		m.mark(b[1 : len(b)-len(rest)])
	}
	return rest
}

// plainNumber checks ";DIGITS" (1 to 9 digits, what atoi takes) at the
// start of b, followed by ';' or the end, and returns the rest from that
// ';' (empty at the end); nil when it is not so.
func plainNumber(b []byte) []byte {
	var k int
	if len(b) >= 9 {
		// The digits of the eight bytes after the ';' at once: the
		// first byte that is no digit ends the number.
		k = 1 + nonDigit(binary.LittleEndian.Uint64(b[1:]))
		if k == 9 && len(b) > 9 && b[9]-'0' <= 9 {
			k = 10
		}
	} else {
		k = 1
		for k < len(b) && b[k]-'0' <= 9 {
			k++
		}
	}
	if k == 1 || k > 10 || k < len(b) && b[k] != ';' {
		return nil
	}
	return b[k:]
}

// nonDigit returns the index of the first of the eight bytes of v (in
// memory order, read little-endian) that is no ASCII digit; 8 when all
// are.
func nonDigit(v uint64) int {
	const hi, lo7 = 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	above := (v&lo7 + 0x4646464646464646) & hi         // low 7 bits >= '9'+1
	below := ^((v&lo7 | hi) - 0x3030303030303030) & hi // low 7 bits < '0'
	return bits.TrailingZeros64(above|below|v&hi) / 8
}
