// Package callgraph holds klp-audit's dependency graph of a kernel build:
// which functions carry the code of which others after GCC's inter-procedural
// optimisations.
//
// # Model
//
// A translation unit (TU) is one compiled object, named by its path relative
// to the build directory ("mm/oom_kill.o"); for link-time optimisation the
// TU is the linked program ("vmlinux"), whose whole-program and partition
// dumps are read together.
//
// A node is a function in one TU, identified by [NodeID]{Name, TU}. Names
// are assembler names as GCC prints them (big.constprop.0, ref_put.part.0).
// The same static or header-inline name in 300 TUs is 300 nodes: nodes are
// never merged by bare name. Within an LTO program, same-named local
// functions of different source files share one node; that over-approximates
// (it can list too much, never too little), and [Node.DeclFiles] shows it.
//
// An edge From -> To of kind K says that To contains the code of From
// because of transformation K: From was inlined into To, or To is a
// constprop, isra, part, simd or other clone of From. "Contains the code of"
// is transitive: if a fix changes From, every node reachable from From must
// be replaced by a livepatch or shown not to exist in the running kernel.
// Edges are deduplicated by (From, To, K); each keeps the dump line that
// first recorded it and how many lines did. The graph may have cycles
// (recursive inlining, a .part inlined back into its parent).
//
// Since edges never leave a unit, a question about some functions needs
// only the units that hold them: LoadPartial reads those and any other
// unit the first time a question needs it, answering as Load's graph of
// every dump does.
//
// What the dumps alone cannot tell (whether a node survives as a symbol,
// identical code folding, caller-side assumptions) is not in this graph's
// edges: the object package and the rules read those.
package callgraph
