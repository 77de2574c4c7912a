// Package driver is the one place klp-audit's answers are assembled. A
// Session reads a build's evidence once (the dumps' containment graph,
// the objects, on demand and once each) and every verb is a function over
// it that returns its report model: Impacted, Explain, Skeleton, Check,
// Flags, Map and Diff. Impacted (and Skeleton) read at once only the units
// whose dumps name the function, the rest on demand (lean.go). The command line (cmd/klp-audit) validates flags,
// calls one of them and renders the model with package report; nothing
// here writes to a terminal.
package driver
