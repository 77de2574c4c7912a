// Package rules turns klp-audit's evidence (the clone graph of the dumps,
// the objects' symbols and call graph, the compile flags in DWARF) into the
// answer a livepatch author needs: every function the livepatch must
// replace, why, and how sure we are.
//
// A run starts from the changed functions. The containment rule seeds the
// set with every emitted function holding their code (clone graph
// closure). Each target then passes through the other rules, which may
// replace it by its callers (changed ABI, not directly patchable) or add
// its callers (caller assumptions, folded code); every target so added is
// checked again, until nothing changes. Each target keeps the rule that
// added it and the chain of steps back to a changed function, every step
// citing its evidence (a dump line or a call site in an object).
//
// The rules, by ID:
//
//	containment         the function's body holds a changed function's code
//	changed-abi         an isra/constprop/part/simd clone cannot be replaced
//	                    by a function with the original prototype: its
//	                    callers are replaced instead
//	caller-assumptions  IPA analyses live in the unit (IPA-RA, pure-const,
//	                    modref, reference, IPA-VRP, bit-CP) let callers rely
//	                    on a callee's body (and local callees on their
//	                    callers' arguments): by default conditional
//	                    targets, needed only if the fix changes what was
//	                    assumed (the note says what); the tier does not
//	                    spread to a conditional target's callers
//	icf                 a folded body is shared by several symbols:
//	                    replacing it changes them all; their callers are
//	                    listed
//	not-patchable       no ftrace entry, or .init/.exit/.noinstr text: the
//	                    callers are replaced instead, up to patchable ones
//	fail-closed         missing evidence (no dump, no object, no symbols,
//	                    unknown flags) makes the result incomplete
//
// LTO needs no rule of its own: whole-program dumps put cross-unit edges
// in the clone graph, and caller assumptions then cross units too.
//
// A Policy (YAML, see default.yaml) sets each rule's severity (must or
// review; caller-assumptions also conditional), turns rules off,
// overrides single IPA passes and ignores functions with a mandatory
// justification. Targets are looked at strongest severity first, and what
// follows from a target is never stronger than the target, so every must
// target is found before a conditional or review one is decided on.
package rules
