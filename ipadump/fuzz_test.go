package ipadump

import (
	"bytes"
	"errors"
	"io"
	"os"
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
