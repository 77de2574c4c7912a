package driver

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/index"
	"github.com/klp-audit/klp-audit/report"
)

// The check of a unit's dump against its object (startDumpChecks) reads the
// object's DWARF inlining: about 10 ms a kernel unit, too slow to do for
// every unit when indexing and the most of a query's time otherwise. Its
// outcome (the problems, usually none) depends only on the unit's dumps
// and object, so queries over an index keep it beside the index, in
// FILE.checks (the index format: a table of contents alone), keyed by
// the unit and the size and mtime of its files: a check is done once per
// unit, by the first query that needs it, until a file of the unit
// changes. The file is rewritten (temporary file, rename) by a query
// that made new checks; a damaged one is ignored, as if empty.

// checkCache is the checks kept beside a session's index.
type checkCache struct {
	path  string
	mu    sync.Mutex
	byTU  map[string]checkEntry
	dirty bool
}

type checkEntry struct {
	stamp    string
	problems []report.Problem
}

// checks returns the session's check cache, read on first use; nil
// without an index.
func (v *indexView) checks() *checkCache {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.checkC != nil {
		return v.checkC
	}
	c := &checkCache{path: v.path + ".checks", byTU: map[string]checkEntry{}}
	v.checkC = c
	f, err := index.Open(c.path)
	if err != nil {
		return c
	}
	defer f.Close()
	d := &index.Dec{B: f.TOC()}
	n := d.N(d.Left())
	for i := 0; i < n && d.Err() == nil; i++ {
		tu, stamp := d.S(), d.S()
		k := d.N(d.Left())
		var ps []report.Problem
		for j := 0; j < k && d.Err() == nil; j++ {
			ps = append(ps, report.Problem{File: d.S(), Line: int(d.I()), Kind: d.S(), Message: d.S()})
		}
		c.byTU[tu] = checkEntry{stamp, ps}
	}
	if d.Err() != nil || d.Left() != 0 {
		c.byTU = map[string]checkEntry{}
	}
	return c
}

// unitStamp names the state of unit tu's files: their paths, sizes and
// mtimes; "" when one cannot be stat'ed.
func (ev *Session) unitStamp(tu string) string {
	t, ok := ev.graph.TU(tu)
	if !ok {
		return ""
	}
	var b strings.Builder
	for _, p := range append(append([]string(nil), t.Dumps...), t.Object) {
		st, ok := statOf(p)
		if !ok {
			return ""
		}
		fmt.Fprintf(&b, "%s:%d:%d;", p, st.Size, st.MtimeNs)
	}
	return b.String()
}

// checkOneDumpCached is checkOneDump, kept beside the index when there
// is one.
func (ev *Session) checkOneDumpCached(objs *callgraph.Objects, tu string) []report.Problem {
	if ev.index == nil {
		return checkOneDump(objs, tu)
	}
	c := ev.index.checks()
	stamp := ev.unitStamp(tu)
	c.mu.Lock()
	e, ok := c.byTU[tu]
	c.mu.Unlock()
	if ok && stamp != "" && e.stamp == stamp {
		return e.problems
	}
	ps := checkOneDump(objs, tu)
	// A session that takes the index's files for unchanged while they
	// are stat'ed may have checked a changed dump's stored records: its
	// checks are kept only once every file proved unchanged.
	if stamp != "" && stamp == ev.unitStamp(tu) && ev.settled() {
		c.mu.Lock()
		c.byTU[tu] = checkEntry{stamp, ps}
		c.dirty = true
		c.mu.Unlock()
	}
	return ps
}

// saveChecks writes the session's new checks beside the index. It is a
// cache: failing to write it changes no answer.
func (ev *Session) saveChecks() {
	if ev.index == nil {
		return
	}
	c := ev.index.checks()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return
	}
	c.dirty = false
	if _, err := os.Stat(ev.index.path); err != nil {
		return
	}
	var e index.Enc
	e.U(uint64(len(c.byTU)))
	for tu, en := range c.byTU {
		e.S(tu)
		e.S(en.stamp)
		e.U(uint64(len(en.problems)))
		for _, p := range en.problems {
			e.S(p.File)
			e.I(int64(p.Line))
			e.S(p.Kind)
			e.S(p.Message)
		}
	}
	w, err := index.Create(c.path)
	if err != nil {
		return
	}
	_ = w.Commit(e.B)
}
