// Package ipadump reads the call-graph transformation dumps that GCC writes
// with -fdump-ipa-clones: the compiler's own record of which functions it
// inlined, cloned, split or removed. klp-audit builds its dependency graph
// from these records; this package knows nothing of graphs.
//
// # Where dumps come from
//
// "gcc -O2 -fdump-ipa-clones -c -o dir/x.o x.c" writes dir/x.c.000i.ipa-clones:
// the output's stem plus the source's extension. kbuild therefore leaves
// mm/oom_kill.c.000i.ipa-clones beside mm/oom_kill.o. With -flto the link
// also writes prog.wpa.000i.ipa-clones (whole-program decisions, which cross
// translation units) and prog.ltransN.ltrans.000i.ipa-clones. See [Discover].
//
// # Line forms
//
// Fields are separated by ';'. A clone line has 12 fields:
//
//	Callgraph clone;ORIG;ORDER;FILE;LINE;COL;CLONE;ORDER;FILE;LINE;COL;SUFFIX
//
// a removal line has 6:
//
//	Callgraph removal;NAME;ORDER;FILE;LINE;COL
//
// and compilers carrying an older out-of-tree patch wrote a 14-field clone
// line:
//
//	Callgraph clone;ORIG;ORDER;FILE;LINE;COL;<-;CLONE;ORDER;FILE;LINE;COL;optimization:;SUFFIX
//
// ORIG and CLONE are assembler names (C++ names are mangled). ORDER is GCC's
// symbol-table node number: unique within one dump only, and one function
// may appear under several orders (recursive-inlining copies, for example).
// FILE is the declaration's source file, often with a "./" prefix; the reader
// normalises it (see [NormalizePath]).
//
// # Transformations (the SUFFIX field)
//
//	inlining to  ORIG's body was copied into CLONE, the function that now
//	             holds the code. A change to ORIG changes CLONE.
//	constprop    IPA-CP copy of ORIG specialised for constant arguments
//	             (big.constprop.0); parameters may be gone: a different ABI.
//	isra         IPA-SRA rewrote the signature: a different ABI.
//	part         ipa-split moved ORIG's tail into ORIG.part.N.
//	simdclone    vector variants; in the object they carry Vector-ABI
//	             names (sq.simdclone.0 is _ZGVbN4v_sq).
//	(null)       GCC printed a null suffix: recursive-inlining copies and
//	             LTO ltrans materialisation. A copy of ORIG's code.
//
// Any other suffix is kept verbatim as [Unknown] and must be treated
// conservatively: the clone contains ORIG's code. It is never an error.
//
// # What a dump does not tell
//
// A dump records decisions, not results. Removal lines are written for some
// nodes only, so whether a function survives as a symbol is known only from
// the object's symbol table. Identical code folding, hot/cold splitting and
// the caller-side assumptions of IPA-RA, pure-const, modref and IPA-VRP do
// not appear at all. Those facts come from the objects.
//
// # Errors
//
// The [Reader] never stops at a bad line: it returns a *[ParseError] that
// names the dump, the line, the offending text and what was expected, and
// the next call carries on with the following line.
package ipadump
