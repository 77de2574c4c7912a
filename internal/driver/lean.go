package driver

import (
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
	return callgraph.ObjectsDefiningWith(ev.objectsOf(), name, 0, ev.pre)
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
