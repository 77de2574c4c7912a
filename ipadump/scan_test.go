package ipadump

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readAll reads data with the Reader: its records by kind, and whether
// it met any error.
func readAll(data []byte) (clones, removals int, errs int) {
	r := NewReader(bytes.NewReader(data), "x.c.000i.ipa-clones")
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return
		}
		switch {
		case err != nil:
			errs++
		case rec.Kind == Clone:
			clones++
		default:
			removals++
		}
	}
}

const (
	cloneLine   = "Callgraph clone;big;5;./x.c;3;12;big.constprop.0;9;x.c;3;12;constprop\n"
	removalLine = "Callgraph removal;big;5;x.c;3;12\n"
)

// TestCheckLines: clean dumps are counted as the Reader counts them; any
// other form (even one the Reader accepts) makes the check false.
func TestCheckLines(t *testing.T) {
	for _, c := range []struct {
		name, data string
		ok         bool
	}{
		{"empty", "", true},
		{"clone and removal", cloneLine + removalLine + cloneLine, true},
		{"empty suffix and file", "Callgraph clone;a;1;;2;3;b;4;;5;6;\n", true},
		{"unknown suffix", "Callgraph clone;a;1;f;2;3;b;4;f;5;6;frobnicate\n", true},
		{"CRLF clone", strings.TrimSuffix(cloneLine, "\n") + "\r\n", true}, // the suffix takes the \r; the Reader trims it
		{"CRLF removal", strings.TrimSuffix(removalLine, "\n") + "\r\n", false},
		{"no newline", strings.TrimSuffix(removalLine, "\n"), false},
		{"blank line", removalLine + "\n" + removalLine, false},
		{"spaces", "  \n", false},
		{"14 fields", "Callgraph clone;big;5;x.c;3;12;<-;big.constprop.0;9;x.c;3;12;optimization:;constprop\n", false},
		{"11 fields", "Callgraph clone;big;5;x.c;3;12;big.constprop.0;9;x.c;3;12\n", false},
		{"13 fields", "Callgraph clone;big;5;x.c;3;12;big.constprop.0;9;x.c;3;12;constprop;more\n", false},
		{"7-field removal", "Callgraph removal;big;5;x.c;3;12;13\n", false},
		{"5-field removal", "Callgraph removal;big;5;x.c;3\n", false},
		{"empty name", "Callgraph removal;;5;x.c;3;12\n", false},
		{"empty clone name", "Callgraph clone;a;1;f;2;3;;4;f;5;6;isra\n", false},
		{"bad order", "Callgraph removal;big;5a;x.c;3;12\n", false},
		{"bad line", "Callgraph clone;a;1;f;2;3;b;4;f;x;6;isra\n", false},
		{"10 digits", "Callgraph removal;big;1234567890;x.c;3;12\n", false},
		{"other line", "Callgraph something;big;5;x.c;3;12\n", false},
		{"long line", "Callgraph removal;" + strings.Repeat("a", MaxLineLen) + ";5;x.c;3;12\n", false},
	} {
		clones, removals, ok := CheckLines([]byte(c.data))
		if ok != c.ok {
			t.Errorf("%s: CheckLines ok = %v, want %v", c.name, ok, c.ok)
			continue
		}
		rc, rr, errs := readAll([]byte(c.data))
		if ok && (clones != rc || removals != rr || errs != 0) {
			t.Errorf("%s: CheckLines counts %d clones, %d removals; the Reader %d, %d with %d errors", c.name, clones, removals, rc, rr, errs)
		}
	}
}

// FuzzCheckLines: whatever the bytes, a dump CheckLines passes is one
// the Reader reads without error, with as many records of each kind.
func FuzzCheckLines(f *testing.F) {
	for _, s := range []string{cloneLine + removalLine, "Callgraph clone;a;1;;2;3;b;4;;5;6;\n", removalLine + "\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		clones, removals, ok := CheckLines(data)
		if !ok {
			return
		}
		rc, rr, errs := readAll(data)
		if clones != rc || removals != rr || errs != 0 {
			t.Fatalf("CheckLines counts %d clones, %d removals; the Reader %d, %d with %d errors", clones, removals, rc, rr, errs)
		}
	})
}

// TestScanDump: the search finds every needle as a whole name field and
// checks the lines, whether the dump is read in one piece or in many
// (a needle across two pieces included).
func TestScanDump(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 200 {
		b.WriteString(cloneLine)
		if i == 150 {
			b.WriteString("Callgraph clone;needle_fn;1;a.c;3;5;caller;2;a.c;9;5;inlining to\n")
		}
		b.WriteString(removalLine)
	}
	good := filepath.Join(dir, "good.c.000i.ipa-clones")
	os.WriteFile(good, []byte(b.String()), 0o644)
	bad := filepath.Join(dir, "bad.c.000i.ipa-clones")
	os.WriteFile(bad, []byte(b.String()+"Callgraph removal;x;1;a.c;1;"), 0o644)
	needles := [][]byte{NameNeedle("needle_fn"), NameNeedle("caller"), NameNeedle("big.constprop"), NameNeedle("nowhere")}
	defer func(n int) { scanChunk = n }(scanChunk)
	for _, chunk := range []int{8 << 20, 4096, 1000, 333} {
		scanChunk = chunk
		var buf []byte
		for _, c := range []struct {
			path  string
			clean bool
		}{{good, true}, {bad, false}} {
			s, nb, err := ScanDump(c.path, needles, buf)
			buf = nb
			if err != nil {
				t.Fatal(err)
			}
			if want := []bool{true, true, false, false}; !equalBools(s.Found, want) {
				t.Errorf("chunk %d, %s: found %v, want %v", chunk, filepath.Base(c.path), s.Found, want)
			}
			if s.Clean != c.clean || c.clean && (s.Records != 401 || s.Clones != 201 || s.Removals != 200) {
				t.Errorf("chunk %d, %s: clean %v, %d records (%d clones, %d removals)", chunk, filepath.Base(c.path), s.Clean, s.Records, s.Clones, s.Removals)
			}
			if whole := chunk > len(b.String())+40; (s.Data != nil) != whole {
				t.Errorf("chunk %d, %s: Data kept: %v", chunk, filepath.Base(c.path), s.Data != nil)
			}
		}
	}
	if _, _, err := ScanDump(filepath.Join(dir, "missing.c.000i.ipa-clones"), needles, nil); err == nil {
		t.Error("ScanDump of a missing file: no error")
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPlainNumber: the numbers read eight bytes at a time are those a
// byte loop reads: 1 to 9 ASCII digits after the ';', then a ';' or the
// end; bytes next to the digits ('/', ':', 0x80 | '0') are no digits.
func TestPlainNumber(t *testing.T) {
	loop := func(b []byte) []byte {
		k := 1
		for k < len(b) && k <= 10 && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		if k == 1 || k > 10 || k < len(b) && b[k] != ';' {
			return nil
		}
		return b[k:]
	}
	var cases []string
	for _, digits := range []string{"", "7", "12345678", "123456789", "1234567890", "12345678901"} {
		for _, after := range []string{"", ";", ";rest;x", "x", ":", "/", "\xb0", "\xb9;", " ;"} {
			cases = append(cases, ";"+digits+after)
			for i := range len(digits) {
				for _, c := range []string{"/", ":", "\xb0", "\xb5", "\x00", "\xff", "a"} {
					cases = append(cases, ";"+digits[:i]+c+digits[i+1:]+after)
				}
			}
		}
	}
	for _, c := range cases {
		got, want := plainNumber([]byte(c)), loop([]byte(c))
		if (got == nil) != (want == nil) || string(got) != string(want) {
			t.Errorf("plainNumber(%q) = %q, want %q", c, got, want)
		}
	}
}

// FuzzCheckFind: whatever the bytes and the name, the whole-field search
// made while checking the lines finds ";name;" exactly where a byte
// search does when the lines are plainly records, and never where it
// does not otherwise.
func FuzzCheckFind(f *testing.F) {
	for _, s := range []struct{ data, name string }{
		{cloneLine + removalLine, "big"}, {cloneLine, "big.constprop.0"}, {cloneLine, "x.c"}, {removalLine, "12"},
		{removalLine, "3"}, {"Callgraph clone;a;1;;2;3;b;4;;5;6;\n", "6"}, {cloneLine, "constprop"}, {removalLine + "\n", "big"},
	} {
		f.Add([]byte(s.data), s.name)
	}
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		needles := [][]byte{NameNeedle(name), NameNeedle(name + "x")}
		found := make([]bool, len(needles))
		m := newMatcher(needles, found)
		if m == nil {
			if name != "" && !strings.ContainsAny(name, ";\n") {
				t.Fatalf("no matcher for %q", name)
			}
			return
		}
		clones, removals, ok := checkFind(data, m)
		if c, r, ok2 := CheckLines(data); c != clones || r != removals || ok2 != ok {
			t.Fatalf("checkFind %d, %d, %v; CheckLines %d, %d, %v", clones, removals, ok, c, r, ok2)
		}
		for i, n := range needles {
			want := bytes.Contains(data, n)
			if found[i] && !want || ok && found[i] != want {
				t.Fatalf("%q: found %v, a byte search %v (lines clean: %v)", n, found[i], want, ok)
			}
		}
	})
}
