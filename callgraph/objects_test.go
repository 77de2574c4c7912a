package callgraph

import (
	"slices"
	"strings"
	"testing"
)

func evidenceOf(t *testing.T, objs *Objects, name, tu string) Evidence {
	t.Helper()
	return objs.Evidence(NodeID{Name: name, TU: tu})
}

func symNames(ev Evidence) []string {
	var out []string
	for _, s := range ev.Symbols {
		out = append(out, s.Name)
	}
	return out
}

// TestEmission checks, on code gcc compiles now, the cases where the dump
// alone is wrong: emission comes from the symbol table.
func TestEmission(t *testing.T) {
	t.Run("constprop replaces its original without a removal line", func(t *testing.T) {
		_, g := loadFixture(t, "clones")
		objs := NewObjects(g, nil)
		big := evidenceOf(t, objs, "big", "clones.o")
		if n, _ := g.Node(NodeID{"big", "clones.o"}); n.Removed {
			t.Fatal("fixture changed: the dump now records big's removal")
		}
		if big.Emission != NotEmitted || !strings.Contains(big.Why, "big.constprop.0") {
			t.Errorf("big: %v (%s), want not emitted, replaced by big.constprop.0", big.Emission, big.Why)
		}
		cp := evidenceOf(t, objs, "big.constprop.0", "clones.o")
		if cp.Emission != Emitted || !slices.Equal(symNames(cp), []string{"big.constprop.0"}) {
			t.Errorf("big.constprop.0: %v %v", cp.Emission, symNames(cp))
		}
		// cp1..cp3 call the clone; the object call graph shows it.
		var callers []string
		for _, r := range cp.Callers {
			callers = append(callers, r.From)
		}
		for _, c := range []string{"cp1", "cp2", "cp3"} {
			if !slices.Contains(callers, c) {
				t.Errorf("big.constprop.0 callers %v lack %s", callers, c)
			}
		}
	})
	t.Run("only the last clone of a chain exists", func(t *testing.T) {
		_, g := loadFixture(t, "clones")
		objs := NewObjects(g, nil)
		for name, want := range map[string]Emission{
			"leafy": NotEmitted, "leafy.constprop.0": NotEmitted, "leafy.constprop.0.isra.0": Emitted,
		} {
			if got := evidenceOf(t, objs, name, "clones.o").Emission; got != want {
				t.Errorf("%s: %v, want %v", name, got, want)
			}
		}
	})
	t.Run("simd clones map to their vector-ABI symbols", func(t *testing.T) {
		_, g := loadFixture(t, "simd")
		objs := NewObjects(g, nil)
		seen := map[string]bool{}
		for i := 0; i < 8; i++ {
			name := "sq.simdclone." + string(rune('0'+i))
			ev := evidenceOf(t, objs, name, "simd.o")
			s := symNames(ev)
			if ev.Emission != Emitted || len(s) != 1 || !strings.HasPrefix(s[0], "_ZGV") || seen[s[0]] {
				t.Errorf("%s: %v %v, want one vector-ABI symbol of its own", name, ev.Emission, s)
				continue
			}
			seen[s[0]] = true
		}
		// GCC creates the SSE2 unmasked variant first.
		if s := symNames(evidenceOf(t, objs, "sq.simdclone.0", "simd.o")); len(s) != 1 || s[0] != "_ZGVbN4v_sq" {
			t.Errorf("sq.simdclone.0 = %v, want _ZGVbN4v_sq", s)
		}
	})
	t.Run("missing object is unknown, not absent", func(t *testing.T) {
		b := NewBuilder()
		g := b.Graph()
		objs := NewObjects(g, nil)
		if ev := objs.Evidence(NodeID{"f", "nowhere.o"}); ev.Emission != EmissionUnknown {
			t.Errorf("unknown unit: %v", ev.Emission)
		}
	})
}

// TestKernelMapping maps every dump node of kernel/ and mm/ to its
// object's symbols: every symbol a dump names is mapped, the remainder has
// a reason, and the dump's missing removal lines are counted.
func TestKernelMapping(t *testing.T) {
	if testing.Short() {
		t.Skip("kernel test in -short mode")
	}
	g, err := Load(kernelDumps(t), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs := NewObjects(g, nil)
	var tus []string
	for _, tu := range g.TUs() {
		tus = append(tus, tu.Name)
	}
	objs.Prefetch(tus, 0)
	var mapped, unmapped, notEmitted, noRemoval, unread int
	for _, tu := range tus {
		m, err := objs.Map(tu)
		if err != nil {
			// kbuild compiles kernel/bounds.c to assembly only.
			if tu != "kernel/bounds.o" {
				t.Errorf("%s: %v", tu, err)
			}
			unread++
			continue
		}
		mapped += len(m.Mapped)
		unmapped += len(m.Unmapped)
		for _, u := range m.Unmapped {
			if !strings.HasPrefix(u.Reason, "not in the dump") && !strings.HasPrefix(u.Reason, "cold piece of ") {
				t.Errorf("%s: symbol %s unmapped: %s", tu, u.Symbol, u.Reason)
			}
		}
		for _, n := range m.NotEmitted {
			notEmitted++
			if n.Why == "" {
				t.Errorf("%s: %s not emitted, no reason", tu, n.Node)
			}
			if n.NoRemovalLine {
				noRemoval++
			}
		}
		for _, r := range m.RemovedButEmitted {
			t.Errorf("%s: the dump removed %s but the object has it", tu, r)
		}
	}
	if mapped < 10000 || notEmitted < 30000 || noRemoval < 1000 || unread > 1 {
		t.Errorf("mapped %d symbols, %d unmapped, %d nodes not emitted (%d without a removal line), %d objects unread",
			mapped, unmapped, notEmitted, noRemoval, unread)
	}
	t.Logf("mapped %d symbols, %d unmapped with reasons, %d nodes not emitted, %d of them with no removal line in the dump",
		mapped, unmapped, notEmitted, noRemoval)
}
