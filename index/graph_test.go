package index

import (
	"errors"
	"reflect"
	"testing"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/ipadump"
)

// sampleRecords is a small unit: a clone of a clone, an inlining that
// recurs (counted), a removal, an unknown kind and a static declared in
// two files.
func sampleRecords() []ipadump.Record {
	decl := func(name string, order int, file string) ipadump.Decl {
		return ipadump.Decl{Name: name, Order: order, File: file, Line: order + 10, Col: 3}
	}
	rec := func(line int, from, to ipadump.Decl, k ipadump.Transform, suffix string) ipadump.Record {
		return ipadump.Record{Kind: ipadump.Clone, Orig: from, Clone: to, Transform: k, Suffix: suffix, Pos: ipadump.Pos{Dump: "d", Line: line}}
	}
	big, cp := decl("big", 1, "a.c"), decl("big.constprop.0", 7, "a.c")
	return []ipadump.Record{
		rec(1, big, cp, ipadump.ConstProp, ""),
		rec(2, cp, decl("big.constprop.0.isra.0", 8, "a.c"), ipadump.ISRA, ""),
		rec(3, decl("helper", 2, "h.h"), big, ipadump.Inline, ""),
		rec(4, decl("helper", 3, "h.h"), big, ipadump.Inline, ""),
		rec(5, decl("helper", 4, "b.c"), cp, ipadump.Inline, ""),
		rec(6, decl("odd", 5, "a.c"), decl("odd.weird.0", 9, "a.c"), ipadump.Unknown, "weird"),
		{Kind: ipadump.Removal, Orig: decl("helper", 2, "h.h"), Pos: ipadump.Pos{Dump: "d", Line: 7}},
	}
}

// TestTableRoundTrip: a dump's graph table reads back as written, with
// the unit and LTO flag the reader gives.
func TestTableRoundTrip(t *testing.T) {
	d := ipadump.Dump{Path: "d", TU: "a.o"}
	want := callgraph.TableOf(d, sampleRecords())
	if len(want.Edges) < 5 || want.Removes != 1 {
		t.Fatalf("sample: %+v", want)
	}
	rb, tb := EncodeDump(sampleRecords(), want)
	got, err := DecodeTable(tb, rb, "a.o", false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back:\n%+v\nwant\n%+v", got, want)
	}
	lto, err := DecodeTable(tb, rb, "prog", true)
	if err != nil || lto.Nodes[0].ID.TU != "prog" || !lto.Nodes[0].LTO {
		t.Errorf("for an LTO program: %+v, %v", lto.Nodes[0], err)
	}
}

// TestTableRefused: a table whose lists do not match its edges (an edge
// listed twice, under the wrong node, or missing; an edge to a node it
// does not have) is refused, though its encoding reads: a Builder would
// build a wrong graph from it.
func TestTableRefused(t *testing.T) {
	d := ipadump.Dump{Path: "d", TU: "a.o"}
	fresh := func() *callgraph.DumpTable { return callgraph.TableOf(d, sampleRecords()) }
	first := func(ls [][]int32) int {
		for i, l := range ls {
			if len(l) > 0 {
				return i
			}
		}
		t.Fatal("no edge")
		return 0
	}
	for name, mangle := range map[string]func(*callgraph.DumpTable){
		"edge listed twice": func(x *callgraph.DumpTable) {
			i := first(x.Out)
			x.Out[i] = append(x.Out[i], x.Out[i][0])
		},
		"edge missing": func(x *callgraph.DumpTable) {
			i := first(x.In)
			x.In[i] = x.In[i][1:]
		},
		"edge under another node": func(x *callgraph.DumpTable) {
			i := first(x.Out)
			j := (i + 1) % len(x.Out)
			x.Out[j] = append(x.Out[j], x.Out[i][0])
			x.Out[i] = x.Out[i][1:]
		},
		"edge to no node": func(x *callgraph.DumpTable) { x.Edges[0].To = int32(len(x.Nodes)) },
	} {
		x := fresh()
		mangle(x)
		rb, tb := EncodeDump(nil, x)
		if _, err := DecodeTable(tb, rb, "a.o", false); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	rb, tb := EncodeDump(sampleRecords(), fresh())
	for n := 0; n < len(tb); n++ {
		if _, err := DecodeTable(tb[:n], rb, "a.o", false); err == nil {
			t.Errorf("truncated to %d bytes: read", n)
		}
	}
	// The records' blob cut in its string table (its body the table
	// does not read).
	sd := &Dec{B: rb}
	readStrings(sd)
	for n := 0; n < sd.Off; n++ {
		if _, err := DecodeTable(tb, rb[:n], "a.o", false); err == nil {
			t.Errorf("records truncated to %d bytes: read", n)
		}
	}
}

// FuzzDecodeTable: no blob makes DecodeTable panic, and a table it reads
// is a graph a Builder may add (every edge in its ends' lists once).
func FuzzDecodeTable(f *testing.F) {
	rb, tb := EncodeDump(sampleRecords(), callgraph.TableOf(ipadump.Dump{Path: "d", TU: "a.o"}, sampleRecords()))
	f.Add(tb, rb)
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, b, records []byte) {
		tab, err := DecodeTable(b, records, "a.o", false)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		if len(tab.Out) != len(tab.Nodes) || len(tab.In) != len(tab.Nodes) {
			t.Fatalf("%d nodes, %d and %d lists", len(tab.Nodes), len(tab.Out), len(tab.In))
		}
		for _, lists := range [2][][]int32{tab.Out, tab.In} {
			seen := make([]bool, len(tab.Edges))
			for _, l := range lists {
				for _, e := range l {
					if seen[e] {
						t.Fatalf("edge %d listed twice", e)
					}
					seen[e] = true
				}
			}
			for e, ok := range seen {
				if !ok {
					t.Fatalf("edge %d in no list", e)
				}
			}
		}
		b2 := callgraph.NewBuilder()
		if !b2.AddTable(ipadump.Dump{Path: "d", TU: "a.o"}, tab) {
			t.Fatal("table refused by an empty builder")
		}
		_ = b2.Graph().String()
	})
}

// TestDecSmall: the one-byte forms of U and I read what Enc wrote, at
// both ends of their range and past them.
func TestDecSmall(t *testing.T) {
	us := []uint64{0, 1, 127, 128, 300, 1 << 40}
	is := []int64{0, 1, -1, 63, -64, 64, -65, 1 << 40, -(1 << 40)}
	var e Enc
	for _, u := range us {
		e.U(u)
	}
	for _, i := range is {
		e.I(i)
	}
	d := &Dec{B: e.B}
	for _, u := range us {
		if got := d.U(); got != u {
			t.Errorf("U: %d, want %d", got, u)
		}
	}
	for _, i := range is {
		if got := d.I(); got != i {
			t.Errorf("I: %d, want %d", got, i)
		}
	}
	if d.Left() != 0 || d.Err() != nil {
		t.Errorf("%d bytes left, %v", d.Left(), d.Err())
	}
}
