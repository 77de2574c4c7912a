package driver

import (
	"errors"

	"github.com/klp-audit/klp-audit/callgraph"
	"github.com/klp-audit/klp-audit/ipadump"
	"github.com/klp-audit/klp-audit/report"
)

// The lean path. A query about one function needs only the units whose
// dumps name it: clones and inlining never leave a unit (an LTO
// program's whole-program and partition dumps are one unit, read whole),
// so its closure is there. loadFor still discovers the whole build and
// searches every dump (a byte search, with each line's form checked), so
// what an answer says of the build (its units, dumps, records and
// problems) is what Load gives; the graph reads any other unit the first
// time a question needs it (the rules' callers in other objects, the
// closest names of an unknown function), and the rules still search
// every object of the build for callers. Functions that no dump names
// are found in the objects' symbol tables by name (callgraph.
// ObjectsDefining), without indexing every symbol.

// loadFor is Load for queries about the functions names (see above).
func loadFor(o Options, names ...string) (*Session, error) {
	return load(o, true, names)
}

// defining returns the objects of the build's units that define a
// function named name, and the error of those that could not be read:
// from the full index when the session has one, else by name.
func (ev *Session) defining(name string) ([]string, error) {
	if !ev.lean || ev.defs != nil {
		d := ev.definers()
		return d.Defining(name), d.Err()
	}
	if ev.index != nil {
		return ev.index.defining(ev.objectsOf(), name)
	}
	if e := ev.early; e != nil && e.name == name {
		return e.wait(ev)
	}
	return callgraph.ObjectsDefiningWith(ev.objectsOf(), name, 0, ev.pre)
}

// earlyDefining is ObjectsDefining of a name over the dumps' objects,
// run while the dumps are read: the objects of a kernel build are
// thousands of files to open, and the reading of the dumps leaves a
// core idle at times.
type earlyDefining struct {
	name  string
	paths []string // ev.dumpObjects()
	done  chan struct{}
	defs  []string
	err   error
}

// prefetchDefining starts the search of the dumps' objects for name; ev's
// dumps are final.
func (ev *Session) prefetchDefining(name string) {
	e := &earlyDefining{name: name, paths: ev.dumpObjects(), done: make(chan struct{})}
	ev.early = e
	go func() {
		defer close(e.done)
		e.defs, e.err = callgraph.ObjectsDefiningWith(e.paths, e.name, 0, ev.pre)
	}()
}

// wait returns what ObjectsDefining(ev.objectsOf(), name) returns: the
// early search's answer, then that of the units' objects.
func (e *earlyDefining) wait(ev *Session) ([]string, error) {
	<-e.done
	defs := append([]string(nil), e.defs...)
	var errs ipadump.ErrorList
	addErrs(&errs, e.err)
	if more := ev.unitObjects(e.paths); len(more) > 0 {
		d, err := callgraph.ObjectsDefining(more, e.name, 0)
		defs = append(defs, d...)
		addErrs(&errs, err)
	}
	return defs, errors.Join(errs...)
}

// addLateProblems adds to res the problems met reading units in after
// the load (a dump that changed while klp-audit ran): the answer is then
// incomplete.
func addLateProblems(ev *Session, res *report.Result) {
	err := ev.graph.LateErr()
	if err == nil {
		return
	}
	var l ipadump.ErrorList
	addErrs(&l, err)
	for _, e := range l {
		res.Problems = append(res.Problems, problemOf(e))
	}
	res.Complete = false
}
