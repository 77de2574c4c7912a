package ipadump

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the Reader. Invariants: no panic;
// reading ends with io.EOF after at most one result per line; every error
// is a *ParseError naming the dump and a line > 0; records carry increasing
// positions, a known Kind and normalised files.
func FuzzReader(f *testing.F) {
	for _, file := range goldenDumps(f) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const dump = "fuzz.c.000i.ipa-clones"
		r := NewReader(bytes.NewReader(data), dump)
		r.StripPrefixes([]string{"/build"})
		limit := bytes.Count(data, []byte("\n")) + 1 // results at most: one per line
		last := 0
		for calls := 0; ; calls++ {
			if calls > limit {
				t.Fatalf("more than %d results for %d lines", limit, limit)
			}
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("error %v (%T) is not a *ParseError", err, err)
				}
				if pe.Line <= last || pe.Dump != dump {
					t.Fatalf("error at %s:%d after line %d", pe.Dump, pe.Line, last)
				}
				if len(pe.Text) > maxTextLen+3 {
					t.Fatalf("error text of %d bytes", len(pe.Text))
				}
				last = pe.Line
				continue
			}
			if rec.Pos.Line <= last || rec.Pos.Dump != dump {
				t.Fatalf("record at %v after line %d", rec.Pos, last)
			}
			last = rec.Pos.Line
			switch rec.Kind {
			case Clone:
				if rec.Transform == NoTransform || rec.Clone.Name == "" {
					t.Fatalf("clone record without transform or clone: %+v", rec)
				}
				if rec.Transform != Unknown && rec.Suffix != "" {
					t.Fatalf("suffix %q kept for transform %v", rec.Suffix, rec.Transform)
				}
			case Removal:
				if rec.Transform != NoTransform || rec.Clone != (Decl{}) {
					t.Fatalf("removal record with clone data: %+v", rec)
				}
			default:
				t.Fatalf("record of kind %v", rec.Kind)
			}
			if rec.Orig.Name == "" {
				t.Fatalf("record without a name: %+v", rec)
			}
			for _, d := range []Decl{rec.Orig, rec.Clone} {
				if d.Order < 0 || d.Line < 0 || d.Col < 0 {
					t.Fatalf("negative number in %+v", d)
				}
				if NormalizePath(d.File, []string{"/build"}) != d.File && d.File != "" {
					t.Fatalf("file %q is not normalised", d.File)
				}
			}
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("Next after io.EOF: %v", err)
		}
	})
}

// FuzzDumpsFromList feeds arbitrary lists to DumpsFromList: no panic; every
// error is a *ParseError naming the list and a line within it; every dump
// returned has a dump name, a kind and a TU.
func FuzzDumpsFromList(f *testing.F) {
	for _, s := range []string{"", "# c\n\nmm/x.c.000i.ipa-clones\n", "a.c.000i.ipa-clones\r\nb.txt\n",
		"/nonexistent/x.c.000i.ipa-clones", "prog.wpa.000i.ipa-clones\nprog.ltrans0.ltrans.000i.ipa-clones\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := DumpsFromList(bytes.NewReader(data), "fuzz.list")
		lines := bytes.Count(data, []byte("\n")) + 1
		var el ErrorList
		if err != nil && !errors.As(err, &el) {
			t.Fatalf("error %T %v, want an ErrorList", err, err)
		}
		for _, e := range el {
			var pe *ParseError
			if !errors.As(e, &pe) || pe.Dump != "fuzz.list" || pe.Line < 1 || pe.Line > lines {
				t.Fatalf("error %v: want a *ParseError within fuzz.list's %d lines", e, lines)
			}
		}
		for _, d := range ds {
			if !IsDumpName(filepath.Base(d.Path)) && !dumpRE.MatchString(d.Path) || d.Kind == 0 || d.TU == "" {
				t.Fatalf("dump %+v", d)
			}
		}
	})
}
