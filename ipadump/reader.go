package ipadump

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"path"
	"slices"
	"strings"
)

// MaxLineLen is the longest line the Reader accepts. Real lines are a few
// hundred bytes (long C++ names reach a few KiB); anything longer is
// reported with ErrLineTooLong and skipped without buffering it whole.
const MaxLineLen = 64 << 10

const (
	clonePrefix   = "Callgraph clone;"
	removalPrefix = "Callgraph removal;"
	maxTextLen    = 120 // how much of a bad line an error quotes
)

// Reader streams the records of one dump.
type Reader struct {
	br     *bufio.Reader
	dump   string
	line   int
	strip  []string
	intern *Interner
	done   bool
	fields [14][]byte
}

// NewReader returns a Reader of the dump read from r; dump names it in
// positions and errors.
func NewReader(r io.Reader, dump string) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, MaxLineLen), dump: dump, intern: NewInterner()}
}

// Reset makes r read a new dump from src, keeping its buffer, interner
// and strip prefixes: one Reader can serve many dumps without reallocating.
func (r *Reader) Reset(src io.Reader, dump string) {
	r.br.Reset(src)
	r.dump, r.line, r.done = dump, 0, false
}

// StripPrefixes makes the reader remove the first matching prefix (an
// absolute build directory, say) from every declaration file.
func (r *Reader) StripPrefixes(prefixes []string) { r.strip = prefixes }

// ShareInterner makes the reader share names and paths with other readers,
// so that a whole build holds each distinct string once.
func (r *Reader) ShareInterner(in *Interner) { r.intern = in }

// Next returns the next record. At the end of the dump it returns io.EOF. A
// malformed line gives a *ParseError, and the following call carries on with
// the next line; any other error (an I/O error) is final.
func (r *Reader) Next() (Record, error) {
	for !r.done {
		raw, err := r.readLine()
		if err != nil {
			return Record{}, err
		}
		if raw == nil {
			continue
		}
		line := bytes.TrimRight(raw, "\r\n")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if raw[len(raw)-1] != '\n' {
			// Only the last line can lack its newline.
			return Record{}, r.errorf(line, ErrTruncated, "a complete line ending in a newline")
		}
		return r.parse(line)
	}
	return Record{}, io.EOF
}

// readLine returns the next line including its newline, nil for a line that
// was skipped and already reported, or an error.
func (r *Reader) readLine() ([]byte, error) {
	raw, err := r.br.ReadSlice('\n')
	switch {
	case err == nil:
		r.line++
		return raw, nil
	case errors.Is(err, bufio.ErrBufferFull):
		r.line++
		head := string(raw[:maxTextLen])
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.br.ReadSlice('\n')
		}
		if err == io.EOF {
			r.done = true
		} else if err != nil {
			r.line-- // ioError names the line being read: this one
			return nil, r.ioError(err)
		}
		return nil, &ParseError{Dump: r.dump, Line: r.line, Text: head + "...", Err: ErrLineTooLong,
			Want: "a line shorter than 64 KiB"}
	case err == io.EOF:
		r.done = true
		if len(raw) == 0 {
			return nil, io.EOF
		}
		r.line++
		return raw, nil
	default:
		return nil, r.ioError(err)
	}
}

func (r *Reader) ioError(err error) error {
	r.done = true
	return &ParseError{Dump: r.dump, Line: r.line + 1, Err: err, Want: "a readable file"}
}

func (r *Reader) errorf(line []byte, err error, want string) error {
	text := string(line)
	if len(text) > maxTextLen {
		text = text[:maxTextLen] + "..."
	}
	return &ParseError{Dump: r.dump, Line: r.line, Text: text, Err: err, Want: want}
}

const (
	want12 = "Callgraph clone;ORIG;ORDER;FILE;LINE;COL;CLONE;ORDER;FILE;LINE;COL;SUFFIX"
	want6  = "Callgraph removal;NAME;ORDER;FILE;LINE;COL"
)

func (r *Reader) parse(line []byte) (Record, error) {
	rec := Record{Pos: Pos{Dump: r.dump, Line: r.line}}
	var body []byte
	switch {
	case bytes.HasPrefix(line, []byte(clonePrefix)):
		rec.Kind = Clone
		body = line[len(clonePrefix):]
	case bytes.HasPrefix(line, []byte(removalPrefix)):
		rec.Kind = Removal
		body = line[len(removalPrefix):]
	default:
		return Record{}, r.errorf(line, ErrUnknownLine, want12+" or "+want6)
	}
	n := r.split(body)
	var err error
	switch {
	case rec.Kind == Removal && n == 5:
		err = r.decl(&rec.Orig, 0)
	case rec.Kind == Clone && n == 11:
		if err = r.decl(&rec.Orig, 0); err == nil {
			err = r.decl(&rec.Clone, 5)
		}
		r.suffix(&rec, r.fields[10])
	case rec.Kind == Clone && n == 13 && string(r.fields[5]) == "<-" && string(r.fields[11]) == "optimization:":
		if err = r.decl(&rec.Orig, 0); err == nil {
			err = r.decl(&rec.Clone, 6)
		}
		r.suffix(&rec, r.fields[12])
	default:
		want := want12 + " (or the older 14-field form)"
		if rec.Kind == Removal {
			want = want6
		}
		return Record{}, r.errorf(line, ErrFieldCount, want)
	}
	if err != nil {
		want := want12
		if rec.Kind == Removal {
			want = want6
		}
		return Record{}, r.errorf(line, err, want)
	}
	return rec, nil
}

// split cuts body at ';' into r.fields and returns the number of fields, or
// len(r.fields)+1 when there are more than fit.
func (r *Reader) split(body []byte) int {
	n := 0
	for {
		if n == len(r.fields) {
			return n + 1
		}
		i := bytes.IndexByte(body, ';')
		if i < 0 {
			r.fields[n] = body
			return n + 1
		}
		r.fields[n] = body[:i]
		body = body[i+1:]
		n++
	}
}

func (r *Reader) decl(d *Decl, at int) error {
	f := r.fields[at : at+5]
	if len(f[0]) == 0 {
		return ErrEmptyName
	}
	var ok1, ok2, ok3 bool
	d.Order, ok1 = atoi(f[1])
	d.Line, ok2 = atoi(f[3])
	d.Col, ok3 = atoi(f[4])
	if !ok1 || !ok2 || !ok3 {
		return ErrNumber
	}
	d.Name = r.intern.Bytes(f[0])
	d.File = r.intern.Path(f[2], r.strip)
	return nil
}

func (r *Reader) suffix(rec *Record, s []byte) {
	rec.Transform = transformOf(s)
	if rec.Transform == Unknown {
		rec.Suffix = r.intern.Bytes(s)
	}
}

func transformOf(s []byte) Transform {
	switch string(s) { // no allocation: the compiler optimises string(s) in a switch
	case "inlining to":
		return Inline
	case "constprop":
		return ConstProp
	case "isra":
		return ISRA
	case "part":
		return Part
	case "simdclone":
		return SimdClone
	case "(null)":
		return Null
	}
	return Unknown
}

// atoi parses a non-negative decimal number of at most 9 digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// Interner keeps one copy of each distinct name and normalised path. It is
// not safe for concurrent use.
type Interner struct {
	names map[string]string
	// paths maps a raw declaration file to its normalised form under the
	// strip prefixes pathsFor; other prefix lists keep theirs in byStrip.
	paths    map[string]string
	pathsFor []string
	byStrip  map[string]map[string]string
}

// NewInterner returns an empty Interner.
func NewInterner() *Interner {
	return &Interner{names: make(map[string]string), paths: make(map[string]string)}
}

// Bytes returns the interned string equal to b.
func (in *Interner) Bytes(b []byte) string {
	if s, ok := in.names[string(b)]; ok {
		return s
	}
	s := string(b)
	in.names[s] = s
	return s
}

// Path returns the interned, normalised form of the raw path b with the
// first matching prefix in strip removed (see [NormalizePath]).
func (in *Interner) Path(b []byte, strip []string) string {
	if !slices.Equal(strip, in.pathsFor) {
		in.usePrefixes(strip)
	}
	if s, ok := in.paths[string(b)]; ok {
		return s
	}
	raw := string(b)
	s := in.Bytes([]byte(NormalizePath(raw, strip)))
	in.paths[raw] = s
	return s
}

// usePrefixes switches the path cache to the one for strip: the same raw
// path normalises differently under different prefixes, so readers that
// share an Interner but strip different build directories must not share
// the cache.
func (in *Interner) usePrefixes(strip []string) {
	if in.byStrip == nil {
		in.byStrip = make(map[string]map[string]string)
	}
	in.byStrip[prefixKey(in.pathsFor)] = in.paths
	key := prefixKey(strip)
	in.paths = in.byStrip[key]
	if in.paths == nil {
		in.paths = make(map[string]string)
		in.byStrip[key] = in.paths
	}
	in.pathsFor = slices.Clone(strip)
}

// prefixKey encodes a prefix list as a map key; NUL cannot occur in paths.
func prefixKey(strip []string) string {
	var b strings.Builder
	for _, p := range strip {
		b.WriteString(p)
		b.WriteByte(0)
	}
	return b.String()
}

// NormalizePath returns the canonical spelling of a declaration file:
// cleaned, so "./include/x.h" and "include/x.h" are one file, and with the
// first matching prefix in strip removed (an absolute build directory, say).
// Paths outside every prefix stay as they are.
func NormalizePath(p string, strip []string) string {
	if p == "" {
		return p
	}
	p = path.Clean(p)
	for _, pre := range strip {
		pre = path.Clean(pre)
		if pre == "." || pre == "/" {
			continue
		}
		if rest, ok := strings.CutPrefix(p, pre+"/"); ok {
			return rest
		}
	}
	return p
}
