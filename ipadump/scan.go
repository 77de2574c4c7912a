package ipadump

import (
	"bytes"
	"errors"
	"io"
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
	s := Scan{Found: make([]bool, len(needles)), Clean: true}
	f, err := OpenDump(path)
	if err != nil {
		return s, buf, err
	}
	defer f.Close()
	if need := int(min(f.Size, int64(scanChunk))); cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	r := f.Reader()
	carry := 0 // bytes of an incomplete line kept at the start of buf
	var total int64
	for {
		n, err := io.ReadFull(r, buf[carry:cap(buf)])
		total += int64(n)
		data := buf[:carry+n]
		end := err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)
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
		for k, nd := range needles {
			if !s.Found[k] && bytes.Contains(lines, nd) {
				s.Found[k] = true
			}
		}
		if s.Clean {
			c, r, ok := CheckLines(lines)
			s.Clones += c
			s.Removals += r
			s.Clean = ok
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
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 || i >= MaxLineLen/2 {
			return 0, 0, false
		}
		line := data[:i]
		data = data[i+1:]
		switch {
		case bytes.HasPrefix(line, []byte(clonePrefix)):
			// ORIG's fields, CLONE's, then ";SUFFIX", which may be
			// anything without a ';'.
			for range 2 {
				if !plainDecl(&line) {
					return 0, 0, false
				}
			}
			if len(line) == 0 || bytes.IndexByte(line[1:], ';') >= 0 {
				return 0, 0, false
			}
			clones++
		case bytes.HasPrefix(line, []byte(removalPrefix)):
			line = line[len(removalPrefix)-1:]
			if !plainDecl(&line) || len(line) != 0 {
				return 0, 0, false
			}
			removals++
		default:
			return 0, 0, false
		}
	}
	return clones, removals, true
}

// plainDecl checks the five fields NAME;ORDER;FILE;LINE;COL that follow
// the ';' at the start of *line, as Reader.decl reads them, and moves
// *line past them: to the ';' that follows (a clone line's next field),
// or to the end (a removal line).
func plainDecl(line *[]byte) bool {
	b := *line
	if len(b) == 0 || b[0] != ';' {
		// A clone line's first declaration follows "Callgraph clone;".
		if !bytes.HasPrefix(b, []byte(clonePrefix)) {
			return false
		}
		b = b[len(clonePrefix)-1:]
	}
	var f [5][]byte
	for k := range f {
		b = b[1:] // the ';' before the field
		j := bytes.IndexByte(b, ';')
		if j < 0 {
			if k != len(f)-1 {
				return false
			}
			j = len(b)
		}
		f[k], b = b[:j], b[j:]
	}
	if len(f[0]) == 0 {
		return false
	}
	for _, n := range [...][]byte{f[1], f[3], f[4]} {
		if _, ok := atoi(n); !ok {
			return false
		}
	}
	*line = b
	return true
}
