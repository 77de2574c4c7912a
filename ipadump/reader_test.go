package ipadump

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

var update = flag.Bool("update", false, "rewrite the .records goldens under testdata/dumps")

const (
	dumpsDir  = "../testdata/dumps"
	goldenDir = dumpsDir + "/gcc-12.2"
	badDir    = dumpsDir + "/bad"
	fixDir    = "../testdata/fixtures"
	testDump  = "t.c.000i.ipa-clones"
)

// event is one result of Reader.Next: a record or an error.
type event struct {
	rec Record
	err error
}

// readEvents calls Next until io.EOF and returns every record and error. It
// fails the test if the reader does not reach io.EOF within limit calls.
func readEvents(t testing.TB, r *Reader, limit int) []event {
	t.Helper()
	var evs []event
	for i := 0; ; i++ {
		if i > limit {
			t.Fatalf("no io.EOF after %d calls of Next", limit)
		}
		rec, err := r.Next()
		if err == io.EOF {
			return evs
		}
		evs = append(evs, event{rec, err})
	}
}

func readString(t testing.TB, in string, strip ...string) []event {
	t.Helper()
	r := NewReader(strings.NewReader(in), testDump)
	if strip != nil {
		r.StripPrefixes(strip)
	}
	return readEvents(t, r, strings.Count(in, "\n")+2)
}

// readOne parses in, which must hold exactly one good record.
func readOne(t *testing.T, in string, strip ...string) Record {
	t.Helper()
	evs := readString(t, in, strip...)
	if len(evs) != 1 || evs[0].err != nil {
		t.Fatalf("input %q: got %s, want one record", in, renderEvents(evs))
	}
	return evs[0].rec
}

func decl(name string, order int, file string, line, col int) Decl {
	return Decl{Name: name, Order: order, File: file, Line: line, Col: col}
}

func TestReaderLineForms(t *testing.T) {
	pos := Pos{Dump: testDump, Line: 1}
	tests := []struct {
		name string
		in   string
		want Record
	}{
		{
			name: "clone 12 fields",
			in:   "Callgraph clone;big;3;clones.c;19;38;big.constprop.0;27;clones.c;19;38;constprop\n",
			want: Record{Kind: Clone, Orig: decl("big", 3, "clones.c", 19, 38),
				Clone: decl("big.constprop.0", 27, "clones.c", 19, 38), Transform: ConstProp, Pos: pos},
		},
		{
			name: "removal 6 fields",
			in:   "Callgraph removal;add1;1;clones.c;15;12\n",
			want: Record{Kind: Removal, Orig: decl("add1", 1, "clones.c", 15, 12), Pos: pos},
		},
		{
			name: "clone 14 fields old form",
			in:   "Callgraph clone;leafy;7;./include/linux/x.h;34;38;<-;leafy.isra.0;26;./include/linux/x.h;35;9;optimization:;isra\n",
			want: Record{Kind: Clone, Orig: decl("leafy", 7, "include/linux/x.h", 34, 38),
				Clone: decl("leafy.isra.0", 26, "include/linux/x.h", 35, 9), Transform: ISRA, Pos: pos},
		},
		{
			name: "clone 14 fields old form inlining",
			in:   "Callgraph clone;add1;1;a.c;15;12;<-;use_add;2;a.c;16;5;optimization:;inlining to\n",
			want: Record{Kind: Clone, Orig: decl("add1", 1, "a.c", 15, 12),
				Clone: decl("use_add", 2, "a.c", 16, 5), Transform: Inline, Pos: pos},
		},
		{
			name: "mangled C++ names and zero numbers",
			in:   "Callgraph clone;_ZN1A1fEi;0;a.cc;0;0;_ZN1A1fEi.part.0;123456789;a.cc;1;2;part\n",
			want: Record{Kind: Clone, Orig: decl("_ZN1A1fEi", 0, "a.cc", 0, 0),
				Clone: decl("_ZN1A1fEi.part.0", 123456789, "a.cc", 1, 2), Transform: Part, Pos: pos},
		},
		{
			name: "trailing blank line",
			in:   "Callgraph removal;x;5;b.c;1;1\n\n",
			want: Record{Kind: Removal, Orig: decl("x", 5, "b.c", 1, 1), Pos: pos},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readOne(t, tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("input %q\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestReaderSuffixes(t *testing.T) {
	tests := []struct {
		suffix     string
		want       Transform
		wantSuffix string
		changesABI bool
	}{
		{"inlining to", Inline, "", false},
		{"constprop", ConstProp, "", true},
		{"isra", ISRA, "", true},
		{"part", Part, "", true},
		{"simdclone", SimdClone, "", true},
		{"(null)", Null, "", false},
		{"foo", Unknown, "foo", true},
		{"lto_priv", Unknown, "lto_priv", true},
		{"Inlining to", Unknown, "Inlining to", true},
		{"inlining to ", Unknown, "inlining to ", true},
	}
	for _, tt := range tests {
		t.Run(tt.suffix, func(t *testing.T) {
			in := "Callgraph clone;f;1;s.c;1;5;g;2;s.c;2;5;" + tt.suffix + "\n"
			got := readOne(t, in)
			if got.Kind != Clone || got.Transform != tt.want || got.Suffix != tt.wantSuffix {
				t.Errorf("input %q: got kind %v transform %v suffix %q, want clone %v %q",
					in, got.Kind, got.Transform, got.Suffix, tt.want, tt.wantSuffix)
			}
			if got.Orig.Name != "f" || got.Clone.Name != "g" {
				t.Errorf("input %q: got orig %q clone %q, want f and g", in, got.Orig.Name, got.Clone.Name)
			}
			if p := ParseTransform(tt.suffix); p != tt.want {
				t.Errorf("ParseTransform(%q) = %v, want %v", tt.suffix, p, tt.want)
			}
			if c := tt.want.ChangesABI(); c != tt.changesABI {
				t.Errorf("%v.ChangesABI() = %v, want %v", tt.want, c, tt.changesABI)
			}
			if tt.want != Unknown && tt.want.String() != tt.suffix {
				t.Errorf("%v.String() = %q, want %q", tt.want, tt.want.String(), tt.suffix)
			}
		})
	}
}

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		strip []string
		want  string
	}{
		{"dot prefix", "./include/x.h", nil, "include/x.h"},
		{"plain", "include/x.h", nil, "include/x.h"},
		{"double slash and dot", "include//linux/./x.h", nil, "include/linux/x.h"},
		{"dotdot kept", "../include/x.h", nil, "../include/x.h"},
		{"empty", "", nil, ""},
		{"absolute kept", "/usr/include/stdio.h", nil, "/usr/include/stdio.h"},
		{"strip build dir", "/home/u/linux/include/x.h", []string{"/home/u/linux"}, "include/x.h"},
		{"strip with trailing slash", "/home/u/linux/mm/oom_kill.c", []string{"/home/u/linux/"}, "mm/oom_kill.c"},
		{"strip first match", "/b/linux/x.c", []string{"/a", "/b/linux", "/b"}, "x.c"},
		{"strip only at component", "/home/u/linux2/x.c", []string{"/home/u/linux"}, "/home/u/linux2/x.c"},
		{"outside prefix", "/usr/include/stdio.h", []string{"/home/u/linux"}, "/usr/include/stdio.h"},
		{"root and dot prefixes ignored", "/a/x.c", []string{"/", ".", ""}, "/a/x.c"},
		{"strip after clean", "/home/u/linux/./include/../include/x.h", []string{"/home/u/linux"}, "include/x.h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NormalizePath(tt.in, tt.strip); got != tt.want {
				t.Errorf("NormalizePath(%q, %q) = %q, want %q", tt.in, tt.strip, got, tt.want)
			}
		})
	}
}

func TestReaderNormalisesPaths(t *testing.T) {
	const in = "Callgraph clone;percpu_ref_put_many;10;./include/linux/percpu-refcount.h;331;20;css_put;11;include/linux/cgroup.h;402;20;inlining to\n" +
		"Callgraph clone;css_put;11;/build/linux/include/linux/cgroup.h;402;20;f;12;/build/linux/./kernel/cgroup/cgroup.c;9;5;inlining to\n" +
		"Callgraph removal;g;13;/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h;1;1\n"
	evs := readString(t, in, "/build/linux")
	if len(evs) != 3 {
		t.Fatalf("got %s, want 3 records", renderEvents(evs))
	}
	var got []string
	for _, ev := range evs {
		if ev.err != nil {
			t.Fatalf("line %d: unexpected error %v", ev.rec.Pos.Line, ev.err)
		}
		got = append(got, ev.rec.Orig.File, ev.rec.Clone.File)
	}
	want := []string{
		"include/linux/percpu-refcount.h", "include/linux/cgroup.h",
		"include/linux/cgroup.h", "kernel/cgroup/cgroup.c",
		"/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h", "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("files:\n got %q\nwant %q", got, want)
	}
	// "./include/linux/cgroup.h" and "include/linux/cgroup.h" are one file,
	// and the reader's interner holds it once.
	if evs[0].rec.Clone.File != evs[1].rec.Orig.File {
		t.Errorf("%q and %q differ", evs[0].rec.Clone.File, evs[1].rec.Orig.File)
	}
}

// TestInternerStripPerReader checks that readers sharing an Interner but
// stripping different prefixes each get their own normalisation of the same
// raw path.
func TestInternerStripPerReader(t *testing.T) {
	const line = "Callgraph removal;f;1;/build/a/include/x.h;1;1\n"
	in := NewInterner()
	read := func(strip []string) string {
		r := NewReader(strings.NewReader(line), testDump)
		r.ShareInterner(in)
		r.StripPrefixes(strip)
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("strip %q: %v", strip, err)
		}
		return rec.Orig.File
	}
	for _, tt := range []struct {
		strip []string
		want  string
	}{
		{nil, "/build/a/include/x.h"},
		{[]string{"/build/a"}, "include/x.h"},
		{[]string{"/build"}, "a/include/x.h"},
		{nil, "/build/a/include/x.h"},
		{[]string{"/build/a"}, "include/x.h"},
	} {
		if got := read(tt.strip); got != tt.want {
			t.Errorf("shared interner, strip %q: got %q, want %q", tt.strip, got, tt.want)
		}
	}
	// The same reader changing its prefixes between records.
	r := NewReader(strings.NewReader(line+line), testDump)
	r.ShareInterner(in)
	rec1, err1 := r.Next()
	r.StripPrefixes([]string{"/build/a"})
	rec2, err2 := r.Next()
	if err1 != nil || err2 != nil {
		t.Fatalf("errors %v, %v", err1, err2)
	}
	if rec1.Orig.File != "/build/a/include/x.h" || rec2.Orig.File != "include/x.h" {
		t.Errorf("StripPrefixes between records: got %q then %q, want %q then %q",
			rec1.Orig.File, rec2.Orig.File, "/build/a/include/x.h", "include/x.h")
	}
}

func TestInternerSharesStrings(t *testing.T) {
	in := NewInterner()
	a := in.Bytes([]byte("percpu_ref_put_many"))
	b := in.Bytes([]byte("percpu_ref_put_many"))
	if a != b || len(in.names) != 1 {
		t.Errorf("Bytes twice: %q %q, %d names, want one", a, b, len(in.names))
	}
	p1 := in.Path([]byte("./include/x.h"), nil)
	p2 := in.Path([]byte("include/x.h"), nil)
	if p1 != "include/x.h" || p2 != p1 {
		t.Errorf("Path: %q %q, want include/x.h twice", p1, p2)
	}
	if n := len(in.names); n != 2 {
		t.Errorf("interner holds %d distinct strings, want 2", n)
	}
}

func TestReaderCRLFAndBlankLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // rendered records
	}{
		{
			name: "crlf",
			in:   "Callgraph clone;a;1;x.c;1;2;b;3;x.c;4;5;part\r\nCallgraph removal;a;1;./x.c;1;2\r\n",
			want: []string{"1: clone part a#1@x.c:1:2 -> b#3@x.c:4:5", "2: removal a#1@x.c:1:2"},
		},
		{
			name: "crlf suffix with blank crlf line",
			in:   "\r\nCallgraph clone;a;1;x.c;1;2;b;3;x.c;4;5;inlining to\r\n\r\n",
			want: []string{"2: clone inlining to a#1@x.c:1:2 -> b#3@x.c:4:5"},
		},
		{
			name: "blank and whitespace lines",
			in:   "\n\nCallgraph removal;a;1;x.c;1;2\n  \n\t\n\nCallgraph removal;b;2;x.c;3;4\n\n",
			want: []string{"3: removal a#1@x.c:1:2", "7: removal b#2@x.c:3:4"},
		},
		{
			name: "empty input",
			in:   "",
			want: nil,
		},
		{
			name: "only blank lines",
			in:   "\n \n\r\n",
			want: nil,
		},
		{
			name: "blank last line without newline",
			in:   "Callgraph removal;a;1;x.c;1;2\n   ",
			want: []string{"1: removal a#1@x.c:1:2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, ev := range readString(t, tt.in) {
				got = append(got, renderEvent(ev))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("input %q\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// want is one expected result of Next.
type want struct {
	line int
	err  error  // sentinel; nil for a record
	text string // ParseError.Text, or the record's Orig name
}

func checkEvents(t *testing.T, in string, evs []event, wants []want) {
	t.Helper()
	if len(evs) != len(wants) {
		t.Fatalf("input %q\n got %s\nwant %d results", in, renderEvents(evs), len(wants))
	}
	for i, w := range wants {
		ev := evs[i]
		if w.err == nil {
			if ev.err != nil {
				t.Errorf("result %d: got error %v, want record at line %d", i, ev.err, w.line)
				continue
			}
			if ev.rec.Pos.Line != w.line || ev.rec.Orig.Name != w.text {
				t.Errorf("result %d: got record %s, want line %d orig %q", i, renderEvent(ev), w.line, w.text)
			}
			continue
		}
		var pe *ParseError
		if !errors.As(ev.err, &pe) {
			t.Errorf("result %d: got %s, want *ParseError %v at line %d", i, renderEvent(ev), w.err, w.line)
			continue
		}
		if !errors.Is(ev.err, w.err) || pe.Line != w.line || pe.Text != w.text || pe.Dump != testDump {
			t.Errorf("result %d:\n got %s:%d %v text %q\nwant %s:%d %v text %q",
				i, pe.Dump, pe.Line, pe.Err, pe.Text, testDump, w.line, w.err, w.text)
		}
		if pe.Want == "" {
			t.Errorf("result %d: ParseError.Want is empty", i)
		}
		if !strings.HasPrefix(pe.Error(), fmt.Sprintf("%s:%d: ", testDump, w.line)) {
			t.Errorf("result %d: message %q does not start with dump:line:", i, pe.Error())
		}
	}
}

func TestReaderMalformed(t *testing.T) {
	const good = "Callgraph removal;ok;1;x.c;1;2\n"
	tests := []struct {
		name string
		bad  string // one bad line, without newline
		err  error
	}{
		{"clone 11 fields", "Callgraph clone;a;1;x.c;1;2;b;3;x.c;4;5", ErrFieldCount},
		{"clone 13 fields", "Callgraph clone;a;1;x.c;1;2;b;3;x.c;4;5;part;x", ErrFieldCount},
		{"clone 15 fields", "Callgraph clone;a;1;x.c;1;2;<-;b;3;x.c;4;5;optimization:;part;x", ErrFieldCount},
		{"clone 30 fields", "Callgraph clone" + strings.Repeat(";x", 29), ErrFieldCount},
		{"clone 14 fields without arrow", "Callgraph clone;a;1;x.c;1;2;->;b;3;x.c;4;5;optimization:;part", ErrFieldCount},
		{"clone 14 fields without optimization", "Callgraph clone;a;1;x.c;1;2;<-;b;3;x.c;4;5;optimisation:;part", ErrFieldCount},
		{"removal 5 fields", "Callgraph removal;a;1;x.c;1", ErrFieldCount},
		{"removal 7 fields", "Callgraph removal;a;1;x.c;1;2;3", ErrFieldCount},
		{"removal 12 fields", "Callgraph removal;a;1;x.c;1;2;b;3;x.c;4;5;part", ErrFieldCount},
		{"prefix only", "Callgraph clone;", ErrFieldCount},
		{"non-numeric orig order", "Callgraph clone;a;x1;x.c;1;2;b;3;x.c;4;5;part", ErrNumber},
		{"non-numeric clone order", "Callgraph clone;a;1;x.c;1;2;b;3a;x.c;4;5;part", ErrNumber},
		{"negative line", "Callgraph clone;a;1;x.c;-1;2;b;3;x.c;4;5;part", ErrNumber},
		{"empty col", "Callgraph removal;a;1;x.c;1;", ErrNumber},
		{"space in number", "Callgraph removal;a; 1;x.c;1;2", ErrNumber},
		{"ten-digit order", "Callgraph removal;a;1234567890;x.c;1;2", ErrNumber},
		{"old form bad number", "Callgraph clone;a;1;x.c;1;2;<-;b;3;x.c;z;5;optimization:;part", ErrNumber},
		{"empty orig", "Callgraph clone;;1;x.c;1;2;b;3;x.c;4;5;part", ErrEmptyName},
		{"empty clone", "Callgraph clone;a;1;x.c;1;2;;3;x.c;4;5;part", ErrEmptyName},
		{"empty removal", "Callgraph removal;;1;x.c;1;2", ErrEmptyName},
		{"empty name before bad number", "Callgraph removal;;x;x.c;1;2", ErrEmptyName},
		{"other callgraph line", "Callgraph merge;a;1;x.c;1;2", ErrUnknownLine},
		{"lower case", "callgraph clone;a;1;x.c;1;2;b;3;x.c;4;5;part", ErrUnknownLine},
		{"missing semicolon", "Callgraph removal a;1;x.c;1;2", ErrUnknownLine},
		{"leading space", " Callgraph removal;a;1;x.c;1;2", ErrUnknownLine},
		{"prose", "this is not a dump line", ErrUnknownLine},
		{"binary", "\x00\x01\xff", ErrUnknownLine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good + tt.bad + "\n" + good
			evs := readString(t, in)
			checkEvents(t, in, evs, []want{{1, nil, "ok"}, {2, tt.err, tt.bad}, {3, nil, "ok"}})
		})
	}
}

func TestReaderErrorTextShortened(t *testing.T) {
	bad := "Callgraph removal;" + strings.Repeat("n", 500) + ";1;x.c;1"
	evs := readString(t, bad+"\n")
	if len(evs) != 1 || !errors.Is(evs[0].err, ErrFieldCount) {
		t.Fatalf("got %s, want one ErrFieldCount", renderEvents(evs))
	}
	var pe *ParseError
	errors.As(evs[0].err, &pe)
	if want := bad[:maxTextLen] + "..."; pe.Text != want {
		t.Errorf("Text = %q, want %q", pe.Text, want)
	}
}

func TestReaderTruncated(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		wants []want
	}{
		{
			name: "cut mid line",
			in:   "Callgraph removal;a;1;x.c;1;2\nCallgraph clone;b;2;x.c;3;4;c;5;tru",
			wants: []want{{1, nil, "a"},
				{2, ErrTruncated, "Callgraph clone;b;2;x.c;3;4;c;5;tru"}},
		},
		{
			name: "complete-looking line without newline",
			in:   "Callgraph removal;a;1;x.c;1;2\nCallgraph removal;b;2;x.c;3;4",
			wants: []want{{1, nil, "a"},
				{2, ErrTruncated, "Callgraph removal;b;2;x.c;3;4"}},
		},
		{
			name:  "cut after carriage return",
			in:    "Callgraph removal;a;1;x.c;1;2\r",
			wants: []want{{1, ErrTruncated, "Callgraph removal;a;1;x.c;1;2"}},
		},
		{
			name:  "only line",
			in:    "Callgraph",
			wants: []want{{1, ErrTruncated, "Callgraph"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := readString(t, tt.in)
			checkEvents(t, tt.in, evs, tt.wants)
		})
	}
}

// xReader yields n bytes of 'x' followed by tail, without holding the
// x bytes in memory.
type xReader struct {
	n    int
	tail string
}

func (r *xReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		k := min(len(p), r.n)
		for i := range p[:k] {
			p[i] = 'x'
		}
		r.n -= k
		return k, nil
	}
	if r.tail == "" {
		return 0, io.EOF
	}
	k := copy(p, r.tail)
	r.tail = r.tail[k:]
	return k, nil
}

func TestReaderLongLine(t *testing.T) {
	const size = 10 << 20
	const next = "Callgraph removal;after;7;x.c;1;2\n"
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := NewReader(&xReader{n: size, tail: "\n" + next}, testDump)
	rec1, err1 := r.Next()
	runtime.ReadMemStats(&after)
	rec2, err2 := r.Next()
	_, err3 := r.Next()

	var pe *ParseError
	if !errors.As(err1, &pe) || !errors.Is(err1, ErrLineTooLong) {
		t.Fatalf("10 MiB line: got %v, %v, want *ParseError with ErrLineTooLong", rec1, err1)
	}
	if pe.Line != 1 || pe.Dump != testDump || pe.Text != strings.Repeat("x", maxTextLen)+"..." {
		t.Errorf("10 MiB line: got %s:%d text %q", pe.Dump, pe.Line, pe.Text)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("reading a 10 MiB line allocated %d bytes, want < 1 MiB", got)
	}
	if err2 != nil || rec2.Orig.Name != "after" || rec2.Pos.Line != 2 {
		t.Errorf("line after the long one: got %+v, %v, want record 'after' at line 2", rec2, err2)
	}
	if err3 != io.EOF {
		t.Errorf("after the last line: got %v, want io.EOF", err3)
	}
}

func TestReaderLongLineAtEOF(t *testing.T) {
	r := NewReader(&xReader{n: MaxLineLen + 10}, testDump)
	_, err := r.Next()
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("got %v, want ErrLineTooLong", err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the long last line: got %v, want io.EOF", err)
	}
}

func TestReaderLineLengthLimit(t *testing.T) {
	line := func(total int) string {
		const head, tail = "Callgraph removal;", ";1;x.c;1;2\n"
		return head + strings.Repeat("n", total-len(head)-len(tail)) + tail
	}
	for _, tt := range []struct {
		name string
		len  int
		err  error
	}{
		{"exactly MaxLineLen with newline", MaxLineLen, nil},
		{"one byte more", MaxLineLen + 1, ErrLineTooLong},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := line(tt.len) + "Callgraph removal;b;2;x.c;1;2\n"
			evs := readString(t, in)
			if len(evs) != 2 {
				t.Fatalf("got %d results, want 2", len(evs))
			}
			if !errors.Is(evs[0].err, tt.err) || (tt.err == nil && len(evs[0].rec.Orig.Name) != tt.len-29) {
				t.Errorf("line of %d bytes: got %v (name of %d bytes), want %v",
					tt.len, evs[0].err, len(evs[0].rec.Orig.Name), tt.err)
			}
			if evs[1].err != nil || evs[1].rec.Orig.Name != "b" || evs[1].rec.Pos.Line != 2 {
				t.Errorf("following line: got %s", renderEvent(evs[1]))
			}
		})
	}
}

// failReader yields data, then fails with err.
type failReader struct {
	data string
	err  error
}

func (r *failReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReaderIOError(t *testing.T) {
	errDisk := errors.New("disk on fire")
	tests := []struct {
		name     string
		data     string
		wantRecs int
		wantLine int
	}{
		{"at start", "", 0, 1},
		{"after two lines", "Callgraph removal;a;1;x.c;1;2\nCallgraph removal;b;1;x.c;1;2\n", 2, 3},
		{"mid line", "Callgraph removal;a;1;x.c;1;2\nCallgraph removal;b;1", 1, 2},
		{"inside a too long line", "Callgraph removal;a;1;x.c;1;2\n" + strings.Repeat("x", MaxLineLen+100), 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(&failReader{tt.data, errDisk}, testDump)
			evs := readEvents(t, r, 10)
			if len(evs) != tt.wantRecs+1 {
				t.Fatalf("got %s, want %d records then the I/O error", renderEvents(evs), tt.wantRecs)
			}
			for _, ev := range evs[:tt.wantRecs] {
				if ev.err != nil {
					t.Errorf("unexpected error %v before the I/O error", ev.err)
				}
			}
			err := evs[tt.wantRecs].err
			var pe *ParseError
			if !errors.Is(err, errDisk) || !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *ParseError wrapping %v", err, errDisk)
			}
			if pe.Line != tt.wantLine || pe.Dump != testDump {
				t.Errorf("I/O error at %s:%d, want %s:%d", pe.Dump, pe.Line, testDump, tt.wantLine)
			}
		})
	}
}

// TestBadDumps reads each hand-written bad dump and checks every result.
func TestBadDumps(t *testing.T) {
	tests := []struct {
		file  string
		wants []want
	}{
		{"fieldcount.c.000i.ipa-clones", []want{
			{1, nil, "add1"},
			{2, ErrFieldCount, "Callgraph clone;add1;1;fieldcount.c;15;12;use_add;2;fieldcount.c;16;5"},
			{3, ErrFieldCount, "Callgraph clone;add1;1;fieldcount.c;15;12;use_add;2;fieldcount.c;16;5;inlining to;extra"},
			{4, ErrFieldCount, "Callgraph removal;add1;1;fieldcount.c;15"},
			{5, ErrFieldCount, "Callgraph removal;add1;1;fieldcount.c;15;12;extra"},
			{6, ErrFieldCount, "Callgraph clone;add1;1;fieldcount.c;15;12;<-;use_add;2;fieldcount.c;16;5;inlining to;x"},
			{7, ErrFieldCount, "Callgraph clone;a;1;f.c;1;1;b;2;f.c;2;2;c;d;e;f;g;h;i;j;k"},
			{8, nil, "add1"},
		}},
		{"number.c.000i.ipa-clones", []want{
			{1, ErrNumber, "Callgraph clone;big;x3;number.c;19;38;big.constprop.0;27;number.c;19;38;constprop"},
			{2, ErrNumber, "Callgraph clone;big;3;number.c;19;38;big.constprop.0;27;number.c;-1;38;constprop"},
			{3, ErrNumber, "Callgraph removal;big;3;number.c;19;"},
			{4, ErrNumber, "Callgraph removal;big;3;number.c; 19;38"},
			{5, ErrNumber, "Callgraph removal;big;1234567890;number.c;19;38"},
			{6, nil, "big"},
		}},
		{"unknownline.c.000i.ipa-clones", []want{
			{1, nil, "fact"},
			{2, ErrUnknownLine, "Callgraph merge;fact;17;unknownline.c;66;12"},
			{3, ErrUnknownLine, "callgraph removal;fact;17;unknownline.c;66;12"},
			{4, ErrUnknownLine, "Callgraph removal fact;17;unknownline.c;66;12"},
			{5, ErrUnknownLine, "this is not a dump line"},
			{6, nil, "fact"},
		}},
		{"emptyname.c.000i.ipa-clones", []want{
			{1, ErrEmptyName, "Callgraph clone;;1;emptyname.c;15;12;use_add;2;emptyname.c;16;5;inlining to"},
			{2, ErrEmptyName, "Callgraph clone;add1;1;emptyname.c;15;12;;2;emptyname.c;16;5;inlining to"},
			{3, ErrEmptyName, "Callgraph removal;;1;emptyname.c;15;12"},
			{4, nil, "add1"},
		}},
		{"oldform.c.000i.ipa-clones", []want{
			{1, nil, "leafy"},
			{2, nil, "add1"},
			{3, ErrFieldCount, "Callgraph clone;add1;1;oldform.c;15;12;->;use_add;2;oldform.c;16;5;optimization:;inlining to"},
			{4, ErrFieldCount, "Callgraph clone;add1;1;oldform.c;15;12;<-;use_add;2;oldform.c;16;5;optimisation:;inlining to"},
			{5, nil, "add1"},
		}},
		{"suffix.c.000i.ipa-clones", []want{
			{1, nil, "f"}, {2, nil, "f"}, {3, nil, "f"}, {4, nil, "f"},
			{5, nil, "f"}, {6, nil, "f"}, {7, nil, "f"}, {8, nil, "f"},
		}},
		{"crlf.c.000i.ipa-clones", []want{{1, nil, "add1"}, {2, nil, "add1"}, {4, nil, "big"}}},
		{"blank.c.000i.ipa-clones", []want{{3, nil, "add1"}, {7, nil, "add1"}}},
		{"truncated.c.000i.ipa-clones", []want{
			{1, nil, "add1"},
			{2, nil, "add1"},
			{3, ErrTruncated, "Callgraph clone;splitme;13;truncated.c;54;12;sp1;14;trunc"},
		}},
	}
	files, _ := filepath.Glob(filepath.Join(badDir, "*.ipa-clones"))
	if len(files) != len(tests) {
		t.Errorf("%s holds %d dumps, the table covers %d", badDir, len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(badDir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			r := NewReader(bytes.NewReader(data), testDump)
			evs := readEvents(t, r, bytes.Count(data, []byte("\n"))+2)
			checkEvents(t, tt.file, evs, tt.wants)
		})
	}
}

func TestBadDumpDetails(t *testing.T) {
	read := func(name string) []event {
		data, err := os.ReadFile(filepath.Join(badDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return readEvents(t, NewReader(bytes.NewReader(data), name), 100)
	}
	t.Run("suffix", func(t *testing.T) {
		var got []string
		for _, ev := range read("suffix.c.000i.ipa-clones") {
			got = append(got, fmt.Sprintf("%s=%v/%s", ev.rec.Clone.Name, ev.rec.Transform, ev.rec.Suffix))
		}
		want := []string{"g=inlining to/", "f.constprop.0=constprop/", "f.isra.0=isra/", "f.part.0=part/",
			"f.simdclone.0=simdclone/", "f=(null)/", "f.foo.0=unknown/foo", "f.lto_priv.0=unknown/lto_priv"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	})
	t.Run("crlf", func(t *testing.T) {
		evs := read("crlf.c.000i.ipa-clones")
		last := evs[len(evs)-1].rec
		if last.Orig.File != "include/crlf.h" || last.Transform != ConstProp || last.Clone.Col != 38 {
			t.Errorf("CRLF line: got %+v", last)
		}
	})
	t.Run("oldform", func(t *testing.T) {
		rec := read("oldform.c.000i.ipa-clones")[0].rec
		want := Record{Kind: Clone, Orig: decl("leafy", 7, "include/linux/old.h", 34, 38),
			Clone: decl("leafy.constprop.0", 26, "include/linux/old.h", 34, 38), Transform: ConstProp,
			Pos: Pos{Dump: "oldform.c.000i.ipa-clones", Line: 1}}
		if !reflect.DeepEqual(rec, want) {
			t.Errorf("got  %+v\nwant %+v", rec, want)
		}
	})
}

// renderRecord is the stable one-line form used by the .records goldens.
func renderRecord(r Record) string {
	d := func(d Decl) string { return fmt.Sprintf("%s#%d@%s:%d:%d", d.Name, d.Order, d.File, d.Line, d.Col) }
	switch r.Kind {
	case Removal:
		return fmt.Sprintf("%d: removal %s", r.Pos.Line, d(r.Orig))
	case Clone:
		tr := r.Transform.String()
		if r.Transform == Unknown {
			tr = fmt.Sprintf("unknown(%s)", r.Suffix)
		}
		return fmt.Sprintf("%d: clone %s %s -> %s", r.Pos.Line, tr, d(r.Orig), d(r.Clone))
	}
	return fmt.Sprintf("%d: %v %+v", r.Pos.Line, r.Kind, r)
}

func renderEvent(ev event) string {
	if ev.err == nil {
		return renderRecord(ev.rec)
	}
	var pe *ParseError
	if errors.As(ev.err, &pe) {
		return fmt.Sprintf("%d: error: %v in %q", pe.Line, pe.Err, pe.Text)
	}
	return fmt.Sprintf("error: %v", ev.err)
}

func renderEvents(evs []event) string {
	var b strings.Builder
	for _, ev := range evs {
		b.WriteString(renderEvent(ev))
		b.WriteByte('\n')
	}
	if b.Len() == 0 {
		return "(nothing)"
	}
	return b.String()
}

func goldenDumps(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{goldenDir + "/*/*.ipa-clones", badDir + "/*.ipa-clones"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 20 {
		t.Fatalf("found %d dumps under %s, want the golden and bad ones", len(files), dumpsDir)
	}
	return files
}

// TestGolden parses every dump under testdata/dumps and compares the
// records with the .records golden beside it; -update rewrites them.
func TestGolden(t *testing.T) {
	for _, file := range goldenDumps(t) {
		rel, _ := filepath.Rel(dumpsDir, file)
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			evs := readEvents(t, NewReader(bytes.NewReader(data), rel), bytes.Count(data, []byte("\n"))+2)
			var b strings.Builder
			for _, ev := range evs {
				if ev.err != nil && strings.HasPrefix(rel, "gcc-") {
					t.Errorf("gcc-written dump: %v", ev.err)
				}
				b.WriteString(renderEvent(ev))
				b.WriteByte('\n')
			}
			got := b.String()
			golden := file + ".records"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantData, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(wantData) {
				t.Errorf("records of %s differ from %s (run with -update after review)\n%s",
					rel, golden, lineDiff(string(wantData), got))
			}
		})
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	count := map[string]int{}
	for _, l := range strings.Split(want, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(got, "\n") {
		count[l]--
	}
	var out []string
	for l, n := range count {
		for ; n > 0; n-- {
			out = append(out, "- "+l)
		}
		for ; n < 0; n++ {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "(same lines, different order)"
	}
	return strings.Join(out, "\n")
}

// edge is the part of a record that a rebuild by the same compiler must
// reproduce: positions and node orders aside.
type edge struct {
	kind      Kind
	orig      string
	clone     string
	transform Transform
}

func (e edge) String() string {
	if e.kind == Removal {
		return "removal " + e.orig
	}
	return fmt.Sprintf("%s -> %s (%v)", e.orig, e.clone, e.transform)
}

func readRecords(t *testing.T, file string) []Record {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []Record
	for _, ev := range readEvents(t, NewReader(f, file), 1<<20) {
		if ev.err != nil {
			t.Fatalf("%v", ev.err)
		}
		recs = append(recs, ev.rec)
	}
	return recs
}

func edgesOf(recs []Record) map[edge]int {
	m := map[edge]int{}
	for _, r := range recs {
		m[edge{r.Kind, r.Orig.Name, r.Clone.Name, r.Transform}]++
	}
	return m
}

// TestGCCFacts checks what gcc 12.2 really wrote for the fixtures, as the
// fixtures' header comments describe it.
func TestGCCFacts(t *testing.T) {
	dump := func(c, name string) string { return filepath.Join(goldenDir, c, name) }
	has := func(t *testing.T, recs []Record, want ...edge) {
		t.Helper()
		got := edgesOf(recs)
		for _, e := range want {
			if got[e] == 0 {
				t.Errorf("no record %v", e)
			}
		}
	}
	t.Run("clones", func(t *testing.T) {
		recs := readRecords(t, dump("clones", "clones.c.000i.ipa-clones"))
		has(t, recs,
			edge{Clone, "big", "big.constprop.0", ConstProp},
			edge{Clone, "leafy", "leafy.constprop.0", ConstProp},
			edge{Clone, "leafy.constprop.0", "leafy.constprop.0.isra.0", ISRA},
			edge{Clone, "usesx", "usesx.constprop.0", ConstProp},
			edge{Clone, "splitme", "splitme.part.0", Part},
			edge{Clone, "splitme", "sp1", Inline},
			edge{Clone, "splitme", "sp2", Inline},
			edge{Clone, "splitme", "sp3", Inline},
			edge{Clone, "add1", "use_add", Inline},
			edge{Clone, "fact", "usefact", Inline},
			edge{Removal, "add1", "", NoTransform},
		)
		for _, r := range recs {
			// big is replaced by big.constprop.0 without a removal line:
			// the dump does not tell which nodes survive.
			if r.Kind == Removal && (r.Orig.Name == "big" || r.Orig.Name == "leafy.constprop.0") {
				t.Errorf("%v: unexpected removal of %s", r.Pos, r.Orig.Name)
			}
			if r.Orig.File != "clones.c" {
				t.Errorf("%v: file %q, want clones.c", r.Pos, r.Orig.File)
			}
		}
		// The chain's middle node has one order on both lines.
		var mid []int
		for _, r := range recs {
			if r.Clone.Name == "leafy.constprop.0" {
				mid = append(mid, r.Clone.Order)
			}
			if r.Orig.Name == "leafy.constprop.0" {
				mid = append(mid, r.Orig.Order)
			}
		}
		if len(mid) != 2 || mid[0] != mid[1] {
			t.Errorf("orders of leafy.constprop.0: %v, want two equal", mid)
		}
	})
	t.Run("cycle", func(t *testing.T) {
		recs := readRecords(t, dump("cycle", "cycle.c.000i.ipa-clones"))
		has(t, recs,
			edge{Clone, "walk", "walk", Null},
			edge{Clone, "walk", "walk", Inline},
			edge{Clone, "ping", "ping.part.0", Part},
			edge{Clone, "pong", "pong.part.0", Part},
			edge{Clone, "pong.part.0", "ping.part.0", Inline},
			edge{Clone, "ping.part.0", "ping.part.0", Null},
		)
		var null Record
		for _, r := range recs {
			if r.Transform == Null && r.Orig.Name == "walk" {
				null = r
			}
		}
		if null.Orig.Order == null.Clone.Order {
			t.Errorf("walk -> walk (null) has one order %d; gcc wrote a copy under a new order", null.Orig.Order)
		}
	})
	t.Run("simd", func(t *testing.T) {
		recs := readRecords(t, dump("simd", "simd.c.000i.ipa-clones"))
		var want []edge
		for i := range 8 {
			want = append(want, edge{Clone, "sq", fmt.Sprintf("sq.simdclone.%d", i), SimdClone})
		}
		has(t, recs, want...)
		if len(recs) != 8 {
			t.Errorf("%d records, want the 8 simd clones", len(recs))
		}
	})
	t.Run("header", func(t *testing.T) {
		r1 := readRecords(t, dump("header", "obj1.c.000i.ipa-clones"))
		r2 := readRecords(t, dump("header", "obj2.c.000i.ipa-clones"))
		has(t, r1, edge{Clone, "ref_put", "obj1_drop", Inline})
		has(t, r2,
			edge{Clone, "ref_put", "obj2_release_all", Inline},
			edge{Clone, "ref_put", "ref_put.part.0", Part},
			edge{Clone, "ref_put.part.0", "obj2_release_all", Inline},
			edge{Clone, "put_twice", "obj2_release_all", Inline})
		for _, r := range append(r1, r2...) {
			if r.Orig.Name == "ref_put" && r.Orig.File != "refcount.h" {
				t.Errorf("%v: ref_put declared in %q, want refcount.h", r.Pos, r.Orig.File)
			}
		}
	})
	t.Run("statics", func(t *testing.T) {
		a := readRecords(t, dump("statics", "a.c.000i.ipa-clones"))
		b := readRecords(t, dump("statics", "b.c.000i.ipa-clones"))
		has(t, a, edge{Clone, "scale", "a_entry", Inline})
		has(t, b, edge{Clone, "scale", "b_entry", Inline}, edge{Clone, "scale", "b_other", Inline})
		if a[0].Orig.File != "a.c" || b[0].Orig.File != "b.c" {
			t.Errorf("the two scale functions are declared in %q and %q, want a.c and b.c",
				a[0].Orig.File, b[0].Orig.File)
		}
	})
	t.Run("lto", func(t *testing.T) {
		wpa := readRecords(t, dump("lto", "prog.wpa.000i.ipa-clones"))
		has(t, wpa, edge{Clone, "helper", "entry", Inline}, edge{Clone, "entry", "main", Inline})
		for _, r := range wpa {
			if r.Orig.Name == "helper" && (r.Orig.File != "helper.c" || r.Clone.File != "main.c") {
				t.Errorf("%v: helper -> entry from %q to %q, want helper.c to main.c (across units)",
					r.Pos, r.Orig.File, r.Clone.File)
			}
		}
		ltrans := readRecords(t, dump("lto", "prog.ltrans0.ltrans.000i.ipa-clones"))
		has(t, ltrans, edge{Clone, "helper", "helper", Null}, edge{Removal, "helper", "", NoTransform})
		for _, unit := range []string{"main.c.000i.ipa-clones", "helper.c.000i.ipa-clones"} {
			if recs := readRecords(t, dump("lto", unit)); len(recs) != 0 {
				t.Errorf("%s: %d records, want none (-flto defers IPA to the link)", unit, len(recs))
			}
		}
	})
}

// gccCommands returns the gcc command lines of a fixture's header comment.
func gccCommands(t *testing.T, src string) [][]string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var cmds [][]string
	for _, l := range strings.Split(string(data), "\n") {
		if cmd, ok := strings.CutPrefix(l, " *   gcc "); ok {
			cmds = append(cmds, strings.Fields(cmd))
		}
	}
	if len(cmds) == 0 {
		t.Fatalf("%s: no gcc command in the header comment", src)
	}
	return cmds
}

// TestFreshGCC compiles the clones fixture with the machine's gcc and
// compares the dump with the golden one.
func TestFreshGCC(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles with gcc")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc on this machine")
	}
	out, err := exec.Command(gcc, "-dumpfullversion").Output()
	if err != nil {
		t.Fatalf("gcc -dumpfullversion: %v", err)
	}
	version := strings.TrimSpace(string(out))

	src := filepath.Join(fixDir, "clones", "clones.c")
	dir := t.TempDir()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "clones.c"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range gccCommands(t, src) {
		cmd := exec.Command(gcc, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	fresh := readRecords(t, filepath.Join(dir, "clones.c.000i.ipa-clones"))
	if len(fresh) == 0 {
		t.Fatalf("gcc %s wrote an empty dump for clones.c", version)
	}
	if version != "12.2.0" {
		fixture.NoGoldenFor(t, version, fmt.Sprintf("the dump parses (%d records), but the goldens are gcc 12.2.0's", len(fresh)))
	}
	golden := edgesOf(readRecords(t, filepath.Join(goldenDir, "clones", "clones.c.000i.ipa-clones")))
	got := edgesOf(fresh)
	var missing, extra []string
	for e, n := range golden {
		if got[e] != n {
			missing = append(missing, fmt.Sprintf("%v (golden %d, fresh %d)", e, n, got[e]))
		}
	}
	for e, n := range got {
		if golden[e] == 0 {
			extra = append(extra, fmt.Sprintf("%v (fresh %d)", e, n))
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		t.Errorf("gcc %s dump of clones.c differs from %s:\nmissing or different count:\n  %s\nonly in the fresh dump:\n  %s",
			version, goldenDir, strings.Join(missing, "\n  "), strings.Join(extra, "\n  "))
	}
}
