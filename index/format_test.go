package index

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/ipadump"
)

// writeSample writes an index holding a table of contents and two blobs.
func writeSample(t testing.TB, path string) (Ref, Ref) {
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := []ipadump.Record{{Kind: ipadump.Clone, Orig: ipadump.Decl{Name: "big", Order: 1, File: "a.c", Line: 3, Col: 5},
		Clone: ipadump.Decl{Name: "big.constprop.0", Order: 7, File: "a.c", Line: 3, Col: 5}, Transform: ipadump.ConstProp,
		Pos: ipadump.Pos{Dump: "a.c.000i.ipa-clones", Line: 1}}}
	rb, tb := EncodeDump(recs, callgraph.TableOf(ipadump.Dump{Path: "a.c.000i.ipa-clones", TU: "a.o"}, recs))
	a := w.Add(rb)
	tab := w.Add(tb)
	b := w.Add(EncodeBucket([]Name{{Name: "big", Dumps: []int{0}, Defs: []int{0, 3}, Calls: []Call{{Obj: 1, Ref: 2}}, Addrs: []Call{{Obj: 2, Ref: 7}}}, {Name: "other", Addrs: []Call{{Obj: 4, Ref: 0}}}}))
	toc := &TOC{Builds: []string{"b"}, Dumps: []DumpEntry{{Dump: ipadump.Dump{Path: "a.c.000i.ipa-clones", TU: "a.o"}, Held: true, Blob: a, HasTable: true, Table: tab}}, Buckets: []Ref{b},
		Objects: []ObjectEntry{{Path: "a.o", HasLink: true, Link: Link{Module: "xfs"}}, {Path: "vdso.o", HasLink: true, Link: Link{NotLinked: "vDSO"}}, {Path: "b.o"}},
		Kbuild:  []KbuildFile{{Path: "fs/xfs/xfs.mod", Stat: Stat{Size: 10, MtimeNs: -3}}}}
	if err := w.Commit(EncodeTOC(toc)); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// TestRoundTrip: what is written is read back, blobs checked.
func TestRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.idx")
	a, b := writeSample(t, p)
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	toc, err := DecodeTOC(f.TOC())
	if err != nil || len(toc.Dumps) != 1 || toc.Dumps[0].Blob != a || toc.Buckets[0] != b || len(toc.Objects) != 3 ||
		toc.Objects[0].Link.Module != "xfs" || toc.Objects[1].Link.NotLinked != "vDSO" || !toc.Objects[1].HasLink || toc.Objects[2].HasLink ||
		len(toc.Kbuild) != 1 || toc.Kbuild[0].Stat != (Stat{10, -3}) || toc.Kbuild[0].Path != "fs/xfs/xfs.mod" {
		t.Fatalf("table of contents: %+v, %v", toc, err)
	}
	blob, err := f.Blob(a)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := DecodeRecords(blob, "d")
	if err != nil || len(recs) != 1 || recs[0].Clone.Name != "big.constprop.0" || recs[0].Pos.Line != 1 {
		t.Errorf("records: %+v, %v", recs, err)
	}
	bb, _ := f.Blob(b)
	n, ok, err := LookupBucket(bb, "big")
	if err != nil || !ok || len(n.Defs) != 2 || n.Defs[1] != 3 || n.Calls[0] != (Call{1, 2}) || len(n.Addrs) != 1 || n.Addrs[0] != (Call{2, 7}) {
		t.Errorf("name: %+v %v %v", n, ok, err)
	}
	if n, ok, err := LookupBucket(bb, "other"); err != nil || !ok || len(n.Calls) != 0 || len(n.Addrs) != 1 || n.Addrs[0] != (Call{4, 0}) {
		t.Errorf("name after one with addresses: %+v %v %v", n, ok, err)
	}
	if _, ok, _ := LookupBucket(bb, "small"); ok {
		t.Error("a name not written was found")
	}
}

// TestRefused: a truncated file, a changed byte anywhere in the header or
// the table of contents, another version or magic: Open refuses it with
// ErrCorrupt or ErrVersion; a changed byte in a blob is refused when the
// blob is read.
func TestRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.idx")
	a, _ := writeSample(t, p)
	good, _ := os.ReadFile(p)
	for i := 0; i < len(good); i++ {
		b := append([]byte(nil), good...)
		b[i] ^= 0x10
		f, err := openData("x", b)
		inBlob := uint64(i) >= a.Off && uint64(i) < a.Off+a.Len
		switch {
		case err == nil && inBlob:
			if _, err := f.Blob(a); !errors.Is(err, ErrCorrupt) {
				t.Errorf("byte %d of a blob changed: Blob = %v, want ErrCorrupt", i, err)
			}
		case err == nil:
			// Bytes of the other blob: found when it is read.
		case i >= 8 && i < 12:
			if !errors.Is(err, ErrVersion) {
				t.Errorf("version byte %d changed: %v, want ErrVersion", i, err)
			}
		case !errors.Is(err, ErrCorrupt):
			t.Errorf("byte %d changed: %v, want ErrCorrupt", i, err)
		}
		if err == nil && i < int(a.Off) {
			t.Errorf("byte %d of the header changed and the file was opened", i)
		}
	}
	for n := 0; n < len(good); n++ {
		if _, err := openData("x", good[:n]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d bytes: %v, want ErrCorrupt", n, err)
		}
	}
}

// FuzzOpen: no input makes Open or the decoders panic; what opens
// decodes or errs.
func FuzzOpen(f *testing.F) {
	p := filepath.Join(f.TempDir(), "x.idx")
	writeSample(f, p)
	good, _ := os.ReadFile(p)
	f.Add(good)
	f.Add(good[:60])
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := openData("fuzz", b)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error not a *FormatError: %v", err)
			}
			return
		}
		toc, err := DecodeTOC(x.TOC())
		if err != nil {
			return
		}
		for _, d := range toc.Dumps {
			if blob, err := x.Blob(d.Blob); err == nil {
				_, _ = DecodeRecords(blob, "d")
				_, _ = DecodeImage(blob, "o")
				_, _ = DecodeUnits(blob)
				_, _ = DecodeTable(blob, blob, "a.o", false)
				if !d.HasTable {
					continue
				}
				if tb, err := x.Blob(d.Table); err == nil {
					_, _ = DecodeTable(tb, blob, "a.o", false)
				}
			}
		}
		for _, r := range toc.Buckets {
			if blob, err := x.Blob(r); err == nil {
				_, _ = BucketNames(blob)
				_, _, _ = LookupBucket(blob, "big")
			}
		}
	})
}
