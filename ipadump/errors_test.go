package ipadump

import (
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"testing"
)

func TestParseErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  *ParseError
		want string
	}{
		{"full", &ParseError{Dump: "mm/x.c.000i.ipa-clones", Line: 7, Text: "Callgraph removal;a", Want: "6 fields", Err: ErrFieldCount},
			`mm/x.c.000i.ipa-clones:7: wrong number of fields in "Callgraph removal;a", want 6 fields`},
		{"no text", &ParseError{Dump: "d", Line: 1, Err: fs.ErrPermission, Want: "a readable file"},
			"d:1: permission denied, want a readable file"},
		{"bare", &ParseError{Dump: "d", Line: 2, Err: ErrTruncated}, "d:2: truncated last line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			if !errors.Is(tt.err, tt.err.Err) {
				t.Errorf("errors.Is(%v, %v) = false", tt.err, tt.err.Err)
			}
		})
	}
}

func TestErrorList(t *testing.T) {
	var l ErrorList
	if l.Err() != nil || l.Error() != "no errors" {
		t.Errorf("empty list: Err %v, Error %q", l.Err(), l.Error())
	}
	other1, other2 := errors.New("other one"), fmt.Errorf("other two: %w", fs.ErrNotExist)
	l.Add(nil)
	l.Add(other1)
	l.Add(&ParseError{Dump: "b", Line: 3, Err: ErrNumber})
	l.Add(other2)
	l.Add(&ParseError{Dump: "a", Line: 10, Err: ErrFieldCount})
	l.Add(fmt.Errorf("wrapped: %w", &ParseError{Dump: "a", Line: 2, Err: ErrTruncated}))
	if len(l) != 5 {
		t.Fatalf("Add(nil) was kept: %d errors", len(l))
	}
	l.Sort()
	var got []string
	for _, e := range l {
		got = append(got, e.Error())
	}
	want := []string{"wrapped: a:2: truncated last line", "a:10: wrong number of fields",
		"b:3: field is not a number", "other one", "other two: file does not exist"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sorted:\n got %q\nwant %q", got, want)
	}
	err := l.Err()
	if err == nil || err.Error() != "wrapped: a:2: truncated last line (and 4 more errors)" {
		t.Errorf("Error() = %v", err)
	}
	for _, target := range []error{ErrTruncated, ErrNumber, ErrFieldCount, fs.ErrNotExist, other1} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(list, %v) = false", target)
		}
	}
	if errors.Is(err, ErrEmptyName) {
		t.Errorf("errors.Is(list, ErrEmptyName) = true")
	}
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Dump != "a" || pe.Line != 2 {
		t.Errorf("errors.As gave %v, want the first parse error", pe)
	}
	if one := (ErrorList{other1}); one.Error() != "other one" {
		t.Errorf("one error: %q", one.Error())
	}
}

func TestKindTransformStrings(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{Clone.String(), "clone"},
		{Removal.String(), "removal"},
		{Kind(0).String(), "Kind(0)"},
		{NoTransform.String(), ""},
		{Unknown.String(), "unknown"},
		{Transform(42).String(), "Transform(42)"},
		{Pos{Dump: "mm/x.c.000i.ipa-clones", Line: 12}.String(), "mm/x.c.000i.ipa-clones:12"},
		{Pos{Dump: "mm/x.o", Line: 7, DWARF: true}.String(), "mm/x.o (DWARF):7"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if NoTransform.ChangesABI() || Inline.ChangesABI() || Null.ChangesABI() || !Unknown.ChangesABI() {
		t.Errorf("ChangesABI: inline/null/none must keep the ABI, unknown must not be trusted")
	}
}
