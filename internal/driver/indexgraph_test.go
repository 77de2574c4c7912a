package driver

import (
	"strings"
	"testing"

	"github.com/klp-audit/klp-audit/internal/fixture"
)

// TestIndexDumpChanged: the index holds each dump's graph table, which a
// query adds in place of the dump's records. After a unit is compiled
// again with other flags (clones.c with -fno-ipa-cp: gcc makes
// leafy.isra.0 where it made leafy.constprop.0 and its isra clone), that
// table is stale and never used: the query reads the dump from the
// build, says so, and answers as the build does; indexing again reads
// that dump alone and writes its new table, and the fresh index answers
// the same.
func TestIndexDumpChanged(t *testing.T) {
	dir := fixture.Build(t, "clones")
	o := Options{Builds: []string{dir}}
	ix := buildIndex(t, o)
	o.Index = ix
	q := ImpactQuery{Func: "leafy"}
	before, err := Impacted(o, q)
	noted(before)
	if b := answerText(t, before, err); !strings.Contains(b, "leafy.constprop.0.isra.0") {
		t.Fatalf("before the change the answer does not name leafy.constprop.0.isra.0:\n%.3000s", b)
	}
	fixture.Run(t, dir, "gcc", "-O2", "-g", "-fno-ipa-cp", "-fdump-ipa-clones", "-c", "-o", "clones.o", "clones.c")
	after, err := Impacted(o, q)
	note := noted(after)
	a := answerText(t, after, err)
	if strings.Contains(a, "leafy.constprop.0") || !strings.Contains(a, "leafy.isra.0") {
		t.Errorf("after the unit was compiled with -fno-ipa-cp the answer is not of leafy.isra.0 alone (a stale table?):\n%.3000s", a)
	}
	if !strings.Contains(note, "changed since it was built") || !strings.Contains(note, "clones.c.000i.ipa-clones") {
		t.Errorf("the answer does not say the dump was read again: note %q", note)
	}
	o.Index = IndexOff
	plain, err := Impacted(o, q)
	p := answerText(t, plain, err)
	if a != p {
		t.Errorf("the answer after the change differs from the build's:\n%s", firstDiff(a, p))
	}
	o.Index = ix
	rep, err := BuildIndex(o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.DumpsRead != 1 {
		t.Errorf("indexing again read %d dumps, want the changed one alone", rep.DumpsRead)
	}
	final, err := Impacted(o, q)
	if n := noted(final); !strings.Contains(n, "every file it names is unchanged") {
		t.Errorf("after indexing again the index is not fresh: note %q", n)
	}
	if f := answerText(t, final, err); f != p || !strings.Contains(f, "leafy.isra.0") {
		t.Errorf("the answer of the index made again differs from the build's:\n%s", firstDiff(f, p))
	}
}
